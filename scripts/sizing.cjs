// One number sizes the settlement path: a stage's expected peak of new payments a second
// (`peakPaymentsPerSecond`), bounded where Alipay is involved by the rate Alipay allows the app
// (`alipayQueryRatePerSecond`). serverless.yml derives its limits from them through
// `${file(./scripts/sizing.cjs):<name>}` (osls calls the function with its variable resolver; the
// local stack's loader does the same), and `npm run capacity` (scripts/capacity.ts) checks the
// packaged result against what the bench measured. Plain CommonJS: osls loads it as it is.
//
// Every figure below is a design assumption with its reason; the capacity tool reports where the
// measured costs leave them.
"use strict";

/** What a stage is sized for: the work of the mix the chaos run drives (a third never paid). */
const mix = {
  /** Payments that are never paid (opened in the app, abandoned): the chaos run's third. */
  unpaidShare: 1 / 3,
  /** Check messages of an unpaid payment: queries at 30, 60, 120, 300 and 600 s, then the close. */
  checksPerUnpaid: 6,
  /** Alipay calls of those: 5 queries, then close + query. */
  alipayCallsPerUnpaid: 7,
  /** Events per payment: paid, or expired/canceled (one each). */
  eventsPerPayment: 1,
  /**
   * Sweep-index WCU of a payment on its shard (bench/README.md "Sweep index capacity"): 5 for one
   * paid before its first check (measured), 31 for one never paid (its checks move `sweepAt`).
   */
  sweepIndexWcuPaid: 5,
  sweepIndexWcuUnpaid: 31,
};

/** Target utilisation of every limit derived here: 60 %, so the 70 % the capacity check allows has room. */
const targetUtilisation = 0.6;
/** A notify invocation on Lambda (signature check + one conditional write): bench measures ~10 ms locally. */
const notifySeconds = 0.1;
/**
 * Fastest Alipay call the check worker is sized for (a query from ap-southeast-1 to Alipay's
 * gateway): at this latency its concurrency makes exactly the allowed rate. Slower answers only
 * lower the rate; faster ones are held back by Alipay's own limit (a retried ACQ.SYSTEM_ERROR).
 */
const alipayCallSeconds = 0.1;
/** One webhook delivery (a business system's endpoint). */
const webhookSeconds = 0.2;
/** Events per deliverEvent invocation (its SQS batch size in serverless.yml), delivered in parallel. */
const deliverBatchSize = 5;
/** One stream record of publishEvents (a PutItem and an SQS send, in order). */
const publishRecordSeconds = 0.02;
/** DynamoDB partition limits (per partition key value) and a new on-demand table's instant capacity. */
const partitionWcu = 1000;
const onDemandInitialWrites = 4000;
const onDemandInitialReads = 12000;
/** Table WCU of a payment: measured 7 for a paid one (bench section 1, indexes apart); ~20 unpaid (its checks' writes). */
const tableWcuPaid = 7;
const tableWcuUnpaid = 20;
/** Table RCU of a payment: the app's status read (0.5, eventually consistent); an unpaid one's 6 checks read it too (1 each). */
const tableRcuPaid = 0.5;
const tableRcuUnpaid = 6.5;
/** AWS's bounds on the settings themselves. */
const maxEventSourceConcurrency = 1000;
const maxSqsBatch = 10;
const maxParallelizationFactor = 10;

const clamp = (value, low, high) => Math.min(high, Math.max(low, value));
const weighted = (paid, unpaid) => (1 - mix.unpaidShare) * paid + mix.unpaidShare * unpaid;

/**
 * The settings for a peak. Inputs are positive numbers (the stage parameters); everything is an
 * integer CloudFormation accepts.
 */
