// The Lambda SQS event source mapping: long-polls a queue, invokes the function with a batch,
// deletes what succeeded. With ReportBatchItemFailures only the listed messages stay; if the
// invocation throws, the whole batch stays and returns after its visibility timeout.
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import type { LocalLambda } from "./lambdaRuntime.js";
import type { SqsSource } from "./serverlessConfig.js";

export interface Poller {
  stop(): Promise<void>;
}

export function startSqsPoller(options: {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  source: SqsSource;
  lambda: LocalLambda;
  log: (line: string) => void;
  concurrency?: number;
  /** Told the ids of every batch once its invocation ended, whether it succeeded or not. */
  onHandled?: (messageIds: string[]) => void;
}): Poller {
  let running = true;
  // Lambda runs several batches of one queue at once (it scales with the backlog); a few loops
  // keep one slow batch (a peer timing out) from holding up the rest.
  const loop = async () => {
    while (running) {
      try {
        const { Messages = [] } = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: Math.min(options.source.batchSize, 10),
            WaitTimeSeconds: 1,
            AttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
        );
        if (Messages.length === 0) continue;
        try {
          await invokeBatch(Messages, options);
        } finally {
          options.onHandled?.(Messages.map((m) => m.MessageId!));
        }
      } catch (error) {
        if (!running) break;
        options.log(`sqs poller ${options.lambda.definition.name}: ${String(error)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  const loops = Array.from({ length: options.concurrency ?? 4 }, () => loop());
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function invokeBatch(messages: Message[], options: Parameters<typeof startSqsPoller>[0]): Promise<void> {
  const event: SQSEvent = {
    Records: messages.map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body ?? "",
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
        SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
        SenderId: m.Attributes?.SenderId ?? "local",
        ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      },
      messageAttributes: Object.fromEntries(
        Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
          k,
          {
            stringValue: v.StringValue,
            binaryValue: undefined,
            stringListValues: [],
            binaryListValues: [],
            dataType: v.DataType ?? "String",
          },
        ]),
      ),
      md5OfBody: m.MD5OfBody ?? "",
      eventSource: "aws:sqs",
      eventSourceARN: options.queueArn,
      awsRegion: options.region,
    })),
  };
  let failed: Set<string>;
  try {
    const response = await options.lambda.invoke(event);
    failed = options.source.reportBatchItemFailures
      ? failedMessages(
          response,
          messages.map((m) => m.MessageId!),
        )
      : new Set();
  } catch (error) {
    options.log(`${options.lambda.definition.name} failed, batch of ${messages.length} will be retried: ${String(error)}`);
    return;
  }
  const done = messages.filter((m) => !failed.has(m.MessageId!));
  if (done.length === 0) return;
  await options.sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: options.queueUrl,
      Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
    }),
  );
}

/**
 * The messages of a batch that stay on the queue after the function returned `response`, as
 * Lambda decides it with ReportBatchItemFailures: no response, no list or an empty list is a
 * complete success; the listed messages fail; a malformed list, or an entry whose itemIdentifier is
 * missing, empty or not a message of the batch, fails the whole batch.
 */
export function failedMessages(response: unknown, messageIds: string[]): Set<string> {
  const all = new Set(messageIds);
  if (response === undefined || response === null) return new Set();
  if (typeof response !== "object") return all;
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return all;
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || !all.has(id)) return all;
    failed.add(id);
  }
  return failed;
}

/**
 * Which messages a local poller has handed to its function (the invocation ended, however it
 * ended), so the local stack can wait for the work a scheduled function queued: `sweep`'s fire()
 * returns once every shard message it sent has had its sweepShard invocation.
 */
export class HandledMessages {
  // Ids handled before anyone waited for them (a poller can be faster than the sender's return);
  // only the most recent are kept.
  private readonly handled = new Set<string>();
  private readonly waiting = new Map<string, () => void>();
  private closed = false;

  constructor(private readonly keep = 10_000) {}

  mark(messageIds: string[]): void {
    for (const id of messageIds) {
      const resolve = this.waiting.get(id);
      if (resolve) {
        this.waiting.delete(id);
        resolve();
        continue;
      }
      this.handled.add(id);
      if (this.handled.size > this.keep) this.handled.delete(this.handled.values().next().value!);
    }
  }

  /** The pollers have stopped: nothing more will be handled, nobody waits any longer. */
  close(): void {
    this.closed = true;
    for (const resolve of this.waiting.values()) resolve();
    this.waiting.clear();
  }

  async waitFor(messageIds: string[]): Promise<void> {
    await Promise.all(
      messageIds.map((id) => {
        if (this.handled.delete(id) || this.closed) return undefined;
        return new Promise<void>((resolve) => this.waiting.set(id, resolve));
      }),
    );
  }
}
