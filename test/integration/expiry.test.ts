// Orders that expire: closed at Alipay and locally, unless the buyer paid in the last second.
import { describe, expect, it } from "vitest";
import { getOrder } from "../../lib/orders/repository.js";
import { merchantOrderId, useStack, waitFor } from "./harness.js";

// Orders live 4 s here; the sweep closes them 1 s (the skew margin) after expiry.
const t = useStack({ env: { LOCAL_ORDER_TTL_SECONDS: "4" } });

describe("expiry", () => {
  it("closes an unpaid order at Alipay and locally, and its string can no longer be paid", async () => {
    const created = await t.createOrder("mia", { merchantOrderId: merchantOrderId(), amount: 100, subject: "Tea" });
    const closed = await waitFor(async () => {
      const o = await getOrder(created.body.orderId);
      return o?.status === "CLOSED" && o;
    }, { what: "order closed" });
    expect(closed.closeReason).toBe("expired");
    expect(closed.closedAt).toBeGreaterThanOrEqual(closed.expiresAt);
    const events = (await t.sim("/sim/events")).body as Array<{ kind: string; outTradeNo: string }>;
    expect(events.some((e) => e.kind === "close-request" && e.outTradeNo === created.body.orderId)).toBe(true);
    const pay = await t.sim("/sim/pay", { orderString: created.body.orderString });
    expect(pay.status).toBeGreaterThanOrEqual(400);
    const read = await t.api(`/orders/${created.body.orderId}`, { token: await t.token("mia") });
    expect(read.body).toMatchObject({ status: "CLOSED" });
    expect(read.body.orderString).toBeUndefined();
  });

  it("marks PAID an order the buyer paid in its last second, though its notifications were lost", async () => {
    const created = await t.createOrder("noah", { merchantOrderId: merchantOrderId(), amount: 100, subject: "Tea" });
    await t.sim("/sim/scenario", { outTradeNo: created.body.orderId, dropFirst: 100 });
    const expiresAt = Date.parse(created.body.expiresAt);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() - 700)));
    const pay = await t.sim("/sim/pay", { orderString: created.body.orderString });
    expect(pay.status).toBe(200);
    const paid = await waitFor(async () => {
      const o = await getOrder(created.body.orderId);
      return o && o.status !== "PENDING" && o;
    }, { what: "order settled" });
    expect(paid.status).toBe("PAID");
    expect(paid.paidVia).toBe("query");
  });

  it("lets a business order be paid with a new attempt once the old one is closed", async () => {
    const body = { merchantOrderId: merchantOrderId(), amount: 100, subject: "Tea" };
    const first = await t.createOrder("olga", body, "attempt-1");
    await waitFor(async () => (await getOrder(first.body.orderId))?.status === "CLOSED", { what: "first attempt closed" });
    const second = await t.createOrder("olga", body, "attempt-2");
    expect(second.status).toBe(201);
    expect(second.body.orderId).not.toBe(first.body.orderId);
    expect((await t.sim("/sim/pay", { orderString: second.body.orderString })).status).toBe(200);
  });
});
