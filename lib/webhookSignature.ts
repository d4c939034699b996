// Signature on events delivered to business systems, Stripe-style: HMAC-SHA256 over
// "<unix seconds>.<raw body>", sent as `t=<seconds>,v1=<hex>`. The timestamp bounds replays.
// While a secret is being rotated both sign, so the header carries two `v1=` values and a
// receiver that knows either secret accepts it.
import { createHmac, timingSafeEqual } from "node:crypto";

export const signatureHeader = "alipay-pay-signature";
export const defaultToleranceSeconds = 300;

const digest = (secret: string, body: string, timestampSeconds: number) =>
  createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");

export function signWebhook(secrets: string | string[], body: string, timestampSeconds = Math.floor(Date.now() / 1000)): string {
  const all = typeof secrets === "string" ? [secrets] : secrets;
  return [`t=${timestampSeconds}`, ...all.map((secret) => `v1=${digest(secret, body, timestampSeconds)}`)].join(",");
}

export function verifyWebhook(
  secret: string,
  body: string,
  header: string | undefined,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = defaultToleranceSeconds,
): boolean {
  if (!header) return false;
  const parts = header.split(",").map((p) => p.trim().split("=", 2) as [string, string | undefined]);
  const timestamp = Number(parts.find(([k]) => k === "t")?.[1]);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(digest(secret, body, timestamp), "hex");
  return parts.some(([k, v]) => {
    // Exactly a SHA-256 hex digest: Buffer.from(..., "hex") would silently drop a non-hex tail.
    if (k !== "v1" || !v || !/^[0-9a-f]{64}$/.test(v)) return false;
    const given = Buffer.from(v, "hex");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
