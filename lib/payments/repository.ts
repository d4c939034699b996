// Every state change of a payment is one conditional write here: running any step twice, or two
// copies at once, changes the table at most once. A failed condition hands back what the item
// holds (ReturnValuesOnConditionCheckFailure), so the caller decides without another read.
//
// Retention: a payment that ended without money (EXPIRED or CANCELED, not watched, no refund
// needed) gets a DynamoDB TTL (`ttl`, UNPAID_PAYMENT_RETENTION_DAYS after it settled) in the very
// write that settles it (or ends its watch). Money records are kept: a PAID payment never gets one,
// nor a refund-needed record, and recording a refund marks its payment (`refundNeeded`) and takes
// any TTL off it in the same transaction; a settling write only sets a TTL on an unmarked payment.
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { cancellationReasons, dynamo, isConditionFailure } from "../aws.js";
import { config } from "../config.js";
import { automaticRefund } from "../refunds/model.js";
import {
  type Attempt,
  type HistoryEntry,
  type Payment,
  type PaymentRecord,
  paidShardOf,
  paymentKey,
  refundKey,
  sweepShardOf,
} from "./model.js";

async function table(): Promise<string> {
  return (await config()).tableName;
}

/** The sweep shard of a payment (or refund) id under the configured shard count. */
export async function sweepShardFor(id: string): Promise<string> {
  return sweepShardOf(id, (await config()).sweepShards);
}

export async function getPayment(paymentId: string): Promise<PaymentRecord | undefined> {
  const { Item } = await dynamo().send(new GetCommand({ TableName: await table(), Key: paymentKey(paymentId), ConsistentRead: true }));
  return Item as PaymentRecord | undefined;
}

/** The first answer given to an Idempotency-Key of a business system, replayed on every retry. */
export interface IdempotencyRecord {
  pk: string;
  sk: "IDEMPOTENCY";
  requestHash: string;
  statusCode: number;
  responseBody: string;
  createdAt: number;
  /** DynamoDB TTL (seconds): keys are remembered for a while, not forever. */
  ttl: number;
}

export const idempotencyKey = (businessId: string, key: string) => ({ pk: `IDEMPOTENCY#${businessId}#${key}`, sk: "IDEMPOTENCY" as const });

export async function getIdempotencyRecord(businessId: string, key: string): Promise<IdempotencyRecord | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: await table(), Key: idempotencyKey(businessId, key), ConsistentRead: true }),
  );
  return Item as IdempotencyRecord | undefined;
}

export type InsertOutcome =
  | { kind: "created" }
  | { kind: "payment_exists"; existing?: PaymentRecord }
  | { kind: "key_used"; record?: IdempotencyRecord };

/** A new payment and the answer its key received, in one transaction. */
export async function insertPayment(payment: PaymentRecord, answer: IdempotencyRecord): Promise<InsertOutcome> {
  const TableName = await table();
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName,
              Item: payment,
              ConditionExpression: "attribute_not_exists(pk)",
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            },
          },
          {
            Put: {
              TableName,
              Item: answer,
              ConditionExpression: "attribute_not_exists(pk)",
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            },
          },
        ],
      }),
    );
    return { kind: "created" };
  } catch (error) {
    const reasons = cancellationReasons(error);
    if (!reasons) throw error;
    // The key first: a concurrent copy of this very request is a replay, not a second create.
    if (reasons[1]?.code === "ConditionalCheckFailed")
      return { kind: "key_used", record: reasons[1].item as IdempotencyRecord | undefined };
    if (reasons[0]?.code === "ConditionalCheckFailed")
      return { kind: "payment_exists", existing: reasons[0].item as PaymentRecord | undefined };
    throw error;
  }
}

/** Remembers the answer a key received; false (and what is stored) when the key already has one. */
export async function rememberAnswer(answer: IdempotencyRecord): Promise<{ stored: true } | { stored: false; record?: IdempotencyRecord }> {
  const outcome = await conditional<IdempotencyRecord>(
    new PutCommand({
      TableName: await table(),
      Item: answer,
      ConditionExpression: "attribute_not_exists(pk)",
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    }),
  );
  return outcome.ok ? { stored: true } : { stored: false, record: outcome.current };
}

