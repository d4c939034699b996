// Reading refunds: a business system sees only the refunds of its own payments.
import { HttpError } from "../api/errors.js";
import { readBusinessPayment } from "../payments/read.js";
import { isRefundId, type RefundView, refundView } from "./model.js";
import { getRefund, listRefunds } from "./repository.js";

export async function readBusinessRefund(businessId: string, paymentId: string, refundId: string): Promise<RefundView> {
  await readBusinessPayment(businessId, paymentId);
  const refund = isRefundId(refundId) ? await getRefund(paymentId, refundId) : undefined;
  if (!refund || refund.businessId !== businessId)
    throw new HttpError("refund_not_found", `No refund ${refundId} of payment ${paymentId}.`);
  return refundView(refund);
}

/** A payment's refunds, oldest first. */
export async function readBusinessRefunds(businessId: string, paymentId: string): Promise<RefundView[]> {
  await readBusinessPayment(businessId, paymentId);
  return (await listRefunds(paymentId)).filter((r) => r.businessId === businessId).map(refundView);
}
