// Configuration from the function's environment (serverless.yml). Secrets are references,
// `ssm:/name` (SecureString) or `file:path` (local runs), read only by the functions that use them
// (each function's role can read only its own) and cached for SECRETS_CACHE_SECONDS, so a rotated
// secret is picked up without a redeploy.
import { readFile } from "node:fs/promises";
import { BaseProvider } from "@aws-lambda-powertools/parameters/base";
import type { SSMProvider } from "@aws-lambda-powertools/parameters/ssm";

export interface Config {
  stage: string;
  /**
   * This deployment's prefix of every new out_trade_no (`<prefix>_<paymentId>_<attemptNo>`), so two
   * stacks on one Alipay app never send the same one; empty: the unprefixed form of earlier versions.
   */
  deploymentPrefix: string;
  tableName: string;
  checkQueueUrl: string;
  eventsQueueUrl: string;
  /** The sweep's shard messages (only the scheduled fan-out has it; empty elsewhere). */
  sweepQueueUrl: string;
  alipay: {
    appId: string;
    sellerId: string;
    gatewayUrl: string;
    notifyUrl: string;
    timeoutMs: number;
  };
  orderTtlSeconds: number;
  /** Offsets (s) from creation, or payment, at which an order that still needs attention is re-checked. */
  checkScheduleSeconds: number[];
  /** Base of the exponential backoff of SQS retries. */
  retryBaseSeconds: number;
  /** Attempts at a message before SQS dead-letters it (the queues' RedrivePolicy maxReceiveCount). */
  maxReceiveCount: { check: number; events: number };
  /** Money of a second trade, or paid on an attempt already closed, is refunded on its own (off: recorded and alarmed only). */
  autoRefunds: boolean;
  /** A new refund is sent to Alipay from its own write (the table stream); off: by the sweep. */
  refundsAtOnce: boolean;
  /** Margin for clock skew with Alipay before an expired order is closed. */
  closeMarginSeconds: number;
  /** How long a sweep's claim on an order lasts before another sweep may enqueue it again. */
  sweepLeaseSeconds: number;
  /** Partition keys the sweep index is spread over (lib/payments/model.ts sweepShardOf). */
  sweepShards: number;
  /** Claims (conditional writes) and check-queue sends one shard's sweep keeps in flight at once. */
  sweepClaimConcurrency: number;
  /** How long a function keeps the business-system registry before reading it again. */
  businessCacheSeconds: number;
  /** Days a payment that ended without money is kept before DynamoDB TTL deletes it. */
  unpaidPaymentRetentionDays: number;
  /** Stored events are listed this long after they were stored (lib/eventLog.ts: the cursor never skips). */
  eventsSettleSeconds: number;
  /** Partition keys one business system's events are spread over in the `events` index (lib/eventLog.ts). */
  eventShards: number;
}

let loaded: Promise<Config> | undefined;

export function config(): Promise<Config> {
  loaded ??= load().catch((error) => {
    loaded = undefined;
    throw error;
  });
  return loaded;
}

/** For tests that change the environment between cases: configuration and cached secrets are read again. */
export function resetConfig(): void {
  loaded = undefined;
  inFlight.clear();
  files.clearCache();
  ssmProvider?.clearCache();
}

export interface AlipayKeys {
  appPrivateKey: string;
  /** Public-key mode (公钥). */
  alipayPublicKey?: string;
  /** Certificate mode (公钥证书): the app, Alipay public and Alipay root certificates. */
  certificates?: { appCert: string; alipayPublicCert: string; alipayRootCert: string };
}

/**
 * The app's private key and Alipay's public key, or in certificate mode (ALIPAY_APP_CERT set) the
 * three certificates instead of Alipay's public key, as they are now (cached for SECRETS_CACHE_SECONDS).
 * All are secret references like the keys; the gateway checks what they hold (lib/alipay/keys.ts).
 */
export async function alipayKeys(): Promise<AlipayKeys> {
  if (process.env.ALIPAY_APP_CERT) {
    const [appPrivateKey, appCert, alipayPublicCert, alipayRootCert] = await Promise.all([
      secret(required("ALIPAY_APP_PRIVATE_KEY")),
      secret(required("ALIPAY_APP_CERT")),
      secret(required("ALIPAY_PUBLIC_CERT")),
      secret(required("ALIPAY_ROOT_CERT")),
    ]);
    return { appPrivateKey, certificates: { appCert, alipayPublicCert, alipayRootCert } };
  }
  const [appPrivateKey, alipayPublicKey] = await Promise.all([
    secret(required("ALIPAY_APP_PRIVATE_KEY")),
    secret(required("ALIPAY_PUBLIC_KEY")),
  ]);
  return { appPrivateKey, alipayPublicKey };
}

/**
 * The value of a secret reference: `ssm:/name` (an SSM SecureString, decrypted, through the
 * Powertools SSM provider) or `file:path` (the local stack). Values are cached for
 * SECRETS_CACHE_SECONDS (default 300) and then read again; a failed read is not cached, so the next
 * call retries. Errors name the reference, never the value.
 */
export function secret(reference: string): Promise<string> {
  // Concurrent reads of one reference (a cold start's keys, a burst of deliveries for one business
  // system) share one request; once it settles the provider's cache answers, and a failure is not
  // kept, so the next call asks again.
  let read = inFlight.get(reference);
  if (!read) {
    read = readSecret(reference).finally(() => inFlight.delete(reference));
    inFlight.set(reference, read);
  }
  return read;
}

const inFlight = new Map<string, Promise<string>>();

