// Refunds requested by business systems, over HTTP (issue 11): a refund is recorded once per
// Idempotency-Key, the refunds of a payment never total more than was paid (also under concurrent
// requests), each is refunded at Alipay exactly once under its fixed out_request_no (an unknown
// outcome is resolved by the refund query, never by a new number), and refund.succeeded /
// refund.failed reach the owning business system alone. Alipay's refund notifications are
// applied at most once. This stack runs with AUTO_REFUNDS off (on: test/integration/autoRefunds.test.ts).
import { afterEach, describe, expect, it } from "vitest";
import { armFault, disarmFaults } from "../../lib/faults.js";
import { metricCounts } from "../../lib/observability.js";
import { getPayment, listRefundsNeeded } from "../../lib/payments/repository.js";
import { getRefund } from "../../lib/refunds/repository.js";
import { useStack, waitFor } from "./harness.js";
import { eventsAt, refundEventAt, refundSettled, sleep } from "./twoSided.js";

const t = useStack({ env: { LOCAL_AUTO_REFUNDS: "false" } });

afterEach(() => disarmFaults());

let keyCounter = 0;
const newKey = (label: string) => `${label}-${Date.now()}-${(keyCounter += 1)}`;

/** A payment of `amount` fen, paid by `user` at the simulator (notified), owned by `system`. */
async function paidPayment(user: string, amount: number, system = "shop") {
  const { payment, attempt } = await t.openPayment(user, amount, { system });
  const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
  expect(paid.status).toBe(200);
  await waitFor(async () => (await getPayment(payment.paymentId))?.status === "PAID", { what: `payment ${payment.paymentId} PAID` });
  return { paymentId: payment.paymentId as string, outTradeNo: attempt.outTradeNo as string };
}

const refund = (paymentId: string, amount: number, key = newKey("refund"), system = "shop", reason = "returned goods") =>
  t.business(system).createRefund(paymentId, { amount, reason }, key);

const simTrade = async (outTradeNo: string) => (await t.sim(`/sim/trades/${encodeURIComponent(outTradeNo)}`)).body;

