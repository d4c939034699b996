// 4. HTTP load with autocannon against the local stack (127.0.0.1 only): business creates (SigV4,
// signed beforehand through client/businessClient.ts), the app's order strings (JWT), Alipay's
// notifications with duplicates, and all of them mixed. Every request is prepared before its run
// and used once, so each run is bounded in count (`amount`) and in time (stopped after
// BENCH_LOAD_MAX_SECONDS); a response other than the one expected counts as an error.
import { randomUUID } from "node:crypto";
import autocannon, { type Result } from "autocannon";
import { createBusinessClient } from "../../client/businessClient.js";
import { envInt, num, progress, report, table, type Cell } from "../lib/format.js";
import { notificationSigner, notifyContentType } from "../lib/notification.js";
import { startBenchStack } from "../lib/stack.js";

interface Prepared {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** What a correct answer looks like. */
  expect: { status: number; body?: string };
}

interface CreatedPayment {
  paymentId: string;
  amountFen: number;
  subject: string;
  createdAtMs: number;
}

const business = "shop";
const user = "bench-load";

export async function run(): Promise<void> {
  const creates = envInt("BENCH_LOAD_CREATES", 900, 300);
  const warmups = envInt("BENCH_LOAD_WARMUP", 150, 100);
  const connections = envInt("BENCH_LOAD_CONNECTIONS", 8, 8);
  const maxSeconds = envInt("BENCH_LOAD_MAX_SECONDS", 60, 30);
  progress(`load: starting the local stack`);
  const bench = await startBenchStack();
  try {
    const { stack } = bench;
    const api = new URL(stack.urls.api);
    if (api.hostname !== "127.0.0.1") throw new Error(`load goes to 127.0.0.1 only, not ${api.hostname}`);
    const credential = stack.businessCredentials[business]!;
    // The business client signs as it always does; its fetch keeps the signed request instead of sending it.
    let captured: Prepared | undefined;
    const presigner = createBusinessClient({
      baseUrl: stack.urls.api,
      region: stack.service.region,
      credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey },
      fetch: (async (input: URL, init: RequestInit) => {
        captured = {
          method: String(init.method),
          path: `${input.pathname}${input.search}`,
          headers: init.headers as Record<string, string>,
          body: init.body as string,
          expect: { status: 201 },
        };
        return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
      }) as typeof fetch,
    });
    let serial = 0;
    const newCreate = async (): Promise<
      Prepared & { payment: Omit<CreatedPayment, "paymentId" | "createdAtMs"> & { businessOrderId: string } }
    > => {
      serial += 1;
      const input = {
        businessOrderId: `load-${serial}-${randomUUID().slice(0, 8)}`,
        amount: 100 + serial,
        subject: "Coffee beans 250g",
        userId: user,
      };
      await presigner.createPayment(input, `load-key-${randomUUID()}`);
      return { ...captured!, payment: { businessOrderId: input.businessOrderId, amountFen: input.amount, subject: input.subject } };
    };
    const token = await stack.issueToken(user, 3600);
    const sign = notificationSigner(stack);
    const notification = (p: CreatedPayment): Prepared => ({
      method: "POST",
      path: "/alipay/notify",
      headers: { "content-type": notifyContentType },
      body: sign(p),
      expect: { status: 200, body: "success" },
    });
    const orderString = (paymentId: string): Prepared => ({
      method: "POST",
      path: `/v1/app/payments/${paymentId}/order-string`,
      headers: { authorization: `Bearer ${token}` },
      expect: { status: 201 },
    });
    // Warm-up (unmeasured): every function's cold start, the registry, keys, connections, and
    // DynamoDB Local's JIT (a JVM: its first few hundred requests are several times slower).
    const warmCreates = await prepare(warmups, newCreate);
    const warm = await load(stack.urls.api, warmCreates, connections, maxSeconds);
    const warmPayments = warmCreates.map((r, i) => ({
      paymentId: JSON.parse(warm.bodies[i] ?? "{}").paymentId as string,
      amountFen: r.payment.amountFen,
      subject: r.payment.subject,
      createdAtMs: Date.now(),
    }));
    await load(
      stack.urls.api,
      warmPayments.map((p) => orderString(p.paymentId)),
      connections,
      maxSeconds,
    );
    await load(stack.urls.api, warmPayments.map(notification), connections, maxSeconds);

    const runs: Array<{ name: string; n: number; seconds: number; result: Result; failures: number; unexpected: string[] }> = [];
    const measure = async (name: string, requests: Prepared[]) => {
      progress(`load: ${name}, ${num(requests.length)} requests, ${connections} connections`);
      const outcome = await load(stack.urls.api, requests, connections, maxSeconds);
      runs.push({ name, n: requests.length, ...outcome });
      return outcome;
    };

    await bench.idle(300);
    // Business creates: C payments for one app user.
    const createRequests = await prepare(creates, newCreate);
    const created = await measure("business create (SigV4)", createRequests);
    const payments: CreatedPayment[] = createRequests.map((r, i) => ({
      paymentId: JSON.parse(created.bodies[i] ?? "{}").paymentId as string,
      amountFen: r.payment.amountFen,
      subject: r.payment.subject,
      createdAtMs: Date.now(),
    }));
    if (payments.some((p) => !p.paymentId)) throw new Error("load: a create did not answer a paymentId");
    // Two thirds get their order string now (A); the rest (B) in the mixed run.
    const withAttempt = payments.slice(0, Math.floor((creates * 2) / 3));
    const withoutAttempt = payments.slice(withAttempt.length);
    await measure(
      "app order string (JWT)",
      withAttempt.map((p) => orderString(p.paymentId)),
    );
    // Notifications for half of A, each sent twice (Alipay's retry of the same notification), interleaved.
    const paidNow = withAttempt.slice(0, Math.floor(withAttempt.length / 2));
    const notes = paidNow.map(notification);
    await measure(
      "notify + duplicates (x2)",
      notes.flatMap((n) => [n, n]),
    );
    // Mixed: new creates, order strings of B, notifications of the rest of A and their duplicates, shuffled.
    const rest = withAttempt.slice(paidNow.length).map(notification);
    const mixed = shuffle([
      ...(await prepare(withoutAttempt.length, newCreate)),
      ...withoutAttempt.map((p) => orderString(p.paymentId)),
      ...rest,
      ...rest,
    ]);
    await measure("mixed (create, order string, notify, duplicates)", mixed);

    const rows: Cell[][] = runs.map((r) => [
      r.name,
      num(r.n),
      num(r.seconds, 1),
      num(r.result["2xx"] / r.seconds, 0),
      num(r.result.latency.p50, 0),
      num(r.result.latency.p99, 0),
      num(r.result.latency.max, 0),
      r.result.errors + r.result.timeouts,
      r.failures,
    ]);
    const errors = runs.reduce((t, r) => t + r.result.errors + r.result.timeouts + r.failures, 0);
    console.log(
      table(
        `3b. HTTP load with autocannon against the local stack (127.0.0.1, ${connections} connections, each request used once)`,
        ["scenario", "requests", "seconds", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "unexpected"],
        rows,
        [
          `Errors: ${errors} in all (errors + timeouts + answers other than expected: 201 for creates and order strings, 200 "success" for every notification, duplicates included).`,
          `Creates are SigV4-signed beforehand through client/businessClient.ts (its fetch keeps the signed request); order strings carry the app user's JWT; notifications are signed with the simulator's Alipay key.`,
          `Each run is bounded: exactly its prepared requests (autocannon amount), and stopped after ${maxSeconds} s at most. The stack's stream and event delivery run behind the notifications, as they would.`,
          ...runs.flatMap((r) => r.unexpected.slice(0, 3).map((u) => `${r.name}: unexpected ${u}`)),
        ],
      ),
    );
    report("load", {
      connections,
      errors,
      runs: runs.map((r) => ({
        name: r.name,
        requests: r.n,
        seconds: r.seconds,
        rps: r.result["2xx"] / r.seconds,
        p50Ms: r.result.latency.p50,
        p99Ms: r.result.latency.p99,
        maxMs: r.result.latency.max,
        errors: r.result.errors + r.result.timeouts,
        unexpected: r.failures,
      })),
    });
  } finally {
    await bench.stop();
  }
}

