// `event replay`: sends an order's paid event to the business webhook again (same id, same
// content, freshly signed); the business system dedupes by the event id.
import { DeliveryFailed, deliverEvent, paidEvent } from "../lib/events.js";
import { config } from "../lib/config.js";
import { OpsError } from "./errors.js";
import { requireOrder } from "./orders.js";

export interface ReplayReport {
  orderId: string;
  eventId: string;
  outcome: "delivered";
  webhookUrl: string;
}

export async function replayEvent(orderId: string): Promise<ReplayReport> {
  const order = await requireOrder(orderId);
  if (order.status !== "PAID" || !order.eventId) {
    throw new OpsError(
      `order ${order.orderId} is ${order.status}: it has no paid event to replay`,
      1,
      order.status === "PENDING" ? "Run `order recheck` first if the buyer says they paid." : undefined,
    );
  }
  try {
    await deliverEvent(paidEvent(order));
  } catch (error) {
    if (error instanceof DeliveryFailed) {
      throw new OpsError(`event ${order.eventId} not delivered: ${error.message}`, 1, "Fix the business receiver (RUNBOOK.md#events-dlq), then replay again.");
    }
    throw error;
  }
  return { orderId: order.orderId, eventId: order.eventId, outcome: "delivered", webhookUrl: (await config()).webhook.url };
}
