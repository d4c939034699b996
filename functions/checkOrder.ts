import type { SQSEvent } from "aws-lambda";
import { config } from "../lib/config.js";
import { logger, observed } from "../lib/observability.js";
import { checkOrder, type CheckMessage } from "../lib/orders/check.js";
import { processBatch } from "../lib/queue.js";

export const handler = observed("checkOrder", async (event: SQSEvent) => {
  const settings = await config();
  return processBatch(event, { queueUrl: settings.checkQueueUrl, retryBaseSeconds: settings.retryBaseSeconds }, async (record) => {
    const { orderId } = JSON.parse(record.body) as CheckMessage;
    logger.appendKeys({ orderId });
    const outcome = await checkOrder(orderId);
    logger.info("order checked", { orderId, outcome });
  });
});
