import { processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { publishPaymentEvent } from "../lib/events.js";
import { logger, metrics } from "../lib/observability.js";
import { InOrderStreamProcessor, oneAtATime } from "../lib/queue.js";

// Records are published in stream order; the first that fails is reported with every record after
// it (unprocessed), so the stream retries from its sequence number and never loses an event.
async function publishEventsHandler(event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> {
  return processPartialResponse(event, publishPaymentEvent, new InOrderStreamProcessor(), { context, ...oneAtATime });
}

export const handler = middy(publishEventsHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()));
