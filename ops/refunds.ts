// `refund list`, `refund show` and `refund retry`: a payment's refunds as an operator needs to see
// them, and the refund worker (lib/refunds/check.ts) run on demand on one PENDING refund.
import type { PaymentRecord } from "../lib/payments/model.js";
import { type RefundCheckOutcome, checkRefund } from "../lib/refunds/check.js";
import { isRefundId, type RefundRecord, type RefundStatus } from "../lib/refunds/model.js";
import { getRefund } from "../lib/refunds/repository.js";
import { OpsError, UsageError } from "./errors.js";
import { requirePayment } from "./payments.js";
import { paymentRefunds, type RefundReport, type RefundTotals, refundReport } from "./refundReport.js";

export type { RefundReport, RefundTotals } from "./refundReport.js";

export interface RefundListing {
  paymentId: string;
  businessId: string;
  paymentStatus: PaymentRecord["status"];
  totals: RefundTotals;
  refunds: RefundReport[];
}

export async function listRefunds(paymentId: string, { now = Date.now() }: { now?: number } = {}): Promise<RefundListing> {
  const payment = await requirePayment(paymentId);
  const { refunds, totals } = await paymentRefunds(payment, now);
  return { paymentId: payment.paymentId, businessId: payment.businessId, paymentStatus: payment.status, totals, refunds };
}

export function checkRefundId(value: string | undefined): string {
  if (!value) throw new UsageError("a refund id is required");
  if (!isRefundId(value)) throw new UsageError(`"${value}" is not a refund id (ref followed by 29 hex digits)`);
  return value;
}

async function requireRefund(paymentId: string, refundId: string): Promise<{ payment: PaymentRecord; refund: RefundRecord }> {
  const id = checkRefundId(refundId);
  const payment = await requirePayment(paymentId);
  const refund = await getRefund(payment.paymentId, id);
  if (!refund) {
    throw new OpsError(
      `payment ${payment.paymentId} has no refund ${id}`,
      1,
      `Run \`npm run ops -- refund list ${payment.paymentId}\` for its refunds.`,
    );
  }
  return { payment, refund };
}

export async function showRefund(paymentId: string, refundId: string, { now = Date.now() }: { now?: number } = {}): Promise<RefundReport> {
  return refundReport((await requireRefund(paymentId, refundId)).refund, now);
}

export type RetryOutcome = Exclude<RefundCheckOutcome, "not_found">;

export interface RetryReport {
  paymentId: string;
  refundId: string;
  outcome: RetryOutcome;
  /** What the outcome means, in one sentence. */
  meaning: string;
  before: { status: RefundStatus; sent: boolean };
  after: RefundReport;
}

const meanings: Record<RetryOutcome, string> = {
  succeeded: "Alipay has refunded it (its answer or the refund query): the refund is SUCCEEDED and refund.succeeded goes out.",
  failed:
    "Alipay refused the refund (see the failure code): the refund is FAILED, its amount can be refunded again, and refund.failed goes out.",
  waiting:
    "Alipay holds this out_request_no but has not confirmed that money moved: the refund stays PENDING and the sweep asks the refund query again.",
  settled: "The refund was settled meanwhile (SUCCEEDED or FAILED): nothing to do.",
};

/**
 * Runs the refund worker (lib/refunds/check.ts) on one PENDING refund now, exactly as a message from
 * the sweep would: a refund already sent is asked about first (alipay.trade.fastpay.refund.query),
 * and is sent again only under its own out_request_no, never a new one.
 */
export async function retryRefund(
  paymentId: string,
  refundId: string,
  { now = () => Date.now() }: { now?: () => number } = {},
): Promise<RetryReport> {
  const { payment, refund } = await requireRefund(paymentId, refundId);
  if (refund.status !== "PENDING") {
    throw new OpsError(
      `refund ${refund.refundId} is ${refund.status}: only a PENDING refund can be retried`,
      1,
      refund.status === "FAILED"
        ? "A FAILED refund released its amount: the business system can ask for a new refund (a new Idempotency-Key)."
        : "It is refunded at Alipay already: nothing to do.",
    );
  }
  const outcome = await checkRefund(payment.paymentId, refund.refundId, now);
  if (outcome === "not_found") throw new OpsError(`payment ${payment.paymentId} has no refund ${refund.refundId}`);
  const after = await showRefund(payment.paymentId, refund.refundId, { now: now() });
  return {
    paymentId: payment.paymentId,
    refundId: refund.refundId,
    outcome,
    meaning: meanings[outcome],
    before: { status: refund.status, sent: refund.sentAt !== undefined },
    after,
  };
}
