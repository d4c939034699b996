// The local event sources read a handler's `batchItemFailures` as Lambda does (ReportBatchItemFailures,
// AWS Lambda developer guide: "Implementing partial batch responses"), and the Powertools batch
// processors the workers use answer in that shape: SQS retries exactly the listed messages; a stream
// resumes from the failed record with the lowest sequence number; a malformed answer fails the batch.
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { DynamoDBRecord, SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { InOrderStreamProcessor, inOrderStream, oneAtATime } from "../../lib/queue.js";
import { failedMessages } from "../../local/sqsPoller.js";
import { deliverBatch, failureRecord, firstFailed } from "../../local/streamPoller.js";

const ids = ["m1", "m2", "m3"];
const streamRecords = ["100", "200", "300", "400"].map(
  (sequence) => ({ eventID: `e${sequence}`, eventName: "MODIFY", dynamodb: { SequenceNumber: sequence } }) as DynamoDBRecord,
);

describe("SQS: the messages that stay on the queue", () => {
  it("none on a complete success: no answer, no list, an empty list", () => {
    for (const response of [undefined, null, {}, { batchItemFailures: null }, { batchItemFailures: [] }])
      expect(failedMessages(response, ids), JSON.stringify(response)).toEqual(new Set());
  });

  it("exactly the listed ones", () => {
    expect(failedMessages({ batchItemFailures: [{ itemIdentifier: "m3" }, { itemIdentifier: "m1" }] }, ids)).toEqual(new Set(["m1", "m3"]));
  });

  it("the whole batch on a malformed answer or an identifier that is empty, missing or not of the batch", () => {
    for (const response of [
      "ok",
      { batchItemFailures: "m1" },
      { batchItemFailures: [{ itemIdentifier: "" }] },
      { batchItemFailures: [{ itemIdentifier: null }] },
      { batchItemFailures: [{ id: "m1" }] },
      { batchItemFailures: [{ itemIdentifier: "m1" }, { itemIdentifier: "elsewhere" }] },
    ])
      expect(failedMessages(response, ids), JSON.stringify(response)).toEqual(new Set(ids));
  });

  it("what Powertools' BatchProcessor answers: the failed message only", async () => {
    const records = ids.map((messageId) => ({ messageId, body: messageId, attributes: {} }) as SQSRecord);
    const response = await processPartialResponse(
      { Records: records },
      async (record: SQSRecord) => {
        if (record.messageId === "m2") throw new Error("boom");
      },
      new BatchProcessor(EventType.SQS),
      oneAtATime,
    );
    expect(failedMessages(response, ids)).toEqual(new Set(["m2"]));
  });
});

describe("DynamoDB stream: where the retry starts", () => {
  it("nowhere on a complete success", () => {
    for (const response of [undefined, null, {}, { batchItemFailures: null }, { batchItemFailures: [] }])
      expect(firstFailed(response, streamRecords), JSON.stringify(response)).toBeUndefined();
  });

  it("at the failed record with the lowest sequence number, wherever it is in the list", () => {
    const failures = ["300", "200", "400"].map((itemIdentifier) => ({ itemIdentifier }));
    expect(firstFailed({ batchItemFailures: failures }, streamRecords)).toBe(1);
  });

  it("at the start of the batch on a malformed answer or an unknown sequence number", () => {
    for (const response of [
      "ok",
      { batchItemFailures: { itemIdentifier: "200" } },
      { batchItemFailures: [{ itemIdentifier: "" }] },
      { batchItemFailures: [{ sequence: "200" }] },
      { batchItemFailures: [{ itemIdentifier: "200" }, { itemIdentifier: "999" }] },
    ])
      expect(firstFailed(response, streamRecords), JSON.stringify(response)).toBe(0);
  });

  it("what the publisher's in-order processor answers: from the failed record on, the later ones not processed", async () => {
    const processed: string[] = [];
    const response = await processPartialResponse(
      { Records: streamRecords },
      async (record: DynamoDBRecord) => {
        processed.push(record.dynamodb!.SequenceNumber!);
        if (record.dynamodb!.SequenceNumber === "200") throw new Error("boom");
      },
      new InOrderStreamProcessor(),
      oneAtATime,
    );
    expect(processed).toEqual(["100", "200"]);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(["200", "300", "400"]);
    expect(firstFailed(response, streamRecords)).toBe(1);
  });
});

// Issue 17: one record the publisher can never send (a body SQS refuses, a permanent fault) must be
// parked by itself while every record after it flows, with the mapping's settings in serverless.yml
// (bounded retries, bisecting on a function error, a maximum record age), as Lambda applies them.
describe("DynamoDB stream: a record that always fails is parked alone (local/streamPoller.ts deliverBatch)", () => {
  const sequence = (i: number) => String(1000 + i);
  const batchOf = (n: number, createdAt = Math.floor(Date.now() / 1000)) =>
    Array.from(
      { length: n },
      (_, i) =>
        ({
          eventID: `e${i}`,
          eventName: "MODIFY",
          dynamodb: { SequenceNumber: sequence(i), ApproximateCreationDateTime: createdAt },
        }) as DynamoDBRecord,
    );
  const source = {
    maximumRetryAttempts: 4,
    maximumRecordAgeInSeconds: 3600,
    bisectBatchOnFunctionError: true,
    reportBatchItemFailures: true,
  };

  /** The publisher's handler (its processor and options) around a record handler failing `bad`. */
  function publisher(bad: Set<string>, options: { processInParallel: false; throwOnFullBatchFailure: boolean } = inOrderStream) {
    const published: string[] = [];
    let invocations = 0;
    const invoke = (batch: DynamoDBRecord[]) => {
      invocations += 1;
      return processPartialResponse(
        { Records: batch },
        async (record: DynamoDBRecord) => {
          if (bad.has(record.dynamodb!.SequenceNumber!)) throw new Error("InvalidMessageContents");
          published.push(record.dynamodb!.SequenceNumber!);
        },
        new InOrderStreamProcessor(),
        options,
      );
    };
    return { invoke, published, invocations: () => invocations };
  }

  async function run(records: DynamoDBRecord[], bad: Set<string>, options?: Parameters<typeof publisher>[1], src = source) {
    const p = publisher(bad, options);
    const parked: Array<{ sequences: string[]; condition: string }> = [];
    await deliverBatch(records, {
      source: src,
      invoke: p.invoke,
      park: async (batch, condition) => {
        parked.push({ sequences: batch.map((r) => r.dynamodb!.SequenceNumber!), condition });
      },
      pause: async () => undefined,
    });
    return { ...p, parked };
  }

  it("parks exactly the bad records after the retries, and publishes every other one, in order", async () => {
    const records = batchOf(25);
    const bad = new Set([sequence(7), sequence(19)]);
    const { parked, published, invocations } = await run(records, bad);
    expect(parked).toEqual([
      { sequences: [sequence(7)], condition: "RetryAttemptsExhausted" },
      { sequences: [sequence(19)], condition: "RetryAttemptsExhausted" },
    ]);
    const good = records.map((r) => r.dynamodb!.SequenceNumber!).filter((s) => !bad.has(s));
    expect([...new Set(published)]).toEqual(good);
    // Bounded: per bad record, 1 + maximumRetryAttempts tries alone, up to 5 bisections (25 -> 1)
    // and the invocation that reached it; and up to 5 good halves each.
    expect(invocations()).toBeLessThanOrEqual(2 * (1 + source.maximumRetryAttempts + 5 + 1 + 5));
  });

  it("parks a bad first record alone too", async () => {
    const { parked, published } = await run(batchOf(25), new Set([sequence(0)]));
    expect(parked).toEqual([{ sequences: [sequence(0)], condition: "RetryAttemptsExhausted" }]);
    expect(new Set(published).size).toBe(24);
  });

  it("would park the whole rest of the batch if the handler only reported the failure (why the publisher throws)", async () => {
    const { parked } = await run(batchOf(25), new Set([sequence(7)]), oneAtATime);
    expect(parked).toHaveLength(1);
    expect(parked[0]!.sequences).toHaveLength(18);
  });

  it("parks records older than the maximum record age without invoking the function, and publishes the rest", async () => {
    const old = batchOf(3, Math.floor(Date.now() / 1000) - 7200);
    const fresh = batchOf(6).slice(3);
    const { parked, published, invocations } = await run([...old, ...fresh], new Set());
    expect(parked).toEqual([{ sequences: [sequence(0), sequence(1), sequence(2)], condition: "RecordAgeExceeded" }]);
    expect(published).toEqual([sequence(3), sequence(4), sequence(5)]);
    expect(invocations()).toBe(1);
  });

  it("retries without end when maximumRetryAttempts is -1 (Lambda's default): nothing is parked", async () => {
    const p = publisher(new Set([sequence(0)]));
    let running = true;
    const parked: unknown[] = [];
    await deliverBatch(batchOf(1), {
      source: { ...source, maximumRetryAttempts: -1, maximumRecordAgeInSeconds: -1 },
      invoke: p.invoke,
      park: async (batch) => {
        parked.push(batch);
      },
      running: () => running,
      pause: async () => {
        if (p.invocations() >= 50) running = false;
      },
    });
    expect(parked).toEqual([]);
    expect(p.invocations()).toBe(50);
  });

  it("sends the on-failure record in Lambda's shape", () => {
    const [first, , last] = batchOf(3, 1_765_000_000);
    const record = failureRecord([first!, last!], {
      shardId: "shardId-1",
      streamArn: "arn:aws:dynamodb:ap-southeast-1:000000000000:table/t/stream/x",
      functionArn: "arn:aws:lambda:ap-southeast-1:000000000000:function:publishEvents",
      condition: "RetryAttemptsExhausted",
      invokeCount: 5,
    });
    expect(record.requestContext).toMatchObject({ condition: "RetryAttemptsExhausted", approximateInvokeCount: 5 });
    expect(record.DDBStreamBatchInfo).toEqual({
      shardId: "shardId-1",
      startSequenceNumber: sequence(0),
      endSequenceNumber: sequence(2),
      approximateArrivalOfFirstRecord: new Date(1_765_000_000_000).toISOString(),
      approximateArrivalOfLastRecord: new Date(1_765_000_000_000).toISOString(),
      batchSize: 2,
      streamArn: "arn:aws:dynamodb:ap-southeast-1:000000000000:table/t/stream/x",
    });
  });
});
