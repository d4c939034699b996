// POST /gateway.do: the v2 envelope (app, signature, timestamp checks; signed `<method>_response`
// answers; injected faults) and the trade methods the backend uses.
import { billDownloadUrlQuery } from "./bill.js";
import { closeUnpaid, expireIfDue, finishIfPastRefundWindow, notifyTrade, type SimulatorContext } from "./context.js";
import type { Refund, Trade } from "./ledger.js";
import { certificateProblem, type KnownApp } from "./orderString.js";
import { alipayJson, htmlEscape, rsa2Sign, rsa2Verify, signContent, type Params } from "./signing.js";
import { buyerField, formatFen, formatGmt8, parseGmt8, parseYuan } from "./values.js";
import type { FaultInput, FaultMode } from "./types.js";

/** `delayMs`: hold the answer back this long (a slow gateway). */
export type GatewayOutcome = ({ kind: "answer"; body: string } | { kind: "5xx" } | { kind: "timeout" }) & { delayMs?: number };

type Inner = Record<string, unknown> & { code: string; msg: string };
type Biz = Record<string, unknown>;
type Handler = (ctx: SimulatorContext, app: KnownApp, biz: Biz, params: Params) => Inner;

const success = (fields: Record<string, unknown> = {}): Inner => ({ code: "10000", msg: "Success", ...fields });
const business = (subCode: string, subMsg: string, fields: Record<string, unknown> = {}): Inner => ({
  code: "40004",
  msg: "Business Failed",
  sub_code: subCode,
  sub_msg: subMsg,
  ...fields,
});
const invalidArguments = (subCode: string, subMsg: string): Inner => ({
  code: "40002",
  msg: "Invalid Arguments",
  sub_code: subCode,
  sub_msg: subMsg,
});
const missingArguments = (subCode: string, subMsg: string): Inner => ({
  code: "40001",
  msg: "Missing Required Arguments",
  sub_code: subCode,
  sub_msg: subMsg,
});

const faultAnswers: Record<Exclude<FaultMode, "5xx" | "timeout" | "slow">, Inner> = {
  "rate-limit": { code: "40005", msg: "Call Limited", sub_code: "isv.app-call-limited", sub_msg: "调用频次超限" },
  "unknown-error": { code: "20000", msg: "Service Currently Unavailable", sub_code: "isp.unknow-error", sub_msg: "系统繁忙" },
  "system-error": business("ACQ.SYSTEM_ERROR", "系统错误"),
  "unsigned-system-error": {
    code: "20000",
    msg: "Service Currently Unavailable",
    sub_code: "aop.ACQ.SYSTEM_ERROR",
    sub_msg: "系统繁忙",
  },
};

const str = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

function idsOf(biz: Biz): { tradeNo?: string; outTradeNo?: string } {
  const ids: { tradeNo?: string; outTradeNo?: string } = {};
  const tradeNo = str(biz.trade_no);
  const outTradeNo = str(biz.out_trade_no);
  if (tradeNo) ids.tradeNo = tradeNo;
  if (outTradeNo) ids.outTradeNo = outTradeNo;
  return ids;
}

function lookup(ctx: SimulatorContext, app: KnownApp, biz: Biz): Trade | undefined {
  const trade = ctx.ledger.find(app.app.appId, idsOf(biz));
  if (trade) expireIfDue(ctx, trade);
  return trade;
}

const notExist = () => business("ACQ.TRADE_NOT_EXIST", "交易不存在");
const missingIds = () => business("ACQ.INVALID_PARAMETER", "参数无效: out_trade_no 和 trade_no 不能同时为空");

