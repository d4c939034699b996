// The capacity model behind `npm run capacity`: for a peak of new payments a second, every
// component of the settlement path with its load, its limit (from the packaged template, or AWS's
// quota with the page that states it) and the utilisation, for a paid payment and for the chaos
// run's mix (a third never paid). Pure: the template, the bench's measured costs and the quotas go
// in, rows come out (scripts/capacity.ts does the reading and printing).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { mix, assumptions } = require("./sizing.cjs") as {
  mix: {
    unpaidShare: number;
    checksPerUnpaid: number;
    alipayCallsPerUnpaid: number;
    eventsPerPayment: number;
    sweepIndexWcuUnpaid: number;
  };
  assumptions: {
    alipayCallSeconds: number;
    webhookSeconds: number;
    publishRecordSeconds: number;
    partitionWcu: number;
    onDemandInitialWrites: number;
    tableWcuUnpaid: number;
    tableRcuPaid: number;
    tableRcuUnpaid: number;
    onDemandInitialReads: number;
  };
};

/** The per-payment costs the bench measured (the `summary` record of bench/.results/last-run.jsonl). */
export interface MeasuredCosts {
  tableWcuPerPaidOrder: number;
  indexWcuPerPaidOrder: Record<string, number>;
  /** Mean handler time, ms: "create", "order string", "notify". */
  handlerMeanMs: Record<string, number>;
  /** One shard's sweep on the bench machine (DynamoDB Local): due items handed out a second, and requests per item. */
  sweepItemsPerShardSecond?: number;
  sweepRequestsPerItem?: number;
}

/** Account quotas (Service Quotas; all adjustable). */
export interface Quotas {
  apiGatewayAccountRps: number;
  lambdaConcurrency: number;
  dynamodbTableWrites: number;
  dynamodbTableReads: number;
}
export const defaultQuotas: Quotas = {
  apiGatewayAccountRps: 10_000,
  lambdaConcurrency: 1_000,
  dynamodbTableWrites: 40_000,
  dynamodbTableReads: 40_000,
};
export const quotaPages: Record<keyof Quotas, string> = {
  apiGatewayAccountRps: "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
  lambdaConcurrency: "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
  dynamodbTableWrites: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html",
  dynamodbTableReads: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html",
};
const pages = {
  partition: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html",
  httpApiThrottling: "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html",
  reserved: "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html",
  sqsScaling: "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
  stream: "https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html",
  sqsInFlight: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
  warm: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html",
  alipay: "the app's call rate agreed with Alipay (stage parameter alipayQueryRatePerSecond)",
};

/** What the packaged template says (scripts/capacity.ts templateSettings). */
export interface TemplateSettings {
  sizedForPeak: number;
  alipayQueryRatePerSecond: number;
  notifyRateLimit: number;
  notifyReservedConcurrency: number;
  checkMaxConcurrency: number;
  checkBatchSize: number;
  deliverMaxConcurrency: number;
  deliverBatchSize: number;
  publishParallelizationFactor: number;
  sweepShards: number;
  eventShards: number;
  sweepClaimConcurrency: number;
  /** sweepShard's maximumConcurrency: one invocation per shard of a minute. */
  sweepMaxConcurrency: number;
  /** Warm write throughput of the table and of each index (0: none set, a new on-demand table's 4,000). */
  tableWarmWrites: number;
  tableWarmReads: number;
  indexWarmWrites: Record<string, number>;
}

export interface Row {
  component: string;
  /** Load at the peak: a paid payment's, and the mix's. */
  loadPaid: number;
  loadMix: number;
  limit: number;
  unit: string;
  source: string;
}

/** API Gateway requests of a paid payment: create, order string, the app's status read, Alipay's notification. */
const apiRequestsPaid = 4;
/** Of an unpaid one: create, order string, the status read. */
const apiRequestsUnpaid = 3;
/** A succeeded refund's share of payments (the refundSucceededAt index keeps one partition). */
const refundShare = 0.05;
/** One DynamoDB request from Lambda (a conditional write, in the sweep's claims). */
const dynamoRequestSeconds = 0.008;
/** The events index's share of one business system: all of it (one order service). */
const eventsOfOneSystem = 1;

