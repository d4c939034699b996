// The events API (issue 20), over HTTP against the local stack: a business system lists its own
// events from a cursor that never skips or repeats one, also while events are being written
// concurrently (some of them slowly); filters by type and payment; reads one; has one sent to its
// webhook again; another system's events are 404. The index is spread over shards (the local
// stack's EVENT_SHARDS): a page merges them, and the unsharded items of before, in one order. And refunds go out at once: a refund reaches
// Alipay from its own write's stream record, with the sweep's schedule stopped, and two checks of
// one refund send it to Alipay once.
//
// The sweep's schedule is an hour here (and stopped before the refund tests): nothing in this file
// is settled by a sweep.
import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { dynamo } from "../../lib/aws.js";
import { config } from "../../lib/config.js";
import type { BusinessEvent } from "../../lib/events.js";
import { decodeCursor, type EventItem, eventKey, eventsShardOf, positionOf, storeEvent } from "../../lib/eventLog.js";
import { disarmFaults } from "../../lib/faults.js";
import { metricCounts } from "../../lib/observability.js";
import { getPayment } from "../../lib/payments/repository.js";
import { checkRefund } from "../../lib/refunds/check.js";
import { useStack, waitFor } from "./harness.js";
import { eventAt, eventIdOf, refundSettled, sleep } from "./twoSided.js";

const t = useStack({ scheduleIntervalMs: 3_600_000 });

afterEach(() => disarmFaults());

/** The settle horizon of the local stack (serverless.yml `local` eventsSettleSeconds). */
const settleMs = () => Number(t.stack.functionEnv.EVENTS_SETTLE_SECONDS) * 1000;

let keyCounter = 0;
const newKey = (label: string) => `${label}-${Date.now()}-${(keyCounter += 1)}`;

async function paidPayment(user: string, amount = 1000, system = "shop") {
  const { payment, attempt } = await t.openPayment(user, amount, { system });
  expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
  await waitFor(async () => (await getPayment(payment.paymentId))?.status === "PAID", { what: `payment ${payment.paymentId} PAID` });
  return { paymentId: payment.paymentId as string, outTradeNo: attempt.outTradeNo as string };
}

const events = (system: string) => ({
  page: (query: Record<string, string> = {}) => t.business(system).request<any>("GET", "/v1/events", { query }),
  get: (id: string) => t.business(system).request<any>("GET", `/v1/events/${encodeURIComponent(id)}`),
  redeliver: (id: string) => t.business(system).request<any>("POST", `/v1/events/${encodeURIComponent(id)}/redeliver`),
});

/** Pages through `system`'s events from `after` to the end of what is listed now. */
async function readAll(system: string, after?: string, query: Record<string, string> = {}, limit = "7") {
  const seen: BusinessEvent[] = [];
  let cursor = after;
  for (;;) {
    const page = await events(system).page({ ...query, limit, ...(cursor ? { after: cursor } : {}) });
    expect(page.status).toBe(200);
    seen.push(...page.body.events);
    cursor = page.body.nextCursor ?? cursor;
    if (!page.body.hasMore) return { seen, cursor };
  }
}

/** Alipay refund requests the simulator received for `refundId` (every call, repeats too). */
const refundRequests = async (refundId: string) =>
  ((await t.sim("/sim/events")).body as Array<{ kind: string; outRequestNo?: string }>).filter(
    (e) => e.kind === "refund-request" && e.outRequestNo === refundId,
  ).length;