async function prepare<T>(count: number, make: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += 1) out.push(await make());
  return out;
}

/** Sends each prepared request once, `connections` at a time; the answers' bodies in order. */
async function load(
  url: string,
  requests: Prepared[],
  connections: number,
  maxSeconds: number,
): Promise<{ result: Result; seconds: number; failures: number; unexpected: string[]; bodies: string[] }> {
  let next = 0;
  // From the first request to the last answer (autocannon's `duration`, and its end, go by whole 1 s ticks).
  let firstSent: number | undefined;
  let lastAnswered = 0;
  let failures = 0;
  const unexpected: string[] = [];
  const bodies: string[] = new Array(requests.length);
  const result = await new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: Math.min(connections, requests.length),
        amount: requests.length,
        timeout: 30,
        requests: [
          {
            setupRequest: (request, context) => {
              const i = next++;
              firstSent ??= performance.now();
              context.index = i;
              const prepared = requests[i % requests.length]!;
              return {
                ...request,
                method: prepared.method,
                path: prepared.path,
                headers: prepared.headers,
                ...(prepared.body !== undefined ? { body: prepared.body } : {}),
              };
            },
            onResponse: (status, body, context) => {
              const i = context.index as number;
              lastAnswered = performance.now();
              bodies[i] = body;
              const { expect } = requests[i]!;
              if (status !== expect.status || (expect.body !== undefined && body !== expect.body)) {
                failures += 1;
                if (unexpected.length < 5) unexpected.push(`${status} ${String(body).slice(0, 120)}`);
              }
            },
          },
        ],
      },
      (error, res) => {
        clearTimeout(guard);
        if (error) reject(error);
        else resolve(res);
      },
    );
    const guard = setTimeout(() => instance.stop(), maxSeconds * 1000);
  });
  return { result, seconds: (lastAnswered - (firstSent ?? lastAnswered)) / 1000, failures, unexpected, bodies };
}

/** The same order every run (a fixed-seed LCG). */
function shuffle<T>(items: T[]): T[] {
  let seed = 42;
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
