// The check worker: looks at one payment that needs attention and moves it on.
//   Pending attempt: ask Alipay. Paid -> the shared transition to PAID. Closed at Alipay -> closed.
//            Not paid and past its time_expire -> close at Alipay, then closed (and the payment
//            EXPIRED if it is past its own expiry); if the close is refused because the buyer
//            paid meanwhile, ask again and mark PAID.
//   No pending attempt: past the payment's expiry -> EXPIRED; otherwise look again then.
// Alipay being unavailable throws, so the message is retried with backoff, then dead-lettered.
import { alipay } from "../alipay/client.js";
import { config } from "../config.js";
import { count, logger } from "../observability.js";
import { lastAttempt, type PaymentRecord, pendingAttempt } from "./model.js";
import { endWatch, getPayment, scheduleCheck, settleOpen } from "./repository.js";
import { nextCheckAt } from "./schedule.js";
import { applyQueriedPayment, retireAttempt, settlementAfterClose } from "./settle.js";

export type CheckOutcome = "paid" | "duplicate" | "refund_needed" | "closed" | "expired" | "waiting" | "settled" | "not_found";

const stuckAfterMs = 10 * 60_000;

export interface CheckMessage {
  paymentId: string;
  /** A PENDING refund of the payment to check (lib/refunds/check.ts), rather than the payment. */
  refundId?: string;
}

export async function checkPayment(paymentId: string, now = () => Date.now()): Promise<CheckOutcome> {
  const payment = await getPayment(paymentId);
  if (!payment) return "not_found";
  const settings = await config();
  const marginMs = settings.closeMarginSeconds * 1000;
  // Settling writes take the payment out of the sweep index themselves, unless it is watched.
  if (payment.status !== "OPEN") return payment.sweepShard === undefined ? "settled" : watchSettled(payment, marginMs, now);
  // Still open long after it should have been settled: something keeps failing (alarmed).
  if (now() > payment.expiresAt + marginMs + stuckAfterMs) {
    count("StuckPayments");
    logger.error("payment stuck open past its expiry", { paymentId, expiresAt: new Date(payment.expiresAt).toISOString() });
  }
  const attempt = pendingAttempt(payment);
  if (!attempt) {
    if (now() < payment.expiresAt + marginMs) {
      await scheduleCheck(paymentId, payment.expiresAt + marginMs);
      return "waiting";
    }
    const written = await settleOpen(payment, "EXPIRED", "expired unpaid", now());
    if (written.ok) count("PaymentsExpired");
    return "expired";
  }
  const closeAt = attempt.expiresAt + marginMs;
  if (now() < closeAt) {
    const trade = await (await alipay()).query(attempt.outTradeNo);
    const paid = await applyQueriedPayment(payment, attempt, trade, now());
    if (paid) return paid;
    if (!(trade.kind === "trade" && trade.status === "TRADE_CLOSED")) {
      await scheduleCheck(paymentId, nextCheckAt(attempt.createdAt, settings.checkScheduleSeconds, now(), closeAt));
      return "waiting";
    }
  }
  // Past its time_expire (or closed at Alipay): make sure it can never be paid, then record it.
  const outcome = await retireAttempt(
    payment,
    attempt,
    {
      reason: "expired",
      settleAs: settlementAfterClose(payment, now(), marginMs),
      closeMarginMs: marginMs,
    },
    now(),
  );
  return outcome === "still_payable" ? "waiting" : outcome;
}

/**
 * A settled payment whose last attempt was closed before Alipay had a trade for it: that order
 * string can be paid until its time_expire. Ask Alipay (money found is recorded as a refund, never
 * a success) until then, and once after; then the payment leaves the sweep index.
 */
async function watchSettled(payment: PaymentRecord, marginMs: number, now: () => number): Promise<CheckOutcome> {
  const attempt = lastAttempt(payment);
  if (attempt) {
    const trade = await (await alipay()).query(attempt.outTradeNo);
    const paid = await applyQueriedPayment(payment, attempt, trade, now());
    if (paid) {
      // Recorded (as a refund); the attempt is paid at Alipay, so it cannot be paid again.
      await endWatch(payment.paymentId, now());
      return paid;
    }
    const watchUntil = attempt.expiresAt + marginMs;
    if (now() < watchUntil) {
      await scheduleCheck(payment.paymentId, nextCheckAt(attempt.createdAt, (await config()).checkScheduleSeconds, now(), watchUntil));
      return "waiting";
    }
  }
  await endWatch(payment.paymentId, now());
  return "settled";
}
