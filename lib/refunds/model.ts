// A refund a business system asked for, of (part of) a PAID payment. It lives in its payment's
// partition (pk PAYMENT#<paymentId>, sk REFUND_REQUEST#<refundId>); the payment item holds the
// running total (`refundedFen`) that guards over-refunds:
//
//   refund  PENDING --Alipay refunded it (answer or refund query)--> SUCCEEDED
//           PENDING --Alipay refused it (business answer)--> FAILED (its amount released)
//           PENDING --an answer a person must look at--> PENDING, held (heldCode), checked again a day later
//
// The refund id derives from the payment and the Idempotency-Key, and it is Alipay's
// out_request_no: fixed when the refund is recorded, so every retry is the same request and
// Alipay refunds it at most once. A PENDING refund is in the sweep index until it settles.
//
// An automatic refund (kind "automatic") gives back money that must not have been taken: a second
// trade for a payment, or a payment that reached a closed attempt or a settled payment. It is
// recorded in the same transaction as the refund-needed record (REFUND#<tradeNo>), refunds THAT
// trade in full, and its id (the out_request_no) derives from the trade number, so every retry,
// and every copy of the detection, is the same request. It never touches the payment's
// `refundedFen` (the total of requested refunds of the paid trade).
import { createHash } from "node:crypto";
import { fenToYuan } from "../money.js";

export type RefundStatus = "PENDING" | "SUCCEEDED" | "FAILED";
/** Asked for by the business system, or made by us for money that must go back. */
export type RefundKind = "requested" | "automatic";

export interface RefundRecord {
  pk: string;
  sk: string;
  /** Names the item kind for the stream's filter (Lambda's filters match whole values best). */
  recordType: "REFUND_REQUEST";
  /** Absent on refunds recorded before automatic refunds existed: "requested". */
  kind?: RefundKind;
  refundId: string;
  paymentId: string;
  businessId: string;
  amountFen: number;
  reason: string;
  status: RefundStatus;
  createdAt: number;
  /** The paid trade being refunded. */
  tradeNo: string;
  outTradeNo: string;
  /** Set before the first alipay.trade.refund: from then on an unknown outcome is asked with the refund query. */
  sentAt?: number;
  succeededAt?: number;
  failedAt?: number;
  /** Alipay's sub_code of a refused refund. */
  failureCode?: string;
  /**
   * Held for a person (lib/refunds/check.ts): Alipay's sub_code that needs one (or the refund query's
   * inconsistency), and when. Still PENDING; not sent again until `sweepAt` (a day later) or a
   * person's `refund retry`. Cleared by the next ordinary check.
   */
  heldCode?: string;
  heldAt?: number;
  /** Present only while PENDING (sparse `sweep` index). */
  sweepShard?: string;
  sweepAt?: number;
}

export const refundSkPrefix = "REFUND_REQUEST#";
export const refundRequestKey = (paymentId: string, refundId: string) => ({
  pk: `PAYMENT#${paymentId}`,
  sk: `${refundSkPrefix}${refundId}`,
});

/** One refund per (payment, Idempotency-Key): a retry of the request finds the same refund. */
export function deriveRefundId(businessId: string, paymentId: string, idempotencyKey: string): string {
  return `ref${createHash("sha256").update(`${businessId}\u0000${paymentId}\u0000${idempotencyKey}`).digest("hex").slice(0, 29)}`;
}

/** One automatic refund per trade: any copy of the detection finds the same refund. */
export function deriveAutomaticRefundId(paymentId: string, tradeNo: string): string {
  return `ref${createHash("sha256").update(`automatic\u0000${paymentId}\u0000${tradeNo}`).digest("hex").slice(0, 29)}`;
}

/** The automatic refund of the whole trade `tradeNo` (of attempt `outTradeNo`), due at once. */
export function automaticRefund(
  ids: { paymentId: string; businessId: string; tradeNo: string; outTradeNo: string },
  amountFen: number,
  why: string,
  sweepShard: string,
  now: number,
): RefundRecord {
  const refundId = deriveAutomaticRefundId(ids.paymentId, ids.tradeNo);
  return {
    ...refundRequestKey(ids.paymentId, refundId),
    recordType: "REFUND_REQUEST",
    kind: "automatic",
    refundId,
    paymentId: ids.paymentId,
    businessId: ids.businessId,
    amountFen,
    reason: `automatic refund: ${why}`,
    status: "PENDING",
    createdAt: now,
    tradeNo: ids.tradeNo,
    outTradeNo: ids.outTradeNo,
    sweepShard,
    sweepAt: now,
  };
}

const refundIdPattern = /^ref[0-9a-f]{29}$/;
export const isRefundId = (value: string) => refundIdPattern.test(value);

export type RefundEventType = "refund.succeeded" | "refund.failed";
export const refundEventId = (refundId: string, type: RefundEventType) => `evt_${refundId}_${type.split(".")[1]}`;

const iso = (ms: number) => new Date(ms).toISOString();

/** What the owning business system sees. */
export function refundView(refund: RefundRecord) {
  return {
    refundId: refund.refundId,
    paymentId: refund.paymentId,
    kind: refund.kind ?? "requested",
    ...(refund.kind === "automatic" ? { tradeNo: refund.tradeNo } : {}),
    amount: refund.amountFen,
    amountYuan: fenToYuan(refund.amountFen),
    reason: refund.reason,
    status: refund.status,
    createdAt: iso(refund.createdAt),
    ...(refund.succeededAt !== undefined ? { succeededAt: iso(refund.succeededAt) } : {}),
    ...(refund.failedAt !== undefined ? { failedAt: iso(refund.failedAt) } : {}),
    ...(refund.failureCode !== undefined ? { failureCode: refund.failureCode } : {}),
  };
}
export type RefundView = ReturnType<typeof refundView>;
