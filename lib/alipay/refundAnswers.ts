// How we read Alipay's answers about refunds (alipay.trade.refund, alipay.trade.fastpay.refund.query):
// pure functions of the answer, tested with genuine answers (test/unit/refundAnswers.test.ts, the
// shapes of ../shared/fixtures/alipay-responses/refund-answers.json copied into test/fixtures/).
import { yuanToFen } from "../money.js";

/** A gateway method's answer: Alipay's envelope fields and the method's own. */
export type RefundAnswer = Record<string, unknown>;

/**
 * alipay.trade.fastpay.refund.query, read from all the evidence the answer carries:
 * "refunded": Alipay has paid the refund out (`evidence` says what showed it);
 * "not_refunded": Alipay has no refund under that number, or not yet (`status` when it named one);
 * "inconsistent": the answer names a refund that is not ours as we recorded it (another number,
 * trade or amount): neither succeeded nor resent, a person looks (RUNBOOK refunds-need-person).
 */
export type RefundQueryResult =
  | { kind: "refunded"; refundFen: number | undefined; evidence: "refund_status" | "refund_fields" }
  | { kind: "not_refunded"; status?: string }
  | { kind: "inconsistent"; detail: string };

/** What we asked: the refund's fixed out_request_no, its amount, and the trade it refunds. */
export interface AskedRefund {
  outRequestNo: string;
  amountFen: number;
  tradeNo?: string;
  outTradeNo?: string;
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

/**
 * THE RULE for a successful (code 10000) refund query answer, in this order:
 *
 * 1. An answer naming another out_request_no, trade_no or out_trade_no than ours is inconsistent.
 * 2. `refund_status: "REFUND_SUCCESS"` means refunded (every version of the documentation), as long
 *    as a `refund_amount` it carries is our amount (else inconsistent).
 * 3. Any other `refund_status` (REFUND_PROCESSING, REFUND_FAIL in other products' answers) is not
 *    refunded: we ask again later with the same number.
 * 4. No `refund_status`, but the refund's own fields (`out_request_no` = ours and `refund_amount`)
 *    are there: refunded, the older answer shape. Sources: Alipay's documentation of
 *    alipay.trade.fastpay.refund.query up to about 2020, "该接口的返回码10000，仅代表本次查询操作成功，
 *    不代表退款成功。如果该接口返回了查询数据，且refund_status为空或为REFUND_SUCCESS，则代表退款成功，
 *    如果没有查询到则代表未退款成功" (quoted in public SDK code, e.g. a Go client citing
 *    docs.open.alipay.com/api_1/alipay.trade.fastpay.refund.query, a Java client dated 2020-01-08;
 *    the 2017 text: "如果该接口返回了查询数据，则代表退款成功"); genuine answers of refunds that
 *    moved money carry exactly these fields and no refund_status (Alipay support article
 *    developer.aliyun.com/article/707647, 2018; a 2019 answer quoted in public code). The amount must
 *    be ours, else inconsistent (a refund_amount without out_request_no is inconsistent too).
 * 5. No `refund_status` and no refund fields (`{"code":"10000","msg":"Success"}`, perhaps with the
 *    trade's ids): Alipay has no refund under that number, or has not paid it out yet. Today's
 *    documentation: a missing refund_status means "退款请求未收到或者退款失败". Resending the same
 *    request (same out_request_no, same amount) is then safe: Alipay refunds a number at most once.
 *
 * Why rule 4 is safe enough: today's text reads a missing refund_status as "not received or failed",
 * but no genuine answer of a failed or unreceived refund carries the refund's fields; the fields
 * must match our number and amount; and the day's bill (lib/reconciliation) lists every refund Alipay
 * paid out, so a refund we marked SUCCEEDED that the bill lacks is reported
 * (refund_missing_from_bill). Reading rule 4 as "not refunded" instead left paid-out refunds PENDING
 * for good (issue 19): the resend answers fund_change N and the query keeps answering the same.
 */
export function interpretRefundQuery(answer: RefundAnswer, asked: AskedRefund): RefundQueryResult {
  const outRequestNo = text(answer.out_request_no);
  const tradeNo = text(answer.trade_no);
  const outTradeNo = text(answer.out_trade_no);
  if (outRequestNo !== undefined && outRequestNo !== asked.outRequestNo) return { kind: "inconsistent", detail: "out_request_no differs" };
  if (tradeNo !== undefined && asked.tradeNo !== undefined && tradeNo !== asked.tradeNo)
    return { kind: "inconsistent", detail: "trade_no differs" };
  if (outTradeNo !== undefined && asked.outTradeNo !== undefined && outTradeNo !== asked.outTradeNo) {
    return { kind: "inconsistent", detail: "out_trade_no differs" };
  }
  const rawAmount = text(answer.refund_amount);
  const refundFen = yuanToFen(rawAmount);
  if (rawAmount !== undefined && refundFen !== asked.amountFen) return { kind: "inconsistent", detail: "refund_amount differs" };
  const status = text(answer.refund_status);
  if (status === "REFUND_SUCCESS") return { kind: "refunded", refundFen, evidence: "refund_status" };
  if (status !== undefined) return { kind: "not_refunded", status };
  if (rawAmount === undefined) return { kind: "not_refunded" };
  if (outRequestNo === undefined) return { kind: "inconsistent", detail: "refund_amount without out_request_no" };
  return { kind: "refunded", refundFen, evidence: "refund_fields" };
}
