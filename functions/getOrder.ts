import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";
import { authenticatedUser } from "../lib/apiEvent.js";
import { json, withHttpErrors } from "../lib/http.js";
import { logger, observed } from "../lib/observability.js";
import { readOrder } from "../lib/orders/status.js";

export const handler = observed("getOrder", async (event: APIGatewayProxyEventV2WithJWTAuthorizer) =>
  withHttpErrors(async () => {
    const userId = authenticatedUser(event);
    return json(200, await readOrder(userId, event.pathParameters?.orderId ?? ""));
  }, (error) => logger.error("getOrder failed", { error: error as Error })),
);
