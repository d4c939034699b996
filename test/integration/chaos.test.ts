// A smaller chaos run inside `npm test` (the full one is `npm run chaos`).
import { describe, expect, it } from "vitest";
import { chaosStackOptions } from "../chaos/settings.js";
import { formatReport, runChaos } from "../chaos/chaos.js";
import { useStack } from "./harness.js";

const t = useStack(chaosStackOptions);

describe("chaos", () => {
  it("loses nothing, pays nothing twice and leaves nothing stuck under every kind of fault", async () => {
    const report = await runChaos(t.stack, { orders: 60, concurrency: 12, dynamoFailureRate: 0.05, settleTimeoutMs: 90_000, seed: 20261125 });
    console.log(formatReport(report));
    expect(report.problems).toEqual([]);
    expect(report.orders).toBe(60);
    expect(report.paidAtAlipay).toBeGreaterThan(20);
    expect(Object.keys(report.faults).length).toBeGreaterThan(8);
  }, 240_000);
});
