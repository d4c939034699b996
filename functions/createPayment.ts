import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { httpApi, json } from "../lib/api/http.js";
import { CreatePaymentBody, CreatePaymentHeaders } from "../lib/api/requests.js";
import { apiEvent, JsonBody } from "../lib/api/schemas.js";
import { type BusinessContext, businessCaller } from "../lib/business/caller.js";
import { logger, metrics } from "../lib/observability.js";
import { createPayment } from "../lib/payments/create.js";

const CreatePaymentEvent = apiEvent(
  z.object({
    headers: CreatePaymentHeaders,
    body: JsonBody(CreatePaymentBody),
  }),
);

async function createPaymentHandler(event: z.infer<typeof CreatePaymentEvent>, { business }: BusinessContext) {
  const answer = await createPayment(business, event.headers["idempotency-key"], event.body);
  return json(answer.statusCode, answer.body, answer.replayed ? { "idempotent-replayed": "true" } : {});
}

export const handler = middy(createPaymentHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(httpApi())
  .use(businessCaller())
  .use(parser({ schema: CreatePaymentEvent }));
