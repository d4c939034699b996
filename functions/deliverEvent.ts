import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { config } from "../lib/config.js";
import { deliverEvent, type BusinessEvent } from "../lib/events.js";
import { logger, metrics } from "../lib/observability.js";
import { withRetryBackoff } from "../lib/queue.js";

async function deliverRecord(record: SQSRecord): Promise<void> {
  // SentTimestamp is the first send: retries change the visibility, not the message.
  await deliverEvent(JSON.parse(record.body) as BusinessEvent, { firstSentAt: Number(record.attributes.SentTimestamp) || undefined });
}

async function deliverEventHandler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const { eventsQueueUrl, retryBaseSeconds, maxReceiveCount } = await config();
  // A processor per invocation: it holds the batch's state, and the local stack runs several
  // invocations of one module at once.
  const processor = new BatchProcessor(EventType.SQS);
  // In parallel: a business system whose webhook hangs must not hold up the other systems' events
  // in the same batch (each log line names its own event instead of shared logger keys).
  return processPartialResponse(
    event,
    withRetryBackoff(
      { queueUrl: eventsQueueUrl, queueName: "events", maxReceiveCount: maxReceiveCount.events, retryBaseSeconds, sharedLogKeys: false },
      deliverRecord,
    ),
    processor,
    { context, processInParallel: true, throwOnFullBatchFailure: false },
  );
}

export const handler = middy(deliverEventHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()));
