// Alipay misbehaving: errors and rate limits are retried through SQS with backoff, then
// dead-lettered; a close refused because the buyer paid meanwhile ends in PAID; a business
// receiver that never answers dead-letters the event.
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { localCredentials } from "../../local/engines.js";
import { businessSystem, putBusinessSystem } from "../../lib/business/registry.js";
import { DeliveryFailed, deliverEvent, type BusinessEvent } from "../../lib/events.js";
import { AlipayGateway } from "../../lib/alipay/gateway.js";
import { metricCounts } from "../../lib/observability.js";
import { getPayment } from "../../lib/payments/repository.js";
import { testTimes, useStack, waitFor } from "./harness.js";
import { eventIdOf } from "./twoSided.js";

// Attempts live 4 s here.
const t = useStack({ env: { LOCAL_ORDER_TTL_SECONDS: "4" } });
const closeMarginMs = Number(testTimes.LOCAL_CLOSE_MARGIN_SECONDS) * 1000;
const sqs = () => new SQSClient({ endpoint: t.stack.urls.sqs, region: "us-east-1", credentials: localCredentials });
const originalQuery = AlipayGateway.prototype.query;
afterEach(() => {
  AlipayGateway.prototype.query = originalQuery;
  t.stack.receivers.shop!.setMode("up");
});

/** A payment with an order string whose notifications will all be lost: only alipay.trade.query can find its payment. */
async function paidWithoutNotification(user: string) {
  const { payment, attempt } = await t.openPayment(user, 2000);
  await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, dropFirst: 100 });
  return {
    paymentId: payment.paymentId as string,
    outTradeNo: attempt.outTradeNo as string,
    orderString: attempt.orderString as string,
    expiresAt: Date.parse(attempt.orderStringExpiresAt),
  };
}

async function deadLetters(queue: "CheckDeadLetterQueue" | "EventsDeadLetterQueue", match: (body: string) => boolean) {
  return waitFor(
    async () => {
      const { Messages = [] } = await sqs().send(
        new ReceiveMessageCommand({
          QueueUrl: t.stack.resources[queue]!.ref,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 0,
        }),
      );
      return Messages.find((m) => match(m.Body ?? ""));
    },
    { timeoutMs: 45_000, what: `a message in ${queue}` },
  );
}

describe("gateway faults", () => {
  it.each(["rate-limit", "5xx", "timeout", "system-error", "unknown-error"] as const)(
    "retries the check after %s and still finds the payment",
    async (mode) => {
      const payment = await paidWithoutNotification(`u-${mode}`);
      await t.sim("/sim/faults", { method: "alipay.trade.query", outTradeNo: payment.outTradeNo, mode, count: 2 });
      await t.sim("/sim/pay", { orderString: payment.orderString });
      const paid = await waitFor(
        async () => {
          const p = await getPayment(payment.paymentId);
          return p?.status === "PAID" && p;
        },
        { timeoutMs: 30_000, what: "paid after retries" },
      );
      expect(paid.paidVia).toBe("query");
      expect(paid.attempts).toMatchObject([{ attemptNo: 1, status: "PAID" }]);
      const pending = (await t.sim("/sim/faults")).body as unknown[];
      expect(pending).toHaveLength(0);
    },
  );

  it("dead-letters the check of a payment Alipay keeps refusing to answer, and the payment stays due", async () => {
    const payment = await paidWithoutNotification("u-dlq");
    await t.sim("/sim/faults", { method: "alipay.trade.query", outTradeNo: payment.outTradeNo, mode: "rate-limit", count: 1000 });
    const dead = await deadLetters("CheckDeadLetterQueue", (b) => b.includes(payment.paymentId));
    expect(JSON.parse(dead.Body!)).toEqual({ paymentId: payment.paymentId });
    const stored = await getPayment(payment.paymentId);
    expect(stored).toMatchObject({ status: "OPEN", attempts: [{ attemptNo: 1, status: "PENDING" }] });
    expect(stored?.sweepShard).toBeDefined();
    await t.sim("/sim/reset-scenarios");
  });

  it("marks PAID when the close is refused because the buyer paid meanwhile", async () => {
    const payment = await paidWithoutNotification("u-race");
    // Alipay does not show the trade to queries until the check that goes on to close the attempt
    // (the payment was still in flight when it asked); the close is then refused.
    const closeAt = payment.expiresAt + closeMarginMs;
    let staleAfterExpiry = 0;
    AlipayGateway.prototype.query = async function (this: AlipayGateway, outTradeNo: string) {
      if (outTradeNo === payment.outTradeNo && (Date.now() < closeAt || staleAfterExpiry === 0)) {
        if (Date.now() >= closeAt) staleAfterExpiry += 1;
        return { kind: "not_found" };
      }
      return originalQuery.call(this, outTradeNo);
    };
    await t.sim("/sim/pay", { orderString: payment.orderString });
    // Let the attempt expire so the check goes on to close it.
    const settled = await waitFor(
      async () => {
        const p = await getPayment(payment.paymentId);
        return p && p.attempts[0]?.status !== "PENDING" && p;
      },
      { timeoutMs: 30_000, what: "attempt settled" },
    );
    expect(settled.status).toBe("PAID");
    expect(settled.attempts).toMatchObject([{ status: "PAID" }]);
    expect(staleAfterExpiry).toBe(1);
    const closeRequests = ((await t.sim("/sim/events")).body as Array<{ kind: string; outTradeNo: string }>).filter(
      (e) => e.kind === "close-request" && e.outTradeNo === payment.outTradeNo,
    );
    expect(closeRequests.length).toBeGreaterThanOrEqual(1);
  });
});

