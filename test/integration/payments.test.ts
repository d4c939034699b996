// The two-sided flow end to end, over HTTP: a business system creates a payment (it sets the
// amount), the app gets the order string (no amount), the simulator's buyer pays, the signed
// notification makes it PAID, and the owning business system alone receives payment.succeeded.
// Then the rules of issue 9 one by one: create idempotency (every key replays its first answer,
// one payment per business order), one payable order string at a time, cancel (also racing the
// buyer's payment), and events per business system (one webhook down delays no other).
import { afterEach, describe, expect, it } from "vitest";
import { AlipayGateway } from "../../lib/alipay/gateway.js";
import { metricCounts } from "../../lib/observability.js";
import { derivePaymentId } from "../../lib/payments/model.js";
import { getPayment, listRefundsNeeded } from "../../lib/payments/repository.js";
import { businessOrderId, useStack, waitFor } from "./harness.js";
import { eventAt, eventIdOf, eventsAt, itemsWithSk, sleep } from "./twoSided.js";

const t = useStack();

const metric = (name: string) => metricCounts.get(name) ?? 0;

describe("two-sided payment", () => {
  it("business creates, app pays, business gets one signed event", async () => {
    const { payment, attempt } = await t.openPayment("alice", 1234);
    expect(payment).toMatchObject({ status: "OPEN", amount: 1234, amountYuan: "12.34", currency: "CNY", userId: "alice", attempts: [] });
    expect(attempt).toMatchObject({ paymentId: payment.paymentId, attemptNo: 1, amount: 1234, status: "OPEN" });
    expect(decodeURIComponent(attempt.orderString)).toContain(`"out_trade_no":"${attempt.outTradeNo}"`);

    const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(paid.status).toBe(200);
    const event = await eventAt(t, "shop", payment.paymentId, "succeeded");
    expect(event).toMatchObject({ type: "payment.succeeded", deliveries: 1 });
    expect((event.data as any).payment).toMatchObject({
      paymentId: payment.paymentId,
      status: "PAID",
      amount: 1234,
      tradeNo: paid.body.tradeNo,
    });

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

describe("create: every key replays its first answer, one payment per business order", () => {
  const shop = () => t.business("shop");
  const input = (order: string, overrides: Record<string, unknown> = {}) => ({
    businessOrderId: order,
    amount: 2500,
    subject: "Tea set",
    userId: "idem-user",
    ...overrides,
  });
  const newKey = (() => {
    let n = 0;
    return (label: string) => `${label}-${Date.now()}-${(n += 1)}`;
  })();

  it("the same key with the same body replays the first status and body", async () => {
    const order = businessOrderId("idem");
    const key = newKey("same");
    const first = await shop().createPayment(input(order), key);
    expect(first.status).toBe(201);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    const again = await shop().createPayment(input(order), key);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers["idempotent-replayed"]).toBe("true");
  });

  it("the same key with another body is refused with 422 idempotency_key_reused, nothing changes", async () => {
    const order = businessOrderId("idem");
    const key = newKey("reused");
    const first = await shop().createPayment(input(order), key);
    expect(first.status).toBe(201);
    for (const other of [input(order, { amount: 2501 }), input(businessOrderId("idem")), input(order, { subject: "Other" })]) {
      const reused = await shop().createPayment(other, key);
      expect(reused.status, JSON.stringify(other)).toBe(422);
      expect(reused.body.code).toBe("idempotency_key_reused");
    }
    expect((await shop().getPayment(first.body.paymentId)).body).toEqual(first.body);
  });

  it("another key for the same business order answers the existing payment (200), and replays that 200 after the payment changed", async () => {
    const order = businessOrderId("idem");
    const first = await shop().createPayment(input(order), newKey("first"));
    expect(first.status).toBe(201);
    const secondKey = newKey("second");
    const second = await shop().createPayment(input(order), secondKey);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(second.headers["idempotent-replayed"]).toBeUndefined();

    // The payment changes (an attempt is made): the key still answers what it answered first.
    const attempt = await t.orderString("idem-user", first.body.paymentId);
    expect(attempt.status).toBe(201);
    const changed = await shop().getPayment(first.body.paymentId);
    expect(changed.body.attempts).toHaveLength(1);
    const replayed = await shop().createPayment(input(order), secondKey);
    expect(replayed.status).toBe(200);
    expect(replayed.body).toEqual(second.body);
    expect(replayed.headers["idempotent-replayed"]).toBe("true");
  });

  it("another key with another amount, subject or user is a 409 payment_conflict, replayed as 409", async () => {
    const order = businessOrderId("idem");
    const first = await shop().createPayment(input(order), newKey("first"));
    expect(first.status).toBe(201);
    for (const other of [{ amount: 1 }, { subject: "Cheaper tea" }, { userId: "someone-else" }]) {
      const key = newKey("conflict");
      const conflict = await shop().createPayment(input(order, other), key);
      expect(conflict.status, JSON.stringify(other)).toBe(409);
      expect(conflict.body.code).toBe("payment_conflict");
      const replayed = await shop().createPayment(input(order, other), key);
      expect(replayed.status).toBe(409);
      expect(replayed.body).toEqual(conflict.body);
      expect(replayed.headers["idempotent-replayed"]).toBe("true");
    }
    const stored = await getPayment(first.body.paymentId);
    expect(stored).toMatchObject({ amountFen: 2500, subject: "Tea set", userId: "idem-user" });
  });

  it("10 concurrent creates with one key make one payment, and every answer is the same", async () => {
    const order = businessOrderId("idem-burst");
    const key = newKey("burst");
    const answers = await Promise.all(Array.from({ length: 10 }, () => shop().createPayment(input(order), key)));
    for (const answer of answers) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(201);
      expect(answer.body).toEqual(answers[0]!.body);
    }
    expect(answers.filter((a) => a.headers["idempotent-replayed"] !== "true")).toHaveLength(1);
    const payments = (await itemsWithSk(t, "PAYMENT")).filter((p) => p.businessOrderId === order);
    expect(payments).toHaveLength(1);
  });

  it("10 concurrent creates with different keys for one business order make one payment", async () => {
    const order = businessOrderId("idem-keys");
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => shop().createPayment(input(order), newKey(`k${i}`))));
    const paymentId = derivePaymentId("shop", order);
    for (const answer of answers) {
      expect([200, 201], JSON.stringify(answer.body)).toContain(answer.status);
      expect(answer.body.paymentId).toBe(paymentId);
    }
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    const payments = (await itemsWithSk(t, "PAYMENT")).filter((p) => p.businessOrderId === order);
    expect(payments).toHaveLength(1);
  });
});

