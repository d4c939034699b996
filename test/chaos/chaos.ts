// The chaos run: many payments through the local stack's two-sided flow while everything fails.
// Business systems (the sample `shop` and `membership`) create payments over the business API
// (SigV4), apps get order strings over the app API (JWT), the simulator's buyer pays, and some
// payments are canceled by their business system, some of those racing the buyer, some paid anyway
// (refunded automatically), and some paid ones are refunded at their business system's request
// (in full, in two parts, or asked for the full amount three times at once). Meanwhile
// notifications are lost, duplicated, delayed and reordered, the gateway fails, DynamoDB throttles
// and times out after writing, handlers crash between steps, creates and order-string requests
// are double-tapped and one of the two business receivers flaps (the other stays up). Then faults
// stop, everything settles, and every payment is checked against the simulator's ledger and both
// business receivers, and every refund at Alipay against our refund records; last, the run's days
// are reconciled against the simulator's bills as the daily function would.
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { type BusinessClient, createBusinessClient } from "../../client/businessClient.js";
import type { LocalStack } from "../../local/stack.js";
import { localCredentials } from "../../local/engines.js";
import { dynamo } from "../../lib/aws.js";
import { forEachLimited } from "../../lib/concurrency.js";
import { armFault, disarmFaults } from "../../lib/faults.js";
import { eventId, eventTypeOf, type PaymentRecord } from "../../lib/payments/model.js";
import { getPayment, listRefundsNeeded } from "../../lib/payments/repository.js";
import { refundEventId, type RefundRecord } from "../../lib/refunds/model.js";
import { listRefunds } from "../../lib/refunds/repository.js";
import { type PoisonPayment, poisonPayments } from "../integration/poisonInputs.js";
import { daysBetween, reconcileDays } from "../integration/reconcileDays.js";

export interface ChaosOptions {
  payments: number;
  concurrency: number;
  /** Share of DynamoDB calls that fail (half before reaching the table, half after it wrote). */
  dynamoFailureRate: number;
  /** Share of payments their business system cancels (default 5 %). */
  cancelRate?: number;
  /** Share of payments paid in time that their business system refunds (default 15 %). */
  refundRate?: number;
  settleTimeoutMs: number;
  seed: number;
  log?: (line: string) => void;
  /** A progress line every this many payments driven (default 50): a full run drives for minutes. */
  progressEvery?: number;
}

