// The one transition to PAID, shared by the notify path, the check worker and the status read.
// The paid event follows from the write itself (the table stream), not from a step after it.
import { AlipayUnavailableError, type TradeQueryResult } from "../alipay/gateway.js";
import { fromAlipayTime } from "../alipay/time.js";
import { faultPoint } from "../faults.js";
import { count, logger } from "../observability.js";
import { paidEventId, type OrderRecord, type Payment } from "./model.js";
import { getOrder, markPaid, recordRefundNeeded } from "./repository.js";

export type PaymentOutcome = "paid" | "duplicate" | "refund_needed";

/** The caller has checked that the payment belongs to this order and matches its amount. */
export async function applyPayment(order: OrderRecord, payment: Payment, now = Date.now()): Promise<PaymentOutcome> {
  const eventId = paidEventId(order.orderId);
  if (await markPaid(order.orderId, payment, eventId, now)) {
    count("OrdersPaid");
    if (payment.via === "query") count("PaymentsFoundByQuery");
    logger.info("order paid", { orderId: order.orderId, tradeNo: payment.tradeNo, via: payment.via, eventId });
    faultPoint("payment.afterWrite");
    return "paid";
  }
  const current = await getOrder(order.orderId);
  if (current?.status === "PAID" && current.tradeNo === payment.tradeNo) return "duplicate";
  // Paid after we closed it, or a second trade: the buyer's money must go back.
  const reason = current?.status === "CLOSED" ? "paid_after_close" : "second_trade";
  const firstSeen = await recordRefundNeeded(order, payment, reason, now);
  // Counted and logged every time, not only when the record is new: a write that committed but
  // answered an error (then failed its condition on the SDK's retry) must not silence the alarm.
  count("RefundsNeeded", { name: "reason", value: reason });
  logger.warn("payment needs a refund", { orderId: order.orderId, tradeNo: payment.tradeNo, reason, firstSeen });
  return "refund_needed";
}

/**
 * Applies what alipay.trade.query reported, if it reports a payment; undefined otherwise. An
 * amount that differs from the order's is never applied: it throws, so it is retried and alarmed.
 */
export async function applyQueriedPayment(order: OrderRecord, trade: TradeQueryResult, now: number): Promise<PaymentOutcome | undefined> {
  if (trade.kind !== "trade" || (trade.status !== "TRADE_SUCCESS" && trade.status !== "TRADE_FINISHED")) return undefined;
  if (trade.totalFen !== order.amountFen) {
    count("QueryAmountMismatches");
    throw new AlipayUnavailableError(`alipay.trade.query: amount ${trade.totalFen} differs from order ${order.orderId}`);
  }
  return applyPayment(order, {
    tradeNo: trade.tradeNo,
    totalFen: trade.totalFen,
    buyerId: trade.buyerId,
    paidAt: fromAlipayTime(trade.paidAt) ?? now,
    via: "query",
  }, now);
}
