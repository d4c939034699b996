// Payments written straight into the sweep index, for the tests of the sweep itself: open, never
// opened by the app, an hour old and past their expiry, so the check worker expires each one.
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../../lib/aws.js";
import { config } from "../../lib/config.js";
import { derivePaymentId, type PaymentRecord, paymentKey } from "../../lib/payments/model.js";
import { businessOrderId } from "./harness.js";

/**
 * `count` such payments, the i-th due at `now - 60 s + i` under the shard `shardOf` names (the
 * index is keyed on the shard: a payment id need not hash to it for the sweep to read it there).
 */
export async function putDuePayments(count: number, shardOf: (paymentId: string, i: number) => string): Promise<string[]> {
  const { tableName } = await config();
  const now = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const order = businessOrderId("due");
    const paymentId = derivePaymentId("shop", order);
    const item: PaymentRecord = {
      ...paymentKey(paymentId),
      paymentId,
      businessId: "shop",
      businessOrderId: order,
      userId: "due-user",
      amountFen: 100,
      subject: "Due",
      status: "OPEN",
      createdAt: now - 3_600_000,
      expiresAt: now - 1_800_000,
      attempts: [],
      sweepShard: shardOf(paymentId, i),
      sweepAt: now - 60_000 + i,
      history: [{ at: now - 3_600_000, event: "created" }],
    };
    await dynamo().send(new PutCommand({ TableName: tableName, Item: item }));
    ids.push(paymentId);
  }
  return ids;
}
