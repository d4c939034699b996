// The scheduled sweep: finds payments due for attention in the sparse index and fans out one check
// message per payment. Each payment is first claimed for a lease (a conditional write), so
// overlapping sweeps don't pile up messages; if the send is lost, the lease runs out and the
// next sweep claims it again. The index also holds PENDING refunds (sk REFUND_REQUEST#<refundId>):
// their messages name the refund too, and the check worker hands them to the refund worker.
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { sqs } from "../aws.js";
import { config } from "../config.js";
import { faultPoint } from "../faults.js";
import { count, gauge, logger } from "../observability.js";
import { refundSkPrefix } from "../refunds/model.js";
import { claimRefundForCheck } from "../refunds/repository.js";
import { claimForCheck, dueSweepItems } from "./repository.js";
import type { CheckMessage } from "./check.js";

export interface SweepResult {
  due: number;
  enqueued: number;
  pages: number;
}

const pageSize = 100;

export async function sweep(options: { now?: number; remainingMs: () => number; maxOrders?: number }): Promise<SweepResult> {
  const settings = await config();
  const now = options.now ?? Date.now();
  const leaseUntil = now + settings.sweepLeaseSeconds * 1000;
  const result: SweepResult = { due: 0, enqueued: 0, pages: 0 };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dueSweepItems(now, pageSize, startKey);
    // The index is sorted by due time: the first payment of the first page has waited longest.
    if (result.pages === 0) gauge("OldestDueAgeSeconds", page.due[0] ? Math.max(0, (now - page.due[0].sweepAt) / 1000) : 0);
    result.pages += 1;
    result.due += page.due.length;
    const claimed: CheckMessage[] = [];
    for (const { pk, sk, sweepAt } of page.due) {
      const paymentId = pk.slice("PAYMENT#".length);
      if (sk.startsWith(refundSkPrefix)) {
        const refundId = sk.slice(refundSkPrefix.length);
        if (await claimRefundForCheck(paymentId, refundId, sweepAt, leaseUntil)) claimed.push({ paymentId, refundId });
      } else if (await claimForCheck(paymentId, sweepAt, leaseUntil)) {
        claimed.push({ paymentId });
      }
    }
    faultPoint("sweep.afterClaim");
    for (let i = 0; i < claimed.length; i += 10) {
      const batch = claimed.slice(i, i + 10);
      const { Failed = [] } = await sqs().send(
        new SendMessageBatchCommand({
          QueueUrl: settings.checkQueueUrl,
          Entries: batch.map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m) })),
        }),
      );
      // A failed entry keeps its lease and is claimed again when it runs out.
      result.enqueued += batch.length - Failed.length;
    }
    startKey = page.nextKey;
  } while (startKey && options.remainingMs() > 10_000 && result.due < (options.maxOrders ?? 5000));
  if (result.due > 0) {
    count("SweepChecksEnqueued", undefined, result.enqueued);
    logger.info("sweep", { ...result });
  }
  return result;
}