export function capacityRows(peak: number, t: TemplateSettings, costs: MeasuredCosts, quotas: Quotas): Row[] {
  const paidShare = 1 - mix.unpaidShare;
  const both = (paid: number, unpaid: number) => ({ loadPaid: peak * paid, loadMix: peak * (paidShare * paid + mix.unpaidShare * unpaid) });
  const ms = (name: string) => (costs.handlerMeanMs[name] ?? Number.NaN) / 1000;
  const index = (name: string) => costs.indexWcuPerPaidOrder[name] ?? 0;

  const checksUnpaid = mix.checksPerUnpaid;
  const checkSeconds = (mix.alipayCallsPerUnpaid / mix.checksPerUnpaid) * assumptions.alipayCallSeconds + 0.01;
  const tableWrites = both(costs.tableWcuPerPaidOrder, assumptions.tableWcuUnpaid);
  const sweepWrites = both(index("sweep"), mix.sweepIndexWcuUnpaid);
  const tableReads = both(assumptions.tableRcuPaid, assumptions.tableRcuUnpaid);
  const streamShards = Math.max(assumptions.onDemandInitialWrites, t.tableWarmWrites) / assumptions.partitionWcu;
  const events = both(mix.eventsPerPayment, mix.eventsPerPayment);
  const checks = both(0, checksUnpaid);
  const perShard = (load: { loadPaid: number; loadMix: number }, shards: number) => ({
    loadPaid: load.loadPaid / shards,
    loadMix: load.loadMix / shards,
  });
  const scale = (load: { loadPaid: number; loadMix: number }, by: number) => ({ loadPaid: load.loadPaid * by, loadMix: load.loadMix * by });
  // A shard's sweep on AWS: sweepClaimConcurrency conditional writes in flight at dynamoRequestSeconds each.
  const sweepRequestsPerItem = costs.sweepRequestsPerItem ?? 1.1;
  const shardSweepItemsPerSecond = t.sweepClaimConcurrency / (sweepRequestsPerItem * dynamoRequestSeconds);

  const functions = {
    createPayment: both(ms("create"), ms("create")),
    getOrderString: both(ms("order string"), ms("order string")),
    // The app's status read: a GetItem, about the order string's cost without the signature.
    getAppPayment: both(ms("order string"), ms("order string")),
  };
  const notifyConcurrency = both(ms("notify"), 0);
  const checkInvocations = scale(checks, checkSeconds / t.checkBatchSize);
  const deliverInvocations = scale(events, assumptions.webhookSeconds / t.deliverBatchSize);
  // Reserved and maximum concurrencies count in full (reserved is carved out of the account; the
  // queues' triggers can reach theirs), the API functions at their load.
  const reservedOrCapped =
    t.notifyReservedConcurrency +
    t.checkMaxConcurrency +
    t.deliverMaxConcurrency +
    t.sweepMaxConcurrency +
    streamShards * t.publishParallelizationFactor;
  const apiLoad = (of: "loadPaid" | "loadMix") => Object.values(functions).reduce((n, f) => n + f[of], 0);
  const lambdaPeak = { loadPaid: reservedOrCapped + apiLoad("loadPaid"), loadMix: reservedOrCapped + apiLoad("loadMix") };

  const rows: Row[] = [
    {
      component: "API Gateway, the account's requests/s (all routes)",
      ...both(apiRequestsPaid, apiRequestsUnpaid),
      limit: quotas.apiGatewayAccountRps,
      unit: "req/s",
      source: quotaPages.apiGatewayAccountRps,
    },
    {
      component: "notify route throttle (Alipay's notifications)",
      ...both(1, 0),
      limit: t.notifyRateLimit,
      unit: "req/s",
      source: pages.httpApiThrottling,
    },
    {
      component: "alipayNotify concurrency (reserved)",
      ...notifyConcurrency,
      limit: t.notifyReservedConcurrency,
      unit: "concurrent",
      source: pages.reserved,
    },
    ...Object.entries(functions).map(([name, load]) => ({
      component: `${name} concurrency (the account's unreserved)`,
      ...load,
      limit: quotas.lambdaConcurrency - t.notifyReservedConcurrency,
      unit: "concurrent",
      source: quotaPages.lambdaConcurrency,
    })),
    {
      component: "checkPayment invocations (maximumConcurrency)",
      ...checkInvocations,
      limit: t.checkMaxConcurrency,
      unit: "concurrent",
      source: pages.sqsScaling,
    },
    {
      component: "Alipay calls (checks: queries, closes)",
      ...both(0, mix.alipayCallsPerUnpaid),
      limit: t.alipayQueryRatePerSecond,
      unit: "calls/s",
      source: pages.alipay,
    },
    {
      component: "deliverEvent invocations (maximumConcurrency)",
      ...deliverInvocations,
      limit: t.deliverMaxConcurrency,
      unit: "concurrent",
      source: pages.sqsScaling,
    },
    {
      component: `publishEvents per stream shard (~${Math.round(streamShards)} shards, parallelization)`,
      ...scale(perShard(events, streamShards), assumptions.publishRecordSeconds),
      limit: t.publishParallelizationFactor,
      unit: "busy batches",
      source: pages.stream,
    },
    {
      component: "sweepShard: due items per shard",
      ...perShard(checks, t.sweepShards),
      limit: shardSweepItemsPerSecond,
      unit: "items/s",
      source: `${t.sweepClaimConcurrency} claims in flight at ${dynamoRequestSeconds * 1000} ms, ${sweepRequestsPerItem.toFixed(2)} requests per item (bench)`,
    },
    {
      component: "Lambda concurrency, the account (worst case)",
      ...lambdaPeak,
      limit: quotas.lambdaConcurrency,
      unit: "concurrent",
      source: quotaPages.lambdaConcurrency,
    },
    { component: "table writes", ...tableWrites, limit: quotas.dynamodbTableWrites, unit: "WCU/s", source: quotaPages.dynamodbTableWrites },
    {
      component: "table writes at once (warm throughput)",
      ...tableWrites,
      limit: Math.max(assumptions.onDemandInitialWrites, t.tableWarmWrites),
      unit: "WCU/s",
      source: pages.warm,
    },
    {
      component: "table reads (checks' and status reads)",
      ...tableReads,
      limit: quotas.dynamodbTableReads,
      unit: "RCU/s",
      source: quotaPages.dynamodbTableReads,
    },
    {
      component: "table reads at once (warm throughput)",
      ...tableReads,
      limit: Math.max(assumptions.onDemandInitialReads, t.tableWarmReads),
      unit: "RCU/s",
      source: pages.warm,
    },
    {
      component: "sweep index writes",
      ...sweepWrites,
      limit: quotas.dynamodbTableWrites,
      unit: "WCU/s",
      source: quotaPages.dynamodbTableWrites,
    },
    {
      component: "sweep index writes at once (warm throughput)",
      ...sweepWrites,
      limit: Math.max(assumptions.onDemandInitialWrites, t.indexWarmWrites.sweep ?? 0),
      unit: "WCU/s",
      source: pages.warm,
    },
    {
      component: `sweep index, one shard of ${t.sweepShards}: writes`,
      ...perShard(sweepWrites, t.sweepShards),
      limit: assumptions.partitionWcu,
      unit: "WCU/s",
      source: pages.partition,
    },
    {
      // Each due item is read once (~100 B KEYS_ONLY, eventually consistent: 0.5 RCU per 4 KB).
      component: `sweep index, one shard of ${t.sweepShards}: reads`,
      ...scale(perShard(checks, t.sweepShards), 100 / 4096 / 2),
      limit: 3000,
      unit: "RCU/s",
      source: pages.partition,
    },
    {
      component: `paidAt index, one shard of ${t.sweepShards}: writes`,
      ...perShard(both(index("paidAt"), 0), t.sweepShards),
      limit: assumptions.partitionWcu,
      unit: "WCU/s",
      source: pages.partition,
    },
    {
      component: `events index, one business system over ${t.eventShards} shard(s): writes`,
      ...perShard(scale(events, index("events") * eventsOfOneSystem), t.eventShards),
      limit: assumptions.partitionWcu,
      unit: "WCU/s",
      source: pages.partition,
    },
    {
      component: "events index writes at once (warm throughput)",
      ...scale(events, index("events")),
      limit: Math.max(assumptions.onDemandInitialWrites, t.indexWarmWrites.events ?? 0),
      unit: "WCU/s",
      source: pages.warm,
    },
    {
      component: "refundSucceededAt index (one partition): writes",
      ...both(refundShare, refundShare),
      limit: assumptions.partitionWcu,
      unit: "WCU/s",
      source: pages.partition,
    },
    {
      component: "check queue, messages in flight",
      ...scale(checks, checkSeconds),
      limit: 120_000,
      unit: "messages",
      source: pages.sqsInFlight,
    },
    {
      component: "events queue, messages in flight",
      ...scale(events, assumptions.webhookSeconds),
      limit: 120_000,
      unit: "messages",
      source: pages.sqsInFlight,
    },
  ];
  return rows;
}

