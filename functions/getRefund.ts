import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { httpApi, json } from "../lib/api/http.js";
import { PaymentPath, RefundPath } from "../lib/api/requests.js";
import { type BusinessContext, businessCaller } from "../lib/business/caller.js";
import { logger, metrics } from "../lib/observability.js";
import { readBusinessRefund, readBusinessRefunds } from "../lib/refunds/read.js";

// Two routes: GET /v1/payments/{paymentId}/refunds/{refundId} and GET /v1/payments/{paymentId}/refunds
const GetRefundEvent = z.object({ pathParameters: z.union([RefundPath, PaymentPath]) });

async function getRefundHandler(event: z.infer<typeof GetRefundEvent>, { business }: BusinessContext) {
  const path = event.pathParameters;
  if ("refundId" in path) return json(200, await readBusinessRefund(business.businessId, path.paymentId, path.refundId));
  return json(200, { refunds: await readBusinessRefunds(business.businessId, path.paymentId) });
}

export const handler = middy(getRefundHandler)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(httpApi())
  .use(businessCaller())
  .use(parser({ schema: GetRefundEvent }));
