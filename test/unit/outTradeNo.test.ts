// The out_trade_no of an attempt carries the deployment's prefix (DEPLOYMENT_PREFIX); attempts made
// before prefixes keep their unprefixed numbers, and another deployment's numbers are not ours.
import { afterEach, describe, expect, it } from "vitest";
import { deploymentPrefix } from "../../lib/config.js";
import { derivePaymentId, outTradeNo, parseOutTradeNo } from "../../lib/payments/model.js";

const saved = process.env.DEPLOYMENT_PREFIX;
afterEach(() => {
  if (saved === undefined) delete process.env.DEPLOYMENT_PREFIX;
  else process.env.DEPLOYMENT_PREFIX = saved;
});
const id = derivePaymentId("shop", "cart-42");

describe("out_trade_no", () => {
  it("is <prefix>_<paymentId>_<n>, within Alipay's 64 letters, digits and _", () => {
    expect(outTradeNo(id, 1, "stg")).toBe(`stg_${id}_1`);
    expect(outTradeNo(id, 1, "prod")).not.toBe(outTradeNo(id, 1, "stg"));
    expect(outTradeNo(id, 1)).toBe(`${id}_1`);
    expect(outTradeNo(id, 9999, "ABCDEFGH")).toMatch(/^[A-Za-z0-9_]{1,64}$/);
  });

  it("reads this deployment's prefix and the unprefixed form, not another deployment's", () => {
    process.env.DEPLOYMENT_PREFIX = "stg";
    expect(parseOutTradeNo(`stg_${id}_2`)).toEqual({ paymentId: id, attemptNo: 2 });
    expect(parseOutTradeNo(`${id}_2`)).toEqual({ paymentId: id, attemptNo: 2 });
    expect(parseOutTradeNo(`prod_${id}_2`)).toBeUndefined();
    delete process.env.DEPLOYMENT_PREFIX;
    expect(parseOutTradeNo(`stg_${id}_2`)).toBeUndefined();
    expect(parseOutTradeNo(`${id}_2`)).toEqual({ paymentId: id, attemptNo: 2 });
  });

  it("DEPLOYMENT_PREFIX is 1-8 letters or digits, or empty", () => {
    for (const good of ["", "p", "prod", "Stg2EU01"]) {
      process.env.DEPLOYMENT_PREFIX = good;
      expect(deploymentPrefix()).toBe(good);
    }
    for (const bad of ["stg-eu", "stg_eu", "prod-2026-x", "123456789"]) {
      process.env.DEPLOYMENT_PREFIX = bad;
      expect(() => deploymentPrefix()).toThrow("Bad configuration: DEPLOYMENT_PREFIX (1-8 letters or digits)");
    }
  });
});
