// `payment show`, `payment find` and `payment recheck`: a payment as an operator needs to see it,
// and the check worker's logic run on demand.
import { businessIdPattern } from "../lib/business/registry.js";
import { config } from "../lib/config.js";
import { fenToYuan } from "../lib/money.js";
import { type CheckOutcome, checkPayment } from "../lib/payments/check.js";
import {
  attemptView,
  derivePaymentId,
  type EventType,
  eventId,
  eventTypeOf,
  isPaymentId,
  parseOutTradeNo,
  type PaymentRecord,
  type PaymentSource,
  type PaymentStatus,
} from "../lib/payments/model.js";
import { getPayment, listRefundsNeeded } from "../lib/payments/repository.js";
import { OpsError, UsageError } from "./errors.js";
import { maskIdentifier, maskText } from "./mask.js";
import { paymentRefunds, type RefundReport, type RefundTotals } from "./refundReport.js";

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export interface RefundNeededReport {
  tradeNo: string;
  attemptNo?: number;
  amount: number;
  amountYuan: string;
  reason: string;
  status: string;
  detectedAt?: string;
  detectedVia?: string;
  /** Set by the operator who refunded it by hand (RUNBOOK.md#refunds-needed). */
  refundedAt?: string;
  refundedBy?: string;
  refundNote?: string;
}

export type AttemptReport = ReturnType<typeof attemptView>;

export interface PaymentReport {
  paymentId: string;
  businessId: string;
  businessOrderId: string;
  /** The app's account id of the payer (the JWT subject), not an Alipay identifier. */
  userId: string;
  subject: string;
  status: PaymentStatus;
  amount: number;
  amountYuan: string;
  currency: "CNY";
  createdAt: string;
  expiresAt: string;
  /** Past expiresAt (no new attempt can be made). */
  expired: boolean;
  attempts: AttemptReport[];
  tradeNo?: string;
  paidAt?: string;
  paidVia?: PaymentSource;
  /** Masked: first and last four characters only. */
  buyerId?: string;
  canceledAt?: string;
  expiredAt?: string;
  /** The event its settling write published through the table stream (settled payments only). */
  event?: { id: string; type: EventType };
  sweep: { inIndex: false } | { inIndex: true; nextCheckAt: string; dueNow: boolean };
  history: Array<{ at: string; event: string; detail?: string }>;
  refundsNeeded: RefundNeededReport[];
  /** Refunds asked for over the API (oldest first), as `refund list` shows them. */
  refunds: RefundReport[];
  /** What was refunded, is pending, and the payment's own running total (the over-refund guard). */
  refunded: RefundTotals;
}

/** A payment id, or an out_trade_no (Alipay's name for one attempt of it). */
export function checkPaymentId(value: string | undefined): string {
  if (!value) throw new UsageError("a payment id is required");
  if (isPaymentId(value)) return value;
  const attempt = parseOutTradeNo(value);
  if (attempt) return attempt.paymentId;
  throw new UsageError(`"${value}" is not a payment id (pay followed by 29 hex digits) or an out_trade_no (<paymentId>_<n>)`);
}

export function checkBusinessId(value: string | undefined): string {
  if (!value) throw new UsageError("a business id is required");
  if (!businessIdPattern.test(value)) {
    throw new UsageError(`"${value}" is not a business id: 2-32 of a-z 0-9 -, starting with a letter (e.g. shop)`);
  }
  return value;
}

export async function showPayment(paymentId: string, { now = Date.now() }: { now?: number } = {}): Promise<PaymentReport> {
  const payment = await requirePayment(paymentId);
  return paymentReport(payment, await listRefundsNeeded(payment.paymentId), now, await paymentRefunds(payment, now));
}

/** The payment a business system created for one of its orders (the id is derived from both). */
export async function findPayment(
  businessId: string,
  businessOrderId: string,
  { now = Date.now() }: { now?: number } = {},
): Promise<PaymentReport> {
  const business = checkBusinessId(businessId);
  if (!businessOrderId || businessOrderId.length > 256)
    throw new UsageError("--business-order must be the business system's order id (1-256 characters)");
  const payment = await getPayment(derivePaymentId(business, businessOrderId));
  // The id is a hash of both: a stored payment of another system would be a collision, not a match.
  if (!payment || payment.businessId !== business || payment.businessOrderId !== businessOrderId) {
    const { tableName } = await config();
    throw new OpsError(
      `no payment of ${business} for business order ${businessOrderId} in table ${tableName}`,
      1,
      "Check the business order id exactly as the business system sent it, and the stage you point at.",
    );
  }
  return paymentReport(payment, await listRefundsNeeded(payment.paymentId), now, await paymentRefunds(payment, now));
}

