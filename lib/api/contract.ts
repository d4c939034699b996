// The HTTP API contract, declared once: each operation's route, security, request parts
// (lib/api/requests.ts, which the handlers parse their events with) and answers.
// scripts/openapi.ts turns the declarations into docs/openapi.json.
import * as z from "zod/mini";
import type { ErrorCode } from "./errors.js";
import {
  CreatePaymentBody,
  CreatePaymentHeaders,
  CreateRefundBody,
  CreateRefundHeaders,
  EventPath,
  eventTypes,
  FindPaymentQuery,
  ListEventsQuery,
  PaymentPath,
  RefundPath,
} from "./requests.js";
import { AmountFen, doc } from "./schemas.js";

export type Security = "appJwt" | "businessIam" | "none";

export interface Operation {
  operationId: string;
  method: "get" | "post";
  /** API Gateway's path template, e.g. /v1/payments/{paymentId}. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  security: Security;
  request: {
    headers?: z.ZodMiniObject;
    pathParameters?: z.ZodMiniObject;
    query?: z.ZodMiniObject;
    body?: z.ZodMiniType;
    /** A body that is not JSON (Alipay's form posts): documented, parsed by the handler. */
    rawBody?: { contentType: string; description: string };
  };
  responses: Record<number, { description: string; body?: z.ZodMiniType; contentType?: string; headers?: z.ZodMiniObject }>;
  /** Error codes the operation may answer (their statuses come from the catalogue). */
  errors: ErrorCode[];
}

const requestShapeErrors: ErrorCode[] = [
  "body_missing",
  "body_too_large",
  "body_not_json",
  "body_not_object",
  "unknown_field",
  "field_invalid",
];

const replayedHeader = z.object({
  "idempotent-replayed": z.optional(z.literal("true").check(doc({ description: "Present when this answer replays an earlier one." }))),
});

const Iso = z.iso.datetime();
const Yuan = z.string().check(z.regex(/^\d+\.\d{2}$/), doc({ example: "12.34", description: "The amount in yuan, as Alipay shows it." }));
const PaymentStatus = z.enum(["OPEN", "PAID", "CANCELED", "EXPIRED"]).check(
  doc({
    description: "OPEN until paid, canceled by its business system, or expired. PAID, CANCELED and EXPIRED are final.",
  }),
);

const AttemptView = z
  .strictObject({
    attemptNo: z.int().check(z.minimum(1)),
    outTradeNo: z.string().check(doc({ description: "Alipay's out_trade_no of this attempt." })),
    status: z.enum(["PENDING", "PAID", "CLOSED"]),
    createdAt: Iso,
    expiresAt: z.iso.datetime().check(doc({ description: "The order string's time_expire." })),
    tradeNo: z.optional(z.string().check(doc({ description: "Alipay's trade_no, once paid." }))),
    closedAt: z.optional(Iso),
    closeReason: z.optional(z.string()),
  })
  .check(doc({ id: "Attempt" }));

export const BusinessPayment = z
  .strictObject({
    paymentId: z.string(),
    businessOrderId: z.string(),
    userId: z.string(),
    status: PaymentStatus,
    amount: AmountFen,
    amountYuan: Yuan,
    currency: z.literal("CNY"),
    subject: z.string(),
    body: z.optional(z.string()),
    metadata: z.optional(z.record(z.string(), z.string())),
    createdAt: Iso,
    expiresAt: Iso,
    tradeNo: z.optional(z.string()),
    paidAt: z.optional(Iso),
    canceledAt: z.optional(Iso),
    expiredAt: z.optional(Iso),
    attempts: z.array(AttemptView).check(doc({ description: "Every Alipay attempt, oldest first; at most the last one is PENDING." })),
    automaticRefundIds: z.optional(
      z.array(z.string()).check(
        doc({
          description:
            "Refunds made on our own, oldest first: money of a second trade, or paid on an attempt already closed, is given back in full (read them under /refunds; refund.succeeded or refund.failed follows).",
        }),
      ),
    ),
  })
  .check(doc({ id: "Payment" }));

