// The Alipay v2 gateway through the official alipay-sdk: App Pay order strings, trade query and
// close, notification signatures. Business answers become typed results; anything that means
// "ask again later" (network, HTTP 5xx, timeouts, 20000, 40005, ACQ.SYSTEM_ERROR) is thrown as
// AlipayUnavailableError so the caller's retry machinery takes over.
import { AlipaySdk } from "alipay-sdk";
import { fenToYuan, yuanToFen } from "../money.js";
import { toAlipayTime } from "./time.js";

export class AlipayUnavailableError extends Error {
  override name = "AlipayUnavailableError";
}

export type AlipayTradeStatus = "WAIT_BUYER_PAY" | "TRADE_SUCCESS" | "TRADE_FINISHED" | "TRADE_CLOSED";

export type TradeQueryResult =
  | { kind: "not_found" }
  | { kind: "trade"; status: AlipayTradeStatus; tradeNo: string; totalFen: number; buyerId?: string; paidAt?: string };

/** "refused": the trade is no longer open (paid, finished or already closed): query to learn which. */
export type TradeCloseResult = "closed" | "not_found" | "refused";

export interface OrderStringInput {
  outTradeNo: string;
  amountFen: number;
  subject: string;
  body?: string;
  expiresAtMs: number;
}

export interface AlipayGatewaySettings {
  appId: string;
  appPrivateKey: string;
  alipayPublicKey: string;
  gatewayUrl: string;
  notifyUrl: string;
  timeoutMs: number;
}

const retryableCodes = new Set(["20000", "40005"]);
const retryableSubCodes = new Set(["ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR"]);

/** A gateway method's answer: Alipay's envelope fields and the method's own, all strings. */
type AlipayAnswer = Record<string, string | undefined>;

export class AlipayGateway {
  private readonly sdk: AlipaySdk;

  constructor(private readonly settings: AlipayGatewaySettings) {
    this.sdk = new AlipaySdk({
      appId: settings.appId,
      privateKey: settings.appPrivateKey.trim(),
      alipayPublicKey: settings.alipayPublicKey.trim(),
      keyType: settings.appPrivateKey.includes("BEGIN RSA PRIVATE KEY") ? "PKCS1" : "PKCS8",
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
    this.expectSuccess("alipay.trade.query", result);
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
    this.expectSuccess("alipay.trade.close", result);
    return "closed";
  }

  /** Verifies an asynchronous notification, decoded once; Alipay drops empty values before signing. */
  verifyNotification(params: Record<string, string>): boolean {
    const nonEmpty = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== ""));
    try {
      return this.sdk.checkNotifySignV2(nonEmpty);
    } catch {
      return false;
    }
  }

  private async call(method: string, bizContent: Record<string, string>): Promise<AlipayAnswer> {
    try {
      return await this.sdk.exec(method, { timestamp: toAlipayTime(Date.now()), bizContent }, { validateSign: true });
    } catch (error) {
      throw new AlipayUnavailableError(`${method}: ${(error as Error).message}`, { cause: error });
    }
  }

  private expectSuccess(method: string, result: AlipayAnswer): void {
    if (result.code === "10000") return;
    const detail = `${method}: ${result.code} ${result.sub_code ?? ""} ${result.sub_msg ?? result.msg ?? ""}`.trim();
    if (retryableCodes.has(result.code ?? "") || retryableSubCodes.has(result.sub_code ?? "")) throw new AlipayUnavailableError(detail);
    // Anything else is a bug or misconfiguration on our side: also retried, then dead-lettered and alarmed.
    throw new AlipayUnavailableError(`unexpected answer ${detail}`);
  }
}
