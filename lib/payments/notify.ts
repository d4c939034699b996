// Alipay's asynchronous notification: verify, match to our payment's attempt, apply at most once.
// Only a durable outcome is acknowledged with `success`; a forged or mismatched notification
// changes nothing, is logged with its reason and counted.
import { alipay } from "../alipay/client.js";
import { fromAlipayTime } from "../alipay/time.js";
import { config } from "../config.js";
import { yuanToFen } from "../money.js";
import { count, logger } from "../observability.js";
import { parseOutTradeNo } from "./model.js";
import { closeAttempt, getPayment } from "./repository.js";
import { applyPayment, settlementAfterClose } from "./settle.js";

export type NotifyOutcome =
  | { kind: "applied" | "duplicate" | "refund_needed" | "closed" | "ignored"; detail?: string }
  | { kind: "rejected"; reason: RejectReason };

export type RejectReason =
  | "malformed"
  | "missing_signature"
  | "unsupported_sign_type"
  | "bad_signature"
  | "app_id_mismatch"
  | "seller_id_mismatch"
  | "unknown_order"
  | "amount_mismatch"
  | "unknown_status";

const maxNotifyBytes = 64 * 1024;

/** Parses the raw form body exactly once (Alipay's content type is malformed, so never trust it). */
export function parseNotifyBody(raw: string): Record<string, string> | undefined {
  if (raw.length === 0 || raw.length > maxNotifyBytes) return undefined;
  const params: Record<string, string> = {};
  try {
    for (const [key, value] of new URLSearchParams(raw)) {
      if (key in params) return undefined; // a repeated field is never Alipay's
      params[key] = value;
    }
  } catch {
    return undefined;
  }
  return params;
}

export async function handleNotification(raw: string, now = Date.now()): Promise<NotifyOutcome> {
  const params = parseNotifyBody(raw);
  if (!params) return reject("malformed", {});
  if (!params.sign) return reject("missing_signature", params);
  // RSA2 only: alipay-sdk would pick SHA1withRSA for `sign_type=RSA`, which Alipay has retired.
  if (params.sign_type !== "RSA2") return reject("unsupported_sign_type", params);
  if (!(await alipay()).verifyNotification(params)) return reject("bad_signature", params);

  // Correlates every later log line of this request with Alipay's notification and our order.
  logger.appendKeys({ notifyId: params.notify_id, outTradeNo: params.out_trade_no });
  const settings = await config();
  if (params.app_id !== settings.alipay.appId) return reject("app_id_mismatch", params);
  if (params.seller_id !== settings.alipay.sellerId) return reject("seller_id_mismatch", params);
  const ours = parseOutTradeNo(params.out_trade_no);
  const payment = ours ? await getPayment(ours.paymentId) : undefined;
  const attempt = ours && payment?.attempts[ours.attemptNo - 1];
  if (!payment || !attempt) return reject("unknown_order", params);
  if (yuanToFen(params.total_amount) !== payment.amountFen) return reject("amount_mismatch", params);

  const context = {
    paymentId: payment.paymentId,
    attemptNo: attempt.attemptNo,
    notifyId: params.notify_id,
    tradeStatus: params.trade_status,
  };
  switch (params.trade_status) {
    case "TRADE_SUCCESS":
    case "TRADE_FINISHED": {
      if (params.refund_fee && yuanToFen(params.refund_fee) !== 0) {
        // Refund notifications belong to the refund capability; acknowledged, nothing to change yet.
        logger.info("refund notification acknowledged", context);
        return { kind: "ignored", detail: "refund" };
      }
      if (!params.trade_no) return reject("malformed", params);
      const outcome = await applyPayment(
        payment,
        attempt.attemptNo,
        {
          tradeNo: params.trade_no,
          totalFen: payment.amountFen,
          buyerId: params.buyer_id ?? params.buyer_open_id,
          paidAt: fromAlipayTime(params.gmt_payment) ?? now,
          via: "notify",
        },
        now,
      );
      logger.info("notification applied", { ...context, outcome });
      return { kind: outcome === "paid" ? "applied" : outcome };
    }
    case "TRADE_CLOSED": {
      // For App Pay: unpaid and timed out (or fully refunded, which the refund capability handles).
      if (attempt.status !== "PENDING") return { kind: "duplicate" };
      const then = settlementAfterClose(payment, now, settings.closeMarginSeconds * 1000);
      const written = await closeAttempt(payment.paymentId, attempt.attemptNo, "alipay_closed", then, now);
      if (!written.ok) return { kind: "duplicate" };
      count("AttemptsClosed", { name: "reason", value: "alipay_closed" });
      if (then.status === "EXPIRED") count("PaymentsExpired");
      return { kind: "closed" };
    }
    case "WAIT_BUYER_PAY":
      return { kind: "ignored", detail: "waiting" };
    default:
      return reject("unknown_status", params);
  }
}

function reject(reason: RejectReason, params: Record<string, string>): NotifyOutcome {
  count("NotificationsRejected", { name: "reason", value: reason });
  // Never the buyer's identifiers; enough to find the notification at Alipay.
  logger.warn("notification rejected", {
    reason,
    notifyId: params.notify_id,
    outTradeNo: params.out_trade_no,
    appId: params.app_id,
    tradeStatus: params.trade_status,
  });
  return { kind: "rejected", reason };
}
