// Matching a day's bill rows against our records of that day, in memory, in integer fen. Our side
// is loaded first (a Map per kind, keyed by Alipay trade number and by refund id = out_request_no);
// the bill then streams through row by row: a row that finds its record removes it, so what is
// left on either side afterwards is what did not match. Pure: no I/O (lib/reconciliation/reconcile.ts
// resolves what is left, the bench drives it with a million rows).
import { deploymentPrefix } from "../config.js";
import { otherDeploymentPrefix, parseOutTradeNo } from "../payments/model.js";
import type { BillCount, BillFacts, BillRow } from "./bill.js";
import type { OurPayment, OurRefund } from "./records.js";

export type DifferenceClass =
  /** Alipay has a payment we do not hold as paid (healed through the query path when it can be). */
  | "paid_at_alipay_only"
  /** We hold a payment as paid that the day's bill does not have. */
  | "missing_from_bill"
  /** The same trade, another amount. */
  | "amount_mismatch"
  /** Alipay has a refund we do not hold as succeeded. */
  | "refund_at_alipay_only"
  /** We hold a refund as succeeded that the day's bill does not have. */
  | "refund_missing_from_bill"
  /** The same refund, another amount. */
  | "refund_amount_mismatch"
  /** The bill's own totals (trailer, summary) disagree with its rows, or too much differs to list. */
  | "day_totals";

export const differenceClasses: readonly DifferenceClass[] = [
  "paid_at_alipay_only",
  "missing_from_bill",
  "amount_mismatch",
  "refund_at_alipay_only",
  "refund_missing_from_bill",
  "refund_amount_mismatch",
  "day_totals",
];

export interface Difference {
  class: DifferenceClass;
  /** Acted on and now agreeing (e.g. applied through the query path): no person needed. */
  healed: boolean;
  /** What was found or done, as a stable token (RUNBOOK.md#reconciliation-differences lists them). */
  outcome: string;
  tradeNo?: string;
  outTradeNo?: string;
  paymentId?: string;
  refundId?: string;
  outRequestNo?: string;
  /** What the bill says (fen, positive). */
  billFen?: number;
  /** What we hold (fen, positive). */
  ourFen?: number;
  /** The detail file's row (1-based) of an unreadable row. */
  billRow?: number;
}

/**
 * Bill rows of other deployments sharing the Alipay app (their prefix in the out_trade_no): their
 * stacks reconcile them, so here they are only counted, never a difference.
 */
export interface OtherDeployments {
  payments: BillCount;
  refunds: BillCount;
  /** The prefixes seen (at most maxPrefixesListed). */
  prefixes: string[];
}

const maxPrefixesListed = 20;

/** Bounds what is kept of the unmatched rows of one kind: a day where everything differs is a misconfiguration, not a list to resolve. */
export const maxUnmatched = 10_000;

/** What matching keeps of one of our payments, by its trade number: little, since a day may hold a million. */
export interface HeldPayment {
  paymentId: string;
  amountFen: number;
}

export class DayMatcher {
  readonly payments = new Map<string, HeldPayment>();
  readonly refunds = new Map<string, OurRefund>();
  readonly ours = { payments: { count: 0, fen: 0 } as BillCount, refunds: { count: 0, fen: 0 } as BillCount };
  readonly matched = { payments: 0, refunds: 0 };
  readonly differences: Difference[] = [];
  readonly unmatchedBill = { payments: [] as BillRow[], refunds: [] as BillRow[] };
  readonly otherDeployments: OtherDeployments = { payments: { count: 0, fen: 0 }, refunds: { count: 0, fen: 0 }, prefixes: [] };
  /** Unmatched bill rows not kept (over maxUnmatched). */
  overflow = 0;

  /** `ownPrefix`: this deployment's (DEPLOYMENT_PREFIX); rows with none are ours too (made before prefixes). */
  constructor(private readonly ownPrefix = deploymentPrefix()) {}

  addPayments(payments: OurPayment[]): void {
    for (const payment of payments) {
      this.payments.set(payment.tradeNo, { paymentId: payment.paymentId, amountFen: payment.amountFen });
      this.ours.payments.count += 1;
      this.ours.payments.fen += payment.amountFen;
    }
  }

  addRefunds(refunds: OurRefund[]): void {
    for (const refund of refunds) {
      this.refunds.set(refund.refundId, refund);
      this.ours.refunds.count += 1;
      this.ours.refunds.fen += refund.amountFen;
    }
  }

