// Batch plumbing shared by the workers, on @aws-lambda-powertools/batch: sending to SQS, the retry
// of a failed SQS message with exponential backoff (its visibility is extended, and after the
// queue's maxReceiveCount it goes to the dead-letter queue), and in-order stream processing.
import { BatchProcessor, EventType } from "@aws-lambda-powertools/batch";
import { ChangeMessageVisibilityCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { sqs } from "./aws.js";
import { count, logger } from "./observability.js";

/** The work queues whose consumers retry with backoff (infra/queues.yml), as named in metrics. */
export type WorkQueueName = "check" | "events";

export async function sendMessage(queueUrl: string, body: unknown, delaySeconds = 0): Promise<void> {
  await sqs().send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: sqsSafeJson(body), DelaySeconds: delaySeconds }));
}

/**
 * What JSON.stringify leaves that a message body must not carry: SQS accepts only #x9 #xA #xD
 * #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF, and the local SQS (fauxqs) nothing above U+FFFF.
 * JSON.stringify already escapes the control characters and lone surrogates; what remains is
 * U+FFFE, U+FFFF and the surrogate pairs of astral characters (emoji). Matched per UTF-16 unit (no
 * `u` flag), so a pair becomes two escapes.
 */
const unsafeForSqs = /[\uD800-\uDFFF\uFFFE\uFFFF]/g;

/**
 * JSON for an SQS message body whatever the value holds: every character SQS (real or local) could
 * refuse is written as a JSON \uXXXX escape, so JSON.parse on the receiving side gives back the
 * same value. Outside JSON strings the text is ASCII, so only string contents are ever escaped.
 */
export function sqsSafeJson(body: unknown): string {
  return JSON.stringify(body).replace(unsafeForSqs, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** 12 hours is the most SQS allows for a message's visibility. */
const maxVisibilitySeconds = 43_200;

/**
 * The longest wait the workers put between two attempts at a message: capped at an hour, a peer
 * that comes back is retried within the hour, and how long a queue keeps trying follows from its
 * maxReceiveCount (see `retryWindowSeconds`).
 */
export const maxRetryDelaySeconds = 3600;

/** How long a message that failed its `receiveCount`-th attempt waits: base doubling, capped. */
export function backoffSeconds(receiveCount: number, baseSeconds: number, capSeconds = maxVisibilitySeconds): number {
  return Math.min(capSeconds, Math.round(baseSeconds * 2 ** Math.max(0, receiveCount - 1)));
}

/**
 * The retry window of a queue whose messages fail every attempt: `lastAttemptSeconds` after its
 * first attempt a message is tried for the last (maxReceiveCount-th) time, and `deadLetterSeconds`
 * after it the backoff of that attempt runs out and SQS moves it to the dead-letter queue (on the
 * next receive). Processing time comes on top: up to the consumer's timeout per attempt.
 */
export function retryWindowSeconds(
  maxReceiveCount: number,
  baseSeconds: number,
  capSeconds = maxRetryDelaySeconds,
): { lastAttemptSeconds: number; deadLetterSeconds: number } {
  let lastAttemptSeconds = 0;
  for (let receive = 1; receive < maxReceiveCount; receive++) lastAttemptSeconds += backoffSeconds(receive, baseSeconds, capSeconds);
  return { lastAttemptSeconds, deadLetterSeconds: lastAttemptSeconds + backoffSeconds(maxReceiveCount, baseSeconds, capSeconds) };
}

/**
 * Options of every `processPartialResponse` here: one record at a time (the logger's keys are per
 * record), and a batch whose every record failed is reported rather than thrown (the event source
 * retries exactly the reported records either way, and the invocation is not counted as an error).
 */
export const oneAtATime = { processInParallel: false, throwOnFullBatchFailure: false } as const;

/**
 * Options of the in-order stream processor (below): one record at a time, and a batch whose first
 * record failed (so all of it is reported) throws instead. On a stream a partial response only
 * checkpoints before the failed record; a function error is what makes Lambda bisect the batch
 * (bisectBatchOnFunctionError) until the failing record is alone and can be parked by itself.
 */
export const inOrderStream = { processInParallel: false, throwOnFullBatchFailure: true } as const;

/**
 * Wraps an SQS record handler: every log line about the message carries its id (and the keys the
 * handler appends: paymentId, eventId); on a failure the message's visibility is extended to
 * `backoffSeconds(receive count)` (capped at `maxRetryDelaySeconds`) before the error goes back to the batch processor, which reports
 * the message in `batchItemFailures`.
 */
export function withRetryBackoff(
  {
    queueUrl,
    queueName,
    maxReceiveCount,
    retryBaseSeconds,
    sharedLogKeys = true,
  }: { queueUrl: string; queueName: WorkQueueName; maxReceiveCount: number; retryBaseSeconds: number; sharedLogKeys?: boolean },
  handle: (record: SQSRecord) => Promise<void>,
): (record: SQSRecord) => Promise<void> {
  return async (record) => {
    if (sharedLogKeys) logger.appendKeys({ messageId: record.messageId });
    try {
      await handle(record);
    } catch (error) {
      const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? 1);
      const delay = backoffSeconds(receiveCount, retryBaseSeconds, maxRetryDelaySeconds);
      if (receiveCount >= maxReceiveCount) {
        // Its last attempt: SQS moves it to the dead-letter queue at the next receive. Counted now,
        // in our own metric (a minute late), because SQS's metrics of a dead-letter queue that slept
        // (no messages for 6 hours) can take up to 15 minutes to show its first message.
        count("MessagesDeadLettered", { name: "queue", value: queueName });
        logger.error("message failed its last attempt, dead-lettered", { messageId: record.messageId, queue: queueName, receiveCount });
      } else {
        logger.warn("message failed, will retry", {
          messageId: record.messageId,
          receiveCount,
          retryInSeconds: delay,
          error: String(error),
        });
      }
      try {
        await sqs().send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: record.receiptHandle,
            VisibilityTimeout: delay,
          }),
        );
      } catch (visibilityError) {
        // The queue's own visibility timeout still brings the message back.
        logger.warn("could not set retry backoff", { messageId: record.messageId, error: String(visibilityError) });
      }
      throw error;
    } finally {
      if (sharedLogKeys) logger.removeKeys(["messageId", "paymentId", "eventId", "businessId"]);
    }
  };
}

export class NotProcessedAfterFailure extends Error {
  override name = "NotProcessedAfterFailure";
  constructor() {
    super("not processed: an earlier record of the batch failed");
  }
}

/**
 * Powertools' DynamoDB stream processor, in stream order and stopping at the first failure: that
 * record and every one after it are reported without being processed, so Lambda retries from the
 * failed record's sequence number (the lowest reported) and nothing gets ahead of it. The same
 * short-circuit as Powertools' SQS FIFO processor, for a stream.
 */
export class InOrderStreamProcessor extends BatchProcessor {
  constructor() {
    super(EventType.DynamoDBStreams);
  }

  override async process(): ReturnType<BatchProcessor["process"]> {
    this.prepare();
    const processed: Awaited<ReturnType<BatchProcessor["process"]>> = [];
    for (const record of this.records) {
      processed.push(
        this.failureMessages.length > 0
          ? this.failureHandler(this.toBatchType(record, this.eventType), new NotProcessedAfterFailure())
          : await this.processRecord(record),
      );
    }
    this.clean();
    return processed;
  }
}
