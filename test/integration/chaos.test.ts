// A smaller chaos run inside `npm test` (the full one is `npm run chaos`), and what chaos runs found.
import { describe, expect, it } from "vitest";
import { getPayment, listRefundsNeeded } from "../../lib/payments/repository.js";
import { chaosStackOptions } from "../chaos/settings.js";
import { formatReport, runChaos } from "../chaos/chaos.js";
import { useStack, waitFor } from "./harness.js";

const t = useStack(chaosStackOptions);

describe("chaos", () => {
  it("loses nothing, pays and refunds nothing twice, leaves nothing stuck and routes every event to its own system under every kind of fault", async () => {
    // Unpaid payments expire 72 s after creation (test/chaos/settings.ts): the run settles after that.
    const report = await runChaos(t.stack, {
      payments: 60,
      concurrency: 12,
      dynamoFailureRate: 0.05,
      cancelRate: 0.1,
      refundRate: 0.3,
      settleTimeoutMs: 120_000,
      seed: 20261125,
    });
    console.log(formatReport(report));
    expect(report.problems).toEqual([]);
    expect(report.payments).toBe(60);
    expect(report.paidAtAlipay).toBeGreaterThan(20);
    expect(report.cancelRequests).toBeGreaterThan(2);
    expect(report.refundsRequested).toBeGreaterThan(2);
    // Whether a buyer pays after a cancel before the string expires depends on timing (none may
    // under load): automatic refunds are checked by duplicatePaymentsNotRefunded, counted in the
    // report, and driven a thousand times by `npm run chaos`.
    expect([report.doubleRefunded, report.overRefunded, report.duplicatePaymentsNotRefunded]).toEqual([0, 0, 0]);
    expect(report.reconciliationDifferences).toBe(0);
    expect(report.reconciliationMatched).toBeGreaterThanOrEqual(report.paidAtAlipay);
    // Issue 17: poison text in both systems' payments, and every event owed reaches its system.
    expect(report.poisonPayments).toBeGreaterThanOrEqual(8);
    expect(report.eventsNotDelivered).toBe(0);
    expect(report.eventsDelivered.shop).toBeGreaterThan(0);
    expect(report.eventsDelivered.membership).toBeGreaterThan(0);
    expect(Object.keys(report.faults).length).toBeGreaterThan(8);
  }, 300_000);
});

describe("found by the chaos run", () => {
  // A cancel closes the pending attempt while Alipay has no trade for it yet: the order string stays
  // payable at Alipay until its time_expire. The canceled payment stays watched by the sweep until
  // then, so money paid on it is found by query and recorded as refund-needed even with every
  // notification lost (`npm run chaos`, CHAOS_SEED=41743 found it: 1 lost of 1,000).
  it("records money paid after a cancel even when every notification is lost", async () => {
    const user = "chaos-cancel-then-pay";
    const created = await t.createPayment({ userId: user, amount: 4321 });
    expect(created.status).toBe(201);
    const paymentId = created.body.paymentId as string;
    const attempt = await t.orderString(user, paymentId);
    expect(attempt.status).toBe(201);
    await t.sim("/sim/scenario", { outTradeNo: attempt.body.outTradeNo, dropFirst: 100 });

    const canceled = await t.business("shop").cancelPayment(paymentId);
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe("CANCELED");
    // Alipay had no trade when it was closed, so the string can still be paid (as at Alipay).
    const paid = await t.sim("/sim/pay", { orderString: attempt.body.orderString });
    expect(paid.status).toBe(200);

    // The attempt's time_expire (6 s) and Alipay's whole notification schedule (~18 s here) pass.
    const refunds = await waitFor(
      async () => {
        const found = await listRefundsNeeded(paymentId);
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 30_000, what: `a refund-needed record for ${paymentId}` },
    ).catch(() => []);
    expect((await getPayment(paymentId))?.status).toBe("CANCELED");
    expect(refunds.map((r) => r.tradeNo)).toEqual([paid.body.tradeNo]);
    // The watch is over once the money is found: the payment leaves the sweep index.
    await waitFor(async () => (await getPayment(paymentId))?.sweepShard === undefined, { what: "the watch to end" });
  }, 60_000);
});
