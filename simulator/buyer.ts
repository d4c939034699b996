// What buyers (and time) do to trades: reach the password step, pay, abandon; and the trade becoming
// final (TRADE_FINISHED) or timing out.
import { armExpiry, closeUnpaid, expireIfDue, finishTrade, notifyTrade, type SimulatorContext } from "./context.js";
import type { Trade } from "./ledger.js";
import { checkOrderString, parseOrderString, type CheckedOrder } from "./orderString.js";
import { SimulatorError } from "./scenarios.js";
import { buyerIdPattern, formatFen, formatGmt8, maskedLogonId, newBuyerId, newTradeNo, timeoutExpressDeadline } from "./values.js";
import type { OrderEvent, PayResult } from "./types.js";

function resultOf(trade: Trade): PayResult {
  return {
    appId: trade.appId,
    tradeNo: trade.tradeNo,
    outTradeNo: trade.outTradeNo,
    totalAmount: formatFen(trade.totalFen),
    buyerId: trade.buyerId,
    status: trade.status,
  };
}

/** The checks common to reaching the cashier and paying: expiry, conflicts with an existing trade. */
function admit(ctx: SimulatorContext, order: CheckedOrder, nowMs: number): Trade | undefined {
  const existing = ctx.ledger.get(order.app.appId, order.outTradeNo);
  if (existing) {
    expireIfDue(ctx, existing, nowMs);
    if (existing.totalFen !== order.totalFen) {
      throw new SimulatorError(
        409,
        "ACQ.CONTEXT_INCONSISTENT",
        `交易信息被篡改: ${order.outTradeNo} exists with total_amount ${formatFen(existing.totalFen)}`,
      );
    }
    if (existing.status === "TRADE_SUCCESS" || existing.status === "TRADE_FINISHED") {
      throw new SimulatorError(409, "ACQ.TRADE_HAS_SUCCESS", `交易已被支付: ${order.outTradeNo} (${existing.tradeNo})`);
    }
    if (existing.status === "TRADE_CLOSED") {
      throw new SimulatorError(409, "ACQ.TRADE_HAS_CLOSE", `交易已经关闭: ${order.outTradeNo}`);
    }
  }
  if (order.timeExpireMs !== undefined && nowMs > order.timeExpireMs) {
    throw new SimulatorError(410, "TRADE_EXPIRED", `订单已过期: time_expire ${formatGmt8(order.timeExpireMs)} (GMT+8) has passed`);
  }
  if (
    !existing &&
    ctx.scenarios.effective(order.outTradeNo).closeBlocksPayment &&
    ctx.ledger.closeRequestedBeforeTrade(order.app.appId, order.outTradeNo)
  ) {
    throw new SimulatorError(409, "ACQ.TRADE_HAS_CLOSE", `交易已经关闭: the merchant closed ${order.outTradeNo} before it was paid`);
  }
  return existing;
}

function createTrade(ctx: SimulatorContext, order: CheckedOrder, buyerId: string, nowMs: number): Trade {
  const deadlines = [order.timeExpireMs, timeoutExpressDeadline(order.timeoutExpress, nowMs)].filter((t): t is number => t !== undefined);
  const trade: Trade = {
    appId: order.app.appId,
    sellerId: order.app.sellerId,
    tradeNo: newTradeNo(nowMs),
    outTradeNo: order.outTradeNo,
    status: "WAIT_BUYER_PAY",
    totalFen: order.totalFen,
    subject: order.subject,
    buyerId,
    buyerLogonId: maskedLogonId(buyerId),
    createdAtMs: nowMs,
    refunds: [],
    refundedFen: 0,
  };
  if (order.body !== undefined) trade.body = order.body;
  if (order.passbackParams !== undefined) trade.passbackParams = order.passbackParams;
  if (order.notifyUrl !== undefined) trade.notifyUrl = order.notifyUrl;
  if (deadlines.length) trade.expiresAtMs = Math.min(...deadlines);
  ctx.ledger.add(trade);
  return trade;
}

function checkBuyerId(buyerId: unknown): string {
  if (buyerId === undefined || buyerId === null || buyerId === "") return newBuyerId();
  if (typeof buyerId !== "string" || !buyerIdPattern.test(buyerId)) {
    throw new SimulatorError(400, "INVALID_BUYER_ID", "buyerId must be 2088 followed by 12 digits");
  }
  return buyerId;
}