describe("business receiver misbehaving", () => {
  const event = (businessId: string): BusinessEvent => ({
    id: "evt_pay_redirect_succeeded",
    type: "payment.succeeded",
    businessId,
    createdAt: new Date().toISOString(),
    data: { payment: { paymentId: "pay_redirect" } as BusinessEvent["data"]["payment"] },
  });

  it("does not count a redirect as a delivery (the signed POST would become a GET elsewhere)", async () => {
    const requests: string[] = [];
    const redirecting = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      if (req.url === "/moved") {
        res.writeHead(200).end("ok");
        return;
      }
      res.writeHead(302, { location: "/moved" }).end();
    });
    await new Promise<void>((r) => redirecting.listen(0, "127.0.0.1", r));
    // A business system whose webhook redirects, registered as ops would.
    const shop = (await businessSystem("shop", { fresh: true }))!;
    const system = {
      ...shop,
      sk: "redirecting",
      businessId: "redirecting",
      principals: [],
      webhookUrl: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/events`,
      createdAt: Date.now(),
      updatedAt: Date.now(),
    };
    await putBusinessSystem(system);
    try {
      await expect(deliverEvent(event("redirecting"))).rejects.toBeInstanceOf(DeliveryFailed);
      expect(requests).toEqual(["POST /events"]);
    } finally {
      await putBusinessSystem({ ...system, status: "DISABLED", updatedAt: Date.now() });
      redirecting.close();
    }
  });

  it("does not deliver an event of a business system that is not registered", async () => {
    await expect(deliverEvent(event("nobody-registered"))).rejects.toBeInstanceOf(DeliveryFailed);
  });

  it("reports how long a failing event has been failing, per business system (what event-delivery-stalled watches)", async () => {
    const now = Date.now();
    await expect(deliverEvent(event("nobody-registered"), { now: () => now, firstSentAt: now - 310_000 })).rejects.toBeInstanceOf(
      DeliveryFailed,
    );
    expect(metricCounts.get("EventDeliveryFailingSeconds.nobody-registered")).toBe(310);
  });

  it("dead-letters the event after the configured attempts", async () => {
    t.stack.receivers.shop!.setMode("down");
    const { payment, attempt } = await t.openPayment("u-receiver", 3000);
    await t.sim("/sim/pay", { orderString: attempt.orderString });
    const dead = await deadLetters("EventsDeadLetterQueue", (b) => b.includes(payment.paymentId));
    expect(JSON.parse(dead.Body!)).toMatchObject({
      id: eventIdOf(payment.paymentId, "succeeded"),
      type: "payment.succeeded",
      businessId: "shop",
      data: { payment: { paymentId: payment.paymentId, status: "PAID" } },
    });
    const { Attributes } = await sqs().send(
      new GetQueueAttributesCommand({
        QueueUrl: t.stack.resources.EventsDeadLetterQueue!.ref,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    expect(
      Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
    ).toBeGreaterThanOrEqual(1);
    expect(t.stack.receivers.shop!.events.has(eventIdOf(payment.paymentId, "succeeded"))).toBe(false);
    // The payment itself is settled whatever its webhook does.
    expect((await getPayment(payment.paymentId))?.status).toBe("PAID");
  });
});