const tradeQuery: Handler = (ctx, app, biz) => {
  if (!str(biz.out_trade_no) && !str(biz.trade_no)) return missingIds();
  const trade = lookup(ctx, app, biz);
  if (!trade) {
    // What Alipay really answers: zero amounts next to the error.
    return business("ACQ.TRADE_NOT_EXIST", "交易不存在", {
      buyer_pay_amount: "0.00",
      invoice_amount: "0.00",
      ...(str(biz.out_trade_no) ? { out_trade_no: biz.out_trade_no } : {}),
      point_amount: "0.00",
      receipt_amount: "0.00",
    });
  }
  const paid = trade.paidAtMs !== undefined;
  const total = formatFen(trade.totalFen);
  return success({
    buyer_logon_id: trade.buyerLogonId,
    buyer_pay_amount: paid ? total : "0.00",
    ...buyerField(app.app, trade.buyerId, "buyer_user_id"),
    buyer_user_type: "PRIVATE",
    invoice_amount: paid ? total : "0.00",
    out_trade_no: trade.outTradeNo,
    point_amount: "0.00",
    receipt_amount: paid ? total : "0.00",
    ...(paid ? { send_pay_date: formatGmt8(trade.paidAtMs!) } : {}),
    total_amount: total,
    trade_no: trade.tradeNo,
    trade_status: trade.status,
    ...(paid ? { fund_bill_list: [{ amount: total, fund_channel: "ALIPAYACCOUNT" }] } : {}),
  });
};

const tradeClose: Handler = (ctx, app, biz, params) => {
  if (!str(biz.out_trade_no) && !str(biz.trade_no)) return missingIds();
  const trade = lookup(ctx, app, biz);
  const outTradeNo = trade?.outTradeNo ?? str(biz.out_trade_no);
  const record = (outcome: string) => {
    if (outTradeNo) {
      ctx.ledger.record({
        kind: "close-request",
        appId: app.app.appId,
        outTradeNo,
        atMs: Date.now(),
        tradeExisted: trade !== undefined,
        outcome,
      });
    }
  };
  if (!trade) {
    record("ACQ.TRADE_NOT_EXIST");
    return notExist();
  }
  if (trade.status !== "WAIT_BUYER_PAY") {
    record("ACQ.TRADE_STATUS_ERROR");
    return business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法");
  }
  closeUnpaid(ctx, trade, "merchant-close");
  record("10000");
  // alipay.trade.close takes a notify_url common parameter: TRADE_CLOSED is notified there.
  if (params.notify_url) notifyTrade(ctx, trade, "close", {}, params.notify_url);
  return success({ trade_no: trade.tradeNo, out_trade_no: trade.outTradeNo });
};

/** sub_msg of the refusals the `refundRefusal` scenario makes (Alipay's texts). */
const refusalMessages: Record<string, string> = {
  "ACQ.SELLER_BALANCE_NOT_ENOUGH": "卖家余额不足",
  "ACQ.DISCORDANT_REPEAT_REQUEST": "请求信息不一致",
  "ACQ.REASON_TRADE_BEEN_FREEZEN": "请求退款的交易被冻结",
  "ACQ.TRADE_NOT_ALLOW_REFUND": "当前交易不允许退款",
  "ACQ.REFUND_FEE_ERROR": "交易退款金额有误",
};

function gmtRefund(nowMs: number): string {
  return `${formatGmt8(nowMs)}.${String(nowMs % 1000).padStart(3, "0")}`;
}

