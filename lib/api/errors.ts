// Every error code the HTTP APIs answer, with its status and what it means: the one list the
// handlers throw from, the OpenAPI document publishes and clients can switch on.
export const errorCatalogue = {
  // Request shape (any route with a path parameter, a body or headers).
  path_invalid: {
    status: 400,
    description: "The path is not valid percent-encoded UTF-8 (e.g. %ZZ, %C0%AF or a lone %), or a path parameter is missing.",
  },
  body_missing: { status: 400, description: "The request body must be a JSON object." },
  body_too_large: { status: 413, description: "The request body is larger than the route accepts." },
  body_not_json: { status: 400, description: "The request body is not valid JSON." },
  body_not_object: { status: 400, description: "The request body must be a JSON object." },
  unknown_field: { status: 400, description: "The body has a field the route does not know." },
  field_invalid: { status: 400, description: "A field has the wrong type or shape (the message names it)." },
  idempotency_key_missing: { status: 400, description: "The Idempotency-Key header is required." },
  idempotency_key_invalid: { status: 400, description: "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces." },
  business_order_id_invalid: { status: 400, description: "businessOrderId must be 1 to 64 letters, digits, '_' or '-'." },
  user_id_invalid: { status: 400, description: "userId must be 1 to 128 printable characters: the app user's id (the JWT subject)." },
  expires_in_seconds_invalid: { status: 400, description: "expiresInSeconds must be an integer from 120 to 1,296,000 (15 days)." },
  metadata_invalid: {
    status: 400,
    description:
      "metadata is at most 20 string values, keys up to 40 characters, values up to 500, no noncharacters or unpaired surrogates.",
  },
  business_order_id_missing: { status: 400, description: "Look a payment up with ?businessOrderId=..." },
  amount_invalid: { status: 400, description: "amount must be an integer number of fen within Alipay's bounds." },
  subject_invalid: {
    status: 400,
    description: "subject must be non-empty text without control characters, '/', '=', '&', noncharacters or unpaired surrogates.",
  },
  body_invalid: {
    status: 400,
    description: "body must be non-empty text without control characters, '/', '=', '&', noncharacters or unpaired surrogates.",
  },
  reason_invalid: {
    status: 400,
    description: "reason must be non-empty text of at most 256 characters, without noncharacters or unpaired surrogates.",
  },
  after_invalid: { status: 400, description: "after must be the nextCursor of an earlier page of GET /v1/events." },
  type_invalid: {
    status: 400,
    description: "type must be an event type (payment.succeeded, payment.canceled, payment.expired, refund.succeeded, refund.failed).",
  },
  payment_id_invalid: { status: 400, description: "paymentId must be 1 to 64 letters, digits, '_' or '-'." },
  limit_invalid: { status: 400, description: "limit must be an integer from 1 to 100." },
  // Who is calling.
  unauthorized: { status: 401, description: "A valid bearer token is required." },
  forbidden: { status: 403, description: "The caller is not a registered, active business system." },
  // State.
  payment_not_found: { status: 404, description: "No such payment for this caller." },
  refund_not_found: { status: 404, description: "No such refund of this payment for this caller." },
  event_not_found: { status: 404, description: "No such event for this caller (or it is older than 30 days)." },
  already_paid: { status: 409, description: "The payment is paid." },
  payment_canceled: { status: 409, description: "The payment was canceled by its business system." },
  payment_expired: { status: 409, description: "The payment has expired (or expires within a minute)." },
  payment_conflict: { status: 409, description: "The business order already has a payment with a different amount, subject or user." },
  previous_attempt_expiring: {
    status: 409,
    description: "The previous order string is still payable for a few seconds; retry in a minute.",
  },
  too_many_attempts: { status: 409, description: "The payment has had too many attempts." },
  payment_not_refundable: { status: 409, description: "Only a PAID payment can be refunded." },
  refund_exceeds_payment: {
    status: 409,
    description: "The payment's refunds would total more than was paid (the message says how much is left to refund).",
  },
  concurrent_update: { status: 409, description: "Another request is changing the same record; retry shortly." },
  idempotency_key_reused: { status: 422, description: "The Idempotency-Key was already used with a different request." },
  // Ours.
  internal_error: { status: 500, description: "Something went wrong on our side; retry with the same Idempotency-Key." },
  alipay_unavailable: { status: 503, description: "Alipay did not answer; retry shortly (the request is safe to repeat)." },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** An answer with a stable `{ code, message }`; the status comes from the catalogue. */
export class HttpError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string = errorCatalogue[code].description,
  ) {
    super(message);
    this.statusCode = errorCatalogue[code].status;
  }

  /** What the client reads: `{ code, message }`. */
  get body(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}
