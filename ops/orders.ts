// `order show` and `order recheck`: an order as an operator needs to see it, and the check
// worker's logic run on demand.
import { config } from "../lib/config.js";
import { fenToYuan } from "../lib/money.js";
import { checkOrder, type CheckOutcome } from "../lib/orders/check.js";
import type { OrderRecord, OrderStatus } from "../lib/orders/model.js";
import { getOrder, listRefundsNeeded } from "../lib/orders/repository.js";
import { checkOrderId, OpsError } from "./errors.js";
import { maskIdentifier, maskText } from "./mask.js";

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export interface RefundNeededReport {
  tradeNo: string;
  amount: number;
  amountYuan: string;
  reason: string;
  status: string;
  detectedAt?: string;
  detectedVia?: string;
  /** Set by the operator who refunded it by hand (RUNBOOK.md#refunds-needed). */
  refundedAt?: string;
  refundedBy?: string;
  refundNote?: string;
}

export interface OrderReport {
  orderId: string;
  merchantOrderId: string;
  /** The app's account id of the buyer (the JWT subject), not an Alipay identifier. */
  userId: string;
  subject: string;
  status: OrderStatus;
  amount: number;
  amountYuan: string;
  currency: "CNY";
  createdAt: string;
  expiresAt: string;
  /** Past expiresAt (the order string can no longer be paid at Alipay). */
  expired: boolean;
  tradeNo?: string;
  paidAt?: string;
  paidVia?: string;
  /** Masked: first and last four characters only. */
  buyerId?: string;
  closedAt?: string;
  closeReason?: string;
  event?: { id: string };
  sweep: { inIndex: false } | { inIndex: true; nextCheckAt: string; dueNow: boolean };
  /** Never the order string itself: only whether there is one and how long it is. */
  orderString: { present: boolean; length: number };
  history: Array<{ at: string; event: string; detail?: string }>;
  refundsNeeded: RefundNeededReport[];
}

export async function showOrder(orderId: string, { now = Date.now() }: { now?: number } = {}): Promise<OrderReport> {
  const order = await requireOrder(orderId);
  const refunds = await listRefundsNeeded(order.orderId);
  return orderReport(order, refunds, now);
}

export function orderReport(order: OrderRecord, refunds: Array<Record<string, unknown>>, now = Date.now()): OrderReport {
  const known = [order.buyerId];
  return {
    orderId: order.orderId,
    merchantOrderId: order.merchantOrderId,
    userId: order.userId,
    subject: order.subject,
    status: order.status,
    amount: order.amountFen,
    amountYuan: fenToYuan(order.amountFen),
    currency: "CNY",
    createdAt: iso(order.createdAt)!,
    expiresAt: iso(order.expiresAt)!,
    expired: now >= order.expiresAt,
    ...(order.tradeNo ? { tradeNo: order.tradeNo } : {}),
    ...(order.paidAt !== undefined ? { paidAt: iso(order.paidAt) } : {}),
    ...(order.paidVia ? { paidVia: order.paidVia } : {}),
    ...(order.buyerId ? { buyerId: maskIdentifier(order.buyerId) } : {}),
    ...(order.closedAt !== undefined ? { closedAt: iso(order.closedAt) } : {}),
    ...(order.closeReason ? { closeReason: order.closeReason } : {}),
    ...(order.eventId
      ? {
        // Published from the table stream at the PAID write; delivery shows in the logs and DLQ.
        event: { id: order.eventId },
      }
      : {}),
    sweep: order.sweepShard && order.sweepAt !== undefined
      ? { inIndex: true, nextCheckAt: iso(order.sweepAt)!, dueNow: order.sweepAt <= now }
      : { inIndex: false },
    orderString: { present: Boolean(order.orderString), length: order.orderString?.length ?? 0 },
    history: (order.history ?? []).map((entry) => ({
      at: iso(entry.at)!,
      event: entry.event,
      ...(entry.detail !== undefined ? { detail: maskText(entry.detail, known) } : {}),
    })),
    refundsNeeded: refunds.map((item) => {
      const amount = Number(item.amountFen);
      return {
        tradeNo: String(item.tradeNo),
        amount,
        amountYuan: Number.isSafeInteger(amount) && amount >= 0 ? fenToYuan(amount) : "?",
        reason: String(item.reason),
        status: String(item.status),
        ...(typeof item.detectedAt === "number" ? { detectedAt: iso(item.detectedAt) } : {}),
        ...(item.detectedVia !== undefined ? { detectedVia: String(item.detectedVia) } : {}),
        ...(typeof item.refundedAt === "number" ? { refundedAt: iso(item.refundedAt) } : {}),
        ...(item.refundedBy !== undefined ? { refundedBy: String(item.refundedBy) } : {}),
        ...(item.refundNote !== undefined ? { refundNote: maskText(String(item.refundNote), known) } : {}),
      };
    }),
  };
}

export interface RecheckReport {
  orderId: string;
  outcome: Exclude<CheckOutcome, "not_found">;
  /** What the outcome means, in one sentence. */
  meaning: string;
  before: { status: OrderStatus };
  after: OrderReport;
}

const meanings: Record<Exclude<CheckOutcome, "not_found">, string> = {
  paid: "Alipay has the payment: the order is now PAID and its event goes out through the table stream.",
  duplicate: "The order was already PAID with this trade: nothing changed.",
  refund_needed: "Alipay has a payment the order cannot take (closed, or a second trade): recorded as refund needed (RUNBOOK.md#refunds-needed).",
  closed: "The order is CLOSED (expired unpaid and closed at Alipay, or Alipay reports the trade closed).",
  waiting: "Alipay has no payment yet and the order has not expired: it stays PENDING and is checked again.",
  settled: "The order is already final (PAID or CLOSED): nothing to do.",
};

/** Runs the check worker's logic (lib/orders/check.ts) on one order now, against Alipay. */
export async function recheckOrder(orderId: string, { now = () => Date.now() }: { now?: () => number } = {}): Promise<RecheckReport> {
  const before = await requireOrder(orderId);
  const outcome = await checkOrder(before.orderId, now);
  if (outcome === "not_found") throw new OpsError(`no order ${orderId}`);
  const after = await showOrder(before.orderId, { now: now() });
  return { orderId: before.orderId, outcome, meaning: meanings[outcome], before: { status: before.status }, after };
}

export async function requireOrder(orderId: string): Promise<OrderRecord> {
  const id = checkOrderId(orderId);
  const order = await getOrder(id);
  if (!order) {
    const { tableName } = await config();
    throw new OpsError(`no order ${id} in table ${tableName}`, 1, "Check the id (the order id, not the merchant order id) and the stage you point at.");
  }
  return order;
}
