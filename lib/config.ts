// Configuration from the function's environment (serverless.yml). Secrets are references,
// `ssm:/name` (SecureString) or `file:path` (local runs), read once per cold start and only by
// the functions that use them (each function's role can read only its own).
import { readFile } from "node:fs/promises";

export interface Config {
  stage: string;
  tableName: string;
  checkQueueUrl: string;
  eventsQueueUrl: string;
  alipay: {
    appId: string;
    sellerId: string;
    gatewayUrl: string;
    notifyUrl: string;
    timeoutMs: number;
  };
  webhook: { url: string };
  orderTtlSeconds: number;
  /** Offsets (s) from creation, or payment, at which an order that still needs attention is re-checked. */
  checkScheduleSeconds: number[];
  /** Base of the exponential backoff of SQS retries. */
  retryBaseSeconds: number;
  /** Margin for clock skew with Alipay before an expired order is closed. */
  closeMarginSeconds: number;
  /** How long a sweep's claim on an order lasts before another sweep may enqueue it again. */
  sweepLeaseSeconds: number;
}

let loaded: Promise<Config> | undefined;

export function config(): Promise<Config> {
  loaded ??= load().catch((error) => {
    loaded = undefined;
    throw error;
  });
  return loaded;
}

/** For tests that change the environment between cases. */
export function resetConfig(): void {
  loaded = undefined;
  alipayKeysLoaded = undefined;
  webhookSecretLoaded = undefined;
}

export interface AlipayKeys {
  appPrivateKey: string;
  alipayPublicKey: string;
}

let alipayKeysLoaded: Promise<AlipayKeys> | undefined;
let webhookSecretLoaded: Promise<string> | undefined;

export function alipayKeys(): Promise<AlipayKeys> {
  alipayKeysLoaded ??= Promise.all([secret("ALIPAY_APP_PRIVATE_KEY"), secret("ALIPAY_PUBLIC_KEY")])
    .then(([appPrivateKey, alipayPublicKey]) => ({ appPrivateKey, alipayPublicKey }))
    .catch((error) => {
      alipayKeysLoaded = undefined;
      throw error;
    });
  return alipayKeysLoaded;
}

export function webhookSecret(): Promise<string> {
  webhookSecretLoaded ??= secret("BUSINESS_WEBHOOK_SECRET").catch((error) => {
    webhookSecretLoaded = undefined;
    throw error;
  });
  return webhookSecretLoaded;
}

async function load(): Promise<Config> {
  return {
    stage: required("STAGE"),
    tableName: required("TABLE_NAME"),
    checkQueueUrl: required("CHECK_QUEUE_URL"),
    eventsQueueUrl: required("EVENTS_QUEUE_URL"),
    alipay: {
      appId: required("ALIPAY_APP_ID"),
      sellerId: required("ALIPAY_SELLER_ID"),
      gatewayUrl: required("ALIPAY_GATEWAY_URL"),
      notifyUrl: required("ALIPAY_NOTIFY_URL"),
      timeoutMs: positiveInteger("ALIPAY_TIMEOUT_MS", 5000),
    },
    webhook: { url: required("BUSINESS_WEBHOOK_URL") },
    orderTtlSeconds: positiveInteger("ORDER_TTL_SECONDS", 900),
    checkScheduleSeconds: required("CHECK_SCHEDULE_SECONDS").split(",").map((s) => {
      const seconds = Number(s.trim());
      if (!(seconds > 0)) throw new Error(`CHECK_SCHEDULE_SECONDS: bad entry "${s}"`);
      return seconds;
    }),
    retryBaseSeconds: positiveNumber("RETRY_BASE_SECONDS", 10),
    closeMarginSeconds: positiveNumber("CLOSE_MARGIN_SECONDS", 60, true),
    sweepLeaseSeconds: positiveNumber("SWEEP_LEASE_SECONDS", 300),
  };
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Missing configuration: ${name}`);
  return value;
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

async function secret(name: string): Promise<string> {
  const reference = required(name);
  if (reference.startsWith("file:")) return (await readFile(reference.slice(5), "utf8")).trim();
  if (reference.startsWith("ssm:")) {
    const { SSMClient, GetParameterCommand } = await import("@aws-sdk/client-ssm");
    const client = new SSMClient({});
    try {
      const { Parameter } = await client.send(new GetParameterCommand({ Name: reference.slice(4), WithDecryption: true }));
      if (!Parameter?.Value) throw new Error(`SSM parameter for ${name} is empty`);
      return Parameter.Value.trim();
    } finally {
      client.destroy();
    }
  }
  throw new Error(`${name} must be ssm:/name or file:path`);
}
