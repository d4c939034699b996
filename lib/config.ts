// Configuration from the function's environment (serverless.yml). Secrets are references,
// `ssm:/name` (SecureString, read once per cold start) or `file:path` (local runs).
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
    appPrivateKey: string;
    alipayPublicKey: string;
    timeoutMs: number;
  };
  webhook: { url: string; secret: string };
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
}

async function load(): Promise<Config> {
  const [appPrivateKey, alipayPublicKey, webhookSecret] = await Promise.all([
    secret("ALIPAY_APP_PRIVATE_KEY"),
    secret("ALIPAY_PUBLIC_KEY"),
    secret("BUSINESS_WEBHOOK_SECRET"),
  ]);
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
      appPrivateKey,
      alipayPublicKey,
      timeoutMs: positiveInteger("ALIPAY_TIMEOUT_MS", 5000),
    },
    webhook: { url: required("BUSINESS_WEBHOOK_URL"), secret: webhookSecret },
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