const history = (at: number, event: string, detail?: string): HistoryEntry[] => [
  detail === undefined ? { at, event } : { at, event, detail },
];

export type WriteOutcome = { ok: true } | { ok: false; current?: PaymentRecord };

/** What retention adds to a payment item (see the top of this file). */
type RetainedPayment = PaymentRecord & { refundNeeded?: boolean; ttl?: number };

/** The DynamoDB TTL (epoch seconds) of a payment that ended without money at `now`. */
async function unpaidExpiry(now: number): Promise<number> {
  return Math.floor(now / 1000) + Math.round((await config()).unpaidPaymentRetentionDays * 86_400);
}

/**
 * A settling write with the payment's TTL, conditional on no refund being recorded for it; if a
 * refund is (the condition failed on that marker), the same write again without the TTL.
 */
async function settleWithRetention(write: (ttl: number | undefined) => Promise<UpdateCommand>, now: number): Promise<WriteOutcome> {
  const first = await conditional<RetainedPayment>(await write(await unpaidExpiry(now)));
  if (first.ok || !first.current?.refundNeeded) return first;
  return conditional<PaymentRecord>(await write(undefined));
}

/**
 * Makes a new attempt the payment's payable one. Only while the payment is open and its last
 * attempt (if any) is closed: two payable attempts can never coexist.
 */
export async function addAttempt(payment: PaymentRecord, attempt: Attempt, sweepAt: number, now: number): Promise<WriteOutcome> {
  const count = payment.attempts.length;
  return conditional<PaymentRecord>(
    new UpdateCommand({
      TableName: await table(),
      Key: paymentKey(payment.paymentId),
      UpdateExpression:
        "SET attempts = list_append(attempts, :attempt), sweepShard = :shard, sweepAt = :sweepAt, " +
        "history = list_append(history, :history) REMOVE orderString",
      ConditionExpression: `#status = :open AND size(attempts) = :count${count > 0 ? ` AND attempts[${count - 1}].#status = :closed` : ""}`,
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":attempt": [attempt],
        ":shard": await sweepShardFor(payment.paymentId),
        ":sweepAt": sweepAt,
        ":history": history(now, "attempt", attempt.outTradeNo),
        ":open": "OPEN",
        ":count": count,
        ...(count > 0 ? { ":closed": "CLOSED" } : {}),
      },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    }),
  );
}

export type FirstAttemptOutcome = { ok: true; payment: PaymentRecord } | { ok: false; current?: PaymentRecord };

/**
 * The app's first order string without reading first: attempt 1 is added only if the payment is
 * this user's, open, has no attempt yet and stays open at least until `payableUntil` (so the
 * attempt's time_expire, never beyond the payment's expiry, is the one the caller computed). The
 * payment comes back either way: as written, or as it was when a condition failed.
 */
