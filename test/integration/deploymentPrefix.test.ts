// Payment ids are derived from the business order (the same on every stack), so the out_trade_no
// sent to Alipay carries the deployment's prefix (DEPLOYMENT_PREFIX, the deploymentPrefix stage
// parameter): two stacks on one Alipay app never send the same number. Attempts made before
// prefixes keep their numbers: their notifications still settle them. Two local stacks, one after
// the other, on one Alipay app (the same keys dir: app id, keys) with different prefixes. Both run
// in this process: the second reuses the first one's DynamoDB and SQS ports (the functions' AWS
// clients are made once per process, as on a warm Lambda) and reads its configuration afresh.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamo } from "../../lib/aws.js";
import { resetConfig } from "../../lib/config.js";
import { freePort } from "../../local/engines.js";
import { outTradeNo, parseOutTradeNo, paymentKey } from "../../lib/payments/model.js";
import { getPayment } from "../../lib/payments/repository.js";
import { useStack, waitFor } from "./harness.js";
import { bizContentOf } from "./twoSided.js";

const keysDir = mkdtempSync(join(tmpdir(), "alipay-pay-prefix-"));
afterAll(() => rmSync(keysDir, { recursive: true, force: true }));
const ports = { dynamodb: await freePort(), sqs: await freePort() };

/** The out_trade_no each stack sent for the same business order. */
const sent: Record<string, { paymentId: string; outTradeNo: string }> = {};
const sameOrder = "cart-42";

async function firstAttempt(t: ReturnType<typeof useStack>, user: string, businessOrderId: string) {
  const created = await t.createPayment({ userId: user, businessOrderId, amount: 4200 });
  expect(created.status).toBe(201);
  const attempt = await t.orderString(user, created.body.paymentId);
  expect(attempt.status).toBe(201);
  return { paymentId: created.body.paymentId as string, attempt: attempt.body };
}

describe("a stack with deployment prefix stga", () => {
  const t = useStack({ keysDir, ports, env: { LOCAL_DEPLOYMENT_PREFIX: "stga" } });

  it("sends out_trade_no stga_<paymentId>_<n>, and it is paid", async () => {
    const { paymentId, attempt } = await firstAttempt(t, "alice", sameOrder);
    expect(attempt.outTradeNo).toBe(`stga_${paymentId}_1`);
    expect(bizContentOf(attempt.orderString)).toMatchObject({ out_trade_no: `stga_${paymentId}_1` });
    sent.stga = { paymentId, outTradeNo: attempt.outTradeNo };
    expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
    const paid = await waitFor(async () => {
      const payment = await getPayment(paymentId);
      return payment?.status === "PAID" ? payment : undefined;
    });
    expect(paid.attempts[0]).toMatchObject({ outTradeNo: `stga_${paymentId}_1`, status: "PAID" });
  });

  it("still settles an attempt recorded before prefixes, by its notification", async () => {
    const { paymentId } = await firstAttempt(t, "bob", "cart-before-prefixes");
    // The attempt as an earlier version wrote it: its out_trade_no without a prefix.
    const legacy = outTradeNo(paymentId, 1);
    expect(legacy).toBe(`${paymentId}_1`);
    await dynamo().send(
      new UpdateCommand({
        TableName: t.stack.functionEnv.TABLE_NAME,
        Key: paymentKey(paymentId),
        UpdateExpression: "SET attempts[0].outTradeNo = :legacy",
        ExpressionAttributeValues: { ":legacy": legacy },
      }),
    );
    // Only the notification can settle it: every query of that trade fails.
    await t.sim("/sim/faults", { method: "alipay.trade.query", outTradeNo: legacy, mode: "5xx", count: 10_000 });
    const again = await t.orderString("bob", paymentId);
    expect(again.status).toBe(200);
    expect(again.body.outTradeNo).toBe(legacy);
    expect(bizContentOf(again.body.orderString)).toMatchObject({ out_trade_no: legacy });
    expect((await t.sim("/sim/pay", { orderString: again.body.orderString })).status).toBe(200);
    const paid = await waitFor(async () => {
      const payment = await getPayment(paymentId);
      return payment?.status === "PAID" ? payment : undefined;
    });
    expect(paid).toMatchObject({ paidVia: "notify", attempts: [{ outTradeNo: legacy, status: "PAID" }] });
  });

  it("reads its own prefix and the unprefixed form, never another deployment's", () => {
    const id = sent.stga!.paymentId;
    expect(parseOutTradeNo(`stga_${id}_3`)).toEqual({ paymentId: id, attemptNo: 3 });
    expect(parseOutTradeNo(`${id}_3`)).toEqual({ paymentId: id, attemptNo: 3 });
    expect(parseOutTradeNo(`prodb_${id}_3`)).toBeUndefined();
    expect(parseOutTradeNo(`stga_${id}_3`, "prodb")).toBeUndefined();
  });
});

describe("another stack, prefix prodb, on the same Alipay app id", () => {
  const t = useStack({ keysDir, ports, env: { LOCAL_DEPLOYMENT_PREFIX: "prodb" } });
  // Its functions read their configuration (DEPLOYMENT_PREFIX) from its environment, not the first stack's.
  beforeAll(() => resetConfig());

  it("sends another out_trade_no for the same business order", async () => {
    const { paymentId, attempt } = await firstAttempt(t, "alice", sameOrder);
    // The same payment id (derived from the business order) ...
    expect(paymentId).toBe(sent.stga!.paymentId);
    // ... but not the same number at Alipay.
    expect(attempt.outTradeNo).toBe(`prodb_${paymentId}_1`);
    expect(attempt.outTradeNo).not.toBe(sent.stga!.outTradeNo);
    expect(t.stack.functionEnv.ALIPAY_APP_ID).toBe("2021000000000001");
  });
});
