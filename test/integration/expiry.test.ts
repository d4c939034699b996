// Expiry, at two levels. An attempt (one order string) is closed at Alipay once its time_expire has
// passed unpaid, unless the buyer paid in its last second; the payment stays OPEN, so the app can
// get a new attempt. The payment itself becomes EXPIRED at its own expiry, and its business system
// gets payment.expired.
import { describe, expect, it } from "vitest";
import { businessSystem, putBusinessSystem } from "../../lib/business/registry.js";
import { checkPayment } from "../../lib/payments/check.js";
import { getPayment } from "../../lib/payments/repository.js";
import { testTimes, useStack, waitFor } from "./harness.js";
import { eventAt, eventIdOf, eventsAt, sleep } from "./twoSided.js";

// Attempts live 4 s here (payments 30 min); the sweep closes an attempt 1 s (the skew margin) after its time_expire.
const t = useStack({ env: { LOCAL_ORDER_TTL_SECONDS: "4" } });
const closeMarginMs = Number(testTimes.LOCAL_CLOSE_MARGIN_SECONDS) * 1000;

const closeRequests = async (outTradeNo: string) =>
  ((await t.sim("/sim/events")).body as Array<{ kind: string; outTradeNo: string }>).filter(
    (e) => e.kind === "close-request" && e.outTradeNo === outTradeNo,
  );

const firstAttemptClosed = (paymentId: string) =>
  waitFor(
    async () => {
      const p = await getPayment(paymentId);
      return p?.attempts[0]?.status === "CLOSED" && p;
    },
    { what: "the first attempt closed" },
  );

describe("attempt expiry", () => {
  it("closes an unpaid attempt at Alipay once its time_expire has passed; the payment stays OPEN until its own expiry, then EXPIRED with payment.expired", async () => {
    const { payment, attempt } = await t.openPayment("mia", 100);
    const attemptExpiresAt = Date.parse(attempt.orderStringExpiresAt);
    // Its string is payable for a few more seconds and Alipay has no trade for it: no second string yet.
    const early = await t.orderString("mia", payment.paymentId);
    expect(early.status).toBe(409);
    expect(early.body.code).toBe("previous_attempt_expiring");

    const closed = await firstAttemptClosed(payment.paymentId);
    expect(closed.status).toBe("OPEN");
    expect(closed.attempts).toHaveLength(1);
    expect(closed.attempts[0]).toMatchObject({ status: "CLOSED", closeReason: "expired" });
    expect(closed.attempts[0]!.closedAt).toBeGreaterThanOrEqual(attemptExpiresAt + closeMarginMs);
    expect(closed.orderString).toBeUndefined();
    // Still in the sweep index, due at the payment's own expiry.
    expect(closed.sweepShard).toBeDefined();
    expect(closed.sweepAt).toBe(closed.expiresAt + closeMarginMs);
    expect(await closeRequests(attempt.outTradeNo)).not.toEqual([]);
    const pay = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(pay.status).toBeGreaterThanOrEqual(400);
    const app = await t.api(`/v1/app/payments/${payment.paymentId}`, { token: await t.token("mia") });
    expect(app.body).toMatchObject({ status: "OPEN" });
    const business = await t.business("shop").getPayment(payment.paymentId);
    expect(business.body).toMatchObject({ status: "OPEN", attempts: [{ attemptNo: 1, status: "CLOSED", closeReason: "expired" }] });
    await sleep(1000);
    expect(eventsAt(t, "shop", payment.paymentId)).toEqual([]);

    // The payment's own expiry (30 minutes here), on the check worker's clock.
    expect(await checkPayment(payment.paymentId, () => closed.expiresAt + closeMarginMs - 1)).toBe("waiting");
    expect((await getPayment(payment.paymentId))?.status).toBe("OPEN");
    expect(await checkPayment(payment.paymentId, () => closed.expiresAt + closeMarginMs)).toBe("expired");
    const expired = (await getPayment(payment.paymentId))!;
    expect(expired).toMatchObject({ status: "EXPIRED", attempts: [{ status: "CLOSED" }] });
    expect(expired.expiredAt).toBe(closed.expiresAt + closeMarginMs);
    expect(expired.sweepShard).toBeUndefined();
    expect(await checkPayment(payment.paymentId, () => closed.expiresAt + closeMarginMs + 1000)).toBe("settled");

    const event = await eventAt(t, "shop", payment.paymentId, "expired");
    expect(event).toMatchObject({ type: "payment.expired", deliveries: 1 });
    expect((event.data as any).payment).toMatchObject({
      paymentId: payment.paymentId,
      status: "EXPIRED",
      attempts: [{ status: "CLOSED" }],
    });
    const again = await t.orderString("mia", payment.paymentId);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("payment_expired");
    const cancel = await t.business("shop").cancelPayment(payment.paymentId);
    expect(cancel.status).toBe(409);
    expect(cancel.body.code).toBe("payment_expired");
    await sleep(1000);
    expect(eventsAt(t, "shop", payment.paymentId).map((e) => [e.id, e.deliveries])).toEqual([[eventIdOf(payment.paymentId, "expired"), 1]]);
    expect(eventsAt(t, "membership", payment.paymentId)).toEqual([]);
  });

  it("marks PAID a payment the buyer paid in its attempt's last second, though its notifications were lost", async () => {
    const { payment, attempt } = await t.openPayment("noah", 100);
    await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, dropFirst: 100 });
    const expiresAt = Date.parse(attempt.orderStringExpiresAt);
    await sleep(Math.max(0, expiresAt - Date.now() - 700));
    const pay = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(pay.status).toBe(200);
    const settled = await waitFor(
      async () => {
        const p = await getPayment(payment.paymentId);
        return p && p.attempts[0]?.status !== "PENDING" && p;
      },
      { what: "the attempt settled" },
    );
    expect(settled).toMatchObject({ status: "PAID", paidVia: "query", tradeNo: pay.body.tradeNo, attempts: [{ status: "PAID" }] });
    const event = await eventAt(t, "shop", payment.paymentId, "succeeded");
    expect((event.data as any).payment).toMatchObject({ status: "PAID", tradeNo: pay.body.tradeNo });
  });

  it("lets the app get a new attempt once the old one's time_expire has passed, and that one pays the payment", async () => {
    const { payment, attempt } = await t.openPayment("olga", 100);
    const expiresAt = Date.parse(attempt.orderStringExpiresAt);
    // Past the first attempt's time_expire plus the margin: whoever comes first (the app or the
    // sweep) closes it at Alipay before a second attempt is written.
    await sleep(Math.max(0, expiresAt + closeMarginMs + 50 - Date.now()));
    const second = await waitFor(
      async () => {
        const answer = await t.orderString("olga", payment.paymentId);
        if (answer.status === 409 && answer.body.code === "concurrent_update") return false;
        return answer;
      },
      { what: "the second order string" },
    );
    expect(second.status, JSON.stringify(second.body)).toBe(201);
    expect(second.body).toMatchObject({ attemptNo: 2, outTradeNo: `${payment.paymentId}_2` });
    const stored = (await getPayment(payment.paymentId))!;
    expect(stored.attempts[0]).toMatchObject({ status: "CLOSED" });
    expect(["expired", "replaced"]).toContain(stored.attempts[0]!.closeReason);
    expect(await closeRequests(attempt.outTradeNo)).not.toEqual([]);
    const closedAt = stored.history.findIndex((h) => h.event === "attempt closed");
    const secondAt = stored.history.findIndex((h) => h.event === "attempt" && h.detail === `${payment.paymentId}_2`);
    expect(closedAt).toBeGreaterThan(0);
    expect(secondAt).toBeGreaterThan(closedAt);

    expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBeGreaterThanOrEqual(400);
    const pay = await t.sim("/sim/pay", { orderString: second.body.orderString });
    expect(pay.status).toBe(200);
    const event = await eventAt(t, "shop", payment.paymentId, "succeeded");
    expect((event.data as any).payment).toMatchObject({
      status: "PAID",
      tradeNo: pay.body.tradeNo,
      attempts: [
        { attemptNo: 1, status: "CLOSED" },
        { attemptNo: 2, status: "PAID", tradeNo: pay.body.tradeNo },
      ],
    });
  });
});

