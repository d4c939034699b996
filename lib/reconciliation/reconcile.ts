// The daily reconciliation of one Asia/Shanghai day against Alipay's trade bill:
//   1. ask Alipay for the bill's link (not published yet: BillNotReadyError, retried later);
//   2. load our payments paid and refunds succeeded that day (records.ts: two sparse indexes);
//   3. stream the bill to /tmp and through the parser, matching each row (match.ts);
//   4. resolve what did not match, one by one, through the same paths the check worker uses:
//      a payment Alipay has and we do not is applied by alipay.trade.query + applyQueriedPayment
//      (PAID, so the business system hears payment.succeeded; or, on a closed attempt or a settled
//      payment, recorded for refund), a refund still PENDING here goes through the refund worker;
//      whatever cannot be healed that way stays open for a person (RUNBOOK.md#reconciliation-differences);
//   5. store the report (S3) and the day's summary (DynamoDB), and count what is open (alarmed).
import { randomBytes } from "node:crypto";
import { unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alipay } from "../alipay/client.js";
import { AlipayUnavailableError } from "../alipay/gateway.js";
import { fromAlipayTime } from "../alipay/time.js";
import { forEachLimited } from "../concurrency.js";
import { count, logger } from "../observability.js";
import { parseOutTradeNo } from "../payments/model.js";
import { getPayment } from "../payments/repository.js";
import { applyQueriedPayment } from "../payments/settle.js";
import { checkRefund } from "../refunds/check.js";
import { isRefundId } from "../refunds/model.js";
import { getRefund } from "../refunds/repository.js";
import { type BillRow, downloadBill, readBillZip } from "./bill.js";
import { dayOf, dayWindow } from "./day.js";
import { DayMatcher, type Difference } from "./match.js";
import { getRefundNeeded, type OurPayment, type OurRefund, paidPayments, succeededRefunds } from "./records.js";
import { buildReport, type ReconciliationReport, type TimingNote } from "./report.js";
import { storeReconciliation } from "./store.js";

export type { ReconciliationReport } from "./report.js";

export class BillNotReadyError extends Error {
  override name = "BillNotReadyError";
}

/** A refund we hold as succeeded this soon after the day began may be in the previous day's bill (we learn of refunds after Alipay makes them). */
const defaultRefundGraceMs = 60 * 60_000;
const concurrency = 4;
const maxTimingNotes = 1000;

export interface ReconcileOptions {
  now?: () => number;
  /** Where the bill zip is written while it is read (Lambda: /tmp). */
  workDir?: string;
  /** See defaultRefundGraceMs. */
  refundGraceMs?: number;
}