export const utilisation = (row: Row, of: "loadPaid" | "loadMix") => row[of] / row.limit;

/** The account quotas that keep every quota-bound row at or under `target` (rounded up to a thousand). */
export function quotasFor(peak: number, t: TemplateSettings, costs: MeasuredCosts, target = 0.7): Quotas {
  const rows = capacityRows(peak, t, costs, {
    apiGatewayAccountRps: 1,
    lambdaConcurrency: 1e9,
    dynamodbTableWrites: 1,
    dynamodbTableReads: 1,
  });
  const need = (source: string, component: RegExp) =>
    Math.max(
      0,
      ...rows.filter((r) => r.source === source && component.test(r.component)).map((r) => Math.max(r.loadPaid, r.loadMix) / target),
    );
  const round = (n: number, low: number) => Math.max(low, Math.ceil(n / 1000) * 1000);
  const lambda = rows.find((r) => r.component.startsWith("Lambda concurrency"))!;
  return {
    apiGatewayAccountRps: round(need(quotaPages.apiGatewayAccountRps, /API Gateway/), defaultQuotas.apiGatewayAccountRps),
    lambdaConcurrency: round(Math.max(lambda.loadPaid, lambda.loadMix) / target, defaultQuotas.lambdaConcurrency),
    dynamodbTableWrites: round(
      Math.max(need(quotaPages.dynamodbTableWrites, /writes$/), t.tableWarmWrites, ...Object.values(t.indexWarmWrites)),
      defaultQuotas.dynamodbTableWrites,
    ),
    dynamodbTableReads: round(Math.max(need(quotaPages.dynamodbTableReads, /reads/), t.tableWarmReads), defaultQuotas.dynamodbTableReads),
  };
}