function sizing({ peakPaymentsPerSecond, alipayQueryRatePerSecond }) {
  const peak = Number(peakPaymentsPerSecond);
  const alipayRate = Number(alipayQueryRatePerSecond);
  if (!(peak > 0)) throw new Error(`peakPaymentsPerSecond must be a positive number, not "${peakPaymentsPerSecond}"`);
  if (!(alipayRate > 0)) throw new Error(`alipayQueryRatePerSecond must be a positive number, not "${alipayQueryRatePerSecond}"`);

  // Notify: Alipay's notifications, their retries and duplicates, and what strangers post: twice the peak.
  const notifyRateLimit = Math.max(50, Math.ceil(2 * peak));
  // A flood at the throttle's rate fits the reserved concurrency when each takes notifySeconds;
  // the burst never exceeds it, so a burst meets API Gateway's 429 rather than Lambda throttles.
  const alipayNotifyReservedConcurrency = Math.max(50, Math.ceil(notifyRateLimit * notifySeconds));
  const notifyBurstLimit = Math.min(notifyRateLimit, alipayNotifyReservedConcurrency);

  // Checks: as many at once as Alipay's allowed rate sustains at its fastest answer. Past what one
  // event source mapping runs (1,000), each invocation takes a batch, checked in parallel.
  const concurrentChecks = Math.max(2, Math.floor(alipayRate * alipayCallSeconds));
  const checkBatchSize = clamp(Math.ceil(concurrentChecks / maxEventSourceConcurrency), 1, maxSqsBatch);
  const checkMaxConcurrency = clamp(Math.ceil(concurrentChecks / checkBatchSize), 2, maxEventSourceConcurrency);

  // Deliveries: the peak's events at webhookSeconds each, batches of deliverBatchSize in parallel.
  const deliverMaxConcurrency = clamp(
    Math.ceil((peak * mix.eventsPerPayment * webhookSeconds) / deliverBatchSize / targetUtilisation),
    20,
    maxEventSourceConcurrency,
  );

  // Sweep index: each shard is one partition key (1,000 WCU/s).
  const sweepShards = Math.max(
    8,
    Math.ceil((peak * weighted(mix.sweepIndexWcuPaid, mix.sweepIndexWcuUnpaid)) / (partitionWcu * targetUtilisation)),
  );
  // One invocation per shard of a minute's sweep, the unsharded DUE included, all at once.
  const sweepMaxConcurrency = clamp(sweepShards + 1, 2, maxEventSourceConcurrency);
  // The events index: one business system's events (1 WCU each) over this many partition keys.
  const eventShards = Math.max(4, Math.ceil((peak * mix.eventsPerPayment) / (partitionWcu * targetUtilisation)));

  // Warm throughput: what the table and its busy indexes must take at once on the sale day's first
  // second; only above a new on-demand table's own (4,000 writes, 12,000 reads), else left out.
  const tableWrites = Math.ceil((peak * weighted(tableWcuPaid, tableWcuUnpaid)) / targetUtilisation);
  const sweepIndexWrites = Math.ceil((peak * weighted(mix.sweepIndexWcuPaid, mix.sweepIndexWcuUnpaid)) / targetUtilisation);
  // paidAt: 1 WCU per paid payment; events: 1 per event (a typical one is under 1 KB).
  const paidIndexWrites = Math.ceil((peak * (1 - mix.unpaidShare)) / targetUtilisation);
  const eventsIndexWrites = Math.ceil((peak * mix.eventsPerPayment) / targetUtilisation);
  const tableReads = Math.ceil((peak * weighted(tableRcuPaid, tableRcuUnpaid)) / targetUtilisation);
  const warm = (writes, reads = 0) =>
    writes > onDemandInitialWrites || reads > onDemandInitialReads
      ? { WriteUnitsPerSecond: Math.max(writes, onDemandInitialWrites), ReadUnitsPerSecond: Math.max(reads, onDemandInitialReads) }
      : { Ref: "AWS::NoValue" };

  // publishEvents: a stream shard per table partition (about one per 1,000 WCU of the table's
  // throughput), each shard's records published in order per item; parallel batches per shard.
  const streamShards = Math.max(onDemandInitialWrites, tableWrites) / partitionWcu;
  const recordsPerShardSecond = (peak * mix.eventsPerPayment) / streamShards;
  const publishParallelizationFactor = clamp(
    Math.ceil((recordsPerShardSecond * publishRecordSeconds) / targetUtilisation),
    1,
    maxParallelizationFactor,
  );

  return {
    notifyRateLimit,
    notifyBurstLimit,
    alipayNotifyReservedConcurrency,
    checkBatchSize,
    checkMaxConcurrency,
    deliverMaxConcurrency,
    publishParallelizationFactor,
    sweepShards,
    sweepMaxConcurrency,
    eventShards,
    tableWarmThroughput: warm(tableWrites, tableReads),
    sweepIndexWarmThroughput: warm(sweepIndexWrites),
    paidAtIndexWarmThroughput: warm(paidIndexWrites),
    eventsIndexWarmThroughput: warm(eventsIndexWrites),
  };
}

/**
 * serverless.yml resolvers: `${file(./scripts/sizing.cjs):checkMaxConcurrency}`. osls passes an
 * async resolveVariable; the local stack's loader a synchronous one (so this stays synchronous then).
 */
function resolverOf(name) {
  return ({ resolveVariable }) => {
    const inputs = ["param:peakPaymentsPerSecond", "param:alipayQueryRatePerSecond"].map((ref) => resolveVariable(ref));
    const pick = ([peakPaymentsPerSecond, alipayQueryRatePerSecond]) => sizing({ peakPaymentsPerSecond, alipayQueryRatePerSecond })[name];
    return inputs.some((input) => input && typeof input.then === "function") ? Promise.all(inputs).then(pick) : pick(inputs);
  };
}

const derived = [
  "notifyRateLimit",
  "notifyBurstLimit",
  "alipayNotifyReservedConcurrency",
  "checkBatchSize",
  "checkMaxConcurrency",
  "deliverMaxConcurrency",
  "publishParallelizationFactor",
  "sweepShards",
  "sweepMaxConcurrency",
  "eventShards",
  "tableWarmThroughput",
  "sweepIndexWarmThroughput",
  "paidAtIndexWarmThroughput",
  "eventsIndexWarmThroughput",
];

module.exports = {
  ...Object.fromEntries(derived.map((name) => [name, resolverOf(name)])),
  sizing,
  mix,
  assumptions: {
    targetUtilisation,
    notifySeconds,
    alipayCallSeconds,
    webhookSeconds,
    deliverBatchSize,
    publishRecordSeconds,
    partitionWcu,
    onDemandInitialWrites,
    onDemandInitialReads,
    tableWcuPaid,
    tableWcuUnpaid,
    tableRcuPaid,
    tableRcuUnpaid,
  },
};
