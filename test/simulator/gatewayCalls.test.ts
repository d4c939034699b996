// The one path every Alipay gateway call takes (lib/alipay/gateway.ts call()), against the
// simulator through the real alipay-sdk (issue 17): each call is counted (AlipayCalls) and each one
// that fails as "Alipay unavailable" too (AlipayCallsFailed, what the Alipay alarm watches).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
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