describe("refunds requested by a business system", () => {
  it("refunds part, then the rest; the owner alone hears refund.succeeded", async () => {
    const { paymentId, outTradeNo } = await paidPayment("refund-alice", 1000);
    const first = await refund(paymentId, 300);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ paymentId, amount: 300, amountYuan: "3.00", reason: "returned goods", status: "PENDING" });
    expect(first.body.refundId).toMatch(/^ref[0-9a-f]{29}$/);
    expect(await refundSettled(paymentId, first.body.refundId)).toMatchObject({ status: "SUCCEEDED" });

    const event = await refundEventAt(t, "shop", first.body.refundId, "succeeded");
    expect(event).toMatchObject({ type: "refund.succeeded" });
    expect((event.data as any).refund).toMatchObject({ refundId: first.body.refundId, paymentId, amount: 300, status: "SUCCEEDED" });
    expect(eventsAt(t, "membership").some((e) => e.id.includes(first.body.refundId))).toBe(false);

    const rest = await refund(paymentId, 700);
    expect(rest.status).toBe(201);
    expect(await refundSettled(paymentId, rest.body.refundId)).toMatchObject({ status: "SUCCEEDED" });

    const trade = await simTrade(outTradeNo);
    expect(trade).toMatchObject({ refundedFen: 1000, status: "TRADE_CLOSED" });
    expect(trade.refunds.map((r: any) => [r.outRequestNo, r.refundFen])).toEqual([
      [first.body.refundId, 300],
      [rest.body.refundId, 700],
    ]);

    const read = await t.business("shop").request("GET", `/v1/payments/${paymentId}/refunds/${first.body.refundId}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ refundId: first.body.refundId, status: "SUCCEEDED" });
    const list = await t.business("shop").request("GET", `/v1/payments/${paymentId}/refunds`);
    expect(list.status).toBe(200);
    expect(list.body.refunds.map((r: any) => [r.refundId, r.amount, r.status])).toEqual([
      [first.body.refundId, 300, "SUCCEEDED"],
      [rest.body.refundId, 700, "SUCCEEDED"],
    ]);
    // Another business system does not see the payment or its refunds.
    expect((await t.business("membership").request("GET", `/v1/payments/${paymentId}/refunds`)).status).toBe(404);
    expect((await refund(paymentId, 1, newKey("other"), "membership")).status).toBe(404);
    // Nothing is left to refund.
    const more = await refund(paymentId, 1);
    expect(more.status).toBe(409);
    expect(more.body).toMatchObject({ code: "refund_exceeds_payment" });
  });

  it("refuses an over-refund, with what is left, and a refund of an unpaid payment", async () => {
    const { paymentId } = await paidPayment("refund-bob", 500);
    const over = await refund(paymentId, 501);
    expect(over.status).toBe(409);
    expect(over.body.code).toBe("refund_exceeds_payment");
    expect(over.body.message).toContain("500 fen");
    expect((await refund(paymentId, 200)).status).toBe(201);
    const again = await refund(paymentId, 301);
    expect(again.status).toBe(409);
    expect(again.body.message).toContain("300 fen (3.00 yuan)");

    const open = await t.createPayment({ userId: "refund-bob", amount: 500 });
    const unpaid = await refund(open.body.paymentId, 100);
    expect(unpaid.status).toBe(409);
    expect(unpaid.body.code).toBe("payment_not_refundable");
    const invalid = await refund(paymentId, 100, newKey("bad"), "shop", "");
    expect(invalid.status).toBe(400);
    expect(invalid.body.code).toBe("reason_invalid");
    expect((await t.business("shop").request("GET", `/v1/payments/${paymentId}/refunds/refdeadbeef`)).status).toBe(404);
  });

  it("replays a key's first answer, and refuses the key with another request", async () => {
    const { paymentId } = await paidPayment("refund-carol", 800);
    const key = newKey("replay");
    const first = await refund(paymentId, 100, key);
    expect(first.status).toBe(201);
    const again = await refund(paymentId, 100, key);
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body).toEqual(first.body);
    const other = await refund(paymentId, 200, key);
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_key_reused");
    expect(await refundSettled(paymentId, first.body.refundId)).toMatchObject({ status: "SUCCEEDED" });
    expect((await getPayment(paymentId)) as any).toMatchObject({ refundedFen: 100 });
  });

  it("gives exactly one refund to 20 concurrent requests for the full amount", async () => {
    const { paymentId, outTradeNo } = await paidPayment("refund-dave", 2000);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => refund(paymentId, 2000, newKey(`race-${i}`))));
    const created = answers.filter((a) => a.status === 201);
    expect(created).toHaveLength(1);
    // The others are refused: nothing left, or (a transaction that kept losing the race) retry later.
    for (const refused of answers.filter((a) => a.status !== 201)) {
      expect(refused.status).toBe(409);
      expect(["refund_exceeds_payment", "concurrent_update"]).toContain(refused.body.code);
    }
    expect(await refundSettled(paymentId, created[0]!.body.refundId)).toMatchObject({ status: "SUCCEEDED" });
    expect((await getPayment(paymentId)) as any).toMatchObject({ refundedFen: 2000 });
    const trade = await simTrade(outTradeNo);
    expect(trade.refunds).toHaveLength(1);
    expect(trade.refundedFen).toBe(2000);
  });

  it("resolves a refund whose answer timed out by the refund query: one refund at Alipay", async () => {
    const { paymentId, outTradeNo } = await paidPayment("refund-erin", 900);
    // Alipay's refund notification is lost too (it would settle the refund without the query).
    await t.sim("/sim/scenario", { outTradeNo, dropFirst: 100 });
    // Alipay carries the refund out, but its answer is lost; the first refund query fails too
    // (a 5xx), the next one finds the refund. No second refund request is ever needed.
    await t.sim("/sim/faults", { method: "alipay.trade.refund", outTradeNo, mode: "timeout", count: 1, afterProcessing: true });
    await t.sim("/sim/faults", { method: "alipay.trade.fastpay.refund.query", outTradeNo, mode: "5xx", count: 1 });
    const requested = await refund(paymentId, 900);
    expect(requested.status).toBe(201);
    const done = await refundSettled(paymentId, requested.body.refundId);
    expect(done).toMatchObject({ status: "SUCCEEDED" });
    expect(done.sentAt).toBeDefined();
    const trade = await simTrade(outTradeNo);
    expect(trade.refunds.map((r: any) => [r.outRequestNo, r.refundFen])).toEqual([[requested.body.refundId, 900]]);
    expect((await t.sim("/sim/faults")).body).toHaveLength(0);
    await refundEventAt(t, "shop", requested.body.refundId, "succeeded");
  });

  it("settles a timed-out refund by the refund query's older answer shape (no refund_status): SUCCEEDED, refund.succeeded", async () => {
    const { paymentId, outTradeNo } = await paidPayment("refund-legacy-ivy", 650);
    // Alipay answers this trade's refund queries as in 2016-2020 (the refund's fields, no
    // refund_status), its refund notification is lost, and the refund's own answer times out after
    // Alipay refunded: only the query can tell.
    await t.sim("/sim/scenario", { outTradeNo, dropFirst: 100, refundQueryShape: "legacy" });
    await t.sim("/sim/faults", { method: "alipay.trade.refund", outTradeNo, mode: "timeout", count: 1, afterProcessing: true });
    const requested = await refund(paymentId, 650);
    expect(requested.status).toBe(201);
    const refundId = requested.body.refundId as string;
    expect(await refundSettled(paymentId, refundId)).toMatchObject({ status: "SUCCEEDED" });
    const event = await refundEventAt(t, "shop", refundId, "succeeded");
    expect((event.data as any).refund).toMatchObject({ refundId, amount: 650, status: "SUCCEEDED" });
    // One refund at Alipay, under its own number.
    expect((await simTrade(outTradeNo)).refunds.map((r: any) => [r.outRequestNo, r.refundFen])).toEqual([[refundId, 650]]);
  });

  it("confirms a refund Alipay accepts but settles later by the refund query, never by a new request number", async () => {
    const { paymentId, outTradeNo } = await paidPayment("refund-gus", 700);
    // Alipay accepts (fund_change N), settles 1.5 s later; its notification is lost.
    await t.sim("/sim/scenario", { outTradeNo, dropFirst: 100, refundSettleMs: 1500 });
    const requested = await refund(paymentId, 700);
    expect(requested.status).toBe(201);
    await waitFor(async () => (await getRefund(paymentId, requested.body.refundId))?.sentAt !== undefined, { what: "refund sent" });
    expect((await getRefund(paymentId, requested.body.refundId))?.status).toBe("PENDING");
    expect(await refundSettled(paymentId, requested.body.refundId)).toMatchObject({ status: "SUCCEEDED" });
    const trade = await simTrade(outTradeNo);
    expect(trade.refunds.map((r: any) => [r.outRequestNo, r.refundFen])).toEqual([[requested.body.refundId, 700]]);
    await refundEventAt(t, "shop", requested.body.refundId, "succeeded");
  });

  it("fails a refund Alipay refuses, releases its amount and tells the owner", async () => {
    const { paymentId, outTradeNo } = await paidPayment("refund-fay", 600, "membership");
    // The trade is past its refund window at Alipay (TRADE_FINISHED).
    await t.sim(`/sim/trades/${encodeURIComponent(outTradeNo)}/finish`, {});
    const requested = await refund(paymentId, 600, newKey("finished"), "membership");
    expect(requested.status).toBe(201);
    expect(await refundSettled(paymentId, requested.body.refundId)).toMatchObject({
      status: "FAILED",
      failureCode: "ACQ.TRADE_HAS_FINISHED",
    });
    const event = await refundEventAt(t, "membership", requested.body.refundId, "failed");
    expect((event.data as any).refund).toMatchObject({ status: "FAILED", amount: 600 });
    expect(eventsAt(t, "shop").some((e) => e.id.includes(requested.body.refundId))).toBe(false);
    expect((await getPayment(paymentId)) as any).toMatchObject({ refundedFen: 0 });
  });

  it("ACQ.SELLER_BALANCE_NOT_ENOUGH: pages, retries the same request, and refunds once the merchant tops up", async () => {
    const paged = metricCounts.get("RefundsNeedPerson") ?? 0;
    const { paymentId, outTradeNo } = await paidPayment("refund-balance-joe", 420);
    await t.sim("/sim/scenario", { outTradeNo, refundRefusal: "ACQ.SELLER_BALANCE_NOT_ENOUGH" });
    const requested = await refund(paymentId, 420);
    expect(requested.status).toBe(201);
    const refundId = requested.body.refundId as string;
    await waitFor(async () => (metricCounts.get("RefundsNeedPerson") ?? 0) > paged, { what: "a page about the balance" });
    expect(await getRefund(paymentId, refundId)).toMatchObject({ status: "PENDING" });
    expect(await getRefund(paymentId, refundId)).not.toHaveProperty("heldCode");
    // The merchant tops up: the same request (same out_request_no, same amount) goes through.
    await t.sim("/sim/scenario", { outTradeNo, refundRefusal: "" });
    expect(await refundSettled(paymentId, refundId)).toMatchObject({ status: "SUCCEEDED" });
    expect((await simTrade(outTradeNo)).refunds.map((r: any) => [r.outRequestNo, r.refundFen])).toEqual([[refundId, 420]]);
    await refundEventAt(t, "shop", refundId, "succeeded");
  });

  it.each(["ACQ.DISCORDANT_REPEAT_REQUEST", "ACQ.SOMETHING_ALIPAY_ADDS_TOMORROW"])(
    "%s: held PENDING for a person (paged), not resent around the sweep",
    async (subCode) => {
      const paged = metricCounts.get("RefundsNeedPerson") ?? 0;
      const { paymentId, outTradeNo } = await paidPayment(`refund-held-${subCode.length}`, 330);
      await t.sim("/sim/scenario", { outTradeNo, refundRefusal: subCode });
      const requested = await refund(paymentId, 330);
      const refundId = requested.body.refundId as string;
      const held = await waitFor(
        async () => {
          const found = await getRefund(paymentId, refundId);
          return found?.heldCode !== undefined && found;
        },
        { what: `refund ${refundId} held` },
      );
      expect(held).toMatchObject({ status: "PENDING", heldCode: subCode });
      expect(held.sweepAt).toBeGreaterThan(Date.now() + 23 * 3600_000);
      expect(metricCounts.get("RefundsNeedPerson")).toBeGreaterThan(paged);
      // Alipay would now take it, but nothing sends it again: the sweep's schedule (seconds here) passes.
      await t.sim("/sim/scenario", { outTradeNo, refundRefusal: "" });
      await sleep(10_000);
      expect(await getRefund(paymentId, refundId)).toMatchObject({ status: "PENDING", heldCode: subCode });
      expect((await simTrade(outTradeNo)).refunds).toEqual([]);
      expect(eventsAt(t, "shop").some((e) => e.id.includes(refundId))).toBe(false);
    },
  );

  it("a refusal the table calls final (ACQ.REFUND_FEE_ERROR) fails the refund and tells the owner", async () => {
    const { paymentId, outTradeNo } = await paidPayment("refund-fee-kim", 250);
    await t.sim("/sim/scenario", { outTradeNo, refundRefusal: "ACQ.REFUND_FEE_ERROR" });
    const requested = await refund(paymentId, 250);
    expect(await refundSettled(paymentId, requested.body.refundId)).toMatchObject({
      status: "FAILED",
      failureCode: "ACQ.REFUND_FEE_ERROR",
    });
    await refundEventAt(t, "shop", requested.body.refundId, "failed");
    expect((await getPayment(paymentId)) as any).toMatchObject({ refundedFen: 0 });
  });

  it.each(["refund.afterMarkSent", "refund.afterAlipay"])("recovers from a crash at %s with one refund at Alipay", async (point) => {
    const { paymentId, outTradeNo } = await paidPayment(`refund-crash-${point.split(".")[1]}`, 400);
    armFault(point);
    const requested = await refund(paymentId, 400);
    expect(requested.status).toBe(201);
    expect(await refundSettled(paymentId, requested.body.refundId)).toMatchObject({ status: "SUCCEEDED" });
    const trade = await simTrade(outTradeNo);
    expect(trade.refunds.map((r: any) => [r.outRequestNo, r.refundFen])).toEqual([[requested.body.refundId, 400]]);
    expect(trade.refundedFen).toBe(400);
  });

  it("applies Alipay's refund notification once: duplicates change nothing, one refund.succeeded", async () => {
    const { paymentId, outTradeNo } = await paidPayment("refund-gus", 700);
    // Alipay refunds, but its answer is lost and every refund query fails: only the notification tells.
    await t.sim("/sim/faults", { method: "alipay.trade.refund", outTradeNo, mode: "timeout", count: 1, afterProcessing: true });
    await t.sim("/sim/faults", { method: "alipay.trade.fastpay.refund.query", outTradeNo, mode: "5xx", count: 50 });
    const requested = await refund(paymentId, 700);
    expect(requested.status).toBe(201);
    const refundId = requested.body.refundId as string;
    expect(await refundSettled(paymentId, refundId)).toMatchObject({ status: "SUCCEEDED" });
    const trade = await simTrade(outTradeNo);
    // The full refund's notification, sent again: still the refund, never an attempt closing.
    const again = await t.sim("/sim/notify/forge", {
      url: `${t.stack.urls.api}/alipay/notify`,
      outTradeNo,
      mode: "valid",
      overrides: { trade_status: "TRADE_CLOSED", total_amount: "7.00", trade_no: trade.tradeNo, refund_fee: "7.00", out_biz_no: refundId },
    });
    expect(again.body.responseBody ?? again.body.attempt?.responseBody).toBe("success");
    await refundEventAt(t, "shop", refundId, "succeeded");
    await sleep(1500);
    expect(
      eventsAt(t, "shop")
        .filter((e) => e.id.includes(refundId))
        .map((e) => [e.id, e.deliveries]),
    ).toEqual([[`evt_${refundId}_succeeded`, 1]]);
    expect(await getPayment(paymentId)).toMatchObject({ status: "PAID", attempts: [{ status: "PAID" }] });
    expect((await simTrade(outTradeNo)).refunds).toHaveLength(1);
  });
});

describe("with AUTO_REFUNDS off", () => {
  it("money on a canceled payment's closed attempt is recorded only: no refund, nothing at Alipay", async () => {
    const awaitingBefore = metricCounts.get("RefundsAwaitingPerson") ?? 0;
    const { payment, attempt } = await t.openPayment("refund-off-hal", 1100);
    const paymentId = payment.paymentId as string;
    expect((await t.business("shop").cancelPayment(paymentId)).body).toMatchObject({ status: "CANCELED" });
    const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(paid.status).toBe(200);
    const [needed] = await waitFor(
      async () => {
        const found = await listRefundsNeeded(paymentId);
        return found.length > 0 && found;
      },
      { what: "the refund-needed record" },
    );
    expect(needed).toMatchObject({ tradeNo: paid.body.tradeNo, status: "REFUND_NEEDED" });
    expect(needed).not.toHaveProperty("refundId");
    await sleep(2000);
    expect((await t.business("shop").request("GET", `/v1/payments/${paymentId}/refunds`)).body).toEqual({ refunds: [] });
    expect((await t.business("shop").getPayment(paymentId)).body).not.toHaveProperty("automaticRefundIds");
    expect((await simTrade(attempt.outTradeNo)).refundedFen ?? 0).toBe(0);
    expect(metricCounts.get("RefundsAwaitingPerson")).toBeGreaterThan(awaitingBefore);
  });
});
