// Reading payments: a business system sees only its own, an app user only those they owe. While
// an attempt is pending, the app's read asks Alipay inline (bounded in time, at most once every
// few seconds per payment per container) so a polling app sees a payment before the notification.
import { alipay } from "../alipay/client.js";
import { HttpError } from "../api/errors.js";
import { logger } from "../observability.js";
import { derivePaymentId, isPaymentId, type PaymentRecord, pendingAttempt } from "./model.js";
import { getPayment } from "./repository.js";
import { applyQueriedPayment } from "./settle.js";

export const paymentNotFound = (paymentId: string) => new HttpError("payment_not_found", `No payment ${paymentId}.`);
const notFound = paymentNotFound;

/** Someone else's payment does not exist for you. */
export async function readBusinessPayment(businessId: string, paymentId: string): Promise<PaymentRecord> {
  const payment = isPaymentId(paymentId) ? await getPayment(paymentId) : undefined;
  if (!payment || payment.businessId !== businessId) throw notFound(paymentId);
  return payment;
}

export async function findBusinessPayment(businessId: string, businessOrderId: string): Promise<PaymentRecord> {
  const payment = await getPayment(derivePaymentId(businessId, businessOrderId));
  if (!payment || payment.businessId !== businessId)
    throw new HttpError("payment_not_found", `No payment for business order ${businessOrderId}.`);
  return payment;
}

export async function readOwnPayment(userId: string, paymentId: string): Promise<PaymentRecord> {
  return ownPayment(userId, paymentId, isPaymentId(paymentId) ? await getPayment(paymentId) : undefined);
}

/** The payment if it is this user's (found however: read, or handed back by a failed write). */
export function ownPayment(userId: string, paymentId: string, payment: PaymentRecord | undefined): PaymentRecord {
  if (!payment || payment.userId !== userId) throw notFound(paymentId);
  return payment;
}

const inlineQueryTimeoutMs = 1500;
const inlineQueryMinIntervalMs = 3000;
const lastInlineQuery = new Map<string, number>();

export async function readPaymentForApp(userId: string, paymentId: string, now = Date.now()): Promise<PaymentRecord> {
  const payment = await readOwnPayment(userId, paymentId);
  const attempt = pendingAttempt(payment);
  if (payment.status !== "OPEN" || !attempt || !shouldQueryInline(paymentId, now)) return payment;
  try {
    // The query's own HTTP timeout bounds it: nothing is left running after the response.
    const trade = await (await alipay(inlineQueryTimeoutMs)).query(attempt.outTradeNo);
    if (!(await applyQueriedPayment(payment, attempt, trade, now))) return payment;
    return (await getPayment(paymentId)) ?? payment;
  } catch (error) {
    // The stored state is still a correct answer; the sweep keeps asking.
    logger.warn("inline query failed", { paymentId, error: String(error) });
    return payment;
  }
}

function shouldQueryInline(paymentId: string, now: number): boolean {
  const last = lastInlineQuery.get(paymentId);
  if (last !== undefined && now - last < inlineQueryMinIntervalMs) return false;
  lastInlineQuery.set(paymentId, now);
  if (lastInlineQuery.size > 10_000) lastInlineQuery.clear();
  return true;
}