export interface ChaosReport {
  payments: number;
  bySystem: Record<string, number>;
  /** The business system whose receiver flapped; the other one stayed up. */
  flappingSystem: string;
  paidAtAlipay: number;
  abandoned: number;
  finalStatus: Record<string, number>;
  attempts: number;
  faults: Record<string, number>;
  lost: number;
  doublePaid: number;
  doubleFulfilled: number;
  duplicateDeliveries: number;
  stuck: number;
  wrongState: number;
  misroutedEvents: number;
  /** Payments created with poison text (test/integration/poisonInputs.ts). */
  poisonPayments: number;
  /** Events a settled payment or refund owes that never reached its business system's receiver. */
  eventsNotDelivered: number;
  /** Payments that ended CANCELED. */
  canceled: number;
  cancelRequests: number;
  /** Cancels the buyer's money beat: PAID, the cancel answered 409 already_paid. */
  cancelAnsweredPaid: number;
  /** Canceled payments that were paid anyway: the money recorded as refund-needed. */
  canceledRefundNeeded: number;
  refundsNeeded: number;
  /** Refunds business systems asked for (201), and those refused as more than was paid (409). */
  refundsRequested: number;
  refundsRefusedOverPayment: number;
  /** Refunds at Alipay: requested ones, and automatic ones of money that must go back. */
  refundsAtAlipay: number;
  automaticRefunds: number;
  /** Money refunded at Alipay twice, or without a refund record of ours. */
  doubleRefunded: number;
  /** A payment whose refunds total more than was paid, here or at Alipay. */
  overRefunded: number;
  /** A second trade or a payment on a closed attempt that Alipay has not refunded in full. */
  duplicatePaymentsNotRefunded: number;
  /** Differences between our records and Alipay's bills of the run's days left after healing. */
  reconciliationDifferences: number;
  /** Differences the reconciliation healed itself (0 once the run has settled). */
  reconciliationHealed: number;
  /** Bill rows of the run's days matched with our records. */
  reconciliationMatched: number;
  eventsDelivered: Record<string, number>;
  unsettledInDlq: number;
  staleInDlq: number;
  secondsToSettle: number;
  /** How long after the last payment's expiry (plus the close margin) everything had settled. */
  secondsAfterLastExpiry: number;
  /** Payments still not settled when the settle timeout ran out. */
  unsettledAtTimeout: number;
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

const systems = ["shop", "membership"] as const;
type SystemId = (typeof systems)[number];

type Buyer = "in time" | "second attempt" | "late" | "never";
type CancelKind = "none" | "before the order string" | "while pending" | "then paid anyway" | "racing the payment" | "after the payment";
type RefundPlan = "none" | "in full" | "in two parts" | "the full amount three times at once";

interface Plan {
  system: SystemId;
  user: string;
  businessOrderId: string;
  amount: number;
  key: string;
  buyer: Buyer;
  cancel: CancelKind;
  refund: RefundPlan;
  /** Text that once stopped every webhook (issue 17): emoji, the longest subject, every character class, commas and quotes. */
  poison?: PoisonPayment;
}

interface RefundAsked {
  key: string;
  amount: number;
  /** The refund id of a 201, or the 409's code. */
  refundId?: string;
  refused?: string;
}

interface Outcome {
  plan: Plan;
  paymentId: string;
  expiresAt: number;
  /** The last answer to the business system's cancel: 200, or the 409's code. */
  cancelAnswer?: string;
  refunds: RefundAsked[];
  /** What Alipay was told to do to each attempt (for the problem lines). */
  misbehaviour: string[];
}

interface OrderStringAnswer {
  paymentId: string;
  attemptNo: number;
  outTradeNo: string;
  orderString: string;
  orderStringExpiresAt: string;
}

interface LedgerTrade {
  outTradeNo: string;
  tradeNo: string;
  status: string;
  totalFen: number;
  paidAtMs?: number;
  refundedFen: number;
  refunds: Array<{ outRequestNo: string; refundFen: number }>;
}

/** Paid by the buyer, whatever happened after (a trade refunded in full is TRADE_CLOSED). */
const wasPaid = (trade: LedgerTrade) => trade.paidAtMs !== undefined;

export async function runChaos(stack: LocalStack, options: ChaosOptions): Promise<ChaosReport> {
  const rand = random(options.seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
  const log = options.log ?? (() => undefined);
  const faults: Record<string, number> = {};
  const countFault = (kind: string, n = 1) => (faults[kind] = (faults[kind] ?? 0) + n);
  const problems: string[] = [];
  const startedAt = Date.now();
  const cancelRate = options.cancelRate ?? 0.05;
  const refundRate = options.refundRate ?? 0.15;
  log(`chaos: ${options.payments} payments, seed ${options.seed}`);

  const clients = Object.fromEntries(
    systems.map((id) => {
      const credential = stack.businessCredentials[id];
      if (!credential) throw new Error(`the local stack has no credentials for business system ${id}`);
      return [
        id,
        createBusinessClient({
          baseUrl: stack.urls.api,
          region: stack.service.region,
          credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey },
        }),
      ];
    }),
  ) as Record<SystemId, BusinessClient>;
  const app = async (path: string, token: string, method = "POST") => {
    const response = await fetch(`${stack.urls.api}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json().catch(() => ({}))) as any };
  };
  const sim = async (path: string, body: unknown) => {
    const response = await fetch(`${stack.urls.alipay}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
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

  // Handlers crashing between two steps, and one business system's receiver flapping.
  const crashPoints = [
    "payment.afterWrite",
    "publish.beforeSend",
    "delivery.afterPost",
    "sweep.afterClaim",
    "check.afterClose",
    "refund.afterMarkSent",
    "refund.afterAlipay",
  ] as const;
  const flappingSystem = pick(systems);
  const flapping = stack.receivers[flappingSystem]!;
  let receiverDown = false;
  let receiverUpSince = 0;
  const chaosTimer = setInterval(() => {
    const point = pick(crashPoints);
    armFault(point, 1);
    countFault(`crash at ${point}`);
    // Outages shorter than the events' retry budget (about 8 s locally), at least 5 s apart: it
    // comes back, and every event must still arrive. (One that stays down past the budget
    // dead-letters the event: test/integration/gatewayFaults.test.ts.)
    if (!receiverDown && Date.now() - receiverUpSince > 5000 && rand() < 0.3) {
      receiverDown = true;
      flapping.setMode("down");
      countFault(`${flappingSystem} receiver down (up to 2.5 s)`);
      setTimeout(
        () => {
          flapping.setMode("up");
          receiverDown = false;
          receiverUpSince = Date.now();
        },
        500 + rand() * 2000,
      );
    }
  }, 400);

  const plans: Plan[] = Array.from({ length: options.payments }, (_, i) => {
    const cancel: CancelKind =
      rand() < cancelRate
        ? pick([
            "before the order string",
            "while pending",
            "then paid anyway",
            "then paid anyway",
            "racing the payment",
            "racing the payment",
            "after the payment",
          ] as const)
        : "none";
    const buyer: Buyer =
      cancel === "racing the payment" || cancel === "after the payment"
        ? "in time"
        : rand() < 0.6
          ? "in time"
          : pick(["second attempt", "late", "never"] as const);
    const refund: RefundPlan =
      buyer === "in time" && cancel === "none" && rand() < refundRate
        ? pick(["in full", "in two parts", "the full amount three times at once"] as const)
        : "none";
    return {
      system: systems[i % 2]!,
      user: `chaos-user-${i % 50}`,
      businessOrderId: `chaos-${options.seed}-${i}`,
      amount: 1 + Math.floor(rand() * 500_000),
      key: `chaos-${options.seed}-${i}`,
      buyer,
      cancel,
      refund,
      // Every 7th payment, alternating between the systems (7 is odd), without drawing from the
      // seed's sequence: a seed still plays the same run.
      ...(i % 7 === 3 ? { poison: poisonPayments[Math.floor(i / 7) % poisonPayments.length]! } : {}),
    };
  });
  const tokens = new Map<string, Promise<string>>();
  const tokenOf = (user: string) => {
    if (!tokens.has(user)) tokens.set(user, stack.issueToken(user, 3600));
    return tokens.get(user)!;
  };
  const outcomes: Outcome[] = [];

  /** The business system creates the payment, retrying with the same key until it has an answer. */
  const create = async (plan: Plan) => {
    const { name: _poison, ...text } = plan.poison ?? { name: "", subject: "Chaos payment" };
    const input = { businessOrderId: plan.businessOrderId, amount: plan.amount, userId: plan.user, ...text };
    // Some callers send the first request twice at once.
    const doubleTap = rand() < 0.1;
    if (doubleTap) countFault("double-tapped create (2 concurrent requests)");
    let payment: any;
    for (let attempt = 0; attempt < 30 && !payment; attempt += 1) {
      const copies = doubleTap && attempt === 0 ? 2 : 1;
      const answers = await Promise.all(Array.from({ length: copies }, () => clients[plan.system].createPayment(input, plan.key)));
      for (const answer of answers) {
        if (answer.status === 201 || answer.status === 200) {
          if (payment && payment.paymentId !== answer.body.paymentId) problems.push(`${plan.key}: one key answered two payments`);
          payment ??= answer.body;
        } else if (answer.status >= 500 || answer.body?.code === "concurrent_update") countFault("create answered 5xx, business retried");
        else problems.push(`${plan.key}: create answered ${answer.status} ${JSON.stringify(answer.body)}`);
      }
      if (!payment) await sleep(100 + rand() * 200);
    }
    if (!payment) return undefined;
    // A caller that lost its key (a restart) asks again with a new one: the same payment comes back.
    if (rand() < 0.03) {
      countFault("create repeated with a new key");
      for (let attempt = 0; attempt < 30; attempt += 1) {
        const again = await clients[plan.system].createPayment(input, `${plan.key}-again`);
        if (again.status >= 500 || again.body?.code === "concurrent_update") continue;
        if ((again.status !== 200 && again.status !== 201) || again.body.paymentId !== payment.paymentId) {
          problems.push(
            `${plan.key}: create with a new key answered ${again.status} ${JSON.stringify(again.body)}, not payment ${payment.paymentId}`,
          );
        }
        break;
      }
    }
    return payment as { paymentId: string; expiresAt: string };
  };

  /**
   * The app asks for the payable order string, as an app does: again after a 5xx, a little later
   * while the previous string is still payable. Undefined once the payment cannot be paid.
   */
  const orderString = async (outcome: Outcome, token: string): Promise<OrderStringAnswer | undefined> => {
    const path = `/v1/app/payments/${outcome.paymentId}/order-string`;
    const doubleTap = rand() < 0.1;
    if (doubleTap) countFault("double-tapped order string (2 concurrent requests)");
    for (let attempt = 0; attempt < 40; attempt += 1) {
      const copies = doubleTap && attempt === 0 ? 2 : 1;
      const answers = await Promise.all(Array.from({ length: copies }, () => app(path, token)));
      let got: OrderStringAnswer | undefined;
      let retry = false;
      for (const answer of answers) {
        if (answer.status === 200 || answer.status === 201) {
          // Two payable strings of one payment must never exist at once.
          if (got && got.outTradeNo !== answer.body.outTradeNo)
            problems.push(`${outcome.paymentId}: two order strings at once (${got.outTradeNo}, ${answer.body.outTradeNo})`);
          got ??= answer.body as OrderStringAnswer;
        } else if (answer.status >= 500 || answer.body?.code === "concurrent_update" || answer.body?.code === "previous_attempt_expiring") {
          retry = true;
        } else if (!["payment_expired", "payment_canceled", "already_paid"].includes(answer.body?.code)) {
          problems.push(`${outcome.paymentId}: order string answered ${answer.status} ${JSON.stringify(answer.body)}`);
        }
      }
      if (got) return got;
      if (!retry) return undefined;
      countFault("order string answered 5xx or 409 (retry), app retried");
      await sleep(300 + rand() * 700);
    }
    return undefined;
  };

  /** The business system cancels, retrying 5xx; the answer that counts is the last one. */
  const cancel = async (outcome: Outcome) => {
    for (let attempt = 0; attempt < 30; attempt += 1) {
      const answer = await clients[outcome.plan.system].cancelPayment(outcome.paymentId);
      if (answer.status === 200) {
        if (answer.body.status !== "CANCELED") problems.push(`${outcome.paymentId}: cancel answered 200 with status ${answer.body.status}`);
        outcome.cancelAnswer = "200";
        return;
      }
      if (answer.status === 409 && (answer.body?.code === "already_paid" || answer.body?.code === "payment_expired")) {
        outcome.cancelAnswer = answer.body.code;
        return;
      }
      if (answer.status < 500 && answer.body?.code !== "concurrent_update") {
        problems.push(`${outcome.paymentId}: cancel answered ${answer.status} ${JSON.stringify(answer.body)}`);
        outcome.cancelAnswer = `${answer.status}`;
        return;
      }
      countFault("cancel answered 5xx, business retried");
      await sleep(200 + rand() * 300);
    }
    outcome.cancelAnswer = "no answer";
    problems.push(`${outcome.paymentId}: cancel never answered`);
  };

  /**
   * A business system refunds only what it was told is paid: it reads the payment until PAID. With
   * every notification lost and the gateway failing, that can take until the attempt's close.
   */
  const untilPaid = async (outcome: Outcome) => {
    const since = Date.now();
    for (let attempt = 0; attempt < 90; attempt += 1) {
      const read = await clients[outcome.plan.system].getPayment(outcome.paymentId);
      if (read.status === 200 && read.body.status === "PAID") {
        if (Date.now() - since > 20_000) countFault("refund waited over 20 s for PAID");
        return true;
      }
      await sleep(1000);
    }
    return false;
  };

  /** One refund request, retried with its key until it has an answer; some are double-tapped. */
  const askRefund = async (outcome: Outcome, amount: number, key: string) => {
    const asked: RefundAsked = { key, amount };
    outcome.refunds.push(asked);
    const doubleTap = rand() < 0.1;
    if (doubleTap) countFault("double-tapped refund (2 concurrent requests)");
    for (let attempt = 0; attempt < 30; attempt += 1) {
      const copies = doubleTap && attempt === 0 ? 2 : 1;
      const answers = await Promise.all(
        Array.from({ length: copies }, () =>
          clients[outcome.plan.system].createRefund(outcome.paymentId, { amount, reason: "chaos refund" }, key),
        ),
      );
      let retry = false;
      for (const answer of answers) {
        if (answer.status === 201 || answer.status === 200) {
          if (asked.refundId && asked.refundId !== answer.body.refundId) problems.push(`${key}: one key answered two refunds`);
          asked.refundId ??= answer.body.refundId as string;
        } else if (answer.status === 409 && answer.body?.code === "refund_exceeds_payment") {
          asked.refused ??= answer.body.code as string;
        } else if (answer.status >= 500 || answer.body?.code === "concurrent_update") {
          retry = true;
        } else {
          problems.push(`${outcome.paymentId}: refund ${key} answered ${answer.status} ${JSON.stringify(answer.body)}`);
          return;
        }
      }
      if (asked.refundId && asked.refused) problems.push(`${key}: one key answered both a refund and ${asked.refused}`);
      if (!retry || asked.refundId || asked.refused) return;
      countFault("refund answered 5xx, business retried");
      await sleep(200 + rand() * 300);
    }
    problems.push(`${outcome.paymentId}: refund ${key} never answered`);
  };

  const requestRefunds = async (outcome: Outcome, outTradeNo: string) => {
    const { plan } = outcome;
    if (!(await untilPaid(outcome))) return void problems.push(`${outcome.paymentId}: paid at Alipay but not PAID after 90 s`);
    // Alipay misbehaves about refunds too: answers lost after refunding, 5xx, slow settlement.
    if (rand() < 0.3) {
      const method = pick(["alipay.trade.refund", "alipay.trade.fastpay.refund.query"]);
      const mode = pick(["5xx", "timeout", "system-error", "unsigned-system-error"]);
      const afterProcessing = method === "alipay.trade.refund" && rand() < 0.5;
      await sim("/sim/faults", { method, outTradeNo, mode, count: 1 + Math.floor(rand() * 2), afterProcessing });
      countFault(`refund gateway ${mode}${afterProcessing ? " after refunding" : ""}`);
      outcome.misbehaviour.push(`${outTradeNo}: ${method} ${mode}${afterProcessing ? " after processing" : ""}`);
    }
    if (rand() < 0.2) {
      await sim("/sim/scenario", { outTradeNo, refundSettleMs: 500 + Math.floor(rand() * 2500) });
      countFault("refund settled late at Alipay");
      outcome.misbehaviour.push(`${outTradeNo}: refunds settle late`);
    }
    const key = (n: number) => `${plan.key}-refund-${n}`;
    if (plan.refund === "in full" || plan.amount < 2) await askRefund(outcome, plan.amount, key(1));
    else if (plan.refund === "in two parts") {
      const part = 1 + Math.floor(rand() * (plan.amount - 1));
      await askRefund(outcome, part, key(1));
      await askRefund(outcome, plan.amount - part, key(2));
    } else await Promise.all([1, 2, 3].map((n) => askRefund(outcome, plan.amount, key(n))));
  };

  /** What Alipay does to this attempt's notifications and to our calls about it. */
  const misbehave = async (outcome: Outcome, outTradeNo: string) => {
    const scenario: Record<string, unknown> = { outTradeNo };
    const r = rand();
    const set = (knob: string, value: unknown, fault: string) => {
      scenario[knob] = value;
      countFault(fault);
    };
    if (r < 0.15) set("dropFirst", 100, "notifications all lost");
    else if (r < 0.35) set("dropFirst", 1 + Math.floor(rand() * 3), "notifications partly lost");
    if (rand() < 0.25) set("duplicate", 1 + Math.floor(rand() * 3), "notifications duplicated");
    if (rand() < 0.2) set("delayMs", Math.floor(rand() * 3000), "notifications delayed");
    if (rand() < 0.1) set("reorder", true, "notifications reordered");
    await sim("/sim/scenario", scenario);
    const { outTradeNo: _, ...told } = scenario;
    if (Object.keys(told).length) outcome.misbehaviour.push(`${outTradeNo}: notifications ${JSON.stringify(told)}`);
    if (rand() < 0.2) {
      const method = pick(["alipay.trade.query", "alipay.trade.close"]);
      const mode = pick(["5xx", "timeout", "rate-limit", "unknown-error", "system-error"]);
      const count = 1 + Math.floor(rand() * 3);
      await sim("/sim/faults", { method, outTradeNo, mode, count });
      countFault(`gateway ${mode}`);
      outcome.misbehaviour.push(`${outTradeNo}: ${method} ${mode} x${count}`);
    }
  };

  /** The buyer pays this order string somewhere before it expires. */
  const payInTime = async (attempt: OrderStringAnswer) => {
    await sleep(Math.max(0, rand() * (Date.parse(attempt.orderStringExpiresAt) - Date.now() - 300)));
    return sim("/sim/pay", { orderString: attempt.orderString });
  };

  const runOne = async (plan: Plan) => {
    const token = await tokenOf(plan.user);
    const created = await create(plan);
    if (!created) return void problems.push(`${plan.key}: never created`);
    const outcome: Outcome = {
      plan,
      paymentId: created.paymentId,
      expiresAt: Date.parse(created.expiresAt),
      refunds: [],
      misbehaviour: [],
    };
    outcomes.push(outcome);

    if (plan.cancel === "before the order string") {
      await cancel(outcome);
      const after = await orderString(outcome, token);
      if (after && outcome.cancelAnswer === "200")
        problems.push(`${outcome.paymentId}: order string ${after.outTradeNo} handed out after the payment was canceled`);
      return;
    }
    let attempt = await orderString(outcome, token);
    if (!attempt) return;
    await misbehave(outcome, attempt.outTradeNo);

    if (plan.cancel === "while pending") {
      // Some buyers reached the cashier first (a trade exists, the close closes it); then the
      // business cancels, and some buyers still pay the string they hold.
      if (rand() < 0.3) await sim("/sim/open", { orderString: attempt.orderString });
      await sleep(rand() * 1500);
      await cancel(outcome);
      if (rand() < 0.5 && Date.now() < Date.parse(attempt.orderStringExpiresAt) - 300) {
        const paid = await sim("/sim/pay", { orderString: attempt.orderString });
        countFault(
          paid.status === 200 ? "buyer paid after the cancel (accepted by Alipay)" : "buyer paid after the cancel (refused by Alipay)",
        );
      }
      return;
    }
    if (plan.cancel === "then paid anyway") {
      // The business cancels before the buyer reached the cashier, and the buyer still pays the
      // string held: Alipay accepts it (it had no trade to close), and the money goes back.
      await sleep(rand() * 1000);
      await cancel(outcome);
      if (Date.now() < Date.parse(attempt.orderStringExpiresAt) - 300) {
        const paid = await sim("/sim/pay", { orderString: attempt.orderString });
        countFault(
          paid.status === 200 ? "buyer paid after the cancel (accepted by Alipay)" : "buyer paid after the cancel (refused by Alipay)",
        );
      }
      return;
    }
    if (plan.cancel === "racing the payment") {
      const waitMs = Math.max(0, rand() * (Date.parse(attempt.orderStringExpiresAt) - Date.now() - 600));
      await sleep(waitMs);
      const offsetMs = (rand() - 0.5) * 300;
      await Promise.all([
        sleep(Math.max(0, offsetMs)).then(() => sim("/sim/pay", { orderString: attempt!.orderString })),
        sleep(Math.max(0, -offsetMs)).then(() => cancel(outcome)),
      ]);
      return;
    }

    switch (plan.buyer) {
      case "in time": {
        const paid = await payInTime(attempt);
        if (paid.status === 200 && plan.cancel === "after the payment") await cancel(outcome);
        if (paid.status === 200 && plan.refund !== "none") await requestRefunds(outcome, attempt.outTradeNo);
        break;
      }
      case "second attempt": {
        // The first string lapses; the app asks again and the buyer pays the new one.
        await sleep(Math.max(0, Date.parse(attempt.orderStringExpiresAt) - Date.now() + 1300));
        attempt = await orderString(outcome, token);
        if (!attempt) break;
        await misbehave(outcome, attempt.outTradeNo);
        await payInTime(attempt);
        break;
      }
      case "late": {
        await sleep(Math.max(0, Date.parse(attempt.orderStringExpiresAt) - Date.now() + 1200));
        const paid = await sim("/sim/pay", { orderString: attempt.orderString });
        if (paid.status === 200)
          problems.push(`${outcome.paymentId}: the simulator accepted the expired order string ${attempt.outTradeNo}`);
        break;
      }
      case "never":
        // Some reach the cashier and leave: a trade waits at Alipay until it is closed.
        if (rand() < 0.3) await sim("/sim/open", { orderString: attempt.orderString });
        break;
    }
    // Some apps poll the payment (the inline query path).
    if (rand() < 0.3) {
      await sleep(rand() * 1000);
      const read = await app(`/v1/app/payments/${outcome.paymentId}`, token, "GET");
      if (read.status >= 400 && read.status < 500)
        problems.push(`${outcome.paymentId}: app read answered ${read.status} ${JSON.stringify(read.body)}`);
    }
  };

  const progressEvery = Math.max(1, options.progressEvery ?? 50);
  let driven = 0;
  await forEachLimited(plans, options.concurrency, async (plan) => {
    await runOne(plan).catch((error) => problems.push(`${plan.key}: the run itself failed: ${String(error)}`));
    driven += 1;
    if (driven % progressEvery === 0 || driven === plans.length) {
      log(`driving: ${driven} of ${plans.length} payments done (${((Date.now() - startedAt) / 1000).toFixed(0)} s)`);
    }
  });
  log(`created ${outcomes.length} payments in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; stopping faults`);

  // Faults stop; retries, the sweep and the expiries settle everything.
  injecting = false;
  clearInterval(chaosTimer);
  disarmFaults();
  flapping.setMode("up");
  dynamo().middlewareStack.remove(middlewareName);
  const settleStart = Date.now();

  const ledger = async () => {
    const trades = (await (await fetch(`${stack.urls.alipay}/sim/trades`)).json()) as LedgerTrade[];
    const byPayment = new Map<string, LedgerTrade[]>();
    for (const trade of trades) {
      const paymentId = trade.outTradeNo.replace(/_\d+$/, "");
      byPayment.set(paymentId, [...(byPayment.get(paymentId) ?? []), trade]);
    }
    return byPayment;
  };
  const eventAt = (system: string, id: string) => stack.receivers[system]!.events.get(id);
  /** The trade numbers of this payment's refund-needed records. */
  const refundsOf = async (paymentId: string) => new Set((await listRefundsNeeded(paymentId)).map((r) => String(r.tradeNo)));

  interface Seen {
    payment?: PaymentRecord;
    trades: LedgerTrade[];
    /** Trade numbers of the payment's refund-needed records. */
    refunds: Set<string>;
    /** Its refund records, requested and automatic. */
    refundRecords: RefundRecord[];
  }
  const isKept = (payment: PaymentRecord | undefined, trade: LedgerTrade) =>
    payment?.status === "PAID" && payment.tradeNo === trade.tradeNo;
  const look = async (outcome: Outcome, trades: Map<string, LedgerTrade[]>): Promise<Seen> => {
    const payment = await getPayment(outcome.paymentId);
    const own = trades.get(outcome.paymentId) ?? [];
    const unexplained = own.filter((t) => wasPaid(t) && !isKept(payment, t));
    const anyRefund = outcome.refunds.length > 0 || unexplained.length > 0 || own.some((t) => t.refunds.length > 0);
    return {
      payment,
      trades: own,
      refunds: unexplained.length ? await refundsOf(outcome.paymentId) : new Set(),
      refundRecords: anyRefund ? await listRefunds(outcome.paymentId) : [],
    };
  };
  /**
   * Looks at many payments, a few dozen reads at a time: a thousand at once overruns DynamoDB
   * Local's connection timeout on a busy machine. A read that fails is tried again.
   */
  const lookAll = async (pending: Outcome[], trades: Map<string, LedgerTrade[]>) => {
    const looked: Array<readonly [string, Seen]> = [];
    const lookWithRetry = async (outcome: Outcome): Promise<Seen> => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await look(outcome, trades);
        } catch (error) {
          if (attempt >= 5) throw error;
          await sleep(200 * attempt);
        }
      }
    };
    await forEachLimited(pending, 32, async (o) => void looked.push([o.paymentId, await lookWithRetry(o)] as const));
    return looked;
  };
  const refundEventOf = (refund: RefundRecord) =>
    refundEventId(refund.refundId, refund.status === "SUCCEEDED" ? "refund.succeeded" : "refund.failed");
  /**
   * Final, its event at its own business system, every fen at Alipay accounted for (money it must
   * not keep refunded in full), and every refund settled and announced.
   */
  const settled = (outcome: Outcome, seen: Seen) => {
    const { payment } = seen;
    if (!payment || payment.status === "OPEN") return false;
    if (!eventAt(outcome.plan.system, eventId(payment.paymentId, eventTypeOf[payment.status]))) return false;
    if (seen.refundRecords.some((r) => r.status === "PENDING" || !eventAt(outcome.plan.system, refundEventOf(r)))) return false;
    return seen.trades.every((t) => !wasPaid(t) || isKept(payment, t) || (seen.refunds.has(t.tradeNo) && t.refundedFen === t.totalFen));
  };