const appPaymentShape = {
  paymentId: z.string(),
  status: PaymentStatus,
  amount: AmountFen,
  amountYuan: Yuan,
  currency: z.literal("CNY"),
  subject: z.string(),
  expiresAt: Iso,
  paidAt: z.optional(Iso),
};

export const AppPayment = z.strictObject(appPaymentShape).check(doc({ id: "AppPayment" }));

export const OrderString = z
  .strictObject({
    ...appPaymentShape,
    attemptNo: z.int().check(z.minimum(1)),
    outTradeNo: z.string(),
    orderString: z.string().check(doc({ description: "The signed App Pay order string: hand it to the Alipay SDK as is." })),
    orderStringExpiresAt: Iso,
  })
  .check(doc({ id: "OrderString" }));

export const Refund = z
  .strictObject({
    refundId: z.string().check(doc({ description: "The refund's id; also Alipay's out_request_no, fixed when the refund is recorded." })),
    paymentId: z.string(),
    kind: z.enum(["requested", "automatic"]).check(
      doc({
        description:
          "requested: asked for by the business system (of the paid trade). automatic: made on our own to give back a second trade, or money paid on an attempt already closed; it refunds that trade in full and never counts against what may be refunded.",
      }),
    ),
    tradeNo: z.optional(z.string().check(doc({ description: "The trade an automatic refund gives back." }))),
    amount: AmountFen,
    amountYuan: Yuan,
    reason: z.string(),
    status: z.enum(["PENDING", "SUCCEEDED", "FAILED"]).check(
      doc({
        description:
          "PENDING until Alipay refunds it (SUCCEEDED) or refuses it (FAILED: its amount can be refunded again). SUCCEEDED and FAILED are final.",
      }),
    ),
    createdAt: Iso,
    succeededAt: z.optional(Iso),
    failedAt: z.optional(Iso),
    failureCode: z.optional(z.string().check(doc({ description: "Alipay's sub_code of the refusal." }))),
  })
  .check(doc({ id: "Refund" }));

export const RefundList = z
  .strictObject({ refunds: z.array(Refund).check(doc({ description: "The payment's refunds, oldest first." })) })
  .check(doc({ id: "RefundList" }));

export const BusinessEvent = z
  .strictObject({
    id: z.string().check(
      doc({
        description:
          "Stable: evt_<paymentId>_<succeeded|canceled|expired> or evt_<refundId>_<succeeded|failed>. Every copy (webhook retries, redeliveries, this API) carries the same id: deduplicate by it.",
      }),
    ),
    type: z.enum(eventTypes),
    businessId: z.string(),
    createdAt: z.iso.datetime().check(doc({ description: "When it happened (paid, canceled, expired, refunded, refused)." })),
    data: z
      .strictObject({ payment: z.optional(BusinessPayment), refund: z.optional(Refund) })
      .check(doc({ description: "payment.* events carry the payment as it was then, refund.* events the refund." })),
  })
  .check(doc({ id: "Event" }));

export const EventPage = z
  .strictObject({
    events: z.array(BusinessEvent).check(doc({ description: "Oldest first (by when each was stored)." })),
    nextCursor: z.optional(
      z.string().check(
        doc({
          description:
            "Pass it as `after` for the next page, also when `events` is empty (filters may skip a whole page). Never skips or repeats an event, also while events are being written. Absent only when no event was examined and no cursor was given.",
        }),
      ),
    ),
    hasMore: z.boolean().check(doc({ description: "More events are stored already: ask again at once. False: ask later for new ones." })),
  })
  .check(doc({ id: "EventPage" }));

