// 3. Handler throughput in-process: the createPayment, getOrderString and alipayNotify Lambda
// handlers called directly with API Gateway v2 events against DynamoDB Local, N requests one after
// the other and N with 8 in flight. Side by side, a peer baseline (bench/lib/peer.ts): the same flow
// written the way a careful team would with @aws-lambda-powertools/idempotency (makeIdempotent
// around handlers that read, then write conditionally), measured in the same run.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cpus } from "node:os";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { identityOf } from "../../local/httpApi.js";
import { notificationSigner, notifyContentType } from "../lib/notification.js";
import { envInt, num, percentile, progress, report, table, type Cell } from "../lib/format.js";
import { instrument, scope, type Meter } from "../lib/meter.js";
import { createPeerTables, peerHandlers } from "../lib/peer.js";
import { startBenchStack } from "../lib/stack.js";

type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

interface Run {
  name: string;
  mode: string;
  n: number;
  wallMs: number;
  latencies: number[];
  failures: number;
  dynamoRequests: number;
  rcu: number;
  wcu: number;
  sqsMessages: number;
}

interface CreatedPayment {
  paymentId: string;
  userId: string;
  amountFen: number;
  subject: string;
  createdAtMs: number;
}

const idempotencyTable = "bench-idempotency";
const peerTable = "bench-peer-payments";
const business = "shop";

