// The event log: every event a business system is sent is also kept 30 days, so the system can
// list what it missed (GET /v1/events), however long it was down, and have any of it sent again.
//
// Stored where events are already produced: publishEvents (the table stream's consumer) puts each
// event with one conditional put before it sends it, so no request is added to the paid-payment
// path, and a retry of the stream record finds the item there (idempotent, first copy kept).
//
// Items (one table): pk EVENT#<eventId> / sk EVENT, spread over the table's partitions by event id
// (GET /v1/events/{id} is one GetItem). The `events` index lists one business system's events:
// partition `eventsOf` = "<businessId>#<n>", n = the event id's hash mod EVENT_SHARDS (as the sweep
// index spreads payments), sort `eventsAt` = "<storedAt, 15 digits>#<eventId>". Events stored
// before sharding keep `eventsOf` = businessId and are read beside the shards for their 30 days.
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
// `eventsSettleSeconds` after it was stored (its webhook delivery is not delayed). The cursor is a
// position in that order, not in a partition, so it stays valid across shards and shard counts.
//
// Scale: writes spread over the table by event id; each index partition takes about 1,000 WCU/s
// (~1,000 typical events a second, 1 WCU each, bench/README.md), so one business system can send
// EVENT_SHARDS x ~1,000 events a second. A throttled index slows only these puts (publishEvents
// retries, the stream lags), never a payment's own write, which does not touch this index. A page
// is one Query per shard plus the unsharded key, merged (mergeShardReads). Raising EVENT_SHARDS is
// safe (reads cover 0..n-1 and positions do not move); lowering it hides the higher shards' events.
import { GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo, isConditionFailure } from "./aws.js";
import { config } from "./config.js";
import { type BusinessPaymentView, type EventType, shardNumber } from "./payments/model.js";
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
  /** The owning business system and its shard, "<businessId>#<n>" (the index's partition; eventsShardOf). */
  eventsOf: string;
  /** "<storedAt, 15 digits>#<eventId>": the index's order and the cursor's position. */
  eventsAt: string;
  ttl: number;
}

/** The `events` index partition of an event: one shard is the unsharded key of before. */
export function eventsShardOf(businessId: string, eventId: string, shards: number): string {
  return shards <= 1 ? businessId : `${businessId}#${shardNumber(eventId, shards)}`;
}

/** Every partition a page reads: the shards, and the unsharded key of events stored before sharding. */
export function eventsShardsToRead(businessId: string, shards: number): string[] {
  if (shards <= 1) return [businessId];
  return [...Array.from({ length: shards }, (_, i) => `${businessId}#${i}`), businessId];
}

/**
 * Whether an item's `eventsOf` is `businessId`'s: its unsharded key or one of its shards. Business
 * ids never contain "#" (lib/business/registry.ts businessIdPattern), so "<id>#<digits>" belongs to
 * exactly one system: "shop" never reads "shop-eu" nor "shop-eu#1", and no system is "shop#1".
 */
export function isEventsOf(eventsOf: string, businessId: string): boolean {
  if (eventsOf === businessId) return true;
  return eventsOf.startsWith(`${businessId}#`) && /^\d+$/.test(eventsOf.slice(businessId.length + 1));
}

/** An event's place in the index and the cursor's order. */
export const positionOf = (storedAt: number, eventId: string) => `${String(storedAt).padStart(15, "0")}#${eventId}`;
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
    eventsOf: eventsShardOf(event.businessId, event.id, (await config()).eventShards),
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
  if (!item || !isEventsOf(item.eventsOf, businessId) || item.ttl * 1000 <= Date.now()) return undefined;
  return JSON.parse(item.event) as BusinessEvent;
}

export interface EventPage {
  events: BusinessEvent[];
  /** Where the next page starts (absent: nothing was examined and no cursor was given). */
  nextCursor?: string;
  /** More events are stored past this page already; false: the next page waits for new events. */
  hasMore: boolean;
}

