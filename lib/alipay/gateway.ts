// The Alipay v2 gateway through the official alipay-sdk: App Pay order strings, trade query and
// close, notification signatures. Business answers become typed results; anything that means
// "ask again later" (network, HTTP 5xx, timeouts, 20000, 40005, ACQ.SYSTEM_ERROR) is thrown as
// AlipayUnavailableError so the caller's retry machinery takes over.
import { createPublicKey, createVerify, type KeyObject } from "node:crypto";
import { AlipaySdk } from "alipay-sdk";
import { fenToYuan, yuanToFen } from "../money.js";
import { count } from "../observability.js";
import { alipayCallTimeoutMs } from "./deadline.js";
import { type AlipayCredentials, normaliseAlipayCredentials } from "./keys.js";
import { isGbkCharset } from "./notificationForm.js";
import { classifyRefundRefusal, interpretRefundQuery, type RefundQueryResult } from "./refundAnswers.js";
import { toAlipayTime } from "./time.js";

export { AlipayCertificateError } from "./certificates.js";
export { AlipayKeyError } from "./keys.js";

export class AlipayUnavailableError extends Error {
  override name = "AlipayUnavailableError";
}

export type AlipayTradeStatus = "WAIT_BUYER_PAY" | "TRADE_SUCCESS" | "TRADE_FINISHED" | "TRADE_CLOSED";

export type TradeQueryResult =
  | { kind: "not_found" }
  | { kind: "trade"; status: AlipayTradeStatus; tradeNo: string; totalFen: number; buyerId?: string; paidAt?: string };

/**
 * alipay.trade.refund's answer. "refunded": Alipay holds the refund under that out_request_no
 * (`fundChange` false on a repeat: confirm with the refund query). A refusal (40004) is read by the
 * table of ./refundAnswers.ts: "refused" can never succeed (`subCode` says why); "retry" is the same
 * request later (`page`: a person must act meanwhile, e.g. top up); "person": held for a person
 * (`known` false for a code the table lacks).
 */
export type RefundResult =
  | { kind: "refunded"; fundChange: boolean }
  | { kind: "refused"; subCode: string }
  | { kind: "retry"; subCode: string; page: boolean }
  | { kind: "person"; subCode: string; known: boolean };

/** alipay.trade.fastpay.refund.query, read by the rule in ./refundAnswers.ts (both answer shapes). */
export type { RefundQueryResult } from "./refundAnswers.js";

/**
 * alipay.data.dataservice.bill.downloadurl.query: a short-lived (30 s) link to the day's zip, or
 * "not_ready" (bill_not_exist / no_bill_data: asked before it was generated, T+1 around 09:00
 * GMT+8), or "refused" (isv.invalid_arguments: a bad date, or today / a future day).
 */
export type BillUrlResult =
  | { kind: "url"; url: string; empty: boolean }
  | { kind: "not_ready"; subCode: string }
  | { kind: "refused"; subCode: string };

/** "refused": the trade is no longer open (paid, finished or already closed): query to learn which. */
export type TradeCloseResult = "closed" | "not_found" | "refused";

export interface OrderStringInput {
  outTradeNo: string;
  amountFen: number;
  subject: string;
  body?: string;
  expiresAtMs: number;
}

export interface AlipayGatewaySettings extends AlipayCredentials {
  appId: string;
  gatewayUrl: string;
  notifyUrl: string;
  timeoutMs: number;
}

const retryableCodes = new Set(["20000", "40005"]);
const retryableSubCodes = new Set(["ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR"]);

/** Alipay's "ask again later" answers: 20000 (isp.unknow-error...), 40005 call limited, ACQ.SYSTEM_ERROR. */
function isSystemError(answer: AlipayAnswer): boolean {
  return retryableCodes.has(answer.code ?? "") || retryableSubCodes.has(answer.sub_code ?? "");
}

/** A gateway method's answer: Alipay's envelope fields and the method's own, all strings. */
type AlipayAnswer = Record<string, string | undefined>;

/** An answer that came without a signature: never acted upon, but its code and sub_code are kept. */
class UnsignedAnswerError extends Error {
  override name = "UnsignedAnswerError";
  constructor(readonly responseDataRaw: string) {
    super("unsigned answer");
  }
}

