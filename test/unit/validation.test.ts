import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HttpError } from "../../lib/http.js";
import { deriveOrderId, requestHash } from "../../lib/orders/create.js";
import { parseCreateOrderBody, parseIdempotencyKey } from "../../lib/orders/validation.js";

describe("create-order input", () => {
  it("accepts a valid body and keeps only known fields", () => {
    expect(parseCreateOrderBody(JSON.stringify({ merchantOrderId: "mo-1", amount: 1, subject: "咖啡豆 1kg" }))).toEqual({
      merchantOrderId: "mo-1", amount: 1, subject: "咖啡豆 1kg",
    });
  });

  it("answers every other input with a 4xx HttpError, never anything else", () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (raw) => {
      try {
        const parsed = parseCreateOrderBody(raw);
        expect(Number.isSafeInteger(parsed.amount)).toBe(true);
      } catch (error) {
        expect(error).toBeInstanceOf(HttpError);
        expect((error as HttpError).statusCode).toBeGreaterThanOrEqual(400);
        expect((error as HttpError).statusCode).toBeLessThan(500);
        expect((error as HttpError).code).toMatch(/^[a-z_]+$/);
      }
    }));
  });

  it("checks the idempotency key", () => {
    expect(parseIdempotencyKey("abc-123")).toBe("abc-123");
    for (const bad of [undefined, "", "has space", "x".repeat(256), "ключ"]) expect(() => parseIdempotencyKey(bad)).toThrow(HttpError);
  });
});

describe("order id", () => {
  it("is a valid out_trade_no, stable per user and key, distinct across users", () => {
    const id = deriveOrderId("alice", "k1");
    expect(id).toMatch(/^[A-Za-z0-9_]{1,64}$/);
    expect(deriveOrderId("alice", "k1")).toBe(id);
    expect(deriveOrderId("bob", "k1")).not.toBe(id);
    expect(requestHash({ merchantOrderId: "a", amount: 1, subject: "s" })).not.toBe(requestHash({ merchantOrderId: "a", amount: 2, subject: "s" }));
  });
});
