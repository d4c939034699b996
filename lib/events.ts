// Events for business systems, delivered at least once, each to the system that owns the payment.
//   publish: the table's stream carries every write that takes a payment out of OPEN (PAID,
//            CANCELED, EXPIRED) to publishPaymentEvent, which puts the event on the events queue
//            (the stream retries until it is out);
//   deliver: the events worker POSTs it to that business system's webhook, signed with that
//            system's secret (SQS retries with backoff, then the dead-letter queue).
// The event is built from the payment alone, so every copy carries the same id and content.
// Refunds (lib/refunds/) publish the same way: a refund item's write PENDING -> SUCCEEDED / FAILED
// is refund.succeeded / refund.failed, built from the refund item alone.
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { AttributeValue as StreamAttributeValue, DynamoDBRecord } from "aws-lambda";
import { type BusinessSystem, businessSystem } from "./business/registry.js";
import { config, secret } from "./config.js";
import { type BusinessEvent, storeEvent } from "./eventLog.js";
import { faultPoint } from "./faults.js";
import { count, gauge, logger, MetricUnit } from "./observability.js";
import {
  type BusinessPaymentView,
  businessPaymentView,
  type EventType,
  eventId,
  eventTypeOf,
  type PaymentRecord,
} from "./payments/model.js";
import { sendMessage } from "./queue.js";
import { type RefundEventType, type RefundRecord, refundEventId, refundSkPrefix, refundView } from "./refunds/model.js";
import { signatureHeader, signWebhook } from "./webhookSignature.js";

export type { BusinessEvent } from "./eventLog.js";

/** The event a settled refund announces, if it is settled. */
export function refundEvent(refund: RefundRecord): BusinessEvent | undefined {
  if (refund.status === "PENDING") return undefined;
  const type: RefundEventType = refund.status === "SUCCEEDED" ? "refund.succeeded" : "refund.failed";
  return {
    id: refundEventId(refund.refundId, type),
    type,
    businessId: refund.businessId,
    createdAt: new Date(refund.succeededAt ?? refund.failedAt ?? refund.createdAt).toISOString(),
    data: { refund: refundView(refund) },
  };
}

/** A payment.* event. */
export type PaymentEvent = BusinessEvent & { type: EventType; data: { payment: BusinessPaymentView } };

/** The event a settled payment announces, if it is settled. */
export function paymentEvent(payment: PaymentRecord): PaymentEvent | undefined {
  if (payment.status === "OPEN") return undefined;
  const type = eventTypeOf[payment.status];
  const at = payment.paidAt ?? payment.canceledAt ?? payment.expiredAt ?? payment.createdAt;
  return {
    id: eventId(payment.paymentId, type),
    type,
    businessId: payment.businessId,
    createdAt: new Date(at).toISOString(),
    data: { payment: businessPaymentView(payment) },
  };
}

const image = (value: Record<string, StreamAttributeValue> | undefined) =>
  value ? (unmarshall(value as Record<string, AttributeValue>) as PaymentRecord) : undefined;

/** The event of a stream record, if the record is a payment's write out of OPEN or a refund's out of PENDING. */
export function paymentEventOf(record: DynamoDBRecord): BusinessEvent | undefined {
  const before = image(record.dynamodb?.OldImage);
  const after = image(record.dynamodb?.NewImage);
  if (record.eventName !== "MODIFY" || !after || !before) return undefined;
  if (after.sk.startsWith(refundSkPrefix) && before.sk === after.sk && (before.status as string) === "PENDING") {
    return refundEvent(after as unknown as RefundRecord);
  }
  if (after.sk !== "PAYMENT" || before.status !== "OPEN") return undefined;
  return paymentEvent(after);
}

/**
 * The refund a stream record asks to send to Alipay now: a new PENDING refund item (requested or
 * automatic). Its check message goes on the check queue at once, as the sweep would send it a
 * minute later (the sweep stays the safety net); two checks of one refund send it once
 * (lib/refunds/check.ts marks it sent with a conditional write before the call).
 */
export function refundToSendOf(record: DynamoDBRecord): { paymentId: string; refundId: string } | undefined {
  const after = image(record.dynamodb?.NewImage) as unknown as RefundRecord | undefined;
  if (record.eventName !== "INSERT" || !after?.sk?.startsWith(refundSkPrefix) || after.status !== "PENDING") return undefined;
  return { paymentId: after.paymentId, refundId: after.refundId };
}

