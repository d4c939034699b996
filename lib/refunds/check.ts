// The refund worker: one PENDING refund, due in the sweep index, sent to Alipay exactly once.
//   Never sent: mark it sent, then alipay.trade.refund with its fixed out_request_no (the refund id).
//   Sent before (the outcome was unknown: timeout, 5xx, system error, a crash): ask
//            alipay.trade.fastpay.refund.query first; only if Alipay has no refund under that number
//            is the same request sent again, never a new number.
//   Refunded -> SUCCEEDED. Refused (over-refund, trade closed or finished) -> FAILED, its amount
//   released. Alipay being unavailable throws: the message is retried with backoff, and the next
//   check starts with the query. Every refusal is read by one table (lib/alipay/refundAnswers.ts):
//   "retry" checks again later with the same request (paging when a person must act meanwhile:
//   the merchant's balance); "person" (our bug, configuration, Alipay's staff, a code we do not
//   know) holds the refund PENDING for a person: paged (RefundsNeedPerson, RUNBOOK
//   refunds-need-person), not resent around the sweep; looked at again a day later.
import { alipay } from "../alipay/client.js";
import { config } from "../config.js";
import { faultPoint } from "../faults.js";
import { count, logger } from "../observability.js";
import { nextCheckAt } from "../payments/schedule.js";
import type { RefundRecord } from "./model.js";
import { getRefund, markRefundFailed, markRefundHeld, markRefundSent, markRefundSucceeded, scheduleRefundCheck } from "./repository.js";

/** A refund Alipay has not confirmed this long after it was asked for pages someone (alarmed). */
const stuckAfterMs = 30 * 60_000;
/** A refund held for a person is looked at again (and pages again) this much later. */
export const heldForMs = 24 * 3600_000;

export type RefundCheckOutcome = "succeeded" | "failed" | "waiting" | "settled" | "not_found";

export async function checkRefund(paymentId: string, refundId: string, now = () => Date.now()): Promise<RefundCheckOutcome> {
  const refund = await getRefund(paymentId, refundId);
  if (!refund) return "not_found";
  if (refund.status !== "PENDING") return "settled";
  if (now() > refund.createdAt + stuckAfterMs) {
    count("StuckRefunds");
    logger.error("refund still pending", { refundId, paymentId, createdAt: new Date(refund.createdAt).toISOString() });
  }
  const gateway = await alipay();
  const ids = { tradeNo: refund.tradeNo, outTradeNo: refund.outTradeNo, outRequestNo: refund.refundId };
  const asked = { ...ids, amountFen: refund.amountFen };
  if (refund.sentAt !== undefined) {
    // Both shapes of the query's answer (lib/alipay/refundAnswers.ts): a refund Alipay paid out is
    // SUCCEEDED whether or not its answer carries refund_status.
    const queried = await gateway.refundQuery(asked);
    if (queried.kind === "refunded") return succeed(refund, now(), "query", queried.evidence);
    if (queried.kind === "inconsistent") return inconsistent(refund, queried.detail, now());
  } else {
    // Before the call: if its outcome is lost (or this worker dies), the next check asks first.
    // Conditional: of two checks that both read it unsent, only the first to mark it sends it;
    // the other leaves it to that one (which is retried with backoff if it fails, and the sweep
    // finds the refund while it is PENDING).
    if (!(await markRefundSent(refund, now()))) {
      logger.info("refund being sent by another check", { refundId, paymentId });
      return "waiting";
    }
    faultPoint("refund.afterMarkSent");
  }
  const answer = await gateway.refund({ ...asked, reason: refund.reason });
  faultPoint("refund.afterAlipay");
  if (answer.kind === "refused") {
    if (await markRefundFailed(refund, answer.subCode, now())) {
      count("RefundsFailed");
      // An automatic refund that Alipay refuses leaves money that is not ours: a person refunds it (RUNBOOK).
      if (refund.kind === "automatic") {
        count("RefundsAwaitingPerson");
        logger.error("automatic refund refused by Alipay", { refundId, paymentId, tradeNo: refund.tradeNo, subCode: answer.subCode });
      } else {
        logger.warn("refund refused by Alipay", { refundId, paymentId, subCode: answer.subCode });
      }
    }
    return "failed";
  }
  if (answer.kind === "retry") {
    if (answer.page) needsPerson(refund, answer.subCode, "retry");
    else logger.warn("refund to be retried", { refundId, paymentId, subCode: answer.subCode });
    await scheduleRefundCheck(refund, nextCheckAt(refund.createdAt, (await config()).checkScheduleSeconds, now()));
    return "waiting";
  }
  if (answer.kind === "person") return hold(refund, answer.subCode, now());
  if (answer.fundChange) return succeed(refund, now(), "refund");
  // A repeat of a number Alipay already holds: money moved only if the query says so.
  const confirmed = await gateway.refundQuery(asked);
  if (confirmed.kind === "refunded") return succeed(refund, now(), "query", confirmed.evidence);
  if (confirmed.kind === "inconsistent") return inconsistent(refund, confirmed.detail, now());
  await scheduleRefundCheck(refund, nextCheckAt(refund.createdAt, (await config()).checkScheduleSeconds, now()));
  return "waiting";
}

async function succeed(refund: RefundRecord, now: number, via: "refund" | "query", evidence?: string): Promise<RefundCheckOutcome> {
  await refundSucceeded(refund, now, via, evidence);
  return "succeeded";
}

/**
 * The refund query names a refund under our number that is not ours as recorded (another amount or
 * trade): neither marked SUCCEEDED nor resent; held for a person.
 */
async function inconsistent(refund: RefundRecord, detail: string, now: number): Promise<RefundCheckOutcome> {
  logger.error("refund query answer does not match the refund", { refundId: refund.refundId, paymentId: refund.paymentId, detail });
  return hold(refund, "REFUND_QUERY_INCONSISTENT", now);
}

/** Pages a person (metric RefundsNeedPerson, alarm refunds-need-person) about this refund and `code`. */
function needsPerson(refund: RefundRecord, code: string, then: "retry" | "held"): void {
  count("RefundsNeedPerson");
  logger.error("refund needs a person", {
    refundId: refund.refundId,
    paymentId: refund.paymentId,
    kind: refund.kind ?? "requested",
    code,
    then,
  });
}

/** PENDING, held for a person: not sent again until a day later (or a person's `refund retry`). */
async function hold(refund: RefundRecord, code: string, now: number): Promise<RefundCheckOutcome> {
  needsPerson(refund, code, "held");
  await markRefundHeld(refund, code, now, now + heldForMs);
  return "waiting";
}

/**
 * PENDING -> SUCCEEDED once Alipay has confirmed the refund (its answer, the refund query or its
 * notification), counted and logged; false when an earlier copy settled it already.
 */
export async function refundSucceeded(
  refund: RefundRecord,
  now: number,
  via: "refund" | "query" | "notify",
  evidence?: string,
): Promise<boolean> {
  if (!(await markRefundSucceeded(refund, now))) return false;
  count("RefundsSucceeded");
  logger.info("refund succeeded", {
    refundId: refund.refundId,
    paymentId: refund.paymentId,
    amountFen: refund.amountFen,
    via,
    ...(evidence ? { evidence } : {}),
  });
  return true;
}
