// The event log: every event a business system is sent is also kept 30 days, so the system can
// list what it missed (GET /v1/events), however long it was down, and have any of it sent again.
//
// Stored where events are already produced: publishEvents (the table stream's consumer) puts each
// event with one conditional put before it sends it, so no request is added to the paid-payment
// path, and a retry of the stream record finds the item there (idempotent, first copy kept).
//
// Items (one table): pk EVENT#<eventId> / sk EVENT, spread over the table's partitions by event id
// (GET /v1/events/{id} is one GetItem). The `events` index lists one business system's events:
// partition `eventsOf` = businessId, sort `eventsAt` = "<storedAt, 15 digits>#<eventId>".
//
// The cursor: order by (storedAt, eventId), list only what is older than a settle horizon.
// Why not a per-business sequence from a conditional counter: a counter hands out N to writer A and
// N+1 to writer B, B's item can be seen before A's, and a reader that passed N+1 skips N; closing
// that needs the counter and the item in one transaction (serialised per business system: every
// event of a system conflicts with every other, 2x the write cost) and consistent reads of one
// base-table partition per system. Instead: `storedAt` is taken by the writer just before its put,
// and a put that has not started within `writeBudgetMs` of it is abandoned (aborted; the stream
// retries it with a new storedAt), so every item is in the index within the settle horizon of its
// storedAt (the budget, one attempt's request timeout and the index's propagation, typically well
// under a second). A reader lists only keys below now - horizon: everything there is already
// visible, and anything written later sorts after it. So a cursor (the key of the last item
// examined) never skips an item and never shows one twice. The price: an event shows in the list
// `eventsSettleSeconds` after it was stored (its webhook delivery is not delayed).
//
// Scale: writes spread over the table by event id; the index puts one business system's events in
// one partition (about 1,000 WCU/s: ~1,000 typical events a second per business system, 1 WCU each,
// bench/README.md). A throttled index slows only these puts (publishEvents retries, the stream
// lags), never a payment's own write, which does not touch this index. Beyond that rate, spread
// `eventsOf` over <businessId>#0..n-1 like the sweep index and merge the n queries per page: the
// cursor is a position in the (storedAt, eventId) order, so it stays valid across shards.
import { GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo, isConditionFailure } from "./aws.js";
import { config } from "./config.js";
import type { BusinessPaymentView, EventType } from "./payments/model.js";
import type { RefundEventType, RefundView } from "./refunds/model.js";
import { count, logger } from "./observability.js";
import { sendMessage } from "./queue.js";

/** An event as its business system receives it (webhook, events API). Built in lib/events.ts. */
export interface BusinessEvent {
  id: string;
  type: EventType | RefundEventType;
  businessId: string;
  createdAt: string;
  /** `payment` in payment.* events, `refund` in refund.* events. */
  data: { payment?: BusinessPaymentView; refund?: RefundView };
}

/** Events are listed and read back this long after they were stored (DynamoDB TTL deletes them later). */
export const eventRetentionDays = 30;

export const eventKey = (eventId: string) => ({ pk: `EVENT#${eventId}`, sk: "EVENT" as const });

/** What is stored per event: kept under 1 KB for a typical payment event (1 WCU, bench/README.md). */
export interface EventItem {
  pk: string;
  sk: "EVENT";
  eventType: BusinessEvent["type"];
  paymentId: string;
  /** The event as sent to the webhook (JSON). */
  event: string;
  /** The owning business system (the index's partition). */
  eventsOf: string;
  /** "<storedAt, 15 digits>#<eventId>": the index's order and the cursor's position. */
  eventsAt: string;
  ttl: number;
}

const positionOf = (storedAt: number, eventId: string) => `${String(storedAt).padStart(15, "0")}#${eventId}`;
const positionPattern = /^\d{15}#evt_[A-Za-z0-9]+_[a-z]+$/;

/** Cursors are opaque to callers: the position of the last event examined. */
export const encodeCursor = (position: string) => Buffer.from(position, "utf8").toString("base64url");
export function decodeCursor(cursor: string): string | undefined {
  const position = Buffer.from(cursor, "base64url").toString("utf8");
  return positionPattern.test(position) ? position : undefined;
}

const settleMs = async () => (await config()).eventsSettleSeconds * 1000;

/**
 * Keeps the event (conditional put: a copy stored before stays as it is). `storedAt` is taken
 * before the put; the put is abandoned if it has not succeeded within two thirds of the settle
 * horizon, so the event is listed only once it can no longer appear behind a reader's cursor.
 */