/** The payment (and refund) an event is about, for logs. */
const eventIds = (event: BusinessEvent) => ({
  paymentId: event.data.payment?.paymentId ?? event.data.refund?.paymentId,
  ...(event.data.refund ? { refundId: event.data.refund.refundId } : {}),
});

/**
 * Puts the event of a stream record, if the record is a payment's write out of OPEN (or a
 * refund's out of PENDING), in the event log (lib/eventLog.ts) and on the events queue; a new
 * PENDING refund's check message on the check queue. Throws while it is not out: the stream
 * retries from this record (functions/publishEvents.ts processes a batch in order and stops at the
 * first failure); the log's put is conditional, so a retry stores nothing twice.
 */
export async function publishPaymentEvent(record: DynamoDBRecord): Promise<void> {
  try {
    const refund = refundToSendOf(record);
    if (refund) {
      // Off: the refund waits for the sweep (within a minute), e.g. to hold refunds back during an incident.
      if (!(await config()).refundsAtOnce) return;
      await sendMessage((await config()).checkQueueUrl, refund);
      count("RefundsDispatched");
      logger.info("refund dispatched", refund);
      return;
    }
    const event = paymentEventOf(record);
    if (!event) return;
    const queueUrl = (await config()).eventsQueueUrl;
    await storeEvent(event);
    faultPoint("publish.beforeSend", event.id);
    await sendMessage(queueUrl, event);
    count("EventsPublished");
    logger.info("event published", { eventId: event.id, ...eventIds(event), businessId: event.businessId });
  } catch (error) {
    logger.warn("event not published, the stream will retry", { sequenceNumber: record.dynamodb?.SequenceNumber, error: String(error) });
    throw error;
  }
}

export class DeliveryFailed extends Error {
  override name = "DeliveryFailed";
}

const deliveryTimeoutMs = 5000;

/** The secrets that sign a system's events now: the current one, and the previous one during a rotation's overlap. */
export async function signingSecrets(system: BusinessSystem, now: number): Promise<string[]> {
  const current = await secret(system.webhookSecretRef);
  const overlapping = system.previousWebhookSecretRef && (system.previousSecretUntil ?? 0) > now;
  return overlapping ? [current, await secret(system.previousWebhookSecretRef!)] : [current];
}

/**
 * POSTs the event to its business system's webhook; throws DeliveryFailed to be retried with
 * backoff. `firstSentAt` (the message's first send): a failure reports how long this system's
 * event has been failing, so one that gets few events pages as soon as one that gets many.
 */
export async function deliverEvent(
  event: BusinessEvent,
  { now = () => Date.now(), firstSentAt }: { now?: () => number; firstSentAt?: number } = {},
): Promise<void> {
  const failed = (reason: string) => {
    count("EventDeliveryFailures", { name: "businessId", value: event.businessId });
    if (firstSentAt !== undefined) {
      gauge("EventDeliveryFailingSeconds", Math.max(0, (now() - firstSentAt) / 1000), MetricUnit.Seconds, {
        name: "businessId",
        value: event.businessId,
      });
    }
    return new DeliveryFailed(reason);
  };
  const log = { eventId: event.id, ...eventIds(event), businessId: event.businessId };
  const system = await businessSystem(event.businessId);
  if (!system) throw failed(`business system ${event.businessId} is not registered`);
  const body = JSON.stringify(event);
  const signature = signWebhook(await signingSecrets(system, now()), body, Math.floor(now() / 1000));
  let response: Response;
  try {
    response = await fetch(system.webhookUrl, {
      method: "POST",
      headers: { "content-type": "application/json", [signatureHeader]: signature, "idempotency-key": event.id },
      body,
      // A redirect would turn the signed POST into a GET of another URL: a failure, not a delivery.
      redirect: "manual",
      signal: AbortSignal.timeout(deliveryTimeoutMs),
    });
  } catch (error) {
    throw failed(`webhook of ${event.businessId} unreachable: ${String(error)}`);
  }
  if (!response.ok) throw failed(`webhook of ${event.businessId} answered ${response.status}`);
  faultPoint("delivery.afterPost", event.id);
  count("EventsDelivered");
  logger.info("event delivered", log);
}
