// Matching a day's bill against our records (lib/reconciliation/match.ts): pure, in fen, bounded.
import { describe, expect, it } from "vitest";
import type { BillFacts, BillRow } from "../../lib/reconciliation/bill.js";
import { DayMatcher, maxUnmatched } from "../../lib/reconciliation/match.js";

const paymentId = (i: number) => `pay${i.toString(16).padStart(29, "0")}`;
const tradeNo = (i: number) => `2026112522001${String(i).padStart(15, "0")}`;
const ours = (i: number, amountFen = 100) => ({ paymentId: paymentId(i), businessId: "shop", tradeNo: tradeNo(i), amountFen, paidAt: 0 });
const billPayment = (i: number, amountFen = 100, outTradeNo = `${paymentId(i)}_1`): BillRow => ({
  kind: "payment",
  tradeNo: tradeNo(i),
  outTradeNo,
  amountFen,
  completedAt: "2026-11-25 12:00:00",
  row: i,
});
const facts = (payments: number, fen: number): BillFacts => ({
  rows: { payments: { count: payments, fen }, refunds: { count: 0, fen: 0 } },
  otherRows: 0,
  trailer: { payments: { count: payments, fen }, refunds: { count: 0, fen: 0 } },
});

describe("DayMatcher", () => {
  it("matches by trade number and out_trade_no, finds other amounts, keeps what it cannot match", () => {
    const matcher = new DayMatcher();
    matcher.addPayments([ours(1), ours(2), ours(3), ours(4)]);
    matcher.row(billPayment(1));
    matcher.row(billPayment(2, 101));
    // Same trade number, but the out_trade_no names another payment: not ours.
    matcher.row(billPayment(3, 100, `${paymentId(99)}_1`));
    matcher.row(billPayment(5));
    expect(matcher.matched.payments).toBe(2);
    expect(matcher.differences).toEqual([
      expect.objectContaining({ class: "amount_mismatch", tradeNo: tradeNo(2), billFen: 101, ourFen: 100, healed: false }),
    ]);
    expect(matcher.unmatchedBill.payments.map((r) => r.tradeNo)).toEqual([tradeNo(3), tradeNo(5)]);
    expect(matcher.leftToResolve().payments.map((p) => p.tradeNo)).toEqual([tradeNo(3), tradeNo(4)]);
    expect(matcher.ours.payments).toEqual({ count: 4, fen: 400 });
  });

  it("counts other deployments' rows (their prefix) apart, never as differences; ours and unprefixed ones are matched", () => {
    const matcher = new DayMatcher("prod");
    matcher.addPayments([ours(1), ours(2)]);
    matcher.row(billPayment(1, 100, `prod_${paymentId(1)}_1`));
    // Made before prefixes: still ours.
    matcher.row(billPayment(2, 100, `${paymentId(2)}_1`));
    // The staging stack's trades of the same business orders (the same payment ids), and its refund.
    matcher.row(billPayment(11, 300, `stg_${paymentId(1)}_1`));
    matcher.row(billPayment(12, 200, `stg_${paymentId(2)}_2`));
    matcher.row({ ...billPayment(11, 50, `stg_${paymentId(1)}_1`), kind: "refund", outRequestNo: "rfd-stg" });
    matcher.row(billPayment(13, 70, `stg2_${paymentId(3)}_1`));
    // Not of this system's form: kept, to be reported as today.
    matcher.row(billPayment(14, 90, "console_collection_1"));
    expect(matcher.matched.payments).toBe(2);
    expect(matcher.differences).toEqual([]);
    expect(matcher.otherDeployments).toEqual({
      payments: { count: 3, fen: 570 },
      refunds: { count: 1, fen: 50 },
      prefixes: ["stg", "stg2"],
    });
    expect(matcher.unmatchedBill.payments.map((r) => r.outTradeNo)).toEqual(["console_collection_1"]);
    expect(matcher.unmatchedBill.refunds).toEqual([]);
    expect(matcher.leftToResolve().payments).toEqual([]);
    // On a stack without a prefix, the prod rows are another deployment's too.
    const unprefixed = new DayMatcher("");
    unprefixed.addPayments([ours(1)]);
    unprefixed.row(billPayment(1, 100, `prod_${paymentId(1)}_1`));
    expect(unprefixed.otherDeployments.payments).toEqual({ count: 1, fen: 100 });
    expect(unprefixed.leftToResolve().payments.map((p) => p.paymentId)).toEqual([paymentId(1)]);
  });

  it("checks the bill against itself: trailer and summary against its rows", () => {
    const matcher = new DayMatcher();
    expect(matcher.billTotals(facts(2, 300))).toEqual([]);
    const broken = {
      ...facts(2, 300),
      trailer: { payments: { count: 2, fen: 301 }, refunds: { count: 0, fen: 0 } },
      summary: { payments: 3, refunds: 0, netFen: 300 },
    };
    expect(matcher.billTotals(broken).map((d) => d.outcome)).toEqual(["trailer_payment_fen", "summary_payment_count"]);
    const { trailer: _none, ...untrailed } = facts(1, 100);
    expect(matcher.billTotals(untrailed).map((d) => d.outcome)).toEqual(["no_trailer"]);
  });

  it("reports each unreadable bill row alone, with the ids it shows, and how many more were not listed", () => {
    const matcher = new DayMatcher();
    const withUnreadable: BillFacts = {
      ...facts(1, 100),
      unreadable: {
        count: 3,
        rows: [
          { row: 7, reason: "too_few_columns", tradeNo: tradeNo(7), outTradeNo: `${paymentId(7)}_1` },
          { row: 9, reason: "row_too_long" },
        ],
      },
    };
    expect(matcher.billTotals(withUnreadable)).toEqual([
      {
        class: "day_totals",
        healed: false,
        outcome: "unreadable_bill_row_too_few_columns",
        billRow: 7,
        tradeNo: tradeNo(7),
        outTradeNo: `${paymentId(7)}_1`,
      },
      { class: "day_totals", healed: false, outcome: "unreadable_bill_row_row_too_long", billRow: 9 },
      { class: "day_totals", healed: false, outcome: "unreadable_bill_rows_unlisted", billFen: 1 },
    ]);
  });

  it("holds and resolves at most maxUnmatched of each kind: the rest is one day_totals difference", () => {
    const matcher = new DayMatcher();
    const extra = 5;
    matcher.addPayments(Array.from({ length: maxUnmatched + extra }, (_, i) => ours(i)));
    for (let i = 0; i < maxUnmatched + extra; i += 1) matcher.row(billPayment(1_000_000 + i));
    expect(matcher.unmatchedBill.payments).toHaveLength(maxUnmatched);
    expect(matcher.leftToResolve().payments).toHaveLength(maxUnmatched);
    expect(matcher.billTotals(facts(maxUnmatched + extra, (maxUnmatched + extra) * 100))).toEqual([
      expect.objectContaining({ class: "day_totals", outcome: "too_many_differences", billFen: 2 * extra }),
    ]);
  });
});