export const operations = {
  createPayment: {
    operationId: "createPayment",
    method: "post",
    path: "/v1/payments",
    summary: "Create a payment (the business system sets the amount)",
    description:
      "One payment per businessOrderId: another key for the same business order answers the existing payment (200), or 409 payment_conflict when amount, subject or user differ. Every key replays its first answer.",
    tags: ["business"],
    security: "businessIam",
    request: {
      headers: CreatePaymentHeaders,
      body: CreatePaymentBody,
    },
    responses: {
      201: { description: "A new payment (or a replay of the request that created it).", body: BusinessPayment, headers: replayedHeader },
      200: { description: "The business order's existing payment.", body: BusinessPayment, headers: replayedHeader },
    },
    errors: [
      ...requestShapeErrors,
      "idempotency_key_missing",
      "idempotency_key_invalid",
      "business_order_id_invalid",
      "amount_invalid",
      "subject_invalid",
      "body_invalid",
      "user_id_invalid",
      "expires_in_seconds_invalid",
      "metadata_invalid",
      "forbidden",
      "payment_conflict",
      "concurrent_update",
      "idempotency_key_reused",
      "internal_error",
    ],
  },
  findPayment: {
    operationId: "findPayment",
    method: "get",
    path: "/v1/payments",
    summary: "Look a payment up by its business order",
    tags: ["business"],
    security: "businessIam",
    request: { query: FindPaymentQuery },
    responses: { 200: { description: "The payment.", body: BusinessPayment } },
    errors: ["business_order_id_missing", "business_order_id_invalid", "forbidden", "payment_not_found", "internal_error"],
  },
  getPayment: {
    operationId: "getPayment",
    method: "get",
    path: "/v1/payments/{paymentId}",
    summary: "Read a payment: status, amounts, every Alipay attempt",
    tags: ["business"],
    security: "businessIam",
    request: { pathParameters: PaymentPath },
    responses: { 200: { description: "The payment.", body: BusinessPayment } },
    errors: ["path_invalid", "forbidden", "payment_not_found", "internal_error"],
  },
  cancelPayment: {
    operationId: "cancelPayment",
    method: "post",
    path: "/v1/payments/{paymentId}/cancel",
    summary: "Cancel a payment: no further attempts; the payable one is closed at Alipay first",
    description:
      "Answers 409 already_paid when the buyer paid before the cancel took effect. Canceling a canceled payment answers it again.",
    tags: ["business"],
    security: "businessIam",
    request: { pathParameters: PaymentPath },
    responses: { 200: { description: "The canceled payment.", body: BusinessPayment } },
    errors: [
      "path_invalid",
      "forbidden",
      "payment_not_found",
      "already_paid",
      "payment_expired",
      "concurrent_update",
      "alipay_unavailable",
      "internal_error",
    ],
  },
  createRefund: {
    operationId: "createRefund",
    method: "post",
    path: "/v1/payments/{paymentId}/refunds",
    summary: "Refund (part of) a PAID payment",
    description:
      "Recorded at once as PENDING, then refunded at Alipay exactly once (refund.succeeded or refund.failed follows as an event). The refunds of a payment never total more than was paid, also under concurrent requests. Every key replays its first answer.",
    tags: ["business"],
    security: "businessIam",
    request: { headers: CreateRefundHeaders, pathParameters: PaymentPath, body: CreateRefundBody },
    responses: {
      201: { description: "The new refund, PENDING (or a replay of the request that created it).", body: Refund, headers: replayedHeader },
    },
    errors: [
      "path_invalid",
      ...requestShapeErrors,
      "idempotency_key_missing",
      "idempotency_key_invalid",
      "amount_invalid",
      "reason_invalid",
      "forbidden",
      "payment_not_found",
      "payment_not_refundable",
      "refund_exceeds_payment",
      "concurrent_update",
      "idempotency_key_reused",
      "internal_error",
    ],
  },
  listRefunds: {
    operationId: "listRefunds",
    method: "get",
    path: "/v1/payments/{paymentId}/refunds",
    summary: "List a payment's refunds",
    tags: ["business"],
    security: "businessIam",
    request: { pathParameters: PaymentPath },
    responses: { 200: { description: "The payment's refunds.", body: RefundList } },
    errors: ["path_invalid", "forbidden", "payment_not_found", "internal_error"],
  },
  getRefund: {
    operationId: "getRefund",
    method: "get",
    path: "/v1/payments/{paymentId}/refunds/{refundId}",
    summary: "Read a refund",
    tags: ["business"],
    security: "businessIam",
    request: { pathParameters: RefundPath },
    responses: { 200: { description: "The refund.", body: Refund } },
    errors: ["path_invalid", "forbidden", "payment_not_found", "refund_not_found", "internal_error"],
  },
  listEvents: {
    operationId: "listEvents",
    method: "get",
    path: "/v1/events",
    summary: "List the caller's events, oldest first, from a cursor (kept 30 days)",
    description:
      "The same events the webhook is sent, kept 30 days: the way to recover from any outage of the business system, however long (webhooks are retried for ~73 hours). Start without `after`, then pass each page's nextCursor. An event is listed a few seconds (the settle horizon, 15 s) after it was stored, so a cursor never skips one that is still being written.",
    tags: ["business"],
    security: "businessIam",
    request: { query: ListEventsQuery },
    responses: { 200: { description: "A page of events.", body: EventPage } },
    errors: ["after_invalid", "type_invalid", "payment_id_invalid", "limit_invalid", "forbidden", "internal_error"],
  },
  getEvent: {
    operationId: "getEvent",
    method: "get",
    path: "/v1/events/{eventId}",
    summary: "Read one of the caller's events (kept 30 days)",
    tags: ["business"],
    security: "businessIam",
    request: { pathParameters: EventPath },
    responses: { 200: { description: "The event, as its webhook is sent it.", body: BusinessEvent } },
    errors: ["path_invalid", "forbidden", "event_not_found", "internal_error"],
  },
  redeliverEvent: {
    operationId: "redeliverEvent",
    method: "post",
    path: "/v1/events/{eventId}/redeliver",
    summary: "Send one of the caller's events to its webhook again",
    description:
      "Queued for the webhook at once and delivered like the first time (signed with the current secret, same id and body, retried with backoff). Safe to repeat: each call is one more delivery of the same event.",
    tags: ["business"],
    security: "businessIam",
    request: { pathParameters: EventPath },
    responses: { 202: { description: "The event, queued for its webhook.", body: BusinessEvent } },
    errors: ["path_invalid", "forbidden", "event_not_found", "internal_error"],
  },
  getOrderString: {
    operationId: "getOrderString",
    method: "post",
    path: "/v1/app/payments/{paymentId}/order-string",
    summary: "Get the signed App Pay order string of a payment the user owes",
    description:
      "Answers the payable attempt (200) or makes a new one (201) once the previous one can no longer be paid. Safe to repeat. No amount is ever sent by the app.",
    tags: ["app"],
    security: "appJwt",
    request: { pathParameters: PaymentPath },
    responses: {
      201: { description: "A new attempt's order string.", body: OrderString },
      200: { description: "The payable attempt's order string.", body: OrderString },
    },
    errors: [
      "path_invalid",
      "unauthorized",
      "payment_not_found",
      "already_paid",
      "payment_canceled",
      "payment_expired",
      "previous_attempt_expiring",
      "too_many_attempts",
      "concurrent_update",
      "alipay_unavailable",
      "internal_error",
    ],
  },
  getAppPayment: {
    operationId: "getAppPayment",
    method: "get",
    path: "/v1/app/payments/{paymentId}",
    summary: "Read a payment the user owes (asks Alipay inline while an attempt is pending)",
    tags: ["app"],
    security: "appJwt",
    request: { pathParameters: PaymentPath },
    responses: { 200: { description: "The payment.", body: AppPayment } },
    errors: ["path_invalid", "unauthorized", "payment_not_found", "internal_error"],
  },
  alipayNotify: {
    operationId: "alipayNotify",
    method: "post",
    path: "/alipay/notify",
    summary: "Alipay's asynchronous notifications",
    description:
      "Verified with Alipay's public key and applied at most once. Answers the literal `success` only once the outcome is durable.",
    tags: ["alipay"],
    security: "none",
    request: { rawBody: { contentType: "application/x-www-form-urlencoded", description: "Alipay's signed notification parameters." } },
    responses: {
      200: {
        description: "`success` (applied or already applied) or `failure` (refused: forged or mismatched).",
        body: z.enum(["success", "failure"]),
        contentType: "text/plain",
      },
      500: { description: "`failure`: not processed, Alipay sends it again.", body: z.literal("failure"), contentType: "text/plain" },
    },
    errors: [],
  },
} as const satisfies Record<string, Operation>;
