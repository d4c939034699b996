import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { ScheduledEvent } from "aws-lambda";
import { logger, metrics } from "../lib/observability.js";
import { fanOutSweep } from "../lib/payments/sweep.js";

// Every minute: one message per sweep-index shard on the sweep queue; sweepShard sweeps each.
async function sweepHandler(_event: ScheduledEvent) {
  return fanOutSweep();
}

export const handler = middy(sweepHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()));