export async function storeEvent(event: BusinessEvent, storedAt = Date.now()): Promise<"stored" | "existed"> {
  const settle = await settleMs();
  const writeBudgetMs = Math.floor((settle * 2) / 3);
  const item: EventItem = {
    ...eventKey(event.id),
    eventType: event.type,
    paymentId: event.data.payment?.paymentId ?? event.data.refund?.paymentId ?? "",
    event: JSON.stringify(event),
    eventsOf: event.businessId,
    eventsAt: positionOf(storedAt, event.id),
    ttl: Math.floor(storedAt / 1000) + eventRetentionDays * 86_400,
  };
  const left = storedAt + writeBudgetMs - Date.now();
  if (settle > 0 && left <= 0) throw new Error(`event ${event.id} not stored within ${writeBudgetMs} ms of its position`);
  try {
    await dynamo().send(
      new PutCommand({ TableName: (await config()).tableName, Item: item, ConditionExpression: "attribute_not_exists(pk)" }),
      settle > 0 ? { abortSignal: AbortSignal.timeout(left) } : {},
    );
    return "stored";
  } catch (error) {
    if (isConditionFailure(error)) return "existed";
    throw error;
  }
}

/** One stored event of `businessId` (another system's, or none: undefined). */
export async function getStoredEvent(businessId: string, eventId: string): Promise<BusinessEvent | undefined> {
  if (!/^evt_[A-Za-z0-9]+_[a-z]+$/.test(eventId)) return undefined;
  const { Item } = await dynamo().send(new GetCommand({ TableName: (await config()).tableName, Key: eventKey(eventId) }));
  const item = Item as EventItem | undefined;
  if (!item || item.eventsOf !== businessId || item.ttl * 1000 <= Date.now()) return undefined;
  return JSON.parse(item.event) as BusinessEvent;
}

export interface EventPage {
  events: BusinessEvent[];
  /** Where the next page starts (absent: nothing was examined and no cursor was given). */
  nextCursor?: string;
  /** More events are stored past this page already; false: the next page waits for new events. */
  hasMore: boolean;
}

/**
 * A business system's events after the cursor's position, oldest first, up to `limit` examined
 * (the filters may leave fewer: the cursor still moves past what was examined).
 */
export async function listStoredEvents(
  businessId: string,
  options: { after?: string; type?: string; paymentId?: string; limit: number; now?: number },
): Promise<EventPage> {
  const now = options.now ?? Date.now();
  const horizon = positionOf(now - (await settleMs()), "");
  const filters = ["#ttl > :nowSeconds"];
  const values: Record<string, unknown> = { ":business": businessId, ":horizon": horizon, ":nowSeconds": Math.floor(now / 1000) };
  if (options.type !== undefined) {
    filters.push("eventType = :type");
    values[":type"] = options.type;
  }
  if (options.paymentId !== undefined) {
    filters.push("paymentId = :paymentId");
    values[":paymentId"] = options.paymentId;
  }
  // Key conditions are inclusive: the smallest key after the cursor's ("#", letters, digits and "_" all sort after " ").
  if (options.after !== undefined) values[":after"] = `${options.after} `;
  const { Items = [], LastEvaluatedKey } = await dynamo().send(
    new QueryCommand({
      TableName: (await config()).tableName,
      IndexName: "events",
      KeyConditionExpression:
        options.after === undefined
          ? "eventsOf = :business AND eventsAt < :horizon"
          : "eventsOf = :business AND eventsAt BETWEEN :after AND :horizon",
      FilterExpression: filters.join(" AND "),
      ExpressionAttributeNames: { "#ttl": "ttl" },
      ExpressionAttributeValues: values,
      Limit: options.limit,
    }),
  );
  const items = Items as EventItem[];
  const last = (LastEvaluatedKey?.eventsAt as string | undefined) ?? items.at(-1)?.eventsAt ?? options.after;
  return {
    events: items.map((item) => JSON.parse(item.event) as BusinessEvent),
    ...(last !== undefined ? { nextCursor: encodeCursor(last) } : {}),
    hasMore: LastEvaluatedKey !== undefined,
  };
}

/**
 * Puts a stored event of `businessId` on the events queue again: the events worker delivers it to
 * the system's webhook as it did the first time (signed with its current secret, same id and body).
 */
export async function redeliverStoredEvent(businessId: string, eventId: string): Promise<BusinessEvent | undefined> {
  const event = await getStoredEvent(businessId, eventId);
  if (!event) return undefined;
  await sendMessage((await config()).eventsQueueUrl, event);
  count("EventsRedelivered");
  logger.info("event redelivery asked", { eventId, businessId });
  return event;
}
