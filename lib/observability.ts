// Structured JSON logs (Powertools Logger) and CloudWatch embedded-format metrics (Powertools
// Metrics), wired into every handler by the Powertools middy middlewares. Counters are also kept
// in memory so the local stack can show what was counted.
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

export { MetricUnit };

export const serviceName = "alipay-pay";
export const logger = new Logger({ serviceName });

// Powertools Metrics warns through this logger; an invocation that counted nothing (a read) is
// normal here, not worth a WARN line per request.
const metricsWarnings = {
  trace: () => undefined,
  debug: () => undefined,
  info: (message: string) => logger.info(message),
  warn: (message: string) => {
    if (!message.startsWith("No application metrics to publish")) logger.warn(message);
  },
  error: (message: string) => logger.error(message),
};
// Created on first use, after the environment is final (POWERTOOLS_METRICS_DISABLED is read then).
let metricsInstance: Metrics | undefined;
/** For the handlers' `logMetrics` middleware, which flushes what an invocation counted. */
export const metrics = (): Metrics => (metricsInstance ??= new Metrics({ namespace: "AlipayPay", serviceName, logger: metricsWarnings }));

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

/** A point-in-time value (e.g. the age of the oldest payment waiting for the sweep), optionally per dimension value. */
export function gauge(
  name: string,
  value: number,
  unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Seconds,
  dimension?: { name: string; value: string },
): void {
  metricCounts.set(dimension ? `${name}.${dimension.value}` : name, value);
  if (!dimension) {
    metrics().addMetric(name, unit, value);
    return;
  }
  const single = metrics().singleMetric();
  single.addDimension(dimension.name, dimension.value);
  single.addMetric(name, unit, value);
}