describe("one payable order string at a time", () => {
  it("concurrent order-string requests for a fresh payment make one attempt", async () => {
    const created = await t.createPayment({ userId: "burst-user", amount: 990 });
    expect(created.status).toBe(201);
    const paymentId = created.body.paymentId as string;
    const answers = await Promise.all(Array.from({ length: 10 }, () => t.orderString("burst-user", paymentId)));
    for (const answer of answers) {
      expect([200, 201], JSON.stringify(answer.body)).toContain(answer.status);
      expect(answer.body.outTradeNo).toBe(`${paymentId}_1`);
      expect(answer.body.orderString).toBe(answers[0]!.body.orderString);
    }
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    const read = await t.business("shop").getPayment(paymentId);
    expect(read.body.attempts).toHaveLength(1);
    expect(read.body.attempts[0]).toMatchObject({ attemptNo: 1, status: "PENDING" });
  });
});

describe("cancel", () => {
  afterEach(async () => {
    await t.sim("/sim/reset-scenarios", {});
  });

  it("an unpaid payment with a pending attempt: 200 CANCELED, the trade closed at Alipay, payment.canceled to its owner only; again 200", async () => {
    const { payment, attempt } = await t.openPayment("cancel-user", 1500);
    // The buyer reached the cashier: Alipay has a WAIT_BUYER_PAY trade for the attempt.
    expect((await t.sim("/sim/open", { orderString: attempt.orderString })).status).toBe(200);

    const canceled = await t.business("shop").cancelPayment(payment.paymentId);
    expect(canceled.status, JSON.stringify(canceled.body)).toBe(200);
    expect(canceled.body).toMatchObject({ status: "CANCELED", attempts: [{ attemptNo: 1, status: "CLOSED" }] });
    expect(canceled.body.canceledAt).toBeDefined();
    const trade = await t.sim(`/sim/trades/${attempt.outTradeNo}`);
    expect(trade.body).toMatchObject({ status: "TRADE_CLOSED", closedReason: "merchant-close" });
    const late = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(late.status).toBe(409);
    expect(late.body.code).toBe("ACQ.TRADE_HAS_CLOSE");

    const event = await eventAt(t, "shop", payment.paymentId, "canceled");
    expect(event).toMatchObject({ type: "payment.canceled" });
    expect((event.data as any).payment).toMatchObject({ paymentId: payment.paymentId, status: "CANCELED" });

    const again = await t.business("shop").cancelPayment(payment.paymentId);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(canceled.body);
    const noMore = await t.orderString("cancel-user", payment.paymentId);
    expect(noMore.status).toBe(409);
    expect(noMore.body.code).toBe("payment_canceled");
    await sleep(1000);
    expect(eventsAt(t, "membership", payment.paymentId)).toEqual([]);
    expect(eventsAt(t, "shop", payment.paymentId).map((e) => e.id)).toEqual([eventIdOf(payment.paymentId, "canceled")]);
  });

  it("an attempt Alipay has no trade for yet is closed too: its order string can no longer be paid", async () => {
    const { payment, attempt } = await t.openPayment("cancel-user", 1600);
    // Model an Alipay that honours a close of an order string no buyer has opened yet.
    await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, closeBlocksPayment: true });
    const canceled = await t.business("shop").cancelPayment(payment.paymentId);
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ status: "CANCELED", attempts: [{ status: "CLOSED", closeReason: "canceled" }] });
    const closeRequests = ((await t.sim("/sim/events")).body as Array<{ kind: string; outTradeNo: string }>).filter(
      (e) => e.kind === "close-request" && e.outTradeNo === attempt.outTradeNo,
    );
    expect(closeRequests.length).toBeGreaterThanOrEqual(1);
    const late = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(late.status).toBe(409);
    expect((await getPayment(payment.paymentId))?.status).toBe("CANCELED");
  });

  it("a cancel Alipay does not answer changes nothing (503 alipay_unavailable) and can be repeated", async () => {
    const { payment, attempt } = await t.openPayment("cancel-user", 1650);
    await t.sim("/sim/faults", { method: "alipay.trade.close", outTradeNo: attempt.outTradeNo, mode: "5xx", count: 1 });
    const failed = await t.business("shop").cancelPayment(payment.paymentId);
    expect(failed.status, JSON.stringify(failed.body)).toBe(503);
    expect(failed.body.code).toBe("alipay_unavailable");
    const stored = await getPayment(payment.paymentId);
    expect(stored).toMatchObject({ status: "OPEN", attempts: [{ status: "PENDING" }] });
    const retried = await t.business("shop").cancelPayment(payment.paymentId);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ status: "CANCELED", attempts: [{ status: "CLOSED" }] });
    await eventAt(t, "shop", payment.paymentId, "canceled");
  });

  it("a payment without any attempt is canceled too", async () => {
    const created = await t.createPayment({ userId: "cancel-user", amount: 1700 });
    const canceled = await t.business("shop").cancelPayment(created.body.paymentId);
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ status: "CANCELED", attempts: [] });
    await eventAt(t, "shop", created.body.paymentId, "canceled");
  });

  it("a paid payment is not canceled: 409 already_paid", async () => {
    const { payment, attempt } = await t.openPayment("cancel-user", 1800);
    await t.sim("/sim/pay", { orderString: attempt.orderString });
    await eventAt(t, "shop", payment.paymentId, "succeeded");
    const refused = await t.business("shop").cancelPayment(payment.paymentId);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("already_paid");
    expect((await t.business("shop").getPayment(payment.paymentId)).body.status).toBe("PAID");
  });

  /** Exactly one of PAID + payment.succeeded and CANCELED + payment.canceled; the cancel's answer says which. */
  async function expectOneOutcome(paymentId: string, cancelAnswer: { status: number; body: any }): Promise<"PAID" | "CANCELED"> {
    const outcome = (await getPayment(paymentId))?.status;
    expect(["PAID", "CANCELED"], `${paymentId} ended ${outcome}`).toContain(outcome);
    if (outcome === "PAID") {
      expect(cancelAnswer.status, JSON.stringify(cancelAnswer.body)).toBe(409);
      expect(cancelAnswer.body.code).toBe("already_paid");
      await eventAt(t, "shop", paymentId, "succeeded");
    } else {
      expect(cancelAnswer.status, JSON.stringify(cancelAnswer.body)).toBe(200);
      expect(cancelAnswer.body.status).toBe("CANCELED");
      await eventAt(t, "shop", paymentId, "canceled");
    }
    // Give a wrong second event every chance to show up.
    await sleep(1500);
    const kinds = eventsAt(t, "shop", paymentId).map((e) => e.type);
    expect(kinds).toEqual([outcome === "PAID" ? "payment.succeeded" : "payment.canceled"]);
    expect(eventsAt(t, "membership", paymentId)).toEqual([]);
    return outcome as "PAID" | "CANCELED";
  }

  it("the buyer pays, then the cancel comes at once: PAID, 409 already_paid, only payment.succeeded", async () => {
    const { payment, attempt } = await t.openPayment("race-user", 1900);
    // The notification is held back, so the cancel finds the payment still open.
    await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, delayMs: 1500 });
    const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(paid.status).toBe(200);
    const cancel = await t.business("shop").cancelPayment(payment.paymentId);
    expect(await expectOneOutcome(payment.paymentId, cancel)).toBe("PAID");
    expect((await getPayment(payment.paymentId))?.paidVia).toBe("query");
  });

  it("the buyer pays between the cancel's query and its close: Alipay refuses the close, the payment is PAID, the cancel answers 409", async () => {
    const { payment, attempt } = await t.openPayment("race-user", 2000);
    await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, delayMs: 1500 });
    // The buyer's payment is timed to land right before the cancel's close reaches Alipay (the
    // close itself goes to the simulator, which refuses it because the trade is paid).
    const close = AlipayGateway.prototype.close;
    let buyerPaidDuringCancel = false;
    AlipayGateway.prototype.close = async function closeAfterTheBuyerPaid(this: AlipayGateway, outTradeNo: string) {
      if (outTradeNo === attempt.outTradeNo && !buyerPaidDuringCancel) {
        buyerPaidDuringCancel = (await t.sim("/sim/pay", { orderString: attempt.orderString })).status === 200;
      }
      return close.call(this, outTradeNo);
    };
    let cancel: Awaited<ReturnType<ReturnType<typeof t.business>["cancelPayment"]>>;
    try {
      cancel = await t.business("shop").cancelPayment(payment.paymentId);
    } finally {
      AlipayGateway.prototype.close = close;
    }
    expect(buyerPaidDuringCancel, "the cancel's close should have reached Alipay right after the buyer paid").toBe(true);
    const closeRequests = ((await t.sim("/sim/events")).body as Array<{ kind: string; outTradeNo: string; outcome: string }>).filter(
      (e) => e.kind === "close-request" && e.outTradeNo === attempt.outTradeNo,
    );
    expect(closeRequests.map((e) => e.outcome)).toEqual(["ACQ.TRADE_STATUS_ERROR"]);
    expect(await expectOneOutcome(payment.paymentId, cancel)).toBe("PAID");
    expect(await listRefundsNeeded(payment.paymentId)).toEqual([]);
  });

  it("cancels racing payments: each payment ends either PAID or CANCELED, never both, and the cancel's answer agrees", async () => {
    const payments = await Promise.all(Array.from({ length: 8 }, (_, i) => t.openPayment(`race-${i}`, 2100 + i)));
    // Every buyer is at the cashier (a WAIT_BUYER_PAY trade): a close really closes it.
    for (const { attempt } of payments) expect((await t.sim("/sim/open", { orderString: attempt.orderString })).status).toBe(200);
    const races = await Promise.all(
      payments.map(async ({ payment, attempt }, i) => {
        const [pay, cancel] = await Promise.all([
          sleep(i * 150).then(() => t.sim("/sim/pay", { orderString: attempt.orderString })),
          t.business("shop").cancelPayment(payment.paymentId),
        ]);
        return { paymentId: payment.paymentId as string, pay, cancel };
      }),
    );
    const outcomes = await Promise.all(
      races.map(async ({ paymentId, pay, cancel }) => {
        const outcome = await expectOneOutcome(paymentId, cancel);
        // The buyer's payment went through exactly when the payment is PAID.
        expect(pay.status === 200, `${paymentId}: pay ${pay.status} ${JSON.stringify(pay.body)}, outcome ${outcome}`).toBe(
          outcome === "PAID",
        );
        expect(await listRefundsNeeded(paymentId)).toEqual([]);
        return outcome;
      }),
    );
    expect(outcomes).toHaveLength(8);
  });

  it("a cancel racing the app's order-string requests leaves no payable attempt behind", async () => {
    // An Alipay that honours closes of order strings no buyer opened yet, so "payable" is observable.
    await t.sim("/sim/scenario", { closeBlocksPayment: true });
    const created = await Promise.all(
      Array.from({ length: 4 }, (_, i) => t.createPayment({ userId: `cancel-race-${i}`, amount: 2300 + i })),
    );
    const handedOut = await Promise.all(
      created.map(async ({ body }, i) => {
        const [cancel, ...strings] = await Promise.all([
          sleep(i * 30).then(() => t.business("shop").cancelPayment(body.paymentId)),
          t.orderString(`cancel-race-${i}`, body.paymentId),
          t.orderString(`cancel-race-${i}`, body.paymentId),
          sleep(20).then(() => t.orderString(`cancel-race-${i}`, body.paymentId)),
        ]);
        expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
        for (const answer of strings) {
          expect([200, 201, 409], JSON.stringify(answer.body)).toContain(answer.status);
          if (answer.status === 409) expect(answer.body.code).toBe("payment_canceled");
        }
        return strings.filter((a) => a.status < 300).map((a) => a.body.orderString as string);
      }),
    );
    for (const { body } of created) {
      const stored = await getPayment(body.paymentId);
      expect(stored?.status).toBe("CANCELED");
      expect(stored?.attempts.length).toBeLessThanOrEqual(1);
      for (const attempt of stored?.attempts ?? []) expect(attempt.status).toBe("CLOSED");
    }
    for (const orderString of new Set(handedOut.flat())) {
      const paid = await t.sim("/sim/pay", { orderString });
      expect(paid.status, JSON.stringify(paid.body)).toBe(409);
    }
  });

  it("money that reaches a canceled payment's closed attempt is a refund needed, not a success", async () => {
    const { payment, attempt } = await t.openPayment("refund-user", 2200);
    const refundsBefore = metric("RefundsNeeded");
    // Alipay had no trade for the attempt when it was closed, and (as Alipay may) still takes the money.
    const canceled = await t.business("shop").cancelPayment(payment.paymentId);
    expect(canceled.body).toMatchObject({ status: "CANCELED", attempts: [{ status: "CLOSED" }] });
    const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(paid.status).toBe(200);

    const [refund] = await waitFor(
      async () => {
        const refunds = await listRefundsNeeded(payment.paymentId);
        return refunds.length > 0 && refunds;
      },
      { what: "the refund-needed record" },
    );
    expect(refund).toMatchObject({
      tradeNo: paid.body.tradeNo,
      amountFen: 2200,
      reason: "paid_after_close",
      status: "REFUND_NEEDED",
      businessId: "shop",
    });
    expect(metric("RefundsNeeded")).toBeGreaterThan(refundsBefore);
    await waitFor(
      async () => {
        const sent = (await t.sim(`/sim/notifications?outTradeNo=${attempt.outTradeNo}`)).body as Array<{ acknowledged: boolean }>;
        return sent.some((n) => n.acknowledged);
      },
      { what: "the notification acknowledged" },
    );
    const read = await t.business("shop").getPayment(payment.paymentId);
    expect(read.body).toMatchObject({ status: "CANCELED", attempts: [{ status: "CLOSED" }] });
    expect(read.body.tradeNo).toBeUndefined();
    await eventAt(t, "shop", payment.paymentId, "canceled");
    await sleep(1000);
    expect(eventsAt(t, "shop", payment.paymentId).map((e) => e.type)).toEqual(["payment.canceled"]);
  });
});

