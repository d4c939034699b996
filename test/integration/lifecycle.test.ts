// The payment lifecycle end to end, over HTTP: the business system creates the payment -> the app
// gets the order string -> the simulator's buyer pays -> signed notification -> PAID ->
// payment.succeeded delivered to the owning business system. Then what the money path must
// survive: lost and duplicated notifications, forged ones, a receiver that is down, money that
// reaches a closed attempt, and a new attempt only once the previous one can no longer be paid.
import { describe, expect, it } from "vitest";
import { HttpError } from "../../lib/api/errors.js";
import { metricCounts } from "../../lib/observability.js";
import { orderStringFor } from "../../lib/payments/attempts.js";
import { checkPayment } from "../../lib/payments/check.js";
import { getPayment, listRefundsNeeded } from "../../lib/payments/repository.js";
import { businessOrderId, testTimes, useStack, waitFor } from "./harness.js";
import { eventAt, eventIdOf, eventsAt, sleep } from "./twoSided.js";

const t = useStack();
const closeMarginMs = Number(testTimes.LOCAL_CLOSE_MARGIN_SECONDS) * 1000;

/** A new payment and its first order string, paid by the simulator's buyer (after `scenario` is set for the attempt). */
async function openAndPay(user: string, amount = 1234, scenario?: Record<string, unknown>) {
  const { payment, attempt } = await t.openPayment(user, amount);
  if (scenario) expect((await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, ...scenario })).status).toBe(200);
  const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
  expect(paid.status).toBe(200);
  return { payment, attempt, trade: paid.body };
}

const paidPayment = (paymentId: string, what = "payment paid") =>
  waitFor(
    async () => {
      const p = await getPayment(paymentId);
      return p?.status === "PAID" && p;
    },
    { what },
  );

const closeRequests = async (outTradeNo: string) =>
  ((await t.sim("/sim/events")).body as Array<{ kind: string; outTradeNo: string; atMs: number }>).filter(
    (e) => e.kind === "close-request" && e.outTradeNo === outTradeNo,
  );

const metric = (name: string) => metricCounts.get(name) ?? 0;

/** The app's order-string request at another time (the HTTP route runs the same code with the real clock). */
async function orderStringAt(user: string, paymentId: string, now: number) {
  try {
    return await orderStringFor(user, paymentId, now);
  } catch (error) {
    if (error instanceof HttpError) return { error: { statusCode: error.statusCode, code: error.code } };
    throw error;
  }
}

describe("happy path", () => {
  it("gets paid through the notification and delivers one payment.succeeded to the owning business system", async () => {
    const { payment, attempt, trade } = await openAndPay("alice", 1234);
    expect(attempt).toMatchObject({
      status: "OPEN",
      amount: 1234,
      amountYuan: "12.34",
      currency: "CNY",
      attemptNo: 1,
      outTradeNo: `${payment.paymentId}_1`,
    });
    expect(decodeURIComponent(attempt.orderString)).toContain(`"out_trade_no":"${attempt.outTradeNo}"`);
    expect(decodeURIComponent(attempt.orderString)).toContain(`"total_amount":"12.34"`);
    expect(decodeURIComponent(attempt.orderString)).toContain("time_expire");

    const event = await eventAt(t, "shop", payment.paymentId, "succeeded");
    expect(event).toMatchObject({ id: eventIdOf(payment.paymentId, "succeeded"), type: "payment.succeeded", deliveries: 1 });
    expect((event.data as any).payment).toMatchObject({
      paymentId: payment.paymentId,
      businessOrderId: payment.businessOrderId,
      status: "PAID",
      amount: 1234,
      amountYuan: "12.34",
      tradeNo: trade.tradeNo,
      attempts: [{ attemptNo: 1, status: "PAID", tradeNo: trade.tradeNo }],
    });

    const read = await t.business("shop").getPayment(payment.paymentId);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ paymentId: payment.paymentId, status: "PAID", amount: 1234, tradeNo: trade.tradeNo });
    const app = await t.api(`/v1/app/payments/${payment.paymentId}`, { token: await t.token("alice") });
    expect(app.status).toBe(200);
    expect(app.body).toMatchObject({ paymentId: payment.paymentId, status: "PAID", amount: 1234 });
    expect(app.body.orderString).toBeUndefined();

    const stored = (await getPayment(payment.paymentId))!;
    expect(stored.paidVia).toBe("notify");
    expect(stored.sweepShard).toBeUndefined();
    expect(stored.orderString).toBeUndefined();
    expect(stored.history.map((h) => h.event)).toEqual(["created", "attempt", "paid"]);
    // Acknowledged with the literal `success`.
    const sent = (await t.sim(`/sim/notifications?outTradeNo=${attempt.outTradeNo}`)).body as Array<{
      acknowledged: boolean;
      responseBody: string;
    }>;
    expect(sent.some((a) => a.acknowledged && a.responseBody === "success")).toBe(true);
    // Membership never hears of shop's payment.
    expect(eventsAt(t, "membership", payment.paymentId)).toEqual([]);
  });

  it("shows a payment to a polling app even before the notification arrives", async () => {
    const { payment } = await openAndPay("alice", 500, { delayMs: 60_000 });
    const read = await t.api(`/v1/app/payments/${payment.paymentId}`, { token: await t.token("alice") });
    expect(read.body.status).toBe("PAID");
    expect((await getPayment(payment.paymentId))?.paidVia).toBe("query");
  });
});