export async function addFirstAttempt(
  userId: string,
  paymentId: string,
  attempt: Attempt,
  sweepAt: number,
  payableUntil: number,
  now: number,
): Promise<FirstAttemptOutcome> {
  try {
    const { Attributes } = await dynamo().send(
      new UpdateCommand({
        TableName: await table(),
        Key: paymentKey(paymentId),
        UpdateExpression:
          "SET attempts = list_append(attempts, :attempt), sweepShard = :shard, sweepAt = :sweepAt, " +
          "history = list_append(history, :history)",
        ConditionExpression: "#status = :open AND userId = :user AND size(attempts) = :none AND expiresAt >= :payableUntil",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":attempt": [attempt],
          ":shard": await sweepShardFor(paymentId),
          ":sweepAt": sweepAt,
          ":history": history(now, "attempt", attempt.outTradeNo),
          ":open": "OPEN",
          ":user": userId,
          ":none": 0,
          ":payableUntil": payableUntil,
        },
        ReturnValues: "ALL_NEW",
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
    return { ok: true, payment: Attributes as PaymentRecord };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const item = (error as { Item?: Record<string, AttributeValue> }).Item;
    return { ok: false, current: item ? (unmarshall(item) as PaymentRecord) : undefined };
  }
}

/**
 * OPEN -> PAID through attempt `attemptNo`, out of the sweep index. The stream publishes the event.
 * With `amountFen`, only if the payment is of that amount (a notification is applied without
 * reading first: a failed condition hands back the payment, to tell why).
 */
export async function markPaid(
  paymentId: string,
  attemptNo: number,
  payment: Payment,
  now: number,
  amountFen?: number,
): Promise<WriteOutcome> {
  const i = attemptNo - 1;
  return conditional<PaymentRecord>(
    new UpdateCommand({
      TableName: await table(),
      Key: paymentKey(paymentId),
      UpdateExpression:
        `SET #status = :paid, attempts[${i}].#status = :paid, attempts[${i}].tradeNo = :tradeNo, tradeNo = :tradeNo, ` +
        "paidAt = :paidAt, paidShard = :paidShard, paidVia = :via, history = list_append(history, :history)" +
        (payment.buyerId ? ", buyerId = :buyerId" : "") +
        " REMOVE orderString, sweepShard, sweepAt",
      ConditionExpression: `#status = :open AND attempts[${i}].#status = :pending${amountFen === undefined ? "" : " AND amountFen = :amount"}`,
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ...(amountFen === undefined ? {} : { ":amount": amountFen }),
        ":paid": "PAID",
        ":open": "OPEN",
        ":pending": "PENDING",
        ":tradeNo": payment.tradeNo,
        ":paidAt": payment.paidAt,
        ":paidShard": paidShardOf(paymentId, (await config()).sweepShards),
        ":via": payment.via,
        ":history": history(now, "paid", `${payment.via} ${payment.tradeNo} attempt ${attemptNo}`),
        ...(payment.buyerId ? { ":buyerId": payment.buyerId } : {}),
      },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    }),
  );
}

export type Settlement =
  /**
   * Settled. `watchUntil`: the closed attempt may still be paid at Alipay until then (its close
   * found no trade yet), so the payment stays in the sweep index to be asked once more.
   */
  | { status: "CANCELED" | "EXPIRED"; watchUntil?: number }
  /** The payment stays open; the sweep looks at it again at `sweepAt` (its expiry). */
  | { status: "OPEN"; sweepAt: number };

/** Closes the pending attempt (it can no longer be paid at Alipay) and settles the payment as told. */
export async function closeAttempt(
  paymentId: string,
  attemptNo: number,
  reason: string,
  then: Settlement,
  now: number,
): Promise<WriteOutcome> {
  const i = attemptNo - 1;
  const write = async (ttl: number | undefined) => {
    const settle =
      then.status === "OPEN"
        ? { set: ", sweepAt = :sweepAt", remove: "", values: { ":sweepAt": then.sweepAt } }
        : {
            set:
              `, #status = :final, ${then.status === "CANCELED" ? "canceledAt" : "expiredAt"} = :now` +
              `${then.watchUntil ? ", sweepAt = :watch" : ""}${ttl ? ", #ttl = :ttl" : ""}`,
            remove: then.watchUntil ? "" : ", sweepShard, sweepAt",
            values: { ":final": then.status, ...(then.watchUntil ? { ":watch": then.watchUntil } : {}), ...(ttl ? { ":ttl": ttl } : {}) },
          };
    return new UpdateCommand({
      TableName: await table(),
      Key: paymentKey(paymentId),
      UpdateExpression:
        `SET attempts[${i}].#status = :closed, attempts[${i}].closedAt = :now, attempts[${i}].closeReason = :reason, ` +
        `history = list_append(history, :history)${settle.set} REMOVE orderString${settle.remove}`,
      ConditionExpression:
        `#status = :open AND size(attempts) = :count AND attempts[${i}].#status = :pending` +
        (ttl ? " AND attribute_not_exists(refundNeeded)" : ""),
      ExpressionAttributeNames: { "#status": "status", ...(ttl ? { "#ttl": "ttl" } : {}) },
      ExpressionAttributeValues: {
        ":closed": "CLOSED",
        ":open": "OPEN",
        ":pending": "PENDING",
        ":count": attemptNo,
        ":now": now,
        ":reason": reason,
        ":history": history(now, then.status === "OPEN" ? "attempt closed" : then.status.toLowerCase(), `attempt ${attemptNo}: ${reason}`),
        ...settle.values,
      },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    });
  };
  // Only a payment that ends here unwatched (its attempt can no longer be paid) ends without money.
  if (then.status === "OPEN" || then.watchUntil) return conditional<PaymentRecord>(await write(undefined));
  return settleWithRetention(write, now);
}

/** OPEN -> CANCELED / EXPIRED for a payment with no payable attempt. */
export async function settleOpen(
  payment: PaymentRecord,
  status: "CANCELED" | "EXPIRED",
  reason: string,
  now: number,
): Promise<WriteOutcome> {
  const count = payment.attempts.length;
  const write = async (ttl: number | undefined) =>
    new UpdateCommand({
      TableName: await table(),
      Key: paymentKey(payment.paymentId),
      UpdateExpression:
        `SET #status = :final, ${status === "CANCELED" ? "canceledAt" : "expiredAt"} = :now, history = list_append(history, :history)` +
        `${ttl ? ", #ttl = :ttl" : ""} REMOVE orderString, sweepShard, sweepAt`,
      ConditionExpression:
        `#status = :open AND size(attempts) = :count${count > 0 ? ` AND attempts[${count - 1}].#status <> :pending` : ""}` +
        (ttl ? " AND attribute_not_exists(refundNeeded)" : ""),
      ExpressionAttributeNames: { "#status": "status", ...(ttl ? { "#ttl": "ttl" } : {}) },
      ExpressionAttributeValues: {
        ":final": status,
        ":open": "OPEN",
        ":count": count,
        ":now": now,
        ":history": history(now, status.toLowerCase(), reason),
        ...(count > 0 ? { ":pending": "PENDING" } : {}),
        ...(ttl ? { ":ttl": ttl } : {}),
      },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    });
  return settleWithRetention(write, now);
}

/**
 * Records a payment that must be given back; true the first time this trade is recorded. In the
 * same transaction its payment is marked and loses any TTL: money reached it, so it is kept. With
 * automatic refunds on (config autoRefunds), the same transaction records the trade's automatic
 * refund (PENDING, due in the sweep index, so the check worker sends it) and names it on the
 * payment: a detection that committed always has its refund, and a repeat adds nothing.
 */
export async function recordRefundNeeded(
  payment: PaymentRecord,
  attemptNo: number,
  paid: Payment,
  reason: string,
  now: number,
): Promise<boolean> {
  const settings = await config();
  const TableName = settings.tableName;
  const outTradeNo = payment.attempts[attemptNo - 1]?.outTradeNo ?? `${payment.paymentId}_${attemptNo}`;
  const refund = settings.autoRefunds
    ? automaticRefund(
        { paymentId: payment.paymentId, businessId: payment.businessId, tradeNo: paid.tradeNo, outTradeNo },
        paid.totalFen,
        reason,
        sweepShardOf(payment.paymentId, settings.sweepShards),
        now,
      )
    : undefined;
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName,
              Item: {
                ...refundKey(payment.paymentId, paid.tradeNo),
                paymentId: payment.paymentId,
                businessId: payment.businessId,
                attemptNo,
                tradeNo: paid.tradeNo,
                amountFen: paid.totalFen,
                reason,
                status: "REFUND_NEEDED",
                detectedAt: now,
                detectedVia: paid.via,
                ...(refund ? { refundId: refund.refundId } : {}),
              },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          {
            Update: {
              TableName,
              Key: paymentKey(payment.paymentId),
              UpdateExpression: refund
                ? "SET refundNeeded = :true, automaticRefundIds = list_append(if_not_exists(automaticRefundIds, :none), :refundIds) REMOVE #ttl"
                : "SET refundNeeded = :true REMOVE #ttl",
              ConditionExpression: "attribute_exists(pk)",
              ExpressionAttributeNames: { "#ttl": "ttl" },
              ExpressionAttributeValues: { ":true": true, ...(refund ? { ":none": [], ":refundIds": [refund.refundId] } : {}) },
            },
          },
          ...(refund ? [{ Put: { TableName, Item: refund, ConditionExpression: "attribute_not_exists(pk)" } }] : []),
        ],
      }),
    );
    return true;
  } catch (error) {
    // Already recorded (by an earlier copy, whose transaction also marked the payment and recorded its refund).
    if (cancellationReasons(error)?.[0]?.code === "ConditionalCheckFailed") return false;
    throw error;
  }
}

