// `reconcile run`, `reconcile show` and `reconcile differences`: the daily reconciliation against
// Alipay's bill (lib/reconciliation), run on demand for a past day, and its reports and open
// differences as an operator needs to see them.
import { isDay } from "../lib/reconciliation/day.js";
import type { Difference } from "../lib/reconciliation/match.js";
import { BillNotReadyError, type ReconciliationReport, reconcileDay } from "../lib/reconciliation/reconcile.js";
import { getReport, getSummary, listSummaries } from "../lib/reconciliation/store.js";
import { OpsError, UsageError } from "./errors.js";

export function checkDay(value: string | undefined): string {
  if (!value) throw new UsageError("a day is required (yyyy-MM-dd, Asia/Shanghai)");
  if (!isDay(value)) throw new UsageError(`"${value}" is not a day (yyyy-MM-dd)`);
  return value;
}

/** Reconciles `day` now, as the daily function does (heals what the query path can). */
export async function runReconciliation(day: string, options: { refundGraceMs?: number } = {}): Promise<ReconciliationReport> {
  const checked = checkDay(day);
  try {
    return await reconcileDay(checked, options);
  } catch (error) {
    if (error instanceof BillNotReadyError) {
      throw new OpsError(error.message, 1, "Alipay publishes a day's bill the next day before 09:00 GMT+8: run it again later.");
    }
    if (error instanceof RangeError) throw new OpsError(error.message, 1, "Only past days have bills (yesterday from 09:00 GMT+8 on).");
    throw error;
  }
}

/** The day's last report (the summary names it; the report, in S3, has every difference). */
export async function showReconciliation(day: string): Promise<ReconciliationReport> {
  const summary = await getSummary(checkDay(day));
  if (!summary) {
    throw new OpsError(`${day} has not been reconciled`, 1, `Run \`npm run ops -- reconcile run ${day}\`.`);
  }
  return getReport(summary.reportBucket, summary.reportKey);
}

export interface OpenDifferences {
  days: Array<{ day: string; runId: string; open: number; healed: number; differences: Difference[] }>;
  open: number;
}

/** Open differences of the last `limit` reconciled days (from their summaries), newest day first. */
export async function openDifferences({ limit = 60 }: { limit?: number } = {}): Promise<OpenDifferences> {
  const summaries = await listSummaries(limit);
  const days = summaries
    .filter((s) => s.open > 0)
    .map((s) => ({ day: s.day, runId: s.runId, open: s.open, healed: s.healed, differences: s.openDifferences }));
  return { days, open: days.reduce((sum, d) => sum + d.open, 0) };
}
