// A payment: what one business system asks one app user to pay for one business order, and the
// Alipay attempts (out_trade_no) made to collect it. Everything about a payment lives in one
// item, so every state change is one conditional write on one item:
//
//   payment  OPEN --an attempt is paid (notify, query, status read)--> PAID
//            OPEN --canceled by its business system (open attempt closed at Alipay first)--> CANCELED
//            OPEN --past its expiry, no attempt left payable--> EXPIRED
//   attempt  PENDING --paid--> PAID;  PENDING --closed at Alipay, or past time_expire--> CLOSED
//
// At most one attempt is PENDING, always the last one: a new attempt is made only once the
// previous one can no longer be paid (closed at Alipay, or past its time_expire), so two order
// strings of one payment are never payable together. A payment that reaches a closed attempt or
// a settled payment is not dropped: it is recorded as needing a refund (REFUND#<tradeNo>).
// The OPEN -> PAID / CANCELED / EXPIRED write, read from the table's stream, is what publishes the
// business system's event (lib/events.ts).
import { createHash } from "node:crypto";
import { deploymentPrefix } from "../config.js";
import { fenToYuan } from "../money.js";

export type PaymentStatus = "OPEN" | "PAID" | "CANCELED" | "EXPIRED";
export type AttemptStatus = "PENDING" | "PAID" | "CLOSED";
export type PaymentSource = "notify" | "query";

export interface Attempt {
  /** 1, 2, ... in the order they were made. */
  attemptNo: number;
  /** Alipay's out_trade_no: `<deploymentPrefix>_<paymentId>_<attemptNo>` (`<paymentId>_<attemptNo>` before prefixes). */
  outTradeNo: string;
  status: AttemptStatus;
  createdAt: number;
  /** The order string's time_expire. */
  expiresAt: number;
  tradeNo?: string;
  closedAt?: number;
  closeReason?: string;
}

export interface HistoryEntry {
  at: number;
  event: string;
  detail?: string;
}

export interface PaymentRecord {
  pk: string;
  sk: "PAYMENT";
  paymentId: string;
  businessId: string;
  businessOrderId: string;
  /** The app user who pays (the JWT subject); set by the business system. */
  userId: string;
  amountFen: number;
  subject: string;
  body?: string;
  metadata?: Record<string, string>;
  status: PaymentStatus;
  createdAt: number;
  expiresAt: number;
  attempts: Attempt[];
  /**
   * The signed order string of the last attempt, stored by earlier versions only: it is now signed
   * again from the attempt when handed out (lib/payments/attempts.ts), the same string every time.
   */
  orderString?: string;
  tradeNo?: string;
  buyerId?: string;
  paidAt?: number;
  paidVia?: PaymentSource;
  canceledAt?: number;
  expiredAt?: number;
  /** Present only while the payment needs attention (sparse `sweep` index). */
  sweepShard?: string;
  sweepAt?: number;
  history: HistoryEntry[];
  /** Refunds made on our own (lib/refunds/model.ts automaticRefund), oldest first. */
  automaticRefundIds?: string[];
}

export interface Payment {
  tradeNo: string;
  totalFen: number;
  buyerId?: string;
  paidAt: number;
  via: PaymentSource;
}

export const paymentKey = (paymentId: string) => ({ pk: `PAYMENT#${paymentId}`, sk: "PAYMENT" as const });
export const refundKey = (paymentId: string, tradeNo: string) => ({ pk: `PAYMENT#${paymentId}`, sk: `REFUND#${tradeNo}` });

/**
 * The sweep index is spread over SWEEP_SHARDS partition keys (`DUE#0` .. `DUE#<n-1>`), each item on
 * the shard its id hashes to, so no single partition carries every open payment's index writes.
 * One shard keeps the original key `DUE`: items written before sharding are read as they are.
 */
export const legacySweepShard = "DUE";

