// The local stack as the benchmarks use it: quiet, the sweep schedule effectively off (a section
// fires what it measures itself), every local Lambda invocation tagged with its function name so
// SDK requests can be attributed, and the code's own AWS clients metered.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { dynamo, sqs } from "../../lib/aws.js";
import { resetConfig } from "../../lib/config.js";
import { type BusinessClient, createBusinessClient } from "../../client/businessClient.js";
import { localCredentials } from "../../local/engines.js";
import { LocalLambda } from "../../local/lambdaRuntime.js";
import { startStack, type LocalStack } from "../../local/stack.js";
import { instrument, Meter, scope } from "./meter.js";

export interface BenchStack {
  stack: LocalStack;
  meter: Meter;
  logs: string[];
  /** Local Lambda invocations running right now. */
  inflight(): number;
  /** Resolves once no local Lambda has been running for `quietMs`. */
  idle(quietMs?: number, timeoutMs?: number): Promise<void>;
  /** A queue nobody consumes (to point a function's output at, so no worker runs behind the measurement). */
  sinkQueue(name: string): Promise<string>;
  /**
   * Changes the functions' environment: the configuration (already read while the stack registered
   * the business systems) is read again on next use.
   */
  setFunctionEnv(vars: Record<string, string>): void;
  stop(): Promise<void>;
}

// setInterval caps at 2^31-1 ms; this is ~23 days: the scheduled sweep never fires during a run.
const never = 2_000_000_000;

let patched = false;
let running = 0;

/** Runs every local Lambda invocation inside `scope` = its function name, and counts those in flight. */
function attributeLambdas(): void {
  if (patched) return;
  patched = true;
  const original = LocalLambda.prototype.invoke;
  LocalLambda.prototype.invoke = function invoke(this: LocalLambda, event: unknown) {
    running += 1;
    return scope
      .run(this.definition.name, () => original.call(this, event))
      .finally(() => {
        running -= 1;
      });
  };
}

export async function startBenchStack(env: Record<string, string> = {}): Promise<BenchStack> {
  attributeLambdas();
  const keysDir = mkdtempSync(join(tmpdir(), "alipay-pay-bench-keys-"));
  const logs: string[] = [];
  const stack = await startStack({
    keysDir,
    notifyTimeScale: 1000,
    scheduleIntervalMs: never,
    log: (line) => logs.push(line),
    env: { LOCAL_LOG_LEVEL: "ERROR", ...env },
  });
  // The registry of business systems is kept as long as in AWS (serverless.yml's default, 60 s;
  // the local stack re-reads it every second): its Query is a per-container cost, not per payment.
  setFunctionEnv({ BUSINESS_CACHE_SECONDS: "60" });
  // startStack has put the functions' environment on process.env: the clients below talk to it.
  const meter = new Meter();
  instrument(dynamo(), meter);
  instrument(sqs(), meter);
  const admin = new SQSClient({ endpoint: stack.urls.sqs, region: stack.service.region, credentials: localCredentials });
  return {
    stack,
    meter,
    logs,
    inflight: () => running,
    async idle(quietMs = 150, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let quietSince = Date.now();
      for (;;) {
        if (running > 0) quietSince = Date.now();
        else if (Date.now() - quietSince >= quietMs) return;
        if (Date.now() > deadline) throw new Error(`local Lambdas still running after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    setFunctionEnv,
    async sinkQueue(name) {
      const { QueueUrl } = await admin.send(new CreateQueueCommand({ QueueName: name }));
      return QueueUrl!;
    },
    async stop() {
      admin.destroy();
      await stack.stop();
      rmSync(keysDir, { recursive: true, force: true });
    },
  };
}

function setFunctionEnv(vars: Record<string, string>): void {
  Object.assign(process.env, vars);
  resetConfig();
}

/** Polls `probe` until it answers something truthy. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The business API client of a sample business system of the stack (SigV4 with its local credentials). */
export function businessClientOf(stack: LocalStack, system: string): BusinessClient {
  const credential = stack.businessCredentials[system]!;
  return createBusinessClient({
    baseUrl: stack.urls.api,
    region: stack.service.region,
    credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey },
  });
}
