// A crash between any two steps of a handler is recovered by a retry or by the sweep.
import { afterEach, describe, expect, it } from "vitest";
import { armFault, disarmFaults } from "../../lib/faults.js";
import { getOrder } from "../../lib/orders/repository.js";
import { metricCounts } from "../../lib/observability.js";
import { merchantOrderId, useStack, waitFor } from "./harness.js";

// The first sweep check comes 2 s after creation, so the notification (sent at once) is what
// makes the PAID write in the first test, not a racing check.
const t = useStack({ env: { LOCAL_ORDER_TTL_SECONDS: "4", LOCAL_CHECK_SCHEDULE_SECONDS: "2,3,5" } });
afterEach(() => disarmFaults());

async function createAndPay(user: string) {
  const created = await t.createOrder(user, { merchantOrderId: merchantOrderId(), amount: 1000, subject: "Tea" });
  await t.sim("/sim/pay", { orderString: created.body.orderString });
  return created.body.orderId as string;
}

const delivered = (orderId: string) =>
  waitFor(async () => t.stack.receiver.events.get(`evt_${orderId}_paid`), { what: `event of ${orderId} delivered` });

describe("crash recovery", () => {
  it("after the PAID write, before answering Alipay: Alipay's retry is a no-op and the event goes out once", async () => {
    armFault("payment.afterWrite");
    const orderId = await createAndPay("pat");
    const event = await delivered(orderId);
    expect(event.deliveries).toBe(1);
    const order = (await getOrder(orderId))!;
    expect(order.history.filter((h) => h.event === "paid")).toHaveLength(1);
    // The crashed attempt was not acknowledged, so Alipay sent it again.
    const attempts = await waitFor(async () => {
      const sent = (await t.sim(`/sim/notifications?outTradeNo=${orderId}`)).body as Array<{ httpStatus: number; acknowledged: boolean }>;
      return sent.some((a) => a.acknowledged) && sent;
    }, { what: "Alipay's retry acknowledged" });
    expect(attempts[0]?.httpStatus).toBe(500);
    expect(t.stack.receiver.events.get(`evt_${orderId}_paid`)?.deliveries).toBe(1);
  });

  it("in the stream consumer, before the event is sent: the stream retries and the event goes out", async () => {
    armFault("publish.beforeSend", 2);
    const orderId = await createAndPay("paz");
    const event = await delivered(orderId);
    expect(event.deliveries).toBe(1);
    expect(metricCounts.get("EventsPublished")).toBeGreaterThanOrEqual(1);
  });

  it("after the webhook POST, before the message is acknowledged: SQS delivers again and the receiver dedupes", async () => {
    armFault("delivery.afterPost");
    const orderId = await createAndPay("quinn");
    const event = await waitFor(async () => {
      const e = t.stack.receiver.events.get(`evt_${orderId}_paid`);
      return e && e.deliveries >= 2 && e;
    }, { what: "the redelivery" });
    expect(event.deliveries).toBe(2);
  });

  it("after the sweep claims an order, before it sends the check: the claim runs out and the next sweep checks it", async () => {
    const created = await t.createOrder("rita", { merchantOrderId: merchantOrderId(), amount: 1000, subject: "Tea" });
    await t.sim("/sim/scenario", { outTradeNo: created.body.orderId, dropFirst: 100 });
    armFault("sweep.afterClaim", 2);
    await t.sim("/sim/pay", { orderString: created.body.orderString });
    const order = await waitFor(async () => {
      const o = await getOrder(created.body.orderId);
      return o?.status === "PAID" && o;
    }, { what: "paid found by a later sweep" });
    expect(order.paidVia).toBe("query");
  });

  it("after closing at Alipay, before the CLOSED write: the retried check closes it", async () => {
    armFault("check.afterClose");
    const created = await t.createOrder("sam", { merchantOrderId: merchantOrderId(), amount: 1000, subject: "Tea" });
    const order = await waitFor(async () => {
      const o = await getOrder(created.body.orderId);
      return o?.status === "CLOSED" && o;
    }, { what: "closed after the crash" });
    expect(order.closeReason).toBe("expired");
  });
});
