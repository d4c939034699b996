// `event replay`: sends a settled payment's event to its business system's webhook again (same
// id, same content, freshly signed); the business system dedupes by the event id.
import { listBusinessSystems } from "../lib/business/registry.js";
import { DeliveryFailed, deliverEvent, paymentEvent, signingSecrets } from "../lib/events.js";
import type { EventType } from "../lib/payments/model.js";
import { OpsError } from "./errors.js";
import { requirePayment } from "./payments.js";

export interface ReplayReport {
  paymentId: string;
  eventId: string;
  type: EventType;
  businessId: string;
  outcome: "delivered";
  webhookUrl: string;
  /** 2 during a secret rotation's overlap (the current and the previous secret both sign). */
  signatures: number;
}

export async function replayEvent(paymentId: string, { now = () => Date.now() }: { now?: () => number } = {}): Promise<ReplayReport> {
  const payment = await requirePayment(paymentId);
  const event = paymentEvent(payment);
  if (!event) {
    throw new OpsError(
      `payment ${payment.paymentId} is OPEN: it has no event to replay`,
      1,
      "Run `payment recheck` first if the buyer says they paid.",
    );
  }
  // Read the registry afresh: a webhook URL or secret an operator just changed is used now,
  // not after this process's registry cache runs out.
  const system = (await listBusinessSystems({ fresh: true })).find((s) => s.businessId === event.businessId);
  if (!system)
    throw new OpsError(
      `payment ${payment.paymentId} belongs to ${event.businessId}, which is not registered`,
      1,
      "Register it again (`business add`) or find out why it was removed.",
    );
  const signatures = (await signingSecrets(system, now())).length;
  try {
    await deliverEvent(event, { now });
  } catch (error) {
    if (error instanceof DeliveryFailed) {
      throw new OpsError(
        `event ${event.id} not delivered: ${error.message}`,
        1,
        "Fix the business receiver (RUNBOOK.md#events-dlq), then replay again.",
      );
    }
    throw error;
  }
  return {
    paymentId: payment.paymentId,
    eventId: event.id,
    type: event.type,
    businessId: event.businessId,
    outcome: "delivered",
    webhookUrl: system.webhookUrl,
    signatures,
  };
}