export async function run(): Promise<void> {
  const n = envInt("BENCH_N", 300, 60);
  const concurrency = envInt("BENCH_CONCURRENCY", 8, 8);
  // DynamoDB Local (a JVM) needs a few hundred requests before its speed settles.
  const warmupCalls = envInt("BENCH_WARMUP", 50, 20);
  progress(`handlers: starting the local stack`);
  const bench = await startBenchStack();
  try {
    const { stack, meter } = bench;
    // Before the configuration is read again: the events go to a queue nobody consumes, so no
    // delivery worker runs behind the notify measurement.
    bench.setFunctionEnv({ EVENTS_QUEUE_URL: await bench.sinkQueue("bench-handlers-events-sink") });
    const admin = new DynamoDBClient({});
    await createPeerTables(admin, peerTable, idempotencyTable);
    admin.destroy();

    // Loaded now, as in a Lambda: the environment is there before the code.
    const createPayment = (await import("../../functions/createPayment.js")).handler as unknown as HttpHandler;
    const getOrderString = (await import("../../functions/getOrderString.js")).handler as unknown as HttpHandler;
    const alipayNotify = (await import("../../functions/alipayNotify.js")).handler as unknown as HttpHandler;
    const baselineClient = new DynamoDBClient({ maxAttempts: 3 });
    instrument(baselineClient, meter);
    const peer = await peerHandlers(baselineClient, peerTable, idempotencyTable, Number(stack.functionEnv.ORDER_TTL_SECONDS ?? 900));

    // The business system's caller, as API Gateway's IAM authorizer reports it.
    const credential = stack.businessCredentials[business]!;
    const iam = identityOf(credential.accessKeyId, {
      secretAccessKey: credential.secretAccessKey,
      roleArn: credential.roleArn,
      sessionName: credential.sessionName,
    });
    let serial = 0;
    const newCreate = () => {
      serial += 1;
      const input = {
        businessOrderId: `cart-${serial}-${randomUUID().slice(0, 8)}`,
        amount: 100 + (serial % 9000),
        subject: "Coffee beans 250g",
        userId: `bench-user-${serial % 50}`,
      };
      return { key: `key-${randomUUID()}`, body: JSON.stringify(input), input };
    };
    type CreateCall = ReturnType<typeof newCreate>;
    const createEvent = (c: CreateCall) =>
      apiEvent("POST /v1/payments", "/v1/payments", c.body, { "idempotency-key": c.key, "content-type": "application/json" }, { iam });
    const orderStringEvent = (p: CreatedPayment) =>
      apiEvent(
        "POST /v1/app/payments/{paymentId}/order-string",
        `/v1/app/payments/${p.paymentId}/order-string`,
        undefined,
        {},
        { jwt: { claims: { sub: p.userId }, scopes: [] } },
        { paymentId: p.paymentId },
      );
    const notificationOf = notificationSigner(stack);
    const notifyEvent = (p: CreatedPayment) =>
      apiEvent("POST /alipay/notify", "/alipay/notify", notificationOf(p), { "content-type": notifyContentType });

    const created = (calls: CreateCall[], results: APIGatewayProxyStructuredResultV2[]): CreatedPayment[] =>
      results.flatMap((r, i) => {
        if (r.statusCode !== 201) return [];
        const view = JSON.parse(String(r.body)) as { paymentId: string };
        const input = calls[i]!.input;
        return [
          { paymentId: view.paymentId, userId: input.userId, amountFen: input.amount, subject: input.subject, createdAtMs: Date.now() },
        ];
      });

    // Warm-up (uncounted): cold start of each handler, config, keys, the registry, SDK connections.
    progress(`handlers: warm-up`);
    const warmCalls = Array.from({ length: warmupCalls }, newCreate);
    const warmPayments = created(
      warmCalls,
      await sequential(warmCalls, (c) => createPayment(createEvent(c), lambdaContext("createPayment"))),
    );
    const warmPeerCalls = Array.from({ length: warmupCalls }, newCreate);
    const warmPeer = created(
      warmPeerCalls,
      await sequential(warmPeerCalls, (c) => peer.create(createEvent(c), lambdaContext("peerCreate"))),
    );
    await sequential(warmPayments, (p) => getOrderString(orderStringEvent(p), lambdaContext("getOrderString")));
    await sequential(warmPeer, (p) => peer.orderString(orderStringEvent(p), lambdaContext("peerOrderString")));
    await sequential(warmPayments, (p) => alipayNotify(notifyEvent(p), lambdaContext("alipayNotify")));
    await sequential(warmPeer, (p) => peer.notify(notifyEvent(p), lambdaContext("peerNotify")));

    const ok201 = (r: APIGatewayProxyStructuredResultV2) => r.statusCode === 201;
    const success = (r: APIGatewayProxyStructuredResultV2) => r.statusCode === 200 && r.body === "success";
    const runs: Run[] = [];
    for (const [mode, width] of [
      ["sequential", 1],
      [`concurrency ${concurrency}`, concurrency],
    ] as const) {
      progress(`handlers: ${mode}, ${n} requests per row`);
      // ABBA: ours, peer, peer, ours (halves), so drift of the engine hits both alike.
      const abba = async <T>(
        what: string,
        oursItems: T[],
        peerItems: T[],
        oursCall: (item: T) => Promise<APIGatewayProxyStructuredResultV2>,
        peerCall: (item: T) => Promise<APIGatewayProxyStructuredResultV2>,
        ok: (r: APIGatewayProxyStructuredResultV2) => boolean,
        peerOk = ok,
      ) => {
        const oh = Math.ceil(oursItems.length / 2);
        const ph = Math.ceil(peerItems.length / 2);
        const o1 = await measure(meter, "ours", oursItems.slice(0, oh), width, oursCall);
        const p1 = await measure(meter, "baseline", peerItems.slice(0, ph), width, peerCall);
        const p2 = await measure(meter, "baseline", peerItems.slice(ph), width, peerCall);
        const o2 = await measure(meter, "ours", oursItems.slice(oh), width, oursCall);
        runs.push(combine(`${what} (ours)`, mode, [o1, o2], ok));
        runs.push(combine(`${what} (peer)`, mode, [p1, p2], peerOk));
        return { ours: [...o1.results, ...o2.results], peer: [...p1.results, ...p2.results] };
      };
      const oursCalls = Array.from({ length: n }, newCreate);
      const peerCalls = Array.from({ length: n }, newCreate);
      const createOurs = (c: CreateCall) => createPayment(createEvent(c), lambdaContext("createPayment"));
      const createPeer = (c: CreateCall) => peer.create(createEvent(c), lambdaContext("peerCreate"));
      const creates = await abba("create", oursCalls, peerCalls, createOurs, createPeer, ok201);
      // Replays: the same key and body again (a client retry): the stored answer comes back.
      await abba(
        "create replay",
        oursCalls,
        peerCalls,
        createOurs,
        createPeer,
        (r) => r.statusCode === 201 && r.headers?.["idempotent-replayed"] === "true",
        ok201,
      );
      // The app's order string for the payments just created (a new attempt, signed).
      const oursPayments = created(oursCalls, creates.ours);
      const peerPayments = created(peerCalls, creates.peer);
      await abba(
        "order string",
        oursPayments,
        peerPayments,
        (p) => getOrderString(orderStringEvent(p), lambdaContext("getOrderString")),
        (p) => peer.orderString(orderStringEvent(p), lambdaContext("peerOrderString")),
        ok201,
      );
      // Notify: those attempts, paid (signatures made beforehand); then every notification again (Alipay's retry).
      const oursNotes = oursPayments.map(notifyEvent);
      const peerNotes = peerPayments.map(notifyEvent);
      const notifyOurs = (e: APIGatewayProxyEventV2) => alipayNotify(e, lambdaContext("alipayNotify"));
      const notifyPeer = (e: APIGatewayProxyEventV2) => peer.notify(e, lambdaContext("peerNotify"));
      await abba("notify", oursNotes, peerNotes, notifyOurs, notifyPeer, success);
      await abba("notify duplicate", oursNotes, peerNotes, notifyOurs, notifyPeer, success);
    }

    const rows: Cell[][] = runs.map((r) => {
      const sorted = [...r.latencies].sort((a, b) => a - b);
      return [
        r.name,
        r.mode,
        r.n,
        num((r.n / r.wallMs) * 1000, 0),
        num(mean(r.latencies), 2),
        num(percentile(sorted, 50), 2),
        num(percentile(sorted, 99), 2),
        num(r.dynamoRequests / r.n, 2),
        num(r.rcu / r.n, 2),
        num(r.wcu / r.n, 2),
        num(r.sqsMessages / r.n, 2),
        r.failures,
      ];
    });
    const ratioLines: string[] = [];
    const ratios: Record<string, unknown> = {};
    const perCall = (r: Run) => r.dynamoRequests / r.n;
    const msPerCall = (r: Run) => r.wallMs / r.n;
    for (const mode of new Set(runs.map((r) => r.mode))) {
      const find = (name: string) => runs.find((r) => r.mode === mode && r.name === name)!;
      for (const what of ["create", "create replay", "order string", "notify", "notify duplicate"]) {
        const o = find(`${what} (ours)`);
        const b = find(`${what} (peer)`);
        const requestRatio = perCall(o) / perCall(b);
        const timeRatio = msPerCall(o) / msPerCall(b);
        const wcuRatio = o.wcu / o.n / (b.wcu / b.n);
        const wcuText = Number.isFinite(wcuRatio) ? `, ${num(wcuRatio, 2)}x WCU` : "";
        ratioLines.push(
          `${mode}, ${what}: ours / peer = ${num(requestRatio, 2)}x DynamoDB requests${wcuText}, ${num(timeRatio, 2)}x time per request` +
            ` (mean latency ${num(mean(o.latencies), 2)} vs ${num(mean(b.latencies), 2)} ms).`,
        );
        ratios[`${mode} ${what}`] = { requestRatio, wcuRatio: Number.isFinite(wcuRatio) ? wcuRatio : null, timeRatio };
      }
      // A paid order: create + order string + notify, each once.
      const flow = ["create", "order string", "notify"];
      const oursFlow = flow.reduce((t, w) => t + perCall(find(`${w} (ours)`)), 0);
      const peerFlow = flow.reduce((t, w) => t + perCall(find(`${w} (peer)`)), 0);
      const oursMs = flow.reduce((t, w) => t + msPerCall(find(`${w} (ours)`)), 0);
      const peerMs = flow.reduce((t, w) => t + msPerCall(find(`${w} (peer)`)), 0);
      ratioLines.push(
        `${mode}, paid order (create + order string + notify): ours ${num(oursFlow, 2)} vs peer ${num(peerFlow, 2)} DynamoDB requests = ${num(oursFlow / peerFlow, 2)}x; ` +
          `${num(oursMs, 1)} vs ${num(peerMs, 1)} ms of handler time = ${num(oursMs / peerMs, 2)}x.`,
      );
      ratios[`${mode} paid order`] = {
        oursRequests: oursFlow,
        peerRequests: peerFlow,
        requestRatio: oursFlow / peerFlow,
        timeRatio: oursMs / peerMs,
      };
    }
    console.log(
      table(
        `3. Handlers in-process against DynamoDB Local (N = ${n} per row; ${warmupCalls} warm-up calls each, uncounted)`,
        ["handler", "mode", "N", "req/s", "mean ms", "p50 ms", "p99 ms", "DDB req/call", "RCU/call", "WCU/call", "SQS msg/call", "failed"],
        rows,
        [
          ...ratioLines,
          `Peer = bench/lib/peer.ts, the same flow written with Powertools idempotency ${powertoolsVersion()} (makeIdempotent, DynamoDBPersistenceLayer): create keyed on the Idempotency-Key header around GetItem + conditional PutItem; order string GetItem + conditional UpdateItem; notify verified, then keyed on notify_id around GetItem + conditional UpdateItem.`,
          `Throughput is bounded by DynamoDB Local (Java) sharing ${cpus().length} cores with Node here; read it as relative, not as Lambda/DynamoDB figures.`,
          `A replay or a duplicate is a write that fails its condition, reporting no capacity here although DynamoDB bills it: ours the create's TransactWriteItems (the stored answer comes back with the cancellation reasons) or the notify's UpdateItem (the payment comes back: already PAID by this trade), the peer's Powertools PutItem of the idempotency record.`,
          `Ours: order string = one UpdateItem adding attempt 1 (ReturnValues ALL_NEW), then the RSA2 signature; notify = the signature check, then one UpdateItem to PAID conditional on the attempt and amount. The business registry is read once per BUSINESS_CACHE_SECONDS (60 s), in the warm-up.`,
        ],
      ),
    );
    report("handlers", {
      n,
      concurrency,
      runs: runs.map((r) => {
        const sorted = [...r.latencies].sort((a, b) => a - b);
        return {
          name: r.name,
          mode: r.mode,
          n: r.n,
          rps: (r.n / r.wallMs) * 1000,
          meanMs: mean(r.latencies),
          p50Ms: percentile(sorted, 50),
          p99Ms: percentile(sorted, 99),
          dynamoPerCall: r.dynamoRequests / r.n,
          rcuPerCall: r.rcu / r.n,
          wcuPerCall: r.wcu / r.n,
          sqsPerCall: r.sqsMessages / r.n,
          failures: r.failures,
        };
      }),
      ratios,
    });
  } finally {
    await bench.stop();
  }
}

