// Retry arithmetic of the work queues (issue 10): capped exponential backoff, and the events queue's
// maxReceiveCount in serverless.yml keeps a business system's events retrying for at least 72 hours
// before they dead-letter, within the queue's message retention.
// And message bodies: whatever a payment holds, its event is a body SQS accepts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readYaml } from "../../local/serverlessConfig.js";
import type { SQSRecord } from "aws-lambda";
import { metricCounts } from "../../lib/observability.js";
import { backoffSeconds, maxRetryDelaySeconds, retryWindowSeconds, sqsSafeJson, withRetryBackoff } from "../../lib/queue.js";

const hours = (seconds: number) => seconds / 3600;
const config = readYaml("serverless.yml") as { params: Record<string, Record<string, string | number>> };
const production = config.params.default!;
const queues = readYaml("infra/queues.yml") as { Resources: Record<string, { Properties: { MessageRetentionPeriod: number } }> };

describe("retry backoff", () => {
  it("doubles from the base and stops at the one-hour cap", () => {
    expect([1, 2, 3, 9, 10, 11, 80].map((n) => backoffSeconds(n, 10, maxRetryDelaySeconds))).toEqual([10, 20, 40, 2560, 3600, 3600, 3600]);
    expect(maxRetryDelaySeconds).toBe(3600);
  });

  it("sums the waits between attempts: the last attempt, then the dead-letter queue", () => {
    // 6 attempts at base 10: waits 10, 20, 40, 80, 160 before attempts 2-6, then 320 before the DLQ.
    expect(retryWindowSeconds(6, 10)).toEqual({ lastAttemptSeconds: 310, deadLetterSeconds: 630 });
    // 81 attempts: 10 + ... + 2560 = 5110 s over attempts 1-9, then 71 capped hours before the 81st.
    expect(retryWindowSeconds(81, 10)).toEqual({ lastAttemptSeconds: 5110 + 71 * 3600, deadLetterSeconds: 5110 + 72 * 3600 });
  });

  it("retries a business system's events for at least 72 hours before they dead-letter (production params)", () => {
    const maxReceiveCount = Number(production.eventsMaxReceiveCount);
    const base = Number(production.retryBaseSeconds);
    const window = retryWindowSeconds(maxReceiveCount, base);
    expect(hours(window.lastAttemptSeconds)).toBeGreaterThanOrEqual(72);
    // No more attempts than that: one fewer would give up before 72 h.
    expect(hours(retryWindowSeconds(maxReceiveCount - 1, base).lastAttemptSeconds)).toBeLessThan(72);
    // The queue keeps a message (counted from when it was sent) past its dead-lettering, with every
    // attempt taking up to deliverEvent's 30 s timeout; SQS keeps messages at most 14 days.
    const retention = Number(queues.Resources.EventsQueue!.Properties.MessageRetentionPeriod);
    expect(retention).toBeGreaterThan(window.deadLetterSeconds + maxReceiveCount * 30);
    expect(retention).toBeLessThanOrEqual(14 * 24 * 3600);
  });

  it("keeps the local stage's compressed retries short, so the tests stay fast", () => {
    const local = config.params.local!;
    const base = Number(String(local.retryBaseSeconds).match(/'([\d.]+)'/)?.[1] ?? local.retryBaseSeconds);
    expect(retryWindowSeconds(Number(local.eventsMaxReceiveCount), base).deadLetterSeconds).toBeLessThan(120);
  });
});

// Issue 17: a payment's text must never make its event unsendable. SQS accepts only #x9 #xA #xD
// #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in a body, and the local SQS (fauxqs) nothing above U+FFFF.
describe("message bodies safe for SQS's character set", () => {
  // What both accept: the allowed set without the astral planes.
  const safe = /^[\t\n\r\x20-\uD7FF\uE000-\uFFFD]*$/;

  it("escapes emoji (as two escapes), U+FFFE, U+FFFF and lone surrogates; JSON.parse gives the same value back", () => {
    const cases: Record<string, string> = {
      emoji: "Coffee ☕ and cake 🍰",
      "U+FFFF": "\uFFFF",
      "U+FFFE": "a\uFFFEb",
      "lone high surrogate": "x\uD83Dy",
      "lone low surrogate": "\uDC00",
      "astral, plane 16": "\u{10FFFD}",
      controls: "\u0000\u0001\u001f\t\n\r",
    };
    for (const [name, value] of Object.entries(cases)) {
      const body = sqsSafeJson({ subject: value, metadata: { [value]: value } });
      expect(body, name).toMatch(safe);
      expect(JSON.parse(body), name).toEqual({ subject: value, metadata: { [value]: value } });
    }
    expect(sqsSafeJson("🍰")).toBe('"\\ud83c\\udf70"');
    expect(sqsSafeJson("\uFFFF")).toBe('"\\uffff"');
  });

  it("leaves what SQS takes as it is: Chinese text, quotes, commas, the private use area", () => {
    const value = { subject: '咖啡豆, "浓缩" 1 kg', body: "\uE000\uD7FF\uFFFD", n: 1 };
    expect(sqsSafeJson(value)).toBe(JSON.stringify(value));
  });

  it("round-trips any value into a body SQS accepts", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: "binary" }), (value, text) => {
        const input = { value, text, [text]: text };
        const body = sqsSafeJson(input);
        expect(body).toMatch(safe);
        expect(JSON.parse(body)).toEqual(JSON.parse(JSON.stringify(input)));
      }),
      { numRuns: 500 },
    );
  });
});

// Issue 17: a dead-letter queue's first message must page within minutes, and SQS's own metrics of
// an idle (sleeping) dead-letter queue can take up to 15: the worker counts a failed last attempt.
describe("a message's failed last attempt", () => {
  const record = (receiveCount: number): SQSRecord => ({
    messageId: `m-${receiveCount}`,
    receiptHandle: "not-a-real-handle",
    body: "{}",
    attributes: { ApproximateReceiveCount: String(receiveCount) } as SQSRecord["attributes"],
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:ap-southeast-1:000000000000:check",
    awsRegion: "ap-southeast-1",
  });
  const deadLettered = () => metricCounts.get("MessagesDeadLettered.check") ?? 0;

  it("is counted as MessagesDeadLettered (per queue) on the queue's maxReceiveCount-th attempt only", async () => {
    // Nothing listens there: extending the visibility fails at once, which the worker only logs.
    process.env.AWS_ENDPOINT_URL_SQS = "http://127.0.0.1:9";
    process.env.AWS_REGION ??= "ap-southeast-1";
    process.env.AWS_ACCESS_KEY_ID ??= "test";
    process.env.AWS_SECRET_ACCESS_KEY ??= "test";
    const failing = withRetryBackoff(
      { queueUrl: "http://127.0.0.1:9/000000000000/check", queueName: "check", maxReceiveCount: 3, retryBaseSeconds: 1 },
      async () => {
        throw new Error("always fails");
      },
    );
    const before = deadLettered();
    for (const receiveCount of [1, 2]) await expect(failing(record(receiveCount))).rejects.toThrow("always fails");
    expect(deadLettered()).toBe(before);
    await expect(failing(record(3))).rejects.toThrow("always fails");
    expect(deadLettered()).toBe(before + 1);
  });
});