export function paymentReport(
  payment: PaymentRecord,
  refunds: Array<Record<string, unknown>>,
  now: number,
  requested: { refunds: RefundReport[]; totals: RefundTotals },
): PaymentReport {
  const known = [payment.buyerId];
  const settledType = payment.status === "OPEN" ? undefined : eventTypeOf[payment.status];
  return {
    paymentId: payment.paymentId,
    businessId: payment.businessId,
    businessOrderId: payment.businessOrderId,
    userId: payment.userId,
    subject: payment.subject,
    status: payment.status,
    amount: payment.amountFen,
    amountYuan: fenToYuan(payment.amountFen),
    currency: "CNY",
    createdAt: iso(payment.createdAt)!,
    expiresAt: iso(payment.expiresAt)!,
    expired: now >= payment.expiresAt,
    attempts: payment.attempts.map(attemptView),
    ...(payment.tradeNo !== undefined ? { tradeNo: payment.tradeNo } : {}),
    ...(payment.paidAt !== undefined ? { paidAt: iso(payment.paidAt)! } : {}),
    ...(payment.paidVia !== undefined ? { paidVia: payment.paidVia } : {}),
    ...(payment.buyerId ? { buyerId: maskIdentifier(payment.buyerId) } : {}),
    ...(payment.canceledAt !== undefined ? { canceledAt: iso(payment.canceledAt)! } : {}),
    ...(payment.expiredAt !== undefined ? { expiredAt: iso(payment.expiredAt)! } : {}),
    // Published from the table stream at the settling write; delivery shows in the logs and the DLQ.
    ...(settledType ? { event: { id: eventId(payment.paymentId, settledType), type: settledType } } : {}),
    sweep:
      payment.sweepShard && payment.sweepAt !== undefined
        ? { inIndex: true, nextCheckAt: iso(payment.sweepAt)!, dueNow: payment.sweepAt <= now }
        : { inIndex: false },
    history: (payment.history ?? []).map((entry) => ({
      at: iso(entry.at)!,
      event: entry.event,
      ...(entry.detail !== undefined ? { detail: maskText(entry.detail, known) } : {}),
    })),
    refundsNeeded: refunds.map((item) => {
      const amount = Number(item.amountFen);
      return {
        tradeNo: String(item.tradeNo),
        ...(typeof item.attemptNo === "number" ? { attemptNo: item.attemptNo } : {}),
        amount,
        amountYuan: Number.isSafeInteger(amount) && amount >= 0 ? fenToYuan(amount) : "?",
        reason: String(item.reason),
        status: String(item.status),
        ...(typeof item.detectedAt === "number" ? { detectedAt: iso(item.detectedAt) } : {}),
        ...(item.detectedVia !== undefined ? { detectedVia: String(item.detectedVia) } : {}),
        ...(typeof item.refundedAt === "number" ? { refundedAt: iso(item.refundedAt) } : {}),
        ...(item.refundedBy !== undefined ? { refundedBy: String(item.refundedBy) } : {}),
        ...(item.refundNote !== undefined ? { refundNote: maskText(String(item.refundNote), known) } : {}),
      };
    }),
    refunds: requested.refunds,
    refunded: requested.totals,
  };
}

export type RecheckOutcome = Exclude<CheckOutcome, "not_found">;

export interface RecheckReport {
  paymentId: string;
  outcome: RecheckOutcome;
  /** What the outcome means, in one sentence. */
  meaning: string;
  before: { status: PaymentStatus };
  after: PaymentReport;
}

const meanings: Record<RecheckOutcome, string> = {
  paid: "Alipay has the payment: it is now PAID and payment.succeeded goes out through the table stream.",
  duplicate: "The payment was already PAID with this trade: nothing changed.",
  refund_needed:
    "Alipay has money the payment cannot take (a closed attempt, or a second trade): recorded as refund needed (RUNBOOK.md#refunds-needed).",
  closed:
    "The pending attempt can no longer be paid (closed at Alipay): the payment is EXPIRED if past its own expiry (payment.expired goes out), otherwise it stays OPEN and the app may get a new attempt.",
  expired: "No attempt was payable and the payment is past its expiry: it is now EXPIRED and payment.expired goes out.",
  waiting: "Alipay has no payment yet and nothing has expired: the payment stays OPEN and is checked again.",
  settled: "The payment is already final (PAID, CANCELED or EXPIRED): nothing to do.",
};

/** Runs the check worker's logic (lib/payments/check.ts) on one payment now, against Alipay. */
export async function recheckPayment(paymentId: string, { now = () => Date.now() }: { now?: () => number } = {}): Promise<RecheckReport> {
  const before = await requirePayment(paymentId);
  const outcome = await checkPayment(before.paymentId, now);
  if (outcome === "not_found") throw new OpsError(`no payment ${before.paymentId}`);
  const after = await showPayment(before.paymentId, { now: now() });
  return { paymentId: before.paymentId, outcome, meaning: meanings[outcome], before: { status: before.status }, after };
}

export async function requirePayment(paymentId: string): Promise<PaymentRecord> {
  const id = checkPaymentId(paymentId);
  const payment = await getPayment(id);
  if (!payment) {
    const { tableName } = await config();
    throw new OpsError(
      `no payment ${id} in table ${tableName}`,
      1,
      "Check the id (the payment id, not the business order id: use `payment find` for that) and the stage you point at.",
    );
  }
  return payment;
}
