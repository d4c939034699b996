import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { HttpError } from "../lib/api/errors.js";
import { httpApi, json } from "../lib/api/http.js";
import { EventPath } from "../lib/api/requests.js";
import { type BusinessContext, businessCaller } from "../lib/business/caller.js";
import { redeliverStoredEvent } from "../lib/eventLog.js";
import { logger, metrics } from "../lib/observability.js";

const RedeliverEventEvent = z.object({ pathParameters: EventPath });

async function redeliverEventHandler(event: z.infer<typeof RedeliverEventEvent>, { business }: BusinessContext) {
  const redelivered = await redeliverStoredEvent(business.businessId, event.pathParameters.eventId);
  if (!redelivered) throw new HttpError("event_not_found", `No event ${event.pathParameters.eventId}.`);
  return json(202, redelivered);
}

export const handler = middy(redeliverEventHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(httpApi())
  .use(businessCaller())
  .use(parser({ schema: RedeliverEventEvent }));
