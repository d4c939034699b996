// Where a reconciliation ends up: the whole report (every difference with its ids) as JSON in S3,
// one object per run, and the day's summary in the table (pk RECONCILIATION, sk the day): counts
// and sums per class and the open differences, so `reconcile differences` and the alarm's
// runbook need one Query, not the reports. The latest run of a day wins (a conditional put).
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo, isConditionFailure } from "../aws.js";
import { config } from "../config.js";
import type { Difference } from "./match.js";
import type { ClassTotals, ReconciliationReport } from "./report.js";

// The S3 client lives with its only user: in lib/aws.ts every function would load
// @aws-sdk/client-s3 at cold start.
let s3Client: S3Client | undefined;

function s3(): S3Client {
  // A custom endpoint (the local engine, fauxqs) serves buckets by path, not by host name.
  s3Client ??= new S3Client({ maxAttempts: 3, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3) });
  return s3Client;
}

export const reconciliationPk = "RECONCILIATION";
/** Open differences kept on the summary item (the report has them all). */
const maxOpenOnSummary = 100;

export interface ReconciliationSummary {
  pk: typeof reconciliationPk;
  sk: string;
  day: string;
  runId: string;
  finishedAt: string;
  reportBucket: string;
  reportKey: string;
  matched: ReconciliationReport["matched"];
  ours: ReconciliationReport["ours"];
  bill: { payments: ReconciliationReport["bill"]["rows"]["payments"]; refunds: ReconciliationReport["bill"]["rows"]["refunds"] };
  classes: Record<string, ClassTotals>;
  healed: number;
  open: number;
  openDifferences: Difference[];
}

const bucketVariable = "RECONCILIATION_BUCKET";

export function reportBucket(): string {
  const bucket = process.env[bucketVariable];
  if (!bucket) throw new Error(`Missing configuration: ${bucketVariable}`);
  return bucket;
}

export const reportKeyOf = (day: string, runId: string) => `reconciliation/${day}/${runId}.json`;

export async function storeReconciliation(report: ReconciliationReport): Promise<ReconciliationSummary> {
  const bucket = reportBucket();
  const key = reportKeyOf(report.day, report.runId);
  await s3().send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(report, null, 1), ContentType: "application/json" }),
  );
  const summary: ReconciliationSummary = {
    pk: reconciliationPk,
    sk: report.day,
    day: report.day,
    runId: report.runId,
    finishedAt: report.finishedAt,
    reportBucket: bucket,
    reportKey: key,
    matched: report.matched,
    ours: report.ours,
    bill: { payments: report.bill.rows.payments, refunds: report.bill.rows.refunds },
    classes: report.classes,
    healed: report.healed,
    open: report.open,
    openDifferences: report.differences.filter((d) => !d.healed).slice(0, maxOpenOnSummary),
  };
  try {
    await dynamo().send(
      new PutCommand({
        TableName: (await config()).tableName,
        Item: summary,
        // A slower, older run finishing last must not hide a newer one.
        ConditionExpression: "attribute_not_exists(pk) OR runId <= :runId",
        ExpressionAttributeValues: { ":runId": report.runId },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  return summary;
}

export async function getSummary(day: string): Promise<ReconciliationSummary | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: (await config()).tableName, Key: { pk: reconciliationPk, sk: day }, ConsistentRead: true }),
  );
  return Item as ReconciliationSummary | undefined;
}

/** Summaries, newest day first. */
export async function listSummaries(limit = 60): Promise<ReconciliationSummary[]> {
  const { Items = [] } = await dynamo().send(
    new QueryCommand({
      TableName: (await config()).tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": reconciliationPk },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  return Items as ReconciliationSummary[];
}

export async function getReport(bucket: string, key: string): Promise<ReconciliationReport> {
  const { Body } = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await Body!.transformToString()) as ReconciliationReport;
}