const tradeRefund: Handler = (ctx, app, biz) => {
  if (!str(biz.out_trade_no) && !str(biz.trade_no)) return missingIds();
  const refundFen = parseYuan(biz.refund_amount);
  if (refundFen === undefined || refundFen < 1) {
    return business("ACQ.INVALID_PARAMETER", `参数无效: refund_amount ${String(biz.refund_amount)}`);
  }
  const trade = lookup(ctx, app, biz);
  if (!trade) return notExist();
  const explicitRequestNo = str(biz.out_request_no);
  const outRequestNo = explicitRequestNo ?? trade.outTradeNo;
  ctx.ledger.record({ kind: "refund-request", appId: app.app.appId, outTradeNo: trade.outTradeNo, atMs: Date.now(), outRequestNo });
  const answer = (fundChange: "Y" | "N", atMs: number) =>
    success({
      buyer_logon_id: trade.buyerLogonId,
      ...buyerField(app.app, trade.buyerId, "buyer_user_id"),
      fund_change: fundChange,
      gmt_refund_pay: formatGmt8(atMs),
      out_trade_no: trade.outTradeNo,
      refund_fee: formatFen(trade.refundedFen),
      send_back_fee: formatFen(refundFen),
      trade_no: trade.tradeNo,
    });
  const processing = trade.processingRefunds ?? [];
  const previous = [...trade.refunds, ...processing].find((r) => r.outRequestNo === outRequestNo);
  if (previous) {
    if (previous.refundFen === refundFen) return answer("N", previous.atMs);
    return business("ACQ.DISCORDANT_REPEAT_REQUEST", "请求信息不一致");
  }
  const refusal = ctx.scenarios.effective(trade.outTradeNo).refundRefusal;
  if (refusal) return business(refusal, refusalMessages[refusal] ?? "业务处理失败");
  finishIfPastRefundWindow(ctx, trade);
  if (trade.status === "WAIT_BUYER_PAY") return business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法");
  if (trade.status === "TRADE_CLOSED") return business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭");
  if (trade.status === "TRADE_FINISHED") return business("ACQ.TRADE_HAS_FINISHED", "交易已完结");
  const processingFen = processing.reduce((sum, r) => sum + r.refundFen, 0);
  if (trade.refundedFen + processingFen + refundFen > trade.totalFen) {
    return business("ACQ.REASON_TRADE_REFUND_FEE_ERR", "退款金额超限");
  }
  if (!explicitRequestNo && refundFen !== trade.totalFen) {
    return business("ACQ.INVALID_PARAMETER", "参数无效: 部分退款必须传入 out_request_no");
  }
  const nowMs = Date.now();
  const refund = {
    outRequestNo,
    explicitRequestNo: explicitRequestNo !== undefined,
    refundFen,
    atMs: nowMs,
    gmtRefund: gmtRefund(nowMs),
    ...(str(biz.refund_reason) ? { reason: biz.refund_reason as string } : {}),
  };
  const settleMs = ctx.scenarios.effective(trade.outTradeNo).refundSettleMs;
  if (settleMs > 0) {
    // Accepted, money not moved yet: the merchant learns the outcome from the refund query.
    (trade.processingRefunds ??= []).push(refund);
    setTimeout(() => settleRefund(ctx, trade, refund), settleMs).unref();
    ctx.log(`refund ${trade.outTradeNo} ${outRequestNo} ${formatFen(refundFen)} accepted, settles in ${settleMs} ms`);
    return answer("N", nowMs);
  }
  settleRefund(ctx, trade, refund, nowMs);
  return answer("Y", nowMs);
};

function settleRefund(ctx: SimulatorContext, trade: Trade, refund: Refund, nowMs = Date.now()): void {
  trade.processingRefunds = trade.processingRefunds?.filter((r) => r !== refund);
  refund.atMs = nowMs;
  refund.gmtRefund = gmtRefund(nowMs);
  trade.refunds.push(refund);
  trade.refundedFen += refund.refundFen;
  if (trade.refundedFen === trade.totalFen) {
    trade.status = "TRADE_CLOSED";
    trade.closedAtMs = nowMs;
    trade.closedReason = "full-refund";
  }
  ctx.log(
    `refund ${trade.outTradeNo} ${refund.outRequestNo} ${formatFen(refund.refundFen)} (total refunded ${formatFen(trade.refundedFen)})`,
  );
  notifyTrade(ctx, trade, "refund", { refundFen: trade.refundedFen, gmtRefund: refund.gmtRefund, outBizNo: refund.outRequestNo });
}