interface Measured<R> {
  results: R[];
  latencies: number[];
  wallMs: number;
  dynamoRequests: number;
  rcu: number;
  wcu: number;
  sqsMessages: number;
}

/** Calls `call` for every item, `width` at a time, inside scope `who`; latencies and what the SDK counted. */
async function measure<T, R>(meter: Meter, who: string, items: T[], width: number, call: (item: T) => Promise<R>): Promise<Measured<R>> {
  const before = meter.snapshot();
  const results: R[] = new Array(items.length);
  const latencies: number[] = new Array(items.length);
  let next = 0;
  const t0 = performance.now();
  await scope.run(who, () =>
    Promise.all(
      Array.from({ length: Math.min(width, items.length) }, async () => {
        while (next < items.length) {
          const i = next++;
          const started = performance.now();
          results[i] = await call(items[i]!);
          latencies[i] = performance.now() - started;
        }
      }),
    ),
  );
  const wallMs = performance.now() - t0;
  const counts = meter.since(before);
  const s = meter.summary(counts, [who]);
  const sqsMessages = Object.values(meter.other(counts, [who])).reduce((n, o) => n + o.items, 0);
  return { results, latencies, wallMs, dynamoRequests: s.requests, rcu: s.rcu, wcu: s.wcu, sqsMessages };
}

