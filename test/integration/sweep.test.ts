import type { Context, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { config } from "../../lib/config.js";
import { metricCounts } from "../../lib/observability.js";
import { sweepShardOf, sweepShardsToRead } from "../../lib/payments/model.js";
import { getPayment } from "../../lib/payments/repository.js";
import { sweepPeriodMs, sweepShard } from "../../lib/payments/sweep.js";
import { LocalLambda } from "../../local/lambdaRuntime.js";
import { lambdaContext, sqsEvent } from "./bundled.js";
import { putDuePayments } from "./duePayments.js";
import { useStack } from "./harness.js";

// Every local Lambda invocation of this file, by function (the stack's instances share the prototype).
const invocations: Array<{ fn: string; event: unknown }> = [];
const original = LocalLambda.prototype.invoke;
beforeAll(() => {
  LocalLambda.prototype.invoke = function invoke(this: LocalLambda, event: unknown) {
    invocations.push({ fn: this.definition.name, event });
    return original.call(this, event);
  };
});
afterAll(() => {
  LocalLambda.prototype.invoke = original;
});

// The schedule never fires on its own here (~23 days; setInterval's limit): each sweep is fired or called.
const t = useStack({ scheduleIntervalMs: 2_000_000_000 });

const enqueued = () => metricCounts.get("SweepChecksEnqueued") ?? 0;

/** `count` payments due in `shard` (the check worker expires them). */
const dueInShard = (shard: string, count: number) => putDuePayments(count, () => shard);

/** Handed out: claimed by a sweep (its sweepAt moved past `since`), or already settled out of the index by its check. */
async function handedOut(paymentId: string, since: number): Promise<boolean> {
  const p = await getPayment(paymentId);
  return p !== undefined && (p.sweepShard === undefined || (p.sweepAt ?? 0) > since);
}

const context = (remainingMs: number) => lambdaContext("test", remainingMs) as unknown as Context;
const shardEvent = (body: unknown) => sqsEvent(body) as unknown as SQSEvent;

describe("the sweep, one invocation per shard", () => {
  it("fires one message per shard (DUE#0..n-1 and DUE), sweeps each shard in its own invocation, and hands out every due item", async () => {
    const settings = await config();
    const shards = sweepShardsToRead(settings.sweepShards);
    expect(shards).toHaveLength(settings.sweepShards + 1);
    const ids = (await Promise.all(shards.map((shard) => dueInShard(shard, 3)))).flat();
    const since = Date.now();
    const before = enqueued();
    invocations.length = 0;

    // Returns once every shard message has had its sweepShard invocation.
    await t.stack.schedules.sweep!.fire();

    expect(invocations.filter((i) => i.fn === "sweep")).toHaveLength(1);
    const shardRuns = invocations.filter((i) => i.fn === "sweepShard");
    const swept = shardRuns.flatMap((i) => (i.event as SQSEvent).Records.map((r) => (JSON.parse(r.body) as { shard: string }).shard));
    expect(swept.sort()).toEqual([...shards].sort());
    // batchSize 1: one invocation, one shard.
    expect(shardRuns.every((i) => (i.event as SQSEvent).Records.length === 1)).toBe(true);
    expect(enqueued() - before).toBe(ids.length);
    for (const id of ids) expect(await handedOut(id, since), id).toBe(true);
  });

  it("keeps paging one shard until it is exhausted: no cap on what one invocation hands out", async () => {
    const shard = sweepShardOf("any", (await config()).sweepShards);
    const ids = await dueInShard(shard, 7);
    const since = Date.now();
    const result = await sweepShard({ shard, pageSize: 2, remainingMs: () => 50_000 });
    expect(result).toMatchObject({ shard, due: 7, enqueued: 7, exhausted: true });
    expect(result.pages).toBeGreaterThanOrEqual(4);
    for (const id of ids) expect(await handedOut(id, since), id).toBe(true);
  });

  it("stops reading new pages once its invocation's time runs short; the next sweep takes the rest", async () => {
    const shard = "DUE#1";
    const ids = await dueInShard(shard, 6);
    const since = Date.now();
    // Plenty of time for two pages, then under the 10 s margin.
    const remaining = [50_000, 50_000, 9_000];
    const first = await sweepShard({ shard, pageSize: 2, remainingMs: () => remaining.shift() ?? 0 });
    expect(first).toMatchObject({ due: 6, enqueued: 6, pages: 3, exhausted: false });

    const more = await dueInShard(shard, 3);
    const cut = await sweepShard({ shard, pageSize: 2, remainingMs: () => 9_000 });
    // One page only: what is left stays for the next minute.
    expect(cut).toMatchObject({ due: 2, pages: 1, exhausted: false });
    const rest = await sweepShard({ shard, pageSize: 2, remainingMs: () => 50_000 });
    expect(rest).toMatchObject({ due: 1, exhausted: true });
    for (const id of [...ids, ...more]) expect(await handedOut(id, since), id).toBe(true);
  });

  it("drops a shard message older than the schedule's period: the next minute's message covers the shard", async () => {
    const shard = "DUE#2";
    const [id] = await dueInShard(shard, 1);
    const since = Date.now();
    // Loaded now, as the stack loads it: its metrics are built from the stack's environment (metrics off locally).
    const { handler: sweepShardHandler } = await import("../../functions/sweepShard.js");
    const staleBefore = metricCounts.get("SweepShardsStale") ?? 0;
    await sweepShardHandler(shardEvent({ shard, scheduledAt: Date.now() - sweepPeriodMs - 1 }), context(50_000));
    expect(metricCounts.get("SweepShardsStale")).toBe(staleBefore + 1);
    expect(await handedOut(id!, since)).toBe(false);

    // A fresh one sweeps it.
    await sweepShardHandler(shardEvent({ shard, scheduledAt: Date.now() }), context(50_000));
    expect(await handedOut(id!, since)).toBe(true);
  });
});