describe("the events API", () => {
  it("lists a system's own events oldest first; a cursor taken while payments settle concurrently skips and repeats none", async () => {
    const start = await readAll("shop");
    // Twelve shop payments and four membership ones settle at once while the shop pages along.
    const paying = Promise.all([
      ...Array.from({ length: 12 }, (_, i) => paidPayment(`events-list-${i}`, 100 + i)),
      ...Array.from({ length: 4 }, (_, i) => paidPayment(`events-other-${i}`, 100 + i, "membership")),
    ]);
    const collected: BusinessEvent[] = [];
    let cursor = start.cursor;
    let settled: Awaited<typeof paying> | undefined;
    void paying.then((done) => {
      settled = done;
    });
    const shopIds = () => (settled ?? []).slice(0, 12).map((p) => eventIdOf(p.paymentId, "succeeded"));
    await waitFor(
      async () => {
        const page = await events("shop").page({ limit: "3", ...(cursor ? { after: cursor } : {}) });
        expect(page.status).toBe(200);
        collected.push(...page.body.events);
        cursor = page.body.nextCursor ?? cursor;
        return settled !== undefined && shopIds().every((id) => collected.some((e) => e.id === id));
      },
      { timeoutMs: 60_000, intervalMs: 100, what: "every shop event listed" },
    );
    const ids = collected.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual([...shopIds()].sort());
    expect(collected.every((e) => e.businessId === "shop" && e.type === "payment.succeeded")).toBe(true);
    // The body is the webhook's body.
    const first = collected[0]!;
    const received = await eventAt(t, "shop", first.data.payment!.paymentId, "succeeded");
    expect(first.data).toEqual(received.data);
    // Nothing after the cursor now.
    expect((await readAll("shop", cursor)).seen).toEqual([]);
  });

  it("never skips an event whose write was slow: concurrent writers, a reader paging meanwhile", async () => {
    const { paymentId } = await paidPayment("events-slow");
    const template = (await events("shop").get(eventIdOf(paymentId, "succeeded"))).body as BusinessEvent;
    await sleep(settleMs()); // the template's own event is listed by now
    const { cursor: start } = await readAll("shop");
    // 60 events, each written by a writer that takes its position (storedAt) and then needs up to
    // 1.5 s to get the put through (a slow request, a retry), all writers at once over ~3 s.
    const written: string[] = [];
    const writers = Array.from({ length: 60 }, async (_, i) => {
      await sleep(Math.random() * 3000);
      const id = `evt_slow${i}x${Date.now().toString(36)}_succeeded`;
      const event = { ...template, id, data: { payment: { ...template.data.payment!, paymentId: `slow${i}` } } };
      const storedAt = Date.now();
      await sleep(Math.random() * 1500);
      // A put past its budget is abandoned; publishEvents' stream retries it at a new position, as here.
      await storeEvent(event, storedAt).catch(() => storeEvent(event));
      written.push(id);
    });
    const all = Promise.all(writers);
    let doneAt: number | undefined;
    void all.then(() => {
      doneAt = Date.now();
    });
    const collected: string[] = [];
    let cursor = start;
    for (;;) {
      // Once every writer is done and the horizon has passed their last write, the list is complete.
      const complete = doneAt !== undefined && Date.now() > doneAt + settleMs() + 500;
      const page = await events("shop").page({ limit: "4", ...(cursor ? { after: cursor } : {}) });
      expect(page.status).toBe(200);
      collected.push(...(page.body.events as BusinessEvent[]).map((e) => e.id));
      cursor = page.body.nextCursor ?? cursor;
      if (complete && !page.body.hasMore) break;
      if (!page.body.hasMore) await sleep(50);
    }
    await all;
    expect(new Set(collected).size).toBe(collected.length);
    expect([...collected].sort()).toEqual([...written].sort());
  });

  it("filters by type and by payment, reads one event, and answers 404 for another system's", async () => {
    const paid = await paidPayment("events-filter");
    const open = await t.createPayment({ userId: "events-filter", amount: 500 });
    expect((await t.business("shop").cancelPayment(open.body.paymentId)).status).toBe(200);
    const canceledId = eventIdOf(open.body.paymentId, "canceled");
    const succeededId = eventIdOf(paid.paymentId, "succeeded");
    await eventAt(t, "shop", open.body.paymentId, "canceled");
    await sleep(settleMs());

    const canceled = (await readAll("shop", undefined, { type: "payment.canceled" })).seen;
    expect(canceled.some((e) => e.id === canceledId)).toBe(true);
    expect(canceled.every((e) => e.type === "payment.canceled")).toBe(true);
    const ofPayment = (await readAll("shop", undefined, { paymentId: paid.paymentId })).seen;
    expect(ofPayment.map((e) => e.id)).toEqual([succeededId]);

    const one = await events("shop").get(succeededId);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: succeededId, type: "payment.succeeded", businessId: "shop" });
    for (const answer of [await events("membership").get(succeededId), await events("membership").redeliver(succeededId)]) {
      expect(answer.status).toBe(404);
      expect(answer.body.code).toBe("event_not_found");
    }
    expect((await readAll("membership")).seen.some((e) => e.id === succeededId)).toBe(false);
    expect((await events("shop").get("evt_nothing_succeeded")).status).toBe(404);
    expect((await events("shop").page({ after: "bm90LWEtY3Vyc29y" })).body.code).toBe("after_invalid");
    expect((await events("shop").page({ type: "payment.unknown" })).body.code).toBe("type_invalid");
    expect((await events("shop").page({ limit: "0" })).body.code).toBe("limit_invalid");
  });

  it("redelivers an event: the webhook gets it again, signed, with the same id", async () => {
    const { paymentId } = await paidPayment("events-redeliver");
    const id = eventIdOf(paymentId, "succeeded");
    const first = await eventAt(t, "shop", paymentId, "succeeded");
    await waitFor(async () => (await events("shop").get(id)).status === 200, { what: "event stored" });
    const deliveries = first.deliveries;
    const answer = await events("shop").redeliver(id);
    expect(answer.status).toBe(202);
    expect(answer.body.id).toBe(id);
    await waitFor(async () => t.stack.receivers.shop!.events.get(id)!.deliveries > deliveries, { what: "redelivery" });
    expect(t.stack.receivers.shop!.rejected).toBe(0);
  });
});