/**
 * alipay-sdk, telling an unsigned answer apart. Alipay leaves some error answers unsigned (a bad app
 * id or signature, 20000 aop.ACQ.SYSTEM_ERROR); the SDK then fails inside node:crypto with a
 * TypeError that drops Alipay's code and sub_code, exactly what tells a misconfiguration apart.
 */
class VerifyingSdk extends AlipaySdk {
  override checkResponseSign(responseDataRaw: string, responseKey: string, serverSign: string, traceId: string): void {
    if (!serverSign) throw new UnsignedAnswerError(responseDataRaw);
    super.checkResponseSign(responseDataRaw, responseKey, serverSign, traceId);
  }
}

export class AlipayGateway {
  private readonly sdk: AlipaySdk;
  /** Parsed once: verifying with the PEM text would parse it on every notification. */
  private readonly alipayPublicKey: KeyObject;

  /** Throws AlipayKeyError, naming the key and the problem, when a key cannot be used (checked once, here). */
  constructor(private readonly settings: AlipayGatewaySettings) {
    const keys = normaliseAlipayCredentials(settings);
    this.alipayPublicKey = createPublicKey(keys.alipayPublicKey);
    this.sdk = new VerifyingSdk({
      appId: settings.appId,
      privateKey: keys.appPrivateKey,
      alipayPublicKey: keys.alipayPublicKey,
      // Certificate mode: the SDK signs and sends both SNs when both are set. Computed here (node:crypto)
      // rather than by the SDK from the certificates (@fidm/x509, left out of the bundles). Answers'
      // alipay_cert_sn is not compared (alipay-sdk's v2 exec does not either): their signature is.
      ...(keys.appCertSn && keys.alipayRootCertSn ? { appCertSn: keys.appCertSn, alipayRootCertSn: keys.alipayRootCertSn } : {}),
      keyType: "PKCS8",
      signType: "RSA2",
      gateway: settings.gatewayUrl,
      timeout: settings.timeoutMs,
      camelcase: false,
    });
  }

  /** The signed string the mobile Alipay SDK pays with. No network call. */
  orderString(input: OrderStringInput, nowMs = Date.now()): string {
    return this.sdk.sdkExecute("alipay.trade.app.pay", {
      timestamp: toAlipayTime(nowMs),
      notify_url: this.settings.notifyUrl,
      bizContent: {
        out_trade_no: input.outTradeNo,
        total_amount: fenToYuan(input.amountFen),
        subject: input.subject,
        ...(input.body ? { body: input.body } : {}),
        product_code: "QUICK_MSECURITY_PAY",
        time_expire: toAlipayTime(input.expiresAtMs),
      },
    });
  }

  async query(outTradeNo: string): Promise<TradeQueryResult> {
    const result = await this.call("alipay.trade.query", { out_trade_no: outTradeNo });
    if (result.code === "40004" && result.sub_code === "ACQ.TRADE_NOT_EXIST") return { kind: "not_found" };
    this.expectSuccess("alipay.trade.query", outTradeNo, result);
    const totalFen = yuanToFen(result.total_amount);
    if (totalFen === undefined || typeof result.trade_no !== "string") {
      throw new AlipayUnavailableError(`alipay.trade.query: malformed answer for ${outTradeNo}`);
    }
    return {
      kind: "trade",
      status: result.trade_status as AlipayTradeStatus,
      tradeNo: result.trade_no,
      totalFen,
      buyerId: result.buyer_user_id ?? result.buyer_open_id,
      paidAt: result.send_pay_date,
    };
  }

  async close(outTradeNo: string): Promise<TradeCloseResult> {
    const result = await this.call("alipay.trade.close", { out_trade_no: outTradeNo });
    if (result.code === "10000") return "closed";
    if (result.sub_code === "ACQ.TRADE_NOT_EXIST") return "not_found";
    if (result.sub_code === "ACQ.TRADE_STATUS_ERROR" || result.sub_code === "ACQ.REASON_TRADE_STATUS_INVALID") {
      return "refused";
    }
    this.expectSuccess("alipay.trade.close", outTradeNo, result);
    return "closed";
  }