describe("missed and duplicated notifications", () => {
  it("recovers a payment whose notifications are all lost, through the sweep", async () => {
    const before = metric("PaymentsFoundByQuery");
    const { payment } = await openAndPay("bob", 999, { dropFirst: 100 });
    const stored = await paidPayment(payment.paymentId, "the sweep to find the payment");
    expect(stored.paidVia).toBe("query");
    expect(metric("PaymentsFoundByQuery")).toBeGreaterThan(before);
    const event = await eventAt(t, "shop", payment.paymentId, "succeeded");
    expect((event.data as any).payment).toMatchObject({ status: "PAID", tradeNo: stored.tradeNo });
  });

  it("makes one transition and one event from 20 concurrent copies of a notification racing the sweep", async () => {
    const paidBefore = metric("PaymentsSucceeded");
    const { payment, attempt } = await openAndPay("carol", 4321, { duplicate: 19 });
    // The sweep's check of the same payment races the 20 notifications.
    const notified = waitFor(
      async () => {
        const sent = (await t.sim(`/sim/notifications?outTradeNo=${attempt.outTradeNo}`)).body as Array<{ httpStatus: number | null }>;
        return sent.filter((a) => a.httpStatus !== null).length >= 20 && sent;
      },
      { what: "20 notification copies answered" },
    );
    await Promise.all([checkPayment(payment.paymentId), t.stack.schedules.sweep!.fire(), checkPayment(payment.paymentId), notified]);
    await eventAt(t, "shop", payment.paymentId, "succeeded");
    expect((await notified).every((a) => a.httpStatus === 200)).toBe(true);
    const stored = (await getPayment(payment.paymentId))!;
    expect(stored.history.filter((h) => h.event === "paid")).toHaveLength(1);
    expect(metric("PaymentsSucceeded") - paidBefore).toBe(1);
    await sleep(1000);
    expect(eventsAt(t, "shop", payment.paymentId).map((e) => [e.id, e.deliveries])).toEqual([
      [eventIdOf(payment.paymentId, "succeeded"), 1],
    ]);
    expect(await listRefundsNeeded(payment.paymentId)).toEqual([]);
  });
});

