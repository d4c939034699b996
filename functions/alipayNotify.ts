import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { rawBody } from "../lib/apiEvent.js";
import { count, logger, observed } from "../lib/observability.js";
import { handleNotification } from "../lib/orders/notify.js";

const text = (statusCode: number, body: string): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { "content-type": "text/plain; charset=utf-8" },
  body,
});

// Alipay stops retrying only on the literal body `success`, so it is sent only for durable outcomes.
export const handler = observed("alipayNotify", async (event: APIGatewayProxyEventV2) => {
  try {
    const outcome = await handleNotification(rawBody(event));
    if (outcome.kind === "rejected") return text(200, "failure");
    count("NotificationsAccepted", { name: "outcome", value: outcome.kind });
    return text(200, "success");
  } catch (error) {
    // Transient (DynamoDB, a crash between steps): not acknowledged, Alipay sends it again.
    logger.error("notification not processed, Alipay will retry", { error: error as Error });
    return text(500, "failure");
  }
});
