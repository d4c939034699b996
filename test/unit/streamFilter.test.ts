import { describe, expect, it } from "vitest";
import { matchesAny } from "../../local/streamPoller.js";

describe("local stream event filtering", () => {
  const pattern = { dynamodb: { OldImage: { status: { S: ["PENDING"] } }, NewImage: { status: { S: ["PAID"] } } } };
  const record = (before: string | undefined, after: string) => ({
    eventName: "MODIFY",
    dynamodb: { ...(before ? { OldImage: { status: { S: before } } } : {}), NewImage: { status: { S: after } } },
  });
  it("keeps only records matching a pattern, as Lambda's filter criteria do", () => {
    expect(matchesAny(record("PENDING", "PAID"), [pattern])).toBe(true);
    expect(matchesAny(record("PAID", "PAID"), [pattern])).toBe(false);
    expect(matchesAny(record("PENDING", "CLOSED"), [pattern])).toBe(false);
    expect(matchesAny(record(undefined, "PAID"), [pattern])).toBe(false);
    expect(matchesAny(record("PAID", "PAID"), [])).toBe(true);
  });
});
