// `npm run ops -- backfill paid-shards` (RUNBOOK.md "Upgrading a deployed stack"): payments paid
// before the paidAt index was keyed on paidShard are not in that index until each gets its shard.
// Against the local stack: payments paid now, then made to look like ones paid before (paidShard
// removed, as that version wrote them); the daily reconciliation's read misses them until the
// backfill, which writes each once (conditionally), resumes from the key it printed, and writes
// nothing on a second run or beside a concurrent one.
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { dynamo } from "../../lib/aws.js";
import { paidShardOf, paymentKey } from "../../lib/payments/model.js";
import { getPayment } from "../../lib/payments/repository.js";
import { dayOf, dayWindow } from "../../lib/reconciliation/day.js";
import { reconcileDay } from "../../lib/reconciliation/reconcile.js";
import { paidPayments } from "../../lib/reconciliation/records.js";
import { parseArgs } from "../../ops/args.js";
import { backfillPaidShards } from "../../ops/backfill.js";
import { runCommand } from "../../ops/commands.js";
import { UsageError } from "../../ops/errors.js";
import { useStack, waitFor } from "./harness.js";

const t = useStack();
const table = () => t.stack.functionEnv.TABLE_NAME!;
const shards = () => Number(t.stack.functionEnv.SWEEP_SHARDS);

async function paid(user: string, amount: number): Promise<string> {
  const { payment, attempt } = await t.openPayment(user, amount);
  expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
  await waitFor(async () => (await getPayment(payment.paymentId))?.status === "PAID", { what: `payment ${payment.paymentId} PAID` });
  return payment.paymentId as string;
}

/** The payment as a version before the sharded paidAt index wrote it: paid, without paidShard. */
async function asBeforeSharding(paymentId: string): Promise<void> {
  await dynamo().send(new UpdateCommand({ TableName: table(), Key: paymentKey(paymentId), UpdateExpression: "REMOVE paidShard" }));
}

async function paidShard(paymentId: string): Promise<unknown> {
  const { Item } = await dynamo().send(new GetCommand({ TableName: table(), Key: paymentKey(paymentId), ConsistentRead: true }));
  return Item?.paidShard;
}

async function paidToday(): Promise<string[]> {
  const window = dayWindow(dayOf(Date.now()))!;
  const ids: string[] = [];
  for await (const page of paidPayments(window.startMs, window.endMs)) ids.push(...page.map((p) => p.paymentId));
  return ids.sort();
}

describe("backfill paid-shards", () => {
  it("gives payments paid before the sharded index their paidShard: one write each, resumable, never twice", async () => {
    const current = await paid("backfill-ann", 100);
    const before = [await paid("backfill-ben", 200), await paid("backfill-cat", 300), await paid("backfill-dan", 400)];
    // An open payment has no paidAt: never touched.
    const open = (await t.openPayment("backfill-eve", 500)).payment.paymentId as string;
    for (const id of before) await asBeforeSharding(id);
    expect(await paidToday()).toEqual([current]);

    // One page of two items, then resumed from the key it gave: every payment once.
    const first = await backfillPaidShards({ pageSize: 2, maxPages: 1 });
    expect(first).toMatchObject({ pages: 1, complete: false, shards: shards() });
    expect(first.nextStartKey).toEqual(expect.any(String));
    const rest = await backfillPaidShards({ startKey: first.nextStartKey!, pageSize: 2 });
    expect(rest.complete).toBe(true);
    expect(rest.nextStartKey).toBeUndefined();
    expect(first.updated + rest.updated).toBe(3);
    expect(first.alreadySet + rest.alreadySet).toBe(0);
    for (const id of before) expect(await paidShard(id), id).toBe(paidShardOf(id, shards()));
    expect(await paidShard(open)).toBeUndefined();
    expect(await paidToday()).toEqual([current, ...before].sort());

    // Done: a second run writes nothing; two runs at once write each payment once between them.
    expect(await backfillPaidShards()).toMatchObject({ updated: 0, alreadySet: 0, complete: true });
    for (const id of before) await asBeforeSharding(id);
    const [a, b] = await Promise.all([backfillPaidShards({ pageSize: 1 }), backfillPaidShards({ pageSize: 1 })]);
    expect(a.updated + b.updated).toBe(3);
    for (const id of before) expect(await paidShard(id), id).toBe(paidShardOf(id, shards()));

    // The day reconciles with all four payments on our side.
    await t.sim("/sim/bills/reset", {});
    await t.sim("/sim/bills/ready", { through: dayOf(Date.now()) });
    const report = await reconcileDay(dayOf(Date.now()), { refundGraceMs: 0 });
    expect(report.ours.payments).toEqual({ count: 4, fen: 1000 });
    expect(report.matched.payments).toBe(4);
    expect(report.open).toBe(0);
  });

  it("runs from the CLI's command line, with progress per page, and refuses a start key it did not print", async () => {
    const lines: string[] = [];
    const result = await runCommand(parseArgs(["backfill", "paid-shards", "--limit", "1"]), { progress: (line) => lines.push(line) });
    expect(result.ok).toBe(true);
    expect(result.text).toMatch(/^paid-shards backfill: 0 payments given their paidShard/);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^page 1: \d+ scanned, 0 updated, 0 set meanwhile; end of the table$/);
    await expect(runCommand(parseArgs(["backfill", "paid-shards", "--start-key", "not-a-key"]))).rejects.toThrow(UsageError);
    expect(() => parseArgs(["backfill", "paid-shards", "--limit", "0"])).toThrow(UsageError);
  });
});
