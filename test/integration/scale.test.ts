import { describe, expect, it } from "vitest";
import { config } from "../../lib/config.js";
import {
  derivePaymentId,
  legacySweepShard,
  paidShardOf,
  paidShardsToRead,
  sweepShardOf,
  sweepShardsToRead,
} from "../../lib/payments/model.js";
import { getPayment } from "../../lib/payments/repository.js";
import { putDuePayments } from "./duePayments.js";
import { useStack, waitFor } from "./harness.js";
import { sleep } from "./twoSided.js";

const t = useStack();

describe("sharded sweep index", () => {
  it("spreads ids over the configured shards; one shard is the unsharded key itself", () => {
    const shards = new Set(Array.from({ length: 400 }, (_, i) => sweepShardOf(derivePaymentId("shop", `order-${i}`), 4)));
    expect([...shards].sort()).toEqual(["DUE#0", "DUE#1", "DUE#2", "DUE#3"]);
    expect(sweepShardOf("anything", 1)).toBe(legacySweepShard);
    expect(sweepShardsToRead(4)).toEqual(["DUE#0", "DUE#1", "DUE#2", "DUE#3", legacySweepShard]);
    expect(sweepShardsToRead(1)).toEqual([legacySweepShard]);
  });

  it("spreads paid payments over as many paidAt index partitions (the reconciliation reads them all)", () => {
    const shards = new Set(Array.from({ length: 400 }, (_, i) => paidShardOf(derivePaymentId("shop", `order-${i}`), 4)));
    expect([...shards].sort()).toEqual(paidShardsToRead(4));
    expect(paidShardsToRead(1)).toEqual(["PAID#0"]);
    expect(paidShardOf("anything", 1)).toBe("PAID#0");
  });

  it("new payments enter the index on their shard", async () => {
    const created = await t.createPayment({ userId: "shard-new" });
    expect(created.status).toBe(201);
    const stored = (await getPayment(created.body.paymentId as string))!;
    expect(stored.sweepShard).toBe(sweepShardOf(stored.paymentId, (await config()).sweepShards));
    expect(stored.sweepShard).toMatch(/^DUE#\d+$/);
  });

  it("sweeps due payments on every shard, and those still under the unsharded DUE (written before sharding)", async () => {
    const settings = await config();
    expect(settings.sweepShards).toBeGreaterThan(1);
    // A third still under the unsharded key, as written before sharding.
    const ids = await putDuePayments(12, (paymentId, i) => (i < 4 ? legacySweepShard : sweepShardOf(paymentId, settings.sweepShards)));
    for (const paymentId of ids) {
      const expired = await waitFor(
        async () => {
          const p = await getPayment(paymentId);
          return p?.status === "EXPIRED" && p;
        },
        { what: `${paymentId} expired by the sweep` },
      );
      expect(expired.sweepShard).toBeUndefined();
    }
  });
});

describe("the order string, signed from its attempt", () => {
  it("is the same string on a later request (not stored: signed again with the attempt's own timestamp)", async () => {
    const { payment, attempt } = await t.openPayment("same-string");
    expect((await getPayment(payment.paymentId))?.orderString).toBeUndefined();
    await sleep(1100);
    const again = await t.orderString("same-string", payment.paymentId);
    expect(again.status).toBe(200);
    expect(again.body.outTradeNo).toBe(attempt.outTradeNo);
    expect(again.body.orderString).toBe(attempt.orderString);
  });

  it("for someone else's payment, or one that does not exist, is 404 through the same single write", async () => {
    const { payment } = await t.openPayment("owner-user");
    expect((await t.orderString("not-the-owner", payment.paymentId)).status).toBe(404);
    const missing = derivePaymentId("shop", "never-created");
    expect((await t.orderString("anyone", missing)).status).toBe(404);
    expect(await getPayment(missing)).toBeUndefined();
  });
});
