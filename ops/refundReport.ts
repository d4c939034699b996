// A refund as an operator sees it (`refund list|show`, and the refunds `payment show` lists), built
// field by field: refunds hold no buyer identifier, and one added to the record later would not
// reach the terminal unnoticed. No ops/payments.ts import here (it imports this module).
import { fenToYuan } from "../lib/money.js";
import type { PaymentRecord } from "../lib/payments/model.js";
import { type RefundEventType, type RefundRecord, type RefundStatus, refundEventId } from "../lib/refunds/model.js";
import { listRefunds } from "../lib/refunds/repository.js";

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export interface RefundReport {
  refundId: string;
  /** `requested`: a business system asked for it over the API; `automatic`: money of another trade given back by us. */
  kind: string;
  paymentId: string;
  businessId: string;
  amount: number;
  amountYuan: string;
  reason: string;
  status: RefundStatus;
  /** Alipay's out_request_no: the refund id, fixed when the refund was recorded. */
  outRequestNo: string;
  tradeNo: string;
  outTradeNo: string;
  createdAt: string;
  /** When alipay.trade.refund was first sent (from then on the worker asks the refund query first). */
  sentAt?: string;
  succeededAt?: string;
  failedAt?: string;
  /** Alipay's sub_code of a refused refund. */
  failureCode?: string;
  /** The event its settling write published through the table stream (settled refunds only). */
  event?: { id: string; type: RefundEventType };
  sweep: { inIndex: false } | { inIndex: true; nextCheckAt: string; dueNow: boolean };
}

/** What a payment's refunds add up to. */
export interface RefundTotals {
  /** What was paid (the payment's amount), in fen. */
  paid: number;
  /** Refunded at Alipay (SUCCEEDED requested refunds). */
  refunded: number;
  refundedYuan: string;
  /** Asked for and not settled yet (PENDING requested refunds). */
  pending: number;
  /** The payment's own running total (refundedFen: SUCCEEDED + PENDING requested refunds), the guard against over-refunds. */
  recorded: number;
  /** What can still be refunded: paid - recorded. */
  left: number;
  /** False when the payment's running total is not the sum of its SUCCEEDED and PENDING requested refunds. */
  consistent: boolean;
  /**
   * Automatic refunds give back another trade (a second one, or one paid on a closed attempt) in
   * full: they never count against what may be refunded of the payment, so they are summed apart.
   */
  automatic: { refunded: number; pending: number; failed: number };
}

export function refundReport(refund: RefundRecord, now = Date.now()): RefundReport {
  // Read untyped: refunds recorded before automatic refunds existed carry no kind (requested).
  const kind = (refund as { kind?: unknown }).kind;
  const settledType: RefundEventType | undefined =
    refund.status === "SUCCEEDED" ? "refund.succeeded" : refund.status === "FAILED" ? "refund.failed" : undefined;
  return {
    refundId: refund.refundId,
    kind: typeof kind === "string" ? kind : "requested",
    paymentId: refund.paymentId,
    businessId: refund.businessId,
    amount: refund.amountFen,
    amountYuan: fenToYuan(refund.amountFen),
    reason: refund.reason,
    status: refund.status,
    outRequestNo: refund.refundId,
    tradeNo: refund.tradeNo,
    outTradeNo: refund.outTradeNo,
    createdAt: iso(refund.createdAt)!,
    ...(refund.sentAt !== undefined ? { sentAt: iso(refund.sentAt)! } : {}),
    ...(refund.succeededAt !== undefined ? { succeededAt: iso(refund.succeededAt)! } : {}),
    ...(refund.failedAt !== undefined ? { failedAt: iso(refund.failedAt)! } : {}),
    ...(refund.failureCode !== undefined ? { failureCode: refund.failureCode } : {}),
    ...(settledType ? { event: { id: refundEventId(refund.refundId, settledType), type: settledType } } : {}),
    sweep:
      refund.sweepShard && refund.sweepAt !== undefined
        ? { inIndex: true, nextCheckAt: iso(refund.sweepAt)!, dueNow: refund.sweepAt <= now }
        : { inIndex: false },
  };
}

export function refundTotals(payment: PaymentRecord, refunds: RefundReport[]): RefundTotals {
  const sum = (automatic: boolean, status: RefundStatus) =>
    refunds.filter((r) => (r.kind === "automatic") === automatic && r.status === status).reduce((total, r) => total + r.amount, 0);
  const refunded = sum(false, "SUCCEEDED");
  const pending = sum(false, "PENDING");
  const recorded = (payment as PaymentRecord & { refundedFen?: number }).refundedFen ?? 0;
  return {
    paid: payment.amountFen,
    refunded,
    refundedYuan: fenToYuan(refunded),
    pending,
    recorded,
    left: payment.amountFen - recorded,
    consistent: recorded === refunded + pending,
    automatic: { refunded: sum(true, "SUCCEEDED"), pending: sum(true, "PENDING"), failed: sum(true, "FAILED") },
  };
}

/** A payment's refunds (oldest first) and their totals, for `payment show` and `refund list`. */
export async function paymentRefunds(payment: PaymentRecord, now = Date.now()): Promise<{ refunds: RefundReport[]; totals: RefundTotals }> {
  const refunds = (await listRefunds(payment.paymentId)).map((r) => refundReport(r, now));
  return { refunds, totals: refundTotals(payment, refunds) };
}