/** One shard's Query: its items (filtered, in order) and, if it stopped early, the position it reached. */
export interface ShardRead<T extends { eventsAt: string }> {
  items: T[];
  /** The LastEvaluatedKey's position; absent: the shard was read up to the horizon. */
  reachedTo?: string;
}

/**
 * Merges the shards' reads into one page, oldest first. A shard that stopped early (its Limit, or
 * DynamoDB's 1 MB per Query, filtered-out items counted in both) has examined nothing past the
 * position it reached, so an item of its beyond that may exist unread. The page therefore holds
 * only items up to the smallest position any shard reached (every shard has examined everything
 * up to there), and at most `limit` of them; the cursor is the last position the page covers. So
 * nothing is skipped; items past it that other shards returned are read again by the next page.
 * Every shard examines at least one item, so an unfinished read always moves the cursor on.
 */
export function mergeShardReads<T extends { eventsAt: string }>(
  reads: ShardRead<T>[],
  limit: number,
  after?: string,
): { items: T[]; last?: string; hasMore: boolean } {
  const bound = reads.flatMap((r) => (r.reachedTo === undefined ? [] : [r.reachedTo])).sort()[0];
  const covered = reads
    .flatMap((r) => r.items)
    .filter((item) => bound === undefined || item.eventsAt <= bound)
    .sort((x, y) => (x.eventsAt < y.eventsAt ? -1 : x.eventsAt > y.eventsAt ? 1 : 0));
  if (covered.length > limit) {
    const items = covered.slice(0, limit);
    return { items, last: items.at(-1)!.eventsAt, hasMore: true };
  }
  if (bound !== undefined) return { items: covered, last: bound, hasMore: true };
  const last = covered.at(-1)?.eventsAt ?? after;
  return { items: covered, ...(last !== undefined ? { last } : {}), hasMore: false };
}

/**
 * A business system's events after the cursor's position, oldest first, at most `limit`; each
 * shard's Query examines up to `limit` (the filters may leave fewer: the cursor still moves past
 * what was examined).
 */
export async function listStoredEvents(
  businessId: string,
  options: { after?: string; type?: string; paymentId?: string; limit: number; now?: number },
): Promise<EventPage> {
  const now = options.now ?? Date.now();
  const { tableName, eventShards } = await config();
  const horizon = positionOf(now - (await settleMs()), "");
  const filters = ["#ttl > :nowSeconds"];
  const values: Record<string, unknown> = { ":horizon": horizon, ":nowSeconds": Math.floor(now / 1000) };
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
  const reads = await Promise.all(
    eventsShardsToRead(businessId, eventShards).map(async (shard): Promise<ShardRead<EventItem>> => {
      const { Items = [], LastEvaluatedKey } = await dynamo().send(
        new QueryCommand({
          TableName: tableName,
          IndexName: "events",
          KeyConditionExpression:
            options.after === undefined
              ? "eventsOf = :shard AND eventsAt < :horizon"
              : "eventsOf = :shard AND eventsAt BETWEEN :after AND :horizon",
          FilterExpression: filters.join(" AND "),
          ExpressionAttributeNames: { "#ttl": "ttl" },
          ExpressionAttributeValues: { ...values, ":shard": shard },
          // A whole page may be on one shard; counted before the filter, as before sharding.
          Limit: options.limit,
        }),
      );
      const reachedTo = LastEvaluatedKey?.eventsAt as string | undefined;
      return { items: Items as EventItem[], ...(reachedTo !== undefined ? { reachedTo } : {}) };
    }),
  );
  const page = mergeShardReads(reads, options.limit, options.after);
  return {
    events: page.items.map((item) => JSON.parse(item.event) as BusinessEvent),
    ...(page.last !== undefined ? { nextCursor: encodeCursor(page.last) } : {}),
    hasMore: page.hasMore,
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
