// Counts AWS SDK requests as the code under test makes them, from inside the SDK client: one
// middleware on the client's stack sees every logical request (retries happen below it), asks
// DynamoDB for its consumed capacity (ReturnConsumedCapacity: TOTAL) and adds it up.
//
// Requests are attributed to a scope (an AsyncLocalStorage value): the name of the local Lambda
// running (see `attributeLambdas`), or whatever the benchmark set with `scope.run(name, ...)`.
import { AsyncLocalStorage } from "node:async_hooks";
import type { MiddlewareStack } from "@smithy/types";

export const scope = new AsyncLocalStorage<string>();

const readOps = new Set(["GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"]);
const writeOps = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]);

export interface OpStats {
  /** SDK requests (one per `send`, whatever the retries underneath). */
  requests: number;
  /** Items read or written: a TransactWriteItems of 2 items counts 2, a Query counts 1 request and its items here. */
  items: number;
  /** Capacity units reported by DynamoDB (successful requests only; a failed request reports none). */
  capacity: number;
  /** Of `capacity`, what went to secondary indexes (ReturnConsumedCapacity INDEXES breaks it down). */
  indexCapacity: number;
  /** `indexCapacity` by index name (the sweep, paidAt, events... GSIs). */
  byIndex?: Record<string, number>;
  /** Requests that threw (e.g. a failed condition: still billed on DynamoDB, capacity not reported). */
  errors: number;
}

export type Counts = Map<string, Map<string, OpStats>>; // scope -> operation -> stats

export interface Summary {
  requests: number;
  readRequests: number;
  writeRequests: number;
  /** Item writes (what DynamoDB bills a write for): Put/Update/Delete = 1, transactions and batches = their items. */
  itemWrites: number;
  /** Items returned by reads (GetItem that found nothing = 0). */
  itemsRead: number;
  rcu: number;
  wcu: number;
  /** Of rcu / wcu, the part consumed by secondary indexes (the sparse `sweep` index). */
  indexRcu: number;
  indexWcu: number;
  /** indexWcu by index name. */
  indexWcuByName: Record<string, number>;
  errors: number;
  byOp: Record<string, OpStats>;
}

export class Meter {
  readonly counts: Counts = new Map();

  record(who: string, op: string, delta: Partial<OpStats>): void {
    let ops = this.counts.get(who);
    if (!ops) this.counts.set(who, (ops = new Map()));
    const stats = ops.get(op) ?? { requests: 0, items: 0, capacity: 0, indexCapacity: 0, errors: 0 };
    stats.requests += delta.requests ?? 0;
    stats.items += delta.items ?? 0;
    stats.capacity += delta.capacity ?? 0;
    stats.indexCapacity += delta.indexCapacity ?? 0;
    addInto((stats.byIndex ??= {}), delta.byIndex);
    stats.errors += delta.errors ?? 0;
    ops.set(op, stats);
  }

  reset(): void {
    this.counts.clear();
  }

  /** A copy, to diff later with `since`. */
  snapshot(): Counts {
    return new Map([...this.counts].map(([who, ops]) => [who, new Map([...ops].map(([op, s]) => [op, { ...s }]))]));
  }

  /** What was counted after `before` was taken. */
  since(before: Counts): Counts {
    const out: Counts = new Map();
    for (const [who, ops] of this.counts) {
      for (const [op, s] of ops) {
        const b = before.get(who)?.get(op) ?? { requests: 0, items: 0, capacity: 0, indexCapacity: 0, errors: 0 };
        const d = {
          requests: s.requests - b.requests,
          items: s.items - b.items,
          capacity: s.capacity - b.capacity,
          indexCapacity: s.indexCapacity - b.indexCapacity,
          errors: s.errors - b.errors,
        };
        if (d.requests === 0) continue;
        if (!out.has(who)) out.set(who, new Map());
        out.get(who)!.set(op, d);
      }
    }
    return out;
  }

  scopes(counts: Counts = this.counts): string[] {
    return [...counts.keys()];
  }

  /** DynamoDB figures of the given scopes (all when omitted). */
  summary(counts: Counts = this.counts, scopes?: string[]): Summary {
    const sum: Summary = {
      requests: 0,
      readRequests: 0,
      writeRequests: 0,
      itemWrites: 0,
      itemsRead: 0,
      rcu: 0,
      wcu: 0,
      indexRcu: 0,
      indexWcu: 0,
      indexWcuByName: {},
      errors: 0,
      byOp: {},
    };
    for (const [who, ops] of counts) {
      if (scopes && !scopes.includes(who)) continue;
      for (const [op, s] of ops) {
        if (!readOps.has(op) && !writeOps.has(op)) continue;
        const into = (sum.byOp[op] ??= { requests: 0, items: 0, capacity: 0, indexCapacity: 0, errors: 0 });
        into.requests += s.requests;
        into.items += s.items;
        into.capacity += s.capacity;
        into.indexCapacity += s.indexCapacity;
        into.errors += s.errors;
        sum.requests += s.requests;
        sum.errors += s.errors;
        if (readOps.has(op)) {
          sum.readRequests += s.requests;
          sum.itemsRead += s.items;
          sum.rcu += s.capacity;
          sum.indexRcu += s.indexCapacity;
        } else {
          sum.writeRequests += s.requests;
          sum.itemWrites += s.items;
          sum.wcu += s.capacity;
          sum.indexWcu += s.indexCapacity;
          addInto(sum.indexWcuByName, s.byIndex);
        }
      }
    }
    return sum;
  }

