// Alipay's asynchronous notification: verify, match to our payment's attempt, apply at most once.
// Only a durable outcome is acknowledged with `success`; a forged or mismatched notification
// changes nothing, is logged with its reason and counted: NotificationsRejected per reason (the
// dashboard), and apart by who can have sent it (the alarms): NotificationsUnverified for what anyone
// on the internet can POST to the public URL (never pages), NotificationsMismatched for what passed
// Alipay's signature and still does not match (pages: only Alipay, or a holder of its key, sends it).
import { alipay } from "../alipay/client.js";
import { parseNotificationForm } from "../alipay/notificationForm.js";
import { fromAlipayTime } from "../alipay/time.js";
import { config } from "../config.js";
import { yuanToFen } from "../money.js";
import { count, logger } from "../observability.js";
import { isRefundId } from "../refunds/model.js";
import { refundSucceeded } from "../refunds/check.js";
import { getRefund } from "../refunds/repository.js";
import { type Payment, parseOutTradeNo } from "./model.js";
import { closeAttempt, getPayment, markPaid } from "./repository.js";
import { type PaymentOutcome, paymentApplied, paymentNotApplied, settlementAfterClose } from "./settle.js";

export type NotifyOutcome =
  | { kind: "applied" | "duplicate" | "refund_needed" | "closed" | "ignored"; detail?: string }
  | { kind: "rejected"; reason: RejectReason };

/** Reasons for a notification nobody has vouched for: anyone can send these. */
export const unverifiedReasons = ["malformed", "missing_signature", "unsupported_sign_type", "bad_signature"] as const;
/** Reasons for a notification that passed Alipay's signature and still does not match our payment. */
export const mismatchReasons = [
  "app_id_mismatch",
  "seller_id_mismatch",
  "unknown_order",
  "amount_mismatch",
  "unknown_status",
  "missing_trade_no",
] as const;

export type RejectReason = (typeof unverifiedReasons)[number] | (typeof mismatchReasons)[number];

const isUnverified = (reason: RejectReason): boolean => (unverifiedReasons as readonly string[]).includes(reason);

