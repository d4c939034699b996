// The request parts of the HTTP API (headers, path, query, bodies): the handlers parse their
// events with these, and lib/api/contract.ts declares the operations with them. Kept apart from
// the response schemas so a handler's bundle carries only what it parses.
import * as z from "zod/mini";
import { AlipayText, AmountFen, carriableText, carriableTextRule, doc, IdempotencyKey, Identifier, isCarriableText } from "./schemas.js";

export const CreatePaymentHeaders = z.object({ "idempotency-key": IdempotencyKey });

export const PaymentPath = z.object({ paymentId: z.string() });

export const FindPaymentQuery = z.object({ businessOrderId: Identifier("businessOrderId") });

export const Metadata = z
  .record(z.string().check(z.minLength(1), z.maxLength(40)), z.string().check(z.maxLength(500)), {
    error: "metadata must be an object of string values, keys of 1 to 40 characters.",
  })
  .check(
    z.refine((m) => Object.keys(m).length <= 20, { error: "metadata holds at most 20 keys.", abort: true }),
    z.refine((m) => Object.entries(m).every(([key, value]) => isCarriableText(key) && isCarriableText(value)), {
      error: `metadata keys and values must contain ${carriableTextRule}.`,
    }),
    doc({
      description: `Up to 20 string values (keys up to 40 characters, values up to 500) for the business system's own use; returned as given. Keys and values contain ${carriableTextRule}.`,
    }),
  );

export const CreatePaymentBody = z
  .strictObject({
    businessOrderId: Identifier("businessOrderId", "The business system's order id: one payment per business order."),
    amount: AmountFen,
    subject: AlipayText("subject", 256),
    body: z.optional(AlipayText("body", 128)),
    userId: z
      .string({ error: "userId must be the app user's id." })
      .check(
        z.regex(/^[\x21-\x7e]{1,128}$/, { error: "userId must be 1 to 128 printable ASCII characters." }),
        doc({ description: "The app user who pays: the subject of their JWT. Only they can get the order string." }),
      ),
    expiresInSeconds: z.optional(
      z
        .int({ error: "expiresInSeconds must be an integer." })
        .check(
          z.minimum(120, { error: "expiresInSeconds must be at least 120." }),
          z.maximum(15 * 24 * 3600, { error: "expiresInSeconds must be at most 1296000 (15 days)." }),
          doc({ description: "How long the payment stays payable (default: the business system's setting)." }),
        ),
    ),
    metadata: z.optional(Metadata),
  })
  .check(doc({ id: "CreatePaymentRequest" }));

export const CreateRefundHeaders = z.object({ "idempotency-key": IdempotencyKey });

export const RefundPath = z.object({ paymentId: z.string(), refundId: z.string() });

export const CreateRefundBody = z
  .strictObject({
    amount: AmountFen,
    reason: z.string({ error: "reason must be a string." }).check(
      z.refine((v) => v.trim() !== "", { error: "reason must be non-empty text.", abort: true }),
      z.refine((v) => v.length <= 256, { error: "reason must be at most 256 characters.", abort: true }),
      carriableText("reason"),
      doc({ description: `Why the money goes back (1 to 256 characters, ${carriableTextRule}); sent to Alipay as refund_reason.` }),
    ),
  })
  .check(doc({ id: "CreateRefundRequest" }));

export const EventPath = z.object({ eventId: z.string() });

export const eventTypes = ["payment.succeeded", "payment.canceled", "payment.expired", "refund.succeeded", "refund.failed"] as const;

export const ListEventsQuery = z.object({
  after: z.optional(
    z
      .string({ error: "after must be a cursor from an earlier page's nextCursor." })
      .check(
        z.regex(/^[A-Za-z0-9_-]{1,200}$/, { error: "after must be a cursor from an earlier page's nextCursor." }),
        doc({ description: "The nextCursor of the previous page; absent: from the oldest event kept (30 days)." }),
      ),
  ),
  type: z.optional(
    z.enum(eventTypes, { error: `type must be one of ${eventTypes.join(", ")}.` }).check(doc({ description: "Only events of this type." })),
  ),
  paymentId: z.optional(Identifier("paymentId", "Only events of this payment (its own and its refunds').")),
  limit: z.optional(
    z
      .string({ error: "limit must be an integer from 1 to 100." })
      .check(
        z.regex(/^(100|[1-9][0-9]?)$/, { error: "limit must be an integer from 1 to 100." }),
        doc({ description: "Events examined per page, 1 to 100 (default 50); filters may return fewer." }),
      ),
  ),
});
