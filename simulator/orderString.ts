// The App Pay order string `sdkExecute` builds: `k=encodeURIComponent(v)` joined by `&`, signed with
// the app's key over every param but `sign` (empty values dropped), sorted, raw `k=v` joined by `&`.
import type { KeyObject } from "node:crypto";
import { SimulatorError } from "./scenarios.js";
import { rsa2Verify, signContent, type Params } from "./signing.js";
import { maxTotalFen, minTotalFen, parseGmt8, parseYuan } from "./values.js";
import type { SimulatorApp } from "./types.js";

export interface KnownApp {
  app: SimulatorApp;
  key: KeyObject;
  /** Certificate mode: the SN of the app's certificate. */
  appCertSn?: string;
}

/**
 * Certificate mode: an app with a certificate must name it (`app_cert_sn`) and the root bundle
 * (`alipay_root_cert_sn`) in every signed request; undefined when the params are acceptable.
 */
export function certificateProblem(
  known: KnownApp,
  params: Params,
  rootCertSn: string | undefined,
): { subCode: string; message: string } | undefined {
  if (!known.appCertSn) return undefined;
  if (!params.app_cert_sn) return { subCode: "isv.missing-app-cert-sn", message: "缺少应用公钥证书序列号 app_cert_sn" };
  if (params.app_cert_sn !== known.appCertSn) return { subCode: "isv.invalid-app-cert-sn", message: "应用公钥证书序列号不匹配" };
  if (!params.alipay_root_cert_sn)
    return { subCode: "isv.missing-alipay-root-cert-sn", message: "缺少支付宝根证书序列号 alipay_root_cert_sn" };
  if (params.alipay_root_cert_sn !== rootCertSn) return { subCode: "isv.invalid-alipay-root-cert-sn", message: "支付宝根证书序列号不匹配" };
  return undefined;
}

export interface CheckedOrder {
  app: SimulatorApp;
  params: Params;
  outTradeNo: string;
  totalFen: number;
  subject: string;
  body?: string;
  passbackParams?: string;
  notifyUrl?: string;
  timeExpireMs?: number;
  timeoutExpress?: string;
}

/** Splits on `&` and decodes each value exactly once (as the mobile SDK hands it to Alipay). */
export function parseOrderString(orderString: string): Params {
  if (typeof orderString !== "string" || orderString.trim() === "") {
    throw new SimulatorError(400, "INVALID_ORDER_STRING", "orderString is required");
  }
  const params: Params = {};
  for (const part of orderString.trim().split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw new SimulatorError(400, "INVALID_ORDER_STRING", `malformed pair "${part.slice(0, 40)}"`);
    const key = part.slice(0, eq);
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1));
    } catch {
      throw new SimulatorError(400, "INVALID_ORDER_STRING", `value of ${key} is not valid percent-encoding`);
    }
    if (key in params) throw new SimulatorError(400, "INVALID_ORDER_STRING", `duplicate parameter ${key}`);
    params[key] = value;
  }
  return params;
}

const outTradeNoPattern = /^[A-Za-z0-9_]{1,64}$/;

/** Alipay's documented limits for alipay.trade.app.pay, in UTF-16 code units (its gateway is Java). */
export const maxSubjectLength = 256;
export const maxBodyLength = 128;
/** `time_expire` / `timeout_express` may reach at most 15 days ahead. */
export const maxPayableMs = 15 * 24 * 3600 * 1000;
/** Alipay refuses its own separators in subject and body. */
const forbiddenTextPattern = /[/=&]/;

/**
 * The common parameters of an order string as Alipay checks them: a timestamp it can read, version
 * 1.0, charset utf-8, a notify_url (required for App Pay in Alipay's parameter table). The timestamp's
 * age is not checked: an order string stays payable until time_expire, however old it is.
 */
function checkCommonParams(params: Params): void {
  if (!params.timestamp) throw new SimulatorError(400, "isv.missing-timestamp", "缺少时间戳参数");
  if (parseGmt8(params.timestamp) === undefined) {
    throw new SimulatorError(400, "isv.invalid-timestamp", `非法的时间戳参数 (yyyy-MM-dd HH:mm:ss, got ${params.timestamp})`);
  }
  if (!params.version) throw new SimulatorError(400, "isv.missing-version", "缺少版本参数");
  if (params.version !== "1.0") throw new SimulatorError(400, "isv.invalid-parameter", `version must be 1.0, got ${params.version}`);
  if ((params.charset ?? "").toLowerCase() !== "utf-8") {
    throw new SimulatorError(400, "isv.invalid-charset", `字符集错误: charset must be utf-8, got ${params.charset ?? "nothing"}`);
  }
  if (!params.notify_url) throw new SimulatorError(400, "isv.missing-notify-url", "notify_url is required for alipay.trade.app.pay");
}

/**
 * Everything Alipay checks before it shows the buyer the cashier: method, app, common parameters,
 * signature, and the biz_content fields. Expiry and trade state are the caller's business.
 */