export async function listRefundsNeeded(paymentId: string): Promise<Array<Record<string, unknown>>> {
  const { Items = [] } = await dynamo().send(
    new QueryCommand({
      TableName: await table(),
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :refund)",
      ExpressionAttributeValues: { ":pk": paymentKey(paymentId).pk, ":refund": "REFUND#" },
      ConsistentRead: true,
    }),
  );
  return Items;
}

/**
 * A settled payment leaves the sweep index once its last watch is over. No money was found on it
 * (it is CANCELED or EXPIRED and no refund is recorded): it gets its TTL in the same write.
 */
export async function endWatch(paymentId: string, now: number): Promise<void> {
  const write = async (ttl: number | undefined) =>
    new UpdateCommand({
      TableName: await table(),
      Key: paymentKey(paymentId),
      UpdateExpression: `${ttl ? "SET #ttl = :ttl " : ""}REMOVE sweepShard, sweepAt`,
      ConditionExpression: ttl ? "#status IN (:canceled, :expired) AND attribute_not_exists(refundNeeded)" : "#status <> :open",
      ExpressionAttributeNames: { "#status": "status", ...(ttl ? { "#ttl": "ttl" } : {}) },
      ExpressionAttributeValues: ttl ? { ":canceled": "CANCELED", ":expired": "EXPIRED", ":ttl": ttl } : { ":open": "OPEN" },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    });
  const first = await conditional<RetainedPayment>(await write(await unpaidExpiry(now)));
  // Marked (money found), or not CANCELED / EXPIRED: only out of the index, as before.
  if (!first.ok && first.current) await conditional(await write(undefined));
}