/** The shard (0..shards-1) an id hashes to: also spreads the `events` index (lib/eventLog.ts). */
export const shardNumber = (id: string, shards: number) => createHash("sha256").update(id).digest().readUInt32BE(0) % shards;

export function sweepShardOf(id: string, shards: number): string {
  if (shards <= 1) return legacySweepShard;
  return `DUE#${shardNumber(id, shards)}`;
}

/**
 * The `paidAt` index's partition of a paid payment (the daily reconciliation reads a day's payments
 * from it): spread like the sweep index, so neither is one hot partition (1,000 WCU/s each).
 */
export function paidShardOf(id: string, shards: number): string {
  return `PAID#${shards <= 1 ? 0 : shardNumber(id, shards)}`;
}

export function paidShardsToRead(shards: number): string[] {
  return Array.from({ length: Math.max(1, shards) }, (_, i) => `PAID#${i}`);
}

/** Every shard the sweep reads: the configured ones, and the unsharded key for items written before. */
export function sweepShardsToRead(shards: number): string[] {
  if (shards <= 1) return [legacySweepShard];
  return [...Array.from({ length: shards }, (_, i) => `DUE#${i}`), legacySweepShard];
}

/** One payment per business order: the id is derived from it, so a second create finds the first. */
export function derivePaymentId(businessId: string, businessOrderId: string): string {
  return `pay${createHash("sha256").update(`${businessId}\u0000${businessOrderId}`).digest("hex").slice(0, 29)}`;
}

const paymentIdPattern = /^pay[0-9a-f]{29}$/;
export const isPaymentId = (value: string) => paymentIdPattern.test(value);

/**
 * Alipay's out_trade_no of an attempt: `<deploymentPrefix>_<paymentId>_<attemptNo>`. The payment id
 * is derived from the business order alone (the same on every stack), so the prefix is what keeps two
 * deployments on one Alipay app (a staging and a production stack) from sending the same number.
 * Without a prefix, the form attempts had before: `<paymentId>_<attemptNo>`.
 */
export const outTradeNo = (paymentId: string, attemptNo: number, prefix = "") =>
  prefix ? `${prefix}_${paymentId}_${attemptNo}` : `${paymentId}_${attemptNo}`;

/** Every out_trade_no this system sends, whichever deployment sent it: `[<prefix>_]<paymentId>_<attemptNo>`. */
const outTradeNoPattern = /^(?:([A-Za-z0-9]{1,8})_)?(pay[0-9a-f]{29})_([1-9]\d{0,3})$/;

/**
 * The parts of an out_trade_no of this system's form, made by any deployment ("" prefix: made
 * before prefixes); undefined for anything else. The payment id's fixed form (`pay` + 29 hex)
 * keeps the two forms apart: a prefix has no `_`, so `x_pay..._1` is never read as unprefixed.
 */
export function splitOutTradeNo(value: string | undefined): { prefix: string; paymentId: string; attemptNo: number } | undefined {
  const match = value === undefined ? null : outTradeNoPattern.exec(value);
  return match ? { prefix: match[1] ?? "", paymentId: match[2]!, attemptNo: Number(match[3]) } : undefined;
}

/**
 * The payment and attempt an out_trade_no names, if it is one of ours: this deployment's prefix, or
 * none (attempts made before prefixes, which keep their numbers). Another deployment's is not ours.
 */
export function parseOutTradeNo(
  value: string | undefined,
  ownPrefix = deploymentPrefix(),
): { paymentId: string; attemptNo: number } | undefined {
  const parts = splitOutTradeNo(value);
  if (!parts || (parts.prefix !== "" && parts.prefix !== ownPrefix)) return undefined;
  return { paymentId: parts.paymentId, attemptNo: parts.attemptNo };
}

/**
 * The prefix of another deployment's out_trade_no (a stack sharing this Alipay app, e.g. staging
 * next to production), else undefined: ours, made before prefixes, or not of this system's form.
 */
