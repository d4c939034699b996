import { processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { publishPaymentEvent } from "../lib/events.js";
import { logger, metrics } from "../lib/observability.js";
import { InOrderStreamProcessor, inOrderStream } from "../lib/queue.js";

// Records are published in stream order; the first that fails is reported with every record after
// it (unprocessed), so the stream retries from its sequence number and nothing gets ahead of it.
// When that is the batch's first record the handler throws (lib/queue.ts inOrderStream): Lambda
// bisects the batch until the failing record is alone; its retries run out and it is parked on the
// publish-failures queue while the records after it flow (serverless.yml).
async function publishEventsHandler(event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> {
  return processPartialResponse(event, publishPaymentEvent, new InOrderStreamProcessor(), { context, ...inOrderStream });
}

export const handler = middy(publishEventsHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()));
