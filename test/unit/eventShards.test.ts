// The sharded `events` index (lib/eventLog.ts): which partition an event is on, which partitions a
// page reads, which belong to a business system, and the merge of the shards' Queries into one page,
// checked against a model of DynamoDB's Query (Limit and the 1 MB stop both count filtered-out items).
import { describe, expect, it } from "vitest";
import { eventsShardOf, eventsShardsToRead, isEventsOf, mergeShardReads, type ShardRead } from "../../lib/eventLog.js";
import { businessIdPattern } from "../../lib/business/registry.js";

const at = (n: number) => String(n).padStart(6, "0");
const item = (n: number) => ({ eventsAt: at(n) });

describe("the events index's shards", () => {
  it("puts an event on the shard its id hashes to, every shard in use; one shard is the unsharded key", () => {
    const ids = Array.from({ length: 400 }, (_, i) => `evt_pay${i}_succeeded`);
    const shards = ids.map((id) => eventsShardOf("shop", id, 4));
    expect(new Set(shards)).toEqual(new Set(["shop#0", "shop#1", "shop#2", "shop#3"]));
    expect(ids.map((id) => eventsShardOf("shop", id, 4))).toEqual(shards);
    expect(eventsShardOf("shop", ids[0]!, 1)).toBe("shop");
  });

  it("reads every shard and the unsharded key of events stored before sharding", () => {
    expect(eventsShardsToRead("shop", 3)).toEqual(["shop#0", "shop#1", "shop#2", "shop"]);
    expect(eventsShardsToRead("shop", 1)).toEqual(["shop"]);
  });

  it("gives a system its own keys only, also when business ids are prefixes of each other", () => {
    for (const key of ["shop", "shop#0", "shop#3", "shop#17"]) expect(isEventsOf(key, "shop"), key).toBe(true);
    for (const key of ["shop-eu", "shop-eu#1", "shopx#1", "sho", "sho#1", "shop#", "shop#1a", "shop#-1", "shop#1#2", "membership#0"]) {
      expect(isEventsOf(key, "shop"), key).toBe(false);
    }
    expect(isEventsOf("shop#1", "shop-eu")).toBe(false);
    // Why "<id>#<digits>" names one system: no business id has a "#".
    expect(businessIdPattern.test("shop#1")).toBe(false);
  });
});

describe("merging the shards' reads into a page", () => {
  it("lists every item in order when all shards were read to the horizon", () => {
    const reads: ShardRead<{ eventsAt: string }>[] = [{ items: [item(2), item(5)] }, { items: [item(1)] }, { items: [] }];
    expect(mergeShardReads(reads, 10, at(0))).toEqual({ items: [item(1), item(2), item(5)], last: at(5), hasMore: false });
  });

  it("keeps the cursor where it was when nothing is listed (no cursor: none)", () => {
    expect(mergeShardReads([{ items: [] }, { items: [] }], 5, at(3))).toEqual({ items: [], last: at(3), hasMore: false });
    expect(mergeShardReads([{ items: [] }], 5)).toEqual({ items: [], hasMore: false });
  });

  it("returns at most the page size, the cursor at the last item returned", () => {
    const reads = [{ items: [item(1), item(3), item(5)] }, { items: [item(2), item(4), item(6)] }];
    expect(mergeShardReads(reads, 4)).toEqual({ items: [1, 2, 3, 4].map(item), last: at(4), hasMore: true });
  });

  it("stops at the smallest position a shard that stopped early reached: nothing past it is known to be complete", () => {
    // Shard 0 stopped at 3 (its 1 MB, or filtered-out items up to 3): it may hold 4, unread.
    const reads = [{ items: [item(1)], reachedTo: at(3) }, { items: [item(2), item(5), item(6)] }, { items: [item(7)], reachedTo: at(9) }];
    expect(mergeShardReads(reads, 10)).toEqual({ items: [item(1), item(2)], last: at(3), hasMore: true });
    // A shard whose items were all filtered out still bounds the page.
    expect(mergeShardReads([{ items: [], reachedTo: at(4) }, { items: [item(2), item(8)] }], 10)).toEqual({
      items: [item(2)],
      last: at(4),
      hasMore: true,
    });
  });

  it("never skips or repeats an item, paging through shards that stop early and filters (a model of Query)", () => {
    // A seeded generator: the same cases every run.
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let run = 0; run < 300; run += 1) {
      const shardCount = 1 + Math.floor(random() * 5);
      const shards: Array<Array<{ eventsAt: string; match: boolean }>> = Array.from({ length: shardCount }, () => []);
      const total = Math.floor(random() * 60);
      for (let n = 1; n <= total; n += 1) shards[Math.floor(random() * shardCount)]!.push({ eventsAt: at(n), match: random() < 0.6 });
      const limit = 1 + Math.floor(random() * 8);
      // Query: examines up to Limit items after the cursor, or fewer when its 1 MB runs out first;
      // returns the matching ones, and the last examined position if it stopped before the end.
      const query = (
        shard: Array<{ eventsAt: string; match: boolean }>,
        after: string | undefined,
      ): ShardRead<{ eventsAt: string; match: boolean }> => {
        const rest = shard.filter((e) => after === undefined || e.eventsAt > after);
        const examined = rest.slice(0, Math.min(limit, 1 + Math.floor(random() * limit * 1.5)));
        const stopped = examined.length === limit || examined.length < rest.length;
        return {
          items: examined.filter((e) => e.match),
          ...(stopped && examined.length > 0 ? { reachedTo: examined.at(-1)!.eventsAt } : {}),
        };
      };
      const listed: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; ; pages += 1) {
        expect(pages).toBeLessThan(200);
        const page = mergeShardReads(
          shards.map((shard) => query(shard, cursor)),
          limit,
          cursor,
        );
        expect(page.items.length).toBeLessThanOrEqual(limit);
        listed.push(...page.items.map((e) => e.eventsAt));
        cursor = page.last;
        if (!page.hasMore) break;
      }
      const expected = shards
        .flat()
        .filter((e) => e.match)
        .map((e) => e.eventsAt)
        .sort();
      expect(listed).toEqual(expected);
    }
  });
});
