// A function's Alipay calls fit its timeout (issue 17). cancelPayment and getOrderString may make
// three calls (query, close, query again when the close is refused because the buyer paid
// meanwhile); at ALIPAY_TIMEOUT_MS 5 s (production's) against a 10 s function timeout, a slow
// Alipay used to run them into the timeout: a 500, the function cut off mid-way. With the calls
// bounded by the invocation's deadline the answer is 503 alipay_unavailable, and the payment is
// consistent afterwards.
import { describe, expect, it } from "vitest";
import { getPayment } from "../../lib/payments/repository.js";
import { lambdaContext, sqsEvent } from "./bundled.js";
import { useStack, waitFor } from "./harness.js";

// Production's Alipay timeout; attempts that are always in their last minute (so the app's next
// order-string request retires the previous one); no sweep checks racing for the simulator's faults.
const t = useStack({
  env: { LOCAL_ALIPAY_TIMEOUT_MS: "5000", LOCAL_ORDER_TTL_SECONDS: "45", LOCAL_CHECK_SCHEDULE_SECONDS: "600" },
});

/** Alipay answers these three calls 4 s late each: 12 s in all, more than the function's 10 s. */
async function slowAlipay(outTradeNo: string): Promise<void> {
  await t.sim("/sim/faults", { method: "alipay.trade.query", outTradeNo, mode: "slow", delayMs: 4000, count: 2 });
  await t.sim("/sim/faults", { method: "alipay.trade.close", outTradeNo, mode: "slow", delayMs: 4000, count: 1 });
}

/** Once Alipay has received the first query (answered from the state before), the buyer pays. */
async function buyerPaysDuringFirstQuery(outTradeNo: string, orderString: string): Promise<void> {
  await waitFor(
    async () => {
      const pending = (await t.sim<Array<{ method?: string; outTradeNo?: string; remaining: number }>>("/sim/faults")).body;
      const queries = pending.find((f) => f.method === "alipay.trade.query" && f.outTradeNo === outTradeNo);
      return queries?.remaining === 1;
    },
    { intervalMs: 50, what: "the first query at Alipay" },
  );
  const paid = await t.sim("/sim/pay", { orderString });
  expect(paid.status).toBe(200);
}

async function paidInTheEnd(paymentId: string) {
  // The notification of the payment settles it; nothing the cut-short request did is in the way.
  return waitFor(
    async () => {
      const p = await getPayment(paymentId);
      return p?.status === "PAID" && p;
    },
    { timeoutMs: 30_000, what: "the payment PAID" },
  );
}

describe("three slow Alipay calls against a 10 s function", () => {
  it("cancel answers 503 alipay_unavailable, not a timeout; the payment is consistent and the retry answers already_paid", async () => {
    const shop = t.business("shop");
    const { payment, attempt } = await t.openPayment("budget-cancel");
    await slowAlipay(attempt.outTradeNo);
    const canceling = shop.cancelPayment(payment.paymentId);
    await buyerPaysDuringFirstQuery(attempt.outTradeNo, attempt.orderString);

    const answer = await canceling;
    expect(answer.status, JSON.stringify(answer.body)).toBe(503);
    expect((answer.body as { code: string }).code).toBe("alipay_unavailable");
    await t.sim("/sim/reset-scenarios");

    const paid = await paidInTheEnd(payment.paymentId);
    expect(paid.attempts).toMatchObject([{ attemptNo: 1, status: "PAID" }]);
    expect(paid.canceledAt).toBeUndefined();
    const again = await shop.cancelPayment(payment.paymentId);
    expect(again.status).toBe(409);
    expect((again.body as { code: string }).code).toBe("already_paid");
  });

  it("the app's order-string request answers 503 alipay_unavailable, then already_paid; no second attempt", async () => {
    const user = "budget-order-string";
    const { payment, attempt } = await t.openPayment(user);
    // The buyer opened the cashier: Alipay has the trade, waiting for payment.
    expect((await t.sim("/sim/open", { orderString: attempt.orderString })).status).toBe(200);
    await slowAlipay(attempt.outTradeNo);
    const asking = t.orderString(user, payment.paymentId);
    await buyerPaysDuringFirstQuery(attempt.outTradeNo, attempt.orderString);

    const answer = await asking;
    expect(answer.status, JSON.stringify(answer.body)).toBe(503);
    expect(answer.body.code).toBe("alipay_unavailable");
    await t.sim("/sim/reset-scenarios");

    const paid = await paidInTheEnd(payment.paymentId);
    expect(paid.attempts).toMatchObject([{ attemptNo: 1, status: "PAID" }]);
    const again = await t.orderString(user, payment.paymentId);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("already_paid");
  });
});

describe("a batch of checks (checkBatchSize > 1, for Alipay rates past 1,000 checks at once)", () => {
  it("checks the batch's payments in parallel against one deadline, each settled by its own answer", async () => {
    const { handler } = await import("../../functions/checkPayment.js");
    const payments: Array<{ paymentId: string; outTradeNo: string }> = [];
    for (const user of ["batch-a", "batch-b", "batch-c"]) {
      const { payment, attempt } = await t.openPayment(user);
      // Paid, its notifications lost: only a query finds it, and Alipay answers that query 4 s late.
      await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, dropFirst: 100 });
      expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
      await t.sim("/sim/faults", { method: "alipay.trade.query", outTradeNo: attempt.outTradeNo, mode: "slow", delayMs: 4000, count: 1 });
      payments.push({ paymentId: payment.paymentId, outTradeNo: attempt.outTradeNo });
    }
    const event = sqsEvent(...payments.map(({ paymentId }) => ({ paymentId })));
    const context = lambdaContext("batch");
    const answered = (handler as (e: unknown, c: unknown) => Promise<{ batchItemFailures: unknown[] }>)(event, context);
    // One at a time, the second query would only leave after the first (4 s late) was answered and
    // applied: here all three are at Alipay while none of the payments is settled yet.
    await waitFor(
      async () => {
        const pending = (await t.sim<Array<{ method?: string; outTradeNo?: string; remaining: number }>>("/sim/faults")).body;
        return payments.every(({ outTradeNo }) => !pending.some((f) => f.outTradeNo === outTradeNo && f.remaining > 0));
      },
      { intervalMs: 50, what: "the three queries at Alipay" },
    );
    for (const { paymentId } of payments) expect((await getPayment(paymentId))?.status).toBe("OPEN");
    expect((await answered).batchItemFailures).toEqual([]);
    for (const { paymentId } of payments) expect(await getPayment(paymentId)).toMatchObject({ status: "PAID", paidVia: "query" });
  });
});
