import { describe, expect, it } from "vitest";
import { signWebhook, verifyWebhook } from "../../lib/webhookSignature.js";

describe("webhook signature", () => {
  const body = JSON.stringify({ id: "evt_pay1_succeeded", type: "payment.succeeded" });
  it("verifies what it signs, within the tolerance", () => {
    expect(verifyWebhook("secret", body, signWebhook("secret", body, 1000), 1000)).toBe(true);
    expect(verifyWebhook("secret", body, signWebhook("secret", body, 1000), 1299)).toBe(true);
    expect(verifyWebhook("secret", body, signWebhook("secret", body, 1000), 701)).toBe(true);
  });
  it("refuses another secret, another body, an old or future timestamp and garbage", () => {
    expect(verifyWebhook("other", body, signWebhook("secret", body, 1000), 1000)).toBe(false);
    expect(verifyWebhook("secret", `${body} `, signWebhook("secret", body, 1000), 1000)).toBe(false);
    expect(verifyWebhook("secret", body, signWebhook("secret", body, 1000), 1301)).toBe(false);
    expect(verifyWebhook("secret", body, signWebhook("secret", body, 1000), 699)).toBe(false);
    expect(verifyWebhook("secret", body, "t=abc,v1=zz", 1000)).toBe(false);
    expect(verifyWebhook("secret", body, undefined, 1000)).toBe(false);
    expect(verifyWebhook("secret", body, "", 1000)).toBe(false);
  });
  it("refuses a header whose timestamp was changed after signing", () => {
    const header = signWebhook("secret", body, 1000).replace("t=1000", "t=1001");
    expect(verifyWebhook("secret", body, header, 1001)).toBe(false);
  });
});

describe("webhook signature during a secret rotation", () => {
  const body = JSON.stringify({ id: "evt_pay1_succeeded", type: "payment.succeeded" });
  it("signs with both secrets: a receiver knowing either one verifies, a third secret does not", () => {
    const header = signWebhook(["new-secret", "old-secret"], body, 1000);
    expect(header.split(",").filter((p) => p.startsWith("v1="))).toHaveLength(2);
    expect(verifyWebhook("new-secret", body, header, 1000)).toBe(true);
    expect(verifyWebhook("old-secret", body, header, 1000)).toBe(true);
    expect(verifyWebhook("third-secret", body, header, 1000)).toBe(false);
    expect(verifyWebhook("old-secret", `${body} `, header, 1000)).toBe(false);
  });
  it("with one bad and one good v1, verifies with the good secret only", () => {
    const good = signWebhook("good-secret", body, 1000)
      .split(",")
      .find((p) => p.startsWith("v1="))!;
    const bad = `v1=${"0".repeat(64)}`;
    for (const header of [`t=1000,${bad},${good}`, `t=1000,${good},${bad}`]) {
      expect(verifyWebhook("good-secret", body, header, 1000), header).toBe(true);
      expect(verifyWebhook("other-secret", body, header, 1000), header).toBe(false);
    }
    // A truncated good value next to a bad one verifies nothing.
    expect(verifyWebhook("good-secret", body, `t=1000,${bad},${good.slice(0, -2)}`, 1000)).toBe(false);
  });
  it("compares the whole v1 value: a good digest followed by other characters is not the signature", () => {
    const good = signWebhook("good-secret", body, 1000)
      .split(",")
      .find((p) => p.startsWith("v1="))!;
    for (const suffix of ["0", "zz", "00"]) {
      expect(verifyWebhook("good-secret", body, `t=1000,${good}${suffix}`, 1000), suffix).toBe(false);
    }
  });
});
