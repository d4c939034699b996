// Where a reconciliation ends up: the whole report (every difference with its ids) as JSON in S3,
// one object per run, and the day's summary in the table (pk RECONCILIATION, sk the day): counts
// and sums per class and the open differences, so `reconcile differences` and the alarm's
// runbook need one Query, not the reports. The latest run of a day wins (a conditional put).
import { GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo, isConditionFailure } from "../aws.js";
import { config } from "../config.js";
import type { Difference } from "./match.js";
import type { ClassTotals, ReconciliationReport } from "./report.js";

// Loaded on first use (see reportObjects.ts): no S3 client in any cold start.
const reportObjects = () => import("./reportObjects.js");

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
  /** Absent on summaries stored before other deployments' rows were told apart. */
  otherDeployments?: ReconciliationReport["otherDeployments"];
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
  await (await reportObjects()).putJson(bucket, key, report);
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
    otherDeployments: report.otherDeployments,
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
  return (await reportObjects()).getJson<ReconciliationReport>(bucket, key);
}