/**
 * Puts an event item as storeEvent would, but under the given `eventsOf` (the unsharded key of
 * events stored before sharding, another system's key), its JSON padded with spaces to `size`.
 */
async function putEventItem(event: BusinessEvent, eventsOf: string, storedAt: number, size = 0): Promise<string> {
  const item: EventItem = {
    ...eventKey(event.id),
    eventType: event.type,
    paymentId: event.data.payment!.paymentId,
    event: JSON.stringify(event).padEnd(size, " "),
    eventsOf,
    eventsAt: positionOf(storedAt, event.id),
    ttl: Math.floor(storedAt / 1000) + 86_400,
  };
  await dynamo().send(new PutCommand({ TableName: (await config()).tableName, Item: item }));
  return item.eventsAt;
}

describe("the events index spread over shards", () => {
  it("lists a system's events of every shard and of the unsharded key in one order, across pages and with filters; never another system's", async () => {
    const shards = Number(t.stack.functionEnv.EVENT_SHARDS);
    expect(shards).toBeGreaterThan(1);
    const { paymentId } = await paidPayment("events-shards");
    const template = (await events("shop").get(eventIdOf(paymentId, "succeeded"))).body as BusinessEvent;
    await sleep(settleMs()); // the template's own event is listed by now
    const { cursor: start } = await readAll("shop");
    const stamp = Date.now().toString(36);
    const eventOf = (businessId: string, i: number): BusinessEvent => {
      const kind = i % 3 === 0 ? "expired" : "succeeded";
      return {
        ...template,
        id: `evt_${businessId.replace("-", "")}${i}x${stamp}_${kind}`,
        type: `payment.${kind}`,
        businessId,
        data: { payment: { ...template.data.payment!, paymentId: `shards${i % 4}x${stamp}` } },
      };
    };
    // 40 shop events: every fourth under the unsharded key (stored before sharding), the others by
    // storeEvent on their shards; then 11 of ~300 KB on one shard, so that shard's Query of a
    // 100-event page stops at DynamoDB's 1 MB before its Limit.
    const shop: Array<{ id: string; position: string; event: BusinessEvent }> = [];
    for (let i = 0; i < 40; i += 1) {
      const event = eventOf("shop", i);
      const storedAt = Date.now();
      if (i % 4 === 0) shop.push({ id: event.id, event, position: await putEventItem(event, "shop", storedAt) });
      else {
        expect(await storeEvent(event, storedAt)).toBe("stored");
        shop.push({ id: event.id, event, position: positionOf(storedAt, event.id) });
      }
    }
    const bigShard = eventsShardOf("shop", shop[1]!.id, shards);
    for (let i = 100; shop.length < 51; i += 1) {
      const event = eventOf("shop", i);
      if (eventsShardOf("shop", event.id, shards) !== bigShard) continue;
      shop.push({ id: event.id, event, position: await putEventItem(event, bigShard, Date.now(), 300_000) });
    }
    // Other systems' events: membership's on its shards; "shop-eu" (shop is a prefix of it) on a
    // shard and under its unsharded key.
    const others = [eventOf("membership", 1), eventOf("membership", 2), eventOf("shop-eu", 1), eventOf("shop-eu", 2)];
    for (const event of others.slice(0, 2)) await storeEvent(event);
    await putEventItem(others[2]!, "shop-eu#1", Date.now());
    await putEventItem(others[3]!, "shop-eu", Date.now());
    await sleep(settleMs() + 100);

    const inOrder = (list: typeof shop) => [...list].sort((a, b) => (a.position < b.position ? -1 : 1)).map((e) => e.id);
    const mine = (seen: BusinessEvent[]) =>
      seen.map((e) => e.id).filter((id) => id.endsWith(`x${stamp}_succeeded`) || id.endsWith(`x${stamp}_expired`));
    async function pages(query: Record<string, string>, limit: number) {
      const seen: BusinessEvent[] = [];
      let cursor = start;
      for (;;) {
        const page = await events("shop").page({ ...query, limit: String(limit), ...(cursor ? { after: cursor } : {}) });
        expect(page.status).toBe(200);
        expect(page.body.events.length).toBeLessThanOrEqual(limit);
        seen.push(...page.body.events);
        cursor = page.body.nextCursor ?? cursor;
        if (!page.body.hasMore) break;
      }
      expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
      expect(seen.every((e) => e.businessId === "shop")).toBe(true);
      return seen;
    }

    for (const limit of [7, 100]) expect(mine(await pages({}, limit)), `limit ${limit}`).toEqual(inOrder(shop));
    const expired = await pages({ type: "payment.expired" }, 3);
    expect(expired.every((e) => e.type === "payment.expired")).toBe(true);
    expect(mine(expired)).toEqual(inOrder(shop.filter((e) => e.event.type === "payment.expired")));
    const ofPayment = `shards1x${stamp}`;
    expect(mine(await pages({ paymentId: ofPayment }, 2))).toEqual(
      inOrder(shop.filter((e) => e.event.data.payment!.paymentId === ofPayment)),
    );

    // The 1 MB stop did happen: that shard's Query of the 100-event page ended before its Limit.
    const { Items = [], LastEvaluatedKey } = await dynamo().send(
      new QueryCommand({
        TableName: (await config()).tableName,
        IndexName: "events",
        KeyConditionExpression: "eventsOf = :shard AND eventsAt > :after",
        ExpressionAttributeValues: { ":shard": bigShard, ":after": decodeCursor(start!) },
        Limit: 100,
      }),
    );
    expect(LastEvaluatedKey).toBeDefined();
    expect(Items.length).toBeLessThan(100);

    // Read one: the caller's own in both key forms; another system's never.
    const legacy = shop[0]!.id;
    const sharded = shop[1]!.id;
    for (const id of [legacy, sharded]) {
      expect((await events("shop").get(id)).body).toMatchObject({ id, businessId: "shop" });
      expect((await events("membership").get(id)).status).toBe(404);
      expect((await events("membership").redeliver(id)).status).toBe(404);
    }
    for (const event of others) expect((await events("shop").get(event.id)).status, event.id).toBe(404);
    const membership = (await readAll("membership", undefined, {}, "100")).seen.map((e) => e.id);
    expect(membership).toEqual(expect.arrayContaining(others.slice(0, 2).map((e) => e.id)));
    expect(membership.some((id) => shop.some((e) => e.id === id) || id === others[2]!.id || id === others[3]!.id)).toBe(false);
  });
});