describe("identity and idempotency", () => {
  // payments.test.ts covers the replay rules in depth (concurrent keys, replays after a change).
  it("replays a key's first answer, refuses it with another body, and keeps each business system's keys apart", async () => {
    const input = { businessOrderId: businessOrderId("idem"), amount: 100, subject: "Tea", userId: "dave" };
    const first = await t.business("shop").createPayment(input, "idem-1");
    const again = await t.business("shop").createPayment(input, "idem-1");
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body).toEqual(first.body);
    const other = await t.business("shop").createPayment({ ...input, amount: 101 }, "idem-1");
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_key_reused");
    // The same key and business order from another business system is another payment.
    const membership = await t.business("membership").createPayment(input, "idem-1");
    expect(membership.status).toBe(201);
    expect(membership.body.paymentId).not.toBe(first.body.paymentId);
    expect((await t.business("membership").getPayment(first.body.paymentId)).status).toBe(404);
  });

  it("never charges a business order twice: another key answers the payment, and a paid one has no order string left", async () => {
    const input = { businessOrderId: businessOrderId("twice"), amount: 300, subject: "Tea", userId: "frank" };
    const first = await t.business("shop").createPayment(input, `k1-${input.businessOrderId}`);
    const attempt = await t.orderString("frank", first.body.paymentId);
    expect(attempt.status).toBe(201);
    const second = await t.business("shop").createPayment(input, `k2-${input.businessOrderId}`);
    expect(second.status).toBe(200);
    expect(second.body.paymentId).toBe(first.body.paymentId);
    expect((await t.orderString("frank", first.body.paymentId)).body.orderString).toBe(attempt.body.orderString);
    const conflicting = await t.business("shop").createPayment({ ...input, amount: 301 }, `k3-${input.businessOrderId}`);
    expect(conflicting.status).toBe(409);
    expect(conflicting.body.code).toBe("payment_conflict");

    await t.sim("/sim/pay", { orderString: attempt.body.orderString });
    await paidPayment(first.body.paymentId);
    const third = await t.business("shop").createPayment(input, `k4-${input.businessOrderId}`);
    expect(third.status).toBe(200);
    expect(third.body).toMatchObject({ paymentId: first.body.paymentId, status: "PAID" });
    const noMore = await t.orderString("frank", first.body.paymentId);
    expect(noMore.status).toBe(409);
    expect(noMore.body.code).toBe("already_paid");
  });

  it("hides other users' payments from the app and refuses missing or expired tokens", async () => {
    const created = await t.createPayment({ userId: "grace", amount: 100 });
    const paymentId = created.body.paymentId as string;
    const read = `/v1/app/payments/${paymentId}`;
    for (const answer of [await t.api(read, { token: await t.token("heidi") }), await t.orderString("heidi", paymentId)]) {
      expect(answer.status).toBe(404);
      expect(answer.body.code).toBe("payment_not_found");
    }
    expect((await t.api(read)).status).toBe(401);
    expect((await t.api(`${read}/order-string`, { method: "POST" })).status).toBe(401);
    const expired = await t.stack.issueToken("grace", -60);
    expect((await t.api(read, { token: expired })).status).toBe(401);
    expect((await t.api(read, { token: await t.token("grace") })).status).toBe(200);
    // Heidi's attempts made nothing.
    expect((await getPayment(paymentId))?.attempts).toEqual([]);
  });

  it.each([
    [{ amount: 0 }, "amount_invalid"],
    [{ amount: 1.5 }, "amount_invalid"],
    [{ amount: "100" }, "amount_invalid"],
    [{ amount: 10_000_000_001 }, "amount_invalid"],
    [{ subject: "a&b" }, "subject_invalid"],
    [{ subject: "" }, "subject_invalid"],
    [{ businessOrderId: "a b" }, "business_order_id_invalid"],
    [{ userId: "" }, "user_id_invalid"],
    [{ expiresInSeconds: 60 }, "expires_in_seconds_invalid"],
    [{ currency: "USD" }, "unknown_field"],
    ["[1,2]", "body_not_object"],
    ["{oops", "body_not_json"],
  ] as const)("refuses %j with %s", async (change, code) => {
    const body = typeof change === "string" ? change : { businessOrderId: "a", amount: 1, subject: "s", userId: "ivan", ...change };
    const answer = await t
      .business("shop")
      .request("POST", "/v1/payments", { body, headers: { "idempotency-key": `bad-${code}-${Math.random()}` } });
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe(code);
    expect(answer.body.message).toEqual(expect.any(String));
  });

  it("requires an Idempotency-Key", async () => {
    const answer = await t
      .business("shop")
      .request("POST", "/v1/payments", { body: { businessOrderId: "a", amount: 1, subject: "s", userId: "ivan" } });
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe("idempotency_key_missing");
  });
});

describe("forged and mismatched notifications", () => {
  it.each([
    ["bad-signature", {}, "bad_signature"],
    ["other-key", {}, "bad_signature"],
    ["tampered-amount", {}, "bad_signature"],
    ["valid", { total_amount: "0.01" }, "amount_mismatch"],
    ["valid", { app_id: "2021999999999999" }, "app_id_mismatch"],
    ["valid", { seller_id: "2088999999999999" }, "seller_id_mismatch"],
    ["valid", { seller_id: "" }, "seller_id_mismatch"],
  ] as const)("%s %j changes nothing (%s)", async (mode, overrides, reason) => {
    const { payment, attempt } = await t.openPayment("judy", 700);
    const before = metric(`NotificationsRejected.${reason}`);
    const forged = await t.sim("/sim/notify/forge", {
      url: `${t.stack.urls.api}/alipay/notify`,
      outTradeNo: attempt.outTradeNo,
      mode,
      overrides,
    });
    expect(forged.status).toBe(200);
    expect(forged.body.responseBody ?? forged.body.attempt?.responseBody).toBe("failure");
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "OPEN", attempts: [{ attemptNo: 1, status: "PENDING" }] });
    expect(metric(`NotificationsRejected.${reason}`)).toBe(before + 1);
  });

  it("rejects a validly signed notification for a trade that is not ours, or for an attempt that was never made", async () => {
    const { payment } = await t.openPayment("judy", 700);
    for (const outTradeNo of ["p_not_ours_123", `${payment.paymentId}_2`, `pay${"0".repeat(29)}_1`]) {
      const before = metric("NotificationsRejected.unknown_order");
      const forged = await t.sim("/sim/notify/forge", {
        url: `${t.stack.urls.api}/alipay/notify`,
        outTradeNo,
        mode: "valid",
        overrides: { total_amount: "7.00" },
      });
      expect(forged.body.responseBody ?? forged.body.attempt?.responseBody, outTradeNo).toBe("failure");
      expect(metric("NotificationsRejected.unknown_order"), outTradeNo).toBe(before + 1);
    }
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "OPEN", attempts: [{ attemptNo: 1, status: "PENDING" }] });
  });
});

