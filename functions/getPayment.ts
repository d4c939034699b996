import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { HttpError } from "../lib/api/errors.js";
import { httpApi, json } from "../lib/api/http.js";
import { FindPaymentQuery, PaymentPath } from "../lib/api/requests.js";
import { type BusinessContext, businessCaller } from "../lib/business/caller.js";
import { logger, metrics } from "../lib/observability.js";
import { businessPaymentView } from "../lib/payments/model.js";
import { findBusinessPayment, readBusinessPayment } from "../lib/payments/read.js";

// Two routes: GET /v1/payments/{paymentId} and GET /v1/payments?businessOrderId=...
const GetPaymentEvent = z.object({
  pathParameters: z.optional(PaymentPath),
  queryStringParameters: z.optional(FindPaymentQuery),
});

async function getPaymentHandler(event: z.infer<typeof GetPaymentEvent>, { business }: BusinessContext) {
  const paymentId = event.pathParameters?.paymentId;
  const businessOrderId = event.queryStringParameters?.businessOrderId;
  if (paymentId !== undefined) return json(200, businessPaymentView(await readBusinessPayment(business.businessId, paymentId)));
  if (businessOrderId === undefined) throw new HttpError("business_order_id_missing");
  return json(200, businessPaymentView(await findBusinessPayment(business.businessId, businessOrderId)));
}

export const handler = middy(getPaymentHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(httpApi())
  .use(businessCaller())
  .use(parser({ schema: GetPaymentEvent }));
