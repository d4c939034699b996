// The chaos run: many orders through the local stack while notifications are lost, duplicated,
// delayed and reordered, the gateway fails, DynamoDB throttles and times out, handlers crash
// between steps and the business receiver flaps. Then faults stop, everything settles, and every
// order is checked against the simulator's ledger and the business receiver.
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { LocalStack } from "../../local/stack.js";
import { localCredentials } from "../../local/engines.js";
import { dynamo } from "../../lib/aws.js";
import { armFault, disarmFaults } from "../../lib/faults.js";
import { getOrder } from "../../lib/orders/repository.js";
import type { OrderRecord } from "../../lib/orders/model.js";

export interface ChaosOptions {
  orders: number;
  concurrency: number;
  /** Share of DynamoDB calls that fail (half before reaching the table, half after it wrote). */
  dynamoFailureRate: number;
  settleTimeoutMs: number;
  seed: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  orders: number;
  paidAtAlipay: number;
  abandoned: number;
  faults: Record<string, number>;
  lost: number;
  doublePaid: number;
  doubleFulfilled: number;
  duplicateDeliveries: number;
  stuck: number;
  wrongState: number;
  unsettledInDlq: number;
  staleInDlq: number;
  secondsToSettle: number;
  secondsTotal: number;
  problems: string[];
}