export function checkOrderString(orderString: string, apps: Map<string, KnownApp>, rootCertSn?: string): CheckedOrder {
  const params = parseOrderString(orderString);
  if (params.method !== "alipay.trade.app.pay") {
    throw new SimulatorError(400, "isv.invalid-method", `method must be alipay.trade.app.pay, got ${params.method ?? "nothing"}`);
  }
  const known = params.app_id ? apps.get(params.app_id) : undefined;
  if (!known) throw new SimulatorError(400, "isv.invalid-app-id", `无效的AppID参数 (${params.app_id ?? "missing"})`);
  checkCommonParams(params);
  if (!params.sign) throw new SimulatorError(400, "isv.missing-signature", "缺少签名参数");
  if (params.sign_type !== "RSA2") {
    throw new SimulatorError(400, "isv.invalid-signature-type", `无效的签名类型 (${params.sign_type ?? "missing"})`);
  }
  const content = signContent(params);
  if (!rsa2Verify(content, params.sign, known.key)) {
    throw new SimulatorError(400, "isv.invalid-signature", `验签出错，验签字符串为：${content}`);
  }
  const certificate = certificateProblem(known, params, rootCertSn);
  if (certificate) throw new SimulatorError(400, certificate.subCode, certificate.message);
  let biz: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(params.biz_content ?? "");
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    biz = parsed as Record<string, unknown>;
  } catch {
    throw new SimulatorError(400, "ACQ.INVALID_PARAMETER", "biz_content is not a JSON object");
  }
  const outTradeNo = biz.out_trade_no;
  if (typeof outTradeNo !== "string" || !outTradeNoPattern.test(outTradeNo)) {
    throw new SimulatorError(400, "ACQ.INVALID_PARAMETER", "out_trade_no must be 1-64 letters, digits or _");
  }
  const totalFen = parseYuan(biz.total_amount);
  if (totalFen === undefined || totalFen < minTotalFen || totalFen > maxTotalFen) {
    throw new SimulatorError(400, "ACQ.INVALID_PARAMETER", `total_amount must be 0.01..100000000.00 yuan, got ${String(biz.total_amount)}`);
  }
  const subject = biz.subject;
  // `.length` counts UTF-16 code units: an emoji counts 2 (the backend's AlipayText counts the same way).
  if (typeof subject !== "string" || subject.trim() === "" || subject.length > maxSubjectLength) {
    throw new SimulatorError(400, "ACQ.INVALID_PARAMETER", `subject is required (at most ${maxSubjectLength} UTF-16 code units)`);
  }
  if (forbiddenTextPattern.test(subject)) {
    throw new SimulatorError(400, "ACQ.INVALID_PARAMETER", "subject must not contain /, = or &");
  }
  if (biz.body !== undefined && (typeof biz.body !== "string" || biz.body.length > maxBodyLength)) {
    throw new SimulatorError(400, "ACQ.INVALID_PARAMETER", `body must be text of at most ${maxBodyLength} UTF-16 code units`);
  }
  if (biz.product_code === undefined) {
    throw new SimulatorError(400, "ACQ.INVALID_PARAMETER", "product_code is required (QUICK_MSECURITY_PAY for App Pay)");
  }
  if (biz.product_code !== "QUICK_MSECURITY_PAY") {
    throw new SimulatorError(
      400,
      "ACQ.INVALID_PARAMETER",
      `product_code for App Pay is QUICK_MSECURITY_PAY, got ${String(biz.product_code)}`,
    );
  }
  let timeExpireMs: number | undefined;
  if (biz.time_expire !== undefined) {
    timeExpireMs = typeof biz.time_expire === "string" ? parseGmt8(biz.time_expire) : undefined;
    if (timeExpireMs === undefined) {
      throw new SimulatorError(400, "ACQ.INVALID_PARAMETER", `time_expire must be yyyy-MM-dd HH:mm:ss, got ${String(biz.time_expire)}`);
    }
    if (timeExpireMs > Date.now() + maxPayableMs) {
      throw new SimulatorError(400, "ACQ.INVALID_PARAMETER", `time_expire ${biz.time_expire} is more than 15 days ahead`);
    }
  }
  const optionalString = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  const order: CheckedOrder = { app: known.app, params, outTradeNo, totalFen, subject };
  const body = optionalString(biz.body);
  const passbackParams = optionalString(biz.passback_params);
  const notifyUrl = optionalString(params.notify_url) ?? known.app.notifyUrl;
  const timeoutExpress = optionalString(biz.timeout_express);
  if (body !== undefined) order.body = body;
  if (passbackParams !== undefined) order.passbackParams = passbackParams;
  if (notifyUrl !== undefined) order.notifyUrl = notifyUrl;
  if (timeExpireMs !== undefined) order.timeExpireMs = timeExpireMs;
  if (timeoutExpress !== undefined) order.timeoutExpress = timeoutExpress;
  return order;
}
