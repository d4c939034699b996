// SQS plumbing shared by the workers: sending, and processing a batch where each message succeeds
// or fails on its own. A failed message is retried with exponential backoff (its visibility is
// extended), and after the queue's maxReceiveCount it goes to the dead-letter queue.
import { ChangeMessageVisibilityCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { sqs } from "./aws.js";
import { logger } from "./observability.js";

export async function sendMessage(queueUrl: string, body: unknown, delaySeconds = 0): Promise<void> {
  await sqs().send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(body), DelaySeconds: delaySeconds }));
}

/** 12 hours is the most SQS allows for a message's visibility. */
const maxVisibilitySeconds = 43_200;

export function backoffSeconds(receiveCount: number, baseSeconds: number): number {
  return Math.min(maxVisibilitySeconds, Math.round(baseSeconds * 2 ** Math.max(0, receiveCount - 1)));
}

export async function processBatch(
  event: SQSEvent,
  { queueUrl, retryBaseSeconds }: { queueUrl: string; retryBaseSeconds: number },
  handle: (record: SQSRecord) => Promise<void>,
): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse["batchItemFailures"] = [];
  for (const record of event.Records) {
    // Every log line about this message carries its id (and whatever the handler appends).
    logger.appendKeys({ messageId: record.messageId });
    try {
      await handle(record);
    } catch (error) {
      const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? 1);
      const delay = backoffSeconds(receiveCount, retryBaseSeconds);
      logger.warn("message failed, will retry", { messageId: record.messageId, receiveCount, retryInSeconds: delay, error: String(error) });
      failures.push({ itemIdentifier: record.messageId });
      try {
        await sqs().send(new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: delay,
        }));
      } catch (visibilityError) {
        // The queue's own visibility timeout still brings the message back.
        logger.warn("could not set retry backoff", { messageId: record.messageId, error: String(visibilityError) });
      }
    } finally {
      logger.removeKeys(["messageId", "orderId", "eventId"]);
    }
  }
  return { batchItemFailures: failures };
}