export async function reconcileDay(
  day: string,
  { now = () => Date.now(), workDir = tmpdir(), refundGraceMs = defaultRefundGraceMs }: ReconcileOptions = {},
): Promise<ReconciliationReport> {
  const window = dayWindow(day);
  if (!window) throw new RangeError(`not a day: ${day} (yyyy-MM-dd)`);
  const startedAt = now();
  const gateway = await alipay();
  const link = await gateway.billDownloadUrl(day);
  if (link.kind === "not_ready") throw new BillNotReadyError(`Alipay's bill of ${day} is not ready (${link.subCode})`);
  if (link.kind === "refused") throw new RangeError(`Alipay refuses the bill of ${day} (${link.subCode}): only past days have bills`);
  // The link lives 30 s: download first, then read our side while the file is on disk.
  const path = join(workDir, `bill-${day}-${randomBytes(6).toString("hex")}.zip`);
  try {
    const bytes = await downloadBill(link.url, path);
    const matcher = new DayMatcher();
    for await (const page of paidPayments(window.startMs, window.endMs)) matcher.addPayments(page);
    for await (const page of succeededRefunds(window.startMs, window.endMs)) matcher.addRefunds(page);
    const facts = await readBillZip(path, (row) => matcher.row(row));
    logger.info("bill read", {
      day,
      bytes,
      payments: facts.rows.payments.count,
      refunds: facts.rows.refunds.count,
      otherDeployments: matcher.otherDeployments,
    });
    // Bounded before the bill's own totals are checked: what is not resolved one by one counts there.
    const left = matcher.leftToResolve();
    const differences = [...matcher.differences, ...matcher.billTotals(facts)];
    const timing: TimingNote[] = [];
    const note = (entry: TimingNote) => {
      if (timing.length < maxTimingNotes) timing.push(entry);
    };
    await forEachLimited(matcher.unmatchedBill.payments, concurrency, async (row) => {
      const difference = await resolveBillPayment(row, note, now);
      if (difference) differences.push(difference);
    });
    await forEachLimited(matcher.unmatchedBill.refunds, concurrency, async (row) => {
      const difference = await resolveBillRefund(row, note, now);
      if (difference) differences.push(difference);
    });
    await forEachLimited(left.payments, concurrency, async (payment) => {
      const difference = await resolveOurPayment(payment, day, note);
      if (difference) differences.push(difference);
    });
    await forEachLimited(left.refunds, concurrency, async (refund) => {
      const difference = await resolveOurRefund(refund, window.startMs + refundGraceMs, note);
      if (difference) differences.push(difference);
    });
    const report = buildReport({
      day,
      startedAt,
      finishedAt: now(),
      bill: { ...facts, bytes, empty: link.empty },
      ours: matcher.ours,
      matched: matcher.matched,
      otherDeployments: matcher.otherDeployments,
      differences,
      timing,
    });
    await storeReconciliation(report);
    if (report.healed > 0) count("ReconciliationHealed", undefined, report.healed);
    // Counted on every run, also 0: the alarm watches its maximum.
    count("ReconciliationDifferencesOpen", undefined, report.open);
    const log = report.open > 0 ? logger.error.bind(logger) : logger.info.bind(logger);
    log("day reconciled", { day, runId: report.runId, matched: report.matched, healed: report.healed, open: report.open });
    return report;
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

/**
 * A bill payment we did not match. Ours if its out_trade_no names one of our payments; then the
 * check worker's own path decides: alipay.trade.query and applyQueriedPayment (PAID, or recorded
 * for refund). Already held (PAID by this trade, or recorded for refund) is a match, not a difference.
 */
async function resolveBillPayment(row: BillRow, note: (n: TimingNote) => void, now: () => number): Promise<Difference | undefined> {
  const base = { class: "paid_at_alipay_only" as const, tradeNo: row.tradeNo, outTradeNo: row.outTradeNo, billFen: row.amountFen };
  const ids = parseOutTradeNo(row.outTradeNo);
  if (!ids) return { ...base, healed: false, outcome: "not_our_out_trade_no" };
  const payment = await getPayment(ids.paymentId);
  if (!payment) return { ...base, healed: false, outcome: "no_such_payment", paymentId: ids.paymentId };
  const withIds = { ...base, paymentId: payment.paymentId };
  if (payment.status === "PAID" && payment.tradeNo === row.tradeNo) {
    if (payment.amountFen !== row.amountFen) {
      return { ...withIds, class: "amount_mismatch", healed: false, outcome: "amounts_differ", ourFen: payment.amountFen };
    }
    note({
      kind: "payment",
      tradeNo: row.tradeNo,
      paymentId: payment.paymentId,
      ...(payment.paidAt ? { day: dayOf(payment.paidAt) } : {}),
    });
    return undefined;
  }
  const recorded = await getRefundNeeded(payment.paymentId, row.tradeNo);
  if (recorded) {
    // Money we hold as "must go back" (its automatic refund, if any, is in the bill as a refund row).
    if (recorded.amountFen === row.amountFen) return undefined;
    return { ...withIds, class: "amount_mismatch", healed: false, outcome: "refund_needed_amount_differs", ourFen: recorded.amountFen };
  }
  const attempt = payment.attempts[ids.attemptNo - 1];
  if (!attempt) return { ...withIds, healed: false, outcome: "no_such_attempt" };
  const trade = await (await alipay()).query(attempt.outTradeNo);
  if (trade.kind === "trade" && trade.tradeNo !== row.tradeNo) return { ...withIds, healed: false, outcome: "query_names_another_trade" };
  try {
    const applied = await applyQueriedPayment(payment, attempt, trade, now());
    if (!applied) {
      return {
        ...withIds,
        healed: false,
        outcome: trade.kind === "trade" ? `query_says_${trade.status.toLowerCase()}` : "query_says_not_found",
      };
    }
    logger.warn("reconciliation applied a payment Alipay had", { paymentId: payment.paymentId, tradeNo: row.tradeNo, outcome: applied });
    return {
      ...withIds,
      healed: true,
      outcome: applied === "refund_needed" ? "recorded_refund_needed" : applied === "paid" ? "applied_paid" : "already_paid",
    };
  } catch (error) {
    // applyQueriedPayment refuses a payment of another amount than ours (never applied).
    if (error instanceof AlipayUnavailableError && /differs from payment/.test(error.message)) {
      return { ...withIds, class: "amount_mismatch", healed: false, outcome: "query_amount_differs", ourFen: payment.amountFen };
    }
    throw error;
  }
}

/** A bill refund we did not match: ours if its out_request_no is one of our refunds of that payment; a PENDING one goes through the refund worker. */
async function resolveBillRefund(row: BillRow, note: (n: TimingNote) => void, now: () => number): Promise<Difference | undefined> {
  const base = {
    class: "refund_at_alipay_only" as const,
    tradeNo: row.tradeNo,
    outTradeNo: row.outTradeNo,
    billFen: row.amountFen,
    ...(row.outRequestNo ? { outRequestNo: row.outRequestNo } : {}),
  };
  const ids = parseOutTradeNo(row.outTradeNo);
  if (!ids || !row.outRequestNo || !isRefundId(row.outRequestNo)) return { ...base, healed: false, outcome: "not_our_refund" };
  const refund = await getRefund(ids.paymentId, row.outRequestNo);
  if (!refund) return { ...base, healed: false, outcome: "no_such_refund", paymentId: ids.paymentId };
  const withIds = { ...base, paymentId: refund.paymentId, refundId: refund.refundId, ourFen: refund.amountFen };
  if (refund.tradeNo !== row.tradeNo) return { ...withIds, healed: false, outcome: "refund_of_another_trade" };
  if (refund.amountFen !== row.amountFen) return { ...withIds, class: "refund_amount_mismatch", healed: false, outcome: "amounts_differ" };
  if (refund.status === "SUCCEEDED") {
    note({
      kind: "refund",
      tradeNo: row.tradeNo,
      paymentId: refund.paymentId,
      refundId: refund.refundId,
      ...(refund.succeededAt ? { day: dayOf(refund.succeededAt) } : {}),
    });
    return undefined;
  }
  if (refund.status === "FAILED") return { ...withIds, healed: false, outcome: "failed_here_refunded_at_alipay" };
  const outcome = await checkRefund(refund.paymentId, refund.refundId, now);
  if (outcome === "succeeded") return { ...withIds, healed: true, outcome: "applied_succeeded" };
  // Settled meanwhile by the refund worker itself: healed all the same if it SUCCEEDED.
  if (outcome === "settled" && (await getRefund(refund.paymentId, refund.refundId))?.status === "SUCCEEDED") {
    return { ...withIds, healed: true, outcome: "settled_meanwhile" };
  }
  return { ...withIds, healed: false, outcome: `refund_check_${outcome}` };
}

/**
 * One of our paid payments the bill does not have. Alipay is asked: paid on another day by its
 * own clock is timing (it is in that day's bill); paid this day means the bill left it out; not
 * paid at all means we hold money Alipay does not.
 */
async function resolveOurPayment(
  payment: Pick<OurPayment, "tradeNo" | "paymentId" | "amountFen">,
  day: string,
  note: (n: TimingNote) => void,
): Promise<Difference | undefined> {
  const base = { class: "missing_from_bill" as const, tradeNo: payment.tradeNo, paymentId: payment.paymentId, ourFen: payment.amountFen };
  const record = await getPayment(payment.paymentId);
  const attempt = record?.attempts.find((a) => a.tradeNo === payment.tradeNo);
  if (!attempt) return { ...base, healed: false, outcome: "no_paid_attempt" };
  const withIds = { ...base, outTradeNo: attempt.outTradeNo };
  const trade = await (await alipay()).query(attempt.outTradeNo);
  if (trade.kind !== "trade" || trade.tradeNo !== payment.tradeNo)
    return { ...withIds, healed: false, outcome: "alipay_has_no_such_trade" };
  const paidAt = fromAlipayTime(trade.paidAt);
  if (paidAt === undefined) return { ...withIds, healed: false, outcome: `alipay_says_${trade.status.toLowerCase()}` };
  if (dayOf(paidAt) !== day) {
    note({ kind: "payment", tradeNo: payment.tradeNo, paymentId: payment.paymentId, day: dayOf(paidAt) });
    return undefined;
  }
  return { ...withIds, healed: false, outcome: "alipay_paid_this_day_bill_lacks_it" };
}

/** One of our succeeded refunds the bill does not have: Alipay's refund query decides. */
async function resolveOurRefund(refund: OurRefund, graceUntilMs: number, note: (n: TimingNote) => void): Promise<Difference | undefined> {
  const base = {
    class: "refund_missing_from_bill" as const,
    tradeNo: refund.tradeNo,
    outTradeNo: refund.outTradeNo,
    paymentId: refund.paymentId,
    refundId: refund.refundId,
    outRequestNo: refund.refundId,
    ourFen: refund.amountFen,
  };
  const queried = await (await alipay()).refundQuery({
    tradeNo: refund.tradeNo,
    outTradeNo: refund.outTradeNo,
    outRequestNo: refund.refundId,
    amountFen: refund.amountFen,
  });
  if (queried.kind !== "refunded") return { ...base, healed: false, outcome: "alipay_has_no_such_refund" };
  if (refund.succeededAt < graceUntilMs) {
    note({ kind: "refund", tradeNo: refund.tradeNo, paymentId: refund.paymentId, refundId: refund.refundId });
    return undefined;
  }
  return { ...base, healed: false, outcome: "alipay_refunded_bill_lacks_it" };
}