describe("payment expiry", () => {
  it("expires a payment nobody opened at its business system's default expiry, through the sweep, with payment.expired to that system only", async () => {
    // Ops shorten membership's default payment expiry (a registry update, no redeploy).
    const membership = (await businessSystem("membership", { fresh: true }))!;
    await putBusinessSystem({ ...membership, paymentExpirySeconds: 3, updatedAt: Date.now() });
    try {
      const created = await t.createPayment({ userId: "pia", amount: 100 }, { system: "membership" });
      expect(created.status).toBe(201);
      const paymentId = created.body.paymentId as string;
      expect(Date.parse(created.body.expiresAt) - Date.parse(created.body.createdAt)).toBe(3000);
      // Less than a minute left: the app gets no order string for it.
      const app = await t.orderString("pia", paymentId);
      expect(app.status).toBe(409);
      expect(app.body.code).toBe("payment_expired");

      const event = await eventAt(t, "membership", paymentId, "expired");
      expect(event).toMatchObject({ type: "payment.expired", deliveries: 1 });
      expect((event.data as any).payment).toMatchObject({ paymentId, status: "EXPIRED", attempts: [] });
      const stored = (await getPayment(paymentId))!;
      expect(stored.status).toBe("EXPIRED");
      expect(stored.expiredAt).toBeGreaterThanOrEqual(stored.expiresAt + closeMarginMs);
      expect(stored.sweepShard).toBeUndefined();
      expect(eventsAt(t, "shop", paymentId)).toEqual([]);
    } finally {
      await putBusinessSystem({ ...membership, updatedAt: Date.now() });
    }
  });

  it("honours the expiresInSeconds a business system gives: open until then (plus the margin), then EXPIRED", async () => {
    const created = await t.createPayment({ userId: "quin", amount: 100, expiresInSeconds: 120 });
    expect(created.status).toBe(201);
    const paymentId = created.body.paymentId as string;
    const expiresAt = Date.parse(created.body.expiresAt);
    expect(expiresAt - Date.parse(created.body.createdAt)).toBe(120_000);
    // More than a minute left: the app gets an order string, live for the attempt's 4 s at most.
    const attempt = await t.orderString("quin", paymentId);
    expect(attempt.status).toBe(201);
    expect(Date.parse(attempt.body.orderStringExpiresAt)).toBeLessThanOrEqual(expiresAt);
    await firstAttemptClosed(paymentId);

    expect(await checkPayment(paymentId, () => expiresAt + closeMarginMs - 1)).toBe("waiting");
    expect(await checkPayment(paymentId, () => expiresAt + closeMarginMs)).toBe("expired");
    const event = await eventAt(t, "shop", paymentId, "expired");
    expect((event.data as any).payment).toMatchObject({ paymentId, status: "EXPIRED", attempts: [{ status: "CLOSED" }] });
  });
});
