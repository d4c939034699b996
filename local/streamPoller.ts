// The Lambda DynamoDB Streams event source mapping: reads every shard of the table's stream in
// order, drops records that the mapping's filter patterns exclude, invokes the function with a
// batch, and on failure retries (from the first failed record, with ReportBatchItemFailures),
// bisecting a batch on a function error, up to maximumRetryAttempts and maximumRecordAgeInSeconds,
// before sending a failure record shaped like Lambda's to the on-failure queue and moving on.
import { randomUUID } from "node:crypto";
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from "@aws-sdk/client-dynamodb-streams";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import type { LocalLambda } from "./lambdaRuntime.js";
import type { StreamSource } from "./serverlessConfig.js";
import type { Poller } from "./sqsPoller.js";

const pollIntervalMs = 100;

export function startStreamPoller(options: {
  streams: DynamoDBStreamsClient;
  sqs: SQSClient;
  streamArn: string;
  region: string;
  source: StreamSource;
  onFailureQueueUrl?: string;
  lambda: LocalLambda;
  log: (line: string) => void;
}): Poller {
  let running = true;
  const shards = new Map<string, Promise<void>>();
  const discover = async () => {
    const { StreamDescription } = await options.streams.send(new DescribeStreamCommand({ StreamArn: options.streamArn }));
    for (const shard of StreamDescription?.Shards ?? []) {
      if (!shard.ShardId || shards.has(shard.ShardId)) continue;
      shards.set(
        shard.ShardId,
        readShard(shard.ShardId).catch((error) => options.log(`stream poller: ${String(error)}`)),
      );
    }
  };
  const readShard = async (shardId: string) => {
    let lastSequence: string | undefined;
    const iterator = async () =>
      (
        await options.streams.send(
          new GetShardIteratorCommand({
            StreamArn: options.streamArn,
            ShardId: shardId,
            ...(lastSequence
              ? { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", SequenceNumber: lastSequence }
              : { ShardIteratorType: "TRIM_HORIZON" }),
          }),
        )
      ).ShardIterator;
    let next = await iterator();
    while (running && next) {
      let page: GetRecordsCommandOutput;
      try {
        page = await options.streams.send(new GetRecordsCommand({ ShardIterator: next, Limit: options.source.batchSize }));
      } catch (error) {
        if ((error as Error).name !== "ExpiredIteratorException") throw error;
        next = await iterator();
        continue;
      }
      const records = (page.Records ?? []).map((r) => toLambdaRecord(r, options.streamArn, options.region));
      if (records.length > 0) {
        await deliver(
          records.filter((r) => matchesAny(r, options.source.filterPatterns)),
          shardId,
        );
        lastSequence = records.at(-1)!.dynamodb!.SequenceNumber;
      }
      next = page.NextShardIterator;
      if (records.length === 0) await sleep(pollIntervalMs);
    }
  };
  const deliver = (records: DynamoDBRecord[], shardId: string) =>
    deliverBatch(records, {
      source: options.source,
      running: () => running,
      invoke: (batch) => options.lambda.invoke({ Records: batch } satisfies DynamoDBStreamEvent),
      park: (parked, condition, invokeCount) => sendToFailureDestination(parked, shardId, condition, invokeCount),
      log: (line) => options.log(`${options.lambda.definition.name}: ${line}`),
    });
  const sendToFailureDestination = async (records: DynamoDBRecord[], shardId: string, condition: ParkCondition, invokeCount: number) => {
    options.log(`${options.lambda.definition.name}: giving up on ${records.length} stream records (${condition})`);
    if (!options.onFailureQueueUrl) return;
    const body = failureRecord(records, {
      shardId,
      streamArn: options.streamArn,
      functionArn: `arn:aws:lambda:${options.region}:000000000000:function:${options.lambda.definition.name}`,
      condition,
      invokeCount,
    });
    // The poller does not move past the records before the failure record is out: never dropped unseen.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await options.sqs.send(new SendMessageCommand({ QueueUrl: options.onFailureQueueUrl, MessageBody: JSON.stringify(body) }));
        return;
      } catch (error) {
        if (!running) return;
        options.log(`${options.lambda.definition.name}: on-failure destination refused the record: ${String(error)}`);
        await sleep(Math.min(5000, 100 * 2 ** attempt));
      }
    }
  };

  const discovery = (async () => {
    while (running) {
      try {
        await discover();
      } catch (error) {
        if (running) options.log(`stream poller: ${String(error)}`);
      }
      await sleep(2000);
    }
  })();
  return {
    async stop() {
      running = false;
      await discovery;
      await Promise.all(shards.values());
    },
  };
}

