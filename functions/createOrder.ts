import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";
import { authenticatedUser, header, rawBody } from "../lib/apiEvent.js";
import { json, withHttpErrors } from "../lib/http.js";
import { logger, observed } from "../lib/observability.js";
import { createOrder } from "../lib/orders/create.js";
import { parseCreateOrderBody, parseIdempotencyKey } from "../lib/orders/validation.js";

export const handler = observed("createOrder", async (event: APIGatewayProxyEventV2WithJWTAuthorizer) =>
  withHttpErrors(async () => {
    const userId = authenticatedUser(event);
    const idempotencyKey = parseIdempotencyKey(header(event, "idempotency-key"));
    const input = parseCreateOrderBody(rawBody(event));
    const result = await createOrder(userId, idempotencyKey, input);
    return json(result.statusCode, result.order, result.replayed ? { "idempotent-replayed": "true" } : {});
  }, (error) => logger.error("createOrder failed", { error: error as Error })),
);
