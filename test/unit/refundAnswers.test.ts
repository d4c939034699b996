// Alipay's refund answers as Alipay really sends them (test/fixtures/alipay-responses, genuine
// answers with their sources), read by lib/alipay/refundAnswers.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { classifyRefundRefusal, interpretRefundQuery, refundRefusals } from "../../lib/alipay/refundAnswers.js";
import { yuanToFen } from "../../lib/money.js";
import { projectRoot } from "../../local/serverlessConfig.js";

interface Fixture {
  what: string;
  source: string;
  inner: string;
}
const fixtures = JSON.parse(readFileSync(new URL("../fixtures/alipay-responses/refund-answers.json", import.meta.url), "utf8")) as {
  refund: Fixture[];
  refund_query: Fixture[];
};
const genuine = (list: Fixture[], what: RegExp) => {
  const found = list.find((f) => what.test(f.what));
  if (!found) throw new Error(`no fixture ${what}`);
  return JSON.parse(found.inner) as Record<string, string>;
};

/** What we would have asked to get this answer: its own number, amount and trade. */
const askedFor = (answer: Record<string, unknown>, amountFen: number) => ({
  outRequestNo: answer.out_request_no as string,
  outTradeNo: answer.out_trade_no as string,
  tradeNo: answer.trade_no as string,
  amountFen,
});

describe("refund query answers (genuine)", () => {
  const oldShapes = fixtures.refund_query.filter((f) => /old shape/.test(f.what));

  it("has the genuine answers it claims to test", () => {
    expect(oldShapes).toHaveLength(2);
    for (const f of oldShapes) expect(JSON.parse(f.inner)).not.toHaveProperty("refund_status");
  });

  it.each(oldShapes.map((f) => [f.source, f] as const))("a successful refund without refund_status (%s) is refunded", (_source, f) => {
    const answer = JSON.parse(f.inner) as Record<string, string>;
    const amountFen = yuanToFen(answer.refund_amount)!;
    expect(interpretRefundQuery(answer, askedFor(answer, amountFen))).toEqual({
      kind: "refunded",
      refundFen: amountFen,
      evidence: "refund_fields",
    });
  });

  it("the current shape with refund_status REFUND_SUCCESS is refunded", () => {
    const answer = genuine(fixtures.refund_query, /current shape/);
    expect(interpretRefundQuery(answer, askedFor(answer, 1))).toEqual({ kind: "refunded", refundFen: 1, evidence: "refund_status" });
  });

  it("a number Alipay never received ({code, msg} alone) is not refunded", () => {
    const answer = genuine(fixtures.refund_query, /never received/);
    expect(interpretRefundQuery(answer, { outRequestNo: "ref1", outTradeNo: "pay1_1", tradeNo: "2026", amountFen: 100 })).toEqual({
      kind: "not_refunded",
    });
    // The simulator's current shape names the trade but no refund: not refunded either.
    expect(interpretRefundQuery({ ...answer, out_trade_no: "pay1_1", trade_no: "2026" }, { outRequestNo: "ref1", amountFen: 100 })).toEqual(
      {
        kind: "not_refunded",
      },
    );
  });

  it("a refund under our number with another amount, trade or number is inconsistent, never refunded", () => {
    const old = JSON.parse(oldShapes[0]!.inner) as Record<string, string>;
    const asked = askedFor(old, 1);
    expect(interpretRefundQuery(old, { ...asked, amountFen: 2 })).toMatchObject({ kind: "inconsistent", detail: "refund_amount differs" });
    expect(interpretRefundQuery(old, { ...asked, outRequestNo: "other" })).toMatchObject({ kind: "inconsistent" });
    expect(interpretRefundQuery(old, { ...asked, tradeNo: "2018080121001004890000000000" })).toMatchObject({ kind: "inconsistent" });
    const current = genuine(fixtures.refund_query, /current shape/);
    expect(interpretRefundQuery(current, { ...askedFor(current, 1), amountFen: 100 })).toMatchObject({ kind: "inconsistent" });
    const { out_request_no: _dropped, ...noNumber } = old;
    expect(interpretRefundQuery(noNumber, { ...asked, outRequestNo: "x" })).toMatchObject({ kind: "inconsistent" });
  });

  it("another refund_status is not refunded (asked again later)", () => {
    const current = genuine(fixtures.refund_query, /current shape/);
    expect(interpretRefundQuery({ ...current, refund_status: "REFUND_PROCESSING" }, askedFor(current, 1))).toEqual({
      kind: "not_refunded",
      status: "REFUND_PROCESSING",
    });
  });
});

describe("refused refunds: one table", () => {
  it("maps the codes of issue 19 as Alipay's remedies say", () => {
    expect(classifyRefundRefusal("ACQ.SELLER_BALANCE_NOT_ENOUGH")).toMatchObject({ outcome: "retry", page: true, known: true });
    expect(classifyRefundRefusal("ACQ.DISCORDANT_REPEAT_REQUEST")).toMatchObject({ outcome: "person", known: true });
    expect(classifyRefundRefusal("ACQ.REASON_TRADE_BEEN_FREEZEN")).toMatchObject({ outcome: "person" });
    expect(classifyRefundRefusal("ACQ.TRADE_NOT_ALLOW_REFUND")).toMatchObject({ outcome: "failed" });
    expect(classifyRefundRefusal("ACQ.REFUND_FEE_ERROR")).toMatchObject({ outcome: "failed" });
    expect(classifyRefundRefusal("ACQ.TRADE_HAS_FINISHED")).toMatchObject({ outcome: "failed" });
    expect(classifyRefundRefusal("ACQ.REFUND_CHARGE_ERROR")).toMatchObject({ outcome: "retry" });
    expect(classifyRefundRefusal("aop.ACQ.SYSTEM_ERROR")).toMatchObject({ outcome: "retry" });
  });

  it("the genuine refusal of a partial refund without out_request_no is final", () => {
    const answer = genuine(fixtures.refund, /refused/);
    expect(classifyRefundRefusal(answer.sub_code)).toMatchObject({ outcome: "failed", known: true });
  });

  it("sends a code it does not know, or none, to a person", () => {
    expect(classifyRefundRefusal("ACQ.SOMETHING_NEW")).toMatchObject({ outcome: "person", known: false });
    expect(classifyRefundRefusal(undefined)).toMatchObject({ outcome: "person", known: false });
  });

  it("gives every code its reason (the comment above it), and pages only with a retry", () => {
    const source = readFileSync(join(projectRoot, "lib", "alipay", "refundAnswers.ts"), "utf8");
    for (const [code, rule] of Object.entries(refundRefusals)) {
      expect(code).toMatch(/^ACQ\.[A-Z_]+$/);
      const reason = new RegExp(`^  // (.{10,})\\n  "${code.replace(".", "\\.")}":`, "m").exec(source);
      expect(reason, code).not.toBeNull();
      if (rule.page) expect(rule.outcome).toBe("retry");
    }
  });
});
