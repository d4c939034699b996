import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { httpApi, json } from "../lib/api/http.js";
import { FindPaymentQuery, PaymentPath } from "../lib/api/requests.js";
import { orEmpty } from "../lib/api/schemas.js";
import { type BusinessContext, businessCaller } from "../lib/business/caller.js";
import { logger, metrics } from "../lib/observability.js";
import { businessPaymentView } from "../lib/payments/model.js";
import { findBusinessPayment, readBusinessPayment } from "../lib/payments/read.js";

// Two routes, told apart by API Gateway's routeKey.
const GetPaymentEvent = z.discriminatedUnion("routeKey", [
  z.object({ routeKey: z.literal("GET /v1/payments/{paymentId}"), pathParameters: PaymentPath }),
  z.object({ routeKey: z.literal("GET /v1/payments"), queryStringParameters: orEmpty(FindPaymentQuery) }),
]);

async function getPaymentHandler(event: z.infer<typeof GetPaymentEvent>, { business }: BusinessContext) {
  const payment =
    event.routeKey === "GET /v1/payments"
      ? await findBusinessPayment(business.businessId, event.queryStringParameters.businessOrderId)
      : await readBusinessPayment(business.businessId, event.pathParameters.paymentId);
  return json(200, businessPaymentView(payment));
}

export const handler = middy(getPaymentHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(httpApi())
  .use(businessCaller())
  .use(parser({ schema: GetPaymentEvent }));
