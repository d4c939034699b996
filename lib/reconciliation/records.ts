// Our side of a day, read without adding a single write to the payment path: two sparse GSIs on
// attributes the settling writes already set. `paidAt` (paidShard, paidAt) holds only PAID
// payments (markPaid sets both: paidAt is Alipay's gmt_payment, the same instant as the bill's
// 完成时间; paidShard spreads them over the sweep's shard count, so paying is never limited by one
// index partition's 1,000 WCU/s); `refundSucceededAt` (recordType, succeededAt) holds only SUCCEEDED refunds
// (markRefundSucceeded sets it). Each projects what matching needs, so a day is a few paged
// Queries (about 1 MB per page), and only rows that do not match cost a point read.
import { GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.js";
import { config } from "../config.js";
import { paidShardsToRead, refundKey } from "../payments/model.js";

export interface OurPayment {
  paymentId: string;
  businessId: string;
  tradeNo: string;
  amountFen: number;
  paidAt: number;
}

export interface OurRefund {
  paymentId: string;
  refundId: string;
  businessId: string;
  tradeNo: string;
  outTradeNo: string;
  amountFen: number;
  kind: "requested" | "automatic";
  succeededAt: number;
}

/** A REFUND#<tradeNo> record: money taken on a trade that must go back (paid after a close, a second trade). */
export interface RefundNeededRecord {
  paymentId: string;
  tradeNo: string;
  amountFen: number;
  attemptNo: number;
  reason: string;
}

async function* pages(input: ConstructorParameters<typeof QueryCommand>[0]): AsyncGenerator<Array<Record<string, unknown>>> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const { Items = [], LastEvaluatedKey } = await dynamo().send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
    yield Items;
    startKey = LastEvaluatedKey;
  } while (startKey);
}

/** Payments paid in [startMs, endMs), a page at a time, shard after shard. */
export async function* paidPayments(startMs: number, endMs: number): AsyncGenerator<OurPayment[]> {
  const { tableName, sweepShards } = await config();
  for (const shard of paidShardsToRead(sweepShards)) {
    for await (const items of pages({
      TableName: tableName,
      IndexName: "paidAt",
      KeyConditionExpression: "paidShard = :shard AND paidAt BETWEEN :start AND :last",
      ExpressionAttributeValues: { ":shard": shard, ":start": startMs, ":last": endMs - 1 },
    })) {
      yield items.map((item) => ({
        paymentId: String(item.paymentId),
        businessId: String(item.businessId),
        tradeNo: String(item.tradeNo),
        amountFen: Number(item.amountFen),
        paidAt: Number(item.paidAt),
      }));
    }
  }
}

/** Refunds that succeeded in [startMs, endMs) (requested and automatic), a page at a time. */
export async function* succeededRefunds(startMs: number, endMs: number): AsyncGenerator<OurRefund[]> {
  for await (const items of pages({
    TableName: (await config()).tableName,
    IndexName: "refundSucceededAt",
    KeyConditionExpression: "recordType = :refund AND succeededAt BETWEEN :start AND :last",
    ExpressionAttributeValues: { ":refund": "REFUND_REQUEST", ":start": startMs, ":last": endMs - 1 },
  })) {
    yield items.map((item) => ({
      paymentId: String(item.paymentId),
      refundId: String(item.refundId),
      businessId: String(item.businessId),
      tradeNo: String(item.tradeNo),
      outTradeNo: String(item.outTradeNo),
      amountFen: Number(item.amountFen),
      kind: item.kind === "automatic" ? "automatic" : "requested",
      succeededAt: Number(item.succeededAt),
    }));
  }
}

export async function getRefundNeeded(paymentId: string, tradeNo: string): Promise<RefundNeededRecord | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: (await config()).tableName, Key: refundKey(paymentId, tradeNo), ConsistentRead: true }),
  );
  return Item as RefundNeededRecord | undefined;
}
