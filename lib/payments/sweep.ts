// The sweep: finds payments due for attention in the sparse index and fans out one check message
// per payment. Each payment is first claimed for a lease (a conditional write), so overlapping
// sweeps don't pile up messages; if the send is lost, the lease runs out and the next sweep claims
// it again. The index also holds PENDING refunds (sk REFUND_REQUEST#<refundId>): their messages name
// the refund too, and the check worker hands them to the refund worker.
//
// The index is spread over SWEEP_SHARDS partition keys (lib/payments/model.ts sweepShardOf), and the
// sweep with it: every minute `fanOutSweep` (the scheduled `sweep` function) puts one message per
// shard on the sweep queue, and `sweepShard` (the `sweepShard` function, one invocation per message)
// sweeps that shard until it is exhausted or its invocation's time runs short. What a minute hands
// out grows with the shard count; no invocation has a cap of its own.
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { sqs } from "../aws.js";
import { Semaphore } from "../concurrency.js";
import { config } from "../config.js";
import { faultPoint } from "../faults.js";
import { count, gauge, logger } from "../observability.js";
import { refundSkPrefix } from "../refunds/model.js";
import { claimRefundForCheck } from "../refunds/repository.js";
import type { CheckMessage } from "./check.js";
import { sweepShardsToRead } from "./model.js";
import { claimForCheck, dueSweepItems } from "./repository.js";

/** A sweep queue message: sweep this shard, as of this schedule tick. */
export interface SweepShardMessage {
  shard: string;
  scheduledAt: number;
}

export interface SweepShardResult {
  shard: string;
  due: number;
  enqueued: number;
  pages: number;
  /** false: stopped with time short, the shard has more due items (the next minute takes them). */
  exhausted: boolean;
}

/**
 * The schedule's period (serverless.yml: rate(1 minute)). A shard message older than this is
 * stale: the next tick has put a fresh one on the queue, so a late or retried one is dropped
 * instead of adding a sweep of the same shard.
 */
export const sweepPeriodMs = 60_000;
/** KEYS_ONLY index items are ~100 B: a page of 500 is one 1 MB-bounded Query of ~25 RCU at most. */
const defaultPageSize = 500;
/** Stop reading new pages with this much of the invocation left (claims and sends in flight finish). */
const stopWithMs = 10_000;

/** The scheduled tick: one message per shard (DUE#0..n-1 and the unsharded DUE) on the sweep queue. */
export async function fanOutSweep(options: { now?: number } = {}): Promise<{ shards: number; messageIds: string[] }> {
  const settings = await config();
  if (!settings.sweepQueueUrl) throw new Error("Missing configuration: SWEEP_QUEUE_URL");
  const scheduledAt = options.now ?? Date.now();
  const shards = sweepShardsToRead(settings.sweepShards);
  const messageIds: string[] = [];
  for (let i = 0; i < shards.length; i += 10) {
    const batch = shards.slice(i, i + 10);
    const { Successful = [], Failed = [] } = await sqs().send(
      new SendMessageBatchCommand({
        QueueUrl: settings.sweepQueueUrl,
        Entries: batch.map((shard, j) => ({
          Id: String(j),
          MessageBody: JSON.stringify({ shard, scheduledAt } satisfies SweepShardMessage),
        })),
      }),
    );
    // A shard left out this minute would wait unseen: fail the tick (sweep-errors), the next one sends all again.
    if (Failed.length > 0)
      throw new Error(`sweep fan-out: ${Failed.length} shard message(s) not sent: ${Failed.map((f) => f.Code).join(", ")}`);
    messageIds.push(...Successful.map((s) => s.MessageId!));
  }
  return { shards: shards.length, messageIds };
}

export function isStale(message: SweepShardMessage, now: number): boolean {
  return now - message.scheduledAt >= sweepPeriodMs;
}

/**
 * Sweeps one shard: pages through its due items (oldest first), claims each and sends the claimed
 * ones' check messages, until the shard has no more due items or the invocation has under
 * `stopWithMs` left. Claims and sends in flight are bounded by SWEEP_CLAIM_CONCURRENCY.
 */
export async function sweepShard(options: {
  shard: string;
  now?: number;
  remainingMs: () => number;
  /** Index items per Query (tests page with a few). */
  pageSize?: number;
}): Promise<SweepShardResult> {
  const settings = await config();
  const { shard } = options;
  const now = options.now ?? Date.now();
  const leaseUntil = now + settings.sweepLeaseSeconds * 1000;
  const pageSize = options.pageSize ?? defaultPageSize;
  const result: SweepShardResult = { shard, due: 0, enqueued: 0, pages: 0, exhausted: false };
  const inFlight = new Semaphore(settings.sweepClaimConcurrency);

  const claim = async ({ pk, sk, sweepAt }: { pk: string; sk: string; sweepAt: number }): Promise<CheckMessage | undefined> => {
    const paymentId = pk.slice("PAYMENT#".length);
    if (sk.startsWith(refundSkPrefix)) {
      const refundId = sk.slice(refundSkPrefix.length);
      return (await claimRefundForCheck(paymentId, refundId, sweepAt, leaseUntil)) ? { paymentId, refundId } : undefined;
    }
    return (await claimForCheck(paymentId, sweepAt, leaseUntil)) ? { paymentId } : undefined;
  };

  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dueSweepItems(shard, now, pageSize, startKey);
    if (result.pages === 0) {
      // The shard is sorted by due time: its first item has waited longest. Reported before any
      // claim, so a sweep that fails further on still shows its backlog (the alarm takes the Maximum).
      const oldest = page.due[0]?.sweepAt;
      gauge("OldestDueAgeSeconds", oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000));
    }
    result.pages += 1;
    result.due += page.due.length;
    const claimed = (await Promise.all(page.due.map((item) => inFlight.run(() => claim(item))))).filter(
      (message): message is CheckMessage => message !== undefined,
    );
    faultPoint("sweep.afterClaim");
    const batches: CheckMessage[][] = [];
    for (let i = 0; i < claimed.length; i += 10) batches.push(claimed.slice(i, i + 10));
    await Promise.all(
      batches.map((batch) =>
        inFlight.run(async () => {
          const { Failed = [] } = await sqs().send(
            new SendMessageBatchCommand({
              QueueUrl: settings.checkQueueUrl,
              Entries: batch.map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m) })),
            }),
          );
          // A failed entry keeps its lease and is claimed again when it runs out.
          result.enqueued += batch.length - Failed.length;
        }),
      ),
    );
    startKey = page.nextKey;
    result.exhausted = startKey === undefined;
  } while (startKey && options.remainingMs() > stopWithMs);

  if (result.due > 0) {
    count("SweepChecksEnqueued", undefined, result.enqueued);
    logger.info("sweep", { ...result });
  }
  return result;
}
