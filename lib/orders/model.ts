// The payment order (one Alipay out_trade_no) and its state machine:
//   PENDING --payment seen (notify or query)--> PAID
//   PENDING --expired and closed at Alipay, or TRADE_CLOSED--> CLOSED
// PAID and CLOSED are final. A payment that reaches a CLOSED order is not dropped: it is
// recorded as needing a refund. The PENDING -> PAID write, read from the table's stream, is what
// publishes the paid event (lib/events.ts).
import { fenToYuan } from "../money.js";

export type OrderStatus = "PENDING" | "PAID" | "CLOSED";

export interface OrderHistoryEntry {
  at: number;
  event: string;
  detail?: string;
}

export interface OrderRecord {
  pk: string;
  sk: "ORDER";
  orderId: string;
  userId: string;
  merchantOrderId: string;
  amountFen: number;
  subject: string;
  body?: string;
  status: OrderStatus;
  createdAt: number;
  expiresAt: number;
  orderString: string;
  requestHash: string;
  tradeNo?: string;
  buyerId?: string;
  paidAt?: number;
  paidVia?: PaymentSource;
  closedAt?: number;
  closeReason?: string;
  eventId?: string;
  /** Present only while the order needs attention (sparse `sweep` index). */
  sweepShard?: string;
  sweepAt?: number;
  history: OrderHistoryEntry[];
}

export type PaymentSource = "notify" | "query";

export interface Payment {
  tradeNo: string;
  totalFen: number;
  buyerId?: string;
  paidAt: number;
  via: PaymentSource;
}

export const orderKey = (orderId: string) => ({ pk: `ORDER#${orderId}`, sk: "ORDER" as const });
export const merchantOrderKey = (userId: string, merchantOrderId: string) => ({
  pk: `MERCHANT#${userId}#${merchantOrderId}`,
  sk: "MERCHANT" as const,
});
export const refundKey = (orderId: string, tradeNo: string) => ({ pk: `ORDER#${orderId}`, sk: `REFUND#${tradeNo}` });

/** The one partition of the sweep index; a handful of shards would spread a very large backlog. */
export const sweepShard = "DUE";

export const paidEventId = (orderId: string) => `evt_${orderId}_paid`;

/** What the mobile app sees. The order string is only handed out while it can still be paid. */
export function orderView(order: OrderRecord) {
  return {
    orderId: order.orderId,
    merchantOrderId: order.merchantOrderId,
    status: order.status,
    amount: order.amountFen,
    amountYuan: fenToYuan(order.amountFen),
    currency: "CNY",
    subject: order.subject,
    createdAt: new Date(order.createdAt).toISOString(),
    expiresAt: new Date(order.expiresAt).toISOString(),
    ...(order.status === "PENDING" ? { orderString: order.orderString } : {}),
    ...(order.paidAt !== undefined ? { paidAt: new Date(order.paidAt).toISOString() } : {}),
    ...(order.closedAt !== undefined ? { closedAt: new Date(order.closedAt).toISOString() } : {}),
  };
}

export type OrderView = ReturnType<typeof orderView>;
