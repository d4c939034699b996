// The payment lifecycle end to end, over HTTP: mobile API -> order string -> the simulator's buyer
// pays -> signed notification -> PAID -> event delivered to the business receiver.
import { describe, expect, it } from "vitest";
import { metricCounts } from "../../lib/observability.js";
import { getOrder, listRefundsNeeded } from "../../lib/orders/repository.js";
import { checkOrder } from "../../lib/orders/check.js";
import { merchantOrderId, useStack, waitFor } from "./harness.js";

const t = useStack();

async function createAndPay(user: string, amount = 1234, scenario?: Record<string, unknown>) {
  const created = await t.createOrder(user, { merchantOrderId: merchantOrderId(), amount, subject: "Coffee beans" });
  expect(created.status).toBe(201);
  if (scenario) expect((await t.sim("/sim/scenario", { outTradeNo: created.body.orderId, ...scenario })).status).toBe(200);
  const paid = await t.sim("/sim/pay", { orderString: created.body.orderString });
  expect(paid.status).toBe(200);
  return { order: created.body, trade: paid.body };
}

const deliveredEvent = (orderId: string) =>
  waitFor(async () => [...t.stack.receiver.events.values()].find((e) => (e.data as { orderId: string }).orderId === orderId), {
    what: `event of ${orderId}`,
  });

const metric = (name: string) => metricCounts.get(name) ?? 0;

describe("happy path", () => {
  it("creates an order string, gets paid through the notification and delivers one event", async () => {
    const { order, trade } = await createAndPay("alice", 1234);
    expect(order).toMatchObject({ status: "PENDING", amount: 1234, amountYuan: "12.34", currency: "CNY" });
    expect(decodeURIComponent(order.orderString)).toContain(`"out_trade_no":"${order.orderId}"`);
    expect(decodeURIComponent(order.orderString)).toContain("time_expire");

    const event = await deliveredEvent(order.orderId);
    expect(event).toMatchObject({ id: `evt_${order.orderId}_paid`, type: "order.paid", deliveries: 1 });
    expect(event.data).toMatchObject({ amount: 1234, amountYuan: "12.34", tradeNo: trade.tradeNo, paidVia: "notify" });

    const read = await t.api(`/orders/${order.orderId}`, { token: await t.token("alice") });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ orderId: order.orderId, status: "PAID", amount: 1234 });
    expect(read.body.orderString).toBeUndefined();

    const stored = (await getOrder(order.orderId))!;
    expect(stored.sweepShard).toBeUndefined();
    expect(stored.history.map((h) => h.event)).toEqual(["created", "paid"]);
    // Acknowledged with the literal `success`.
    const attempts = (await t.sim(`/sim/notifications?outTradeNo=${order.orderId}`)).body as Array<{ acknowledged: boolean; responseBody: string }>;
    expect(attempts.some((a) => a.acknowledged && a.responseBody === "success")).toBe(true);
  });

  it("shows a payment to a polling app even before the notification arrives", async () => {
    const { order } = await createAndPay("alice", 500, { delayMs: 60_000 });
    const read = await t.api(`/orders/${order.orderId}`, { token: await t.token("alice") });
    expect(read.body.status).toBe("PAID");
    expect((await getOrder(order.orderId))?.paidVia).toBe("query");
  });
});

describe("missed and duplicated notifications", () => {
  it("recovers a payment whose notifications are all lost, through the sweep", async () => {
    const before = metric("PaymentsFoundByQuery");
    const { order } = await createAndPay("bob", 999, { dropFirst: 100 });
    const stored = await waitFor(async () => {
      const o = await getOrder(order.orderId);
      return o?.status === "PAID" && o;
    }, { what: "sweep to find the payment" });
    expect(stored.paidVia).toBe("query");
    expect(metric("PaymentsFoundByQuery")).toBeGreaterThan(before);
    expect((await deliveredEvent(order.orderId)).data).toMatchObject({ paidVia: "query" });
  });

  it("makes one transition and one event from 20 concurrent copies of a notification racing the sweep", async () => {
    const paidBefore = metric("OrdersPaid");
    const { order } = await createAndPay("carol", 4321, { duplicate: 19 });
    // The sweep's check of the same order races the 20 notifications.
    const notified = waitFor(async () => {
      const attempts = (await t.sim(`/sim/notifications?outTradeNo=${order.orderId}`)).body as Array<{ httpStatus: number | null }>;
      return attempts.filter((a) => a.httpStatus !== null).length >= 20 && attempts;
    }, { what: "20 notification copies answered" });
    await Promise.all([checkOrder(order.orderId), t.stack.schedules.sweep!.fire(), checkOrder(order.orderId), notified]);
    await deliveredEvent(order.orderId);
    expect((await notified).every((a) => a.httpStatus === 200)).toBe(true);
    const stored = (await getOrder(order.orderId))!;
    expect(stored.history.filter((h) => h.event === "paid")).toHaveLength(1);
    expect(metric("OrdersPaid") - paidBefore).toBe(1);
    const events = [...t.stack.receiver.events.values()].filter((e) => (e.data as { orderId: string }).orderId === order.orderId);
    expect(events).toHaveLength(1);
  });
});

