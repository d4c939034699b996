// Events for business systems, delivered at least once.
//   publish: the table's stream carries every PENDING -> PAID write to publishPaidEvent, which
//            puts the event on the events queue (the stream retries until it is out);
//   deliver: the events worker POSTs it, signed, to the business webhook (SQS retries with
//            backoff, then the dead-letter queue).
// The event is built from the order alone, so every copy carries the same id and content.
import type { AttributeValue as StreamAttributeValue, DynamoDBRecord } from "aws-lambda";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { config, webhookSecret } from "./config.js";
import { faultPoint } from "./faults.js";
import { fenToYuan } from "./money.js";
import { count, logger } from "./observability.js";
import type { OrderRecord } from "./orders/model.js";
import { sendMessage } from "./queue.js";
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

const image = (value: Record<string, StreamAttributeValue> | undefined) =>
  value ? (unmarshall(value as Record<string, AttributeValue>) as OrderRecord) : undefined;

/** The paid event of a stream record, if the record is an order's PENDING -> PAID write. */
export function paidEventOf(record: DynamoDBRecord): BusinessEvent | undefined {
  const before = image(record.dynamodb?.OldImage);
  const after = image(record.dynamodb?.NewImage);
  if (record.eventName !== "MODIFY" || after?.sk !== "ORDER" || before?.status !== "PENDING" || after.status !== "PAID") return undefined;
  return paidEvent(after);
}

/**
 * Puts the paid event of a stream record, if the record is an order's PENDING -> PAID write, on the
 * events queue. Throws while it is not out: the stream retries from this record
 * (functions/publishEvents.ts processes a batch in order and stops at the first failure).
 */
export async function publishPaidEvent(record: DynamoDBRecord): Promise<void> {
  try {
    const event = paidEventOf(record);
    if (!event) return;
    const queueUrl = (await config()).eventsQueueUrl;
    faultPoint("publish.beforeSend");
    await sendMessage(queueUrl, event);
    count("EventsPublished");
    logger.info("event published", { eventId: event.id, orderId: event.data.orderId });
  } catch (error) {
    logger.warn("event not published, the stream will retry", { sequenceNumber: record.dynamodb?.SequenceNumber, error: String(error) });
    throw error;
  }
}

export class DeliveryFailed extends Error {
  override name = "DeliveryFailed";
}

const deliveryTimeoutMs = 5000;

/** POSTs the event to the business webhook; throws DeliveryFailed to be retried with backoff. */
export async function deliverEvent(event: BusinessEvent, now = () => Date.now()): Promise<void> {
  const settings = await config();
  const body = JSON.stringify(event);
  let response: Response;
  try {
    response = await fetch(settings.webhook.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [signatureHeader]: signWebhook(await webhookSecret(), body, Math.floor(now() / 1000)),
        "idempotency-key": event.id,
      },
      body,
      // A redirect would turn the signed POST into a GET of another URL: a failure, not a delivery.
      redirect: "manual",
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
  count("EventsDelivered");
  logger.info("event delivered", { eventId: event.id, orderId: event.data.orderId });
}
