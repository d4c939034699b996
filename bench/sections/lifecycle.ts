// 1. DynamoDB requests and consumed capacity of one paid payment, over HTTP through the local
// stack, the two-sided way: the business system creates the payment (POST /v1/payments, SigV4)
// -> the app asks for the order string (POST /v1/app/payments/{id}/order-string, JWT) -> the buyer
// pays in the simulator (POST /sim/pay) -> Alipay's notification -> PAID -> payment.succeeded
// delivered to the business system's receiver. Counted from the SDK client the code uses,
// attributed to the function that made each request.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { BusinessClient } from "../../client/businessClient.js";
import { localCredentials } from "../../local/engines.js";
import { eventId, paymentKey } from "../../lib/payments/model.js";
import { idempotencyKey } from "../../lib/payments/repository.js";
import { envInt, num, percentile, progress, report, table, type Cell } from "../lib/format.js";
import { itemSizeBytes } from "../lib/itemSize.js";
import type { Counts, Meter, Summary } from "../lib/meter.js";
import { type BenchStack, businessClientOf, startBenchStack, waitFor } from "../lib/stack.js";

const steps = [
  { fn: "createPayment", label: "business create (POST /v1/payments)" },
  { fn: "getOrderString", label: "app order string (POST .../order-string)" },
  { fn: "alipayNotify", label: "notify -> PAID (POST /alipay/notify)" },
  { fn: "publishEvents", label: "event published (table stream -> events queue)" },
  { fn: "deliverEvent", label: "event delivered (events worker)" },
];

/** Issue 13's target: DynamoDB requests per paid order over create, order string and notify. */
const targetRequests = 3;
const business = "shop";
const user = "bench-lifecycle";

export async function run(): Promise<void> {
  const payments = envInt("BENCH_LIFECYCLE_ORDERS", 20, 5);
  progress(`lifecycle: starting the local stack`);
  const bench = await startBenchStack();
  try {
    const { stack, meter } = bench;
    const client = businessClientOf(stack, business);
    const token = await stack.issueToken(user);
    const raw = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: stack.service.region, credentials: localCredentials }),
    );
    const tableName = stack.functionEnv.TABLE_NAME!;
    const read = async (key: Record<string, string>) => (await raw.send(new GetCommand({ TableName: tableName, Key: key }))).Item!;

    // One payment first, uncounted: cold starts, the registry read, and the item sizes that explain the capacity.
    const sizes: Record<string, Record<string, unknown>> = {};
    const warm = await lifecycle(bench, client, token, "warmup", {
      afterCreate: async (paymentId) => void (sizes.created = await read(paymentKey(paymentId))),
      afterOrderString: async (paymentId) => void (sizes.withAttempt = await read(paymentKey(paymentId))),
    });
    sizes.paid = await read(paymentKey(warm.paymentId));
    sizes.idempotency = await read(idempotencyKey(business, warm.key));
    raw.destroy();

    progress(`lifecycle: ${payments} payments, one after the other`);
    meter.reset();
    const perPayment: Counts[] = [];
    const createMs: number[] = [];
    const orderStringMs: number[] = [];
    const payToEventMs: number[] = [];
    for (let i = 0; i < payments; i += 1) {
      const before = meter.snapshot();
      const one = await lifecycle(bench, client, token, String(i));
      perPayment.push(meter.since(before));
      createMs.push(one.createMs);
      orderStringMs.push(one.orderStringMs);
      payToEventMs.push(one.payToEventMs);
    }

    const totals = perPayment.map((c) => meter.summary(c));
    const identical = totals.every(
      (t) =>
        t.requests === totals[0]!.requests &&
        t.itemWrites === totals[0]!.itemWrites &&
        t.wcu === totals[0]!.wcu &&
        t.rcu === totals[0]!.rcu,
    );
    const scopes = [...new Set(perPayment.flatMap((c) => [...c.keys()]))];
    const extra = scopes.filter((s) => !steps.some((step) => step.fn === s));
    const rows: Cell[][] = [];
    const per = (s: Summary) => ({
      requests: s.requests / payments,
      reads: s.readRequests / payments,
      writeRequests: s.writeRequests / payments,
      writes: s.itemWrites / payments,
      rcu: s.rcu / payments,
      wcu: s.wcu / payments,
      indexWcu: s.indexWcu / payments,
      indexWcuByName: Object.fromEntries(Object.entries(s.indexWcuByName).map(([name, units]) => [name, units / payments])),
      failedConditions: s.errors / payments,
    });
    const all = meter.summary();
    const sqsAll = meter.other();
    const data: Record<string, unknown> = {};
    for (const step of [...steps, ...extra.map((fn) => ({ fn, label: fn }))]) {
      const s = per(meter.summary(undefined, [step.fn]));
      const sends = Object.values(meter.other(undefined, [step.fn])).reduce((n, o) => n + o.items, 0) / payments;
      rows.push([step.label, s.requests, s.reads, s.writes, s.rcu, s.wcu, s.indexWcu, sends, opsOf(meter, step.fn, payments)]);
      data[step.fn] = { ...s, sqsMessages: sends, ops: opsOf(meter, step.fn, payments) };
    }
    const t = per(all);
    const sendsTotal = Object.values(sqsAll).reduce((n, o) => n + o.items, 0) / payments;
    rows.push(["total per paid payment", t.requests, t.reads, t.writes, t.rcu, t.wcu, t.indexWcu, sendsTotal, ""]);
    const meets = t.requests <= targetRequests;
    const writesOf = (...fns: string[]) => per(meter.summary(undefined, fns)).writes;
    const bytes = Object.fromEntries(Object.entries(sizes).map(([k, item]) => [k, itemSizeBytes(item)])) as Record<string, number>;
    const sorted = (v: number[]) => [...v].sort((a, b) => a - b);
    const p = (v: number[], q: number) => percentile(sorted(v), q);
    console.log(
      table(
        `1. DynamoDB per paid payment (business create -> app order string -> pay -> notify -> event delivered), mean of ${payments} payments over HTTP`,
        ["step (function)", "requests", "reads", "item writes", "RCU", "WCU", "WCU: index", "SQS msgs", "operations"],
        rows,
        [
          `Every payment counted the same: ${identical ? "yes" : "NO (figures are means)"}. RCU/WCU as reported by DynamoDB Local (ReturnConsumedCapacity); "WCU: index" = part spent on the secondary indexes (${Object.entries(
            t.indexWcuByName,
          )
            .map(([name, units]) => `${name} ${num(units)}`)
            .join(", ")}).`,
          `DynamoDB requests per paid payment: ${num(t.requests)} (${num(t.writeRequests)} writes, ${num(t.reads)} reads; target <= ${targetRequests}, none a read a conditional write could do: ${meets && t.reads === 0 ? "met" : "NOT met"}). ` +
            `Item writes: ${num(t.writes)} (create ${num(writesOf("createPayment"))} in one TransactWriteItems: payment + the Idempotency-Key's answer; ` +
            `order string ${num(writesOf("getOrderString"))}: the attempt, one UpdateItem that hands the payment back (ReturnValues); PAID ${num(writesOf("alipayNotify"))}: one UpdateItem conditional on the attempt and amount; publish + delivery ${num(writesOf("publishEvents", "deliverEvent"))}; the stream reads are the platform's, not counted).`,
          `Item sizes: payment ≈ ${num(bytes.created!)} B at creation, ≈ ${num(bytes.withAttempt!)} B with its attempt (the order string is signed again from it, not stored), ≈ ${num(bytes.paid!)} B once paid; ` +
            `Idempotency-Key answer ≈ ${num(bytes.idempotency!)} B (1 KB per WCU, x2 inside a transaction).`,
          `The business registry (one Query per container every BUSINESS_CACHE_SECONDS = 60 s, as in AWS) is read during the warm-up only; the local stack's 1 s would add a Query to some payments.`,
          `Latency (local, p50 / p99): POST /v1/payments ${num(p(createMs, 50))} / ${num(p(createMs, 99))} ms; order string ${num(p(orderStringMs, 50))} / ${num(p(orderStringMs, 99))} ms; ` +
            `pay -> event at the receiver ${num(p(payToEventMs, 50))} / ${num(p(payToEventMs, 99))} ms.`,
        ],
      ),
    );
    report("lifecycle", {
      payments,
      identical,
      steps: data,
      total: { ...t, sqsMessages: sendsTotal },
      targetRequests,
      meetsTarget: meets,
      itemBytes: bytes,
      latencyMs: {
        createP50: p(createMs, 50),
        createP99: p(createMs, 99),
        orderStringP50: p(orderStringMs, 50),
        orderStringP99: p(orderStringMs, 99),
        payToEventP50: p(payToEventMs, 50),
        payToEventP99: p(payToEventMs, 99),
      },
    });
  } finally {
    await bench.stop();
  }
}