describe("event delivery", () => {
  it("delivers the event once the business receiver comes back up", async () => {
    t.stack.receivers.shop!.setMode("down");
    try {
      const { payment } = await openAndPay("ken", 800);
      await paidPayment(payment.paymentId);
      await sleep(2500);
      expect(t.stack.receivers.shop!.events.has(eventIdOf(payment.paymentId, "succeeded"))).toBe(false);
      t.stack.receivers.shop!.setMode("up");
      const event = await eventAt(t, "shop", payment.paymentId, "succeeded");
      expect(event.deliveries).toBe(1);
    } finally {
      t.stack.receivers.shop!.setMode("up");
    }
  });
});

describe("late payments", () => {
  it("records a payment on an attempt Alipay already closed as needing a refund; the payment stays open for a new attempt", async () => {
    const { payment, attempt } = await t.openPayment("leo", 900);
    const before = metric("RefundsNeeded.paid_after_close");
    // Alipay tells us the trade closed; then a payment for it shows up (forged as validly signed).
    await t.sim("/sim/notify/forge", {
      url: `${t.stack.urls.api}/alipay/notify`,
      outTradeNo: attempt.outTradeNo,
      mode: "valid",
      overrides: { trade_status: "TRADE_CLOSED", total_amount: "9.00" },
    });
    expect(await getPayment(payment.paymentId)).toMatchObject({
      status: "OPEN",
      attempts: [{ status: "CLOSED", closeReason: "alipay_closed" }],
    });
    const late = await t.sim("/sim/notify/forge", {
      url: `${t.stack.urls.api}/alipay/notify`,
      outTradeNo: attempt.outTradeNo,
      mode: "valid",
      overrides: { trade_status: "TRADE_SUCCESS", total_amount: "9.00", trade_no: "2026112522001400000000000001" },
    });
    expect(late.body.responseBody ?? late.body.attempt?.responseBody).toBe("success");
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "OPEN", attempts: [{ status: "CLOSED" }] });
    expect(await listRefundsNeeded(payment.paymentId)).toEqual([
      expect.objectContaining({ tradeNo: "2026112522001400000000000001", amountFen: 900, attemptNo: 1, reason: "paid_after_close" }),
    ]);
    expect(metric("RefundsNeeded.paid_after_close")).toBe(before + 1);
    // The closed attempt is no longer payable: the app gets a new one.
    const next = await t.orderString("leo", payment.paymentId);
    expect(next.status).toBe(201);
    expect(next.body).toMatchObject({ attemptNo: 2, outTradeNo: `${payment.paymentId}_2` });
    await sleep(500);
    expect(eventsAt(t, "shop", payment.paymentId)).toEqual([]);
  });
});