/** Why Lambda gave up on stream records (the on-failure record's requestContext.condition). */
export type ParkCondition = "RetryAttemptsExhausted" | "RecordAgeExceeded";

/**
 * How Lambda works through one batch of a shard with these settings, in stream order:
 * - records older than maximumRecordAgeInSeconds are not sent to the function: they are parked
 *   (RecordAgeExceeded);
 * - a partial batch response (ReportBatchItemFailures) checkpoints before the lowest failed record:
 *   the records before it are done, the rest is retried;
 * - a function error (the function threw, or the whole batch failed) splits a batch of more than
 *   one record in two (bisectBatchOnFunctionError), the first half first; splitting does not use up
 *   retries;
 * - a batch that fails otherwise (one record, or no bisecting) is retried up to
 *   maximumRetryAttempts times, then parked (RetryAttemptsExhausted) and the shard moves on.
 * Retries back off from 100 ms doubling to 5 s (Lambda's pace is its own; tests only count).
 */
export async function deliverBatch(
  records: DynamoDBRecord[],
  options: {
    source: Pick<
      StreamSource,
      "maximumRetryAttempts" | "maximumRecordAgeInSeconds" | "bisectBatchOnFunctionError" | "reportBatchItemFailures"
    >;
    invoke: (batch: DynamoDBRecord[]) => Promise<unknown>;
    park: (records: DynamoDBRecord[], condition: ParkCondition, invokeCount: number) => Promise<void>;
    running?: () => boolean;
    now?: () => number;
    pause?: (ms: number) => Promise<void>;
    log?: (line: string) => void;
  },
): Promise<void> {
  const { source, running = () => true, now = Date.now, pause = sleep, log = () => undefined } = options;
  const batches: DynamoDBRecord[][] = records.length > 0 ? [records] : [];
  while (running() && batches.length > 0) {
    let batch = batches.shift()!;
    let retries = 0;
    let invokes = 0;
    while (running() && batch.length > 0) {
      if (source.maximumRecordAgeInSeconds >= 0) {
        const oldest = now() / 1000 - source.maximumRecordAgeInSeconds;
        const firstFresh = batch.findIndex((r) => (r.dynamodb?.ApproximateCreationDateTime ?? Number.POSITIVE_INFINITY) >= oldest);
        const count = firstFresh < 0 ? batch.length : firstFresh;
        if (count > 0) {
          await options.park(batch.slice(0, count), "RecordAgeExceeded", invokes);
          batch = batch.slice(count);
          continue;
        }
      }
      let failedFrom: number | undefined;
      let functionError = false;
      invokes += 1;
      try {
        const response = await options.invoke(batch);
        failedFrom = source.reportBatchItemFailures ? firstFailed(response, batch) : undefined;
      } catch (error) {
        functionError = true;
        failedFrom = 0;
        log(`failed on ${batch.length} stream records: ${String(error)}`);
      }
      if (failedFrom === undefined) break;
      if (failedFrom > 0) {
        // Checkpointed before the failed record: the rest is a new, shorter batch.
        batch = batch.slice(failedFrom);
        continue;
      }
      if (functionError && source.bisectBatchOnFunctionError && batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        batches.unshift(batch.slice(0, half), batch.slice(half));
        break;
      }
      if (source.maximumRetryAttempts >= 0 && retries >= source.maximumRetryAttempts) {
        await options.park(batch, "RetryAttemptsExhausted", invokes);
        break;
      }
      retries += 1;
      await pause(Math.min(5000, 100 * 2 ** (retries - 1)));
    }
  }
}