describe("identity and idempotency", () => {
  it("answers the same order for the same key and body, and 422 for the same key with another body", async () => {
    const body = { merchantOrderId: merchantOrderId(), amount: 100, subject: "Tea" };
    const first = await t.createOrder("dave", body, "idem-1");
    const again = await t.createOrder("dave", body, "idem-1");
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    const other = await t.createOrder("dave", { ...body, amount: 101 }, "idem-1");
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_key_reused");
    // The same key from another user is another request.
    const eve = await t.createOrder("eve", body, "idem-1");
    expect(eve.status).toBe(201);
    expect(eve.body.orderId).not.toBe(first.body.orderId);
  });

  it("creates exactly one order from 10 concurrent requests with one key", async () => {
    const body = { merchantOrderId: merchantOrderId(), amount: 250, subject: "Tea" };
    const answers = await Promise.all(Array.from({ length: 10 }, () => t.createOrder("dave", body, "idem-concurrent")));
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([201]));
    expect(new Set(answers.map((a) => a.body.orderId)).size).toBe(1);
  });

  it("never charges a business order twice: a pending one is answered, a paid one refused", async () => {
    const body = { merchantOrderId: merchantOrderId(), amount: 300, subject: "Tea" };
    const first = await t.createOrder("frank", body, "k1");
    const second = await t.createOrder("frank", body, "k2");
    expect(second.status).toBe(200);
    expect(second.body.orderId).toBe(first.body.orderId);
    expect(second.body.orderString).toBe(first.body.orderString);
    const conflicting = await t.createOrder("frank", { ...body, amount: 301 }, "k3");
    expect(conflicting.body.code).toBe("merchant_order_conflict");
    await t.sim("/sim/pay", { orderString: first.body.orderString });
    await waitFor(async () => (await getOrder(first.body.orderId))?.status === "PAID", { what: "paid" });
    const third = await t.createOrder("frank", body, "k4");
    expect(third.status).toBe(409);
    expect(third.body.code).toBe("already_paid");
  });

  it("hides other users' orders and refuses missing or expired tokens", async () => {
    const created = await t.createOrder("grace", { merchantOrderId: merchantOrderId(), amount: 100, subject: "Tea" });
    const path = `/orders/${created.body.orderId}`;
    expect((await t.api(path, { token: await t.token("heidi") })).status).toBe(404);
    expect((await t.api(path, { token: await t.token("heidi") })).body.code).toBe("order_not_found");
    expect((await t.api(path)).status).toBe(401);
    const expired = await t.stack.issueToken("grace", -60);
    expect((await t.api(path, { token: expired })).status).toBe(401);
    expect((await t.api(path, { token: await t.token("grace") })).status).toBe(200);
  });

  it.each([
    [{ merchantOrderId: "a", amount: 0, subject: "s" }, "amount_invalid"],
    [{ merchantOrderId: "a", amount: 1.5, subject: "s" }, "amount_invalid"],
    [{ merchantOrderId: "a", amount: "100", subject: "s" }, "amount_invalid"],
    [{ merchantOrderId: "a", amount: 10_000_000_001, subject: "s" }, "amount_invalid"],
    [{ merchantOrderId: "a", amount: 1, subject: "a&b" }, "subject_invalid"],
    [{ merchantOrderId: "a", amount: 1, subject: "" }, "subject_invalid"],
    [{ merchantOrderId: "a b", amount: 1, subject: "s" }, "merchant_order_id_invalid"],
    [{ merchantOrderId: "a", amount: 1, subject: "s", currency: "USD" }, "unknown_field"],
    ["[1,2]", "body_not_object"],
    ["{oops", "body_not_json"],
  ])("refuses %j with %s", async (body, code) => {
    const answer = await t.api("/orders", { token: await t.token("ivan"), body, headers: { "idempotency-key": `bad-${code}-${Math.random()}` } });
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe(code);
    expect(answer.body.message).toEqual(expect.any(String));
  });

  it("requires an Idempotency-Key", async () => {
    const answer = await t.api("/orders", { token: await t.token("ivan"), body: { merchantOrderId: "a", amount: 1, subject: "s" } });
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
    const created = await t.createOrder("judy", { merchantOrderId: merchantOrderId(), amount: 700, subject: "Tea" });
    const before = metric(`NotificationsRejected.${reason}`);
    const forged = await t.sim("/sim/notify/forge", {
      url: `${t.stack.urls.api}/alipay/notify`,
      outTradeNo: created.body.orderId,
      mode,
      overrides,
    });
    expect(forged.status).toBe(200);
    expect(forged.body.responseBody ?? forged.body.attempt?.responseBody).toBe("failure");
    expect((await getOrder(created.body.orderId))?.status).toBe("PENDING");
    expect(metric(`NotificationsRejected.${reason}`)).toBe(before + 1);
  });

  it("rejects a validly signed notification for an order that is not ours", async () => {
    const before = metric("NotificationsRejected.unknown_order");
    const forged = await t.sim("/sim/notify/forge", { url: `${t.stack.urls.api}/alipay/notify`, outTradeNo: "p_not_ours_123", mode: "valid" });
    expect(forged.body.responseBody ?? forged.body.attempt?.responseBody).toBe("failure");
    expect(metric("NotificationsRejected.unknown_order")).toBe(before + 1);
  });
});