  /**
   * Refunds `amountFen` of a paid trade under `outRequestNo`, which must be the same on every retry
   * of one refund (Alipay refunds a number at most once). Unknown outcomes throw AlipayUnavailableError.
   */
  async refund(input: {
    tradeNo: string;
    outTradeNo: string;
    outRequestNo: string;
    amountFen: number;
    reason?: string;
  }): Promise<RefundResult> {
    const result = await this.call("alipay.trade.refund", {
      trade_no: input.tradeNo,
      out_trade_no: input.outTradeNo,
      out_request_no: input.outRequestNo,
      refund_amount: fenToYuan(input.amountFen),
      ...(input.reason ? { refund_reason: input.reason } : {}),
    });
    // A business refusal, by the table of ./refundAnswers.ts (system errors stay on the common retry path).
    if (result.code === "40004" && !retryableSubCodes.has(result.sub_code ?? "")) {
      // Stored as the refund's failure code and logged: Alipay's code shape only.
      const subCode = /^[\w.-]{1,64}$/.test(result.sub_code ?? "") ? result.sub_code! : "(malformed)";
      const rule = classifyRefundRefusal(result.sub_code);
      if (rule.outcome === "failed") return { kind: "refused", subCode };
      if (rule.outcome === "retry") return { kind: "retry", subCode, page: rule.page === true };
      return { kind: "person", subCode, known: rule.known };
    }
    this.expectSuccess("alipay.trade.refund", input.outTradeNo, result);
    return { kind: "refunded", fundChange: result.fund_change === "Y" };
  }

  /**
   * Whether Alipay has paid out the refund `outRequestNo` of `amountFen`: read from all the evidence
   * of the answer (refund_status, or in older answers the refund's own fields), by the rule and its
   * sources in ./refundAnswers.ts interpretRefundQuery.
   */
  async refundQuery(input: { tradeNo: string; outTradeNo: string; outRequestNo: string; amountFen: number }): Promise<RefundQueryResult> {
    const result = await this.call("alipay.trade.fastpay.refund.query", {
      trade_no: input.tradeNo,
      out_trade_no: input.outTradeNo,
      out_request_no: input.outRequestNo,
    });
    this.expectSuccess("alipay.trade.fastpay.refund.query", input.outTradeNo, result);
    return interpretRefundQuery(result, input);
  }

  /** The download link of the trade bill of `day` (yyyy-MM-dd, GMT+8). */
  async billDownloadUrl(day: string): Promise<BillUrlResult> {
    const result = await this.call("alipay.data.dataservice.bill.downloadurl.query", { bill_type: "trade", bill_date: day });
    const subCode = result.sub_code ?? "";
    if (result.code === "40004" && /bill_not_exist|no_bill_data/i.test(subCode)) return { kind: "not_ready", subCode };
    if ((result.code === "40004" || result.code === "40002") && /invalid_arguments|invaild_arguments|invailid_arguments/i.test(subCode)) {
      return { kind: "refused", subCode };
    }
    this.expectSuccess("alipay.data.dataservice.bill.downloadurl.query", day, result);
    if (typeof result.bill_download_url !== "string") throw new AlipayUnavailableError(`bill of ${day}: no bill_download_url`);
    return { kind: "url", url: result.bill_download_url, empty: result.bill_file_code === "EMPTY_DATA_WITH_BILL_FILE" };
  }