function combine(
  name: string,
  mode: string,
  parts: Array<Measured<APIGatewayProxyStructuredResultV2>>,
  ok: (r: APIGatewayProxyStructuredResultV2) => boolean,
): Run {
  const results = parts.flatMap((p) => p.results);
  return {
    name,
    mode,
    n: results.length,
    wallMs: parts.reduce((t, p) => t + p.wallMs, 0),
    latencies: parts.flatMap((p) => p.latencies),
    failures: results.filter((r) => !ok(r)).length,
    dynamoRequests: parts.reduce((t, p) => t + p.dynamoRequests, 0),
    rcu: parts.reduce((t, p) => t + p.rcu, 0),
    wcu: parts.reduce((t, p) => t + p.wcu, 0),
    sqsMessages: parts.reduce((t, p) => t + p.sqsMessages, 0),
  };
}

async function sequential<T, R>(items: T[], call: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await call(item));
  return out;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

function powertoolsVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(join(process.cwd(), "node_modules/@aws-lambda-powertools/idempotency/package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  } catch {
    return "2.x";
  }
}

/** An API Gateway HTTP API (payload 2.0) event as local/httpApi.ts builds it, with the authorizer's answer (JWT claims or IAM caller). */
function apiEvent(
  routeKey: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string>,
  authorizer?: Record<string, unknown>,
  pathParameters?: Record<string, string>,
): APIGatewayProxyEventV2 {
  const now = Date.now();
  return {
    version: "2.0",
    routeKey,
    rawPath: path,
    rawQueryString: "",
    headers: { host: "localhost", "user-agent": "bench", ...headers },
    ...(body !== undefined ? { body } : {}),
    ...(pathParameters ? { pathParameters } : {}),
    isBase64Encoded: false,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: "localhost",
      domainPrefix: "local",
      http: { method: "POST", path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "bench" },
      requestId: randomUUID(),
      routeKey,
      stage: "$default",
      time: new Date(now).toISOString(),
      timeEpoch: now,
      ...(authorizer ? { authorizer } : {}),
    },
  } as APIGatewayProxyEventV2;
}

function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 10_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "bench",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
