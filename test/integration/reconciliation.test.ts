// The daily reconciliation against Alipay's bill (issue 12), end to end: the simulator publishes
// the bill of the day (GBK zip, real layout) through alipay.data.dataservice.bill.downloadurl.query,
// lib/reconciliation downloads, parses and matches it against our payments and refunds of that
// day, heals what the query path can (the business system hears payment.succeeded), and stores
// the report (S3, fauxqs) and the day's summary (DynamoDB). Each kind of difference is planted
// with the simulator's bill knobs and found, classified, and healed or left open (alarmed).
// The check schedule is slow here (600 s): a payment whose notifications are lost is found by
// the reconciliation, not by the sweep.
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { build } from "esbuild";
import { beforeEach, describe, expect, it } from "vitest";
import { projectRoot } from "../../local/serverlessConfig.js";
import { armFault, disarmFaults } from "../../lib/faults.js";
import { metricCounts } from "../../lib/observability.js";
import { getPayment } from "../../lib/payments/repository.js";
import { dayOf } from "../../lib/reconciliation/day.js";
import type { Difference } from "../../lib/reconciliation/match.js";
import { BillNotReadyError, reconcileDay } from "../../lib/reconciliation/reconcile.js";
import { getReport, getSummary } from "../../lib/reconciliation/store.js";
import { getRefund } from "../../lib/refunds/repository.js";
import { parseArgs } from "../../ops/args.js";
import { runCommand } from "../../ops/commands.js";
import { openDifferences, runReconciliation, showReconciliation } from "../../ops/reconcile.js";
import { formatOpenDifferences, formatReconciliation } from "../../ops/reconcileFormat.js";
import { handler as reconcileHandler } from "../../functions/reconcile.js";
import { useStack, waitFor } from "./harness.js";
import { eventsAt } from "./twoSided.js";

const t = useStack({ env: { LOCAL_CHECK_SCHEDULE_SECONDS: "600" } });

const today = () => dayOf(Date.now());
const reconcile = () => reconcileDay(today(), { refundGraceMs: 0 });

beforeEach(async () => {
  await t.sim("/sim/bills/reset", {});
  // Time travel: today's bill is published now (Alipay publishes T+1).
  await t.sim("/sim/bills/ready", { through: today() });
});

let keyCounter = 0;

async function paidPayment(user: string, amount: number, subject?: string) {
  const { payment, attempt } = await t.openPayment(user, amount, subject ? { subject } : {});
  expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
  await waitFor(async () => (await getPayment(payment.paymentId))?.status === "PAID", { what: `payment ${payment.paymentId} PAID` });
  return { paymentId: payment.paymentId as string, outTradeNo: attempt.outTradeNo as string };
}

async function succeededRefund(paymentId: string, amount: number) {
  const created = await t
    .business()
    .createRefund(paymentId, { amount, reason: "returned" }, `recon-refund-${Date.now()}-${(keyCounter += 1)}`);
  expect(created.status).toBe(201);
  const refundId = created.body.refundId as string;
  await waitFor(async () => (await getRefund(paymentId, refundId))?.status === "SUCCEEDED", {
    timeoutMs: 30_000,
    what: `refund ${refundId}`,
  });
  return refundId;
}

const findings = (differences: Difference[], ids: { outTradeNo?: string; refundId?: string; tradeNo?: string }) =>
  differences.filter(
    (d) =>
      (ids.outTradeNo === undefined || d.outTradeNo === ids.outTradeNo) &&
      (ids.refundId === undefined || d.refundId === ids.refundId || d.outRequestNo === ids.refundId) &&
      (ids.tradeNo === undefined || d.tradeNo === ids.tradeNo),
  );

