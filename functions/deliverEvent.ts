import type { SQSEvent } from "aws-lambda";
import { config } from "../lib/config.js";
import { deliverEvent } from "../lib/events.js";
import { logger, observed } from "../lib/observability.js";
import type { EventMessage } from "../lib/orders/payments.js";
import { processBatch } from "../lib/queue.js";

export const handler = observed("deliverEvent", async (event: SQSEvent) => {
  const settings = await config();
  return processBatch(event, { queueUrl: settings.eventsQueueUrl, retryBaseSeconds: settings.retryBaseSeconds }, async (record) => {
    const message = JSON.parse(record.body) as EventMessage;
    logger.appendKeys({ orderId: message.orderId, eventId: message.eventId });
    await deliverEvent(message);
  });
});
