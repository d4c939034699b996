import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { HttpError } from "../lib/api/errors.js";
import { httpApi, json } from "../lib/api/http.js";
import { EventPath, ListEventsQuery } from "../lib/api/requests.js";
import { orEmpty } from "../lib/api/schemas.js";
import { type BusinessContext, businessCaller } from "../lib/business/caller.js";
import { decodeCursor, getStoredEvent, listStoredEvents } from "../lib/eventLog.js";
import { logger, metrics } from "../lib/observability.js";

// Two routes, told apart by API Gateway's routeKey.
const GetEventsEvent = z.discriminatedUnion("routeKey", [
  z.object({ routeKey: z.literal("GET /v1/events/{eventId}"), pathParameters: EventPath }),
  z.object({ routeKey: z.literal("GET /v1/events"), queryStringParameters: orEmpty(ListEventsQuery) }),
]);

async function getEventsHandler(event: z.infer<typeof GetEventsEvent>, { business }: BusinessContext) {
  if (event.routeKey === "GET /v1/events/{eventId}") {
    const found = await getStoredEvent(business.businessId, event.pathParameters.eventId);
    if (!found) throw new HttpError("event_not_found", `No event ${event.pathParameters.eventId}.`);
    return json(200, found);
  }
  const query = event.queryStringParameters;
  const after = query.after === undefined ? undefined : decodeCursor(query.after);
  if (query.after !== undefined && after === undefined) throw new HttpError("after_invalid");
  const page = await listStoredEvents(business.businessId, {
    ...(after !== undefined ? { after } : {}),
    ...(query.type !== undefined ? { type: query.type } : {}),
    ...(query.paymentId !== undefined ? { paymentId: query.paymentId } : {}),
    limit: query.limit === undefined ? 50 : Number(query.limit),
  });
  return json(200, page);
}

export const handler = middy(getEventsHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(httpApi())
  .use(businessCaller())
  .use(parser({ schema: GetEventsEvent }));
