// The check worker: looks at one order that needs attention and moves it on.
//   PENDING: ask Alipay. Paid -> the shared transition to PAID. Closed at Alipay -> CLOSED.
//            Not paid and past expiry -> close at Alipay, then CLOSED; if the close is refused
//            because the buyer paid meanwhile, ask again and mark PAID.
// Alipay being unavailable throws, so the message is retried with backoff, then dead-lettered.
import { alipay } from "../alipay/client.js";
import { AlipayUnavailableError, type TradeQueryResult } from "../alipay/gateway.js";
import { config } from "../config.js";
import { faultPoint } from "../faults.js";
import { count, logger } from "../observability.js";
import type { OrderRecord } from "./model.js";
import { applyQueriedPayment } from "./payments.js";
import { getOrder, markClosed, scheduleCheck } from "./repository.js";
import { nextCheckAt } from "./schedule.js";

export type CheckOutcome = "paid" | "duplicate" | "refund_needed" | "closed" | "waiting" | "settled" | "not_found";

const stuckAfterMs = 10 * 60_000;

export interface CheckMessage {
  orderId: string;
}

export async function checkOrder(orderId: string, now = () => Date.now()): Promise<CheckOutcome> {
  const order = await getOrder(orderId);
  if (!order) return "not_found";
  const settings = await config();
  // PAID and CLOSED writes take the order out of the sweep index themselves.
  if (order.status !== "PENDING") return "settled";
  const closeAt = order.expiresAt + settings.closeMarginSeconds * 1000;
  // Still pending long after it should have been closed: something keeps failing (alarmed).
  if (now() > closeAt + stuckAfterMs) {
    count("StuckOrders");
    logger.error("order stuck pending past its expiry", { orderId, expiresAt: new Date(order.expiresAt).toISOString() });
  }
  const gateway = await alipay();
  const trade = await gateway.query(orderId);
  const settled = await settleFromTrade(order, trade, now());
  if (settled) return settled;
  if (now() < closeAt) {
    await scheduleCheck(orderId, nextCheckAt(order.createdAt, settings.checkScheduleSeconds, now(), closeAt));
    return "waiting";
  }
  // Expired unpaid: close at Alipay first, so the order string can never be paid afterwards.
  const closed = await gateway.close(orderId);
  faultPoint("check.afterClose");
  if (closed === "refused") {
    // Most likely the buyer paid between our query and our close.
    const again = await gateway.query(orderId);
    const outcome = await settleFromTrade(order, again, now());
    if (outcome) return outcome;
    throw new AlipayUnavailableError(`close of ${orderId} refused but the trade is not paid: ${JSON.stringify(again)}`);
  }
  if (await markClosed(orderId, "expired", now())) count("OrdersClosed", { name: "reason", value: "expired" });
  logger.info("expired order closed", { orderId, alipayClose: closed });
  return "closed";
}

async function settleFromTrade(order: OrderRecord, trade: TradeQueryResult, now: number): Promise<CheckOutcome | undefined> {
  const paid = await applyQueriedPayment(order, trade, now);
  if (paid) return paid;
  if (trade.kind === "trade" && trade.status === "TRADE_CLOSED") {
    if (await markClosed(order.orderId, "alipay_closed", now)) count("OrdersClosed", { name: "reason", value: "alipay_closed" });
    return "closed";
  }
  return undefined;
}
