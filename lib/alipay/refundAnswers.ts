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

/**
 * What a refused alipay.trade.refund (40004 + sub_code) means for our refund:
 * "failed": this request can never succeed: FAILED, its amount released, the business system hears
 *   refund.failed with the sub_code (it may refund in another way, e.g. offline);
 * "retry": the same request later (same out_request_no, same amount); `page` when a person must act
 *   meanwhile (the merchant's balance);
 * "person": neither: a bug, a misconfiguration or a case Alipay's staff must look at. The refund is
 *   held PENDING, not resent around the sweep, and a person is paged (RUNBOOK refunds-need-person).
 */
export type RefundRefusalOutcome = "failed" | "retry" | "person";

export interface RefundRefusalRule {
  outcome: RefundRefusalOutcome;
  page?: true;
}

/**
 * Every business error code of alipay.trade.refund in Alipay's published list, each with Alipay's own
 * remedy (解决方案), shortened, and why it maps to its outcome, in the comment above it (comments are
 * not shipped in the bundles). Sources: its documentation's 业务错误码 table, codes, descriptions and 解决方案 as mirrored verbatim in public copies of the doc;
 * the fixtures' notes for SELLER_BALANCE_NOT_ENOUGH and DISCORDANT_REPEAT_REQUEST), plus
 * REFUND_AMT_NOT_EQUAL_TOTAL's genuine answer (test/fixtures/alipay-responses). A code not here goes
 * to a person (classifyRefundRefusal).
 */
export const refundRefusals: Readonly<Record<string, RefundRefusalRule>> = {
  // Can never succeed as asked: the business system is told (refund.failed).
  // 交易已完结: past the refund window, 'even a retry cannot succeed', refund offline
  "ACQ.TRADE_HAS_FINISHED": { outcome: "failed" },
  // 交易已关闭: unpaid or already fully refunded, no further refund
  "ACQ.TRADE_HAS_CLOSE": { outcome: "failed" },
  // 交易状态非法: the trade is not in a refundable state
  "ACQ.TRADE_STATUS_ERROR": { outcome: "failed" },
  // 交易不存在: Alipay has no such trade to refund
  "ACQ.TRADE_NOT_EXIST": { outcome: "failed" },
  // 当前交易不允许退款: the trade or the contract does not allow refunds
  "ACQ.TRADE_NOT_ALLOW_REFUND": { outcome: "failed" },
  // 退款金额无效: the trade's refunds would exceed its total
  "ACQ.REASON_TRADE_REFUND_FEE_ERR": { outcome: "failed" },
  // 退款金额超限: more than the trade's total (genuine answer, 2017)
  "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": { outcome: "failed" },
  // 交易退款金额有误: this amount cannot be refunded
  "ACQ.REFUND_FEE_ERROR": { outcome: "failed" },
  // 不支持部分退款: refund in full or offline
  "ACQ.NOT_ALLOW_PARTIAL_REFUND": { outcome: "failed" },
  // 交易不允许退款 (voucher trade): refund offline
  "ACQ.ONLINE_TRADE_VOUCHER_NOT_ALLOW_REFUND": { outcome: "failed" },
  // 买家状态异常: refund offline (or ask Alipay why)
  "ACQ.BUYER_ERROR": { outcome: "failed" },
  // 买家状态异常: refund offline (or ask Alipay why)
  "ACQ.BUYER_ENABLE_STATUS_FORBID": { outcome: "failed" },
  // 买家不存在: the buyer closed the account, refund offline
  "ACQ.BUYER_NOT_EXIST": { outcome: "failed" },
  // 账户已注销或者被冻结: refund offline
  "ACQ.CUSTOMER_VALIDATE_ERROR": { outcome: "failed" },
  // The same request later.
  // 系统错误: may or may not have refunded, same parameters again or the query
  "ACQ.SYSTEM_ERROR": { outcome: "retry" },
  // 退收费异常: 'retry the refund after a while'
  "ACQ.REFUND_CHARGE_ERROR": { outcome: "retry" },
  // 卖家余额不足: 'top up the merchant account, then the same refund succeeds': retried, and a person tops up
  "ACQ.SELLER_BALANCE_NOT_ENOUGH": { outcome: "retry", page: true },
  // A person: our bug, our configuration, or Alipay's staff.
  // 请求信息不一致: our number already refunded another amount; our request never changes, so a bug: never resend with other parameters
  "ACQ.DISCORDANT_REPEAT_REQUEST": { outcome: "person" },
  // 参数无效: our request is wrong (a bug)
  "ACQ.INVALID_PARAMETER": { outcome: "person" },
  // 退款币种不支持: we send no currency (a bug)
  "ACQ.CURRENCY_NOT_SUPPORT": { outcome: "person" },
  // 请求退款的交易被冻结: ask Alipay's staff about the trade; it may be unfrozen
  "ACQ.REASON_TRADE_BEEN_FREEZEN": { outcome: "person" },
  // 交易状态异常: query the trade, ask Alipay's staff
  "ACQ.REASON_TRADE_STATUS_INVALID": { outcome: "person" },
  // 交易用户不匹配: ask Alipay's staff
  "ACQ.USER_NOT_MATCH_ERR": { outcome: "person" },
  // 交易结算异常: ask Alipay's staff
  "ACQ.TRADE_SETTLE_ERROR": { outcome: "person" },
  // 因公付业务异常: ask Alipay's staff
  "ACQ.ENTERPRISE_PAY_BIZ_ERROR": { outcome: "person" },
  // 退款出资账号不存在或账号异常: the merchant's refund account (configuration)
  "ACQ.REFUND_ACCOUNT_NOT_EXIST": { outcome: "person" },
  // 垫资退款 contract mismatch (configuration)
  "ACQ.OVERDRAFT_AGREEMENT_NOT_MATCH": { outcome: "person" },
  // 垫资退款 account mismatch (configuration)
  "ACQ.OVERDRAFT_ASSIGN_ACCOUNT_INVALID": { outcome: "person" },
  // 退分账金额超限: we use no royalties (configuration)
  "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR": { outcome: "person" },
  // 分账回退 not authorised: we use no royalties (configuration)
  "ACQ.REFUNDALLOC_UNAUTH_LIMIT": { outcome: "person" },
  // 退分账收入方账户不存在: we use no royalties (configuration)
  "ACQ.REFUND_ROYALTY_PAYEE_ACCOUNT_NOT_EXIST": { outcome: "person" },
};

/** The outcome of a refused refund's sub_code; `known` false for a code not in the table (a person). */
export function classifyRefundRefusal(subCode: string | undefined): RefundRefusalRule & { known: boolean } {
  const rule = subCode === undefined ? undefined : refundRefusals[subCode.replace(/^aop\./, "")];
  if (rule) return { ...rule, known: true };
  // A code we do not know: a person decides (RUNBOOK refunds-need-person).
  return { outcome: "person", known: false };
}
