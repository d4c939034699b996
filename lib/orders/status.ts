// Reading an order for its owner. While it is pending, Alipay is asked inline (bounded in time,
// at most once every few seconds per order per container) so a polling app sees a payment even
// when the notification is late.
import { alipay } from "../alipay/client.js";
import { HttpError } from "../api/errors.js";
import { logger } from "../observability.js";
import { orderView, type OrderRecord, type OrderView } from "./model.js";
import { applyQueriedPayment } from "./payments.js";
import { getOrder } from "./repository.js";

const inlineQueryTimeoutMs = 1500;
const inlineQueryMinIntervalMs = 3000;
const lastInlineQuery = new Map<string, number>();
const orderIdPattern = /^[A-Za-z0-9_]{1,64}$/;

export async function readOrder(userId: string, orderId: string, now = Date.now()): Promise<OrderView> {
  const order = orderIdPattern.test(orderId) ? await getOrder(orderId) : undefined;
  // Someone else's order does not exist for you.
  if (!order || order.userId !== userId) throw new HttpError("order_not_found", `No order ${orderId}.`);
  if (order.status !== "PENDING" || !shouldQueryInline(order.orderId, now)) return orderView(order);
  const refreshed = await queryAndApply(order, now);
  return orderView(refreshed ?? order);
}

function shouldQueryInline(orderId: string, now: number): boolean {
  const last = lastInlineQuery.get(orderId);
  if (last !== undefined && now - last < inlineQueryMinIntervalMs) return false;
  lastInlineQuery.set(orderId, now);
  if (lastInlineQuery.size > 10_000) lastInlineQuery.clear();
  return true;
}

async function queryAndApply(order: OrderRecord, now: number): Promise<OrderRecord | undefined> {
  try {
    // The query's own HTTP timeout bounds it: nothing is left running after the response.
    const trade = await (await alipay(inlineQueryTimeoutMs)).query(order.orderId);
    if (!(await applyQueriedPayment(order, trade, now))) return undefined;
    return await getOrder(order.orderId);
  } catch (error) {
    // The stored state is still a correct answer; the sweep keeps asking.
    logger.warn("inline query failed", { orderId: order.orderId, error: String(error) });
    return undefined;
  }
}