  let seen = new Map<string, Seen>();
  let trades = await ledger();
  let lastLog = 0;
  // When the last payment that settles did: one that never does (a problem) waits for the timeout.
  let settledAt = settleStart;
  let unsettled = outcomes.length;
  for (let pending = outcomes; ; ) {
    trades = await ledger();
    const looked = await lookAll(pending, trades);
    for (const [id, s] of looked) seen.set(id, s);
    pending = pending.filter((o) => !settled(o, seen.get(o.paymentId)!));
    if (pending.length < unsettled) {
      settledAt = Date.now();
      unsettled = pending.length;
    }
    if (pending.length === 0 || Date.now() - settleStart > options.settleTimeoutMs) break;
    if (Date.now() - lastLog > 5000) {
      const open = pending.filter((o) => seen.get(o.paymentId)?.payment?.status === "OPEN").length;
      log(`settling: ${pending.length} payments not settled yet (${open} still OPEN, waiting for their expiry)`);
      lastLog = Date.now();
    }
    await sleep(1000);
  }
  const secondsToSettle = (settledAt - settleStart) / 1000;
  const closeMarginMs = Number(stack.functionEnv.CLOSE_MARGIN_SECONDS ?? 0) * 1000;
  const lastExpiry = Math.max(...outcomes.map((o) => o.expiresAt)) + closeMarginMs;
  // The verdict reads everything once more, settled or not.
  trades = await ledger();
  seen = new Map(await lookAll(outcomes, trades));

