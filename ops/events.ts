// `event replay`: sends an order's paid event to the business webhook again (same id, same
// content, freshly signed); the business system dedupes by the event id.
import { DeliveryFailed, deliverEvent } from "../lib/events.js";
import { config } from "../lib/config.js";
import { getOrder } from "../lib/orders/repository.js";
import { OpsError } from "./errors.js";
import { requireOrder } from "./orders.js";

export interface ReplayReport {
  orderId: string;
  eventId: string;
  outcome: "delivered";
  webhookUrl: string;
  /** When the event had been delivered before this replay (absent: this was its first delivery). */
  previouslyDeliveredAt?: string;
  deliveredAt?: string;
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
  const message = { eventId: order.eventId, orderId: order.orderId };
  let outcome: Awaited<ReturnType<typeof deliverEvent>>;
  try {
    outcome = await deliverEvent(message, { replay: true });
  } catch (error) {
    if (error instanceof DeliveryFailed) {
      throw new OpsError(`event ${order.eventId} not delivered: ${error.message}`, 1, "Fix the business receiver (RUNBOOK.md#events-dlq), then replay again.");
    }
    throw error;
  }
  if (outcome !== "delivered") throw new OpsError(`event ${order.eventId} not delivered: ${outcome}`);
  const after = await getOrder(order.orderId);
  return {
    orderId: order.orderId,
    eventId: order.eventId,
    outcome,
    webhookUrl: (await config()).webhook.url,
    ...(order.eventDeliveredAt !== undefined ? { previouslyDeliveredAt: new Date(order.eventDeliveredAt).toISOString() } : {}),
    ...(after?.eventDeliveredAt !== undefined ? { deliveredAt: new Date(after.eventDeliveredAt).toISOString() } : {}),
  };
}
