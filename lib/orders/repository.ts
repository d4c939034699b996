// Every state change of an order is one conditional write here: running any step twice, or two
// copies at once, changes the table at most once.
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo, isConditionFailure } from "../aws.js";
import { config } from "../config.js";
import {
  merchantOrderKey,
  orderKey,
  refundKey,
  sweepShard,
  type OrderHistoryEntry,
  type OrderRecord,
  type Payment,
} from "./model.js";

async function table(): Promise<string> {
  return (await config()).tableName;
}

export async function getOrder(orderId: string): Promise<OrderRecord | undefined> {
  const { Item } = await dynamo().send(new GetCommand({ TableName: await table(), Key: orderKey(orderId), ConsistentRead: true }));
  return Item as OrderRecord | undefined;
}

export async function getCurrentOrderId(userId: string, merchantOrderId: string): Promise<string | undefined> {
  const { Item } = await dynamo().send(new GetCommand({
    TableName: await table(),
    Key: merchantOrderKey(userId, merchantOrderId),
    ConsistentRead: true,
  }));
  return Item?.currentOrderId as string | undefined;
}

export type InsertOutcome = "created" | "order_exists" | "merchant_order_moved";

/**
 * Writes a new attempt and makes it the business order's current one, atomically. The business
 * order must still point where the caller saw it (`previousOrderId`, or nowhere).
 */
export async function insertOrder(order: OrderRecord, previousOrderId: string | undefined): Promise<InsertOutcome> {
  const TableName = await table();
  try {
    await dynamo().send(new TransactWriteCommand({
      TransactItems: [
        { Put: { TableName, Item: order, ConditionExpression: "attribute_not_exists(pk)" } },
        {
          Put: {
            TableName,
            Item: { ...merchantOrderKey(order.userId, order.merchantOrderId), currentOrderId: order.orderId, updatedAt: order.createdAt },
            ...(previousOrderId
              ? { ConditionExpression: "currentOrderId = :previous", ExpressionAttributeValues: { ":previous": previousOrderId } }
              : { ConditionExpression: "attribute_not_exists(pk)" }),
          },
        },
      ],
    }));
    return "created";
  } catch (error) {
    const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
    if ((error as Error).name !== "TransactionCanceledException" || !reasons) throw error;
    if (reasons[0]?.Code === "ConditionalCheckFailed") return "order_exists";
    if (reasons[1]?.Code === "ConditionalCheckFailed") return "merchant_order_moved";
    throw error;
  }
}

const historyEntry = (at: number, event: string, detail?: string): OrderHistoryEntry[] => [
  detail === undefined ? { at, event } : { at, event, detail },
];

/** PENDING -> PAID, and out of the sweep index. The table's stream carries this write to publishEvents. */
export async function markPaid(orderId: string, payment: Payment, eventId: string, now: number): Promise<boolean> {
  return conditional(new UpdateCommand({
    TableName: await table(),
    Key: orderKey(orderId),
    UpdateExpression:
      "SET #status = :paid, tradeNo = :tradeNo, paidAt = :paidAt, paidVia = :via, eventId = :eventId, " +
      "history = list_append(history, :history)" +
      (payment.buyerId ? ", buyerId = :buyerId" : "") +
      " REMOVE sweepShard, sweepAt",
    ConditionExpression: "#status = :pending",
    ExpressionAttributeNames: { "#status": "status" },
    ExpressionAttributeValues: {
      ":paid": "PAID",
      ":pending": "PENDING",
      ":tradeNo": payment.tradeNo,
      ":paidAt": payment.paidAt,
      ":via": payment.via,
      ":eventId": eventId,
      ":history": historyEntry(now, "paid", `${payment.via} ${payment.tradeNo}`),
      ...(payment.buyerId ? { ":buyerId": payment.buyerId } : {}),
    },
  }));
}

/** PENDING -> CLOSED, and out of the sweep index. */
export async function markClosed(orderId: string, reason: string, now: number): Promise<boolean> {
  return conditional(new UpdateCommand({
    TableName: await table(),
    Key: orderKey(orderId),
    UpdateExpression:
      "SET #status = :closed, closedAt = :now, closeReason = :reason, history = list_append(history, :history) " +
      "REMOVE sweepShard, sweepAt",
    ConditionExpression: "#status = :pending",
    ExpressionAttributeNames: { "#status": "status" },
    ExpressionAttributeValues: {
      ":closed": "CLOSED",
      ":pending": "PENDING",
      ":now": now,
      ":reason": reason,
      ":history": historyEntry(now, "closed", reason),
    },
  }));
}

/** Records a payment that must be given back; true the first time this trade is recorded. */
export async function recordRefundNeeded(order: OrderRecord, payment: Payment, reason: string, now: number): Promise<boolean> {
  return conditional(new PutCommand({
    TableName: await table(),
    Item: {
      ...refundKey(order.orderId, payment.tradeNo),
      orderId: order.orderId,
      tradeNo: payment.tradeNo,
      amountFen: payment.totalFen,
      reason,
      status: "REFUND_NEEDED",
      detectedAt: now,
      detectedVia: payment.via,
    },
    ConditionExpression: "attribute_not_exists(pk)",
  }));
}

export async function listRefundsNeeded(orderId: string): Promise<Array<Record<string, unknown>>> {
  const { Items = [] } = await dynamo().send(new QueryCommand({
    TableName: await table(),
    KeyConditionExpression: "pk = :pk AND begins_with(sk, :refund)",
    ExpressionAttributeValues: { ":pk": orderKey(orderId).pk, ":refund": "REFUND#" },
    ConsistentRead: true,
  }));
  return Items;
}

/** Sets when the sweep next looks at an order that still needs attention. */
export async function scheduleCheck(orderId: string, at: number): Promise<void> {
  await conditional(new UpdateCommand({
    TableName: await table(),
    Key: orderKey(orderId),
    UpdateExpression: "SET sweepAt = :at",
    // Only while the order still needs attention (a settled order stays out of the index).
    ConditionExpression: "attribute_exists(sweepShard)",
    ExpressionAttributeValues: { ":at": at },
  }));
}

/** The sweep claims a due order for `leaseUntil`; false if another sweep claimed it first. */
export async function claimForCheck(orderId: string, seenSweepAt: number, leaseUntil: number): Promise<boolean> {
  return conditional(new UpdateCommand({
    TableName: await table(),
    Key: orderKey(orderId),
    UpdateExpression: "SET sweepAt = :lease",
    ConditionExpression: "sweepAt = :seen",
    ExpressionAttributeValues: { ":lease": leaseUntil, ":seen": seenSweepAt },
  }));
}

/** Orders due for a check, oldest first, from the sparse index (never a scan). */
export async function dueOrders(
  now: number,
  limit: number,
  startKey?: Record<string, unknown>,
): Promise<{ due: Array<{ orderId: string; sweepAt: number }>; nextKey?: Record<string, unknown> }> {
  const { Items = [], LastEvaluatedKey } = await dynamo().send(new QueryCommand({
    TableName: await table(),
    IndexName: "sweep",
    KeyConditionExpression: "sweepShard = :shard AND sweepAt <= :now",
    ExpressionAttributeValues: { ":shard": sweepShard, ":now": now },
    Limit: limit,
    ExclusiveStartKey: startKey,
  }));
  return {
    due: Items.map((item) => ({ orderId: String(item.pk).slice("ORDER#".length), sweepAt: Number(item.sweepAt) })),
    nextKey: LastEvaluatedKey,
  };
}

async function conditional(command: UpdateCommand | PutCommand): Promise<boolean> {
  try {
    await dynamo().send(command as UpdateCommand);
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
