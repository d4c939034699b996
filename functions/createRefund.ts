import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { httpApi, json } from "../lib/api/http.js";
import { CreateRefundBody, CreateRefundHeaders, PaymentPath } from "../lib/api/requests.js";
import { apiEvent, JsonBody } from "../lib/api/schemas.js";
import { type BusinessContext, businessCaller } from "../lib/business/caller.js";
import { logger, metrics } from "../lib/observability.js";
import { createRefund } from "../lib/refunds/create.js";

const CreateRefundEvent = apiEvent(
  z.object({
    headers: CreateRefundHeaders,
    pathParameters: PaymentPath,
    body: JsonBody(CreateRefundBody),
  }),
);

async function createRefundHandler(event: z.infer<typeof CreateRefundEvent>, { business }: BusinessContext) {
  const answer = await createRefund(business, event.pathParameters.paymentId, event.headers["idempotency-key"], event.body);
  return json(answer.statusCode, answer.body, answer.replayed ? { "idempotent-replayed": "true" } : {});
}

export const handler = middy(createRefundHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(httpApi())
  .use(businessCaller())
  .use(parser({ schema: CreateRefundEvent }));
