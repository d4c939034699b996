import type { SQSEvent } from "aws-lambda";
import { config } from "../lib/config.js";
import { deliverEvent, type BusinessEvent } from "../lib/events.js";
import { logger, observed } from "../lib/observability.js";
import { processBatch } from "../lib/queue.js";

export const handler = observed("deliverEvent", async (event: SQSEvent) => {
  const settings = await config();
  return processBatch(event, { queueUrl: settings.eventsQueueUrl, retryBaseSeconds: settings.retryBaseSeconds }, async (record) => {
    const businessEvent = JSON.parse(record.body) as BusinessEvent;
    logger.appendKeys({ orderId: businessEvent.data?.orderId, eventId: businessEvent.id });
    await deliverEvent(businessEvent);
  });
});
