// Starts a whole local stack for one test file (real DynamoDB Local, fauxqs, the Alipay simulator,
// the Lambdas behind the emulated API Gateway) with compressed times, and talks to it over HTTP.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { startStack, type LocalStack, type StackOptions } from "../../local/stack.js";

export interface TestStack {
  stack: LocalStack;
  logs: string[];
  api(path: string, init?: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> }): Promise<ApiResponse>;
  sim<T = any>(path: string, body?: unknown): Promise<{ status: number; body: T }>;
  token(user: string): Promise<string>;
  createOrder(user: string, input: Record<string, unknown>, key?: string): Promise<ApiResponse>;
}

export interface ApiResponse {
  status: number;
  body: any;
  headers: Headers;
}

export const testTimes: Record<string, string> = {
  LOCAL_CHECK_SCHEDULE_SECONDS: "1,2,3,5,8",
  LOCAL_CLOSE_MARGIN_SECONDS: "1",
  LOCAL_SWEEP_LEASE_SECONDS: "3",
  LOCAL_RETRY_BASE_SECONDS: "0.5",
  LOCAL_LOG_LEVEL: "ERROR",
};

/** Registers beforeAll/afterAll that start and stop a stack; use the returned object inside tests. */
export function useStack(options: StackOptions = {}): TestStack {
  const logs: string[] = [];
  let keysDir = "";
  const harness = { logs } as TestStack;
  beforeAll(async () => {
    keysDir = mkdtempSync(join(tmpdir(), "alipay-pay-keys-"));
    harness.stack = await startStack({
      keysDir,
      notifyTimeScale: 1000,
      scheduleIntervalMs: 500,
      log: (line) => logs.push(line),
      ...options,
      env: { ...testTimes, ...options.env },
    });
  });
  afterAll(async () => {
    await harness.stack?.stop();
    rmSync(keysDir, { recursive: true, force: true });
  });

  harness.api = async (path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    if (init.body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
    const response = await fetch(`${harness.stack.urls.api}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers,
      body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // plain text (the notify endpoint)
    }
    return { status: response.status, body, headers: response.headers };
  };
  harness.sim = async (path, body) => {
    const response = await fetch(`${harness.stack.urls.alipay}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as never };
  };
  const tokens = new Map<string, string>();
  harness.token = async (user) => {
    if (!tokens.has(user)) tokens.set(user, await harness.stack.issueToken(user));
    return tokens.get(user)!;
  };
  let keyCounter = 0;
  harness.createOrder = async (user, input, key = `key-${Date.now()}-${(keyCounter += 1)}`) =>
    harness.api("/orders", { token: await harness.token(user), body: input, headers: { "idempotency-key": key } });
  return harness;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | false>,
  { timeoutMs = 20_000, intervalMs = 200, what = "condition" }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

let merchantCounter = 0;
export function merchantOrderId(prefix = "mo"): string {
  return `${prefix}-${Date.now().toString(36)}-${(merchantCounter += 1)}`;
}
