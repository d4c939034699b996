// Creating a payment order, with Stripe-style idempotency and one charge per business order.
//
// The order id (Alipay's out_trade_no) is derived from the user and the Idempotency-Key, so the
// idempotency record IS the order: a retry finds it, and the order and its business-order pointer
// are written in one transaction, so there is no half-created state and no lock that a crash could
// leave behind. A concurrent duplicate loses the transaction and answers the winner's order.
import { createHash } from "node:crypto";
import { alipay } from "../alipay/client.js";
import { config } from "../config.js";
import { HttpError } from "../api/errors.js";
import { count, logger } from "../observability.js";
import { orderKey, orderView, sweepShard, type OrderRecord, type OrderView } from "./model.js";
import { getCurrentOrderId, getOrder, insertOrder } from "./repository.js";
import { nextCheckAt } from "./schedule.js";
import type { CreateOrderInput } from "../api/contract.js";

export interface CreateOrderResult {
  /** 201 for a new order (and for its replays), 200 when an existing payable order is answered. */
  statusCode: 200 | 201;
  order: OrderView;
  replayed: boolean;
}

export function deriveOrderId(userId: string, idempotencyKey: string): string {
  // out_trade_no: at most 64 letters, digits or '_'.
  return `p${createHash("sha256").update(`${userId}\u0000${idempotencyKey}`).digest("hex").slice(0, 31)}`;
}

export function requestHash(input: CreateOrderInput): string {
  const canonical = JSON.stringify([input.merchantOrderId, input.amount, input.subject, input.body ?? null]);
  return createHash("sha256").update(canonical).digest("hex");
}

/** A pending order is still handed out if its string stays payable at least this long. */
const minRemainingPayableMs = 60_000;

export async function createOrder(
  userId: string,
  idempotencyKey: string,
  input: CreateOrderInput,
  now = Date.now(),
): Promise<CreateOrderResult> {
  const orderId = deriveOrderId(userId, idempotencyKey);
  const hash = requestHash(input);
  // A lost race is settled by reading again; a few rounds cover any realistic contention.
  for (let round = 0; round < 3; round += 1) {
    const replay = await replayOf(orderId, hash);
    if (replay) return replay;

    const currentId = await getCurrentOrderId(userId, input.merchantOrderId);
    // A concurrent request with this same key created it between our two reads: a replay.
    if (currentId === orderId) continue;
    const current = currentId ? await getOrder(currentId) : undefined;
    if (current) {
      const answer = answerForExisting(current, input, now);
      if (answer) return answer;
    }

    const order = await buildOrder(orderId, userId, hash, input, now);
    const outcome = await insertOrder(order, current?.orderId);
    if (outcome === "created") {
      count("OrdersCreated");
      logger.info("order created", { orderId, merchantOrderId: input.merchantOrderId, amountFen: input.amount });
      return { statusCode: 201, order: orderView(order), replayed: false };
    }
  }
  throw new HttpError("concurrent_update", "The business order is being changed by another request; retry shortly.");
}

async function replayOf(orderId: string, hash: string): Promise<CreateOrderResult | undefined> {
  const existing = await getOrder(orderId);
  if (!existing) return undefined;
  if (existing.requestHash !== hash) {
    throw new HttpError("idempotency_key_reused", "This Idempotency-Key was already used with a different request body.");
  }
  return { statusCode: 201, order: orderView(existing), replayed: true };
}

/** What to answer when the business order already has an attempt; undefined = make a new one. */
function answerForExisting(current: OrderRecord, input: CreateOrderInput, now: number): CreateOrderResult | undefined {
  if (current.status === "PAID") {
    throw new HttpError("already_paid", `Business order ${input.merchantOrderId} is already paid (order ${current.orderId}).`);
  }
  if (current.status === "CLOSED") return undefined;
  if (current.amountFen !== input.amount || current.subject !== input.subject) {
    throw new HttpError("merchant_order_conflict", `Business order ${input.merchantOrderId} has a pending payment with a different amount or subject.`);
  }
  if (current.expiresAt - now >= minRemainingPayableMs) return { statusCode: 200, order: orderView(current), replayed: false };
  // About to expire or just expired but not closed yet: a second attempt now could let the buyer
  // pay twice. The sweep closes the old one within its margin.
  throw new HttpError("previous_attempt_expiring", "The previous payment attempt of this business order is expiring; retry in a minute.");
}

async function buildOrder(orderId: string, userId: string, hash: string, input: CreateOrderInput, now: number): Promise<OrderRecord> {
  const settings = await config();
  const createdAt = Math.floor(now / 1000) * 1000;
  const expiresAt = createdAt + settings.orderTtlSeconds * 1000;
  const orderString = (await alipay()).orderString(
    { outTradeNo: orderId, amountFen: input.amount, subject: input.subject, body: input.body, expiresAtMs: expiresAt },
    now,
  );
  return {
    ...orderKey(orderId),
    orderId,
    userId,
    merchantOrderId: input.merchantOrderId,
    amountFen: input.amount,
    subject: input.subject,
    ...(input.body !== undefined ? { body: input.body } : {}),
    status: "PENDING",
    createdAt,
    expiresAt,
    orderString,
    requestHash: hash,
    // A pending order is in the sweep index from birth: if no notification ever comes, it is queried.
    sweepShard,
    sweepAt: nextCheckAt(createdAt, settings.checkScheduleSeconds, createdAt, expiresAt + settings.closeMarginSeconds * 1000),
    history: [{ at: createdAt, event: "created" }],
  };
}
