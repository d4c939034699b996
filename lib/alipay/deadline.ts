// Every Alipay call of an invocation fits the function's timeout. A handler wrapped in
// withAlipayDeadline() has a deadline: the Lambda context's remaining time at the start, less a
// reserve for what follows the last call (the DynamoDB write, the answer). Each call's HTTP timeout
// is then min(ALIPAY_TIMEOUT_MS, time left); with less than minAlipayCallMs left the call is not
// made and fails as AlipayUnavailableError (503 alipay_unavailable from the API; a retry with
// backoff from the queue), before anything is written, instead of the function timing out mid-way.
// Without a deadline (scripts, tests calling lib/ directly) a call gets ALIPAY_TIMEOUT_MS.
// serverless.yml writes down each function's budget; test/unit/callBudgets.test.ts checks it.
import { AsyncLocalStorage } from "node:async_hooks";

/** Kept back from the function's remaining time for the write after the last call and the answer. */
export const deadlineReserveMs = 1000;
/** A call is not started with less time than this left (Alipay answers in a few hundred ms). */
export const minAlipayCallMs = 500;

const deadlines = new AsyncLocalStorage<number>();

interface HasRemainingTime {
  getRemainingTimeInMillis?: () => number;
}

/** Runs `handler` with the invocation's deadline for Alipay calls (register it as middy's handler). */
export function withAlipayDeadline<E, C extends HasRemainingTime, R>(
  handler: (event: E, context: C) => Promise<R>,
): (event: E, context: C) => Promise<R> {
  return (event, context) => {
    const remaining = typeof context?.getRemainingTimeInMillis === "function" ? context.getRemainingTimeInMillis() : undefined;
    if (remaining === undefined || !Number.isFinite(remaining)) return handler(event, context);
    return deadlines.run(Date.now() + remaining - deadlineReserveMs, () => handler(event, context));
  };
}

/**
 * The HTTP timeout of the next Alipay call: `configuredMs` capped by the time left before the
 * invocation's deadline; undefined when too little is left to make the call at all.
 */
export function alipayCallTimeoutMs(configuredMs: number, now = Date.now()): number | undefined {
  const deadline = deadlines.getStore();
  if (deadline === undefined) return configuredMs;
  const left = deadline - now;
  return left < minAlipayCallMs ? undefined : Math.min(configuredMs, Math.floor(left));
}