describe("refunds go out at once", () => {
  it("sends a refund to Alipay from its own write, with the sweep's schedule stopped", async () => {
    const { paymentId } = await paidPayment("refund-at-once", 800);
    await t.stack.schedules.sweep!.stop(); // the sweep cannot run from here on
    const dispatched = metricCounts.get("RefundsDispatched") ?? 0;
    const requested = await t.business("shop").createRefund(paymentId, { amount: 300, reason: "returned" }, newKey("at-once"));
    expect(requested.status).toBe(201);
    const refundId = requested.body.refundId as string;
    await waitFor(async () => (await refundRequests(refundId)) > 0, { what: "the refund at Alipay" });
    expect(await refundSettled(paymentId, refundId)).toMatchObject({ status: "SUCCEEDED" });
    expect(metricCounts.get("RefundsDispatched") ?? 0).toBeGreaterThan(dispatched);
    expect(await refundRequests(refundId)).toBe(1);
  });

  it("sends a refund once when two checks of it run at once (the stream's and the sweep's)", async () => {
    const { paymentId } = await paidPayment("refund-twice", 800);
    const requested = await t.business("shop").createRefund(paymentId, { amount: 200, reason: "returned" }, newKey("twice"));
    const refundId = requested.body.refundId as string;
    // Two more checks race the one the stream sent.
    await Promise.all([checkRefund(paymentId, refundId), checkRefund(paymentId, refundId)]);
    expect(await refundSettled(paymentId, refundId)).toMatchObject({ status: "SUCCEEDED" });
    await sleep(1000); // any check message still in flight finds it settled
    expect(await refundRequests(refundId)).toBe(1);
  });
});
