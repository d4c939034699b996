// `publish-failures list` and `publish-failures replay`: the stream records publishEvents gave up
// on. Lambda's on-failure message says only where in the stream they are (DDBStreamBatchInfo: shard,
// first and last sequence number); the records are read back from the stream (kept 24 h) to learn
// which payments and refunds they were, and each event is rebuilt from the item as it is now (the
// same id and content `event replay` sends), put on the events queue for deliverEvent, and the
// failure message is deleted only once every event of it is out.
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from "@aws-sdk/client-dynamodb-streams";
import { DeleteMessageCommand, GetQueueUrlCommand, type Message } from "@aws-sdk/client-sqs";
import type { DynamoDBRecord } from "aws-lambda";
import { sqs } from "../lib/aws.js";
import { config } from "../lib/config.js";
import { type BusinessEvent, paymentEvent, paymentEventOf, refundEvent } from "../lib/events.js";
import { getPayment } from "../lib/payments/repository.js";
import { sendMessage } from "../lib/queue.js";
import { getRefund } from "../lib/refunds/repository.js";
import { makeVisible, receive } from "./dlq.js";
import { OpsError } from "./errors.js";

/** Where Lambda's on-failure record says the parked records are. */
export interface StreamBatchInfo {
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  streamArn: string;
  batchSize: number;
  approximateArrivalOfFirstRecord?: string;
  approximateArrivalOfLastRecord?: string;
}

export interface PublishFailure {
  messageId: string;
  /** Why Lambda gave up (RetryAttemptsExhausted, RecordAgeExceeded, ...). */
  condition?: string;
  /** When Lambda gave up. */
  timestamp?: string;
  batch?: StreamBatchInfo;
}

export interface PublishFailureListing {
  queueUrl: string;
  failures: PublishFailure[];
  truncated: boolean;
}

export interface ReplayedFailure extends PublishFailure {
  /** The events put on the events queue, by id. */
  events: Array<{ id: string; type: string; businessId: string }>;
  /** Deleted from the publish-failures queue (every event of it out). */
  deleted: boolean;
  error?: string;
}

export interface PublishFailureReplay {
  queueUrl: string;
  eventsQueueUrl: string;
  replayed: ReplayedFailure[];
}

/** How long a message being listed or replayed stays hidden from another operator. */
const visibilitySeconds = 120;

/** The publish-failures queue: PUBLISH_FAILURES_QUEUE_URL, or the events queue's sibling (infra/queues.yml names them alike). */
export async function publishFailuresQueueUrl(): Promise<string> {
  if (process.env.PUBLISH_FAILURES_QUEUE_URL) return process.env.PUBLISH_FAILURES_QUEUE_URL;
  const eventsQueueUrl = (await config()).eventsQueueUrl;
  const eventsName = eventsQueueUrl.split("/").at(-1) ?? "";
  if (!eventsName.endsWith("-events"))
    throw new OpsError(`cannot tell the publish-failures queue from ${eventsQueueUrl}: set PUBLISH_FAILURES_QUEUE_URL`);
  const name = `${eventsName.slice(0, -"events".length)}publish-failures`;
  const { QueueUrl } = await sqs().send(new GetQueueUrlCommand({ QueueName: name }));
  if (!QueueUrl) throw new OpsError(`queue ${name} not found`);
  return QueueUrl;
}

function describeFailure(message: Message): PublishFailure {
  let body: { requestContext?: { condition?: string }; timestamp?: string; DDBStreamBatchInfo?: StreamBatchInfo } = {};
  try {
    body = JSON.parse(message.Body ?? "{}");
  } catch {
    // Not Lambda's record: listed without a batch, never replayed.
  }
  const batch = body.DDBStreamBatchInfo;
  return {
    messageId: message.MessageId ?? "?",
    ...(body.requestContext?.condition ? { condition: body.requestContext.condition } : {}),
    ...(body.timestamp ? { timestamp: body.timestamp } : {}),
    ...(batch?.shardId && batch.startSequenceNumber && batch.endSequenceNumber && batch.streamArn ? { batch } : {}),
  };
}

/** Up to `limit` messages, each once, hidden for `visibilitySeconds` meanwhile. */
async function receiveAll(queueUrl: string, limit: number): Promise<Message[]> {
  const seen = new Map<string, Message>();
  while (seen.size < limit) {
    const fresh = (await receive(queueUrl, limit - seen.size, visibilitySeconds)).filter((m) => m.MessageId && !seen.has(m.MessageId));
    if (fresh.length === 0) break;
    for (const message of fresh) seen.set(message.MessageId!, message);
  }
  return [...seen.values()];
}

