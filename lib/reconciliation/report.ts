// A day's reconciliation report: what the bill says, what we hold, what matched, and every
// difference with its ids, counted and summed per class.
import type { BillCount, BillFacts } from "./bill.js";
import { type Difference, type DifferenceClass, differenceClasses, type OtherDeployments } from "./match.js";

/** A row that matched a record of ours dated another day (Alipay's clock and ours around midnight). */
export interface TimingNote {
  kind: "payment" | "refund";
  tradeNo: string;
  paymentId?: string;
  refundId?: string;
  /** The other day, when known. */
  day?: string;
}

export interface ClassTotals {
  count: number;
  healed: number;
  open: number;
  billFen: number;
  ourFen: number;
}

export interface ReconciliationReport {
  day: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  bill: BillFacts & { bytes: number; empty: boolean };
  ours: { payments: BillCount; refunds: BillCount };
  matched: { payments: number; refunds: number };
  /** Bill rows of other deployments on the same Alipay app: counted, not reconciled here (absent in reports made before). */
  otherDeployments: OtherDeployments;
  classes: Record<DifferenceClass, ClassTotals>;
  /** Every difference with its ids. */
  differences: Difference[];
  timing: TimingNote[];
  healed: number;
  open: number;
}

export function buildReport(
  input: Omit<ReconciliationReport, "runId" | "startedAt" | "finishedAt" | "classes" | "healed" | "open"> & {
    startedAt: number;
    finishedAt: number;
  },
): ReconciliationReport {
  const classes = Object.fromEntries(
    differenceClasses.map((name) => [name, { count: 0, healed: 0, open: 0, billFen: 0, ourFen: 0 }]),
  ) as Record<DifferenceClass, ClassTotals>;
  for (const difference of input.differences) {
    const totals = classes[difference.class];
    totals.count += 1;
    if (difference.healed) totals.healed += 1;
    else totals.open += 1;
    // Counts (day_totals) are not money: only amounts of row classes are summed.
    if (difference.class !== "day_totals") {
      totals.billFen += difference.billFen ?? 0;
      totals.ourFen += difference.ourFen ?? 0;
    }
  }
  const healed = input.differences.filter((d) => d.healed).length;
  const startedAt = new Date(input.startedAt).toISOString();
  return {
    day: input.day,
    runId: startedAt.replace(/[:.]/g, "-"),
    startedAt,
    finishedAt: new Date(input.finishedAt).toISOString(),
    bill: input.bill,
    ours: input.ours,
    matched: input.matched,
    otherDeployments: input.otherDeployments,
    classes,
    differences: input.differences,
    timing: input.timing,
    healed,
    open: input.differences.length - healed,
  };
}