/**
 * The JSON Lambda sends to a stream mapping's on-failure destination: where in the stream, not the
 * records themselves (AWS Lambda developer guide, "Retaining discarded records for a DynamoDB
 * event source").
 */
export function failureRecord(
  records: DynamoDBRecord[],
  where: { shardId: string; streamArn: string; functionArn: string; condition: ParkCondition; invokeCount: number },
) {
  const arrival = (record: DynamoDBRecord | undefined) => {
    const seconds = record?.dynamodb?.ApproximateCreationDateTime;
    return seconds === undefined ? undefined : new Date(seconds * 1000).toISOString();
  };
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn: where.functionArn,
      condition: where.condition,
      approximateInvokeCount: where.invokeCount,
    },
    responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
    version: "1.0",
    timestamp: new Date().toISOString(),
    DDBStreamBatchInfo: {
      shardId: where.shardId,
      startSequenceNumber: records[0]!.dynamodb!.SequenceNumber!,
      endSequenceNumber: records.at(-1)!.dynamodb!.SequenceNumber!,
      approximateArrivalOfFirstRecord: arrival(records[0]),
      approximateArrivalOfLastRecord: arrival(records.at(-1)),
      batchSize: records.length,
      streamArn: where.streamArn,
    },
  };
}

function toLambdaRecord(record: StreamRecord, streamArn: string, region: string): DynamoDBRecord {
  const d = record.dynamodb ?? {};
  return {
    eventID: record.eventID,
    eventName: record.eventName as DynamoDBRecord["eventName"],
    eventVersion: record.eventVersion ?? "1.1",
    eventSource: "aws:dynamodb",
    awsRegion: region,
    eventSourceARN: streamArn,
    dynamodb: {
      ApproximateCreationDateTime: d.ApproximateCreationDateTime ? Math.floor(d.ApproximateCreationDateTime.getTime() / 1000) : undefined,
      Keys: d.Keys as never,
      NewImage: d.NewImage as never,
      OldImage: d.OldImage as never,
      SequenceNumber: d.SequenceNumber,
      SizeBytes: d.SizeBytes,
      StreamViewType: d.StreamViewType as never,
    },
  };
}

/**
 * Where Lambda resumes a stream batch after the function returned `response` with
 * ReportBatchItemFailures: undefined for a complete success (no response, no list, an empty list);
 * otherwise the index of the failed record with the lowest sequence number (the checkpoint), or 0
 * (the whole batch) when the list is malformed or an itemIdentifier is missing, empty or not a
 * record of the batch.
 */
export function firstFailed(response: unknown, records: DynamoDBRecord[]): number | undefined {
  if (response === undefined || response === null) return undefined;
  if (typeof response !== "object") return 0;
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return undefined;
  if (!Array.isArray(failures)) return 0;
  if (failures.length === 0) return undefined;
  let lowest: number | undefined;
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    const index = typeof id === "string" && id !== "" ? records.findIndex((r) => r.dynamodb?.SequenceNumber === id) : -1;
    if (index < 0) return 0;
    lowest = Math.min(lowest ?? index, index);
  }
  return lowest;
}

/** Event filtering as Lambda does it, for the subset used here: nested keys, lists of allowed values. */
export function matchesAny(record: unknown, patterns: unknown[]): boolean {
  return patterns.length === 0 || patterns.some((pattern) => matches(record, pattern));
}

function matches(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.some((allowed) => allowed === value);
  if (!pattern || typeof pattern !== "object") return pattern === value;
  if (!value || typeof value !== "object") return false;
  return Object.entries(pattern).every(([key, sub]) => matches((value as Record<string, unknown>)[key], sub));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
