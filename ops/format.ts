// Human-readable output of each command (--json prints the returned data instead).
import type { DlqListing, RedriveReport } from "./dlq.js";
import type { BusinessReport, CrossAccountRole, RotationReport, SecretReport, StatusReport, UpdateReport } from "./business.js";
import type { TryReport } from "./businessTry.js";
import type { ReplayReport } from "./events.js";
import type { PaymentReport, RecheckReport } from "./payments.js";
import type { PublishFailure, PublishFailureListing, PublishFailureReplay } from "./publishFailures.js";
import type { RefundListing, RefundReport, RefundTotals, RetryReport } from "./refunds.js";

const rows = (pairs: Array<[string, string | undefined | false]>) => {
  const shown = pairs.filter((pair): pair is [string, string] => typeof pair[1] === "string");
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join("\n");
};

export function formatPayment(payment: PaymentReport): string {
  const paid = payment.paidAt
    ? `${payment.paidAt} via ${payment.paidVia ?? "?"}, trade ${payment.tradeNo ?? "?"}${payment.buyerId ? `, buyer ${payment.buyerId}` : ""}`
    : undefined;
  const event = payment.event
    ? `${payment.event.type} ${payment.event.id} (published at the settling write; failed deliveries sit in the events DLQ)`
    : undefined;
  const sweep = payment.sweep.inIndex
    ? `next check ${payment.sweep.nextCheckAt}${payment.sweep.dueNow ? " (due now)" : ""}`
    : "not in the sweep index (nothing left to check)";
  const lines = [
    `Payment ${payment.paymentId}  ${payment.status}`,
    rows([
      ["business", `${payment.businessId}, order ${payment.businessOrderId}`],
      ["user", `${payment.userId} (app account id)`],
      ["subject", payment.subject],
      ["amount", `${payment.amount} fen = ${payment.amountYuan} ${payment.currency}`],
      ["created", payment.createdAt],
      ["expires", `${payment.expiresAt}${payment.expired && payment.status === "OPEN" ? " (expired, still open)" : ""}`],
      ["paid", paid],
      ["canceled", payment.canceledAt],
      ["expired", payment.expiredAt],
      ["event", event],
      ["sweep", sweep],
    ]),
    payment.attempts.length === 0 ? "Attempts: none (the app has not asked for an order string)" : `Attempts: ${payment.attempts.length}`,
    ...payment.attempts.map(
      (a) =>
        `  ${a.attemptNo}  ${a.outTradeNo}  ${a.status}  created ${a.createdAt}  payable until ${a.expiresAt}` +
        (a.tradeNo ? `  trade ${a.tradeNo}` : "") +
        (a.closedAt ? `  closed ${a.closedAt} (${a.closeReason ?? "?"})` : ""),
    ),
    "History",
    ...payment.history.map((h) => `  ${h.at}  ${h.event}${h.detail ? `  ${h.detail}` : ""}`),
    ...refundLines(payment.refunds, payment.refunded),
    payment.refundsNeeded.length === 0
      ? "Refunds needed: none"
      : `Refunds needed: ${payment.refundsNeeded.length} (RUNBOOK.md#refunds-needed)`,
    ...payment.refundsNeeded.map(
      (r) =>
        `  trade ${r.tradeNo}${r.attemptNo !== undefined ? ` (attempt ${r.attemptNo})` : ""}  ${r.amount} fen = ${r.amountYuan} CNY  ${r.reason}  ${r.status}  detected ${r.detectedAt ?? "?"} via ${r.detectedVia ?? "?"}` +
        (r.refundedAt || r.refundedBy
          ? `\n    refunded ${r.refundedAt ?? "?"} by ${r.refundedBy ?? "?"}${r.refundNote ? `: ${r.refundNote}` : ""}`
          : ""),
    ),
  ];
  return lines.join("\n");
}