/** Small deterministic generator so a run can be repeated with its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
}

export async function runChaos(stack: LocalStack, options: ChaosOptions): Promise<ChaosReport> {
  const rand = random(options.seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
  const log = options.log ?? (() => undefined);
  const faults: Record<string, number> = {};
  const countFault = (kind: string, n = 1) => (faults[kind] = (faults[kind] ?? 0) + n);
  const startedAt = Date.now();

  const api = async (path: string, init: RequestInit & { token?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.token) headers.set("authorization", `Bearer ${init.token}`);
    const response = await fetch(`${stack.urls.api}${path}`, { ...init, headers });
    return { status: response.status, body: (await response.json().catch(() => ({}))) as any };
  };
  const sim = async (path: string, body: unknown) => {
    const response = await fetch(`${stack.urls.alipay}${path}`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  // DynamoDB throttling and timeouts, in the SDK client the handlers use.
  let injecting = true;
  const middlewareName = "chaosDynamoFaults";
  dynamo().middlewareStack.add(
    (next) => async (args) => {
      if (!injecting || rand() >= options.dynamoFailureRate) return next(args);
      if (rand() < 0.5) {
        countFault("dynamodb throttled");
        throw Object.assign(new Error("injected throttle"), { name: "ProvisionedThroughputExceededException" });
      }
      await next(args);
      countFault("dynamodb timeout after write");
      throw Object.assign(new Error("injected timeout after the request was applied"), { name: "TimeoutError" });
    },
    { step: "initialize", name: middlewareName },
  );

  // Handlers crashing between two steps, and the business receiver flapping.
  const crashPoints = ["payment.afterWrite", "publish.beforeSend", "delivery.afterPost", "sweep.afterClaim", "check.afterClose"] as const;
  let receiverDown = false;
  let receiverUpSince = 0;
  const chaosTimer = setInterval(() => {
    const point = pick(crashPoints);
    armFault(point, 1);
    countFault(`crash at ${point}`);
    // Outages of the business receiver shorter than the events' retry budget (about 8 s locally),
    // at least 5 s apart: it comes back, and every event must still arrive. (One that stays down
    // past the budget dead-letters the event: test/integration/gatewayFaults.test.ts.)
    if (!receiverDown && Date.now() - receiverUpSince > 5000 && rand() < 0.3) {
      receiverDown = true;
      stack.receiver.setMode("down");
      countFault("business receiver down (up to 2.5 s)");
      setTimeout(() => {
        stack.receiver.setMode("up");
        receiverDown = false;
        receiverUpSince = Date.now();
      }, 500 + rand() * 2000);
    }
  }, 400);

  type Planned = { user: string; merchantOrderId: string; amount: number; key: string; pay: "in time" | "late" | "never" };
  const plans: Planned[] = Array.from({ length: options.orders }, (_, i) => ({
    user: `chaos-user-${i % 50}`,
    merchantOrderId: `chaos-${options.seed}-${i}`,
    amount: 1 + Math.floor(rand() * 500_000),
    key: `chaos-${options.seed}-${i}`,
    pay: rand() < 0.7 ? "in time" : rand() < 0.5 ? "late" : "never",
  }));
  const tokens = new Map<string, string>();
  const created: Array<{ plan: Planned; orderId: string }> = [];

  const runOne = async (plan: Planned) => {
    if (!tokens.has(plan.user)) tokens.set(plan.user, await stack.issueToken(plan.user, 3600));
    const token = tokens.get(plan.user)!;
    const body = JSON.stringify({ merchantOrderId: plan.merchantOrderId, amount: plan.amount, subject: "Chaos order" });
    // A mobile app retries with the same Idempotency-Key until it gets an answer; some users
    // double-tap, sending the first request twice at once.
    const doubleTap = rand() < 0.1;
    if (doubleTap) countFault("double-tapped create (2 concurrent requests)");
    let order: any;
    for (let attempt = 0; attempt < 20 && !order; attempt += 1) {
      const copies = doubleTap && attempt === 0 ? 2 : 1;
      const answers = await Promise.all(Array.from({ length: copies }, () =>
        api("/orders", { method: "POST", token, body, headers: { "content-type": "application/json", "idempotency-key": plan.key } })));
      for (const answer of answers) {
        if (answer.status === 201 || answer.status === 200) {
          if (order && order.orderId !== answer.body.orderId) throw new Error(`double tap on ${plan.key} answered two orders`);
          order ??= answer.body;
        } else if (answer.status < 500) throw new Error(`create refused: ${answer.status} ${JSON.stringify(answer.body)}`);
        else countFault("create answered 5xx, app retried");
      }
    }
    if (!order) throw new Error(`order ${plan.key} never created`);
    created.push({ plan, orderId: order.orderId });

    const scenario: Record<string, unknown> = { outTradeNo: order.orderId };
    const r = rand();
    if (r < 0.15) (scenario.dropFirst = 100), countFault("notifications all lost");
    else if (r < 0.35) (scenario.dropFirst = 1 + Math.floor(rand() * 3)), countFault("notifications partly lost");
    if (rand() < 0.25) (scenario.duplicate = 1 + Math.floor(rand() * 3)), countFault("notifications duplicated");
    if (rand() < 0.2) (scenario.delayMs = Math.floor(rand() * 3000)), countFault("notifications delayed");
    if (rand() < 0.1) (scenario.reorder = true), countFault("notifications reordered");
    await sim("/sim/scenario", scenario);
    if (rand() < 0.2) {
      const method = pick(["alipay.trade.query", "alipay.trade.close"]);
      const mode = pick(["5xx", "timeout", "rate-limit", "unknown-error", "system-error"]);
      await sim("/sim/faults", { method, outTradeNo: order.orderId, mode, count: 1 + Math.floor(rand() * 3) });
      countFault(`gateway ${mode}`);
    }

    const expiresAt = Date.parse(order.expiresAt);
    if (plan.pay === "in time") {
      await sleep(Math.max(0, rand() * (expiresAt - Date.now() - 300)));
      const paid = await sim("/sim/pay", { orderString: order.orderString });
      if (paid.status !== 200) plan.pay = "never"; // too slow a buyer: expired before paying
    } else if (plan.pay === "late") {
      await sleep(Math.max(0, expiresAt - Date.now() + 1200));
      const paid = await sim("/sim/pay", { orderString: order.orderString });
      if (paid.status === 200) throw new Error(`simulator accepted an expired order string for ${order.orderId}`);
    }
  };

  const queue = [...plans];
  const workers = Array.from({ length: options.concurrency }, async () => {
    for (let plan = queue.shift(); plan; plan = queue.shift()) await runOne(plan);
  });
  await Promise.all(workers);
  log(`created ${created.length} orders in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; stopping faults`);

  // Faults stop; retries and the sweep settle everything.
  injecting = false;
  clearInterval(chaosTimer);
  disarmFaults();
  stack.receiver.setMode("up");
  dynamo().middlewareStack.remove(middlewareName);
  const settleStart = Date.now();
  const ledger = async () => new Map(((await (await fetch(`${stack.urls.alipay}/sim/trades`)).json()) as Array<{ outTradeNo: string; status: string }>)
    .map((t) => [t.outTradeNo, t.status]));
  const isPaidAtAlipay = (status: string | undefined) => status === "TRADE_SUCCESS" || status === "TRADE_FINISHED";
  const settled = (order: OrderRecord | undefined, alipayStatus: string | undefined) =>
    order !== undefined &&
    (isPaidAtAlipay(alipayStatus) ? order.status === "PAID" && stack.receiver.events.has(`evt_${order.orderId}_paid`) : order.status === "CLOSED");
  let stored = new Map<string, OrderRecord | undefined>();
  let trades = await ledger();
  for (;;) {
    trades = await ledger();
    stored = new Map(await Promise.all(created.map(async (c) => [c.orderId, await getOrder(c.orderId)] as const)));
    const open = created.filter((c) => !settled(stored.get(c.orderId), trades.get(c.orderId)));
    if (open.length === 0 || Date.now() - settleStart > options.settleTimeoutMs) break;
    log(`settling: ${open.length} orders not settled yet`);
    await sleep(1000);
  }
  const secondsToSettle = (Date.now() - settleStart) / 1000;

  // The verdict, order by order.
  const problems: string[] = [];
  let lost = 0, stuck = 0, wrongState = 0, doublePaid = 0, doubleFulfilled = 0, duplicateDeliveries = 0;
  const eventsByMerchantOrder = new Map<string, number>();
  for (const event of stack.receiver.events.values()) {
    const data = event.data as { merchantOrderId: string; userId: string };
    const key = `${data.userId}/${data.merchantOrderId}`;
    eventsByMerchantOrder.set(key, (eventsByMerchantOrder.get(key) ?? 0) + 1);
    duplicateDeliveries += event.deliveries - 1;
  }
  for (const { plan, orderId } of created) {
    const order = stored.get(orderId);
    const alipayStatus = trades.get(orderId);
    const paid = isPaidAtAlipay(alipayStatus);
    const event = stack.receiver.events.get(`evt_${orderId}_paid`);
    if (order?.status === "PENDING") (stuck += 1), problems.push(`${orderId} stuck PENDING`);
    if (paid && (order?.status !== "PAID" || !event)) (lost += 1), problems.push(`${orderId} paid at Alipay, local ${order?.status}, event ${event ? "delivered" : "missing"}`);
    if (!paid && order?.status === "PAID") (wrongState += 1), problems.push(`${orderId} PAID locally but not at Alipay (${alipayStatus})`);
    if (!paid && order?.status !== "CLOSED" && order?.status !== "PENDING") (wrongState += 1), problems.push(`${orderId} unpaid but ${order?.status}`);
    if (!paid && event) (wrongState += 1), problems.push(`${orderId} event delivered for an unpaid order`);
    if ((order?.history.filter((h) => h.event === "paid").length ?? 0) > 1) (doublePaid += 1), problems.push(`${orderId} paid twice`);
    if ((eventsByMerchantOrder.get(`${plan.user}/${plan.merchantOrderId}`) ?? 0) > 1) (doubleFulfilled += 1), problems.push(`${plan.merchantOrderId} fulfilled twice`);
  }

  // Dead-letter queues: only messages about orders that are now settled are acceptable.
  const sqs = new SQSClient({ endpoint: stack.urls.sqs, region: "us-east-1", credentials: localCredentials });
  let unsettledInDlq = 0, staleInDlq = 0;
  for (const dlq of ["CheckDeadLetterQueue", "EventsDeadLetterQueue"]) {
    for (let page = 0; page < 100; page += 1) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.resources[dlq]!.ref, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }));
      if (Messages.length === 0) break;
      for (const message of Messages) {
        // A check message names the order; an event carries it in its data.
        const body = JSON.parse(message.Body ?? "{}") as { orderId?: string; data?: { orderId?: string } };
        const orderId = body.orderId ?? body.data?.orderId;
        const order = orderId ? stored.get(orderId) : undefined;
        if (orderId && settled(order, trades.get(orderId))) staleInDlq += 1;
        else (unsettledInDlq += 1), problems.push(`${dlq} holds ${message.Body} for an unsettled order`);
      }
    }
  }
  sqs.destroy();

  return {
    orders: created.length,
    paidAtAlipay: created.filter((c) => isPaidAtAlipay(trades.get(c.orderId))).length,
    abandoned: created.filter((c) => !isPaidAtAlipay(trades.get(c.orderId))).length,
    faults,
    lost,
    doublePaid,
    doubleFulfilled,
    duplicateDeliveries,
    stuck,
    wrongState,
    unsettledInDlq,
    staleInDlq,
    secondsToSettle,
    secondsTotal: (Date.now() - startedAt) / 1000,
    problems,
  };
}

export function formatReport(report: ChaosReport): string {
  const rows: Array<[string, string | number]> = [
    ["orders", report.orders],
    ["  paid by the buyer (simulator ledger)", report.paidAtAlipay],
    ["  not paid (abandoned, expired, paid too late)", report.abandoned],
    ...Object.entries(report.faults).sort().map(([k, v]) => [`fault: ${k}`, v] as [string, number]),
    ["lost (paid but not PAID + delivered)", report.lost],
    ["double paid", report.doublePaid],
    ["double fulfilled", report.doubleFulfilled],
    ["stuck (still PENDING)", report.stuck],
    ["wrong state", report.wrongState],
    ["DLQ messages for unsettled orders", report.unsettledInDlq],
    ["DLQ messages already recovered (stale)", report.staleInDlq],
    ["duplicate deliveries (receiver deduped)", report.duplicateDeliveries],
    ["time to settle after faults stopped (s)", report.secondsToSettle.toFixed(1)],
    ["total time (s)", report.secondsTotal.toFixed(1)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
