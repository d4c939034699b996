import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { count, logger, metrics } from "../lib/observability.js";
import { handleNotification } from "../lib/payments/notify.js";
import { alipayKeysChecked } from "../lib/alipay/client.js";
import { withAlipayDeadline } from "../lib/alipay/deadline.js";

const text = (statusCode: number, body: "success" | "failure"): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { "content-type": "text/plain; charset=utf-8" },
  body,
});

// Alipay's form body is parsed exactly once, by the notification code (its content type is malformed).
const rawBody = (event: APIGatewayProxyEventV2) =>
  event.body === undefined ? "" : event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;

// Alipay stops retrying only on the literal body `success`, so it is sent only for durable outcomes.
async function alipayNotifyHandler(event: APIGatewayProxyEventV2) {
  const outcome = await handleNotification(rawBody(event));
  if (outcome.kind === "rejected") return text(200, "failure");
  count("NotificationsAccepted", { name: "outcome", value: outcome.kind });
  return text(200, "success");
}

// Deadline-bound: after Alipay rotates its certificate, a notification may make gateway calls
// (lib/alipay/gateway.ts verifyNotificationAfterRotation).
export const handler = middy(withAlipayDeadline(alipayNotifyHandler))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics()))
  .use(alipayKeysChecked())
  .use({
    // Transient (DynamoDB, a crash between steps): not acknowledged, Alipay sends it again.
    onError: async (request) => {
      logger.error("notification not processed, Alipay will retry", { error: request.error as Error });
      request.response = text(500, "failure");
    },
  });