describe("event delivery", () => {
  it("delivers the event once the business receiver comes back up", async () => {
    t.stack.receiver.setMode("down");
    try {
      const { order } = await createAndPay("ken", 800);
      await waitFor(async () => (await getOrder(order.orderId))?.status === "PAID", { what: "paid" });
      await new Promise((r) => setTimeout(r, 2500));
      expect(t.stack.receiver.events.has(`evt_${order.orderId}_paid`)).toBe(false);
      t.stack.receiver.setMode("up");
      const event = await deliveredEvent(order.orderId);
      expect(event.id).toBe(`evt_${order.orderId}_paid`);
    } finally {
      t.stack.receiver.setMode("up");
    }
  });
});

describe("late payments", () => {
  it("records a payment for an order we already closed as needing a refund", async () => {
    const created = await t.createOrder("leo", { merchantOrderId: merchantOrderId(), amount: 900, subject: "Tea" });
    const before = metric("RefundsNeeded.paid_after_close");
    // Alipay tells us the trade closed; then a payment for it shows up (forged as validly signed).
    await t.sim("/sim/notify/forge", {
      url: `${t.stack.urls.api}/alipay/notify`, outTradeNo: created.body.orderId, mode: "valid", overrides: { trade_status: "TRADE_CLOSED", total_amount: "9.00" },
    });
    expect((await getOrder(created.body.orderId))?.status).toBe("CLOSED");
    const late = await t.sim("/sim/notify/forge", {
      url: `${t.stack.urls.api}/alipay/notify`, outTradeNo: created.body.orderId, mode: "valid",
      overrides: { trade_status: "TRADE_SUCCESS", total_amount: "9.00", trade_no: "2026112522001400000000000001" },
    });
    expect(late.body.responseBody ?? late.body.attempt?.responseBody).toBe("success");
    expect((await getOrder(created.body.orderId))?.status).toBe("CLOSED");
    expect(await listRefundsNeeded(created.body.orderId)).toEqual([
      expect.objectContaining({ tradeNo: "2026112522001400000000000001", amountFen: 900, reason: "paid_after_close" }),
    ]);
    expect(metric("RefundsNeeded.paid_after_close")).toBe(before + 1);
  });
});
