import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { httpApi, json } from "../lib/api/http.js";
import { PaymentPath } from "../lib/api/requests.js";
import { JwtAuthorized } from "../lib/api/schemas.js";
import { logger, metrics } from "../lib/observability.js";
import { appPaymentView } from "../lib/payments/model.js";
import { readPaymentForApp } from "../lib/payments/read.js";
import { alipayKeysChecked } from "../lib/alipay/client.js";
import { withAlipayDeadline } from "../lib/alipay/deadline.js";

const GetAppPaymentEvent = z.object({
  pathParameters: PaymentPath,
  requestContext: JwtAuthorized,
});

async function getAppPaymentHandler(event: z.infer<typeof GetAppPaymentEvent>) {
  return json(200, appPaymentView(await readPaymentForApp(event.requestContext.authorizer.jwt.claims.sub, event.pathParameters.paymentId)));
}

// Its Alipay calls share the invocation's time (lib/alipay/deadline.ts; budget in serverless.yml).
export const handler = middy(withAlipayDeadline(getAppPaymentHandler))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(alipayKeysChecked())
  .use(httpApi())
  .use(parser({ schema: GetAppPaymentEvent }));
