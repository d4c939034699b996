// What the mobile handlers need from an API Gateway (HTTP API, JWT authorizer) event.
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";
import { HttpError } from "./http.js";

export function authenticatedUser(event: APIGatewayProxyEventV2WithJWTAuthorizer): string {
  const subject = event.requestContext.authorizer?.jwt?.claims?.sub;
  // The authorizer already refused requests without a valid token; this guards misconfiguration.
  if (typeof subject !== "string" || subject === "") throw new HttpError(401, "unauthorized", "A valid bearer token is required.");
  return subject;
}

export function header(event: { headers?: Record<string, string | undefined> }, name: string): string | undefined {
  return event.headers?.[name.toLowerCase()];
}

export function rawBody(event: { body?: string; isBase64Encoded?: boolean }): string {
  if (event.body === undefined) return "";
  return event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
}
