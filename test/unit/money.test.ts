import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fenToYuan, isValidAmountFen, maxAmountFen, yuanToFen } from "../../lib/money.js";

describe("money", () => {
  it("converts fen to Alipay's two-decimal yuan strings exactly", () => {
    expect(fenToYuan(1)).toBe("0.01");
    expect(fenToYuan(10)).toBe("0.10");
    expect(fenToYuan(1234)).toBe("12.34");
    expect(fenToYuan(maxAmountFen)).toBe("100000000.00");
  });

  it("parses only exact yuan strings", () => {
    expect(yuanToFen("0.01")).toBe(1);
    expect(yuanToFen("12.30")).toBe(1230);
    for (const bad of ["12.3", "12", "012.30", "-1.00", "1e2", "12.345", " 1.00", "1,00", ""]) expect(yuanToFen(bad)).toBeUndefined();
  });

  it("round-trips every amount", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: maxAmountFen }), (fen) => yuanToFen(fenToYuan(fen)) === fen));
  });

  it("accepts integer fen in Alipay's range only", () => {
    expect(isValidAmountFen(1)).toBe(true);
    expect(isValidAmountFen(maxAmountFen)).toBe(true);
    for (const bad of [0, -1, 1.5, maxAmountFen + 1, Number.NaN, "1", null]) expect(isValidAmountFen(bad)).toBe(false);
  });
});
