// HTTP responses for API Gateway: JSON bodies, and errors as { code, message } with stable codes.
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
    body: JSON.stringify(body),
  };
}

export function errorResponse(error: HttpError): APIGatewayProxyStructuredResultV2 {
  return json(error.statusCode, { code: error.code, message: error.message });
}

/** Answers HttpErrors as themselves; anything else is a 500 that says nothing about internals. */
export async function withHttpErrors(
  run: () => Promise<APIGatewayProxyStructuredResultV2>,
  onUnexpected: (error: unknown) => void,
): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error);
    onUnexpected(error);
    return json(500, { code: "internal_error", message: "Something went wrong on our side; retry with the same Idempotency-Key." });
  }
}
