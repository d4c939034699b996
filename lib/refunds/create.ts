// A business system asks for a refund of (part of) a PAID payment it owns.
//
// Idempotency as for payments (lib/payments/create.ts): the first answer a key receives is stored
// with the request's hash and replayed; the same key with another request is refused (422). The
// refund id derives from (payment, key) and is Alipay's out_request_no. One transaction records
// the refund, grows the payment's refunded total within what was paid, and stores the answer.
import { createHash } from "node:crypto";
import { HttpError } from "../api/errors.js";
import type { BusinessSystem } from "../business/registry.js";
import { fenToYuan } from "../money.js";
import { count, logger } from "../observability.js";
import type { ApiAnswer } from "../payments/create.js";
import { readBusinessPayment } from "../payments/read.js";
import { getIdempotencyRecord, type IdempotencyRecord, idempotencyKey, sweepShardFor } from "../payments/repository.js";
import { deriveRefundId, type RefundRecord, refundRequestKey, refundView } from "./model.js";
import { insertRefund, type RefundablePayment } from "./repository.js";

export interface CreateRefundInput {
  amount: number;
  reason: string;
}

/** Keys are remembered as long as payment keys. */
const keyRetentionSeconds = 7 * 24 * 3600;

export function refundRequestHash(paymentId: string, input: CreateRefundInput): string {
  return createHash("sha256")
    .update(JSON.stringify(["refund", paymentId, input.amount, input.reason]))
    .digest("hex");
}

export async function createRefund(
  business: BusinessSystem,
  paymentId: string,
  key: string,
  input: CreateRefundInput,
  now = Date.now(),
): Promise<ApiAnswer> {
  const payment = await readBusinessPayment(business.businessId, paymentId);
  const hash = refundRequestHash(paymentId, input);
  const paidAttempt = payment.attempts.find((a) => a.status === "PAID");
  if (payment.status !== "PAID" || payment.tradeNo === undefined || !paidAttempt) {
    // A key that already got an answer replays it (a PAID payment stays PAID, so this is rare).
    const previous = await getIdempotencyRecord(business.businessId, key);
    if (previous) return replay(previous, hash);
    throw new HttpError("payment_not_refundable", `Payment ${paymentId} is ${payment.status}: only a PAID payment can be refunded.`);
  }
  const refundId = deriveRefundId(business.businessId, paymentId, key);
  // Milliseconds: a payment's refunds are listed in the order they were asked for.
  const createdAt = now;
  const refund: RefundRecord = {
    ...refundRequestKey(paymentId, refundId),
    recordType: "REFUND_REQUEST",
    refundId,
    paymentId,
    businessId: business.businessId,
    amountFen: input.amount,
    reason: input.reason,
    status: "PENDING",
    createdAt,
    tradeNo: payment.tradeNo,
    outTradeNo: paidAttempt.outTradeNo,
    // Due at once: the sweep fans it out to the check worker, which asks Alipay.
    sweepShard: await sweepShardFor(paymentId),
    sweepAt: createdAt,
  };
  const view = refundView(refund);
  const answer: IdempotencyRecord = {
    ...idempotencyKey(business.businessId, key),
    requestHash: hash,
    statusCode: 201,
    responseBody: JSON.stringify(view),
    createdAt: now,
    ttl: Math.floor(now / 1000) + keyRetentionSeconds,
  };
  const outcome = await insertRefund(payment, refund, answer);
  if (outcome.kind === "created") {
    count("RefundsRequested");
    logger.info("refund requested", { refundId, paymentId, businessId: business.businessId, amountFen: input.amount });
    return { statusCode: 201, body: view, replayed: false };
  }
  if (outcome.kind === "key_used") return replay(outcome.record ?? (await getIdempotencyRecord(business.businessId, key)), hash);
  if (outcome.kind === "conflict") throw new HttpError("concurrent_update");
  const current: RefundablePayment = outcome.payment ?? payment;
  if (current.status !== "PAID") {
    throw new HttpError("payment_not_refundable", `Payment ${paymentId} is ${current.status}: only a PAID payment can be refunded.`);
  }
  const left = Math.max(0, current.amountFen - (current.refundedFen ?? 0));
  throw new HttpError(
    "refund_exceeds_payment",
    `Refunds of payment ${paymentId} may total at most its amount: ${left} fen (${fenToYuan(left)} yuan) is left to refund.`,
  );
}

function replay(record: IdempotencyRecord | undefined, hash: string): ApiAnswer {
  if (!record) throw new HttpError("concurrent_update");
  if (record.requestHash !== hash) throw new HttpError("idempotency_key_reused");
  return { statusCode: record.statusCode, body: JSON.parse(record.responseBody), replayed: true };
}