/** Lists the parked batches (where in the stream, why, when); nothing is removed, all visible again after. */
export async function listPublishFailures({ limit = 100 }: { limit?: number } = {}): Promise<PublishFailureListing> {
  const queueUrl = await publishFailuresQueueUrl();
  const messages = await receiveAll(queueUrl, limit);
  await makeVisible(
    queueUrl,
    messages.map((m) => m.ReceiptHandle).filter((h): h is string => Boolean(h)),
  );
  return { queueUrl, failures: messages.map(describeFailure), truncated: messages.length >= limit };
}

const streams = () =>
  new DynamoDBStreamsClient({
    ...(process.env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS || process.env.AWS_ENDPOINT_URL_DYNAMODB
      ? { endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS || process.env.AWS_ENDPOINT_URL_DYNAMODB }
      : {}),
  });

/** The records of one shard from `start` to `end` (sequence numbers), as the mapping gave them to the function. */
export async function streamRecords(batch: StreamBatchInfo, client = streams()): Promise<DynamoDBRecord[]> {
  const end = BigInt(batch.endSequenceNumber);
  const found: DynamoDBRecord[] = [];
  let { ShardIterator: iterator } = await client.send(
    new GetShardIteratorCommand({
      StreamArn: batch.streamArn,
      ShardId: batch.shardId,
      ShardIteratorType: "AT_SEQUENCE_NUMBER",
      SequenceNumber: batch.startSequenceNumber,
    }),
  );
  // An open shard answers empty pages at its end: stop after a few, or once past `end`.
  for (let empty = 0; iterator && empty < 3; ) {
    const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 100 }));
    const records = page.Records ?? [];
    empty = records.length === 0 ? empty + 1 : 0;
    for (const record of records) {
      if (BigInt(record.dynamodb?.SequenceNumber ?? "0") > end) return found;
      found.push(lambdaShape(record));
    }
    iterator = page.NextShardIterator;
  }
  return found;
}

/** The fields of a stream record publishEvents reads (the SDK's attribute values are Lambda's JSON shape). */
function lambdaShape(record: StreamRecord): DynamoDBRecord {
  return {
    eventName: record.eventName as DynamoDBRecord["eventName"],
    dynamodb: {
      SequenceNumber: record.dynamodb?.SequenceNumber,
      Keys: record.dynamodb?.Keys as never,
      NewImage: record.dynamodb?.NewImage as never,
      OldImage: record.dynamodb?.OldImage as never,
    },
  };
}

/**
 * The event a parked record owes, rebuilt from the item as it is now (as `event replay` does), or
 * from the record's own image if the item is gone (TTL); none for a record that publishes nothing.
 */
async function eventOwed(record: DynamoDBRecord): Promise<BusinessEvent | undefined> {
  const fromImage = paymentEventOf(record);
  if (!fromImage) return undefined;
  const refund = fromImage.data.refund;
  const current = refund
    ? await getRefund(refund.paymentId, refund.refundId).then((r) => r && refundEvent(r))
    : await getPayment(fromImage.data.payment!.paymentId).then((p) => p && paymentEvent(p));
  return current?.id === fromImage.id ? current : fromImage;
}

/**
 * Replays up to `limit` parked batches: for each, the events its records owe go on the events queue
 * (deliverEvent delivers them; business systems dedupe by event id), then the message is deleted.
 * A batch whose records cannot be read (past the stream's 24 h) stays, with the error: RUNBOOK.md
 * says how to find its payments from the table.
 */
export async function replayPublishFailures({ limit = 100 }: { limit?: number } = {}): Promise<PublishFailureReplay> {
  const queueUrl = await publishFailuresQueueUrl();
  const eventsQueueUrl = (await config()).eventsQueueUrl;
  const client = streams();
  const replayed: ReplayedFailure[] = [];
  const left: string[] = [];
  try {
    for (const message of await receiveAll(queueUrl, limit)) {
      const failure: ReplayedFailure = { ...describeFailure(message), events: [], deleted: false };
      replayed.push(failure);
      try {
        if (!failure.batch) throw new Error("not a stream on-failure record (no DDBStreamBatchInfo)");
        const records = await streamRecords(failure.batch, client);
        if (records.length === 0) throw new Error("no records at these sequence numbers (past the stream's 24 h?)");
        for (const record of records) {
          const event = await eventOwed(record);
          if (!event) continue;
          await sendMessage(eventsQueueUrl, event);
          failure.events.push({ id: event.id, type: event.type, businessId: event.businessId });
        }
        await sqs().send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
        failure.deleted = true;
      } catch (error) {
        failure.error = String(error);
      }
      if (!failure.deleted && message.ReceiptHandle) left.push(message.ReceiptHandle);
    }
  } finally {
    client.destroy();
    // What stays is visible again for the next operator (and the alarm keeps counting it).
    await makeVisible(queueUrl, left);
  }
  return { queueUrl, eventsQueueUrl, replayed };
}
