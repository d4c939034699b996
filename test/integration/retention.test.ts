// Retention: the table does not grow forever. A payment that ended without money (EXPIRED, or
// CANCELED with no refund needed and no watch) gets a DynamoDB TTL in the write that settles it (or
// ends its watch); money records are kept: PAID payments, refund-needed records and the payments
// they belong to never carry one. An order string is gone once its attempt is settled.
import { describe, expect, it } from "vitest";
import { checkPayment } from "../../lib/payments/check.js";
import type { PaymentRecord } from "../../lib/payments/model.js";
import { getPayment, listRefundsNeeded, recordRefundNeeded, settleOpen } from "../../lib/payments/repository.js";
import { testTimes, useStack, waitFor } from "./harness.js";

// Attempts live 4 s here (payments 30 min); the sweep closes an attempt 1 s after its time_expire.
const t = useStack({ env: { LOCAL_ORDER_TTL_SECONDS: "4" } });
const closeMarginMs = Number(testTimes.LOCAL_CLOSE_MARGIN_SECONDS) * 1000;
// serverless.yml params.default.unpaidPaymentRetentionDays (the local stage keeps the default).
const retentionSeconds = 400 * 86_400;

type Retained = PaymentRecord & { ttl?: number; refundNeeded?: boolean };
const stored = async (paymentId: string) => (await getPayment(paymentId)) as Retained;
const ttlOf = (settledAt: number) => Math.floor(settledAt / 1000) + retentionSeconds;

