// Human-readable output of each command (--json prints the returned data instead).
import type { DlqListing, RedriveReport } from "./dlq.js";
import type { ReplayReport } from "./events.js";
import type { OrderReport, RecheckReport } from "./orders.js";

const rows = (pairs: Array<[string, string | undefined | false]>) => {
  const shown = pairs.filter((pair): pair is [string, string] => typeof pair[1] === "string");
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join("\n");
};

export function formatOrder(order: OrderReport): string {
  const paid = order.paidAt
    ? `${order.paidAt} via ${order.paidVia ?? "?"}, trade ${order.tradeNo ?? "?"}${order.buyerId ? `, buyer ${order.buyerId}` : ""}`
    : undefined;
  const event = order.event
    ? `${order.event.id} (published at the PAID write; failed deliveries sit in the events DLQ)`
    : undefined;
  const sweep = order.sweep.inIndex
    ? `next check ${order.sweep.nextCheckAt}${order.sweep.dueNow ? " (due now)" : ""}`
    : "not in the sweep index (nothing left to check)";
  const lines = [
    `Order ${order.orderId}  ${order.status}`,
    rows([
      ["merchant order", `${order.merchantOrderId} (user ${order.userId})`],
      ["subject", order.subject],
      ["amount", `${order.amount} fen = ${order.amountYuan} ${order.currency}`],
      ["created", order.createdAt],
      ["expires", `${order.expiresAt}${order.expired && order.status === "PENDING" ? " (expired, still pending)" : ""}`],
      ["paid", paid],
      ["closed", order.closedAt ? `${order.closedAt}, reason ${order.closeReason ?? "?"}` : undefined],
      ["event", event],
      ["sweep", sweep],
      ["order string", order.orderString.present ? `${order.orderString.length} chars (not shown)` : "none"],
    ]),
    "History",
    ...order.history.map((h) => `  ${h.at}  ${h.event}${h.detail ? `  ${h.detail}` : ""}`),
    order.refundsNeeded.length === 0 ? "Refunds needed: none" : `Refunds needed: ${order.refundsNeeded.length} (RUNBOOK.md#refunds-needed)`,
    ...order.refundsNeeded.map((r) =>
      `  trade ${r.tradeNo}  ${r.amount} fen = ${r.amountYuan} CNY  ${r.reason}  ${r.status}  detected ${r.detectedAt ?? "?"} via ${r.detectedVia ?? "?"}` +
      (r.refundedAt || r.refundedBy ? `\n    refunded ${r.refundedAt ?? "?"} by ${r.refundedBy ?? "?"}${r.refundNote ? `: ${r.refundNote}` : ""}` : "")),
  ];
  return lines.join("\n");
}

export function formatRecheck(report: RecheckReport): string {
  const change = report.before.status === report.after.status ? report.after.status : `${report.before.status} -> ${report.after.status}`;
  return [`Recheck of ${report.orderId}: ${report.outcome} (${change})`, `  ${report.meaning}`, "", formatOrder(report.after)].join("\n");
}

const truncate = (text: string, max = 500) => (text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text);

export function formatListing(listing: DlqListing): string {
  const header = `Dead-letter queue of ${listing.queue}: ${listing.dlqUrl}\n  about ${listing.approximateCount} message(s); listed ${listing.messages.length}` +
    (listing.truncated ? " (limit reached: there may be more, use --limit)" : "");
  if (listing.messages.length === 0) return `${header}\n  (empty)`;
  return [
    header,
    ...listing.messages.map((m) => `  ${m.messageId}  received ${m.receiveCount}x  sent ${m.sentAt ?? "?"}\n    ${truncate(m.body)}`),
  ].join("\n");
}

export function formatRedrive(report: RedriveReport): string {
  return [
    `Moved ${report.moved} message(s) from ${report.dlqUrl} to ${report.workQueueUrl}`,
    ...report.movedMessages.map((m) => `  ${m.messageId}  ${truncate(m.body, 200)}`),
    ...report.failed.map((f) => `  NOT moved ${f.messageId}: ${f.error}`),
    ...report.notDeleted.map((f) => `  moved but not deleted from the DLQ ${f.messageId}: ${f.error}`),
    `About ${report.remaining} message(s) left in the dead-letter queue.`,
  ].join("\n");
}

export function formatReplay(report: ReplayReport): string {
  return [
    `Event ${report.eventId} of order ${report.orderId}: ${report.outcome} to ${report.webhookUrl}`,
    "  the business system dedupes by event id, so a replay of a delivered event changes nothing there",
  ].join("\n");
}
