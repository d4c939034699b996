// The one path every Alipay gateway call takes (lib/alipay/gateway.ts call()), against the
// simulator through the real alipay-sdk (issue 17): each call is counted (AlipayCalls) and each one
// that fails as "Alipay unavailable" too (AlipayCallsFailed, what the Alipay alarm watches); its
// timeout fits the invocation's deadline (lib/alipay/deadline.ts), and with too little time left it
// is not made at all.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { withAlipayDeadline } from "../../lib/alipay/deadline.js";
import { AlipayGateway, AlipayUnavailableError } from "../../lib/alipay/gateway.js";
import { metricCounts } from "../../lib/observability.js";
import type { AlipaySimulator, FaultInput } from "../../simulator/index.js";
import { APP_ID, keys, startTestSimulator } from "./support.js";

let sim: AlipaySimulator;
beforeAll(async () => {
  sim = await startTestSimulator();
});
afterAll(async () => {
  await sim?.close();
});
beforeEach(() => sim.resetScenarios());

function gateway(timeoutMs: number, alipayPublicKey = keys().alipay.publicKey): AlipayGateway {
  return new AlipayGateway({
    appId: APP_ID,
    appPrivateKey: keys().app.privateKeyPkcs8,
    alipayPublicKey,
    gatewayUrl: sim.gatewayUrl,
    notifyUrl: "http://127.0.0.1:9/alipay/notify",
    timeoutMs,
  });
}

let sequence = 0;
const outTradeNo = () => `calls_${Date.now()}_${(sequence += 1)}`;

/** What `body` added to the two counters. */
async function counted(body: () => Promise<unknown>): Promise<{ calls: number; failed: number; outcome: unknown }> {
  const before = { calls: metricCounts.get("AlipayCalls") ?? 0, failed: metricCounts.get("AlipayCallsFailed") ?? 0 };
  const outcome = await body().catch((error: unknown) => error);
  return {
    calls: (metricCounts.get("AlipayCalls") ?? 0) - before.calls,
    failed: (metricCounts.get("AlipayCallsFailed") ?? 0) - before.failed,
    outcome,
  };
}

/** Runs `body` as the handler of an invocation with `remainingMs` left (a Lambda context's clock). */
const invocation = <T>(remainingMs: number, body: () => Promise<T>) =>
  withAlipayDeadline(async (_event: unknown, _context: { getRemainingTimeInMillis: () => number }) => body())(undefined, {
    getRemainingTimeInMillis: () => remainingMs,
  });

describe("gateway call metrics", () => {
  it("count every call, and business answers (paid, not found, closed) as no failure", async () => {
    const alipay = gateway(3000);
    const paidNo = outTradeNo();
    const orderString = alipay.orderString({ outTradeNo: paidNo, amountFen: 123, subject: "s", expiresAtMs: Date.now() + 600_000 });
    await sim.pay(orderString);
    expect(await counted(() => alipay.query(paidNo))).toMatchObject({ calls: 1, failed: 0, outcome: { kind: "trade" } });
    expect(await counted(() => alipay.query(outTradeNo()))).toEqual({ calls: 1, failed: 0, outcome: { kind: "not_found" } });
    expect(await counted(() => alipay.close(outTradeNo()))).toEqual({ calls: 1, failed: 0, outcome: "not_found" });
    expect(await counted(() => alipay.close(paidNo))).toEqual({ calls: 1, failed: 0, outcome: "refused" });
  });

  it.each<FaultInput["mode"]>(["5xx", "timeout", "rate-limit", "unknown-error", "system-error", "unsigned-system-error"])(
    "count a call that fails with %s as failed",
    async (mode) => {
      const alipay = gateway(500);
      const id = outTradeNo();
      sim.setFault({ mode, count: 1, outTradeNo: id });
      const { calls, failed, outcome } = await counted(() => alipay.query(id));
      expect(outcome).toBeInstanceOf(AlipayUnavailableError);
      expect({ calls, failed }).toEqual({ calls: 1, failed: 1 });
      // Alipay is back: counted, not failed.
      expect(await counted(() => alipay.query(id))).toMatchObject({ calls: 1, failed: 0 });
    },
  );

  it("count an answer whose signature does not verify as failed", async () => {
    const wrongKey = gateway(3000, keys().stranger.publicKey);
    const { calls, failed, outcome } = await counted(() => wrongKey.query(outTradeNo()));
    expect(outcome).toBeInstanceOf(AlipayUnavailableError);
    expect((outcome as Error).message).toContain("response signature invalid");
    expect({ calls, failed }).toEqual({ calls: 1, failed: 1 });
  });
});

describe("gateway calls within the invocation's deadline", () => {
  it("time out when the invocation's time runs out, not at ALIPAY_TIMEOUT_MS", async () => {
    // ALIPAY_TIMEOUT_MS a minute: without the deadline this call would hang past the test's timeout.
    const patient = gateway(60_000);
    const id = outTradeNo();
    sim.setFault({ mode: "timeout", count: 1, outTradeNo: id });
    // 2.5 s left, 1 s of them reserved: the call gets at most 1.5 s.
    const { calls, failed, outcome } = await counted(() => invocation(2500, () => patient.query(id)));
    expect(outcome).toBeInstanceOf(AlipayUnavailableError);
    expect((outcome as Error).message).toMatch(/transport/);
    expect({ calls, failed }).toEqual({ calls: 1, failed: 1 });
  }, 30_000);

  it("are not made when too little time is left: nothing reaches Alipay", async () => {
    const alipay = gateway(3000);
    const id = outTradeNo();
    // The fault would be consumed by any request for this trade.
    sim.setFault({ mode: "system-error", count: 1, outTradeNo: id });
    const { calls, failed, outcome } = await counted(() => invocation(1200, () => alipay.query(id)));
    expect(outcome).toBeInstanceOf(AlipayUnavailableError);
    expect((outcome as Error).message).toContain("not called");
    expect({ calls, failed }).toEqual({ calls: 0, failed: 0 });
    expect((await fetch(`${sim.url}/sim/faults`).then((r) => r.json())) as unknown[]).toHaveLength(1);
  });

  it("keep each invocation's own timeout while calls of others are in flight on the same gateway", async () => {
    const shared = gateway(20_000);
    const slowId = outTradeNo();
    const hangingId = outTradeNo();
    sim.setFault({ mode: "slow", delayMs: 2500, count: 1, outTradeNo: slowId });
    sim.setFault({ mode: "timeout", count: 1, outTradeNo: hangingId });
    // A: plenty of time, a slow answer. B, started while A waits: 1.6 s left (0.6 s for its call).
    const a = invocation(30_000, () => shared.query(slowId));
    const b = invocation(1600, () => shared.query(hangingId)).catch((error: unknown) => error);
    expect(await b).toBeInstanceOf(AlipayUnavailableError);
    // A was not given B's timeout: its answer, 2.5 s late, still arrives.
    expect(await a).toEqual({ kind: "not_found" });
  }, 30_000);

  it("apply outside any invocation (scripts, the ops CLI): ALIPAY_TIMEOUT_MS only", async () => {
    const alipay = gateway(3000);
    const id = outTradeNo();
    sim.setFault({ mode: "slow", delayMs: 1500, count: 1, outTradeNo: id });
    expect(await alipay.query(id)).toEqual({ kind: "not_found" });
  });
});