  // The verdict, payment by payment.
  const found = {
    lost: 0,
    stuck: 0,
    wrongState: 0,
    doublePaid: 0,
    doubleFulfilled: 0,
    misroutedEvents: 0,
    unsettledInDlq: 0,
    doubleRefunded: 0,
    overRefunded: 0,
    duplicatePaymentsNotRefunded: 0,
  };
  const flag = (kind: keyof typeof found, text: string) => {
    found[kind] += 1;
    problems.push(text);
  };
  let duplicateDeliveries = 0;
  let eventsNotDelivered = 0;
  let canceled = 0,
    cancelRequests = 0,
    cancelAnsweredPaid = 0,
    canceledRefundNeeded = 0,
    refundsNeeded = 0,
    refundsRequested = 0,
    refundsRefusedOverPayment = 0,
    refundsAtAlipay = 0,
    automaticRefunds = 0,
    attempts = 0;
  const finalStatus: Record<string, number> = {};
  const eventsDelivered: Record<string, number> = {};
  const ours = new Map(outcomes.map((o) => [o.paymentId, o]));

  // Every event at a receiver must be about a payment of that business system, and only there.
  const succeededByOrder = new Map<string, Set<string>>();
  for (const system of systems) {
    const receiver = stack.receivers[system]!;
    eventsDelivered[system] = receiver.events.size;
    if (receiver.rejected > 0) {
      found.misroutedEvents += receiver.rejected;
      problems.push(`${system} receiver rejected ${receiver.rejected} events with a bad signature (another system's secret?)`);
    }
    for (const event of receiver.events.values()) {
      duplicateDeliveries += event.deliveries - 1;
      // A payment's event carries the payment; a refund's (automatic refunds of money paid after a
      // cancel) carries the refund, with its payment's id.
      const data = event.data as {
        payment?: { paymentId?: string; businessId?: string; businessOrderId?: string };
        refund?: { paymentId?: string };
      };
      const payment = data.payment;
      const paymentId = payment?.paymentId ?? data.refund?.paymentId;
      const owner = paymentId ? ours.get(paymentId) : undefined;
      const businessId = (event as { businessId?: string }).businessId ?? payment?.businessId;
      if (!owner || owner.plan.system !== system || (businessId !== undefined && businessId !== system)) {
        flag(
          "misroutedEvents",
          `${event.id} (${event.type}) delivered to ${system}, but the payment belongs to ${owner?.plan.system ?? "nobody we know"}`,
        );
      }
      if (event.type === "payment.succeeded" && owner) {
        const key = `${owner.plan.system}/${owner.plan.businessOrderId}`;
        succeededByOrder.set(key, (succeededByOrder.get(key) ?? new Set()).add(event.id));
      }
    }
  }
  for (const [key, ids] of succeededByOrder) {
    if (ids.size > 1) flag("doubleFulfilled", `${key} fulfilled twice: ${[...ids].join(", ")}`);
  }

