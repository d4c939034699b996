// client/webhookVerifier.ts against the signer the payment center uses (lib/webhookSignature.ts).
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyWebhook } from "../../client/webhookVerifier.js";
import { signWebhook } from "../../lib/webhookSignature.js";

const secret = "3f1c0d9be2a44e0c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c";
const body = '{"id":"evt_pay1_succeeded","type":"payment.succeeded","data":{"subject":"咖啡豆 ☕"}}';
const t = 1_767_225_600;

describe("verifyWebhook", () => {
  it("accepts what the payment center signs, as text or bytes, with either secret during a rotation", () => {
    expect(verifyWebhook(secret, signWebhook(secret, body, t), body, { now: t })).toEqual({ ok: true });
    expect(verifyWebhook(secret, signWebhook(secret, body, t), Buffer.from(body, "utf8"), { now: t })).toEqual({ ok: true });
    const rotating = signWebhook(["old-secret", secret], body, t);
    expect(rotating.split(",").filter((p) => p.startsWith("v1="))).toHaveLength(2);
    expect(verifyWebhook(secret, rotating, body, { now: t })).toEqual({ ok: true });
    expect(verifyWebhook("old-secret", rotating, body, { now: t })).toEqual({ ok: true });
    expect(verifyWebhook(["not-yet-installed", secret], signWebhook(secret, body, t), body, { now: t })).toEqual({ ok: true });
  });

  it("is HMAC-SHA256 in hex, keyed with the secret's UTF-8 text (not its hex-decoded bytes), over '<t>.<raw body>'", () => {
    const hex = createHmac("sha256", Buffer.from(secret, "utf8")).update(`${t}.${body}`).digest("hex");
    expect(signWebhook(secret, body, t)).toBe(`t=${t},v1=${hex}`);
    const decodedKey = createHmac("sha256", Buffer.from(secret, "hex")).update(`${t}.${body}`).digest("hex");
    expect(verifyWebhook(secret, `t=${t},v1=${decodedKey}`, body, { now: t })).toEqual({ ok: false, reason: "no_matching_signature" });
    // Re-serialised JSON is other bytes.
    expect(verifyWebhook(secret, signWebhook(secret, body, t), JSON.stringify(JSON.parse(body), null, 1), { now: t })).toMatchObject({
      ok: false,
    });
  });

  it("refuses a timestamp past the tolerance either way (300 s by default), and bad headers with a reason", () => {
    const header = signWebhook(secret, body, t);
    expect(verifyWebhook(secret, header, body, { now: t + 300 })).toEqual({ ok: true });
    expect(verifyWebhook(secret, header, body, { now: t - 300 })).toEqual({ ok: true });
    expect(verifyWebhook(secret, header, body, { now: t + 301 })).toEqual({ ok: false, reason: "timestamp_outside_tolerance" });
    expect(verifyWebhook(secret, header, body, { now: t - 301 })).toEqual({ ok: false, reason: "timestamp_outside_tolerance" });
    expect(verifyWebhook(secret, header, body, { now: t + 3600, toleranceSeconds: 3600 })).toEqual({ ok: true });
    expect(verifyWebhook(secret, undefined, body)).toEqual({ ok: false, reason: "missing_header" });
    expect(verifyWebhook(secret, "garbage", body, { now: t })).toEqual({ ok: false, reason: "malformed_header" });
    expect(verifyWebhook(secret, `t=${t}`, body, { now: t })).toEqual({ ok: false, reason: "malformed_header" });
    expect(verifyWebhook(secret, `t=${t},v1=${"A".repeat(64)}`, body, { now: t })).toEqual({ ok: false, reason: "malformed_header" });
    expect(verifyWebhook(secret, `${header},v2=whatever`, body, { now: t })).toEqual({ ok: true });
  });

  it("agrees with lib/webhookSignature.ts's own check on any body, secret and time", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string(), fc.integer({ min: 0, max: 2_000 }), (key, text, skew) => {
        const header = signWebhook(key, text, t);
        const ours = verifyWebhook(key, header, text, { now: t + skew }).ok;
        expect(ours).toBe(skew <= 300);
      }),
    );
  });
});
