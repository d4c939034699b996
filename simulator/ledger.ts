// Alipay's side of the books: trades (which only exist once the buyer reaches the password step),
// their refunds, and what merchants and buyers did to orders that never became trades.
import { formatFen, formatGmt8 } from "./values.js";
import type { OrderEvent, RefundView, TradeStatus, TradeView } from "./types.js";

export interface Refund {
  outRequestNo: string;
  explicitRequestNo: boolean;
  refundFen: number;
  reason?: string;
  atMs: number;
  gmtRefund: string;
}

export interface Trade {
  appId: string;
  sellerId: string;
  tradeNo: string;
  outTradeNo: string;
  status: TradeStatus;
  totalFen: number;
  subject: string;
  body?: string;
  passbackParams?: string;
  notifyUrl?: string;
  buyerId: string;
  buyerLogonId: string;
  createdAtMs: number;
  paidAtMs?: number;
  finishedAtMs?: number;
  closedAtMs?: number;
  closedReason?: "merchant-close" | "timeout" | "full-refund";
  expiresAtMs?: number;
  /** Settled refunds (`atMs` is when the money went back, the bill's 完成时间). */
  refunds: Refund[];
  refundedFen: number;
  /** Accepted refunds whose money has not moved yet (a `refundSettleMs` scenario). */
  processingRefunds?: Refund[];
}

const keyOf = (appId: string, outTradeNo: string) => `${appId}\u0000${outTradeNo}`;

export class Ledger {
  private readonly trades = new Map<string, Trade>();
  private readonly byTradeNo = new Map<string, Trade>();
  readonly events: OrderEvent[] = [];

  add(trade: Trade): void {
    this.trades.set(keyOf(trade.appId, trade.outTradeNo), trade);
    this.byTradeNo.set(trade.tradeNo, trade);
  }

  get(appId: string, outTradeNo: string): Trade | undefined {
    return this.trades.get(keyOf(appId, outTradeNo));
  }

  /** Alipay's lookup: `trade_no` wins when both are given; a trade only answers to its own app. */
  find(appId: string, ids: { tradeNo?: string; outTradeNo?: string }): Trade | undefined {
    if (ids.tradeNo) {
      const trade = this.byTradeNo.get(ids.tradeNo);
      return trade && trade.appId === appId ? trade : undefined;
    }
    return ids.outTradeNo ? this.get(appId, ids.outTradeNo) : undefined;
  }

  /** For the control API: by out_trade_no, optionally narrowed to one app. */
  lookup(outTradeNo: string, appId?: string): Trade | undefined {
    if (appId) return this.get(appId, outTradeNo);
    for (const trade of this.trades.values()) if (trade.outTradeNo === outTradeNo) return trade;
    return undefined;
  }

  all(): Trade[] {
    return [...this.trades.values()].sort((a, b) => a.createdAtMs - b.createdAtMs);
  }

  record(event: OrderEvent): void {
    this.events.push(event);
  }

  closeRequestedBeforeTrade(appId: string, outTradeNo: string): boolean {
    return this.events.some((e) => e.kind === "close-request" && e.appId === appId && e.outTradeNo === outTradeNo && !e.tradeExisted);
  }

  clear(): void {
    this.trades.clear();
    this.byTradeNo.clear();
    this.events.length = 0;
  }
}

function refundView(refund: Refund): RefundView {
  return {
    outRequestNo: refund.outRequestNo,
    explicitRequestNo: refund.explicitRequestNo,
    refundFen: refund.refundFen,
    refundAmount: formatFen(refund.refundFen),
    ...(refund.reason !== undefined ? { reason: refund.reason } : {}),
    gmtRefund: refund.gmtRefund,
    atMs: refund.atMs,
  };
}

export function tradeView(trade: Trade): TradeView {
  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;
  return {
    appId: trade.appId,
    sellerId: trade.sellerId,
    tradeNo: trade.tradeNo,
    outTradeNo: trade.outTradeNo,
    status: trade.status,
    totalFen: trade.totalFen,
    totalAmount: formatFen(trade.totalFen),
    refundedFen: trade.refundedFen,
    refundedAmount: formatFen(trade.refundedFen),
    subject: trade.subject,
    ...optional("body", trade.body),
    ...optional("passbackParams", trade.passbackParams),
    ...optional("notifyUrl", trade.notifyUrl),
    buyerId: trade.buyerId,
    buyerLogonId: trade.buyerLogonId,
    gmtCreate: formatGmt8(trade.createdAtMs),
    ...optional("gmtPayment", trade.paidAtMs === undefined ? undefined : formatGmt8(trade.paidAtMs)),
    ...optional("gmtFinish", trade.finishedAtMs === undefined ? undefined : formatGmt8(trade.finishedAtMs)),
    ...optional("gmtClose", trade.closedAtMs === undefined ? undefined : formatGmt8(trade.closedAtMs)),
    createdAtMs: trade.createdAtMs,
    ...optional("paidAtMs", trade.paidAtMs),
    ...optional("finishedAtMs", trade.finishedAtMs),
    ...optional("closedAtMs", trade.closedAtMs),
    ...optional("closedReason", trade.closedReason),
    ...optional("expiresAtMs", trade.expiresAtMs),
    refunds: trade.refunds.map(refundView),
  };
}
