// 2. What one minute's sweep reads with 10,000 and 100,000 settled payments in the table, 1,000
// open payments not due yet and 100 payments due: settled payments are not in the sparse `sweep`
// index and open ones are keyed there by when they are due, so the sweep's reads must not grow with
// either. Payments are written straight into the table with BatchWriteItem (not through the API);
// a minute's sweep is what the fan-out starts: `sweepShard()` from lib/payments/sweep.ts once per
// shard (DUE#0..n-1 and DUE), all at once, run in this process with the stack's configuration. Its
// check messages go to a queue nobody consumes, so no check worker runs behind the measurement.
// 2b. The backlog: BENCH_SWEEP_DUE (10,000) payments due at once, spread over the configured shards
// (a tenth still under the unsharded key `DUE`, as items written before sharding), handed out by
// one minute's shard sweeps in parallel, each within the function's 50 s timeout.
// 2c. One shard: BENCH_SWEEP_SHARD_DUE (10,000) payments due in a single shard, swept by one shard
// invocation: what one shard hands out per second, the figure the sweep scales by (x shards).
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../../lib/aws.js";
import { derivePaymentId, legacySweepShard, outTradeNo, type PaymentRecord, paymentKey, sweepShardOf } from "../../lib/payments/model.js";
import { localCredentials } from "../../local/engines.js";
import { envInt, envList, num, progress, report, table, type Cell } from "../lib/format.js";
import { itemSizeBytes } from "../lib/itemSize.js";
import { scope } from "../lib/meter.js";
import { startBenchStack } from "../lib/stack.js";

