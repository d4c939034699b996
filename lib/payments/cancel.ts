// A business system cancels a payment: no further attempts. A pending attempt is closed at Alipay
// first; if the buyer paid meanwhile, the payment is PAID and the answer says so.
import { HttpError } from "../api/errors.js";
import { config } from "../config.js";
import { count, logger } from "../observability.js";
import { type PaymentRecord, pendingAttempt } from "./model.js";
import { readBusinessPayment } from "./read.js";
import { settleOpen } from "./repository.js";
import { retireAttempt } from "./settle.js";

export async function cancelPayment(businessId: string, paymentId: string, now = Date.now()): Promise<PaymentRecord> {
  const marginMs = (await config()).closeMarginSeconds * 1000;
  for (let round = 0; round < 3; round += 1) {
    const payment = await readBusinessPayment(businessId, paymentId);
    if (payment.status === "CANCELED") return payment;
    if (payment.status === "PAID") throw new HttpError("already_paid", `Payment ${paymentId} is paid; refund it instead.`);
    if (payment.status === "EXPIRED") throw new HttpError("payment_expired", `Payment ${paymentId} has expired.`);
    const attempt = pendingAttempt(payment);
    if (attempt) {
      // Closed at Alipay even when Alipay has no trade yet: money that still arrives on that
      // order string is recorded as a refund, like any payment after a close.
      const outcome = await retireAttempt(
        payment,
        attempt,
        { reason: "canceled", settleAs: { status: "CANCELED" }, closeMarginMs: marginMs, acceptUnknown: true },
        now,
      );
      if (outcome === "paid" || outcome === "duplicate")
        throw new HttpError("already_paid", `Payment ${paymentId} was paid before it could be canceled.`);
    } else {
      const written = await settleOpen(payment, "CANCELED", "canceled by the business system", now);
      if (written.ok) count("PaymentsCanceled");
    }
    const after = await readBusinessPayment(businessId, paymentId);
    if (after.status === "CANCELED") {
      logger.info("payment canceled", { paymentId });
      return after;
    }
  }
  throw new HttpError("concurrent_update");
}
