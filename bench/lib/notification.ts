// A genuine Alipay TRADE_SUCCESS notification for attempt 1 of a payment, signed with the local
// stack's Alipay key as simulator/notifier.ts sends it (notify_time and notify_id first, `sign` last).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { outTradeNo } from "../../lib/payments/model.js";
import type { LocalStack } from "../../local/stack.js";
import { loadPrivateKey } from "../../simulator/keys.js";
import type { Trade } from "../../simulator/ledger.js";
import { tradeNotificationParams } from "../../simulator/notifier.js";
import { type Params, rsa2Sign, signContent } from "../../simulator/signing.js";
import { formatGmt8, maskedLogonId, newBuyerId, newNotifyId, newTradeNo } from "../../simulator/values.js";

export { notifyContentType } from "../../simulator/notifier.js";

export function notificationSigner(stack: LocalStack) {
  const alipayKey = loadPrivateKey(readFileSync(join(stack.keysDir, "alipay-private.pem"), "utf8"));
  const app = { appId: stack.functionEnv.ALIPAY_APP_ID!, sellerId: stack.functionEnv.ALIPAY_SELLER_ID!, appPublicKey: "" };
  /** The form body Alipay posts when attempt 1 of `paymentId` is paid. */
  return (payment: { paymentId: string; amountFen: number; subject: string; createdAtMs: number }): string => {
    const buyerId = newBuyerId();
    const paidAtMs = Date.now();
    const trade: Trade = {
      appId: app.appId,
      sellerId: app.sellerId,
      tradeNo: newTradeNo(paidAtMs),
      outTradeNo: outTradeNo(payment.paymentId, 1),
      status: "TRADE_SUCCESS",
      totalFen: payment.amountFen,
      subject: payment.subject,
      buyerId,
      buyerLogonId: maskedLogonId(buyerId),
      createdAtMs: payment.createdAtMs,
      paidAtMs,
      refunds: [],
      refundedFen: 0,
    };
    const params: Params = { notify_time: formatGmt8(paidAtMs), notify_id: newNotifyId(paidAtMs), ...tradeNotificationParams(trade, app) };
    params.sign = rsa2Sign(signContent(params, { excludeSignType: true }), alipayKey);
    return new URLSearchParams(params).toString();
  };
}
