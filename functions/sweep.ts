import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context, ScheduledEvent } from "aws-lambda";
import { logger, metrics } from "../lib/observability.js";
import { sweep } from "../lib/payments/sweep.js";

async function sweepHandler(_event: ScheduledEvent, context: Context) {
  return sweep({ remainingMs: () => context.getRemainingTimeInMillis() });
}

export const handler = middy(sweepHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()));