export function formatRecheck(report: RecheckReport): string {
  const change = report.before.status === report.after.status ? report.after.status : `${report.before.status} -> ${report.after.status}`;
  return [`Recheck of ${report.paymentId}: ${report.outcome} (${change})`, `  ${report.meaning}`, "", formatPayment(report.after)].join(
    "\n",
  );
}

const truncate = (text: string, max = 500) => (text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text);

export function formatListing(listing: DlqListing): string {
  const header =
    `Dead-letter queue of ${listing.queue}: ${listing.dlqUrl}\n  about ${listing.approximateCount} message(s); listed ${listing.messages.length}` +
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

const streamPlace = (failure: PublishFailure) =>
  failure.batch
    ? `${failure.batch.batchSize} record(s) of ${failure.batch.shardId}, ${failure.batch.startSequenceNumber}..${failure.batch.endSequenceNumber}` +
      `${failure.batch.approximateArrivalOfFirstRecord ? `, written ${failure.batch.approximateArrivalOfFirstRecord}` : ""}`
    : "not a stream on-failure record";

export function formatPublishFailures(listing: PublishFailureListing): string {
  const header =
    `Publish failures: ${listing.queueUrl}\n  listed ${listing.failures.length}` +
    (listing.truncated ? " (limit reached: there may be more, use --limit)" : "");
  if (listing.failures.length === 0) return `${header}\n  (empty)`;
  return [
    header,
    ...listing.failures.map((f) => `  ${f.messageId}  ${f.condition ?? "?"} at ${f.timestamp ?? "?"}\n    ${streamPlace(f)}`),
  ].join("\n");
}

export function formatPublishReplay(report: PublishFailureReplay): string {
  const done = report.replayed.filter((r) => r.deleted).length;
  return [
    `Replayed ${done} of ${report.replayed.length} publish failure(s) from ${report.queueUrl} onto ${report.eventsQueueUrl}`,
    ...report.replayed.map((r) =>
      [
        `  ${r.messageId}  ${streamPlace(r)}: ${r.deleted ? "published, deleted" : `LEFT in the queue: ${r.error ?? "?"}`}`,
        ...r.events.map((e) => `    ${e.id} (${e.type}) for ${e.businessId}`),
      ].join("\n"),
    ),
  ].join("\n");
}

export function formatReplay(report: ReplayReport): string {
  return [
    `Event ${report.eventId} (${report.type}) of payment ${report.paymentId}: ${report.outcome} to ${report.businessId} at ${report.webhookUrl}`,
    `  signed with ${report.signatures === 2 ? "the current and the previous secret (rotation overlap)" : "its secret"}`,
    "  the business system dedupes by event id, so a replay of a delivered event changes nothing there",
  ].join("\n");
}

export function formatBusiness(system: BusinessReport): string {
  const rotation = system.rotation.overlapActive
    ? `overlap until ${system.rotation.previousSecretUntil}: ${system.rotation.previousWebhookSecretRef} still signs too`
    : "no overlap (one secret signs)";
  return [
    `Business system ${system.businessId}  ${system.status}`,
    rows([
      ["principals", system.principals.join(", ")],
      ["webhook", system.webhookUrl],
      ["payment expiry", `${system.paymentExpirySeconds} s (unless the create request says)`],
      ["secret", `${system.webhookSecretRef} (value never shown)`],
      ["rotation", rotation],
      ["created", system.createdAt],
      ["updated", system.updatedAt],
    ]),
  ].join("\n");
}

export function formatBusinessList({ systems }: { systems: BusinessReport[] }): string {
  if (systems.length === 0) return "No business systems registered (`business add` registers one).";
  const header = ["ID", "STATUS", "PRINCIPALS", "WEBHOOK", "EXPIRY", "ROTATION"];
  const table = systems.map((s) => [
    s.businessId,
    s.status,
    s.principals.join(" "),
    s.webhookUrl,
    `${s.paymentExpirySeconds}s`,
    s.rotation.overlapActive ? `overlap until ${s.rotation.previousSecretUntil}` : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  return [header, ...table]
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "))
    .join("\n");
}

const effect = (seconds: number) => `Takes effect within ${seconds} s (functions cache the registry for BUSINESS_CACHE_SECONDS).`;

function secretBlock(secret: string, businessId: string): string[] {
  return [
    "",
    `Webhook secret of ${businessId} (shown this once, never again: hand it to the business team over your secret channel):`,
    "",
    `  ${secret}`,
    "",
    "They verify the alipay-pay-signature header of every event with it (HMAC-SHA256, see lib/webhookSignature.ts).",
  ];
}

export function formatAdded(report: SecretReport): string {
  return [
    `Registered business system ${report.system.businessId}.`,
    effect(report.takesEffectWithinSeconds),
    "",
    formatBusiness(report.system),
    ...secretBlock(report.webhookSecret, report.system.businessId),
    ...(report.crossAccount ? crossAccountBlock(report.crossAccount) : []),
  ].join("\n");
}

function crossAccountBlock(role: CrossAccountRole): string[] {
  return [
    "",
    `Account ${role.callerAccount} calls through the role ${role.roleArn} (registered as the principal above);`,
    `API Gateway reports its callers as ${role.callerArn}.`,
    "Create the role (an administrator of this account; skip if it exists):",
    ...role.setup.map((command) => `  ${command}`),
    "The business team:",
    ...role.businessTeam.map((step) => `  - ${step}`),
  ];
}

export function formatUpdated(report: UpdateReport): string {
  if (report.changes.length === 0)
    return `Nothing changed: ${report.system.businessId} already is as asked.\n\n${formatBusiness(report.system)}`;
  return [
    `Updated ${report.system.businessId}:`,
    ...report.changes.map((c) => `  ${c}`),
    effect(report.takesEffectWithinSeconds),
    "",
    formatBusiness(report.system),
  ].join("\n");
}

export function formatStatus(report: StatusReport): string {
  if (!report.changed) return `${report.system.businessId} is already ${report.system.status}: nothing changed.`;
  const meaning =
    report.system.status === "DISABLED"
      ? "Its business API calls get 403; its payments and their events are untouched."
      : "Its business API calls are accepted again.";
  return [`${report.system.businessId} is now ${report.system.status}. ${meaning}`, effect(report.takesEffectWithinSeconds)].join("\n");
}

export function formatRotated(report: RotationReport): string {
  const overlap = report.system.rotation.overlapActive
    ? `Until ${report.system.rotation.previousSecretUntil} every event carries two v1= signatures (new and previous secret); then only the new one signs.`
    : "Only the new secret signs from now on (no overlap).";
  return [
    `Rotated the webhook secret of ${report.system.businessId}: now ${report.system.webhookSecretRef} (generation ${report.generation}).`,
    overlap,
    effect(report.takesEffectWithinSeconds),
    ...secretBlock(report.webhookSecret, report.system.businessId),
  ].join("\n");
}

export function formatTry(report: TryReport): string {
  const body = typeof report.response.body === "string" ? report.response.body : JSON.stringify(report.response.body);
  const registry = report.registry.read
    ? report.registry.registered
      ? `${report.businessId} ${report.registry.status}, roles ${report.registry.principals.join(", ") || "none"}`
      : `${report.businessId} not registered`
    : `not read (${report.registry.error})`;
  return [
    report.summary,
    rows([
      ["API", `${report.api.url} (${report.api.region})`],
      ["signed with", `${report.signedWith.source}${report.signedWith.roleArn ? ` of ${report.signedWith.roleArn}` : ""} (never shown)`],
      ["call", `${report.call.method} ${report.call.path}`],
      ["answer", `${report.response.status} ${truncate(body ?? "", 300)}`],
      ["registry", registry],
    ]),
    ...report.hints,
  ].join("\n");
}

const fenAndYuan = (fen: number, yuan: string) => `${fen} fen = ${yuan} CNY`;

function totalsLine(totals: RefundTotals): string {
  return (
    `  refunded ${fenAndYuan(totals.refunded, totals.refundedYuan)}, pending ${totals.pending} fen, left to refund ${totals.left} fen of ${totals.paid}` +
    (totals.automatic.refunded + totals.automatic.pending + totals.automatic.failed > 0
      ? `\n  automatic refunds (other trades, given back in full): refunded ${totals.automatic.refunded} fen, pending ${totals.automatic.pending} fen` +
        (totals.automatic.failed > 0 ? `, FAILED ${totals.automatic.failed} fen (a person refunds it: RUNBOOK.md#refunds-needed)` : "")
      : "") +
    (totals.consistent
      ? ""
      : `\n  MISMATCH: the payment's refunded total is ${totals.recorded} fen, its SUCCEEDED + PENDING requested refunds make ${totals.refunded + totals.pending} fen`)
  );
}

/** One line per refund: what `refund list` and `payment show` print. */
function refundLine(r: RefundReport): string {
  const settled = r.succeededAt
    ? `  succeeded ${r.succeededAt}`
    : r.failedAt
      ? `  failed ${r.failedAt} (${r.failureCode ?? "?"})`
      : r.sweep.inIndex
        ? `  next check ${r.sweep.nextCheckAt}${r.sweep.dueNow ? " (due now)" : ""}`
        : "";
  return (
    `  ${r.refundId}  ${r.kind}  ${fenAndYuan(r.amount, r.amountYuan)}  ${r.status}  out_request_no ${r.outRequestNo}` +
    `${r.kind === "automatic" ? `  trade ${r.tradeNo}` : ""}\n` +
    `    reason: ${r.reason}\n    created ${r.createdAt}${r.sentAt ? `  sent ${r.sentAt}` : r.status === "PENDING" ? "  not sent to Alipay yet" : ""}${settled}`
  );
}

function refundLines(refunds: RefundReport[], totals: RefundTotals): string[] {
  if (refunds.length === 0 && totals.recorded === 0) return ["Refunds: none"];
  return [`Refunds: ${refunds.length}`, totalsLine(totals), ...refunds.map(refundLine)];
}

export function formatRefundList(listing: RefundListing): string {
  return [
    `Refunds of payment ${listing.paymentId} (${listing.businessId}, ${listing.paymentStatus}): ${listing.refunds.length}`,
    totalsLine(listing.totals),
    ...listing.refunds.map(refundLine),
  ].join("\n");
}

export function formatRefund(r: RefundReport): string {
  const sweep = r.sweep.inIndex
    ? `next check ${r.sweep.nextCheckAt}${r.sweep.dueNow ? " (due now)" : ""}`
    : "not in the sweep index (settled)";
  return [
    `Refund ${r.refundId}  ${r.status}`,
    rows([
      ["payment", `${r.paymentId} (${r.businessId})`],
      ["kind", r.kind],
      ["amount", fenAndYuan(r.amount, r.amountYuan)],
      ["reason", r.reason],
      ["out_request_no", r.outRequestNo],
      ["trade", `${r.tradeNo}, out_trade_no ${r.outTradeNo}`],
      ["created", r.createdAt],
      ["sent", r.sentAt ?? "not yet (the next check sends alipay.trade.refund)"],
      ["succeeded", r.succeededAt],
      ["failed", r.failedAt ? `${r.failedAt} (${r.failureCode ?? "?"})` : undefined],
      ["event", r.event ? `${r.event.type} ${r.event.id} (published at the settling write)` : undefined],
      ["sweep", sweep],
    ]),
  ].join("\n");
}

export function formatRetry(report: RetryReport): string {
  const change = report.before.status === report.after.status ? report.after.status : `${report.before.status} -> ${report.after.status}`;
  return [`Retry of refund ${report.refundId}: ${report.outcome} (${change})`, `  ${report.meaning}`, "", formatRefund(report.after)].join(
    "\n",
  );
}
