// Reconciles the days of a local-stack run (the chaos run's, or a test's) against the simulator's
// bills: the simulator is told those days' bills are published (they are today's, which Alipay
// publishes tomorrow), then each day goes through lib/reconciliation as the daily function would,
// healing what it can. `open` is what is left for a person: 0 when both sides agree after healing.
import type { LocalStack } from "../../local/stack.js";
import { dayOf } from "../../lib/reconciliation/day.js";
import { type ReconciliationReport, reconcileDay } from "../../lib/reconciliation/reconcile.js";

export interface DaysReconciled {
  reports: ReconciliationReport[];
  /** Differences no automatic path could heal, over all the days. */
  open: number;
  /** Differences healed through the query path (e.g. payments whose notifications were all lost). */
  healed: number;
}

/** The GMT+8 days from `startMs` to `endMs`, in order (a run across midnight has two). */
export function daysBetween(startMs: number, endMs: number): string[] {
  const days: string[] = [];
  for (let at = startMs; dayOf(at) <= dayOf(endMs); at += 86_400_000) days.push(dayOf(at));
  if (days.at(-1) !== dayOf(endMs)) days.push(dayOf(endMs));
  return days;
}

export async function reconcileDays(stack: LocalStack, days: string[]): Promise<DaysReconciled> {
  const sorted = [...new Set(days)].sort();
  stack.simulator.bills.readyThrough = sorted.at(-1);
  const reports: ReconciliationReport[] = [];
  for (const day of sorted) reports.push(await reconcileDay(day));
  return {
    reports,
    open: reports.reduce((sum, r) => sum + r.open, 0),
    healed: reports.reduce((sum, r) => sum + r.healed, 0),
  };
}
