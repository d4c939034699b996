// `dlq list` and `dlq redrive`: the dead-letter queues of the two work queues. The DLQ is found
// from the work queue's RedrivePolicy (so only the functions' environment is needed), or from
// CHECK_DLQ_URL / EVENTS_DLQ_URL when set.
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type MessageAttributeValue,
} from "@aws-sdk/client-sqs";
import { sqs } from "../lib/aws.js";
import { config } from "../lib/config.js";
import { OpsError, UsageError } from "./errors.js";

export const queueNames = ["check", "events"] as const;
export type QueueName = (typeof queueNames)[number];

export function checkQueueName(name: string | undefined): QueueName {
  if (!name) throw new UsageError("which dead-letter queue: check or events?");
  if (!(queueNames as readonly string[]).includes(name)) throw new UsageError(`unknown queue "${name}": use check or events`);
  return name as QueueName;
}

export interface QueuePair {
  queue: QueueName;
  workQueueUrl: string;
  dlqUrl: string;
}

/** How long a listed message stays hidden while the listing pages through (then made visible again). */
const listVisibilitySeconds = 30;
/** How long a message being moved stays hidden; a failed move makes it visible again at once. */
const moveVisibilitySeconds = 60;

export async function resolveQueues(requested: QueueName): Promise<QueuePair> {
  const queue = checkQueueName(requested);
  const settings = await config();
  const workQueueUrl = queue === "check" ? settings.checkQueueUrl : settings.eventsQueueUrl;
  const override = process.env[queue === "check" ? "CHECK_DLQ_URL" : "EVENTS_DLQ_URL"];
  if (override) return { queue, workQueueUrl, dlqUrl: override };
  const { Attributes } = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: workQueueUrl, AttributeNames: ["RedrivePolicy"] }));
  const policy = Attributes?.RedrivePolicy;
  if (!policy) throw new OpsError(`the ${queue} queue (${workQueueUrl}) has no RedrivePolicy: no dead-letter queue to work on`);
  const arn = (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn ?? "";
  // arn:aws:sqs:<region>:<account>:<name>
  const [, , , , account, name] = arn.split(":");
  if (!name) throw new OpsError(`the ${queue} queue's RedrivePolicy names no dead-letter queue: ${policy}`);
  const { QueueUrl } = await sqs().send(
    new GetQueueUrlCommand({ QueueName: name, ...(account ? { QueueOwnerAWSAccountId: account } : {}) }),
  );
  if (!QueueUrl) throw new OpsError(`dead-letter queue ${name} not found`);
  return { queue, workQueueUrl, dlqUrl: QueueUrl };
}

async function approximateCount(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await sqs().send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    visible: Number(Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

export async function receive(queueUrl: string, max: number, visibilityTimeout: number): Promise<Message[]> {
  const { Messages = [] } = await sqs().send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: Math.max(1, Math.min(10, max)),
      VisibilityTimeout: visibilityTimeout,
      // Long polling asks every SQS server, so an empty answer means the queue is (nearly) empty.
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ["All"],
      MessageAttributeNames: ["All"],
    }),
  );
  return Messages;
}

const isoFromMillis = (value: string | undefined) =>
  value !== undefined && Number.isFinite(Number(value)) ? new Date(Number(value)).toISOString() : undefined;

export interface DlqMessage {
  messageId: string;
  /** Receives so far, in the work queue and here (listing a message counts as one receive). */
  receiveCount: number;
  /** When the message was first sent to the work queue. */
  sentAt?: string;
  firstReceivedAt?: string;
  body: string;
}

export interface DlqListing extends QueuePair {
  /** SQS's approximate count of messages in the DLQ before listing (visible + in flight). */
  approximateCount: number;
  messages: DlqMessage[];
  /** The limit was reached: there may be more. */
  truncated: boolean;
}

function describe(message: Message): DlqMessage {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? "?",
    receiveCount: Number(attributes.ApproximateReceiveCount ?? 0),
    ...(isoFromMillis(attributes.SentTimestamp) ? { sentAt: isoFromMillis(attributes.SentTimestamp) } : {}),
    ...(isoFromMillis(attributes.ApproximateFirstReceiveTimestamp)
      ? { firstReceivedAt: isoFromMillis(attributes.ApproximateFirstReceiveTimestamp) }
      : {}),
    body: message.Body ?? "",
  };
}

/**
 * Lists messages without removing them: each page is received with a short visibility timeout
 * (so the next page brings other messages), and every listed message is made visible again at the end.
 */
