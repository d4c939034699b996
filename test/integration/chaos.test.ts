// A smaller chaos run inside `npm test` (the full one is `npm run chaos`).
import { describe, expect, it } from "vitest";
import { chaosStackOptions } from "../chaos/settings.js";
import { formatReport, runChaos } from "../chaos/chaos.js";
import { useStack } from "./harness.js";

const t = useStack(chaosStackOptions);

describe("chaos", () => {
  it("loses nothing, pays nothing twice, leaves nothing stuck and routes every event to its own system under every kind of fault", async () => {
    // Unpaid payments expire 72 s after creation (test/chaos/settings.ts): the run settles after that.
    const report = await runChaos(t.stack, { payments: 60, concurrency: 12, dynamoFailureRate: 0.05, cancelRate: 0.1, settleTimeoutMs: 120_000, seed: 20261125 });
    console.log(formatReport(report));
    expect(report.problems).toEqual([]);
    expect(report.payments).toBe(60);
    expect(report.paidAtAlipay).toBeGreaterThan(20);
    expect(report.cancelRequests).toBeGreaterThan(2);
    expect(report.eventsDelivered.shop).toBeGreaterThan(0);
    expect(report.eventsDelivered.membership).toBeGreaterThan(0);
    expect(Object.keys(report.faults).length).toBeGreaterThan(8);
  }, 300_000);
});
