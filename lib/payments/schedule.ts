// When an order that still needs attention is looked at again. Checks follow a backoff schedule
// counted from an anchor (the order's creation); a
// pending order is always looked at once its expiry (plus a clock-skew margin) has passed, so it
// can be closed. Past the schedule, the last interval repeats: nothing is ever left unchecked.
export function nextCheckAt(anchorMs: number, scheduleSeconds: number[], nowMs: number, deadlineMs?: number): number {
  const upcoming = scheduleSeconds.map((s) => anchorMs + s * 1000).find((t) => t > nowMs);
  const next = upcoming ?? nowMs + (scheduleSeconds.at(-1) ?? 60) * 1000;
  return deadlineMs !== undefined && deadlineMs > nowMs ? Math.min(next, deadlineMs) : next;
}
