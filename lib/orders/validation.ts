// Input rules for creating an order. Every failure is an HttpError with a stable code.
import { HttpError } from "../http.js";
import { isValidAmountFen, maxAmountFen, minAmountFen } from "../money.js";

export interface CreateOrderInput {
  merchantOrderId: string;
  amount: number;
  subject: string;
  body?: string;
}

export const maxRequestBytes = 16 * 1024;
const allowedFields = new Set(["merchantOrderId", "amount", "subject", "body"]);
const merchantOrderIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;
// Alipay refuses control characters and its own separators (/ = &) in subject and body.
const forbiddenTextPattern = /[\u0000-\u001f\u007f/=&]/u;
const maxSubjectLength = 256;
const maxBodyLength = 128;

export function parseIdempotencyKey(value: string | undefined): string {
  if (value === undefined || value === "") {
    throw new HttpError(400, "idempotency_key_missing", "The Idempotency-Key header is required: a unique value per purchase attempt, reused on retries.");
  }
  if (!idempotencyKeyPattern.test(value)) {
    throw new HttpError(400, "idempotency_key_invalid", "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces.");
  }
  return value;
}

export function parseCreateOrderBody(raw: string | undefined): CreateOrderInput {
  if (raw === undefined || raw === "") throw new HttpError(400, "body_missing", "The request body must be a JSON object.");
  if (Buffer.byteLength(raw, "utf8") > maxRequestBytes) {
    throw new HttpError(413, "body_too_large", `The request body must be at most ${maxRequestBytes} bytes.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new HttpError(400, "body_not_json", "The request body is not valid JSON.");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new HttpError(400, "body_not_object", "The request body must be a JSON object.");
  }
  const fields = parsed as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !allowedFields.has(k));
  if (unknown.length > 0) throw new HttpError(400, "unknown_field", `Unknown field(s): ${unknown.slice(0, 5).join(", ")}.`);

  const { merchantOrderId, amount, subject, body } = fields;
  if (typeof merchantOrderId !== "string" || !merchantOrderIdPattern.test(merchantOrderId)) {
    throw new HttpError(400, "merchant_order_id_invalid", "merchantOrderId must be 1 to 64 letters, digits, '_' or '-'.");
  }
  if (!isValidAmountFen(amount)) {
    throw new HttpError(400, "amount_invalid", `amount must be an integer number of fen from ${minAmountFen} to ${maxAmountFen}.`);
  }
  checkText("subject", subject, maxSubjectLength, true);
  checkText("body", body, maxBodyLength, false);
  return { merchantOrderId, amount, subject: subject as string, ...(body !== undefined ? { body: body as string } : {}) };
}

function checkText(name: string, value: unknown, maxLength: number, required: boolean): void {
  if (value === undefined && !required) return;
  if (typeof value !== "string" || value.trim() === "") {
    throw new HttpError(400, `${name}_invalid`, `${name} must be a non-empty string.`);
  }
  if ([...value].length > maxLength) throw new HttpError(400, `${name}_invalid`, `${name} must be at most ${maxLength} characters.`);
  if (forbiddenTextPattern.test(value) || !value.isWellFormed()) {
    throw new HttpError(400, `${name}_invalid`, `${name} must not contain control characters, '/', '=' or '&'.`);
  }
}