  /**
   * Verifies an asynchronous notification, decoded once; Alipay drops empty values before signing.
   * A GBK one (charset=gbk) verifies over the GBK bytes it was signed as (lib/alipay/notificationForm.ts).
   */
  verifyNotification(params: Record<string, string>, gbkSignedContent?: Buffer): boolean {
    // The SDK picks the algorithm from the notification's own sign_type (RSA = SHA1withRSA): RSA2 only.
    if (params.sign_type !== "RSA2") return false;
    if (isGbkCharset(params.charset)) {
      if (!gbkSignedContent || !params.sign) return false;
      try {
        return createVerify("RSA-SHA256").update(gbkSignedContent).verify(this.alipayPublicKey, params.sign, "base64");
      } catch {
        return false;
      }
    }
    const nonEmpty = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== ""));
    try {
      return this.sdk.checkNotifySignV2(nonEmpty);
    } catch {
      return false;
    }
  }

  /**
   * Every gateway call goes through here. Its timeout fits the invocation's deadline
   * (lib/alipay/deadline.ts); too little time left and it is not made. Counted for the
   * Alipay-unavailable alarm: AlipayCalls for each call made, AlipayCallsFailed for each that
   * failed as "Alipay unavailable" (timeout, network, HTTP 5xx, an answer we cannot parse or verify,
   * a system error or rate limit); a business answer (TRADE_NOT_EXIST...) is not a failure.
   */
  private async call(method: string, bizContent: Record<string, string>): Promise<AlipayAnswer> {
    const timeoutMs = alipayCallTimeoutMs(this.settings.timeoutMs);
    if (timeoutMs === undefined) {
      throw new AlipayUnavailableError(`${method} ${bizContent.out_trade_no ?? ""}: not called, too little of the invocation left`);
    }
    count("AlipayCalls");
    let answer: AlipayAnswer;
    try {
      // alipay-sdk reads its configured timeout synchronously when exec starts the request (before
      // its first await), so setting it just before is this call's timeout even with calls of
      // other invocations in flight (test/simulator/gatewayCalls.test.ts holds it to that).
      this.sdk.config.timeout = timeoutMs;
      answer = await this.sdk.exec(method, { timestamp: toAlipayTime(Date.now()), bizContent }, { validateSign: true });
    } catch (error) {
      count("AlipayCallsFailed");
      // Not the SDK's message, nor the SDK's error as `cause` (loggers print causes): its signature
      // and format errors quote the whole response, buyer ids included. Codes and our ids only.
      throw new AlipayUnavailableError(`${method} ${bizContent.out_trade_no ?? ""}: ${describeSdkFailure(method, error)}`);
    }
    if (isSystemError(answer)) count("AlipayCallsFailed");
    return answer;
  }

  private expectSuccess(method: string, outTradeNo: string, result: AlipayAnswer): void {
    if (result.code === "10000") return;
    // Codes only: msg / sub_msg are free text from Alipay (the gateway quotes request data in some).
    const detail = `${method} ${outTradeNo}: ${result.code} ${result.sub_code ?? ""}`.trim();
    if (isSystemError(result)) throw new AlipayUnavailableError(detail);
    // Anything else is a bug or misconfiguration on our side: also retried, then dead-lettered and alarmed.
    throw new AlipayUnavailableError(`unexpected answer ${detail}`);
  }
}

/**
 * What went wrong in an SDK call, as codes: the error's name and code, the kind of failure, the
 * HTTP status, Alipay's trace id, and Alipay's code / sub_code when the response carries them.
 * Never the SDK's message text, which for signature and format failures is the signed response.
 */
export function describeSdkFailure(method: string, error: unknown): string {
  const failure = (error ?? {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    traceId?: unknown;
    responseDataRaw?: unknown;
    cause?: { name?: unknown; code?: unknown; cause?: { code?: unknown } };
  };
  const message = typeof failure.message === "string" ? failure.message : "";
  const parts: string[] = [typeof failure.name === "string" ? failure.name : "Error"];
  if (typeof failure.code === "string" && failure.code) parts.push(`code ${failure.code}`);
  const status = /status: (\d{3})/.exec(message)?.[1];
  if (message.startsWith("HttpClient Request error")) {
    // Timeouts and refused connections: the underlying error's name and code say which.
    const cause = failure.cause ?? {};
    // (fetch, in the bundles, puts the socket's code, e.g. ECONNREFUSED, one level further down)
    const names = [cause.name, cause.code, cause.cause?.code].filter((v) => typeof v === "string" && v);
    parts.push(`transport ${names.join(" ") || "failure"}`);
  } else if (status) {
    parts.push(`http ${status}`);
  } else if (message.includes("验签")) {
    parts.push("response signature invalid");
  } else if (message.includes("格式错误")) {
    parts.push("malformed response");
  }
  const answer = answerCodes(method, failure.responseDataRaw);
  if (answer) parts.push(answer);
  if (typeof failure.traceId === "string" && /^[\w-]{1,64}$/.test(failure.traceId)) parts.push(`traceId ${failure.traceId}`);
  return parts.join(", ");
}

/** Alipay's code and sub_code out of a raw response, when it is JSON with the method's answer. */
function answerCodes(method: string, raw: unknown): string | undefined {
  if (typeof raw !== "string") return undefined;
  try {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    const answer = (parsed[`${method.replaceAll(".", "_")}_response`] ?? parsed.error_response) as AlipayAnswer | undefined;
    const code = typeof answer?.code === "string" && /^\d{1,6}$/.test(answer.code) ? answer.code : undefined;
    const subCode = typeof answer?.sub_code === "string" && /^[\w.-]{1,64}$/.test(answer.sub_code) ? answer.sub_code : undefined;
    return code ? `answer ${code}${subCode ? ` ${subCode}` : ""}` : undefined;
  } catch {
    return undefined;
  }
}