describe("a new attempt only once the previous one can no longer be paid", () => {
  it("while the attempt stays payable for more than a minute, asking again answers the same order string (200), no new attempt", async () => {
    const { payment, attempt } = await t.openPayment("mona", 1100);
    const again = await t.orderString("mona", payment.paymentId);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ attemptNo: 1, outTradeNo: attempt.outTradeNo, orderString: attempt.orderString });
    // Up to exactly one minute before its time_expire, still the same string.
    const expiresAt = Date.parse(attempt.orderStringExpiresAt);
    const lastMinute = await orderStringAt("mona", payment.paymentId, expiresAt - 60_000);
    expect(lastMinute).toMatchObject({ statusCode: 200, view: { attemptNo: 1, orderString: attempt.orderString } });
    const read = await t.business("shop").getPayment(payment.paymentId);
    expect(read.body.attempts).toHaveLength(1);
    expect(read.body.attempts[0]).toMatchObject({ attemptNo: 1, status: "PENDING" });
    expect(await closeRequests(attempt.outTradeNo)).toEqual([]);
  });

  it("in its last minute, with no trade at Alipay yet, the attempt may still be paid: 409 previous_attempt_expiring, nothing closed", async () => {
    const { payment, attempt } = await t.openPayment("nina", 1200);
    const expiresAt = Date.parse(attempt.orderStringExpiresAt);
    for (const now of [expiresAt - 59_000, expiresAt - 1000, expiresAt + closeMarginMs - 1]) {
      const answer = await orderStringAt("nina", payment.paymentId, now);
      expect(answer, `at time_expire ${now - expiresAt} ms`).toEqual({ error: { statusCode: 409, code: "previous_attempt_expiring" } });
    }
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "OPEN", attempts: [{ attemptNo: 1, status: "PENDING" }] });
    expect(await closeRequests(attempt.outTradeNo)).toEqual([]);
    // And it is still payable: the buyer pays it, and that is the payment.
    expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
    await paidPayment(payment.paymentId);
  });

  it("after the attempt's time_expire: the first is closed at Alipay first, attempt 2 is made, and money on the first is never a second success", async () => {
    const { payment, attempt } = await t.openPayment("olga", 1300);
    const expiresAt = Date.parse(attempt.orderStringExpiresAt);
    const later = expiresAt + closeMarginMs + 1000;
    const answer = await orderStringAt("olga", payment.paymentId, later);
    expect(answer).toMatchObject({
      statusCode: 201,
      view: { attemptNo: 2, outTradeNo: `${payment.paymentId}_2`, status: "OPEN", amount: 1300 },
    });
    const second = (answer as Awaited<ReturnType<typeof orderStringFor>>).view;
    expect(second.orderString).not.toBe(attempt.orderString);
    expect(decodeURIComponent(second.orderString)).toContain(`"out_trade_no":"${payment.paymentId}_2"`);

    // Closed at Alipay, and recorded closed, before the second attempt was written.
    const closes = await closeRequests(attempt.outTradeNo);
    expect(closes).toHaveLength(1);
    const stored = (await getPayment(payment.paymentId))!;
    expect(stored.attempts).toMatchObject([
      { attemptNo: 1, status: "CLOSED", closeReason: "replaced" },
      { attemptNo: 2, status: "PENDING" },
    ]);
    expect(stored.history.map((h) => [h.event, h.detail])).toEqual([
      ["created", undefined],
      ["attempt", attempt.outTradeNo],
      ["attempt closed", "attempt 1: replaced"],
      ["attempt", `${payment.paymentId}_2`],
    ]);
    // Asking again now answers attempt 2.
    expect(await orderStringAt("olga", payment.paymentId, later)).toMatchObject({
      statusCode: 200,
      view: { attemptNo: 2, orderString: second.orderString },
    });

    // The first string: Alipay refuses it, or the money is recorded for a refund; never a success.
    const refundsBefore = metric("RefundsNeeded.paid_after_close");
    const payFirst = await t.sim("/sim/pay", { orderString: attempt.orderString });
    if (payFirst.status === 200) {
      const [refund] = await waitFor(
        async () => {
          const refunds = await listRefundsNeeded(payment.paymentId);
          return refunds.length > 0 && refunds;
        },
        { what: "the payment on the closed attempt recorded as a refund" },
      );
      expect(refund).toMatchObject({ attemptNo: 1, tradeNo: payFirst.body.tradeNo, amountFen: 1300, reason: "paid_after_close" });
      expect(metric("RefundsNeeded.paid_after_close")).toBe(refundsBefore + 1);
    } else {
      expect(payFirst.status).toBeGreaterThanOrEqual(400);
    }
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "OPEN", attempts: [{ status: "CLOSED" }, { status: "PENDING" }] });

    // The second string is the payment.
    const paySecond = await t.sim("/sim/pay", { orderString: second.orderString });
    expect(paySecond.status).toBe(200);
    const paid = await paidPayment(payment.paymentId);
    expect(paid).toMatchObject({
      tradeNo: paySecond.body.tradeNo,
      attempts: [{ status: "CLOSED" }, { status: "PAID", tradeNo: paySecond.body.tradeNo }],
    });
    expect(paid.history.filter((h) => h.event === "paid")).toHaveLength(1);
    const event = await eventAt(t, "shop", payment.paymentId, "succeeded");
    expect((event.data as any).payment).toMatchObject({ status: "PAID", tradeNo: paySecond.body.tradeNo });
    await sleep(1000);
    expect(eventsAt(t, "shop", payment.paymentId).map((e) => [e.id, e.deliveries])).toEqual([
      [eventIdOf(payment.paymentId, "succeeded"), 1],
    ]);
  });
});
