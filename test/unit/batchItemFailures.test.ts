// The local event sources read a handler's `batchItemFailures` as Lambda does (ReportBatchItemFailures,
// AWS Lambda developer guide: "Implementing partial batch responses"), and the Powertools batch
// processors the workers use answer in that shape: SQS retries exactly the listed messages; a stream
// resumes from the failed record with the lowest sequence number; a malformed answer fails the batch.
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { DynamoDBRecord, SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { InOrderStreamProcessor, oneAtATime } from "../../lib/queue.js";
import { failedMessages } from "../../local/sqsPoller.js";
import { firstFailed } from "../../local/streamPoller.js";

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