  for (const outcome of outcomes) {
    const { paymentId, plan } = outcome;
    const { payment, trades: own, refunds, refundRecords } = seen.get(paymentId)!;
    const fail = (kind: keyof typeof found, text: string) =>
      flag(
        kind,
        `${paymentId} (${plan.system}, buyer ${plan.buyer}, cancel ${plan.cancel}${outcome.misbehaviour.length ? `; ${outcome.misbehaviour.join("; ")}` : ""}): ${text}`,
      );
    if (!payment) {
      fail("lost", "no payment item");
      continue;
    }
    finalStatus[payment.status] = (finalStatus[payment.status] ?? 0) + 1;
    attempts += payment.attempts.length;
    refundsNeeded += refunds.size;
    const paidTrades = own.filter(wasPaid);
    if (payment.status === "OPEN") fail("stuck", "still OPEN");

    // Every fen at Alipay is either the payment's trade or recorded as refund-needed.
    for (const trade of paidTrades) {
      const isThePayment = payment.status === "PAID" && payment.tradeNo === trade.tradeNo;
      if (!isThePayment && !refunds.has(trade.tradeNo))
        fail("lost", `paid at Alipay (${trade.outTradeNo}, ${trade.tradeNo}), local ${payment.status}, no refund-needed record`);
      if (trade.totalFen !== plan.amount) fail("wrongState", `Alipay collected ${trade.totalFen} fen for a payment of ${plan.amount}`);
    }
    const kept = paidTrades.filter((t) => !refunds.has(t.tradeNo));
    // Money it must not keep goes back in full (automatic refunds).
    for (const trade of paidTrades) {
      if (!isKept(payment, trade) && trade.refundedFen !== trade.totalFen)
        fail(
          "duplicatePaymentsNotRefunded",
          `${trade.tradeNo} (${trade.outTradeNo}) refunded ${trade.refundedFen} of ${trade.totalFen} fen`,
        );
    }
    // Every refund at Alipay is one of our refund records, of that trade and amount, SUCCEEDED.
    const recordOf = new Map(refundRecords.map((r) => [r.refundId, r]));
    for (const trade of own) {
      for (const refund of trade.refunds) {
        refundsAtAlipay += 1;
        const record = recordOf.get(refund.outRequestNo);
        if (!record || record.tradeNo !== trade.tradeNo || record.amountFen !== refund.refundFen || record.status !== "SUCCEEDED")
          fail(
            "doubleRefunded",
            `Alipay refunded ${refund.refundFen} fen of ${trade.tradeNo} under ${refund.outRequestNo}, our record: ${record ? `${record.tradeNo} ${record.amountFen} ${record.status}` : "none"}`,
          );
      }
    }
    for (const record of refundRecords) {
      if (record.kind === "automatic") automaticRefunds += 1;
      if (record.status === "PENDING") fail("stuck", `refund ${record.refundId} still PENDING`);
      if (record.status === "FAILED") fail("wrongState", `refund ${record.refundId} FAILED (${record.failureCode})`);
      const atAlipay = own.find((t) => t.tradeNo === record.tradeNo)?.refunds.filter((r) => r.outRequestNo === record.refundId) ?? [];
      if (record.status === "SUCCEEDED" && atAlipay.length !== 1)
        fail("wrongState", `refund ${record.refundId} SUCCEEDED but Alipay holds ${atAlipay.length} refunds under its number`);
      if (record.status !== "PENDING" && !eventAt(plan.system, refundEventOf(record)))
        fail("lost", `refund ${record.refundId} ${record.status} but its event never reached ${plan.system}`);
    }
    // What the business system was told, against the records and Alipay.
    const accepted = outcome.refunds.filter((r) => r.refundId);
    refundsRequested += accepted.length;
    refundsRefusedOverPayment += outcome.refunds.filter((r) => r.refused).length;
    for (const asked of accepted) {
      const record = recordOf.get(asked.refundId!);
      if (!record || record.amountFen !== asked.amount)
        fail("lost", `refund ${asked.refundId} (${asked.key}) answered 201, record: ${record?.amountFen}`);
    }
    const requested = refundRecords.filter((r) => r.kind !== "automatic");
    const requestedFen = requested.filter((r) => r.status !== "FAILED").reduce((sum, r) => sum + r.amountFen, 0);
    const acceptedFen = new Map(accepted.map((r) => [r.refundId, r.amount]));
    const keptTrade = own.find((t) => isKept(payment, t));
    if (
      [...acceptedFen.values()].reduce((a, b) => a + b, 0) > plan.amount ||
      requestedFen > plan.amount ||
      (keptTrade?.refundedFen ?? 0) > plan.amount
    )
      fail(
        "overRefunded",
        `refunds of ${requestedFen} fen asked, ${keptTrade?.refundedFen ?? 0} refunded at Alipay, of ${plan.amount} paid`,
      );
    const refundedFen = (payment as PaymentRecord & { refundedFen?: number }).refundedFen ?? 0;
    if (refundedFen !== requestedFen) fail("wrongState", `payment refundedFen ${refundedFen}, its refunds ${requestedFen}`);
    if (keptTrade && keptTrade.refundedFen !== requestedFen)
      fail("wrongState", `Alipay refunded ${keptTrade.refundedFen} fen of the payment's trade, its refunds ${requestedFen}`);
    if (kept.length > 1 || payment.history.filter((h) => h.event === "paid").length > 1)
      fail("doublePaid", `paid twice: ${kept.map((t) => t.tradeNo).join(", ")}`);

    if (payment.status === "PAID") {
      if (!paidTrades.some((t) => t.tradeNo === payment.tradeNo)) fail("wrongState", `PAID locally (${payment.tradeNo}) but not at Alipay`);
      if (!eventAt(plan.system, eventId(paymentId, "payment.succeeded"))) fail("lost", "PAID but payment.succeeded never delivered");
    }
    const owed = [
      ...(payment.status !== "OPEN" ? [eventId(paymentId, eventTypeOf[payment.status])] : []),
      ...refundRecords.filter((r) => r.status !== "PENDING").map(refundEventOf),
    ];
    eventsNotDelivered += owed.filter((id) => !eventAt(plan.system, id)).length;
    if (plan.poison && payment.status !== "OPEN") {
      const delivered = eventAt(plan.system, eventId(paymentId, eventTypeOf[payment.status]))?.data as
        | { payment?: { subject?: string; body?: string; metadata?: Record<string, string> } }
        | undefined;
      if (delivered?.payment && (delivered.payment.subject !== plan.poison.subject || delivered.payment.body !== plan.poison.body))
        fail("wrongState", `the ${plan.poison.name} payment's event reached ${plan.system} with another subject or body`);
    }
    if (payment.status !== "OPEN") {
      const type = eventTypeOf[payment.status];
      if (payment.status !== "PAID" && !eventAt(plan.system, eventId(paymentId, type)))
        fail("wrongState", `${payment.status} but ${type} never delivered`);
      if (payment.attempts.some((a) => a.status === "PENDING")) fail("wrongState", `${payment.status} with an attempt still PENDING`);
      for (const event of stack.receivers[plan.system]!.events.values()) {
        if (event.id.startsWith(`evt_${paymentId}_`) && event.type !== type)
          fail("wrongState", `${payment.status} but ${event.type} was delivered`);
      }
    }

    // The business system's cancel: canceled (money, if any, recorded for refund), or told it is paid.
    if (plan.cancel !== "none") cancelRequests += 1;
    if (payment.status === "CANCELED") {
      canceled += 1;
      if (plan.cancel === "none") fail("wrongState", "CANCELED but nobody canceled it");
      if (outcome.cancelAnswer !== "200") fail("wrongState", `CANCELED but the cancel answered ${outcome.cancelAnswer}`);
      if (paidTrades.length > 0) canceledRefundNeeded += 1;
    }
    if (outcome.cancelAnswer === "200" && payment.status !== "CANCELED")
      fail("wrongState", `the cancel answered 200 but the payment is ${payment.status}`);
    if (outcome.cancelAnswer === "already_paid") {
      if (payment.status === "PAID") cancelAnsweredPaid += 1;
      else fail("wrongState", `the cancel answered already_paid but the payment is ${payment.status}`);
    }
    if (outcome.cancelAnswer === "payment_expired" && payment.status !== "EXPIRED")
      fail("wrongState", `the cancel answered payment_expired but the payment is ${payment.status}`);
    if (payment.status === "PAID" && plan.cancel === "before the order string")
      fail("wrongState", "canceled before any order string, yet PAID");
  }

