// 1. DynamoDB requests and consumed capacity of one full order lifecycle, over HTTP through the
// local stack: POST /orders -> the buyer pays in the simulator (POST /sim/pay) -> Alipay's
// notification -> PAID -> event delivered to the business receiver. Counted from the SDK client
// the code uses, attributed to the function that made each request.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { localCredentials } from "../../local/engines.js";
import { merchantOrderKey, orderKey } from "../../lib/orders/model.js";
import { envInt, num, percentile, progress, report, table, type Cell } from "../lib/format.js";
import { itemSizeBytes } from "../lib/itemSize.js";
import type { Counts, Meter, Summary } from "../lib/meter.js";
import { startBenchStack, waitFor, type BenchStack } from "../lib/stack.js";

const steps = [
  { fn: "createOrder", label: "create (POST /orders)" },
  { fn: "alipayNotify", label: "notify -> PAID (POST /alipay/notify)" },
  { fn: "publishEvents", label: "event published (table stream -> events queue)" },
  { fn: "deliverEvent", label: "event delivered (events worker)" },
];

const targetWrites = 3;

export async function run(): Promise<void> {
  const orders = envInt("BENCH_LIFECYCLE_ORDERS", 20, 5);
  progress(`lifecycle: starting the local stack`);
  const bench = await startBenchStack();
  try {
    const { stack, meter } = bench;
    const token = await stack.issueToken("bench-lifecycle");
    const raw = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: stack.service.region, credentials: localCredentials }));
    const tableName = stack.functionEnv.TABLE_NAME!;

    // One order first, uncounted: cold starts, and the item sizes that explain the capacity.
    const warm = await lifecycle(bench, token, "warmup", async (orderId) =>
      (await raw.send(new GetCommand({ TableName: tableName, Key: orderKey(orderId) }))).Item!);
    const createdItem = warm.createdItem;
    const deliveredItem = (await raw.send(new GetCommand({ TableName: tableName, Key: orderKey(warm.orderId) }))).Item!;
    const merchantItem = (await raw.send(new GetCommand({ TableName: tableName, Key: merchantOrderKey("bench-lifecycle", warm.merchantOrderId) }))).Item!;
    raw.destroy();

    progress(`lifecycle: ${orders} orders, one after the other`);
    meter.reset();
    const perOrder: Counts[] = [];
    const createMs: number[] = [];
    const payToEventMs: number[] = [];
    for (let i = 0; i < orders; i += 1) {
      const before = meter.snapshot();
      const one = await lifecycle(bench, token, String(i));
      perOrder.push(meter.since(before));
      createMs.push(one.createMs);
      payToEventMs.push(one.payToEventMs);
    }

    const totals = perOrder.map((c) => meter.summary(c));
    const identical = totals.every((t) => t.requests === totals[0]!.requests && t.itemWrites === totals[0]!.itemWrites && t.wcu === totals[0]!.wcu && t.rcu === totals[0]!.rcu);
    const scopes = [...new Set(perOrder.flatMap((c) => [...c.keys()]))];
    const extra = scopes.filter((s) => !steps.some((step) => step.fn === s));
    const rows: Cell[][] = [];
    const per = (s: Summary) => ({
      requests: s.requests / orders,
      reads: s.readRequests / orders,
      writes: s.itemWrites / orders,
      rcu: s.rcu / orders,
      wcu: s.wcu / orders,
      indexWcu: s.indexWcu / orders,
    });
    const all = meter.summary();
    const sqsAll = meter.other();
    const data: Record<string, unknown> = {};
    for (const step of [...steps, ...extra.map((fn) => ({ fn, label: fn }))]) {
      const s = per(meter.summary(undefined, [step.fn]));
      const sends = Object.values(meter.other(undefined, [step.fn])).reduce((n, o) => n + o.items, 0) / orders;
      rows.push([step.label, s.requests, s.reads, s.writes, s.rcu, s.wcu, s.indexWcu, sends, opsOf(meter, step.fn, orders)]);
      data[step.fn] = { ...s, sqsMessages: sends, ops: opsOf(meter, step.fn, orders) };
    }
    const t = per(all);
    const sendsTotal = Object.values(sqsAll).reduce((n, o) => n + o.items, 0) / orders;
    rows.push(["total per paid order", t.requests, t.reads, t.writes, t.rcu, t.wcu, t.indexWcu, sendsTotal, ""]);
    const meets = t.writes <= targetWrites;
    const createdBytes = itemSizeBytes(createdItem);
    const deliveredBytes = itemSizeBytes(deliveredItem);
    const merchantBytes = itemSizeBytes(merchantItem);
    const sorted = (v: number[]) => [...v].sort((a, b) => a - b);
    console.log(table(
      `1. DynamoDB per order lifecycle (create -> pay -> notify -> event delivered), mean of ${orders} orders over HTTP`,
      ["step (function)", "requests", "reads", "item writes", "RCU", "WCU", "WCU: index", "SQS msgs", "operations"],
      rows,
      [
        `Every order counted the same: ${identical ? "yes" : "NO (figures are means)"}. RCU/WCU as reported by DynamoDB Local (ReturnConsumedCapacity); "WCU: index" = part spent on the sparse sweep GSI.`,
        `Item writes per paid order: ${num(t.writes)} (create ${num(per(meter.summary(undefined, ["createOrder"])).writes)} in one TransactWriteItems, PAID ${num(per(meter.summary(undefined, ["alipayNotify"])).writes)}, publish + delivery ${num(per(meter.summary(undefined, ["publishEvents", "deliverEvent"])).writes)}; the stream reads are the platform's, not counted). ` +
          `Target <= ${targetWrites}: ${meets ? "MET" : `NOT MET (${num(t.writes - targetWrites)} over)`}. From the notify on: ${num(t.writes - per(meter.summary(undefined, ["createOrder"])).writes)}.`,
        `Item sizes: order ≈ ${num(createdBytes)} B at creation, ≈ ${num(deliveredBytes)} B once paid (2 WCU per write of it, x2 inside a transaction); business-order pointer ≈ ${num(merchantBytes)} B.`,
        `Latency (local, p50 / p99): POST /orders ${num(percentile(sorted(createMs), 50))} / ${num(percentile(sorted(createMs), 99))} ms; ` +
          `pay -> event at the receiver ${num(percentile(sorted(payToEventMs), 50))} / ${num(percentile(sorted(payToEventMs), 99))} ms.`,
      ],
    ));
    report("lifecycle", {
      orders,
      identical,
      steps: data,
      total: { ...t, sqsMessages: sendsTotal },
      targetWrites,
      meetsTarget: meets,
      itemBytes: { orderCreated: createdBytes, orderDelivered: deliveredBytes, merchantPointer: merchantBytes },
      latencyMs: {
        createP50: percentile(sorted(createMs), 50),
        createP99: percentile(sorted(createMs), 99),
        payToEventP50: percentile(sorted(payToEventMs), 50),
        payToEventP99: percentile(sorted(payToEventMs), 99),
      },
    });
  } finally {
    await bench.stop();
  }
}