export async function listDlq(queue: QueueName, { limit = 100 }: { limit?: number } = {}): Promise<DlqListing> {
  checkLimit(limit);
  const pair = await resolveQueues(queue);
  const before = await approximateCount(pair.dlqUrl);
  const seen = new Map<string, DlqMessage>();
  const handles: string[] = [];
  try {
    while (seen.size < limit) {
      const page = await receive(pair.dlqUrl, limit - seen.size, listVisibilitySeconds);
      if (page.length === 0) break;
      let fresh = 0;
      for (const message of page) {
        if (message.ReceiptHandle) handles.push(message.ReceiptHandle);
        if (!message.MessageId || seen.has(message.MessageId)) continue;
        seen.set(message.MessageId, describe(message));
        fresh += 1;
      }
      if (fresh === 0) break;
    }
  } finally {
    await makeVisible(pair.dlqUrl, handles);
  }
  const messages = [...seen.values()].slice(0, limit);
  return { ...pair, approximateCount: before.visible + before.inFlight, messages, truncated: messages.length >= limit };
}

export async function makeVisible(queueUrl: string, receiptHandles: string[]): Promise<void> {
  for (let i = 0; i < receiptHandles.length; i += 10) {
    const batch = receiptHandles.slice(i, i + 10);
    try {
      await sqs().send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((ReceiptHandle, j) => ({ Id: String(j), ReceiptHandle, VisibilityTimeout: 0 })),
        }),
      );
    } catch {
      // They become visible on their own when the short visibility timeout runs out.
    }
  }
}

export interface RedriveReport extends QueuePair {
  moved: number;
  movedMessages: Array<{ messageId: string; newMessageId?: string; body: string }>;
  /** Messages that could not be moved (left in the DLQ, visible again). */
  failed: Array<{ messageId: string; error: string }>;
  /** Moved (sent to the work queue) but could not be deleted from the DLQ: they will be redriven twice. Harmless (the workers are idempotent) but worth knowing. */
  notDeleted: Array<{ messageId: string; error: string }>;
  /** SQS's approximate count of messages left in the DLQ afterwards (visible + in flight). */
  remaining: number;
}

/**
 * Moves up to `limit` messages from the DLQ back to its work queue: each is sent to the work queue
 * first and deleted from the DLQ only once the send succeeded. Stops at the first failed send.
 */
export async function redriveDlq(queue: QueueName, { limit = 100 }: { limit?: number } = {}): Promise<RedriveReport> {
  checkLimit(limit);
  const pair = await resolveQueues(queue);
  const report: RedriveReport = { ...pair, moved: 0, movedMessages: [], failed: [], notDeleted: [], remaining: 0 };
  const handled = new Set<string>();
  outer: while (report.moved + report.failed.length < limit) {
    const page = await receive(pair.dlqUrl, limit - report.moved - report.failed.length, moveVisibilitySeconds);
    if (page.length === 0) break;
    let fresh = 0;
    for (let i = 0; i < page.length; i += 1) {
      const message = page[i]!;
      const messageId = message.MessageId ?? "?";
      if (handled.has(messageId)) continue;
      handled.add(messageId);
      fresh += 1;
      let newMessageId: string | undefined;
      try {
        ({ MessageId: newMessageId } = await sqs().send(
          new SendMessageCommand({
            QueueUrl: pair.workQueueUrl,
            MessageBody: message.Body ?? "",
            ...(message.MessageAttributes ? { MessageAttributes: copyAttributes(message.MessageAttributes) } : {}),
          }),
        ));
      } catch (error) {
        report.failed.push({ messageId, error: String(error) });
        // This one and the rest of the page stay in the DLQ, visible again now.
        await makeVisible(
          pair.dlqUrl,
          page
            .slice(i)
            .map((m) => m.ReceiptHandle)
            .filter((h): h is string => Boolean(h)),
        );
        break outer;
      }
      report.moved += 1;
      report.movedMessages.push({ messageId, ...(newMessageId ? { newMessageId } : {}), body: message.Body ?? "" });
      try {
        await sqs().send(new DeleteMessageCommand({ QueueUrl: pair.dlqUrl, ReceiptHandle: message.ReceiptHandle }));
      } catch (error) {
        report.notDeleted.push({ messageId, error: String(error) });
      }
    }
    if (fresh === 0) break;
  }
  const after = await approximateCount(pair.dlqUrl);
  report.remaining = after.visible + after.inFlight;
  return report;
}

function copyAttributes(attributes: Record<string, MessageAttributeValue>): Record<string, MessageAttributeValue> {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      {
        DataType: value.DataType,
        ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
        ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
      },
    ]),
  );
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new UsageError(`--limit must be an integer from 1 to 10000, not ${limit}`);
}
