import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { ScheduledEvent } from "aws-lambda";
import { logger, metrics } from "../lib/observability.js";
import { isDay, previousDay } from "../lib/reconciliation/day.js";
import { reconcileDay } from "../lib/reconciliation/reconcile.js";
import { alipayKeysChecked } from "../lib/alipay/client.js";

/** The schedule's event reconciles yesterday (GMT+8); `{ "day": "yyyy-MM-dd" }` reconciles any past day. */
export type ReconcileEvent = Partial<ScheduledEvent> & { day?: string };

async function reconcileHandler(event: ReconcileEvent) {
  const day = event.day ?? previousDay(Date.now());
  if (!isDay(day)) throw new RangeError(`not a day: ${day} (yyyy-MM-dd)`);
  logger.appendKeys({ day });
  const report = await reconcileDay(day);
  return { day, runId: report.runId, matched: report.matched, healed: report.healed, open: report.open };
}

export const handler = middy(reconcileHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(alipayKeysChecked());
