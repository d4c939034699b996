// `backfill paid-shards`: the `paidAt` index (the daily reconciliation's side of a day) was first
// keyed on sk, then on `paidShard` (PAID#<n>), which the PAID write has set ever since. Payments paid
// before that have paidAt but no paidShard, so the new index does not hold them and a reconciliation
// of their days would not see them. This gives each of them its shard, as markPaid would have:
// one conditional write per item (only while it still has paidAt and no paidShard), so running it
// again, or two runs at once, writes nothing twice; a stopped run resumes from its last page's key.
import { ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo, isConditionFailure } from "../lib/aws.js";
import { forEachLimited } from "../lib/concurrency.js";
import { config } from "../lib/config.js";
import { isPaymentId, paidShardOf, paymentKey } from "../lib/payments/model.js";
import { UsageError } from "./errors.js";

/** Writes in flight: a backfill shares the table with live traffic (on-demand capacity absorbs this). */
const concurrency = 8;

export interface BackfillPage {
  /** Scan pages read so far (this run). */
  pages: number;
  scanned: number;
  updated: number;
  /** Given their shard meanwhile (another run): nothing written. */
  alreadySet: number;
  /** Where the next page starts: `--start-key` resumes there. Absent once the table is done. */
  nextStartKey?: string;
}

export interface BackfillResult extends BackfillPage {
  /** The shard count the shards were computed with (the stage's SWEEP_SHARDS). */
  shards: number;
  /** The whole table was scanned (not stopped by --limit). */
  complete: boolean;
  /** Items without a payment id in their key (reported, left alone). */
  skipped: string[];
}

/** A scan position as the operator copies it: base64url of the key's JSON. */
export const encodeStartKey = (key: Record<string, unknown>) => Buffer.from(JSON.stringify(key)).toString("base64url");

export function decodeStartKey(value: string): Record<string, string> {
  try {
    const key = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as unknown;
    if (key && typeof key === "object" && Object.values(key).every((v) => typeof v === "string") && "pk" in key && "sk" in key) {
      return key as Record<string, string>;
    }
  } catch {
    // Reported below.
  }
  throw new UsageError(`--start-key is not a key this command printed: "${value}"`);
}

export async function backfillPaidShards({
  startKey,
  maxPages,
  pageSize,
  onPage = () => undefined,
}: {
  startKey?: string;
  /** Stop after this many scan pages (resume with the key it prints). */
  maxPages?: number;
  /** Items a scan page reads at most (default: DynamoDB's 1 MB page); the tests page through a small table. */
  pageSize?: number;
  onPage?: (progress: BackfillPage) => void;
} = {}): Promise<BackfillResult> {
  const { tableName, sweepShards } = await config();
  let exclusiveStartKey: Record<string, unknown> | undefined = startKey ? decodeStartKey(startKey) : undefined;
  const result: BackfillResult = { shards: sweepShards, pages: 0, scanned: 0, updated: 0, alreadySet: 0, complete: false, skipped: [] };
  do {
    const page = await dynamo().send(
      new ScanCommand({
        TableName: tableName,
        // Only payment items paid before paidShard existed; the filter costs reads, not writes.
        FilterExpression: "sk = :payment AND attribute_exists(paidAt) AND attribute_not_exists(paidShard)",
        ProjectionExpression: "pk",
        ExpressionAttributeValues: { ":payment": "PAYMENT" },
        ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
        ...(pageSize ? { Limit: pageSize } : {}),
      }),
    );
    result.pages += 1;
    result.scanned += page.ScannedCount ?? 0;
    await forEachLimited(page.Items ?? [], concurrency, async (item) => {
      const paymentId = String(item.pk).replace(/^PAYMENT#/, "");
      if (!isPaymentId(paymentId)) {
        result.skipped.push(String(item.pk));
        return;
      }
      try {
        await dynamo().send(
          new UpdateCommand({
            TableName: tableName,
            Key: paymentKey(paymentId),
            UpdateExpression: "SET paidShard = :shard",
            ConditionExpression: "attribute_exists(paidAt) AND attribute_not_exists(paidShard)",
            ExpressionAttributeValues: { ":shard": paidShardOf(paymentId, sweepShards) },
          }),
        );
        result.updated += 1;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        result.alreadySet += 1;
      }
    });
    exclusiveStartKey = page.LastEvaluatedKey;
    if (exclusiveStartKey) result.nextStartKey = encodeStartKey(exclusiveStartKey);
    else delete result.nextStartKey;
    onPage({
      pages: result.pages,
      scanned: result.scanned,
      updated: result.updated,
      alreadySet: result.alreadySet,
      ...(result.nextStartKey ? { nextStartKey: result.nextStartKey } : {}),
    });
  } while (exclusiveStartKey && (maxPages === undefined || result.pages < maxPages));
  result.complete = exclusiveStartKey === undefined;
  return result;
}

export function formatBackfill(result: BackfillResult): string {
  const lines = [
    `paid-shards backfill: ${result.updated} payments given their paidShard (PAID#0..PAID#${Math.max(1, result.shards) - 1}, ${result.shards} shards), ` +
      `${result.alreadySet} set meanwhile, ${result.scanned} items scanned in ${result.pages} pages`,
  ];
  if (result.skipped.length) lines.push(`  left alone (no payment id in the key): ${result.skipped.join(", ")}`);
  lines.push(
    result.complete
      ? "  the whole table is done: a run now finds nothing to write"
      : `  stopped before the end of the table: resume with --start-key ${result.nextStartKey}`,
  );
  return lines.join("\n");
}
