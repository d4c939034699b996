// Every state change of a refund is one conditional write (or one transaction) here; running a
// step twice, or two copies at once, changes the table at most once.
import { GetCommand, QueryCommand, TransactWriteCommand, type TransactWriteCommandInput, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { cancellationReasons, dynamo, isConditionFailure } from "../aws.js";
import { config } from "../config.js";
import { type PaymentRecord, paymentKey, refundKey } from "../payments/model.js";
import type { IdempotencyRecord } from "../payments/repository.js";
import { type RefundRecord, refundRequestKey, refundSkPrefix } from "./model.js";

async function table(): Promise<string> {
  return (await config()).tableName;
}

/** What a payment item holds once refunds were asked of it. */
export type RefundablePayment = PaymentRecord & { refundedFen?: number };

export type InsertRefundOutcome =
  | { kind: "created" }
  /** The payment's condition failed: not PAID, or not enough left; `payment` is what it holds. */
  | { kind: "payment_refused"; payment?: RefundablePayment }
  | { kind: "key_used"; record?: IdempotencyRecord }
  /** Another transaction on the same items won the race (after retries). */
  | { kind: "conflict" };

/**
 * Records a refund in one transaction: the payment's refunded total grows by its amount only while
 * the payment is PAID and the total stays within what was paid (so concurrent refunds can never
 * exceed it), the PENDING refund enters the sweep index, and the key's answer is stored.
 */
export async function insertRefund(payment: PaymentRecord, refund: RefundRecord, answer: IdempotencyRecord): Promise<InsertRefundOutcome> {
  // Concurrent transactions on one payment cancel each other (TransactionConflict) rather than
  // wait: a few quick retries, then the caller answers 409 concurrent_update (retry with the key).
  for (let attempt = 1; ; attempt++) {
    const outcome = await tryInsertRefund(payment, refund, answer);
    if (outcome.kind !== "conflict") return outcome;
    if (attempt >= 4) return outcome;
    await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 50));
  }
}

async function tryInsertRefund(payment: PaymentRecord, refund: RefundRecord, answer: IdempotencyRecord): Promise<InsertRefundOutcome> {
  const TableName = await table();
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName,
              Key: paymentKey(payment.paymentId),
              UpdateExpression: "SET refundedFen = if_not_exists(refundedFen, :zero) + :amount",
              // The first refund has no total yet: then the amount itself must fit in the payment.
              ConditionExpression:
                "#status = :paid AND ((attribute_not_exists(refundedFen) AND amountFen >= :amount) OR refundedFen <= :maxBefore)",
              ExpressionAttributeNames: { "#status": "status" },
              ExpressionAttributeValues: {
                ":zero": 0,
                ":amount": refund.amountFen,
                ":paid": "PAID",
                ":maxBefore": payment.amountFen - refund.amountFen,
              },
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            },
          },
          { Put: { TableName, Item: refund, ConditionExpression: "attribute_not_exists(pk)" } },
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
    // The key first: a concurrent copy of this very request is a replay, not a refusal.
    if (reasons[2]?.code === "ConditionalCheckFailed")
      return { kind: "key_used", record: reasons[2].item as IdempotencyRecord | undefined };
    // The refund id derives from the key: its record exists only with the key's answer (one transaction).
    if (reasons[1]?.code === "ConditionalCheckFailed") return { kind: "key_used" };
    if (reasons[0]?.code === "ConditionalCheckFailed")
      return { kind: "payment_refused", payment: reasons[0].item as RefundablePayment | undefined };
    if (reasons.some((r) => r.code === "TransactionConflict")) return { kind: "conflict" };
    throw error;
  }
}

export async function getRefund(paymentId: string, refundId: string): Promise<RefundRecord | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: await table(), Key: refundRequestKey(paymentId, refundId), ConsistentRead: true }),
  );
  return Item as RefundRecord | undefined;
}

/** A payment's refunds, oldest id first (at most a page: refunds of one payment are few). */
export async function listRefunds(paymentId: string): Promise<RefundRecord[]> {
  const items: RefundRecord[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const { Items = [], LastEvaluatedKey } = await dynamo().send(
      new QueryCommand({
        TableName: await table(),
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :refund)",
        ExpressionAttributeValues: { ":pk": paymentKey(paymentId).pk, ":refund": refundSkPrefix },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(Items as RefundRecord[]));
    startKey = LastEvaluatedKey;
  } while (startKey);
  return items.sort((a, b) => a.createdAt - b.createdAt || (a.refundId < b.refundId ? -1 : 1));
}

/**
 * Marks a PENDING refund as sent to Alipay (before the call): later checks ask the refund query
 * first. The claim of the first send: false when another check marked it first (two check
 * messages at once, the stream's and the sweep's), or it settled meanwhile; that one sends it.
 */
export async function markRefundSent(refund: RefundRecord, now: number): Promise<boolean> {
  return conditional(
    new UpdateCommand({
      TableName: await table(),
      Key: refundRequestKey(refund.paymentId, refund.refundId),
      UpdateExpression: "SET sentAt = :now",
      ConditionExpression: "#status = :pending AND attribute_not_exists(sentAt)",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":now": now, ":pending": "PENDING" },
    }),
  );
}