export async function run(): Promise<void> {
  const sizes = envList("BENCH_SETTLED", [10_000, 100_000], [10_000]).sort((a, b) => a - b);
  const pendingCount = envInt("BENCH_PENDING", 100, 100);
  const notDueCount = envInt("BENCH_OPEN", 1000, 1000);
  const backlog = envInt("BENCH_SWEEP_DUE", 10_000, 10_000);
  const shardBacklog = envInt("BENCH_SWEEP_SHARD_DUE", 10_000, 5_000);
  // The Scan contrast: DynamoDB Local scans slowly (~3 minutes for 100,000 payments), so by default
  // only the smallest size. BENCH_SCAN=0 none, =first (default), =all.
  const scanMode = process.env.BENCH_SCAN ?? "first";
  progress(`sweep: starting the local stack`);
  const bench = await startBenchStack();
  try {
    const { stack, meter } = bench;
    // Before the configuration is read again: the sweep's check messages go to a dead end, and a
    // claim lasts as on AWS (serverless.yml's 900 s, not the local 20 s), so what one measurement
    // claimed is not due again in the next one.
    bench.setFunctionEnv({ CHECK_QUEUE_URL: await bench.sinkQueue("bench-sweep-checks-sink"), SWEEP_LEASE_SECONDS: "900" });
    // Loaded now, as in a Lambda: the environment is there before the code (log level, metrics).
    const { config } = await import("../../lib/config.js");
    const { alipay } = await import("../../lib/alipay/client.js");
    const { sweepShard } = await import("../../lib/payments/sweep.js");
    const { sweepShardsToRead } = await import("../../lib/payments/model.js");
    const settings = await config();
    const shards = sweepShardsToRead(settings.sweepShards);
    // A minute's sweep: what the fan-out's messages start, one shard invocation each, all at once.
    const sweepMinute = async (remainingMs: () => number) => {
      const each = await Promise.all(shards.map((shard) => sweepShard({ shard, now: Date.now(), remainingMs })));
      const sum = (key: "due" | "enqueued" | "pages") => each.reduce((total, r) => total + r[key], 0);
      return {
        due: sum("due"),
        enqueued: sum("enqueued"),
        pages: sum("pages"),
        shards: each.length,
        exhausted: each.every((r) => r.exhausted),
      };
    };
    const tableName = settings.tableName;
    const shardOf = (paymentId: string) => sweepShardOf(paymentId, settings.sweepShards);
    const loader = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: stack.service.region, credentials: localCredentials, maxAttempts: 10 }),
      { marshallOptions: { removeUndefinedValues: true } },
    );
    const now = Date.now();
    // A real order string, so the items have their real size.
    const orderString = (await alipay()).orderString({
      outTradeNo: outTradeNo(derivePaymentId("shop", "cart-pending-0"), 1),
      amountFen: 1234,
      subject: "Coffee beans 250g",
      body: "Single origin, whole beans",
      expiresAtMs: now + 900_000,
    });
    const base = (businessOrderId: string, createdAt: number) => {
      const paymentId = derivePaymentId("shop", businessOrderId);
      return {
        ...paymentKey(paymentId),
        paymentId,
        businessId: "shop",
        businessOrderId,
        userId: `user-${createdAt % 5000}`,
        amountFen: 1234,
        subject: "Coffee beans 250g",
        body: "Single origin, whole beans",
        createdAt,
        expiresAt: createdAt + 1_800_000,
      };
    };
    const settled = (i: number): PaymentRecord => {
      const createdAt = now - 86_400_000 - i * 1000;
      const paidAt = createdAt + 42_000;
      const tradeNo = `2026112522001${String(i).padStart(15, "0")}`;
      const payment = base(`cart-${i}`, createdAt);
      return {
        ...payment,
        status: "PAID",
        attempts: [
          {
            attemptNo: 1,
            outTradeNo: outTradeNo(payment.paymentId, 1),
            status: "PAID",
            createdAt: createdAt + 2000,
            expiresAt: createdAt + 902_000,
            tradeNo,
          },
        ],
        tradeNo,
        buyerId: "2088102177846241",
        paidAt,
        paidVia: "notify",
        history: [
          { at: createdAt, event: "created" },
          { at: createdAt + 2000, event: "attempt", detail: outTradeNo(payment.paymentId, 1) },
          { at: paidAt, event: "paid", detail: `notify ${tradeNo} attempt 1` },
        ],
      };
    };
    // Open, its first attempt pending, due a little while ago (oldest first). `legacy`: under the unsharded key.
    const pending = (i: number, at: number, prefix = "cart-pending", legacy = false, shard?: string): PaymentRecord => {
      const createdAt = at - 120_000;
      const payment = base(`${prefix}-${i}`, createdAt);
      return {
        ...payment,
        status: "OPEN",
        attempts: [
          {
            attemptNo: 1,
            outTradeNo: outTradeNo(payment.paymentId, 1),
            status: "PENDING",
            createdAt: createdAt + 2000,
            expiresAt: createdAt + 902_000,
          },
        ],
        // Written before order strings stopped being stored: those still carry theirs (the bigger item).
        ...(legacy ? { orderString } : {}),
        sweepShard: shard ?? (legacy ? legacySweepShard : shardOf(payment.paymentId)),
        sweepAt: at - 60_000 + (i % 50_000),
        history: [
          { at: createdAt, event: "created" },
          { at: createdAt + 2000, event: "attempt", detail: outTradeNo(payment.paymentId, 1) },
        ],
      };
    };
    // Open, no order string asked for yet: in the index from birth, due at its expiry.
    const notDue = (i: number): PaymentRecord => {
      const payment = base(`cart-open-${i}`, now - i * 1000);
      return {
        ...payment,
        status: "OPEN",
        attempts: [],
        sweepShard: shardOf(payment.paymentId),
        sweepAt: payment.expiresAt + 60_000,
        history: [{ at: payment.createdAt, event: "created" }],
      };
    };
    await load(loader, tableName, 0, notDueCount, notDue);

    const rows: Cell[][] = [];
    const results: unknown[] = [];
    let loaded = 0;
    for (const size of sizes) {
      const started = performance.now();
      await load(loader, tableName, loaded, size, settled);
      const loadSeconds = (performance.now() - started) / 1000;
      progress(`sweep: ${num(size)} settled payments in the table (${num(size - loaded)} written in ${num(loadSeconds)} s)`);
      loaded = size;
      // The due payments (again): the previous sweep leased them into the future.
      const at = Date.now();
      await load(loader, tableName, 0, pendingCount, (i) => pending(i, at));

      const before = meter.snapshot();
      const t0 = performance.now();
      const result = await scope.run("sweep", () => sweepMinute(() => 50_000));
      const sweepMs = performance.now() - t0;
      const counts = meter.since(before);
      const s = meter.summary(counts, ["sweep"]);
      const batches = meter.other(counts, ["sweep"]).SendMessageBatch ?? { requests: 0, items: 0 };
      const queries = s.byOp.Query ?? { requests: 0, items: 0, capacity: 0 };

      const scanContrast = scanMode === "all" || (scanMode !== "0" && size === sizes[0]);
      let contrast = { requests: 0, rcu: 0, ms: 0, scanned: 0 };
      if (scanContrast) {
        const beforeScan = meter.snapshot();
        const ts = performance.now();
        let scanned = 0;
        await scope.run("scan", async () => {
          let startKey: Record<string, unknown> | undefined;
          do {
            const page = await dynamo().send(
              new ScanCommand({
                TableName: tableName,
                Select: "COUNT",
                FilterExpression: "begins_with(sweepShard, :due) AND sweepAt <= :now",
                ExpressionAttributeValues: { ":due": legacySweepShard, ":now": Date.now() },
                ExclusiveStartKey: startKey,
              }),
            );
            scanned += page.ScannedCount ?? 0;
            startKey = page.LastEvaluatedKey;
          } while (startKey);
        });
        const sc = meter.summary(meter.since(beforeScan), ["scan"]);
        contrast = { requests: sc.readRequests, rcu: sc.rcu, ms: performance.now() - ts, scanned };
      }
      rows.push([
        num(size),
        pendingCount,
        result.due,
        queries.requests,
        queries.items,
        s.rcu,
        s.itemWrites,
        s.wcu,
        batches.requests,
        num(sweepMs, 0),
        scanContrast ? contrast.requests : "-",
        scanContrast ? contrast.rcu : "-",
        scanContrast ? num(contrast.ms, 0) : "-",
      ]);
      results.push({
        settled: size,
        pending: pendingCount,
        due: result.due,
        enqueued: result.enqueued,
        queryRequests: queries.requests,
        indexItemsRead: queries.items,
        rcu: s.rcu,
        claimWrites: s.itemWrites,
        wcu: s.wcu,
        sqsBatches: batches.requests,
        sweepMs,
        loadSeconds,
        scan: scanContrast ? contrast : undefined,
      });
    }

    // The backlog: `backlog` payments due at once, one minute's shard sweeps with the function's timeout.
    const at = Date.now();
    const t0Load = performance.now();
    await load(loader, tableName, 0, backlog, (i) => pending(i, at, "cart-backlog", i % 10 === 0));
    progress(`sweep: ${num(backlog)} due payments loaded in ${num((performance.now() - t0Load) / 1000)} s; one minute's sweep`);
    const timeoutMs = 50_000; // serverless.yml functions.sweepShard.timeout
    const beforeBacklog = meter.snapshot();
    const tb = performance.now();
    const deadline = Date.now() + timeoutMs;
    const handedOut = await scope.run("sweep", () => sweepMinute(() => deadline - Date.now()));
    const backlogSeconds = (performance.now() - tb) / 1000;
    const bs = meter.summary(meter.since(beforeBacklog), ["sweep"]);
    const backlogBatches = meter.other(meter.since(beforeBacklog), ["sweep"]).SendMessageBatch ?? { requests: 0, items: 0 };
    const backlogResult = {
      due: backlog,
      shards: settings.sweepShards,
      shardsRead: handedOut.shards,
      claimConcurrency: settings.sweepClaimConcurrency,
      found: handedOut.due,
      enqueued: handedOut.enqueued,
      seconds: backlogSeconds,
      ordersPerSecond: handedOut.enqueued / backlogSeconds,
      queryRequests: bs.byOp.Query?.requests ?? 0,
      claimWrites: bs.byOp.UpdateItem?.requests ?? 0,
      rcu: bs.rcu,
      wcu: bs.wcu,
      sqsBatches: backlogBatches.requests,
      withinTimeout: backlogSeconds * 1000 < timeoutMs,
      exhausted: handedOut.exhausted,
    };

    // One shard: `shardBacklog` payments due in DUE#0 alone, one shard invocation with the function's timeout.
    const oneShard = shards[0]!;
    const atShard = Date.now();
    const t0ShardLoad = performance.now();
    await load(loader, tableName, 0, shardBacklog, (i) => pending(i, atShard, "cart-shard", false, oneShard));
    progress(
      `sweep: ${num(shardBacklog)} due payments loaded into ${oneShard} in ${num((performance.now() - t0ShardLoad) / 1000)} s; one shard sweep`,
    );
    loader.destroy();
    const beforeShard = meter.snapshot();
    const ts = performance.now();
    const shardDeadline = Date.now() + timeoutMs;
    const swept = await scope.run("sweepShard", () =>
      sweepShard({ shard: oneShard, now: Date.now(), remainingMs: () => shardDeadline - Date.now() }),
    );
    const shardSeconds = (performance.now() - ts) / 1000;
    const ss = meter.summary(meter.since(beforeShard), ["sweepShard"]);
    const shardBatches = meter.other(meter.since(beforeShard), ["sweepShard"]).SendMessageBatch ?? { requests: 0, items: 0 };
    const shardResult = {
      shard: oneShard,
      due: shardBacklog,
      found: swept.due,
      enqueued: swept.enqueued,
      exhausted: swept.exhausted,
      pages: swept.pages,
      claimConcurrency: settings.sweepClaimConcurrency,
      seconds: shardSeconds,
      itemsPerSecond: swept.enqueued / shardSeconds,
      msPerItem: (shardSeconds * 1000) / Math.max(1, swept.enqueued),
      queryRequests: ss.byOp.Query?.requests ?? 0,
      claimWrites: ss.byOp.UpdateItem?.requests ?? 0,
      dynamoRequests: ss.requests,
      requestsPerItem: ss.requests / Math.max(1, swept.due),
      sqsBatches: shardBatches.requests,
      rcu: ss.rcu,
      wcu: ss.wcu,
      withinTimeout: shardSeconds * 1000 < timeoutMs,
    };
    const first = results[0] as { queryRequests: number; rcu: number };
    const flat = results.every((r) => (r as typeof first).queryRequests === first.queryRequests && (r as typeof first).rcu === first.rcu);
    console.log(
      table(
        `2. One sweep with settled payments in the table, ${num(notDueCount)} open payments not due yet and ${pendingCount} due`,
        [
          "settled payments",
          "due",
          "found",
          "Query reqs",
          "index items",
          "RCU",
          "claim writes",
          "WCU",
          "SQS batches",
          "sweep ms",
          "Scan reqs*",
          "Scan RCU*",
          "Scan ms*",
        ],
        rows,
        [
          `Sweep reads independent of settled payments: ${flat ? "yes" : "NO"} (Query on the sparse KEYS_ONLY index, sweepAt <= now, pages of 500; RCU as reported by DynamoDB Local).`,
          `Open payments are in the index from creation (due at their expiry): the ${num(notDueCount)} not yet due are outside the Query's key range and never read.`,
          `Claims are one conditional UpdateItem per due payment (the lease moves sweepAt, an index key: table + index WCU).`,
          `* For contrast, not what the code does: a full-table Scan for due payments (Select COUNT) reads every settled payment, so its RCU grow linearly` +
            (scanMode === "all" ? "." : ` (measured on the first size only; BENCH_SCAN=all for every size, slow on DynamoDB Local).`),
          `Item size of a settled (PAID) payment ≈ ${num(itemSizeBytes(settled(0)))} B, of a due one with its pending attempt ≈ ${num(itemSizeBytes(pending(0, now)))} B (≈ ${num(itemSizeBytes(pending(0, now, "cart-pending", true)))} B with the order string stored before), of an open one without attempt ≈ ${num(itemSizeBytes(notDue(0)))} B.`,
        ],
      ),
    );
    console.log(
      table(
        `2b. One minute's sweep with a backlog of ${num(backlog)} due payments (${settings.sweepShards} shards + the unsharded DUE, one shard invocation each, ${settings.sweepClaimConcurrency} claims in flight in each)`,
        ["due", "found", "handed out", "seconds", "orders/s", "Query reqs", "claim writes", "RCU", "WCU", "SQS batches", "within 50 s"],
        [
          [
            num(backlog),
            num(handedOut.due),
            num(handedOut.enqueued),
            num(backlogSeconds, 1),
            num(backlogResult.ordersPerSecond, 0),
            backlogResult.queryRequests,
            num(backlogResult.claimWrites),
            num(bs.rcu),
            num(bs.wcu),
            num(backlogBatches.requests),
            backlogResult.withinTimeout ? "yes" : "NO",
          ],
        ],
        [
          `One tenth of the backlog is under the unsharded key DUE (items written before sharding): its own shard invocation reads it beside DUE#0..DUE#${settings.sweepShards - 1}.`,
          `The ${shards.length} shard sweeps run at once in this process, as the fan-out's messages start them on AWS (pages of 500; each shard's claims and SendMessageBatch calls ${settings.sweepClaimConcurrency} in flight). Timed on DynamoDB Local and fauxqs sharing 2 cores with Node: on AWS each shard has its own invocation and DynamoDB partition.`,
        ],
      ),
    );
    console.log(
      table(
        `2c. One shard's sweep: ${num(shardBacklog)} due payments in ${oneShard} alone, one shard invocation (${settings.sweepClaimConcurrency} claims in flight)`,
        [
          "due",
          "found",
          "handed out",
          "exhausted",
          "seconds",
          "items/s",
          "ms/item",
          "Query reqs",
          "claim writes",
          "DynamoDB reqs/item",
          "SQS batches",
          "within 50 s",
        ],
        [
          [
            num(shardBacklog),
            num(swept.due),
            num(swept.enqueued),
            swept.exhausted ? "yes" : "no",
            num(shardSeconds, 1),
            num(shardResult.itemsPerSecond, 0),
            num(shardResult.msPerItem, 2),
            shardResult.queryRequests,
            num(shardResult.claimWrites),
            num(shardResult.requestsPerItem, 3),
            num(shardBatches.requests),
            shardResult.withinTimeout ? "yes" : "NO",
          ],
        ],
        [
          `What the sweep scales by: a minute hands out up to shards x this rate x ~40 s (each shard invocation stops reading with 10 s of its 50 s left), no other cap.`,
          `Per due item: one conditional UpdateItem (the claim) plus a 500th of a Query; one SendMessageBatch per 10 claimed. Timed on DynamoDB Local and fauxqs sharing 2 cores with Node (and with whatever else runs on the machine): load-bound, a floor for AWS, not a forecast.`,
        ],
      ),
    );
    report("sweep", { rows: results, flat, openNotDue: notDueCount, backlog: backlogResult, shard: shardResult });
  } finally {
    await bench.stop();
  }
}

/** Writes items [from, to) with BatchWriteItem, 25 a request, a few requests in flight. */
async function load(
  client: DynamoDBDocumentClient,
  tableName: string,
  from: number,
  to: number,
  item: (i: number) => object,
): Promise<void> {
  const concurrency = 8;
  let next = from;
  const worker = async () => {
    while (next < to) {
      const start = next;
      const end = Math.min(to, start + 25);
      next = end;
      let requests = Array.from({ length: end - start }, (_, k) => ({ PutRequest: { Item: item(start + k) as Record<string, unknown> } }));
      for (let attempt = 0; requests.length > 0; attempt += 1) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt)));
        const { UnprocessedItems } = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
        requests = (UnprocessedItems?.[tableName] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