const refundQuery: Handler = (ctx, app, biz) => {
  if (!str(biz.out_trade_no) && !str(biz.trade_no)) return missingIds();
  const outRequestNo = str(biz.out_request_no);
  if (!outRequestNo) return business("ACQ.INVALID_PARAMETER", "参数无效: out_request_no 不能为空");
  const trade = lookup(ctx, app, biz);
  if (!trade) return notExist();
  const refund = trade.refunds.find((r) => r.outRequestNo === outRequestNo);
  if (ctx.scenarios.effective(trade.outTradeNo).refundQueryShape === "legacy") {
    // Alipay's older answers (2016-2020, ../shared/fixtures/alipay-responses/refund-answers.json): a
    // settled refund's fields without refund_status; nothing at all for a number it has not settled.
    if (!refund) return success();
    return success({
      out_request_no: refund.outRequestNo,
      out_trade_no: trade.outTradeNo,
      refund_amount: formatFen(refund.refundFen),
      total_amount: formatFen(trade.totalFen),
      trade_no: trade.tradeNo,
    });
  }
  // No settled refund under that number (none, or still processing): Alipay answers Success
  // without refund_status.
  if (!refund) return success({ out_trade_no: trade.outTradeNo, trade_no: trade.tradeNo });
  return success({
    out_request_no: refund.outRequestNo,
    out_trade_no: trade.outTradeNo,
    refund_amount: formatFen(refund.refundFen),
    ...(refund.reason ? { refund_reason: refund.reason } : {}),
    refund_status: "REFUND_SUCCESS",
    total_amount: formatFen(trade.totalFen),
    trade_no: trade.tradeNo,
  });
};

/**
 * alipay.open.app.alipaycert.download: the base64 of a certificate Alipay issued, by its SN (the
 * certificate and the intermediate that issued it, PEM). Alipay answers it without `sign` and
 * without `alipay_cert_sn` (the official Java SDK exempts this method from both checks): the client
 * trusts the certificate only once it chains to its root bundle. The error code for an SN Alipay
 * never issued is not documented: this one is the simulator's.
 */
const certificateDownload: Handler = (ctx, _app, biz) => {
  const sn = str(biz.alipay_cert_sn);
  if (!sn) return missingArguments("isv.missing-alipay-cert-sn", "缺少支付宝公钥证书序列号");
  const content = ctx.certificates?.issued.get(sn);
  if (!content) return business("CERT_NOT_EXIST", "证书不存在");
  return success({ alipay_cert_content: Buffer.from(content, "utf8").toString("base64") });
};

export const gatewayMethods: Record<string, Handler> = {
  "alipay.open.app.alipaycert.download": certificateDownload,
  "alipay.trade.query": tradeQuery,
  "alipay.trade.close": tradeClose,
  "alipay.trade.refund": tradeRefund,
  "alipay.trade.fastpay.refund.query": refundQuery,
  "alipay.data.dataservice.bill.downloadurl.query": billDownloadUrlQuery,
};

function responseKeyOf(method: string): string {
  return `${method.replace(/\./g, "_")}_response`;
}

/**
 * `{"<method>_response":{...},"sign":"..."}`; to an app in certificate mode (`certSn`),
 * `"alipay_cert_sn"` sits between the two, naming the certificate whose key signed the answer.
 */
function answer(ctx: SimulatorContext, key: string, inner: Inner, signed: boolean, certSn?: string): GatewayOutcome {
  const innerJson = alipayJson(inner);
  const sn = certSn ? `,"alipay_cert_sn":"${certSn}"` : "";
  const sign = signed ? `,"sign":"${rsa2Sign(innerJson, ctx.alipayKey)}"` : "";
  return { kind: "answer", body: `{"${key}":${innerJson}${sn}${sign}}` };
}

function bizOutTradeNo(params: Params): string | undefined {
  try {
    const biz: unknown = JSON.parse(params.biz_content ?? "");
    return biz && typeof biz === "object" ? str((biz as Biz).out_trade_no) : undefined;
  } catch {
    return undefined;
  }
}

function faultOutcome(ctx: SimulatorContext, key: string, fault: FaultInput, certSn?: string): GatewayOutcome {
  if (fault.mode === "5xx" || fault.mode === "timeout") return { kind: fault.mode };
  if (fault.mode === "slow") throw new Error("a slow fault is carried out, not answered as a fault");
  const signed = fault.mode !== "unsigned-system-error";
  return answer(ctx, key, faultAnswers[fault.mode], signed, signed ? certSn : undefined);
}