describe("retention", () => {
  it("an expired payment gets its TTL in the write that expires it, and its order string is gone", async () => {
    const { payment } = await t.openPayment("retention-expired");
    // Not stored: signed again from the attempt whenever it is handed out (lib/payments/attempts.ts).
    expect((await stored(payment.paymentId)).orderString).toBeUndefined();
    const expiresAt = Date.parse(payment.expiresAt);
    // Its own expiry (30 minutes here) on the check worker's clock: the pending attempt is closed
    // at Alipay and the payment expires in that one write.
    expect(await checkPayment(payment.paymentId, () => expiresAt + closeMarginMs + 1)).toBe("closed");
    const expired = await stored(payment.paymentId);
    expect(expired.status).toBe("EXPIRED");
    expect(expired.attempts[0]).toMatchObject({ status: "CLOSED" });
    expect(expired.orderString).toBeUndefined();
    expect(expired.sweepShard).toBeUndefined();
    expect(expired.ttl).toBe(ttlOf(expired.expiredAt!));
  });

  it("a payment without attempts expires with its TTL", async () => {
    const created = await t.createPayment({ userId: "retention-no-attempt" });
    expect(created.status).toBe(201);
    const paymentId = created.body.paymentId as string;
    expect(await checkPayment(paymentId, () => Date.parse(created.body.expiresAt) + closeMarginMs + 1)).toBe("expired");
    const expired = await stored(paymentId);
    expect(expired.status).toBe("EXPIRED");
    expect(expired.ttl).toBe(ttlOf(expired.expiredAt!));
  });

  it("a paid payment has no TTL, and no order string", async () => {
    const { payment, attempt } = await t.openPayment("retention-paid");
    expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
    const paid = await waitFor(
      async () => {
        const p = await stored(payment.paymentId);
        return p.status === "PAID" && p;
      },
      { what: "the payment paid" },
    );
    expect(paid.ttl).toBeUndefined();
    expect(paid.orderString).toBeUndefined();
    // Its expiry passing changes nothing.
    expect(await checkPayment(payment.paymentId, () => Date.parse(payment.expiresAt) + closeMarginMs + 1)).toBe("settled");
    expect((await stored(payment.paymentId)).ttl).toBeUndefined();
  });

  it("a payment canceled before any order string gets its TTL; one closed at Alipay (a trade existed) too", async () => {
    const created = await t.createPayment({ userId: "retention-cancel" });
    const canceled = await t.business("shop").cancelPayment(created.body.paymentId);
    expect(canceled.status).toBe(200);
    const before = await stored(created.body.paymentId);
    expect(before.status).toBe("CANCELED");
    expect(before.ttl).toBe(ttlOf(before.canceledAt!));

    // The buyer reached the password step: Alipay has the trade, so the close ends it for good and
    // nothing is watched.
    const { payment, attempt } = await t.openPayment("retention-cancel-open");
    expect((await t.sim("/sim/open", { orderString: attempt.orderString })).status).toBe(200);
    expect((await t.business("shop").cancelPayment(payment.paymentId)).status).toBe(200);
    const closed = await stored(payment.paymentId);
    expect(closed.status).toBe("CANCELED");
    expect(closed.sweepShard).toBeUndefined();
    expect(closed.orderString).toBeUndefined();
    expect(closed.ttl).toBe(ttlOf(closed.canceledAt!));
  });

  it("a canceled payment whose order string may still be paid is watched without a TTL, and gets it when the watch ends unpaid", async () => {
    const { payment } = await t.openPayment("retention-watch");
    expect((await t.business("shop").cancelPayment(payment.paymentId)).status).toBe(200);
    const watched = await stored(payment.paymentId);
    expect(watched.status).toBe("CANCELED");
    expect(watched.sweepShard).toBeDefined();
    expect(watched.orderString).toBeUndefined();
    expect(watched.ttl).toBeUndefined();
    // The attempt's time_expire (4 s) and the margin pass; the sweep asks once more and ends the watch.
    const ended = await waitFor(
      async () => {
        const p = await stored(payment.paymentId);
        return p.sweepShard === undefined && p;
      },
      { what: "the watch to end", timeoutMs: 30_000 },
    );
    expect(ended.ttl).toBeGreaterThanOrEqual(ttlOf(watched.canceledAt!));
    expect(ended.ttl).toBeLessThanOrEqual(ttlOf(Date.now()));
  });

  it("money found on a canceled payment keeps it: a refund-needed record, and no TTL", async () => {
    const { payment, attempt } = await t.openPayment("retention-watch-paid");
    expect((await t.business("shop").cancelPayment(payment.paymentId)).status).toBe(200);
    const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(paid.status).toBe(200);
    const refunds = await waitFor(
      async () => {
        const found = await listRefundsNeeded(payment.paymentId);
        return found.length > 0 && found;
      },
      { what: "a refund-needed record", timeoutMs: 30_000 },
    );
    expect(refunds.map((r) => r.tradeNo)).toEqual([paid.body.tradeNo]);
    expect(refunds[0]!.ttl).toBeUndefined();
    const kept = await waitFor(
      async () => {
        const p = await stored(payment.paymentId);
        return p.sweepShard === undefined && p;
      },
      { what: "the watch to end", timeoutMs: 30_000 },
    );
    expect(kept.status).toBe("CANCELED");
    expect(kept.refundNeeded).toBe(true);
    expect(kept.ttl).toBeUndefined();
  });

  it("a refund recorded before the payment settles keeps the TTL off; one recorded after takes it off", async () => {
    const money = (tradeNo: string) => ({ tradeNo, totalFen: 1234, paidAt: Date.now(), via: "query" as const });

    const first = await t.createPayment({ userId: "retention-refund-first" });
    const open = await stored(first.body.paymentId);
    expect(await recordRefundNeeded(open, 1, money("2026112522001400000000000001"), "paid_after_close", Date.now())).toBe(true);
    expect(await settleOpen(open, "EXPIRED", "expired unpaid", Date.now())).toEqual({ ok: true });
    const settled = await stored(open.paymentId);
    expect(settled).toMatchObject({ status: "EXPIRED", refundNeeded: true });
    expect(settled.ttl).toBeUndefined();

    const second = await t.createPayment({ userId: "retention-refund-after" });
    const other = await stored(second.body.paymentId);
    expect(await settleOpen(other, "CANCELED", "canceled", Date.now())).toEqual({ ok: true });
    expect((await stored(other.paymentId)).ttl).toBeGreaterThan(0);
    expect(await recordRefundNeeded(other, 1, money("2026112522001400000000000002"), "paid_after_close", Date.now())).toBe(true);
    // A second copy of the same record changes nothing and says so.
    expect(await recordRefundNeeded(other, 1, money("2026112522001400000000000002"), "paid_after_close", Date.now())).toBe(false);
    const kept = await stored(other.paymentId);
    expect(kept).toMatchObject({ status: "CANCELED", refundNeeded: true });
    expect(kept.ttl).toBeUndefined();
    expect(await listRefundsNeeded(other.paymentId)).toHaveLength(1);
  });
});