export async function handleNotification(raw: string, now = Date.now()): Promise<NotifyOutcome> {
  // Parsed exactly once, in its own charset (Alipay's content type is malformed, so never trusted).
  const form = parseNotificationForm(raw);
  if (!form) return reject("malformed", {});
  const params = form.params;
  if (!params.sign) return reject("missing_signature", params);
  // RSA2 only: alipay-sdk would pick SHA1withRSA for `sign_type=RSA`, which Alipay has retired.
  if (params.sign_type !== "RSA2") return reject("unsupported_sign_type", params);
  // After Alipay rotates its certificate (certificate mode), the gateway learns the new one; a
  // notification for one of our orders may ask it once a minute per container (lib/alipay/rotation.ts).
  const probe = parseOutTradeNo(params.out_trade_no) ? params.out_trade_no : undefined;
  if (!(await (await alipay()).verifyNotificationAfterRotation(params, form.gbkSignedContent, probe))) {
    return reject("bad_signature", params);
  }

  // Correlates every later log line of this request with Alipay's notification and our order.
  logger.appendKeys({ notifyId: params.notify_id, outTradeNo: params.out_trade_no });
  const settings = await config();
  if (params.app_id !== settings.alipay.appId) return reject("app_id_mismatch", params);
  if (params.seller_id !== settings.alipay.sellerId) return reject("seller_id_mismatch", params);
  const ours = parseOutTradeNo(params.out_trade_no);
  const notifiedFen = yuanToFen(params.total_amount);
  if (ours && params.trade_no && notifiedFen !== undefined && isPaymentNotification(params)) {
    // The common case in one request: the write to PAID, conditional on what a read would have
    // checked (open, this attempt pending, the notified amount). If it fails, the payment comes back.
    return applyPaymentNotification(ours.paymentId, ours.attemptNo, params.trade_no, notifiedFen, params, now);
  }
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
  // A refund notification (a partial refund: TRADE_SUCCESS/FINISHED; a full one: TRADE_CLOSED of a
  // paid trade) names the refund by out_biz_no. It is never a payment, nor an unpaid attempt closing.
  if (isRefundNotification(params)) {
    return applyRefundNotification(payment.paymentId, params, context, now);
  }
  switch (params.trade_status) {
    case "TRADE_SUCCESS":
    case "TRADE_FINISHED":
      // Without trade_no (isPaymentNotification took the rest): signed, yet not what Alipay sends.
      return reject("missing_trade_no", params);
    case "TRADE_CLOSED": {
      // For App Pay: unpaid and timed out, or fully refunded (a paid attempt, which stays PAID).
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

/** A refund notification names the refund (out_biz_no) or carries the trade's refunded total. */
function isRefundNotification(params: Record<string, string>): boolean {
  return Boolean(params.out_biz_no || (params.refund_fee && yuanToFen(params.refund_fee) !== 0));
}

/** A payment (not a refund) notification: TRADE_SUCCESS / TRADE_FINISHED without a refund in it. */
function isPaymentNotification(params: Record<string, string>): boolean {
  return !isRefundNotification(params) && (params.trade_status === "TRADE_SUCCESS" || params.trade_status === "TRADE_FINISHED");
}

async function applyPaymentNotification(
  paymentId: string,
  attemptNo: number,
  tradeNo: string,
  amountFen: number,
  params: Record<string, string>,
  now: number,
): Promise<NotifyOutcome> {
  const paid: Payment = {
    tradeNo,
    totalFen: amountFen,
    buyerId: params.buyer_id ?? params.buyer_open_id,
    paidAt: fromAlipayTime(params.gmt_payment) ?? now,
    via: "notify",
  };
  const context = { paymentId, attemptNo, notifyId: params.notify_id, tradeStatus: params.trade_status };
  const written = await markPaid(paymentId, attemptNo, paid, now, amountFen);
  let outcome: PaymentOutcome;
  if (written.ok) {
    outcome = paymentApplied(paymentId, attemptNo, paid);
  } else {
    // A failed condition: tell why from the payment as it is (read only if it did not come back).
    const current = written.current ?? (await getPayment(paymentId));
    if (!current?.attempts[attemptNo - 1]) return reject("unknown_order", params);
    if (amountFen !== current.amountFen) return reject("amount_mismatch", params);
    outcome = await paymentNotApplied(current, attemptNo, paid, now);
  }
  logger.info("notification applied", { ...context, outcome });
  return { kind: outcome === "paid" ? "applied" : outcome };
}

/**
 * Alipay says it refunded `out_biz_no` (our refund id, the out_request_no) of trade `trade_no`: a
 * PENDING refund of ours becomes SUCCEEDED through the worker's own conditional write, so it is
 * applied at most once (a duplicate, or the worker's query getting there first, changes nothing).
 */
async function applyRefundNotification(
  paymentId: string,
  params: Record<string, string>,
  context: Record<string, unknown>,
  now: number,
): Promise<NotifyOutcome> {
  const refundId = params.out_biz_no;
  const refund = refundId && isRefundId(refundId) ? await getRefund(paymentId, refundId) : undefined;
  if (!refund) {
    // Not one of ours (a refund made by hand at Alipay): nothing here to change.
    logger.warn("refund notification for no refund of ours", { ...context, outBizNo: refundId });
    return { kind: "ignored", detail: "refund" };
  }
  const refundedFen = yuanToFen(params.refund_fee) ?? Number.NaN;
  // refund_fee is the trade's cumulative refunded amount: it covers this refund if it is this refund's.
  if (refund.tradeNo !== params.trade_no || !(refundedFen >= refund.amountFen)) {
    logger.warn("refund notification does not match the refund", { ...context, refundId, tradeNo: params.trade_no });
    return { kind: "ignored", detail: "refund_mismatch" };
  }
  if (refund.status !== "PENDING" || !(await refundSucceeded(refund, now, "notify"))) return { kind: "duplicate", detail: "refund" };
  return { kind: "applied", detail: "refund" };
}

function reject(reason: RejectReason, params: Record<string, string>): NotifyOutcome {
  count("NotificationsRejected", { name: "reason", value: reason });
  if (isUnverified(reason)) count("NotificationsUnverified");
  else count("NotificationsMismatched");
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
