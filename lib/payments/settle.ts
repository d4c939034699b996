// The transitions that depend on what Alipay says about an attempt, shared by the notify path,
// the check worker, the status read, the app's order-string request and cancel:
//   applyPayment   the one transition to PAID (or, for money that reached a closed attempt or a
//                  settled payment, a recorded refund);
//   retireAttempt  makes sure an attempt can no longer be paid, closing it at Alipay first.
import { alipay } from "../alipay/client.js";
import { AlipayUnavailableError, type TradeQueryResult } from "../alipay/gateway.js";
import { fromAlipayTime } from "../alipay/time.js";
import { config } from "../config.js";
import { faultPoint } from "../faults.js";
import { count, logger } from "../observability.js";
import type { Attempt, Payment, PaymentRecord } from "./model.js";
import { closeAttempt, getPayment, markPaid, recordRefundNeeded, type Settlement } from "./repository.js";

export type PaymentOutcome = "paid" | "duplicate" | "refund_needed";

/** The caller has checked that the payment belongs to this attempt and matches its amount. */
export async function applyPayment(payment: PaymentRecord, attemptNo: number, paid: Payment, now = Date.now()): Promise<PaymentOutcome> {
  const written = await markPaid(payment.paymentId, attemptNo, paid, now);
  if (written.ok) return paymentApplied(payment.paymentId, attemptNo, paid);
  return paymentNotApplied(written.current ?? (await getPayment(payment.paymentId)) ?? payment, attemptNo, paid, now);
}

/** After the write to PAID succeeded. */
export function paymentApplied(paymentId: string, attemptNo: number, paid: Payment): "paid" {
  count("PaymentsSucceeded");
  if (paid.via === "query") count("PaymentsFoundByQuery");
  logger.info("payment succeeded", { paymentId, attemptNo, tradeNo: paid.tradeNo, via: paid.via });
  faultPoint("payment.afterWrite");
  return "paid";
}

/**
 * After the write to PAID failed its condition, given the payment as it is (`current`): the same
 * trade already applied, or money that must go back.
 */
export async function paymentNotApplied(current: PaymentRecord, attemptNo: number, paid: Payment, now: number): Promise<PaymentOutcome> {
  if (current.status === "PAID" && current.tradeNo === paid.tradeNo) return "duplicate";
  // Paid after we closed the attempt or settled the payment, or a second trade: the money must go back
  // (refunded automatically when autoRefunds is on: recordRefundNeeded records the refund with it).
  const reason = current.status === "PAID" ? "second_trade" : "paid_after_close";
  const firstSeen = await recordRefundNeeded(current, attemptNo, paid, reason, now);
  // Counted and logged every time, not only when the record is new: a write that committed but
  // answered an error (then failed its condition on the SDK's retry) must not silence the alarm.
  count("RefundsNeeded", { name: "reason", value: reason });
  // With automatic refunds off nothing gives this money back but a person (alarmed).
  if (!(await config()).autoRefunds) count("RefundsAwaitingPerson");
  logger.warn("payment needs a refund", { paymentId: current.paymentId, attemptNo, tradeNo: paid.tradeNo, reason, firstSeen });
  return "refund_needed";
}

/**
 * Applies what alipay.trade.query reported, if it reports a payment; undefined otherwise. An
 * amount that differs from the payment's is never applied: it throws, so it is retried and alarmed.
 */
export async function applyQueriedPayment(
  payment: PaymentRecord,
  attempt: Attempt,
  trade: TradeQueryResult,
  now: number,
): Promise<PaymentOutcome | undefined> {
  if (trade.kind !== "trade" || (trade.status !== "TRADE_SUCCESS" && trade.status !== "TRADE_FINISHED")) return undefined;
  if (trade.totalFen !== payment.amountFen) {
    count("QueryAmountMismatches");
    throw new AlipayUnavailableError(`alipay.trade.query: amount ${trade.totalFen} differs from payment ${payment.paymentId}`);
  }
  return applyPayment(
    payment,
    attempt.attemptNo,
    {
      tradeNo: trade.tradeNo,
      totalFen: trade.totalFen,
      buyerId: trade.buyerId,
      paidAt: fromAlipayTime(trade.paidAt) ?? now,
      via: "query",
    },
    now,
  );
}

