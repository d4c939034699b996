// The scheduled sweep: finds payments due for attention in the sparse index and fans out one check
// message per payment. Each payment is first claimed for a lease (a conditional write), so
// overlapping sweeps don't pile up messages; if the send is lost, the lease runs out and the
// next sweep claims it again. The index also holds PENDING refunds (sk REFUND_REQUEST#<refundId>):
// their messages name the refund too, and the check worker hands them to the refund worker.
//
// The index is spread over SWEEP_SHARDS partition keys (lib/payments/model.ts sweepShardOf): every
// shard is read at once, and the claims of all shards share SWEEP_CLAIM_CONCURRENCY writes in flight.
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

export interface SweepResult {
  due: number;
  enqueued: number;
  pages: number;
  shards: number;
}

/** KEYS_ONLY index items are ~100 B: a page of 500 is one 1 MB-bounded Query of ~25 RCU at most. */
const pageSize = 500;
/** Stop reading new pages with this much of the invocation left (claims and sends in flight finish). */
const stopWithMs = 10_000;
/** What one invocation hands out at most; the next one, a minute later, takes the rest. */
const defaultMaxOrders = 20_000;

export async function sweep(options: { now?: number; remainingMs: () => number; maxOrders?: number }): Promise<SweepResult> {
  const settings = await config();
  const now = options.now ?? Date.now();
  const leaseUntil = now + settings.sweepLeaseSeconds * 1000;
  const maxOrders = options.maxOrders ?? defaultMaxOrders;
  const shards = sweepShardsToRead(settings.sweepShards);
  const result: SweepResult = { due: 0, enqueued: 0, pages: 0, shards: shards.length };
  const claims = new Semaphore(settings.sweepClaimConcurrency);
  let oldestDue: number | undefined;

  const claim = async ({ pk, sk, sweepAt }: { pk: string; sk: string; sweepAt: number }): Promise<CheckMessage | undefined> => {
    const paymentId = pk.slice("PAYMENT#".length);
    if (sk.startsWith(refundSkPrefix)) {
      const refundId = sk.slice(refundSkPrefix.length);
      return (await claimRefundForCheck(paymentId, refundId, sweepAt, leaseUntil)) ? { paymentId, refundId } : undefined;
    }
    return (await claimForCheck(paymentId, sweepAt, leaseUntil)) ? { paymentId } : undefined;
  };

  const sweepShard = async (shard: string): Promise<void> => {
    let startKey: Record<string, unknown> | undefined;
    let firstPage = true;
    do {
      const page = await dueSweepItems(shard, now, pageSize, startKey);
      // Each shard is sorted by due time: the first item of its first page has waited longest there.
      if (firstPage && page.due[0]) oldestDue = Math.min(oldestDue ?? Number.POSITIVE_INFINITY, page.due[0].sweepAt);
      firstPage = false;
      result.pages += 1;
      result.due += page.due.length;
      const claimed = (await Promise.all(page.due.map((item) => claims.run(() => claim(item))))).filter(
        (message): message is CheckMessage => message !== undefined,
      );
      faultPoint("sweep.afterClaim");
      const batches: CheckMessage[][] = [];
      for (let i = 0; i < claimed.length; i += 10) batches.push(claimed.slice(i, i + 10));
      await Promise.all(
        batches.map((batch) =>
          claims.run(async () => {
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
    } while (startKey && options.remainingMs() > stopWithMs && result.due < maxOrders);
  };

  await Promise.all(shards.map(sweepShard));
  gauge("OldestDueAgeSeconds", oldestDue === undefined ? 0 : Math.max(0, (now - oldestDue) / 1000));
  if (result.due > 0) {
    count("SweepChecksEnqueued", undefined, result.enqueued);
    logger.info("sweep", { ...result });
  }
  return result;
}
