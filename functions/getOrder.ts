import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import { z } from "zod";
import { operations } from "../lib/api/contract.js";
import { httpApi, json } from "../lib/api/http.js";
import { JwtAuthorized } from "../lib/api/schemas.js";
import { logger, metrics } from "../lib/observability.js";
import { readOrder } from "../lib/orders/status.js";

const GetOrderEvent = z.object({
  pathParameters: operations.getOrder.request.pathParameters,
  requestContext: JwtAuthorized,
});

async function getOrderHandler(event: z.infer<typeof GetOrderEvent>) {
  return json(200, await readOrder(event.requestContext.authorizer.jwt.claims.sub, event.pathParameters.orderId));
}

export const handler = middy(getOrderHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(httpApi())
  .use(parser({ schema: GetOrderEvent }));
