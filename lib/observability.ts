// Structured JSON logs (Powertools Logger) and CloudWatch embedded-format metrics (Powertools
// Metrics). Counters are also kept in memory so the local stack can show what was counted.
import type { Context } from "aws-lambda";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

export const serviceName = "alipay-pay";
export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ namespace: "AlipayPay", serviceName });

type Counts = Map<string, number>;
const globalCounts = globalThis as typeof globalThis & { __alipayPayMetricCounts?: Counts };
export const metricCounts: Counts = (globalCounts.__alipayPayMetricCounts ??= new Map());

/** Counts one occurrence; a dimension (e.g. a rejection reason) is published as its own metric. */
export function count(name: string, dimension?: { name: string; value: string }, value = 1): void {
  const key = dimension ? `${name}.${dimension.value}` : name;
  metricCounts.set(key, (metricCounts.get(key) ?? 0) + value);
  if (dimension) {
    const single = metrics.singleMetric();
    single.addDimension(dimension.name, dimension.value);
    single.addMetric(name, MetricUnit.Count, value);
  } else {
    metrics.addMetric(name, MetricUnit.Count, value);
  }
}

/** Wraps a handler: request id on every log line, metrics flushed at the end of each invocation. */
export function observed<E, R, C extends { awsRequestId: string } = Context>(
  functionName: string,
  handler: (event: E, context: C) => Promise<R>,
): (event: E, context: C) => Promise<R> {
  return async (event, context) => {
    logger.resetKeys();
    logger.appendKeys({ function: functionName, requestId: context.awsRequestId });
    try {
      return await handler(event, context);
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