  // Dead-letter queues: only messages about payments that are now settled are acceptable.
  const sqs = new SQSClient({ endpoint: stack.urls.sqs, region: stack.service.region, credentials: localCredentials });
  let staleInDlq = 0;
  for (const dlq of ["CheckDeadLetterQueue", "EventsDeadLetterQueue", "PublishFailuresQueue"]) {
    const url = stack.resources[dlq]?.ref;
    if (!url) continue;
    for (let page = 0; page < 100; page += 1) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) {
        // A check message names the payment; an event carries it in its data.
        const body = JSON.parse(message.Body ?? "{}") as { paymentId?: string; data?: { payment?: { paymentId?: string } } };
        const paymentId = body.paymentId ?? body.data?.payment?.paymentId;
        const outcome = paymentId ? ours.get(paymentId) : undefined;
        if (outcome && settled(outcome, seen.get(outcome.paymentId)!)) staleInDlq += 1;
        else flag("unsettledInDlq", `${dlq} holds ${message.Body} for an unsettled payment`);
      }
    }
  }
  sqs.destroy();

  // The run's days against Alipay's bills, as the daily reconciliation would do them.
  const reconciliation = await reconcileDays(stack, daysBetween(startedAt, Date.now()));
  for (const report of reconciliation.reports) {
    for (const difference of report.differences.filter((d) => !d.healed))
      problems.push(`reconciliation of ${report.day}: ${JSON.stringify(difference)}`);
  }

  const paidAtAlipay = outcomes.filter((o) => (trades.get(o.paymentId) ?? []).some(wasPaid)).length;
  return {
    payments: outcomes.length,
    bySystem: Object.fromEntries(systems.map((s) => [s, outcomes.filter((o) => o.plan.system === s).length])),
    flappingSystem,
    paidAtAlipay,
    abandoned: outcomes.length - paidAtAlipay,
    finalStatus,
    attempts,
    faults,
    lost: found.lost,
    refundsRequested,
    refundsRefusedOverPayment,
    refundsAtAlipay,
    automaticRefunds,
    doubleRefunded: found.doubleRefunded,
    overRefunded: found.overRefunded,
    duplicatePaymentsNotRefunded: found.duplicatePaymentsNotRefunded,
    reconciliationDifferences: reconciliation.open,
    reconciliationHealed: reconciliation.healed,
    reconciliationMatched: reconciliation.reports.reduce((sum, r) => sum + r.matched.payments + r.matched.refunds, 0),
    doublePaid: found.doublePaid,
    doubleFulfilled: found.doubleFulfilled,
    duplicateDeliveries,
    stuck: found.stuck,
    wrongState: found.wrongState,
    misroutedEvents: found.misroutedEvents,
    poisonPayments: outcomes.filter((o) => o.plan.poison).length,
    eventsNotDelivered,
    canceled,
    cancelRequests,
    cancelAnsweredPaid,
    canceledRefundNeeded,
    refundsNeeded,
    eventsDelivered,
    unsettledInDlq: found.unsettledInDlq,
    staleInDlq,
    secondsToSettle,
    secondsAfterLastExpiry: Math.max(0, (settledAt - lastExpiry) / 1000),
    unsettledAtTimeout: unsettled,
    secondsTotal: (Date.now() - startedAt) / 1000,
    problems,
  };
}

