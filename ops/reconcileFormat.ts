// Text output of the reconcile commands.
import { fenToYuan } from "../lib/money.js";
import type { Difference } from "../lib/reconciliation/match.js";
import type { ReconciliationReport } from "../lib/reconciliation/reconcile.js";
import type { OpenDifferences } from "./reconcile.js";

const money = (fen: number) => `${fen} fen (${fenToYuan(Math.abs(fen))} yuan)`;

function differenceLine(d: Difference): string {
  const ids = [
    d.paymentId && `payment ${d.paymentId}`,
    d.refundId && `refund ${d.refundId}`,
    d.outRequestNo && d.outRequestNo !== d.refundId && `out_request_no ${d.outRequestNo}`,
    d.outTradeNo && `out_trade_no ${d.outTradeNo}`,
    d.tradeNo && `trade ${d.tradeNo}`,
  ].filter(Boolean);
  const amounts = [d.billFen !== undefined && `bill ${d.billFen}`, d.ourFen !== undefined && `ours ${d.ourFen}`].filter(Boolean);
  return `  ${d.healed ? "HEALED" : "OPEN  "} ${d.class} ${d.outcome}: ${ids.join(", ")}${amounts.length ? ` (${amounts.join(", ")})` : ""}`;
}

export function formatReconciliation(report: ReconciliationReport): string {
  const lines = [
    `Reconciliation of ${report.day} (run ${report.runId}, ${report.startedAt} to ${report.finishedAt})`,
    `  bill:    ${report.bill.rows.payments.count} payments ${money(report.bill.rows.payments.fen)}, ${report.bill.rows.refunds.count} refunds ${money(report.bill.rows.refunds.fen)}${report.bill.empty ? " (no business that day)" : ""}`,
    `  ours:    ${report.ours.payments.count} payments ${money(report.ours.payments.fen)}, ${report.ours.refunds.count} refunds ${money(report.ours.refunds.fen)}`,
    `  matched: ${report.matched.payments} payments, ${report.matched.refunds} refunds; ${report.timing.length} matched with a neighbouring day`,
  ];
  // Reports stored before other deployments' rows were told apart have no such field.
  const other: Partial<ReconciliationReport["otherDeployments"]> = report.otherDeployments ?? {};
  if (other.payments && other.refunds && other.payments.count + other.refunds.count > 0) {
    lines.push(
      `  other deployments (${(other.prefixes ?? []).join(", ")}; not reconciled here): ${other.payments.count} payments ${money(other.payments.fen)}, ${other.refunds.count} refunds ${money(other.refunds.fen)}`,
    );
  }
  lines.push(`  differences: ${report.open} open, ${report.healed} healed`);
  for (const [name, totals] of Object.entries(report.classes)) {
    if (totals.count > 0) {
      lines.push(
        `    ${name}: ${totals.count} (${totals.healed} healed, ${totals.open} open), bill ${totals.billFen} fen, ours ${totals.ourFen} fen`,
      );
    }
  }
  for (const difference of report.differences) lines.push(differenceLine(difference));
  if (report.open > 0) lines.push("What to do with each class: RUNBOOK.md#reconciliation-differences");
  return lines.join("\n");
}

export function formatOpenDifferences(open: OpenDifferences): string {
  if (open.days.length === 0) return "No open differences.";
  const lines = [`${open.open} open differences`];
  for (const day of open.days) {
    lines.push(`${day.day} (run ${day.runId}): ${day.open} open, ${day.healed} healed`);
    for (const difference of day.differences) lines.push(differenceLine(difference));
  }
  lines.push("What to do with each class: RUNBOOK.md#reconciliation-differences");
  return lines.join("\n");
}
