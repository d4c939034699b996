// Structured JSON logs (Powertools Logger) and CloudWatch embedded-format metrics (Powertools
// Metrics). Counters are also kept in memory so the local stack can show what was counted.
import type { Context } from "aws-lambda";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

export const serviceName = "alipay-pay";
export const logger = new Logger({ serviceName });
// Created on first use, after the environment is final (POWERTOOLS_METRICS_DISABLED is read then).
let metricsInstance: Metrics | undefined;
const metrics = (): Metrics => (metricsInstance ??= new Metrics({ namespace: "AlipayPay", serviceName }));

type Counts = Map<string, number>;
const globalCounts = globalThis as typeof globalThis & { __alipayPayMetricCounts?: Counts };
export const metricCounts: Counts = (globalCounts.__alipayPayMetricCounts ??= new Map());

/**
 * Counts occurrences. With a dimension (e.g. a rejection reason) it is published twice: the total
 * (what alarms watch) and one metric per dimension value (what the dashboard breaks down).
 */
export function count(name: string, dimension?: { name: string; value: string }, value = 1): void {
  metricCounts.set(name, (metricCounts.get(name) ?? 0) + value);
  metrics().addMetric(name, MetricUnit.Count, value);
  if (!dimension) return;
  const key = `${name}.${dimension.value}`;
  metricCounts.set(key, (metricCounts.get(key) ?? 0) + value);
  const single = metrics().singleMetric();
  single.addDimension(dimension.name, dimension.value);
  single.addMetric(name, MetricUnit.Count, value);
}

/** A point-in-time value (e.g. the age of the oldest order waiting for the sweep). */
export function gauge(name: string, value: number, unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Seconds): void {
  metricCounts.set(name, value);
  metrics().addMetric(name, unit, value);
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
      if (metricsInstance?.hasStoredMetrics()) metricsInstance.publishStoredMetrics();
    }
  };
}
