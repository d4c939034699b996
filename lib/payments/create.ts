// A business system asks for a payment: it sets the amount, the subject and the paying user.
//
// Idempotency, Stripe-style: the first answer an Idempotency-Key receives is stored with the
// request's hash and replayed (status and body) on every retry; the same key with another request
// is refused. One payment per business order: the payment id is derived from it, so a create
// with another key answers the existing payment, or 409 when the amount, subject or user differ.
// The payment and its key's answer are written in one transaction: nothing half-created.
import { createHash } from "node:crypto";
import type * as z from "zod/mini";
import { HttpError } from "../api/errors.js";
import type { CreatePaymentBody } from "../api/requests.js";
import type { BusinessSystem } from "../business/registry.js";
import { config } from "../config.js";
import { count, logger } from "../observability.js";
import { businessPaymentView, derivePaymentId, type PaymentRecord, paymentKey, sweepShardOf } from "./model.js";
import { getIdempotencyRecord, getPayment, type IdempotencyRecord, idempotencyKey, insertPayment, rememberAnswer } from "./repository.js";

/** What a business system asks for (lib/api/requests.ts parses it). */
export type CreatePaymentInput = z.infer<typeof CreatePaymentBody>;

export interface ApiAnswer {
  statusCode: number;
  body: unknown;
  replayed: boolean;
}

/** Keys are remembered this long (Stripe: 24 hours); a payment itself is found by its business order forever. */
const keyRetentionSeconds = 7 * 24 * 3600;

export function requestHash(input: CreatePaymentInput): string {
  const canonical = JSON.stringify([
    input.businessOrderId,
    input.amount,
    input.subject,
    input.body ?? null,
    input.userId,
    input.expiresInSeconds ?? null,
    input.metadata ? Object.entries(input.metadata).sort(([a], [b]) => (a < b ? -1 : 1)) : null,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}

export async function createPayment(
  business: BusinessSystem,
  key: string,
  input: CreatePaymentInput,
  now = Date.now(),
): Promise<ApiAnswer> {
  const hash = requestHash(input);
  const payment = await buildPayment(business, input, now);
  const answer = (statusCode: number, body: unknown): IdempotencyRecord => ({
    ...idempotencyKey(business.businessId, key),
    requestHash: hash,
    statusCode,
    responseBody: JSON.stringify(body),
    createdAt: now,
    ttl: Math.floor(now / 1000) + keyRetentionSeconds,
  });
  const created = answer(201, businessPaymentView(payment));
  const outcome = await insertPayment(payment, created);
  if (outcome.kind === "created") {
    count("PaymentsCreated");
    logger.info("payment created", { paymentId: payment.paymentId, businessId: business.businessId, amountFen: input.amount });
    return { statusCode: 201, body: businessPaymentView(payment), replayed: false };
  }
  if (outcome.kind === "key_used") return replay(outcome.record ?? (await getIdempotencyRecord(business.businessId, key)), hash);

  // Another key created this business order's payment: answer it, and remember that answer for this key.
  const existing = outcome.existing ?? (await getPayment(payment.paymentId));
  if (!existing) throw new HttpError("concurrent_update");
  const conflict = existing.amountFen !== input.amount || existing.subject !== input.subject || existing.userId !== input.userId;
  const refused = (error: HttpError) => answer(error.statusCode, error.body);
  const first = conflict
    ? refused(
        new HttpError(
          "payment_conflict",
          `Business order ${input.businessOrderId} already has payment ${existing.paymentId} with a different amount, subject or user.`,
        ),
      )
    : answer(200, businessPaymentView(existing));
  const remembered = await rememberAnswer(first);
  if (!remembered.stored) return replay(remembered.record ?? (await getIdempotencyRecord(business.businessId, key)), hash);
  return { statusCode: first.statusCode, body: JSON.parse(first.responseBody), replayed: false };
}

function replay(record: IdempotencyRecord | undefined, hash: string): ApiAnswer {
  // The key's record was just seen; only an expired TTL in between could make it disappear.
  if (!record) throw new HttpError("concurrent_update");
  if (record.requestHash !== hash) throw new HttpError("idempotency_key_reused");
  return { statusCode: record.statusCode, body: JSON.parse(record.responseBody), replayed: true };
}

async function buildPayment(business: BusinessSystem, input: CreatePaymentInput, now: number): Promise<PaymentRecord> {
  const settings = await config();
  const paymentId = derivePaymentId(business.businessId, input.businessOrderId);
  const createdAt = Math.floor(now / 1000) * 1000;
  const expiresAt = createdAt + (input.expiresInSeconds ?? business.paymentExpirySeconds) * 1000;
  return {
    ...paymentKey(paymentId),
    paymentId,
    businessId: business.businessId,
    businessOrderId: input.businessOrderId,
    userId: input.userId,
    amountFen: input.amount,
    subject: input.subject,
    ...(input.body !== undefined ? { body: input.body } : {}),
    ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
    status: "OPEN",
    createdAt,
    expiresAt,
    attempts: [],
    // Open payments are in the sweep index from birth: one nobody pays is expired by the sweep.
    sweepShard: sweepShardOf(paymentId, settings.sweepShards),
    sweepAt: expiresAt + settings.closeMarginSeconds * 1000,
    history: [{ at: createdAt, event: "created" }],
  };
}
