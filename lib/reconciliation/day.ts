// A reconciliation day is a calendar day in Asia/Shanghai (GMT+8, no daylight saving): Alipay's
// bill covers [D 00:00, D+1 00:00) Beijing time by each row's completion time.
const offsetMs = 8 * 3_600_000;
const dayMs = 86_400_000;
const dayPattern = /^(\d{4})-(\d{2})-(\d{2})$/;

/** [startMs, endMs) of a yyyy-MM-dd GMT+8 day; undefined unless `day` is a real date. */
export function dayWindow(day: string): { startMs: number; endMs: number } | undefined {
  const match = dayPattern.exec(day);
  if (!match) return undefined;
  const startMs = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) - offsetMs;
  return dayOf(startMs) === day ? { startMs, endMs: startMs + dayMs } : undefined;
}

export const isDay = (value: string) => dayWindow(value) !== undefined;

/** The GMT+8 day an instant falls in. */
export function dayOf(epochMs: number): string {
  return new Date(epochMs + offsetMs).toISOString().slice(0, 10);
}

/** The day before the GMT+8 day of `nowMs`: the last day whose bill Alipay publishes (T+1). */
export function previousDay(nowMs: number): string {
  return dayOf(nowMs - dayMs);
}