export function otherDeploymentPrefix(value: string | undefined, ownPrefix = deploymentPrefix()): string | undefined {
  const parts = splitOutTradeNo(value);
  return parts && parts.prefix !== "" && parts.prefix !== ownPrefix ? parts.prefix : undefined;
}

export const lastAttempt = (payment: PaymentRecord): Attempt | undefined => payment.attempts.at(-1);
export const pendingAttempt = (payment: PaymentRecord): Attempt | undefined => {
  const last = lastAttempt(payment);
  return last?.status === "PENDING" ? last : undefined;
};

export type EventType = "payment.succeeded" | "payment.canceled" | "payment.expired";
export const eventTypeOf: Record<Exclude<PaymentStatus, "OPEN">, EventType> = {
  PAID: "payment.succeeded",
  CANCELED: "payment.canceled",
  EXPIRED: "payment.expired",
};
export const eventId = (paymentId: string, type: EventType) => `evt_${paymentId}_${type.split(".")[1]}`;

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function attemptView(attempt: Attempt) {
  return {
    attemptNo: attempt.attemptNo,
    outTradeNo: attempt.outTradeNo,
    status: attempt.status,
    createdAt: iso(attempt.createdAt)!,
    expiresAt: iso(attempt.expiresAt)!,
    ...(attempt.tradeNo !== undefined ? { tradeNo: attempt.tradeNo } : {}),
    ...(attempt.closedAt !== undefined ? { closedAt: iso(attempt.closedAt)!, closeReason: attempt.closeReason ?? "closed" } : {}),
  };
}

/** What the owning business system sees. */
export function businessPaymentView(payment: PaymentRecord) {
  return {
    paymentId: payment.paymentId,
    businessOrderId: payment.businessOrderId,
    userId: payment.userId,
    status: payment.status,
    amount: payment.amountFen,
    amountYuan: fenToYuan(payment.amountFen),
    currency: "CNY" as const,
    subject: payment.subject,
    ...(payment.body !== undefined ? { body: payment.body } : {}),
    ...(payment.metadata !== undefined ? { metadata: payment.metadata } : {}),
    createdAt: iso(payment.createdAt)!,
    expiresAt: iso(payment.expiresAt)!,
    ...(payment.tradeNo !== undefined ? { tradeNo: payment.tradeNo } : {}),
    ...(payment.paidAt !== undefined ? { paidAt: iso(payment.paidAt)! } : {}),
    ...(payment.canceledAt !== undefined ? { canceledAt: iso(payment.canceledAt)! } : {}),
    ...(payment.expiredAt !== undefined ? { expiredAt: iso(payment.expiredAt)! } : {}),
    attempts: payment.attempts.map(attemptView),
    ...(payment.automaticRefundIds?.length ? { automaticRefundIds: payment.automaticRefundIds } : {}),
  };
}
export type BusinessPaymentView = ReturnType<typeof businessPaymentView>;

/** What the paying user's app sees: no business metadata, no other attempts. */
export function appPaymentView(payment: PaymentRecord) {
  return {
    paymentId: payment.paymentId,
    status: payment.status,
    amount: payment.amountFen,
    amountYuan: fenToYuan(payment.amountFen),
    currency: "CNY" as const,
    subject: payment.subject,
    expiresAt: iso(payment.expiresAt)!,
    ...(payment.paidAt !== undefined ? { paidAt: iso(payment.paidAt)! } : {}),
  };
}
export type AppPaymentView = ReturnType<typeof appPaymentView>;

/** The order string the app hands to the Alipay SDK, for the payable attempt. */
export function orderStringView(payment: PaymentRecord, attempt: Attempt, orderString: string) {
  return {
    ...appPaymentView(payment),
    attemptNo: attempt.attemptNo,
    outTradeNo: attempt.outTradeNo,
    orderString,
    orderStringExpiresAt: iso(attempt.expiresAt)!,
  };
}
export type OrderStringView = ReturnType<typeof orderStringView>;
