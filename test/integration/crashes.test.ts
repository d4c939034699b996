// A crash between any two steps of a handler is recovered by a retry or by the sweep.
import { afterEach, describe, expect, it } from "vitest";
import { InjectedCrash, armFault, disarmFaults } from "../../lib/faults.js";
import { metricCounts } from "../../lib/observability.js";
import { orderStringFor } from "../../lib/payments/attempts.js";
import { getPayment, listRefundsNeeded } from "../../lib/payments/repository.js";
import { testTimes, useStack, waitFor } from "./harness.js";
import { eventAt, eventIdOf, eventsAt, sleep } from "./twoSided.js";

// Attempts live 4 s. The first sweep check comes 2 s after an attempt is made, so the notification
// (sent at once) is what makes the PAID write in the first test, not a racing check.
const t = useStack({ env: { LOCAL_ORDER_TTL_SECONDS: "4", LOCAL_CHECK_SCHEDULE_SECONDS: "2,3,5" } });
const closeMarginMs = Number(testTimes.LOCAL_CLOSE_MARGIN_SECONDS) * 1000;
afterEach(() => disarmFaults());

async function openAndPay(user: string) {
  const { payment, attempt } = await t.openPayment(user, 1000);
  await t.sim("/sim/pay", { orderString: attempt.orderString });
  return { paymentId: payment.paymentId as string, outTradeNo: attempt.outTradeNo as string };
}

const delivered = (paymentId: string) => eventAt(t, "shop", paymentId, "succeeded");

const firstAttemptClosed = (paymentId: string, what: string) =>
  waitFor(
    async () => {
      const p = await getPayment(paymentId);
      return p?.attempts[0]?.status === "CLOSED" && p;
    },
    { what },
  );

describe("crash recovery", () => {
  it("after the PAID write, before answering Alipay: Alipay's retry is a no-op and the event goes out once", async () => {
    armFault("payment.afterWrite");
    const { paymentId, outTradeNo } = await openAndPay("pat");
    const event = await delivered(paymentId);
    expect(event.deliveries).toBe(1);
    const payment = (await getPayment(paymentId))!;
    expect(payment.history.filter((h) => h.event === "paid")).toHaveLength(1);
    expect(payment.paidVia).toBe("notify");
    // The crashed request was not acknowledged, so Alipay sent it again.
    const sent = await waitFor(
      async () => {
        const all = (await t.sim(`/sim/notifications?outTradeNo=${outTradeNo}`)).body as Array<{
          httpStatus: number;
          acknowledged: boolean;
        }>;
        return all.some((a) => a.acknowledged) && all;
      },
      { what: "Alipay's retry acknowledged" },
    );
    expect(sent[0]?.httpStatus).toBe(500);
    await sleep(500);
    expect(eventsAt(t, "shop", paymentId).map((e) => [e.id, e.deliveries])).toEqual([[eventIdOf(paymentId, "succeeded"), 1]]);
    expect(await listRefundsNeeded(paymentId)).toEqual([]);
  });

  it("in the stream consumer, before the event is sent: the stream retries and the event goes out", async () => {
    armFault("publish.beforeSend", 2);
    const { paymentId } = await openAndPay("paz");
    const event = await delivered(paymentId);
    expect(event.deliveries).toBe(1);
    expect(metricCounts.get("EventsPublished")).toBeGreaterThanOrEqual(1);
  });

  it("after the webhook POST, before the message is acknowledged: SQS delivers again and the receiver dedupes", async () => {
    const { payment, attempt } = await t.openPayment("quinn", 1000);
    const paymentId = payment.paymentId as string;
    // Only this payment's event: the previous test's delivery may still be passing the point.
    armFault("delivery.afterPost", 1, paymentId);
    await t.sim("/sim/pay", { orderString: attempt.orderString });
    const event = await waitFor(
      async () => {
        const e = t.stack.receivers.shop!.events.get(eventIdOf(paymentId, "succeeded"));
        return e && e.deliveries >= 2 && e;
      },
      { what: "the redelivery" },
    );
    expect(event.deliveries).toBe(2);
  });

  it("after the sweep claims a payment, before it sends the check: the claim runs out and the next sweep checks it", async () => {
    const { payment, attempt } = await t.openPayment("rita", 1000);
    await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, dropFirst: 100 });
    armFault("sweep.afterClaim", 2);
    await t.sim("/sim/pay", { orderString: attempt.orderString });
    const paid = await waitFor(
      async () => {
        const p = await getPayment(payment.paymentId);
        return p?.status === "PAID" && p;
      },
      { what: "paid found by a later sweep" },
    );
    expect(paid.paidVia).toBe("query");
    await delivered(payment.paymentId);
  });

  it("after closing an expired attempt at Alipay, before the CLOSED write: the retried check closes it", async () => {
    armFault("check.afterClose");
    const { payment } = await t.openPayment("sam", 1000);
    const closed = await firstAttemptClosed(payment.paymentId, "closed after the crash");
    expect(closed.attempts[0]).toMatchObject({ status: "CLOSED", closeReason: "expired" });
    expect(closed.status).toBe("OPEN");
    // Closed at Alipay by the crashed check and again by its retry.
    const closes = ((await t.sim("/sim/events")).body as Array<{ kind: string; outTradeNo: string }>).filter(
      (e) => e.kind === "close-request" && e.outTradeNo === `${payment.paymentId}_1`,
    );
    expect(closes.length).toBeGreaterThanOrEqual(2);
  });

  it("the app's request for a new attempt, after it closed the old one at Alipay, before the CLOSED write: its retry makes attempt 2, never two payable", async () => {
    const { payment, attempt } = await t.openPayment("tom", 1000);
    // The buyer opened the cashier: Alipay has the trade, so the close really closes it.
    expect((await t.sim("/sim/open", { orderString: attempt.orderString })).status).toBe(200);
    // The app asks on a clock past the attempt's time_expire (the sweep, on the real clock, leaves it alone).
    const later = Date.parse(attempt.orderStringExpiresAt) + closeMarginMs + 1000;
    armFault("check.afterClose");
    await expect(orderStringFor("tom", payment.paymentId, later)).rejects.toBeInstanceOf(InjectedCrash);
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "OPEN", attempts: [{ attemptNo: 1, status: "PENDING" }] });
    expect((await t.sim(`/sim/trades/${attempt.outTradeNo}`)).body).toMatchObject({ status: "TRADE_CLOSED" });

    const retried = await orderStringFor("tom", payment.paymentId, later);
    expect(retried).toMatchObject({ statusCode: 201, view: { attemptNo: 2, outTradeNo: `${payment.paymentId}_2` } });
    expect(await getPayment(payment.paymentId)).toMatchObject({
      status: "OPEN",
      attempts: [
        { attemptNo: 1, status: "CLOSED" },
        { attemptNo: 2, status: "PENDING" },
      ],
    });
    expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(409);
    expect((await t.sim("/sim/pay", { orderString: retried.view.orderString })).status).toBe(200);
    const event = await delivered(payment.paymentId);
    expect((event.data as any).payment).toMatchObject({ status: "PAID", attempts: [{ status: "CLOSED" }, { status: "PAID" }] });
  });
});
