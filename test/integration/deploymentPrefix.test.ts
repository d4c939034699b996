// Payment ids are derived from the business order (the same on every stack), so the out_trade_no
// sent to Alipay carries the deployment's prefix (DEPLOYMENT_PREFIX, the deploymentPrefix stage
// parameter): two stacks on one Alipay app never send the same number. Attempts made before
// prefixes keep their numbers: their notifications still settle them. Two local stacks, one after
// the other, on one Alipay app (the same keys dir: app id, keys) with different prefixes. Both run
// in this process: the second reuses the first one's DynamoDB and SQS ports (the functions' AWS
// clients are made once per process, as on a warm Lambda) and reads its configuration afresh.
// The app's daily bill lists every stack's trades: each reconciles its own and the unprefixed ones,
// and only counts another prefix's (a third stack, below).
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
import { dayOf } from "../../lib/reconciliation/day.js";
import { reconcileDay } from "../../lib/reconciliation/reconcile.js";
import { getSummary } from "../../lib/reconciliation/store.js";
import { formatReconciliation } from "../../ops/reconcileFormat.js";
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

/** Rewrites a payment's first attempt as an earlier version wrote it: its out_trade_no without a prefix. */
async function makeLegacy(t: ReturnType<typeof useStack>, paymentId: string) {
  await dynamo().send(
    new UpdateCommand({
      TableName: t.stack.functionEnv.TABLE_NAME,
      Key: paymentKey(paymentId),
      UpdateExpression: "SET attempts[0].outTradeNo = :legacy",
      ExpressionAttributeValues: { ":legacy": outTradeNo(paymentId, 1) },
    }),
  );
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
    await makeLegacy(t, paymentId);
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

describe("reconciling a bill shared by two deployments (stack prodb, the bill of the app stga shares)", () => {
  const t = useStack({ keysDir, ports, env: { LOCAL_DEPLOYMENT_PREFIX: "prodb", LOCAL_CHECK_SCHEDULE_SECONDS: "600" } });
  beforeAll(() => resetConfig());
  const today = () => dayOf(Date.now());

  async function paid(user: string, businessOrderId: string, legacy = false) {
    const { paymentId } = await firstAttempt(t, user, businessOrderId);
    if (legacy) await makeLegacy(t, paymentId);
    // The order string of the (possibly rewritten) attempt, as the app gets it again.
    const again = await t.orderString(user, paymentId);
    expect((await t.sim("/sim/pay", { orderString: again.body.orderString })).status).toBe(200);
    await waitFor(async () => (await getPayment(paymentId))?.status === "PAID", { what: `payment ${paymentId} PAID` });
    return { paymentId, outTradeNo: again.body.outTradeNo as string };
  }

  it("reconciles its own and unprefixed trades, counts stga's apart, and still reports a row that is no deployment's", async () => {
    await t.sim("/sim/bills/reset", {});
    await t.sim("/sim/bills/ready", { through: today() });
    const own = await paid("carol", sameOrder);
    const legacy = await paid("dave", "cart-legacy", true);
    expect(own.outTradeNo).toBe(`prodb_${own.paymentId}_1`);
    expect(legacy.outTradeNo).toBe(`${legacy.paymentId}_1`);
    // The stga stack's trades on the same Alipay app: the same business order (so the same payment
    // id, paid here too) and one this stack never saw, and a refund of the first.
    const stga = `stga_${own.paymentId}_1`;
    await t.sim("/sim/bills/plant", { kind: "unknown-payment", outTradeNo: stga, amountFen: 4200 });
    await t.sim("/sim/bills/plant", { kind: "unknown-payment", outTradeNo: `stga_pay${"e".repeat(29)}_2`, amountFen: 1500 });
    await t.sim("/sim/bills/plant", { kind: "unknown-refund", outTradeNo: stga, outRequestNo: "rfd_stga_1", amountFen: 200 });
    // Another integration's order on the same merchant account: not of this system's form.
    await t.sim("/sim/bills/plant", { kind: "unknown-payment", outTradeNo: "console-collection-7", amountFen: 900 });

    const report = await reconcileDay(today(), { refundGraceMs: 0 });
    expect(report.matched).toEqual({ payments: 2, refunds: 0 });
    expect(report.otherDeployments).toEqual({ payments: { count: 2, fen: 5700 }, refunds: { count: 1, fen: 200 }, prefixes: ["stga"] });
    expect(report.differences).toEqual([
      expect.objectContaining({
        class: "paid_at_alipay_only",
        outcome: "not_our_out_trade_no",
        outTradeNo: "console-collection-7",
        billFen: 900,
      }),
    ]);
    expect(report.open).toBe(1);
    // The bill agrees with itself: other deployments' rows are in its totals.
    expect(report.bill.trailer).toEqual(report.bill.rows);
    expect((await getSummary(today()))?.otherDeployments).toEqual(report.otherDeployments);
    expect(formatReconciliation(report)).toContain(
      "other deployments (stga; not reconciled here): 2 payments 5700 fen (57.00 yuan), 1 refunds 200 fen (2.00 yuan)",
    );
  });
});
