// The simulator's shared state, and the few state transitions several entry points need.
import type { KeyObject } from "node:crypto";
import type { Ledger, Trade } from "./ledger.js";
import { tradeNotificationParams, type Notifier, type TradeNotificationExtra } from "./notifier.js";
import type { KnownApp } from "./orderString.js";
import type { FaultStore, ScenarioStore } from "./scenarios.js";
import type { NotificationKind } from "./types.js";

export interface SimulatorContext {
  apps: Map<string, KnownApp>;
  alipayKey: KeyObject;
  ledger: Ledger;
  scenarios: ScenarioStore;
  faults: FaultStore;
  notifier: Notifier;
  maxTimestampSkewMs?: number;
  refundableForMs: number;
  /**
   * Certificate mode: the SNs answers carry and requests must name; every Alipay certificate issued
   * so far by SN (what alipay.open.app.alipaycert.download hands out: the certificate and its chain);
   * the CA that issues the next one on a rotation.
   */
  certificates?: { alipayCertSn: string; rootCertSn: string; issued: Map<string, string>; ca?: { cert: string; key: string } };
  expiryTimers: Map<Trade, NodeJS.Timeout>;
  log: (line: string) => void;
}

/** Queues a notification about the trade's current state to `url` (the trade's notify_url by default). */
export function notifyTrade(
  ctx: SimulatorContext,
  trade: Trade,
  kind: NotificationKind,
  extra: TradeNotificationExtra = {},
  url = trade.notifyUrl,
): string | undefined {
  if (!url) {
    ctx.log(`no notify_url for ${trade.outTradeNo}: ${trade.status} not notified`);
    return undefined;
  }
  const app = ctx.apps.get(trade.appId)!.app;
  return ctx.notifier.enqueue({
    appId: trade.appId,
    outTradeNo: trade.outTradeNo,
    url,
    kind,
    params: tradeNotificationParams(trade, app, extra),
    scenario: ctx.scenarios.effective(trade.outTradeNo),
  });
}

/** A paid trade past the merchant's refund window is finished (and Alipay notifies TRADE_FINISHED). */
export function finishIfPastRefundWindow(ctx: SimulatorContext, trade: Trade, nowMs = Date.now()): void {
  if (trade.status !== "TRADE_SUCCESS" || trade.paidAtMs === undefined || nowMs < trade.paidAtMs + ctx.refundableForMs) return;
  finishTrade(ctx, trade, nowMs);
}

export function finishTrade(ctx: SimulatorContext, trade: Trade, nowMs = Date.now()): void {
  trade.status = "TRADE_FINISHED";
  trade.finishedAtMs = nowMs;
  notifyTrade(ctx, trade, "finish");
}

/** An unpaid trade past its deadline closes (and Alipay notifies TRADE_CLOSED). */
export function expireIfDue(ctx: SimulatorContext, trade: Trade, nowMs = Date.now()): void {
  if (trade.status !== "WAIT_BUYER_PAY" || trade.expiresAtMs === undefined || nowMs < trade.expiresAtMs) return;
  closeUnpaid(ctx, trade, "timeout", nowMs);
  notifyTrade(ctx, trade, "timeout-close");
}

export function closeUnpaid(ctx: SimulatorContext, trade: Trade, reason: "merchant-close" | "timeout", nowMs = Date.now()): void {
  trade.status = "TRADE_CLOSED";
  trade.closedAtMs = nowMs;
  trade.closedReason = reason;
  const timer = ctx.expiryTimers.get(trade);
  if (timer) clearTimeout(timer);
  ctx.expiryTimers.delete(trade);
  ctx.log(`trade ${trade.outTradeNo} closed (${reason})`);
}

const maxTimerMs = 2 ** 31 - 1;

/** Closes the unpaid trade at its deadline (lookups also check lazily, for far-away deadlines). */
export function armExpiry(ctx: SimulatorContext, trade: Trade): void {
  if (trade.expiresAtMs === undefined || ctx.expiryTimers.has(trade)) return;
  const delay = trade.expiresAtMs - Date.now();
  if (delay > maxTimerMs) return;
  const timer = setTimeout(
    () => {
      ctx.expiryTimers.delete(trade);
      expireIfDue(ctx, trade);
      // Timers run on a monotonic clock and can fire a millisecond before Date.now() reaches the
      // deadline: a trade still waiting then is armed again rather than left open for good.
      if (trade.status === "WAIT_BUYER_PAY") armExpiry(ctx, trade);
    },
    Math.max(0, delay),
  );
  ctx.expiryTimers.set(trade, timer);
}

export function clearExpiryTimers(ctx: SimulatorContext): void {
  for (const timer of ctx.expiryTimers.values()) clearTimeout(timer);
  ctx.expiryTimers.clear();
}
