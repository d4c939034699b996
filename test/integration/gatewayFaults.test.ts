// Alipay misbehaving: errors and rate limits are retried through SQS with backoff, then
// dead-lettered; a close refused because the buyer paid meanwhile ends in PAID; a business
// receiver that never answers dead-letters the event.
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { localCredentials } from "../../local/engines.js";
import { resetConfig } from "../../lib/config.js";
import { DeliveryFailed, deliverEvent, type BusinessEvent } from "../../lib/events.js";
import { AlipayGateway } from "../../lib/alipay/gateway.js";
import { getOrder } from "../../lib/orders/repository.js";
import { merchantOrderId, useStack, waitFor } from "./harness.js";

const t = useStack({ env: { LOCAL_ORDER_TTL_SECONDS: "4" } });
const sqs = () => new SQSClient({ endpoint: t.stack.urls.sqs, region: "us-east-1", credentials: localCredentials });
const originalQuery = AlipayGateway.prototype.query;
afterEach(() => {
  AlipayGateway.prototype.query = originalQuery;
  t.stack.receiver.setMode("up");
});

async function paidWithoutNotification(user: string) {
  const created = await t.createOrder(user, { merchantOrderId: merchantOrderId(), amount: 2000, subject: "Tea" });
  await t.sim("/sim/scenario", { outTradeNo: created.body.orderId, dropFirst: 100 });
  return created.body as { orderId: string; orderString: string };
}

async function deadLetters(queue: "CheckDeadLetterQueue" | "EventsDeadLetterQueue", match: (body: string) => boolean) {
  return waitFor(async () => {
    const { Messages = [] } = await sqs().send(new ReceiveMessageCommand({
      QueueUrl: t.stack.resources[queue]!.ref, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 0,
    }));
    return Messages.find((m) => match(m.Body ?? ""));
  }, { timeoutMs: 45_000, what: `a message in ${queue}` });
}

describe("gateway faults", () => {
  it.each(["rate-limit", "5xx", "timeout", "system-error", "unknown-error"] as const)(
    "retries the check after %s and still finds the payment", async (mode) => {
      const order = await paidWithoutNotification(`u-${mode}`);
      await t.sim("/sim/faults", { method: "alipay.trade.query", outTradeNo: order.orderId, mode, count: 2 });
      await t.sim("/sim/pay", { orderString: order.orderString });
      const paid = await waitFor(async () => {
        const o = await getOrder(order.orderId);
        return o?.status === "PAID" && o;
      }, { timeoutMs: 30_000, what: "paid after retries" });
      expect(paid.paidVia).toBe("query");
      const pending = (await t.sim("/sim/faults")).body as unknown[];
      expect(pending).toHaveLength(0);
    },
  );

  it("dead-letters the check of an order Alipay keeps refusing to answer, and the order stays due", async () => {
    const order = await paidWithoutNotification("u-dlq");
    await t.sim("/sim/faults", { method: "alipay.trade.query", outTradeNo: order.orderId, mode: "rate-limit", count: 1000 });
    const dead = await deadLetters("CheckDeadLetterQueue", (b) => b.includes(order.orderId));
    expect(JSON.parse(dead.Body!)).toEqual({ orderId: order.orderId });
    const stored = await getOrder(order.orderId);
    expect(stored?.status).toBe("PENDING");
    expect(stored?.sweepShard).toBeDefined();
    await t.sim("/sim/reset-scenarios");
  });

  it("marks PAID when the close is refused because the buyer paid meanwhile", async () => {
    const order = await paidWithoutNotification("u-race");
    // Alipay does not show the trade to queries until the check that goes on to close the order
    // (the payment was still in flight when it asked); the close is then refused.
    const closeAt = (await getOrder(order.orderId))!.expiresAt + 1000;
    let staleAfterExpiry = 0;
    AlipayGateway.prototype.query = async function (this: AlipayGateway, outTradeNo: string) {
      if (outTradeNo === order.orderId && (Date.now() < closeAt || staleAfterExpiry === 0)) {
        if (Date.now() >= closeAt) staleAfterExpiry += 1;
        return { kind: "not_found" };
      }
      return originalQuery.call(this, outTradeNo);
    };
    await t.sim("/sim/pay", { orderString: order.orderString });
    // Let the order expire so the check goes on to close it.
    const paid = await waitFor(async () => {
      const o = await getOrder(order.orderId);
      return o?.status !== "PENDING" && o;
    }, { timeoutMs: 30_000, what: "order settled" });
    expect(paid.status).toBe("PAID");
    expect(staleAfterExpiry).toBe(1);
    const closeRequests = ((await t.sim("/sim/events")).body as Array<{ kind: string; outTradeNo: string; outcome?: string }>)
      .filter((e) => e.kind === "close-request" && e.outTradeNo === order.orderId);
    expect(closeRequests.length).toBeGreaterThanOrEqual(1);
  });
});

describe("business receiver misbehaving", () => {
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
    const original = process.env.BUSINESS_WEBHOOK_URL;
    process.env.BUSINESS_WEBHOOK_URL = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/events`;
    resetConfig();
    try {
      const event = { id: "evt_redirect_paid", type: "order.paid", createdAt: new Date().toISOString(), data: { orderId: "p_redirect" } } as BusinessEvent;
      await expect(deliverEvent(event)).rejects.toBeInstanceOf(DeliveryFailed);
      expect(requests).toEqual(["POST /events"]);
    } finally {
      process.env.BUSINESS_WEBHOOK_URL = original;
      resetConfig();
      redirecting.close();
    }
  });


  it("dead-letters the event after the configured attempts", async () => {
    t.stack.receiver.setMode("down");
    const created = await t.createOrder("u-receiver", { merchantOrderId: merchantOrderId(), amount: 3000, subject: "Tea" });
    await t.sim("/sim/pay", { orderString: created.body.orderString });
    const dead = await deadLetters("EventsDeadLetterQueue", (b) => b.includes(created.body.orderId));
    expect(JSON.parse(dead.Body!)).toMatchObject({ id: `evt_${created.body.orderId}_paid`, type: "order.paid", data: { orderId: created.body.orderId } });
    const { Attributes } = await sqs().send(new GetQueueAttributesCommand({
      QueueUrl: t.stack.resources.EventsDeadLetterQueue!.ref, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }));
    expect(Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible)).toBeGreaterThanOrEqual(1);
    expect(t.stack.receiver.events.has(`evt_${created.body.orderId}_paid`)).toBe(false);
  });
});
