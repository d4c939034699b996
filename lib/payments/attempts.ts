// The app asks for the order string of a payment its user owes. The payable attempt is handed out
// while it stays payable long enough; otherwise it is retired first (closed at Alipay, or found
// paid) and a new one is made, so at most one order string of a payment can ever be paid.
import { alipay } from "../alipay/client.js";
import { HttpError } from "../api/errors.js";
import { config } from "../config.js";
import { count, logger } from "../observability.js";
import {
  type Attempt,
  isPaymentId,
  orderStringView,
  type OrderStringView,
  outTradeNo,
  type PaymentRecord,
  pendingAttempt,
} from "./model.js";
import { ownPayment, paymentNotFound, readOwnPayment } from "./read.js";
import { addAttempt, addFirstAttempt } from "./repository.js";
import { nextCheckAt } from "./schedule.js";
import { retireAttempt, settlementAfterClose } from "./settle.js";

/** A pending attempt is still handed out if its string stays payable at least this long. */
export const minRemainingPayableMs = 60_000;
/** Alipay's out_trade_no allows it, but a payment that needs this many attempts is being abused. */
const maxAttempts = 50;

export async function orderStringFor(
  userId: string,
  paymentId: string,
  now = Date.now(),
): Promise<{ statusCode: 200 | 201; view: OrderStringView }> {
  if (!isPaymentId(paymentId)) throw paymentNotFound(paymentId);
  const settings = await config();
  const marginMs = settings.closeMarginSeconds * 1000;

  // The common case in one request: the payment's first attempt, written without reading first.
  // Its conditions (this user's, open, no attempt yet, open past the attempt's time_expire) are
  // what the read would have checked; if one fails, the payment as it is comes back instead.
  const first = firstAttempt(paymentId, now, settings.orderTtlSeconds, settings.deploymentPrefix);
  const payableUntil = Math.max(first.expiresAt, now + minRemainingPayableMs);
  const sweepAt = nextCheckAt(first.createdAt, settings.checkScheduleSeconds, now, first.expiresAt + marginMs);
  const added = await addFirstAttempt(userId, paymentId, first, sweepAt, payableUntil, now);
  if (added.ok) return attemptCreated(added.payment, first);

  let seen: PaymentRecord | undefined = added.current;
  // A lost race is settled by reading again; a few rounds cover any realistic contention.
  for (let round = 0; round < 3; round += 1) {
    const payment = seen ? ownPayment(userId, paymentId, seen) : await readOwnPayment(userId, paymentId);
    seen = undefined;
    assertPayable(payment);
    const pending = pendingAttempt(payment);
    if (pending) {
      if (pending.expiresAt - now >= minRemainingPayableMs) {
        return { statusCode: 200, view: orderStringView(payment, pending, await signedOrderString(payment, pending)) };
      }
      // About to expire: a new string may only follow once this one can no longer be paid.
      const outcome = await retireAttempt(
        payment,
        pending,
        {
          reason: "replaced",
          settleAs: settlementAfterClose(payment, now, marginMs),
          closeMarginMs: marginMs,
        },
        now,
      );
      if (outcome === "paid" || outcome === "duplicate") throw new HttpError("already_paid", `Payment ${paymentId} is paid.`);
      if (outcome === "still_payable") {
        throw new HttpError(
          "previous_attempt_expiring",
          "The previous order string is still payable for a few seconds; retry in a minute.",
        );
      }
      continue;
    }
    if (payment.expiresAt - now < minRemainingPayableMs) throw new HttpError("payment_expired", `Payment ${paymentId} has expired.`);
    if (payment.attempts.length >= maxAttempts) throw new HttpError("too_many_attempts");

    const attempt = buildAttempt(payment, now, settings.orderTtlSeconds, settings.deploymentPrefix);
    const attemptSweepAt = nextCheckAt(attempt.createdAt, settings.checkScheduleSeconds, now, attempt.expiresAt + marginMs);
    const written = await addAttempt(payment, attempt, attemptSweepAt, now);
    if (written.ok) return attemptCreated({ ...payment, attempts: [...payment.attempts, attempt] }, attempt);
    // A concurrent request (or our own write, retried by the SDK) made this attempt: hand out that one.
    const current = written.current;
    const theirs = current && pendingAttempt(current);
    if (current && theirs?.attemptNo === attempt.attemptNo) {
      return { statusCode: 200, view: orderStringView(current, theirs, await signedOrderString(current, theirs)) };
    }
    seen = current;
  }
  throw new HttpError("concurrent_update");
}

async function attemptCreated(payment: PaymentRecord, attempt: Attempt): Promise<{ statusCode: 201; view: OrderStringView }> {
  count("AttemptsCreated");
  logger.info("attempt created", { paymentId: payment.paymentId, attemptNo: attempt.attemptNo });
  return { statusCode: 201, view: orderStringView(payment, attempt, await signedOrderString(payment, attempt)) };
}

/**
 * The attempt's order string. Signed from the attempt alone, with its creation as the timestamp
 * (RSA PKCS#1 v1.5 signatures are deterministic): every call hands out the same string, so it
 * need not be stored. Strings stored by earlier versions are handed out as they are.
 */
async function signedOrderString(payment: PaymentRecord, attempt: Attempt): Promise<string> {
  if (payment.orderString && pendingAttempt(payment)?.attemptNo === attempt.attemptNo) return payment.orderString;
  return (await alipay()).orderString(
    {
      outTradeNo: attempt.outTradeNo,
      amountFen: payment.amountFen,
      subject: payment.subject,
      body: payment.body,
      expiresAtMs: attempt.expiresAt,
    },
    attempt.createdAt,
  );
}

function assertPayable(payment: PaymentRecord): void {
  if (payment.status === "PAID") throw new HttpError("already_paid", `Payment ${payment.paymentId} is paid.`);
  if (payment.status === "CANCELED") throw new HttpError("payment_canceled", `Payment ${payment.paymentId} was canceled.`);
  if (payment.status === "EXPIRED") throw new HttpError("payment_expired", `Payment ${payment.paymentId} has expired.`);
}

function buildAttempt(payment: PaymentRecord, now: number, ttlSeconds: number, prefix: string): Attempt {
  // A payment's earlier attempts keep the numbers they were sent with (unprefixed, if made before).
  const attempt = firstAttempt(payment.paymentId, now, ttlSeconds, prefix, payment.attempts.length + 1);
  // Never payable beyond the payment's own expiry.
  return { ...attempt, expiresAt: Math.min(attempt.expiresAt, Math.floor(payment.expiresAt / 1000) * 1000) };
}

/** An attempt as it is made at `now`, before the payment's own expiry is taken into account. */
function firstAttempt(paymentId: string, now: number, ttlSeconds: number, prefix: string, attemptNo = 1): Attempt {
  const createdAt = Math.floor(now / 1000) * 1000;
  return {
    attemptNo,
    outTradeNo: outTradeNo(paymentId, attemptNo, prefix),
    status: "PENDING",
    createdAt,
    expiresAt: createdAt + ttlSeconds * 1000,
  };
}