async function readSecret(reference: string): Promise<string> {
  const maxAge = secretsCacheSeconds();
  let value: unknown;
  if (reference.startsWith("ssm:")) {
    value = await (await ssm()).get(reference.slice(4), { decrypt: true, maxAge });
  } else if (reference.startsWith("file:")) {
    value = await files.get(reference.slice(5), { maxAge });
  } else {
    throw new Error("a secret reference must be ssm:/name or file:path");
  }
  const text = typeof value === "string" ? value.trim() : "";
  if (!text) throw new Error(`secret ${reference} is empty`);
  return text;
}

function secretsCacheSeconds(): number {
  const seconds = positiveNumber("SECRETS_CACHE_SECONDS", 300, true);
  // Powertools keeps whole seconds.
  if (!Number.isInteger(seconds)) throw new Error("Bad configuration: SECRETS_CACHE_SECONDS");
  return seconds;
}

/** `file:` references, with the Powertools providers' cache (same maxAge, same retry on failure). */
class FileProvider extends BaseProvider {
  constructor() {
    super({});
  }

  protected async _get(path: string): Promise<string> {
    return readFile(path, "utf8");
  }

  protected async _getMultiple(): Promise<Record<string, unknown>> {
    throw new Error("file: references are read one at a time");
  }
}

const files = new FileProvider();

// Loaded on first use: functions that read no SSM secret (and the local stack) never load the SSM client.
let ssmProvider: SSMProvider | undefined;
async function ssm(): Promise<SSMProvider> {
  if (!ssmProvider) {
    const [{ SSMProvider }, { awsClientOptions }] = await Promise.all([
      import("@aws-lambda-powertools/parameters/ssm"),
      import("./aws.js"),
    ]);
    // The request timeouts of every AWS client here: an SSM that never answers fails the read
    // within its attempts instead of holding the function to its own timeout.
    ssmProvider ??= new SSMProvider({ clientConfig: awsClientOptions });
  }
  return ssmProvider;
}

async function load(): Promise<Config> {
  return {
    stage: required("STAGE"),
    deploymentPrefix: deploymentPrefix(),
    tableName: required("TABLE_NAME"),
    checkQueueUrl: required("CHECK_QUEUE_URL"),
    eventsQueueUrl: required("EVENTS_QUEUE_URL"),
    sweepQueueUrl: optional("SWEEP_QUEUE_URL"),
    alipay: {
      appId: required("ALIPAY_APP_ID"),
      sellerId: required("ALIPAY_SELLER_ID"),
      gatewayUrl: required("ALIPAY_GATEWAY_URL"),
      notifyUrl: required("ALIPAY_NOTIFY_URL"),
      timeoutMs: positiveInteger("ALIPAY_TIMEOUT_MS", 5000),
    },
    orderTtlSeconds: positiveInteger("ORDER_TTL_SECONDS", 900),
    checkScheduleSeconds: required("CHECK_SCHEDULE_SECONDS")
      .split(",")
      .map((s) => {
        const seconds = Number(s.trim());
        if (!(seconds > 0)) throw new Error(`CHECK_SCHEDULE_SECONDS: bad entry "${s}"`);
        return seconds;
      }),
    retryBaseSeconds: positiveNumber("RETRY_BASE_SECONDS", 10),
    maxReceiveCount: {
      check: positiveInteger("CHECK_MAX_RECEIVE_COUNT", 6),
      events: positiveInteger("EVENTS_MAX_RECEIVE_COUNT", 81),
    },
    closeMarginSeconds: positiveNumber("CLOSE_MARGIN_SECONDS", 60, true),
    autoRefunds: flag("AUTO_REFUNDS", true),
    refundsAtOnce: flag("REFUNDS_AT_ONCE", true),
    sweepLeaseSeconds: positiveNumber("SWEEP_LEASE_SECONDS", 300),
    sweepShards: positiveInteger("SWEEP_SHARDS", 1),
    sweepClaimConcurrency: positiveInteger("SWEEP_CLAIM_CONCURRENCY", 32),
    businessCacheSeconds: positiveNumber("BUSINESS_CACHE_SECONDS", 60, true),
    unpaidPaymentRetentionDays: positiveNumber("UNPAID_PAYMENT_RETENTION_DAYS", 400),
    eventsSettleSeconds: positiveNumber("EVENTS_SETTLE_SECONDS", 15, true),
    eventShards: positiveInteger("EVENT_SHARDS", 1),
  };
}

/** DEPLOYMENT_PREFIX: 1-8 letters or digits (out_trade_no allows 64 of letters, digits and _), or empty. */
export function deploymentPrefix(): string {
  const name = "DEPLOYMENT_PREFIX";
  const value = process.env[name] ?? "";
  if (value !== "" && !/^[A-Za-z0-9]{1,8}$/.test(value)) throw new Error(`Bad configuration: ${name} (1-8 letters or digits)`);
  return value;
}

function optional(name: string): string {
  return process.env[name] ?? "";
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Missing configuration: ${name}`);
  return value;
}

function flag(name: string, fallback: boolean): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (raw === "true") return true;
  if (raw === "false") return false;
  throw new Error(`Bad configuration: ${name} (true or false)`);
}

function positiveNumber(name: string, fallback: number, allowZero = false): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) throw new Error(`Bad configuration: ${name}`);
  return value;
}

function positiveInteger(name: string, fallback: number): number {
  const value = positiveNumber(name, fallback);
  if (!Number.isInteger(value)) throw new Error(`Bad configuration: ${name}`);
  return value;
}
