// The Alipay v2 gateway through the official alipay-sdk: App Pay order strings, trade query and
// close, notification signatures. Business answers become typed results; anything that means
// "ask again later" (network, HTTP 5xx, timeouts, 20000, 40005, ACQ.SYSTEM_ERROR) is thrown as
// AlipayUnavailableError so the caller's retry machinery takes over.
import { createPublicKey, createVerify, type KeyObject, type X509Certificate } from "node:crypto";
import { AlipaySdk } from "alipay-sdk";
import { fenToYuan, yuanToFen } from "../money.js";
import { count, logger } from "../observability.js";
import { AlipayCertificateError, parseCertificates, trustedCertificate } from "./certificates.js";
import { alipayCallTimeoutMs } from "./deadline.js";
import { type AlipayCredentials, normaliseAlipayCredentials } from "./keys.js";
import { isGbkCharset } from "./notificationForm.js";
import { classifyRefundRefusal, interpretRefundQuery, type RefundQueryResult } from "./refundAnswers.js";
import { learn, learnedKey, learnedKeys, learnOnce, recentlyRefused, refuse, takeProbe } from "./rotation.js";
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
 * An answer signed with an Alipay certificate we do not hold yet (its `alipay_cert_sn` is neither
 * ours nor one learned in this container): Alipay rotated its certificate. Carries what verifying
 * it once the certificate is learned needs; never logged (the raw answer holds buyer ids).
 */
class UnknownAlipayCertificateError extends Error {
  override name = "UnknownAlipayCertificateError";
  constructor(
    readonly sn: string,
    readonly responseDataRaw: string,
    readonly responseKey: string,
    readonly serverSign: string,
    readonly traceId: string,
  ) {
    super("answer signed with an unknown Alipay certificate");
  }
}

/** Certificate mode: the SN of Alipay's certificate we hold, and the root bundle new ones must chain to. */
interface CertificateMode {
  alipayCertSn: string;
  rootSn: string;
  roots: X509Certificate[];
}