/** One gateway request, given its merged query + form parameters. */
export function handleGateway(ctx: SimulatorContext, params: Params): GatewayOutcome {
  const fault = ctx.faults.take(params.method, bizOutTradeNo(params));
  // Slow: carried out now, as usual; the server holds the answer back.
  if (fault?.mode === "slow") return { ...outcomeOf(ctx, params, undefined), delayMs: fault.delayMs };
  return outcomeOf(ctx, params, fault);
}

function outcomeOf(ctx: SimulatorContext, params: Params, fault: FaultInput | undefined): GatewayOutcome {
  const method = params.method;
  if (fault && !fault.afterProcessing && (fault.mode === "5xx" || fault.mode === "timeout")) return { kind: fault.mode };

  const key = method ? responseKeyOf(method) : "error_response";
  // Errors before the app is known are unsigned (which key would sign them?).
  if (!params.app_id) return answer(ctx, key, missingArguments("isv.missing-app-id", "缺少AppID参数"), false);
  const app = ctx.apps.get(params.app_id);
  if (!app) return answer(ctx, key, invalidArguments("isv.invalid-app-id", "无效的AppID参数"), false);
  if (!method) return answer(ctx, key, missingArguments("isv.missing-method", "缺少方法名参数"), false);
  if (!params.sign) return answer(ctx, key, missingArguments("isv.missing-signature", "缺少签名参数"), true);
  if (!params.sign_type) return answer(ctx, key, missingArguments("isv.missing-signature-type", "缺少签名类型参数"), true);
  if (params.sign_type !== "RSA2") return answer(ctx, key, invalidArguments("isv.invalid-signature-type", "无效的签名类型"), true);
  const content = signContent(params);
  if (!rsa2Verify(content, params.sign, app.key)) {
    return answer(
      ctx,
      key,
      invalidArguments(
        "isv.invalid-signature",
        `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${htmlEscape(content)}`,
      ),
      true,
    );
  }
  const certificate = certificateProblem(app, params, ctx.certificates?.rootCertSn);
  if (certificate) return answer(ctx, key, invalidArguments(certificate.subCode, certificate.message), true);
  // From here on, answers to a certificate-mode app name Alipay's certificate.
  const certSn = app.appCertSn ? ctx.certificates?.alipayCertSn : undefined;
  const timestampMs = parseGmt8(params.timestamp);
  if (timestampMs === undefined) {
    return answer(ctx, key, invalidArguments("isv.invalid-timestamp", "非法的时间戳参数"), true, certSn);
  }
  if (ctx.maxTimestampSkewMs !== undefined && Math.abs(Date.now() - timestampMs) > ctx.maxTimestampSkewMs) {
    return answer(ctx, key, invalidArguments("isv.invalid-timestamp", "非法的时间戳参数"), true, certSn);
  }
  const handler = gatewayMethods[method];
  // An unknown method has no response name of its own: Alipay answers under error_response, unsigned.
  if (!handler) return answer(ctx, "error_response", invalidArguments("isv.invalid-method", "不存在的方法名"), false);
  let biz: Biz = {};
  if (params.biz_content !== undefined && params.biz_content !== "") {
    try {
      const parsed: unknown = JSON.parse(params.biz_content);
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
      biz = parsed as Biz;
    } catch {
      return answer(ctx, key, invalidArguments("isv.invalid-parameter", "参数无效: biz_content 不是合法的 JSON"), true, certSn);
    }
  }
  if (fault && !fault.afterProcessing) return faultOutcome(ctx, key, fault, certSn);
  const inner = handler(ctx, app, biz, params);
  if (fault) {
    ctx.log(`${method}: processed, then failing the answer (${fault.mode})`);
    return faultOutcome(ctx, key, fault, certSn);
  }
  if (handler === certificateDownload) return answer(ctx, key, inner, false);
  return answer(ctx, key, inner, true, certSn);
}
