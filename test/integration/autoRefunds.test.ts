// Automatic refunds over HTTP (issue 11), with AUTO_REFUNDS on (the default): money that reached
// an attempt already closed is given back on its own, end to end: one refund at Alipay under a
// number derived from that trade, refund.succeeded (kind automatic) to the owner, the refund-needed
// record marked refunded, the refund named on the payment. (Off: test/integration/refunds.test.ts.)
import { describe, expect, it } from "vitest";
import { metricCounts } from "../../lib/observability.js";
import { orderStringFor } from "../../lib/payments/attempts.js";
import { getPayment, listRefundsNeeded } from "../../lib/payments/repository.js";
import { deriveAutomaticRefundId } from "../../lib/refunds/model.js";
import { getRefund } from "../../lib/refunds/repository.js";
import { testTimes, useStack, waitFor } from "./harness.js";
import { eventsAt, refundEventAt, refundSettled, sleep } from "./twoSided.js";

const t = useStack();

const simTrade = async (outTradeNo: string) => (await t.sim(`/sim/trades/${encodeURIComponent(outTradeNo)}`)).body;

describe("automatic refunds", () => {
  it("refunds a payment that reached a canceled payment's closed attempt, once, and tells the owner", async () => {
    const awaitingBefore = metricCounts.get("RefundsAwaitingPerson") ?? 0;
    const { payment, attempt } = await t.openPayment("auto-refund-ann", 2300);
    const paymentId = payment.paymentId as string;
    // Alipay had no trade for the attempt when it was closed, and (as Alipay may) still takes the money.
    const canceled = await t.business("shop").cancelPayment(paymentId);
    expect(canceled.body).toMatchObject({ status: "CANCELED" });
    const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(paid.status).toBe(200);
    const tradeNo = paid.body.tradeNo as string;
    const refundId = deriveAutomaticRefundId(paymentId, tradeNo);

    const refund = await refundSettled(paymentId, refundId);
    expect(refund).toMatchObject({ kind: "automatic", status: "SUCCEEDED", tradeNo, outTradeNo: attempt.outTradeNo, amountFen: 2300 });

    const event = await refundEventAt(t, "shop", refundId, "succeeded");
    expect(event).toMatchObject({ type: "refund.succeeded" });
    expect((event.data as any).refund).toMatchObject({
      refundId,
      paymentId,
      kind: "automatic",
      tradeNo,
      amount: 2300,
      status: "SUCCEEDED",
    });
    expect(eventsAt(t, "membership").some((e) => e.id.includes(refundId))).toBe(false);

    expect(await listRefundsNeeded(paymentId)).toEqual([
      expect.objectContaining({
        tradeNo,
        amountFen: 2300,
        reason: "paid_after_close",
        refundId,
        refundedAt: refund.succeededAt,
        refundedBy: "automatic refund",
      }),
    ]);
    // The business system sees the refund on the payment and under /refunds; the payment stays CANCELED.
    const read = await t.business("shop").getPayment(paymentId);
    expect(read.body).toMatchObject({ status: "CANCELED", automaticRefundIds: [refundId] });
    const list = await t.business("shop").request("GET", `/v1/payments/${paymentId}/refunds`);
    expect(list.body.refunds.map((r: any) => [r.refundId, r.kind, r.amount, r.status])).toEqual([
      [refundId, "automatic", 2300, "SUCCEEDED"],
    ]);

    // Alipay's notifications (the payment's, repeated; the refund's) and later checks add nothing.
    await sleep(3000);
    const trade = await simTrade(attempt.outTradeNo);
    expect(trade).toMatchObject({ refundedFen: 2300 });
    expect(trade.refunds.map((r: any) => [r.outRequestNo, r.refundFen])).toEqual([[refundId, 2300]]);
    expect(
      eventsAt(t, "shop")
        .filter((e) => e.id.includes(refundId))
        .map((e) => [e.id, e.deliveries]),
    ).toEqual([[`evt_${refundId}_succeeded`, 1]]);
    expect((await getRefund(paymentId, refundId)) as any).not.toHaveProperty("sweepShard");
    // Detected and refunded by itself: nobody is paged.
    expect(metricCounts.get("RefundsAwaitingPerson") ?? 0).toBe(awaitingBefore);
  }, 60_000);

  it("a refund Alipay refuses is FAILED, announced, and the record waits for a person", async () => {
    const awaitingBefore = metricCounts.get("RefundsAwaitingPerson") ?? 0;
    const { payment, attempt } = await t.openPayment("auto-refund-ben", 900);
    const paymentId = payment.paymentId as string;
    // Alipay says the attempt closed; then a payment for it shows up under a trade Alipay does not hold.
    await t.sim("/sim/notify/forge", {
      url: `${t.stack.urls.api}/alipay/notify`,
      outTradeNo: attempt.outTradeNo,
      mode: "valid",
      overrides: { trade_status: "TRADE_CLOSED", total_amount: "9.00" },
    });
    const tradeNo = "2026112522001400000000000077";
    await t.sim("/sim/notify/forge", {
      url: `${t.stack.urls.api}/alipay/notify`,
      outTradeNo: attempt.outTradeNo,
      mode: "valid",
      overrides: { trade_status: "TRADE_SUCCESS", total_amount: "9.00", trade_no: tradeNo },
    });
    const refundId = deriveAutomaticRefundId(paymentId, tradeNo);
    const refund = await refundSettled(paymentId, refundId);
    expect(refund).toMatchObject({ kind: "automatic", status: "FAILED", failureCode: "ACQ.TRADE_NOT_EXIST" });
    await refundEventAt(t, "shop", refundId, "failed", 20_000);
    const [needed] = await listRefundsNeeded(paymentId);
    expect(needed).toMatchObject({ tradeNo, status: "REFUND_NEEDED", refundId });
    expect(needed).not.toHaveProperty("refundedAt");
    // Only now does a person need to act: the refunds-needed alarm's metric.
    expect(metricCounts.get("RefundsAwaitingPerson")).toBe(awaitingBefore + 1);
  }, 60_000);

  it("refunds a second trade of a paid payment, and the payment keeps its own trade", async () => {
    const { payment, attempt } = await t.openPayment("auto-refund-cal", 1700);
    const paymentId = payment.paymentId as string;
    // The app asks again after attempt 1's time_expire (as its clock sees it): attempt 1 is closed
    // while Alipay has no trade for it, so its string stays payable at Alipay; attempt 2 is made.
    const later = Date.parse(attempt.orderStringExpiresAt) + Number(testTimes.LOCAL_CLOSE_MARGIN_SECONDS ?? 5) * 1000 + 1000;
    const second = await orderStringFor("auto-refund-cal", paymentId, later);
    expect(second.view).toMatchObject({ attemptNo: 2 });
    const paySecond = await t.sim("/sim/pay", { orderString: second.view.orderString });
    expect(paySecond.status).toBe(200);
    await waitFor(async () => (await getPayment(paymentId))?.status === "PAID", { what: "the payment PAID" });
    const payFirst = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(payFirst.status, JSON.stringify(payFirst.body)).toBe(200);
    const tradeNo = payFirst.body.tradeNo as string;
    const refundId = deriveAutomaticRefundId(paymentId, tradeNo);

    const refund = await refundSettled(paymentId, refundId);
    expect(refund).toMatchObject({ kind: "automatic", status: "SUCCEEDED", tradeNo, outTradeNo: attempt.outTradeNo, amountFen: 1700 });
    await refundEventAt(t, "shop", refundId, "succeeded", 20_000);
    expect(await listRefundsNeeded(paymentId)).toEqual([
      expect.objectContaining({ tradeNo, reason: "second_trade", refundedBy: "automatic refund" }),
    ]);
    // The payment's own trade is untouched, and its refundable total is whole.
    const stored = (await getPayment(paymentId)) as any;
    expect(stored).toMatchObject({ status: "PAID", tradeNo: paySecond.body.tradeNo, automaticRefundIds: [refundId] });
    expect(stored.refundedFen ?? 0).toBe(0);
    expect((await simTrade(second.view.outTradeNo)).refundedFen ?? 0).toBe(0);
    expect((await simTrade(attempt.outTradeNo)).refunds.map((r: any) => [r.outRequestNo, r.refundFen])).toEqual([[refundId, 1700]]);
  }, 60_000);
});
