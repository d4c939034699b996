// HTTP plumbing shared by the API handlers: JSON answers, and the one place where errors become
// HTTP answers (`httpApi()`, a middy middleware): HttpError and request-validation failures as
// `{ code, message }` with a stable code, anything else as a 500 that says nothing about internals.
import type { MiddlewareObj } from "@middy/core";
import httpHeaderNormalizer from "@middy/http-header-normalizer";
import { ParseError } from "@aws-lambda-powertools/parser";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { logger } from "../observability.js";
import { type ErrorCode, errorCatalogue, HttpError } from "./errors.js";

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
    body: JSON.stringify(body),
  };
}

export function errorResponse(error: HttpError): APIGatewayProxyStructuredResultV2 {
  return json(error.statusCode, error.body);
}

interface Issue {
  code?: string;
  path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
  message: string;
  keys?: string[];
  /** What zod expected, for invalid_type issues. */
  expected?: string;
  params?: { errorCode?: ErrorCode };
}

const snakeCase = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/-/g, "_");

/** The stable error for the first problem zod found in a request (headers, path, body). */
export function requestError(issues: readonly Issue[]): HttpError {
  const issue = issues[0];
  if (!issue) return new HttpError("field_invalid");
  if (issue.params?.errorCode) return new HttpError(issue.params.errorCode, issue.message);
  const [part, field] = (issue.path ?? []).map((p) => String(typeof p === "object" ? p.key : p));
  // The authorizer already refused requests without valid credentials; this guards misconfiguration.
  if (part === "requestContext") return new HttpError("unauthorized");
  // API Gateway decodes the path before it calls us and refuses malformed encodings itself; path
  // parameters that still arrive wrong (none, not text) are the caller's 400. Any text is parsed
  // and answered by the handler: ids we never issued are 404.
  if (part === "pathParameters") return new HttpError("path_invalid");
  if (part === "body" && field === undefined) {
    // Before JSON parsing the body is a string: expecting one means there was none.
    if (issue.code === "invalid_type" && issue.expected === "string") return new HttpError("body_missing");
    return new HttpError(
      issue.code === "unrecognized_keys" ? "unknown_field" : "body_not_object",
      issue.code === "unrecognized_keys" ? `Unknown field(s): ${(issue.keys ?? []).slice(0, 5).join(", ")}.` : undefined,
    );
  }
  if (part === "body" && issue.code === "unrecognized_keys") {
    return new HttpError("unknown_field", `Unknown field(s): ${(issue.keys ?? []).slice(0, 5).join(", ")}.`);
  }
  // Query parameters are strings: any other type means there was none.
  if (part === "queryStringParameters" && field !== undefined && issue.code === "invalid_type") {
    const missing = `${snakeCase(field)}_missing`;
    if (missing in errorCatalogue) return new HttpError(missing as ErrorCode);
  }
  if (part === "headers" && field === "idempotency-key") {
    return new HttpError(issue.code === "invalid_type" ? "idempotency_key_missing" : "idempotency_key_invalid");
  }
  const code = field ? `${snakeCase(field)}_invalid` : "field_invalid";
  return code in errorCatalogue
    ? new HttpError(code as ErrorCode, issue.message)
    : new HttpError("field_invalid", `${field}: ${issue.message}`);
}

/**
 * The API handlers' error boundary (register it before the parser so its onError runs after the
 * parser's). Also lower-cases header names, as the schemas expect.
 */
export function httpApi(): MiddlewareObj {
  const headers = httpHeaderNormalizer();
  return {
    before: headers.before as MiddlewareObj["before"],
    onError: async (request) => {
      const { error } = request;
      if (error instanceof HttpError) {
        request.response = errorResponse(error);
      } else if (error instanceof ParseError && Array.isArray(error.cause)) {
        request.response = errorResponse(requestError(error.cause as Issue[]));
      } else if ((error as Error | undefined)?.name === "AlipayUnavailableError") {
        // By name: importing the gateway here would put alipay-sdk into every API bundle.
        logger.warn("Alipay unavailable", { error: String(error) });
        request.response = errorResponse(new HttpError("alipay_unavailable"));
      } else {
        logger.error("request failed", { error: error as Error });
        request.response = errorResponse(new HttpError("internal_error"));
      }
    },
  };
}
