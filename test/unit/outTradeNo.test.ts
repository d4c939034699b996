// The out_trade_no of an attempt carries the deployment's prefix (DEPLOYMENT_PREFIX); attempts made
// before prefixes keep their unprefixed numbers, and another deployment's numbers are not ours.
import { afterEach, describe, expect, it } from "vitest";
import { deploymentPrefix } from "../../lib/config.js";
import { derivePaymentId, otherDeploymentPrefix, outTradeNo, parseOutTradeNo, splitOutTradeNo } from "../../lib/payments/model.js";

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

  it("tells another deployment's out_trade_no from ours, one made before prefixes, and one not of this system", () => {
    expect(splitOutTradeNo(`stg_${id}_2`)).toEqual({ prefix: "stg", paymentId: id, attemptNo: 2 });
    expect(splitOutTradeNo(`${id}_2`)).toEqual({ prefix: "", paymentId: id, attemptNo: 2 });
    expect(otherDeploymentPrefix(`prod_${id}_2`, "stg")).toBe("prod");
    expect(otherDeploymentPrefix(`stg_${id}_2`, "stg")).toBeUndefined();
    // Made before prefixes: reconciled as ours on every stack.
    expect(otherDeploymentPrefix(`${id}_2`, "stg")).toBeUndefined();
    // A stack without a prefix (local): every prefixed one is another deployment's.
    expect(otherDeploymentPrefix(`stg_${id}_2`, "")).toBe("stg");
    // Not this system's form at all (another integration, a console collection): no deployment's.
    for (const foreign of [
      "",
      "unknown_3f2a",
      `prod_${id}`,
      `prod_${id}_0`,
      `prod_${id}_12345`,
      `toolongpfx_${id}_1`,
      `a_b_${id}_1`,
      `${id}x_1`,
      `prod_${id.toUpperCase()}_1`,
    ]) {
      expect(splitOutTradeNo(foreign), foreign).toBeUndefined();
      expect(otherDeploymentPrefix(foreign, "stg"), foreign).toBeUndefined();
    }
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