function opsOf(meter: Meter, fn: string, payments: number): string {
  const counts = meter.counts.get(fn);
  if (!counts) return "";
  return [...counts]
    .map(
      ([op, s]) =>
        `${op} x${num(s.requests / payments)}${s.items !== s.requests && op.startsWith("Transact") ? ` (${num(s.items / payments)} items)` : ""}`,
    )
    .join(", ");
}

async function lifecycle(
  bench: BenchStack,
  client: BusinessClient,
  token: string,
  tag: string,
  hooks: { afterCreate?: (paymentId: string) => Promise<void>; afterOrderString?: (paymentId: string) => Promise<void> } = {},
) {
  const { stack } = bench;
  const businessOrderId = `cart-${tag}-${Date.now()}`;
  const key = `bench-${businessOrderId}`;
  const t0 = performance.now();
  const created = await client.createPayment(
    { businessOrderId, amount: 1234, subject: "Coffee beans 250g", body: "Single origin, whole beans", userId: user },
    key,
  );
  const createMs = performance.now() - t0;
  if (created.status !== 201) throw new Error(`POST /v1/payments answered ${created.status}: ${JSON.stringify(created.body)}`);
  const paymentId = (created.body as { paymentId: string }).paymentId;
  // The create has started nothing behind it; waiting keeps the steps apart anyway.
  await bench.idle();
  await hooks.afterCreate?.(paymentId);

  const t1 = performance.now();
  const answer = await fetch(`${stack.urls.api}/v1/app/payments/${paymentId}/order-string`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  const attempt = (await answer.json()) as { orderString: string };
  const orderStringMs = performance.now() - t1;
  if (answer.status !== 201) throw new Error(`order string answered ${answer.status}: ${JSON.stringify(attempt)}`);
  await hooks.afterOrderString?.(paymentId);

  const t2 = performance.now();
  const paid = await fetch(`${stack.urls.alipay}/sim/pay`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ orderString: attempt.orderString }),
  });
  if (paid.status !== 200) throw new Error(`/sim/pay answered ${paid.status}: ${await paid.text()}`);
  const receiver = stack.receivers[business]!;
  await waitFor(() => receiver.events.has(eventId(paymentId, "payment.succeeded")), `the event of ${paymentId}`);
  const payToEventMs = performance.now() - t2;
  // Let the workers finish what they started for this payment before the next one.
  await bench.idle();
  return { paymentId, key, createMs, orderStringMs, payToEventMs };
}
