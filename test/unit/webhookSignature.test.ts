import { describe, expect, it } from "vitest";
import { signWebhook, verifyWebhook } from "../../lib/webhookSignature.js";

describe("webhook signature", () => {
  const body = JSON.stringify({ id: "evt_1", type: "order.paid" });
  it("verifies what it signs, within the tolerance", () => {
    expect(verifyWebhook("secret", body, signWebhook("secret", body, 1000), 1000)).toBe(true);
    expect(verifyWebhook("secret", body, signWebhook("secret", body, 1000), 1299)).toBe(true);
  });
  it("refuses another secret, another body, an old timestamp and garbage", () => {
    expect(verifyWebhook("other", body, signWebhook("secret", body, 1000), 1000)).toBe(false);
    expect(verifyWebhook("secret", `${body} `, signWebhook("secret", body, 1000), 1000)).toBe(false);
    expect(verifyWebhook("secret", body, signWebhook("secret", body, 1000), 1301)).toBe(false);
    expect(verifyWebhook("secret", body, "t=abc,v1=zz", 1000)).toBe(false);
    expect(verifyWebhook("secret", body, undefined, 1000)).toBe(false);
  });
});