/** `alipay_cert_sn` of a raw answer (an md5 hex digest), when it carries one. */
export function answerCertSn(raw: string): string | undefined {
  try {
    const sn = (JSON.parse(raw) as { alipay_cert_sn?: unknown }).alipay_cert_sn;
    return typeof sn === "string" && /^[0-9a-f]{32}$/i.test(sn) ? sn.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

const spkiPem = (key: KeyObject) => String(key.export({ type: "spki", format: "pem" }));

/**
 * alipay-sdk, telling an unsigned answer apart, and in certificate mode reading `alipay_cert_sn`,
 * which alipay-sdk's v2 exec ignores. Alipay leaves some error answers unsigned (a bad app id or
 * signature, 20000 aop.ACQ.SYSTEM_ERROR); the SDK then fails inside node:crypto with a TypeError
 * that drops Alipay's code and sub_code, exactly what tells a misconfiguration apart. An answer
 * naming another certificate than ours is verified with that certificate's key once learned
 * (lib/alipay/rotation.ts); unknown, it is thrown back to AlipayGateway.call to fetch it.
 */
class VerifyingSdk extends AlipaySdk {
  certificateMode?: CertificateMode;

  override checkResponseSign(responseDataRaw: string, responseKey: string, serverSign: string, traceId: string): void {
    if (!serverSign) throw new UnsignedAnswerError(responseDataRaw);
    const mode = this.certificateMode;
    const sn = mode && answerCertSn(responseDataRaw);
    if (!mode || !sn || sn === mode.alipayCertSn) {
      super.checkResponseSign(responseDataRaw, responseKey, serverSign, traceId);
      return;
    }
    const publicKey = learnedKey(mode.rootSn, sn);
    if (!publicKey) throw new UnknownAlipayCertificateError(sn, responseDataRaw, responseKey, serverSign, traceId);
    this.withAlipayKey(spkiPem(publicKey), () => super.checkResponseSign(responseDataRaw, responseKey, serverSign, traceId));
  }

  /**
   * Runs a synchronous SDK check with another Alipay key. Synchronous, so no other call of this
   * instance can run in between and see it.
   */
  withAlipayKey<T>(pem: string, check: () => T): T {
    const held = this.config.alipayPublicKey;
    this.config.alipayPublicKey = pem;
    try {
      return check();
    } finally {
      this.config.alipayPublicKey = held;
    }
  }
}

const certificateDownload = "alipay.open.app.alipaycert.download";

export class AlipayGateway {
  private readonly sdk: VerifyingSdk;
  /** Parsed once: verifying with the PEM text would parse it on every notification. */
  private readonly alipayPublicKey: KeyObject;
  private readonly alipayPublicKeyPem: string;
  private readonly certificateMode?: CertificateMode;

  /** Throws AlipayKeyError, naming the key and the problem, when a key cannot be used (checked once, here). */
  constructor(private readonly settings: AlipayGatewaySettings) {
    const keys = normaliseAlipayCredentials(settings);
    this.alipayPublicKey = createPublicKey(keys.alipayPublicKey);
    this.alipayPublicKeyPem = keys.alipayPublicKey;
    this.sdk = new VerifyingSdk({
      appId: settings.appId,
      privateKey: keys.appPrivateKey,
      alipayPublicKey: keys.alipayPublicKey,
      // Certificate mode: the SDK signs and sends both SNs when both are set. Computed here (node:crypto)
      // rather than by the SDK from the certificates (@fidm/x509, left out of the bundles). Answers'
      // alipay_cert_sn is compared by VerifyingSdk (alipay-sdk's v2 exec does not): see call().
      ...(keys.appCertSn && keys.alipayRootCertSn ? { appCertSn: keys.appCertSn, alipayRootCertSn: keys.alipayRootCertSn } : {}),
      keyType: "PKCS8",
      signType: "RSA2",
      gateway: settings.gatewayUrl,
      timeout: settings.timeoutMs,
      camelcase: false,
    });
    if (keys.alipayCertSn && keys.alipayRootCertSn && settings.certificates) {
      this.certificateMode = {
        alipayCertSn: keys.alipayCertSn,
        rootSn: keys.alipayRootCertSn,
        roots: parseCertificates(settings.certificates.alipayRootCert, "ALIPAY_ROOT_CERT"),
      };
      this.sdk.certificateMode = this.certificateMode;
    }
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
   * In certificate mode the keys of the certificates learned in this container after a rotation
   * (lib/alipay/rotation.ts) are tried too: a notification names no certificate.
   */
  verifyNotification(params: Record<string, string>, gbkSignedContent?: Buffer): boolean {
    // The SDK picks the algorithm from the notification's own sign_type (RSA = SHA1withRSA): RSA2 only.
    if (params.sign_type !== "RSA2") return false;
    if (this.checkNotification(params, gbkSignedContent, this.alipayPublicKey, this.alipayPublicKeyPem)) return true;
    if (!this.certificateMode) return false;
    return learnedKeys(this.certificateMode.rootSn).some((key) => this.checkNotification(params, gbkSignedContent, key, spkiPem(key)));
  }

  /**
   * verifyNotification, and when that fails in certificate mode, once a minute per container at
   * most (a forged notification costs nothing more), a signed gateway call whose answer names the
   * certificate Alipay signs with now: alipay.trade.query of `probeOutTradeNo` (one of ours; a
   * trade Alipay does not have answers too). An unknown certificate is learned by call(), then the
   * notification is verified again. Without a probe, Alipay's retry of the notification comes back
   * after the next one, or after a query of the check worker taught this container.
   */
  async verifyNotificationAfterRotation(
    params: Record<string, string>,
    gbkSignedContent: Buffer | undefined,
    probeOutTradeNo: string | undefined,
  ): Promise<boolean> {
    if (this.verifyNotification(params, gbkSignedContent)) return true;
    if (!this.certificateMode || params.sign_type !== "RSA2" || !probeOutTradeNo || !takeProbe()) return false;
    logger.info("notification signature not Alipay's known certificate: asking the gateway which one signs now", {
      outTradeNo: probeOutTradeNo,
    });
    try {
      await this.query(probeOutTradeNo);
    } catch {
      // Counted (and a rotation handled) in call(); the notification stays unverified.
    }
    return this.verifyNotification(params, gbkSignedContent);
  }

  private checkNotification(params: Record<string, string>, gbkSignedContent: Buffer | undefined, key: KeyObject, pem: string): boolean {
    if (isGbkCharset(params.charset)) {
      if (!gbkSignedContent || !params.sign) return false;
      try {
        return createVerify("RSA-SHA256").update(gbkSignedContent).verify(key, params.sign, "base64");
      } catch {
        return false;
      }
    }
    const nonEmpty = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== ""));
    try {
      return this.sdk.withAlipayKey(pem, () => this.sdk.checkNotifySignV2(nonEmpty));
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
  private async call(method: string, bizContent: Record<string, string>, validateSign = true): Promise<AlipayAnswer> {
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
      answer = await this.sdk.exec(method, { timestamp: toAlipayTime(Date.now()), bizContent }, { validateSign });
    } catch (error) {
      try {
        // Alipay rotated its certificate: learned (fetched, checked against the root bundle), the
        // answer verifies with it and the call is no failure; refused, the answer stays unverified.
        if (!(error instanceof UnknownAlipayCertificateError)) throw error;
        answer = await this.afterRotation(error);
      } catch (failure) {
        count("AlipayCallsFailed");
        // Not the SDK's message, nor the SDK's error as `cause` (loggers print causes): its signature
        // and format errors quote the whole response, buyer ids included. Codes and our ids only.
        // Our own errors of the rotation path say what failed in codes and SNs: kept as they are.
        const detail =
          failure instanceof AlipayCertificateError || failure instanceof AlipayUnavailableError
            ? `Alipay certificate rotation: ${failure.message}`
            : describeSdkFailure(method, failure);
        throw new AlipayUnavailableError(`${method} ${bizContent.out_trade_no ?? ""}: ${detail}`);
      }
    }
    if (isSystemError(answer)) count("AlipayCallsFailed");
    return answer;
  }

  /** The answer of `unknown`, verified with its certificate once learned (throws if that fails). */
  private async afterRotation(unknown: UnknownAlipayCertificateError): Promise<AlipayAnswer> {
    await this.learnCertificate(unknown.sn);
    this.sdk.checkResponseSign(unknown.responseDataRaw, unknown.responseKey, unknown.serverSign, unknown.traceId);
    const parsed = JSON.parse(unknown.responseDataRaw) as Record<string, AlipayAnswer | undefined>;
    const answer = parsed[unknown.responseKey] ?? parsed.error_response;
    if (!answer) throw new AlipayCertificateError("answer without its response object");
    return answer;
  }

  /**
   * Fetches Alipay's certificate `sn` (alipay.open.app.alipaycert.download), checks it chains to
   * the configured root bundle and is the certificate `sn` names, and keeps it for this container.
   * A certificate that does not is refused: counted (AlipayCertificatesRefused; the answer stays
   * unverified, AlipayCallsFailed, which pages as alipay-unavailable), logged with its SN and our
   * reason only, and not asked for again for a minute. One download per SN at a time.
   */
  private learnCertificate(sn: string): Promise<KeyObject> {
    const mode = this.certificateMode!;
    if (recentlyRefused(mode.rootSn, sn)) return Promise.reject(new AlipayCertificateError(`certificate ${sn} refused recently`));
    return learnOnce(mode.rootSn, sn, async () => {
      let text: string;
      try {
        text = await this.downloadCertificate(sn);
        const trusted = trustedCertificate(text, mode.roots);
        if (trusted.sn !== sn) throw new AlipayCertificateError("the downloaded certificate is not the one the answer names");
        learn(mode.rootSn, sn, trusted.certificate.publicKey);
        count("AlipayCertificatesLearned");
        logger.warn("Alipay rotated its certificate: learned the new one (replace ALIPAY_PUBLIC_CERT at leisure)", {
          alipayCertSn: sn,
          heldAlipayCertSn: mode.alipayCertSn,
        });
        return trusted.certificate.publicKey;
      } catch (error) {
        if (error instanceof AlipayCertificateError) {
          refuse(mode.rootSn, sn);
          count("AlipayCertificatesRefused");
          // The SN and our own reason only: never the certificate or the answer.
          logger.error("Alipay certificate refused", { alipayCertSn: sn, reason: error.message });
        }
        throw error;
      }
    });
  }

  /**
   * alipay.open.app.alipaycert.download: the PEM of certificate `sn`. Its answer carries no `sign`
   * (nor `alipay_cert_sn`): the certificate is trusted only once it chains to the root bundle.
   */
  private async downloadCertificate(sn: string): Promise<string> {
    const answer = await this.call(certificateDownload, { alipay_cert_sn: sn }, false);
    if (isSystemError(answer)) throw new AlipayUnavailableError(`${certificateDownload}: ${answer.code} ${answer.sub_code ?? ""}`.trim());
    const content = answer.alipay_cert_content;
    if (answer.code !== "10000" || typeof content !== "string" || content === "") {
      const code = /^\d{1,6}$/.test(answer.code ?? "") ? answer.code : "(none)";
      const subCode = /^[\w.-]{1,64}$/.test(answer.sub_code ?? "") ? answer.sub_code : "";
      throw new AlipayCertificateError(`download answered ${code} ${subCode}`.trim());
    }
    return Buffer.from(content, "base64").toString("utf8");
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