describe("daily reconciliation against Alipay's bill", () => {
  it("reports zero differences for a day where both sides agree, and stores the report and the summary", async () => {
    // Subjects as the chaos run sends them, written into the bill verbatim as Alipay does: commas
    // and lone quotes in 商品名称 and 备注 shift no column (a refund's out_request_no stays its own).
    const first = await paidPayment("recon-alice", 1234, 'Beans, "dark roast", 1kg');
    await paidPayment("recon-bob", 99, '27" 显示器,特价');
    await succeededRefund(first.paymentId, 234);

    const report = await reconcile();
    expect(report.differences).toEqual([]);
    expect(report.open).toBe(0);
    expect(report.healed).toBe(0);
    expect(report.matched).toEqual({ payments: 2, refunds: 1 });
    expect(report.ours).toEqual({ payments: { count: 2, fen: 1333 }, refunds: { count: 1, fen: 234 } });
    expect(report.bill.rows).toEqual({ payments: { count: 2, fen: 1333 }, refunds: { count: 1, fen: 234 } });
    expect(report.bill.trailer).toEqual(report.bill.rows);
    expect(report.bill.summary).toEqual({ payments: 2, refunds: 1, netFen: 1099 });
    expect(Object.values(report.classes).every((c) => c.count === 0)).toBe(true);

    const summary = await getSummary(today());
    expect(summary).toMatchObject({ day: today(), runId: report.runId, open: 0, healed: 0, openDifferences: [] });
    const stored = await getReport(summary!.reportBucket, summary!.reportKey);
    expect(stored).toEqual(JSON.parse(JSON.stringify(report)));
    expect(metricCounts.get("ReconciliationDifferencesOpen") ?? 0).toBe(0);
  });

  it("heals a payment Alipay has and we missed (every notification lost) through the query path: PAID, and the business hears it", async () => {
    const { payment, attempt } = await t.openPayment("recon-carol", 777);
    await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, dropFirst: 8 });
    expect((await t.sim("/sim/pay", { orderString: attempt.orderString })).status).toBe(200);
    expect((await getPayment(payment.paymentId))?.status).toBe("OPEN");

    const report = await reconcile();
    expect(findings(report.differences, { outTradeNo: attempt.outTradeNo })).toEqual([
      expect.objectContaining({
        class: "paid_at_alipay_only",
        healed: true,
        outcome: "applied_paid",
        paymentId: payment.paymentId,
        billFen: 777,
      }),
    ]);
    expect(report.classes.paid_at_alipay_only).toMatchObject({ count: 1, healed: 1, open: 0, billFen: 777 });
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "PAID", paidVia: "query" });
    await waitFor(async () => eventsAt(t, "shop").find((e) => e.id === `evt_${payment.paymentId}_succeeded`), {
      what: "payment.succeeded",
    });

    // Healed: the next run of the day matches it.
    const again = await reconcile();
    expect(findings(again.differences, { outTradeNo: attempt.outTradeNo })).toEqual([]);
  });

  it("records for refund money paid on a canceled payment's closed attempt (notifications lost): healed, and given back", async () => {
    const { payment, attempt } = await t.openPayment("recon-judy", 640);
    expect((await t.business().cancelPayment(payment.paymentId)).status).toBe(200);
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "CANCELED" });
    // The order string stays payable at Alipay until its time_expire (Alipay had no trade to close).
    await t.sim("/sim/scenario", { outTradeNo: attempt.outTradeNo, dropFirst: 8 });
    const paidAtAlipay = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(paidAtAlipay.status).toBe(200);

    const report = await reconcile();
    expect(findings(report.differences, { outTradeNo: attempt.outTradeNo })).toEqual([
      expect.objectContaining({ class: "paid_at_alipay_only", healed: true, outcome: "recorded_refund_needed", billFen: 640 }),
    ]);
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "CANCELED", refundNeeded: true });
    // The automatic refund goes out (lib/refunds), and the next run matches both rows.
    await waitFor(async () => (await t.sim(`/sim/trades/${encodeURIComponent(attempt.outTradeNo)}`)).body.refundedFen === 640, {
      timeoutMs: 30_000,
      what: "the automatic refund at Alipay",
    });
    await t.sim("/sim/reset-scenarios", {});
    await waitFor(
      async () => {
        const again = await reconcile();
        return findings(again.differences, { outTradeNo: attempt.outTradeNo }).length === 0 && again;
      },
      { timeoutMs: 30_000, what: "a clean run" },
    );
  });

  it("heals a refund Alipay made while ours stayed PENDING (worker crashed after Alipay answered, refund query failing) through the refund worker", async () => {
    const paid = await paidPayment("recon-ivan", 800);
    // The worker dies after Alipay refunded, Alipay's refund query keeps failing and its refund
    // notification is lost: ours stays PENDING.
    await t.sim("/sim/scenario", { outTradeNo: paid.outTradeNo, dropFirst: 8 });
    armFault("refund.afterAlipay", 1);
    await t.sim("/sim/faults", { method: "alipay.trade.fastpay.refund.query", mode: "5xx", count: 1000 });
    try {
      const created = await t.business().createRefund(paid.paymentId, { amount: 300, reason: "returned" }, `recon-crash-${Date.now()}`);
      expect(created.status).toBe(201);
      const refundId = created.body.refundId as string;
      await waitFor(
        async () => {
          const trade = (await t.sim(`/sim/trades/${encodeURIComponent(paid.outTradeNo)}`)).body;
          return trade.refunds?.some((r: { outRequestNo: string }) => r.outRequestNo === refundId);
        },
        { what: "the refund at Alipay" },
      );
      expect(await getRefund(paid.paymentId, refundId)).toMatchObject({ status: "PENDING" });
      await t.sim("/sim/reset-scenarios", {});
      const report = await reconcile();
      expect(findings(report.differences, { refundId })).toEqual([
        expect.objectContaining({
          class: "refund_at_alipay_only",
          healed: true,
          outcome: expect.stringMatching(/^(applied_succeeded|settled_meanwhile)$/),
          billFen: 300,
          ourFen: 300,
        }),
      ]);
      expect(await getRefund(paid.paymentId, refundId)).toMatchObject({ status: "SUCCEEDED" });
    } finally {
      disarmFaults();
      await t.sim("/sim/reset-scenarios", {});
    }
  });

  it("leaves open, and alarms on, a payment in the bill we never heard of", async () => {
    await t.sim("/sim/bills/plant", { kind: "unknown-payment", amountFen: 500, tradeNo: "2026112522001000000000000001" });
    const report = await reconcile();
    expect(findings(report.differences, { tradeNo: "2026112522001000000000000001" })).toEqual([
      expect.objectContaining({ class: "paid_at_alipay_only", healed: false, outcome: "not_our_out_trade_no", billFen: 500 }),
    ]);
    expect(report.open).toBe(1);
    expect(metricCounts.get("ReconciliationDifferencesOpen")).toBeGreaterThanOrEqual(1);
    const summary = await getSummary(today());
    expect(summary?.open).toBe(1);
    expect(summary?.openDifferences).toEqual([expect.objectContaining({ tradeNo: "2026112522001000000000000001" })]);
  });

  it("finds a paid trade left out of the bill, and a changed amount", async () => {
    const dropped = await paidPayment("recon-dave", 300);
    const changed = await paidPayment("recon-erin", 400);
    await t.sim("/sim/bills/plant", { kind: "drop", outTradeNo: dropped.outTradeNo });
    await t.sim("/sim/bills/plant", { kind: "amount", outTradeNo: changed.outTradeNo, amountFen: 401 });

    const report = await reconcile();
    expect(findings(report.differences, { outTradeNo: dropped.outTradeNo })).toEqual([
      expect.objectContaining({ class: "missing_from_bill", healed: false, outcome: "alipay_paid_this_day_bill_lacks_it", ourFen: 300 }),
    ]);
    expect(findings(report.differences, { outTradeNo: changed.outTradeNo })).toEqual([
      expect.objectContaining({ class: "amount_mismatch", healed: false, billFen: 401, ourFen: 400, paymentId: changed.paymentId }),
    ]);
    expect(report.classes.missing_from_bill).toMatchObject({ count: 1, open: 1, ourFen: 300 });
    expect(report.classes.amount_mismatch).toMatchObject({ count: 1, open: 1, billFen: 401, ourFen: 400 });
    expect(report.open).toBe(2);
  });

  it("finds refund differences: left out, another amount, unknown to us", async () => {
    const paid = await paidPayment("recon-frank", 1000);
    const left = await succeededRefund(paid.paymentId, 100);
    const changed = await succeededRefund(paid.paymentId, 200);
    await t.sim("/sim/bills/plant", { kind: "drop", outTradeNo: paid.outTradeNo, outRequestNo: left });
    await t.sim("/sim/bills/plant", { kind: "amount", outTradeNo: paid.outTradeNo, outRequestNo: changed, amountFen: 250 });
    await t.sim("/sim/bills/plant", {
      kind: "unknown-refund",
      outTradeNo: paid.outTradeNo,
      outRequestNo: "manual-console-refund",
      amountFen: 50,
    });

    const report = await reconcile();
    expect(findings(report.differences, { refundId: left })).toEqual([
      expect.objectContaining({ class: "refund_missing_from_bill", healed: false, outcome: "alipay_refunded_bill_lacks_it", ourFen: 100 }),
    ]);
    expect(findings(report.differences, { refundId: changed })).toEqual([
      expect.objectContaining({ class: "refund_amount_mismatch", healed: false, billFen: 250, ourFen: 200 }),
    ]);
    expect(findings(report.differences, { refundId: "manual-console-refund" })).toEqual([
      expect.objectContaining({ class: "refund_at_alipay_only", healed: false, outcome: "not_our_refund", billFen: 50 }),
    ]);
    expect(report.open).toBe(3);
  });

  it("finds a bill whose totals disagree with its rows (day_totals)", async () => {
    await paidPayment("recon-heidi", 150);
    await t.sim("/sim/bills/plant", { kind: "trailer", tradeFenDelta: 7 });
    const report = await reconcile();
    expect(report.differences).toEqual([expect.objectContaining({ class: "day_totals", healed: false, outcome: "trailer_payment_fen" })]);
    expect(report.bill.trailer!.payments.fen).toBe(report.bill.rows.payments.fen + 7);
    expect(report.classes.day_totals).toMatchObject({ count: 1, open: 1 });
  });

  it("runs as the scheduled function (yesterday) and for a day given in the event", async () => {
    const context = { awsRequestId: "reconcile-test", functionName: "reconcile", getRemainingTimeInMillis: () => 900_000 };
    const scheduled = await reconcileHandler({ "detail-type": "Scheduled Event", source: "aws.events" }, context as never);
    expect(scheduled).toMatchObject({ day: dayOf(Date.now() - 86_400_000), open: 0 });
    const given = await reconcileHandler({ day: today() }, context as never);
    expect(given).toMatchObject({ day: today(), runId: (await getSummary(today()))!.runId });
  });

  it("works as the deployable bundle (esbuild.config.cjs): yauzl bundled, GBK from the runtime's ICU", async () => {
    const require = createRequire(import.meta.url);
    const { options } = require("../../esbuild.config.cjs") as { options: Record<string, unknown> };
    const outDir = join(projectRoot, ".esbuild", "reconcile-test");
    const outfile = join(outDir, "reconcile.cjs");
    try {
      await build({ ...options, entryPoints: [join(projectRoot, "functions", "reconcile.ts")], outfile, logLevel: "silent" });
      const bundled = (require(outfile) as { handler: (event: unknown, context: unknown) => Promise<{ day: string; open: number }> })
        .handler;
      const paid = await paidPayment("recon-bundle", 4321);
      await t.sim("/sim/bills/plant", { kind: "drop", outTradeNo: paid.outTradeNo });
      const context = { awsRequestId: "reconcile-bundle", functionName: "reconcile", getRemainingTimeInMillis: () => 900_000 };
      expect(await bundled({ day: today() }, context)).toMatchObject({ day: today(), open: 1 });
      const summary = await getSummary(today());
      expect(summary?.openDifferences).toEqual([
        expect.objectContaining({ class: "missing_from_bill", paymentId: paid.paymentId, outTradeNo: paid.outTradeNo }),
      ]);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });

  it("waits for a bill Alipay has not published, and refuses today's bill without time travel", async () => {
    await t.sim("/sim/bills/reset", {});
    await expect(reconcileDay(today())).rejects.toThrow(/only past days have bills/);
    // A past day with no business: an empty bill, nothing of ours, zero differences.
    const longAgo = dayOf(Date.now() - 5 * 86_400_000);
    const report = await reconcileDay(longAgo);
    expect(report).toMatchObject({ day: longAgo, open: 0, matched: { payments: 0, refunds: 0 }, bill: { empty: true } });
    expect(BillNotReadyError.name).toBe("BillNotReadyError");
  });

  it("ops: runs a day, shows its report, and lists the open differences with their ids", async () => {
    const paid = await paidPayment("recon-grace", 321);
    await t.sim("/sim/bills/plant", { kind: "amount", outTradeNo: paid.outTradeNo, amountFen: 322 });
    const run = await runReconciliation(today(), { refundGraceMs: 0 });
    expect(findings(run.differences, { outTradeNo: paid.outTradeNo })).toHaveLength(1);

    const shown = await showReconciliation(today());
    expect(shown.runId).toBe(run.runId);
    expect(formatReconciliation(shown)).toContain(`OPEN   amount_mismatch amounts_differ: payment ${paid.paymentId}`);

    const open = await openDifferences();
    const todays = open.days.find((d) => d.day === today());
    expect(todays?.runId).toBe(run.runId);
    expect(findings(todays!.differences, { outTradeNo: paid.outTradeNo })).toEqual([
      expect.objectContaining({ class: "amount_mismatch", billFen: 322, ourFen: 321 }),
    ]);
    expect(formatOpenDifferences(open)).toContain("RUNBOOK.md#reconciliation-differences");

    const listed = await runCommand(parseArgs(["reconcile", "differences", "--limit", "5"]));
    expect(listed.text).toContain(`OPEN   amount_mismatch amounts_differ: payment ${paid.paymentId}`);
    const shownByCli = await runCommand(parseArgs(["reconcile", "show", today(), "--json"]));
    expect((shownByCli.data as { runId: string }).runId).toBe(run.runId);
    // Open differences make `reconcile run` fail (exit 1), so a scheduled or scripted run is noticed.
    const rerun = await runCommand(parseArgs(["reconcile", "run", today()]));
    expect(rerun.text).toContain(`OPEN   amount_mismatch amounts_differ: payment ${paid.paymentId}`);
    expect(rerun.ok).toBe(false);

    await expect(runReconciliation("2026-13-01")).rejects.toThrow(/not a day/);
    await expect(showReconciliation("2001-01-01")).rejects.toThrow(/has not been reconciled/);
  });
});