  /** One bill row: matched (and removed from our side), a difference, or kept to be resolved. */
  row(row: BillRow): void {
    // A refund row carries its trade's out_trade_no: the deployment that made the trade refunds it.
    const other = otherDeploymentPrefix(row.outTradeNo, this.ownPrefix);
    if (other !== undefined) {
      const counted = row.kind === "payment" ? this.otherDeployments.payments : this.otherDeployments.refunds;
      counted.count += 1;
      counted.fen += row.amountFen;
      const { prefixes } = this.otherDeployments;
      if (prefixes.length < maxPrefixesListed && !prefixes.includes(other)) prefixes.push(other);
      return;
    }
    if (row.kind === "payment") {
      const ours = this.payments.get(row.tradeNo);
      // The trade number is Alipay's: ours only if the out_trade_no names the same payment too.
      if (!ours || parseOutTradeNo(row.outTradeNo, this.ownPrefix)?.paymentId !== ours.paymentId) {
        this.keep(row);
        return;
      }
      this.payments.delete(row.tradeNo);
      this.matched.payments += 1;
      if (ours.amountFen !== row.amountFen) {
        this.difference({
          class: "amount_mismatch",
          healed: false,
          outcome: "amounts_differ",
          tradeNo: row.tradeNo,
          outTradeNo: row.outTradeNo,
          paymentId: ours.paymentId,
          billFen: row.amountFen,
          ourFen: ours.amountFen,
        });
      }
      return;
    }
    const ours = row.outRequestNo ? this.refunds.get(row.outRequestNo) : undefined;
    if (!ours || ours.tradeNo !== row.tradeNo) {
      this.keep(row);
      return;
    }
    this.refunds.delete(ours.refundId);
    this.matched.refunds += 1;
    if (ours.amountFen !== row.amountFen) {
      this.difference({
        class: "refund_amount_mismatch",
        healed: false,
        outcome: "amounts_differ",
        tradeNo: row.tradeNo,
        outTradeNo: row.outTradeNo,
        paymentId: ours.paymentId,
        refundId: ours.refundId,
        outRequestNo: row.outRequestNo,
        billFen: row.amountFen,
        ourFen: ours.amountFen,
      });
    }
  }

  /** Our payments the bill did not have. */
  *leftPayments(): Generator<Pick<OurPayment, "tradeNo" | "paymentId" | "amountFen">> {
    for (const [tradeNo, held] of this.payments) yield { tradeNo, ...held };
  }

  private difference(difference: Difference): void {
    if (this.differences.length < maxUnmatched) this.differences.push(difference);
    else this.overflow += 1;
  }

  /**
   * Our records the bill did not have, to be resolved one by one (an Alipay query each): at most
   * maxUnmatched of each kind, the rest counted as overflow (a day_totals difference).
   */
  leftToResolve(): { payments: Array<Pick<OurPayment, "tradeNo" | "paymentId" | "amountFen">>; refunds: OurRefund[] } {
    const payments: Array<Pick<OurPayment, "tradeNo" | "paymentId" | "amountFen">> = [];
    for (const payment of this.leftPayments()) {
      if (payments.length < maxUnmatched) payments.push(payment);
      else this.overflow += 1;
    }
    const refunds = [...this.refunds.values()];
    if (refunds.length > maxUnmatched) this.overflow += refunds.length - maxUnmatched;
    return { payments, refunds: refunds.slice(0, maxUnmatched) };
  }

  private keep(row: BillRow): void {
    const list = row.kind === "payment" ? this.unmatchedBill.payments : this.unmatchedBill.refunds;
    if (list.length < maxUnmatched) list.push(row);
    else this.overflow += 1;
  }

  /** Differences of the bill with itself: its trailer and summary against its rows. */
  billTotals(facts: BillFacts): Difference[] {
    const found: Difference[] = [];
    const check = (what: string, bill: number, rows: number) => {
      if (bill !== rows) found.push({ class: "day_totals", healed: false, outcome: what, billFen: bill, ourFen: rows });
    };
    if (!facts.trailer) found.push({ class: "day_totals", healed: false, outcome: "no_trailer" });
    else {
      check("trailer_payment_count", facts.trailer.payments.count, facts.rows.payments.count);
      check("trailer_payment_fen", facts.trailer.payments.fen, facts.rows.payments.fen);
      check("trailer_refund_count", facts.trailer.refunds.count, facts.rows.refunds.count);
      check("trailer_refund_fen", facts.trailer.refunds.fen, facts.rows.refunds.fen);
    }
    if (facts.summary) {
      check("summary_payment_count", facts.summary.payments, facts.rows.payments.count);
      check("summary_refund_count", facts.summary.refunds, facts.rows.refunds.count);
      check("summary_net_fen", facts.summary.netFen, facts.rows.payments.fen - facts.rows.refunds.fen);
    }
    // Each row the parser could not read, alone: the rest of the day was read and matched (its
    // money is missing from the rows' totals, so the trailer checks above differ too).
    for (const row of facts.unreadable?.rows ?? []) {
      found.push({
        class: "day_totals",
        healed: false,
        outcome: `unreadable_bill_row_${row.reason}`,
        billRow: row.row,
        ...(row.tradeNo ? { tradeNo: row.tradeNo } : {}),
        ...(row.outTradeNo ? { outTradeNo: row.outTradeNo } : {}),
      });
    }
    const unlisted = (facts.unreadable?.count ?? 0) - (facts.unreadable?.rows.length ?? 0);
    if (unlisted > 0) found.push({ class: "day_totals", healed: false, outcome: "unreadable_bill_rows_unlisted", billFen: unlisted });
    if (facts.otherRows > 0) found.push({ class: "day_totals", healed: false, outcome: "unknown_business_type", billFen: facts.otherRows });
    if (this.overflow > 0) found.push({ class: "day_totals", healed: false, outcome: "too_many_differences", billFen: this.overflow });
    return found;
  }
}