export function formatReport(report: ChaosReport): string {
  const rows: Array<[string, string | number]> = [
    [
      "payments",
      `${report.payments} (${Object.entries(report.bySystem)
        .map(([s, n]) => `${s} ${n}`)
        .join(", ")})`,
    ],
    ["  paid by the buyer (simulator ledger)", report.paidAtAlipay],
    ["  not paid (abandoned, expired, paid too late)", report.abandoned],
    [
      "  final status",
      Object.entries(report.finalStatus)
        .sort()
        .map(([s, n]) => `${s} ${n}`)
        .join(", "),
    ],
    ["  Alipay attempts (order strings made)", report.attempts],
    ["  with poison text (emoji, longest subject, every character class, commas and quotes)", report.poisonPayments],
    ...Object.entries(report.faults)
      .sort()
      .map(([k, v]) => [`fault: ${k}`, v] as [string, number]),
    ["lost (paid but neither PAID + delivered nor refund-needed)", report.lost],
    ["double paid", report.doublePaid],
    ["double fulfilled", report.doubleFulfilled],
    ["stuck (still OPEN)", report.stuck],
    ["wrong state", report.wrongState],
    ["misrouted events", report.misroutedEvents],
    ["events not delivered (owed by settled payments and refunds)", report.eventsNotDelivered],
    ["canceled (CANCELED at the end)", `${report.canceled} of ${report.cancelRequests} cancel requests`],
    ["  cancel lost the race: PAID, cancel answered 409", report.cancelAnsweredPaid],
    ["  canceled but paid: money recorded refund-needed", report.canceledRefundNeeded],
    ["refund-needed records", report.refundsNeeded],
    [
      "refunds asked by business systems",
      `${report.refundsRequested} accepted, ${report.refundsRefusedOverPayment} refused (more than was paid)`,
    ],
    ["automatic refunds (money paid after a cancel or twice)", report.automaticRefunds],
    ["refunds at Alipay", report.refundsAtAlipay],
    ["double refunded", report.doubleRefunded],
    ["over refunded", report.overRefunded],
    ["duplicate payments not refunded", report.duplicatePaymentsNotRefunded],
    [
      "reconciliation differences",
      `${report.reconciliationDifferences} (${report.reconciliationHealed} healed, ${report.reconciliationMatched} bill rows matched)`,
    ],
    [
      "events delivered",
      `${Object.entries(report.eventsDelivered)
        .map(([s, n]) => `${s} ${n}`)
        .join(", ")} (${report.flappingSystem} flapped)`,
    ],
    ["DLQ messages for unsettled payments", report.unsettledInDlq],
    ["DLQ messages already recovered (stale)", report.staleInDlq],
    ["duplicate deliveries (receiver deduped)", report.duplicateDeliveries],
    [
      "time to settle after faults stopped (s)",
      `${report.secondsToSettle.toFixed(1)}${report.unsettledAtTimeout ? ` (then ${report.unsettledAtTimeout} never settled)` : ""}`,
    ],
    ["  of which after the last payment's expiry (s)", report.secondsAfterLastExpiry.toFixed(1)],
    ["total time (s)", report.secondsTotal.toFixed(1)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
