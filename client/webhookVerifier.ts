// Verifying the events the payment center delivers to a business system's webhook (docs/webhooks.md).
// Self-contained (node:crypto only): copy it into a business system's code as it is.
//
//   header  alipay-pay-signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]
//   digest  HMAC-SHA256, key = the webhook secret's text as UTF-8 bytes (not hex-decoded),
//           message = "<t>.<raw request body>" (the bytes received, before any JSON parsing),
//           written as 64 lower-case hex characters
//   accept  when any v1 matches (two during a secret rotation: one per secret) and t is within the
//           tolerance of now (default 300 s) in either direction; compare in constant time
import { createHmac, timingSafeEqual } from "node:crypto";

export const signatureHeaderName = "alipay-pay-signature";
export const defaultToleranceSeconds = 300;

export type Verification =
  | { ok: true }
  | { ok: false; reason: "missing_header" | "malformed_header" | "timestamp_outside_tolerance" | "no_matching_signature" };

export interface VerifyOptions {
  /** How far t may be from now, either way (default 300: five minutes). */
  toleranceSeconds?: number;
  /** Now, in unix seconds (default: the clock). */
  now?: number;
}

/**
 * Checks an event's signature. `secret` may be a list: while you roll your own copy of the secret,
 * accept either. `rawBody` is the body exactly as received (a string as UTF-8, or its bytes).
 */
export function verifyWebhook(
  secret: string | readonly string[],
  header: string | null | undefined,
  rawBody: string | Uint8Array,
  { toleranceSeconds = defaultToleranceSeconds, now = Math.floor(Date.now() / 1000) }: VerifyOptions = {},
): Verification {
  if (!header) return { ok: false, reason: "missing_header" };
  let timestamp: number | undefined;
  const given: Buffer[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) return { ok: false, reason: "malformed_header" };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") {
      if (!/^\d{1,12}$/.test(value)) return { ok: false, reason: "malformed_header" };
      timestamp = Number(value);
    } else if (key === "v1") {
      // Exactly a SHA-256 hex digest: Buffer.from(..., "hex") would drop a non-hex tail silently.
      if (/^[0-9a-f]{64}$/.test(value)) given.push(Buffer.from(value, "hex"));
    }
    // Other keys (a future v2=) are ignored.
  }
  if (timestamp === undefined || given.length === 0) return { ok: false, reason: "malformed_header" };
  if (Math.abs(now - timestamp) > toleranceSeconds) return { ok: false, reason: "timestamp_outside_tolerance" };
  const body = typeof rawBody === "string" ? Buffer.from(rawBody, "utf8") : Buffer.from(rawBody);
  for (const key of typeof secret === "string" ? [secret] : secret) {
    const expected = createHmac("sha256", Buffer.from(key, "utf8")).update(`${timestamp}.`).update(body).digest();
    if (given.some((candidate) => timingSafeEqual(candidate, expected))) return { ok: true };
  }
  return { ok: false, reason: "no_matching_signature" };
}
