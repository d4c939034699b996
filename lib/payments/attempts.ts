// The app asks for the order string of a payment its user owes. The payable attempt is handed out
// while it stays payable long enough; otherwise it is retired first (closed at Alipay, or found
// paid) and a new one is made, so at most one order string of a payment can ever be paid.
import { alipay } from "../alipay/client.js";
import { HttpError } from "../api/errors.js";
import { config } from "../config.js";
import { count, logger } from "../observability.js";
import { type Attempt, orderStringView, type OrderStringView, outTradeNo, type PaymentRecord, pendingAttempt } from "./model.js";
import { readOwnPayment } from "./read.js";
import { addAttempt } from "./repository.js";
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
  const settings = await config();
  const marginMs = settings.closeMarginSeconds * 1000;
  // A lost race is settled by reading again; a few rounds cover any realistic contention.
  for (let round = 0; round < 3; round += 1) {
    const payment = await readOwnPayment(userId, paymentId);
    assertPayable(payment);
    const pending = pendingAttempt(payment);
    if (pending) {
      if (pending.expiresAt - now >= minRemainingPayableMs) return { statusCode: 200, view: orderStringView(payment, pending) };
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

    const attempt = await buildAttempt(payment, now, settings.orderTtlSeconds);
    const orderString = (await alipay()).orderString(
      {
        outTradeNo: attempt.outTradeNo,
        amountFen: payment.amountFen,
        subject: payment.subject,
        body: payment.body,
        expiresAtMs: attempt.expiresAt,
      },
      now,
    );
    const sweepAt = nextCheckAt(attempt.createdAt, settings.checkScheduleSeconds, now, attempt.expiresAt + marginMs);
    const written = await addAttempt(payment, attempt, orderString, sweepAt, now);
    if (written.ok) {
      count("AttemptsCreated");
      logger.info("attempt created", { paymentId, attemptNo: attempt.attemptNo });
      return { statusCode: 201, view: orderStringView({ ...payment, orderString, attempts: [...payment.attempts, attempt] }, attempt) };
    }
    // A concurrent request (or our own write, retried by the SDK) made this attempt: hand out that one.
    const current = written.current;
    const theirs = current && pendingAttempt(current);
    if (current && theirs?.attemptNo === attempt.attemptNo && current.orderString)
      return { statusCode: 200, view: orderStringView(current, theirs) };
  }
  throw new HttpError("concurrent_update");
}

function assertPayable(payment: PaymentRecord): void {
  if (payment.status === "PAID") throw new HttpError("already_paid", `Payment ${payment.paymentId} is paid.`);
  if (payment.status === "CANCELED") throw new HttpError("payment_canceled", `Payment ${payment.paymentId} was canceled.`);
  if (payment.status === "EXPIRED") throw new HttpError("payment_expired", `Payment ${payment.paymentId} has expired.`);
}

async function buildAttempt(payment: PaymentRecord, now: number, ttlSeconds: number): Promise<Attempt> {
  const attemptNo = payment.attempts.length + 1;
  const createdAt = Math.floor(now / 1000) * 1000;
  return {
    attemptNo,
    outTradeNo: outTradeNo(payment.paymentId, attemptNo),
    status: "PENDING",
    createdAt,
    // Never payable beyond the payment's own expiry.
    expiresAt: Math.min(createdAt + ttlSeconds * 1000, Math.floor(payment.expiresAt / 1000) * 1000),
  };
}