/** Sets when the sweep next looks at a payment that still needs attention. */
export async function scheduleCheck(paymentId: string, at: number): Promise<void> {
  await conditional(
    new UpdateCommand({
      TableName: await table(),
      Key: paymentKey(paymentId),
      UpdateExpression: "SET sweepAt = :at",
      // Only while it still needs attention (a settled payment stays out of the index).
      ConditionExpression: "attribute_exists(sweepShard)",
      ExpressionAttributeValues: { ":at": at },
    }),
  );
}

/** The sweep claims a due payment for `leaseUntil`; false if another sweep claimed it first. */
export async function claimForCheck(paymentId: string, seenSweepAt: number, leaseUntil: number): Promise<boolean> {
  const outcome = await conditional(
    new UpdateCommand({
      TableName: await table(),
      Key: paymentKey(paymentId),
      UpdateExpression: "SET sweepAt = :lease",
      ConditionExpression: "sweepAt = :seen",
      ExpressionAttributeValues: { ":lease": leaseUntil, ":seen": seenSweepAt },
    }),
  );
  return outcome.ok;
}

/** Items due in one shard of the sparse sweep index (payments and refunds), oldest first; the index is KEYS_ONLY. */
export async function dueSweepItems(
  shard: string,
  now: number,
  limit: number,
  startKey?: Record<string, unknown>,
): Promise<{ due: Array<{ pk: string; sk: string; sweepAt: number }>; nextKey?: Record<string, unknown> }> {
  const { Items = [], LastEvaluatedKey } = await dynamo().send(
    new QueryCommand({
      TableName: await table(),
      IndexName: "sweep",
      KeyConditionExpression: "sweepShard = :shard AND sweepAt <= :now",
      ExpressionAttributeValues: { ":shard": shard, ":now": now },
      Limit: limit,
      ExclusiveStartKey: startKey,
    }),
  );
  return {
    due: Items.map((item) => ({ pk: String(item.pk), sk: String(item.sk), sweepAt: Number(item.sweepAt) })),
    nextKey: LastEvaluatedKey,
  };
}

async function conditional<T = Record<string, unknown>>(
  command: UpdateCommand | PutCommand,
): Promise<{ ok: true } | { ok: false; current?: T }> {
  try {
    await dynamo().send(command as UpdateCommand);
    return { ok: true };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const item = (error as { Item?: Record<string, AttributeValue> }).Item;
    return { ok: false, current: item ? (unmarshall(item) as T) : undefined };
  }
}