  /** Non-DynamoDB operations (SQS) of the given scopes, by operation: requests and messages. */
  other(counts: Counts = this.counts, scopes?: string[]): Record<string, OpStats> {
    const out: Record<string, OpStats> = {};
    for (const [who, ops] of counts) {
      if (scopes && !scopes.includes(who)) continue;
      for (const [op, s] of ops) {
        if (readOps.has(op) || writeOps.has(op)) continue;
        const into = (out[op] ??= { requests: 0, items: 0, capacity: 0, indexCapacity: 0, errors: 0 });
        into.requests += s.requests;
        into.items += s.items;
        into.errors += s.errors;
      }
    }
    return out;
  }
}

type AnyStack = MiddlewareStack<any, any>;

const installed = new WeakSet<object>();

/** Adds the counting middleware to a DynamoDB (or DynamoDBDocument) client or an SQS client. */
export function instrument(client: { middlewareStack: AnyStack }, meter: Meter, fallbackScope = "other"): void {
  if (installed.has(client.middlewareStack)) return;
  installed.add(client.middlewareStack);
  client.middlewareStack.add(
    (next: any, context: any) => async (args: any) => {
      const op = String(context.commandName ?? "Unknown").replace(/Command$/, "");
      const who = scope.getStore() ?? fallbackScope;
      const input = args.input as Record<string, any>;
      const isDynamo = readOps.has(op) || writeOps.has(op);
      // INDEXES: the TOTAL figure plus its split between the table and each index.
      if (isDynamo) input.ReturnConsumedCapacity = "INDEXES";
      try {
        const result = await next(args);
        const output = result.output as Record<string, any>;
        const [capacity, indexCapacity, byIndex] = isDynamo ? capacityOf(output.ConsumedCapacity) : [0, 0, {}];
        meter.record(who, op, { requests: 1, items: itemsOf(op, input, output), capacity, indexCapacity, byIndex });
        return result;
      } catch (error) {
        meter.record(who, op, { requests: 1, items: writeOps.has(op) ? itemsOf(op, input, {}) : 0, errors: 1 });
        throw error;
      }
    },
    { step: "initialize", name: "benchRequestMeter", priority: "high" },
  );
}

function itemsOf(op: string, input: Record<string, any>, output: Record<string, any>): number {
  switch (op) {
    case "GetItem":
      return output.Item ? 1 : 0;
    case "Query":
    case "Scan":
      return Number(output.Count ?? output.Items?.length ?? 0);
    case "BatchGetItem":
      return Object.values((output.Responses ?? {}) as Record<string, unknown[]>).reduce((n, items) => n + items.length, 0);
    case "TransactGetItems":
      return (input.TransactItems ?? []).length;
    case "PutItem":
    case "UpdateItem":
    case "DeleteItem":
      return 1;
    case "TransactWriteItems":
      return (input.TransactItems ?? []).length;
    case "BatchWriteItem":
      return Object.values((input.RequestItems ?? {}) as Record<string, unknown[]>).reduce((n, items) => n + items.length, 0);
    case "SendMessage":
      return 1;
    case "SendMessageBatch":
      return (input.Entries ?? []).length;
    default:
      return 0;
  }
}

interface Consumed {
  CapacityUnits?: number;
  GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
  LocalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
}

/** [total, of which secondary indexes, that by index name]. */
function capacityOf(consumed: unknown): [number, number, Record<string, number>] {
  if (!consumed) return [0, 0, {}];
  const list = (Array.isArray(consumed) ? consumed : [consumed]) as Consumed[];
  let total = 0;
  let indexes = 0;
  const byIndex: Record<string, number> = {};
  for (const c of list) {
    total += c.CapacityUnits ?? 0;
    for (const [name, i] of [...Object.entries(c.GlobalSecondaryIndexes ?? {}), ...Object.entries(c.LocalSecondaryIndexes ?? {})]) {
      indexes += i.CapacityUnits ?? 0;
      byIndex[name] = (byIndex[name] ?? 0) + (i.CapacityUnits ?? 0);
    }
  }
  return [total, indexes, byIndex];
}

function addInto(into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [name, units] of Object.entries(from ?? {})) into[name] = (into[name] ?? 0) + units;
}
