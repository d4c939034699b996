// The two-sided flow end to end, over HTTP: a business system creates a payment (it sets the
// amount), the app gets the order string (no amount), the simulator's buyer pays, the signed
// notification makes it PAID, and the owning business system alone receives payment.succeeded.
import { describe, expect, it } from "vitest";
import { getPayment } from "../../lib/payments/repository.js";
import { useStack, waitFor } from "./harness.js";

const t = useStack();

const eventOf = (system: string, paymentId: string, type = "payment.succeeded") =>
  waitFor(async () => [...t.stack.receivers[system]!.events.values()].find((e) => e.id === `evt_${paymentId}_${type.split(".")[1]}`), {
    what: `${type} of ${paymentId} at ${system}`,
  });

describe("two-sided payment", () => {
  it("business creates, app pays, business gets one signed event", async () => {
    const { payment, attempt } = await t.openPayment("alice", 1234);
    expect(payment).toMatchObject({ status: "OPEN", amount: 1234, amountYuan: "12.34", currency: "CNY", userId: "alice", attempts: [] });
    expect(attempt).toMatchObject({ paymentId: payment.paymentId, attemptNo: 1, amount: 1234, status: "OPEN" });
    expect(decodeURIComponent(attempt.orderString)).toContain(`"out_trade_no":"${attempt.outTradeNo}"`);

    const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(paid.status).toBe(200);
    const event = await eventOf("shop", payment.paymentId);
    expect(event).toMatchObject({ type: "payment.succeeded", deliveries: 1 });
    expect((event.data as any).payment).toMatchObject({ paymentId: payment.paymentId, status: "PAID", amount: 1234, tradeNo: paid.body.tradeNo });

    const read = await t.business("shop").getPayment(payment.paymentId);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ status: "PAID", attempts: [{ attemptNo: 1, status: "PAID", tradeNo: paid.body.tradeNo }] });
    const app = await t.api(`/v1/app/payments/${payment.paymentId}`, { token: await t.token("alice") });
    expect(app.body).toMatchObject({ status: "PAID", amount: 1234 });
    expect((await getPayment(payment.paymentId))?.sweepShard).toBeUndefined();
    // Membership never hears of shop's payment.
    expect([...t.stack.receivers.membership!.events.values()].some((e) => e.id.includes(payment.paymentId))).toBe(false);
  });
});
