// Events for business systems, delivered at least once: built from the order (so a redelivery
// carries the same id and content), signed, POSTed to the configured webhook.
import { config, webhookSecret } from "./config.js";
import { faultPoint } from "./faults.js";
import { count, logger } from "./observability.js";
import { fenToYuan } from "./money.js";
import type { OrderRecord } from "./orders/model.js";
import { getOrder, markEventDelivered } from "./orders/repository.js";
import type { EventMessage } from "./orders/payments.js";
import { signWebhook, signatureHeader } from "./webhookSignature.js";

export interface BusinessEvent {
  id: string;
  type: "order.paid";
  createdAt: string;
  data: {
    orderId: string;
    merchantOrderId: string;
    userId: string;
    amount: number;
    amountYuan: string;
    currency: "CNY";
    tradeNo: string;
    paidAt: string;
    paidVia: string;
  };
}

export function paidEvent(order: OrderRecord): BusinessEvent {
  if (order.status !== "PAID" || !order.eventId || !order.tradeNo || order.paidAt === undefined) {
    throw new Error(`order ${order.orderId} has no paid event`);
  }
  return {
    id: order.eventId,
    type: "order.paid",
    createdAt: new Date(order.paidAt).toISOString(),
    data: {
      orderId: order.orderId,
      merchantOrderId: order.merchantOrderId,
      userId: order.userId,
      amount: order.amountFen,
      amountYuan: fenToYuan(order.amountFen),
      currency: "CNY",
      tradeNo: order.tradeNo,
      paidAt: new Date(order.paidAt).toISOString(),
      paidVia: order.paidVia ?? "notify",
    },
  };
}

export class DeliveryFailed extends Error {
  override name = "DeliveryFailed";
}

const deliveryTimeoutMs = 5000;

/** Delivers the event named by the message; throws DeliveryFailed to be retried with backoff. */
export async function deliverEvent(
  message: EventMessage,
  { now = () => Date.now(), replay = false }: { now?: () => number; replay?: boolean } = {},
): Promise<"delivered" | "already_delivered" | "not_found"> {
  const order = await getOrder(message.orderId);
  if (!order || order.eventId !== message.eventId) {
    logger.error("event message names no paid order", { ...message });
    return "not_found";
  }
  // An operator's replay sends a delivered event again; the receiver dedupes by its id.
  if (order.eventDeliveredAt !== undefined && !replay) return "already_delivered";
  const settings = await config();
  const body = JSON.stringify(paidEvent(order));
  let response: Response;
  try {
    response = await fetch(settings.webhook.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [signatureHeader]: signWebhook(await webhookSecret(), body, Math.floor(now() / 1000)),
        "idempotency-key": message.eventId,
      },
      body,
      signal: AbortSignal.timeout(deliveryTimeoutMs),
    });
  } catch (error) {
    count("EventDeliveryFailures");
    throw new DeliveryFailed(`business webhook unreachable: ${String(error)}`);
  }
  if (!response.ok) {
    count("EventDeliveryFailures");
    throw new DeliveryFailed(`business webhook answered ${response.status}`);
  }
  faultPoint("delivery.afterPost");
  await markEventDelivered(order.orderId, message.eventId, now());
  count("EventsDelivered");
  logger.info("event delivered", { ...message });
  return "delivered";
}
