import { describe, expect, it } from "vitest";
import { principalMatches } from "../../lib/business/registry.js";

describe("a caller's principal against a registered role", () => {
  const role = "arn:aws:iam::123456789012:role/shop-payments";
  it("matches the role's sessions and the role itself", () => {
    expect(principalMatches("arn:aws:sts::123456789012:assumed-role/shop-payments/i-0abc", role)).toBe(true);
    expect(principalMatches(role, role)).toBe(true);
    expect(
      principalMatches("arn:aws:sts::123456789012:assumed-role/shop-payments/s", "arn:aws:iam::123456789012:role/team/shop-payments"),
    ).toBe(true);
  });
  it("does not match another role, account or partition, or a prefix", () => {
    expect(principalMatches("arn:aws:sts::123456789012:assumed-role/shop-payments-2/s", role)).toBe(false);
    expect(principalMatches("arn:aws:sts::999999999999:assumed-role/shop-payments/s", role)).toBe(false);
    expect(principalMatches("arn:aws-cn:sts::123456789012:assumed-role/shop-payments/s", role)).toBe(false);
    expect(principalMatches("arn:aws:iam::123456789012:user/shop-payments", role)).toBe(false);
    expect(principalMatches("arn:aws:sts::123456789012:assumed-role/shop-payments", role)).toBe(false);
  });
});