export type RetireOutcome = PaymentOutcome | "closed" | "still_payable";

/**
 * Makes sure `attempt` can no longer be paid, and records it closed with `settleAs` (the payment stays
 * open, or becomes CANCELED / EXPIRED in the same write). Asks Alipay first: a paid attempt is
 * applied instead. An attempt Alipay has no trade for yet can still be paid until its time_expire:
 * unless `acceptUnknown`, it is only closed once that has passed, otherwise "still_payable".
 */
export async function retireAttempt(
  payment: PaymentRecord,
  attempt: Attempt,
  {
    reason,
    settleAs,
    closeMarginMs,
    acceptUnknown = false,
  }: { reason: string; settleAs: Settlement; closeMarginMs: number; acceptUnknown?: boolean },
  now: number,
): Promise<RetireOutcome> {
  const gateway = await alipay();
  const trade = await gateway.query(attempt.outTradeNo);
  const paid = await applyQueriedPayment(payment, attempt, trade, now);
  if (paid) return paid;
  if (trade.kind === "trade" && trade.status === "TRADE_CLOSED") {
    await recordClosed(payment, attempt, "alipay_closed", settleAs, now);
    return "closed";
  }
  if (trade.kind === "not_found" && !acceptUnknown && now < attempt.expiresAt + closeMarginMs) return "still_payable";
  // Close at Alipay first, so the order string can never be paid afterwards.
  const closed = await gateway.close(attempt.outTradeNo);
  faultPoint("check.afterClose");
  if (closed === "refused") {
    // Most likely the buyer paid between our query and our close.
    const again = await gateway.query(attempt.outTradeNo);
    const outcome = await applyQueriedPayment(payment, attempt, again, now);
    if (outcome) return outcome;
    if (again.kind === "trade" && again.status === "TRADE_CLOSED") {
      await recordClosed(payment, attempt, "alipay_closed", settleAs, now);
      return "closed";
    }
    // The trade's status, never the query result itself: it names the buyer.
    const seen = again.kind === "trade" ? `${again.status} ${again.tradeNo}` : "no trade";
    throw new AlipayUnavailableError(`close of ${attempt.outTradeNo} refused but the trade is not paid: ${seen}`);
  }
  // Alipay had no trade to close: the order string stays payable until its time_expire, so a
  // settled payment is watched until then (the check worker asks once more; money is then refunded).
  const mayStillBePaid = closed === "not_found" && now < attempt.expiresAt + closeMarginMs;
  const settlement =
    mayStillBePaid && settleAs.status !== "OPEN" ? { ...settleAs, watchUntil: attempt.expiresAt + closeMarginMs } : settleAs;
  await recordClosed(payment, attempt, reason, settlement, now);
  logger.info("attempt closed", { paymentId: payment.paymentId, attemptNo: attempt.attemptNo, reason, alipayClose: closed });
  return "closed";
}

async function recordClosed(payment: PaymentRecord, attempt: Attempt, reason: string, settleAs: Settlement, now: number): Promise<void> {
  const written = await closeAttempt(payment.paymentId, attempt.attemptNo, reason, settleAs, now);
  if (written.ok) {
    count("AttemptsClosed", { name: "reason", value: reason });
    if (settleAs.status !== "OPEN") count(settleAs.status === "CANCELED" ? "PaymentsCanceled" : "PaymentsExpired");
  }
}

/** What a payment whose attempt is being closed becomes: expired once its own expiry has passed. */
export function settlementAfterClose(payment: PaymentRecord, now: number, closeMarginMs: number): Settlement {
  return now >= payment.expiresAt ? { status: "EXPIRED" } : { status: "OPEN", sweepAt: payment.expiresAt + closeMarginMs };
}