/** The buyer enters the payment password: the trade is created (or the open one paid) and notified. */
export function pay(ctx: SimulatorContext, orderString: string, buyerIdInput?: string): PayResult {
  const nowMs = Date.now();
  const order = checkOrderString(orderString, ctx.apps, ctx.certificates?.rootCertSn);
  const existing = admit(ctx, order, nowMs);
  const trade = existing ?? createTrade(ctx, order, checkBuyerId(buyerIdInput), nowMs);
  trade.status = "TRADE_SUCCESS";
  trade.paidAtMs = nowMs;
  delete trade.expiresAtMs;
  const timer = ctx.expiryTimers.get(trade);
  if (timer) clearTimeout(timer);
  ctx.expiryTimers.delete(trade);
  ctx.log(`paid ${trade.outTradeNo} ${formatFen(trade.totalFen)} -> ${trade.tradeNo}`);
  notifyTrade(ctx, trade, "payment");
  return resultOf(trade);
}

/**
 * The buyer reached the password step but has not paid: the trade exists as WAIT_BUYER_PAY (query
 * finds it, close closes it) and closes by itself at time_expire / timeout_express.
 */
export function open(ctx: SimulatorContext, orderString: string, buyerIdInput?: string): PayResult {
  const nowMs = Date.now();
  const order = checkOrderString(orderString, ctx.apps, ctx.certificates?.rootCertSn);
  const existing = admit(ctx, order, nowMs);
  const trade = existing ?? createTrade(ctx, order, checkBuyerId(buyerIdInput), nowMs);
  armExpiry(ctx, trade);
  ctx.log(`opened ${trade.outTradeNo} (WAIT_BUYER_PAY) -> ${trade.tradeNo}`);
  return resultOf(trade);
}

/** The buyer abandons the cashier: recorded, nothing else happens (no trade, no notification). */
export function cancel(ctx: SimulatorContext, orderString: string): OrderEvent {
  const params = parseOrderString(orderString);
  let outTradeNo = "";
  try {
    const biz = JSON.parse(params.biz_content ?? "{}") as { out_trade_no?: unknown };
    if (typeof biz.out_trade_no === "string") outTradeNo = biz.out_trade_no;
  } catch {
    // recorded with an empty out_trade_no
  }
  const event: OrderEvent = { kind: "cancel", appId: params.app_id ?? "", outTradeNo, atMs: Date.now() };
  ctx.ledger.record(event);
  ctx.log(`buyer abandoned ${outTradeNo || "(unreadable order string)"}`);
  return event;
}

function tradeFor(ctx: SimulatorContext, outTradeNo: string, appId?: string): Trade {
  const trade = ctx.ledger.lookup(outTradeNo, appId);
  if (!trade) throw new SimulatorError(404, "ACQ.TRADE_NOT_EXIST", `no trade for ${outTradeNo}`);
  return trade;
}

/** The trade can no longer be refunded: TRADE_FINISHED, notified. */
export function finish(ctx: SimulatorContext, outTradeNo: string, appId?: string): Trade {
  const trade = tradeFor(ctx, outTradeNo, appId);
  if (trade.status !== "TRADE_SUCCESS") {
    throw new SimulatorError(409, "ACQ.TRADE_STATUS_ERROR", `only a TRADE_SUCCESS trade can finish, ${outTradeNo} is ${trade.status}`);
  }
  finishTrade(ctx, trade);
  return trade;
}

/** Times an unpaid (WAIT_BUYER_PAY) trade out now: TRADE_CLOSED, notified. */
export function expire(ctx: SimulatorContext, outTradeNo: string, appId?: string): Trade {
  const trade = tradeFor(ctx, outTradeNo, appId);
  if (trade.status !== "WAIT_BUYER_PAY") {
    throw new SimulatorError(409, "ACQ.TRADE_STATUS_ERROR", `only an unpaid trade can time out, ${outTradeNo} is ${trade.status}`);
  }
  closeUnpaid(ctx, trade, "timeout");
  notifyTrade(ctx, trade, "timeout-close");
  return trade;
}
