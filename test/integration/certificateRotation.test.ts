// Certificate mode (公钥证书) after Alipay rotates its public-key certificate (issue 19, part 4),
// through the whole local stack: the simulator rotates (a new key, a new SN, issued through an
// intermediate by the root the functions hold), and payments are still settled, by the check
// worker's query and by Alipay's notification, with nobody replacing ALIPAY_PUBLIC_CERT. The
// functions learn the new certificate (alipay.open.app.alipaycert.download, checked against
// ALIPAY_ROOT_CERT); the Alipay-unavailable alarm's AlipayCallsFailed stays at zero meanwhile.
import { describe, expect, it } from "vitest";
import { forgetRotations } from "../../lib/alipay/rotation.js";
import { metricCounts } from "../../lib/observability.js";
import { getPayment } from "../../lib/payments/repository.js";
import { useStack, waitFor } from "./harness.js";

const t = useStack({ alipayCertificateMode: true });

const counter = (name: string) => metricCounts.get(name) ?? 0;
const watched = ["AlipayCalls", "AlipayCallsFailed", "AlipayCertificatesLearned", "AlipayCertificatesRefused", "NotificationsUnverified"];
const snapshot = () => Object.fromEntries(watched.map((name) => [name, counter(name)]));
const since = (before: Record<string, number>) => Object.fromEntries(watched.map((name) => [name, counter(name) - before[name]!]));

async function paidVia(paymentId: string, what: string): Promise<string | undefined> {
  const paid = await waitFor(
    async () => {
      const payment = await getPayment(paymentId);
      return payment?.status === "PAID" && payment;
    },
    { what, timeoutMs: 30_000 },
  );
  return paid.paidVia;
}

describe("Alipay rotates its certificate (certificate mode)", () => {
  it("payments are still settled by query and by notification, without a person, and AlipayCallsFailed does not move", async () => {
    forgetRotations();
    // Settled once before the rotation, with the certificate the functions were configured with.
    const warm = await t.openPayment("rotation-user", 1111);
    await t.sim("/sim/pay", { orderString: warm.attempt.orderString });
    await paidVia(warm.payment.paymentId, "a payment before the rotation");

    const before = snapshot();
    const rotated = await t.sim<{ alipayCertSn: string; previousAlipayCertSn: string }>("/sim/certificates/rotate", {});
    expect(rotated.status).toBe(200);
    expect(rotated.body.alipayCertSn).not.toBe(rotated.body.previousAlipayCertSn);

    // By query: every notification of this trade is lost, the check worker's query settles it.
    const byQuery = await t.openPayment("rotation-user", 2222);
    await t.sim("/sim/scenario", { outTradeNo: byQuery.attempt.outTradeNo, dropFirst: 100 });
    expect((await t.sim("/sim/pay", { orderString: byQuery.attempt.orderString })).status).toBe(200);
    expect(await paidVia(byQuery.payment.paymentId, "the payment settled by query")).toBe("query");

    // By notification, in containers that have learned nothing yet (the notify function probes).
    forgetRotations();
    const byNotify = await t.openPayment("rotation-user", 3333);
    expect((await t.sim("/sim/pay", { orderString: byNotify.attempt.orderString })).status).toBe(200);
    await paidVia(byNotify.payment.paymentId, "the payment settled after its notification");
    // The notification was acknowledged (`success`) at its first send: it verified.
    const [state] = await waitFor(
      async () => {
        const states = (await t.sim(`/sim/notifications/state?outTradeNo=${byNotify.attempt.outTradeNo}`)).body as Array<{
          state: string;
          attempts: number;
        }>;
        return states.length > 0 && states.every((s) => s.state === "acknowledged") && states;
      },
      { what: "the notification acknowledged" },
    );
    expect(state).toMatchObject({ state: "acknowledged", attempts: 1 });

    const counted = since(before);
    expect(counted.AlipayCallsFailed).toBe(0);
    expect(counted.AlipayCertificatesRefused).toBe(0);
    expect(counted.NotificationsUnverified).toBe(0);
    expect(counted.AlipayCertificatesLearned).toBeGreaterThanOrEqual(1);
    expect(counted.AlipayCalls).toBeGreaterThan(0);
    // Both payments' business systems heard of them.
    for (const paymentId of [byQuery.payment.paymentId, byNotify.payment.paymentId]) {
      await waitFor(async () => t.stack.receiver.events.has(`evt_${paymentId}_succeeded`), { what: "payment.succeeded" });
    }
  });
});
