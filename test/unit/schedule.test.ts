import { describe, expect, it } from "vitest";
import { nextCheckAt } from "../../lib/payments/schedule.js";
import { toAlipayTime, fromAlipayTime } from "../../lib/alipay/time.js";
import { backoffSeconds } from "../../lib/queue.js";

describe("check schedule", () => {
  const schedule = [30, 60, 120];
  it("follows the schedule from the anchor", () => {
    expect(nextCheckAt(0, schedule, 0)).toBe(30_000);
    expect(nextCheckAt(0, schedule, 30_000)).toBe(60_000);
    expect(nextCheckAt(0, schedule, 61_000)).toBe(120_000);
  });
  it("never checks later than the deadline (the attempt's time_expire plus margin)", () => {
    expect(nextCheckAt(0, schedule, 61_000, 90_000)).toBe(90_000);
  });
  it("keeps checking past the schedule with its last interval", () => {
    expect(nextCheckAt(0, schedule, 500_000)).toBe(620_000);
    expect(nextCheckAt(0, schedule, 500_000, 400_000)).toBe(620_000);
  });
});

describe("Alipay time", () => {
  it("formats in GMT+8 whatever the process time zone", () => {
    expect(toAlipayTime(Date.UTC(2026, 10, 25, 16, 30, 5, 999))).toBe("2026-11-26 00:30:05");
    expect(fromAlipayTime("2026-11-26 00:30:05")).toBe(Date.UTC(2026, 10, 25, 16, 30, 5));
    expect(fromAlipayTime("2026-11-26T00:30:05")).toBeUndefined();
  });
});

describe("retry backoff", () => {
  it("doubles per receive and caps at SQS's 12 hours", () => {
    expect([1, 2, 3, 4].map((n) => backoffSeconds(n, 10))).toEqual([10, 20, 40, 80]);
    expect(backoffSeconds(30, 10)).toBe(43_200);
  });
});
