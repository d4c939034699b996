// The simulator closes an unpaid trade at its deadline. Node's timers run on a monotonic clock and
// fire up to a millisecond before Date.now() reaches the deadline (about 3 in 100 here): such a
// trade must still close, not stay WAIT_BUYER_PAY for good.
import { afterEach, describe, expect, it, vi } from "vitest";
import { armExpiry, type SimulatorContext } from "../../simulator/context.js";
import type { Trade } from "../../simulator/ledger.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("simulator expiry timer", () => {
  it("closes a trade whose timer fired a millisecond before its deadline by Date.now()", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const deadline = Date.now() + 1000;
    const trade = { outTradeNo: "early_1", status: "WAIT_BUYER_PAY", expiresAtMs: deadline } as Trade;
    const ctx = { expiryTimers: new Map(), log: () => undefined } as unknown as SimulatorContext;
    armExpiry(ctx, trade);
    // The timer fires at its delay while the wall clock still reads a millisecond early.
    vi.setSystemTime(deadline - 1 - 1000);
    vi.advanceTimersByTime(1000);
    expect(Date.now()).toBe(deadline - 1);
    expect(trade.status).toBe("WAIT_BUYER_PAY");
    vi.advanceTimersByTime(1);
    expect(trade).toMatchObject({ status: "TRADE_CLOSED", closedReason: "timeout" });
    expect(ctx.expiryTimers.size).toBe(0);
  });
});
