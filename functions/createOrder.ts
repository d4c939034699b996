import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import { z } from "zod";
import { operations } from "../lib/api/contract.js";
import { httpApi, json } from "../lib/api/http.js";
import { apiEvent, JsonBody, JwtAuthorized } from "../lib/api/schemas.js";
import { logger, metrics } from "../lib/observability.js";
import { createOrder } from "../lib/orders/create.js";

const { request } = operations.createOrder;
const CreateOrderEvent = apiEvent(z.object({
  headers: request.headers,
  body: JsonBody(request.body),
  requestContext: JwtAuthorized,
}));

async function createOrderHandler(event: z.infer<typeof CreateOrderEvent>) {
  const result = await createOrder(event.requestContext.authorizer.jwt.claims.sub, event.headers["idempotency-key"], event.body);
  return json(result.statusCode, result.order, result.replayed ? { "idempotent-replayed": "true" } : {});
}

export const handler = middy(createOrderHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(httpApi())
  .use(parser({ schema: CreateOrderEvent }));
