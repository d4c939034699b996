import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { alipayKeysChecked } from "../lib/alipay/client.js";
import { withAlipayDeadline } from "../lib/alipay/deadline.js";
import { httpApi, json } from "../lib/api/http.js";
import { PaymentPath } from "../lib/api/requests.js";
import { type BusinessContext, businessCaller } from "../lib/business/caller.js";
import { logger, metrics } from "../lib/observability.js";
import { cancelPayment } from "../lib/payments/cancel.js";
import { businessPaymentView } from "../lib/payments/model.js";

const CancelPaymentEvent = z.object({
  pathParameters: PaymentPath,
});

async function cancelPaymentHandler(event: z.infer<typeof CancelPaymentEvent>, { business }: BusinessContext) {
  return json(200, businessPaymentView(await cancelPayment(business.businessId, event.pathParameters.paymentId)));
}

// Its Alipay calls share the invocation's time (lib/alipay/deadline.ts; budget in serverless.yml).
export const handler = middy(withAlipayDeadline(cancelPaymentHandler))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(alipayKeysChecked())
  .use(httpApi())
  .use(businessCaller())
  .use(parser({ schema: CancelPaymentEvent }));