type RefundUpdate = NonNullable<NonNullable<TransactWriteCommandInput["TransactItems"]>[number]["Update"]>;

/** PENDING -> `status`, out of the sweep index (the stream publishes the refund's event). */
async function settling(refund: RefundRecord, status: "SUCCEEDED" | "FAILED", set: string, values: Record<string, unknown>) {
  return {
    TableName: await table(),
    Key: refundRequestKey(refund.paymentId, refund.refundId),
    UpdateExpression: `SET #status = :settled, ${set} REMOVE sweepShard, sweepAt`,
    ConditionExpression: "#status = :pending",
    ExpressionAttributeNames: { "#status": "status" },
    ExpressionAttributeValues: { ":settled": status, ":pending": "PENDING", ...values },
  } satisfies RefundUpdate;
}

/**
 * The settling write, alone or in one transaction with the write that must go with it. False when
 * the refund was settled already (by an earlier copy, whose transaction also made the other write).
 */
async function settle(update: RefundUpdate, alongside?: RefundUpdate): Promise<boolean> {
  if (!alongside) return conditional(new UpdateCommand(update));
  try {
    await dynamo().send(new TransactWriteCommand({ TransactItems: [{ Update: update }, { Update: alongside }] }));
    return true;
  } catch (error) {
    if (cancellationReasons(error)?.[0]?.code === "ConditionalCheckFailed") return false;
    throw error;
  }
}

/**
 * PENDING -> SUCCEEDED; the stream publishes refund.succeeded. An automatic refund marks its
 * refund-needed record (REFUND#<tradeNo>) refunded in the same transaction.
 */
export async function markRefundSucceeded(refund: RefundRecord, now: number): Promise<boolean> {
  const update = await settling(refund, "SUCCEEDED", "succeededAt = :now", { ":now": now });
  if (refund.kind !== "automatic") return settle(update);
  return settle(update, {
    TableName: update.TableName,
    Key: refundKey(refund.paymentId, refund.tradeNo),
    // Its status stays REFUND_NEEDED (what was detected); refundedAt/By say it was given back,
    // as a person's manual refund is recorded (RUNBOOK refunds-needed).
    UpdateExpression: "SET refundedAt = :now, refundedBy = :by, refundNote = :refundId",
    ConditionExpression: "attribute_exists(pk)",
    ExpressionAttributeValues: { ":now": now, ":by": "automatic refund", ":refundId": refund.refundId },
  });
}

/**
 * PENDING -> FAILED; the stream publishes refund.failed. A requested refund's amount is released
 * from the payment's refunded total in the same transaction; an automatic one never counted there,
 * and its refund-needed record stays REFUND_NEEDED for a person.
 */
export async function markRefundFailed(refund: RefundRecord, failureCode: string, now: number): Promise<boolean> {
  const update = await settling(refund, "FAILED", "failedAt = :now, failureCode = :code", { ":now": now, ":code": failureCode });
  if (refund.kind === "automatic") return settle(update);
  return settle(update, {
    TableName: update.TableName,
    Key: paymentKey(refund.paymentId),
    UpdateExpression: "SET refundedFen = refundedFen - :amount",
    ConditionExpression: "refundedFen >= :amount",
    ExpressionAttributeValues: { ":amount": refund.amountFen },
  });
}

/** When the sweep next looks at a PENDING refund (a hold for a person, if any, is over). */
export async function scheduleRefundCheck(refund: RefundRecord, at: number): Promise<void> {
  await conditional(
    new UpdateCommand({
      TableName: await table(),
      Key: refundRequestKey(refund.paymentId, refund.refundId),
      UpdateExpression: "SET sweepAt = :at REMOVE heldCode, heldAt",
      ConditionExpression: "attribute_exists(sweepShard)",
      ExpressionAttributeValues: { ":at": at },
    }),
  );
}

/**
 * Holds a PENDING refund for a person: `code` says why (Alipay's sub_code), and the sweep leaves it
 * alone until `until` (it stays in the sweep index, so it is never forgotten). False when it was
 * settled meanwhile.
 */
export async function markRefundHeld(refund: RefundRecord, code: string, now: number, until: number): Promise<boolean> {
  return conditional(
    new UpdateCommand({
      TableName: await table(),
      Key: refundRequestKey(refund.paymentId, refund.refundId),
      UpdateExpression: "SET heldCode = :code, heldAt = :now, sweepAt = :until",
      ConditionExpression: "#status = :pending AND attribute_exists(sweepShard)",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":code": code, ":now": now, ":until": until, ":pending": "PENDING" },
    }),
  );
}

/** The sweep claims a due refund for `leaseUntil`; false if another sweep claimed it first. */
export async function claimRefundForCheck(paymentId: string, refundId: string, seenSweepAt: number, leaseUntil: number): Promise<boolean> {
  return conditional(
    new UpdateCommand({
      TableName: await table(),
      Key: refundRequestKey(paymentId, refundId),
      UpdateExpression: "SET sweepAt = :lease",
      ConditionExpression: "sweepAt = :seen",
      ExpressionAttributeValues: { ":lease": leaseUntil, ":seen": seenSweepAt },
    }),
  );
}

async function conditional(command: UpdateCommand): Promise<boolean> {
  try {
    await dynamo().send(command);
    return true;
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    return false;
  }
}