describe("events per business system", () => {
  afterEach(() => {
    t.stack.receivers.membership!.setMode("up");
  });

  it("membership's webhook down does not delay shop's events; membership's arrive once it is back", async () => {
    const membership = t.stack.receivers.membership!;
    membership.setMode("down");
    const failuresBefore = metric("EventDeliveryFailures.membership");
    const theirs = await Promise.all(
      [1, 2, 3].map((i) => t.openPayment(`member-${i}`, 3000 + i, { system: "membership", subject: "Membership" })),
    );
    for (const { attempt } of theirs) expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
    await waitFor(async () => metric("EventDeliveryFailures.membership") >= failuresBefore + 3, {
      what: "membership's deliveries failing",
    });

    // Shop's events go out while membership's keep failing.
    const ours = await Promise.all([1, 2].map((i) => t.openPayment(`shopper-${i}`, 4000 + i)));
    const paidAt = Date.now();
    for (const { attempt } of ours) expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
    for (const { payment } of ours) await eventAt(t, "shop", payment.paymentId, "succeeded", 4000);
    expect(Date.now() - paidAt).toBeLessThan(4000);
    // ...and membership's go on failing (retried with backoff), none delivered while it is down.
    await waitFor(async () => metric("EventDeliveryFailures.membership") >= failuresBefore + 6, {
      what: "membership's retries failing",
      timeoutMs: 5000,
    });
    for (const { payment } of theirs) expect(eventsAt(t, "membership", payment.paymentId)).toEqual([]);

    membership.setMode("up");
    for (const { payment } of theirs) {
      const event = await eventAt(t, "membership", payment.paymentId, "succeeded", 30_000);
      expect((event.data as any).payment).toMatchObject({ paymentId: payment.paymentId, status: "PAID" });
    }
    // Each system heard only of its own payments.
    for (const { payment } of theirs) expect(eventsAt(t, "shop", payment.paymentId)).toEqual([]);
    for (const { payment } of ours) expect(eventsAt(t, "membership", payment.paymentId)).toEqual([]);
    // Every event reached its system signed with that system's own secret.
    expect([t.stack.receivers.shop!.rejected, membership.rejected]).toEqual([0, 0]);
  });
});