function opsOf(meter: Meter, fn: string, orders: number): string {
  const counts = meter.counts.get(fn);
  if (!counts) return "";
  return [...counts]
    .map(([op, s]) => `${op} x${num(s.requests / orders)}${s.items !== s.requests && op.startsWith("Transact") ? ` (${num(s.items / orders)} items)` : ""}`)
    .join(", ");
}

async function lifecycle(
  bench: BenchStack,
  token: string,
  tag: string,
  readOrder?: (orderId: string) => Promise<Record<string, unknown>>,
) {
  const { stack } = bench;
  const merchantOrderId = `cart-${tag}-${Date.now()}`;
  const t0 = performance.now();
  const created = await fetch(`${stack.urls.api}/orders`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "idempotency-key": `bench-${merchantOrderId}`, "content-type": "application/json" },
    body: JSON.stringify({ merchantOrderId, amount: 1234, subject: "Coffee beans 250g", body: "Single origin, whole beans" }),
  });
  const order = (await created.json()) as { orderId: string; orderString: string };
  const createMs = performance.now() - t0;
  if (created.status !== 201) throw new Error(`POST /orders answered ${created.status}: ${JSON.stringify(order)}`);
  const createdItem = readOrder ? await readOrder(order.orderId) : {};
  const t1 = performance.now();
  const paid = await fetch(`${stack.urls.alipay}/sim/pay`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ orderString: order.orderString }),
  });
  if (paid.status !== 200) throw new Error(`/sim/pay answered ${paid.status}: ${await paid.text()}`);
  await waitFor(() => stack.receiver.events.has(`evt_${order.orderId}_paid`), `the event of ${order.orderId}`);
  const payToEventMs = performance.now() - t1;
  // Let the workers finish what they started for this order before the next one.
  await bench.idle();
  return { orderId: order.orderId, merchantOrderId, createMs, payToEventMs, createdItem };
}
