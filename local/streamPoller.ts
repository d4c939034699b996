// The Lambda DynamoDB Streams event source mapping: reads every shard of the table's stream in
// order, drops records that the mapping's filter patterns exclude, invokes the function with a
// batch, and on failure retries (from the first failed record, with ReportBatchItemFailures) up to
// maximumRetryAttempts before sending a failure record to the on-failure queue and moving on.
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
  const deliver = async (records: DynamoDBRecord[], shardId: string) => {
    let pending = records;
    for (let attempt = 0; running && pending.length > 0; attempt += 1) {
      // Where the retry starts: the whole batch after an error, else the lowest failed record.
      let retryFrom = 0;
      try {
        const response = await options.lambda.invoke({ Records: pending } satisfies DynamoDBStreamEvent);
        const failedFrom = options.source.reportBatchItemFailures ? firstFailed(response, pending) : undefined;
        if (failedFrom === undefined) return;
        retryFrom = failedFrom;
      } catch (error) {
        options.log(`${options.lambda.definition.name} failed on ${pending.length} stream records: ${String(error)}`);
      }
      pending = pending.slice(retryFrom);
      // -1: retry until the record leaves the stream, as Lambda does.
      if (options.source.maximumRetryAttempts >= 0 && attempt >= options.source.maximumRetryAttempts) {
        await sendToFailureDestination(pending, shardId);
        return;
      }
      await sleep(Math.min(5000, 100 * 2 ** attempt));
    }
  };
  const sendToFailureDestination = async (records: DynamoDBRecord[], shardId: string) => {
    options.log(`${options.lambda.definition.name}: giving up on ${records.length} stream records`);
    if (!options.onFailureQueueUrl) return;
    // The shape Lambda sends to an on-failure destination: where in the stream, not the records.
    await options.sqs.send(
      new SendMessageCommand({
        QueueUrl: options.onFailureQueueUrl,
        MessageBody: JSON.stringify({
          requestContext: { condition: "RetryAttemptsExhausted", functionArn: options.lambda.definition.name },
          DDBStreamBatchInfo: {
            shardId,
            startSequenceNumber: records[0]!.dynamodb!.SequenceNumber,
            endSequenceNumber: records.at(-1)!.dynamodb!.SequenceNumber,
            batchSize: records.length,
            streamArn: options.streamArn,
          },
        }),
      }),
    );
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
