// The HTTP API contract, declared once: each operation's route, security, request parts and
// answers. The handlers parse their events with these same parts, and scripts/openapi.ts turns
// the declarations into docs/openapi.json.
import { z } from "zod";
import type { ErrorCode } from "./errors.js";
import { AlipayText, AmountFen, Identifier, IdempotencyKey } from "./schemas.js";

export type Security = "appJwt" | "businessIam" | "none";

export interface Operation {
  operationId: string;
  method: "get" | "post";
  /** API Gateway's path template, e.g. /orders/{orderId}. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  security: Security;
  request: {
    headers?: z.ZodObject;
    pathParameters?: z.ZodObject;
    body?: z.ZodType;
    /** A body that is not JSON (Alipay's form posts): documented, parsed by the handler. */
    rawBody?: { contentType: string; description: string };
  };
  responses: Record<number, { description: string; body?: z.ZodType; contentType?: string; headers?: z.ZodObject }>;
  /** Error codes the operation may answer (their statuses come from the catalogue). */
  errors: ErrorCode[];
}

const requestShapeErrors: ErrorCode[] = [
  "body_missing", "body_too_large", "body_not_json", "body_not_object", "unknown_field", "field_invalid",
];

export const OrderView = z
  .object({
    orderId: z.string().meta({ description: "Our id of the attempt, Alipay's out_trade_no." }),
    merchantOrderId: z.string(),
    status: z.enum(["PENDING", "PAID", "CLOSED"]),
    amount: AmountFen,
    amountYuan: z.string().regex(/^\d+\.\d{2}$/).meta({ example: "12.34" }),
    currency: z.literal("CNY"),
    subject: z.string(),
    createdAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
    orderString: z.string().optional().meta({ description: "Signed App Pay order string for the Alipay SDK; only while payable." }),
    paidAt: z.iso.datetime().optional(),
    closedAt: z.iso.datetime().optional(),
  })
  .strict()
  .meta({ id: "Order" });

export const CreateOrderBody = z
  .strictObject({
    merchantOrderId: Identifier("merchantOrderId"),
    amount: AmountFen,
    subject: AlipayText("subject", 256),
    body: AlipayText("body", 128).optional(),
  })
  .meta({ id: "CreateOrderRequest" });
export type CreateOrderInput = z.infer<typeof CreateOrderBody>;

const replayedHeader = z.object({
  "idempotent-replayed": z.literal("true").optional().meta({ description: "Present when this answer replays an earlier one." }),
});

export const operations = {
  createOrder: {
    operationId: "createOrder",
    method: "post",
    path: "/orders",
    summary: "Create a payment order and its App Pay order string",
    tags: ["app"],
    security: "appJwt",
    request: {
      headers: z.object({ "idempotency-key": IdempotencyKey }),
      body: CreateOrderBody,
    },
    responses: {
      201: { description: "A new order (or a replay of the request that created it).", body: OrderView, headers: replayedHeader },
      200: { description: "The business order's payable attempt.", body: OrderView },
    },
    errors: [
      ...requestShapeErrors, "idempotency_key_missing", "idempotency_key_invalid", "merchant_order_id_invalid", "amount_invalid",
      "subject_invalid", "body_invalid", "unauthorized", "already_paid", "merchant_order_conflict", "previous_attempt_expiring",
      "concurrent_update", "idempotency_key_reused", "internal_error",
    ],
  },
  getOrder: {
    operationId: "getOrder",
    method: "get",
    path: "/orders/{orderId}",
    summary: "Read an order (asks Alipay inline while it is pending)",
    tags: ["app"],
    security: "appJwt",
    request: {
      pathParameters: z.object({ orderId: z.string().meta({ description: "Unknown ids and other users' orders answer 404." }) }),
    },
    responses: { 200: { description: "The order.", body: OrderView } },
    errors: ["unauthorized", "order_not_found", "internal_error"],
  },
  alipayNotify: {
    operationId: "alipayNotify",
    method: "post",
    path: "/alipay/notify",
    summary: "Alipay's asynchronous notifications",
    description: "Verified with Alipay's public key and applied at most once. Answers the literal `success` only once the outcome is durable.",
    tags: ["alipay"],
    security: "none",
    request: { rawBody: { contentType: "application/x-www-form-urlencoded", description: "Alipay's signed notification parameters." } },
    responses: {
      200: { description: "`success` (applied or already applied) or `failure` (refused: forged or mismatched).", body: z.enum(["success", "failure"]), contentType: "text/plain" },
      500: { description: "`failure`: not processed, Alipay sends it again.", body: z.literal("failure"), contentType: "text/plain" },
    },
    errors: [],
  },
} as const satisfies Record<string, Operation>;
