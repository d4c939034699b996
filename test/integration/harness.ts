// Starts a whole local stack for one test file (real DynamoDB Local, fauxqs, the Alipay simulator,
// the Lambdas behind the emulated API Gateway) with compressed times, and talks to it over HTTP.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll } from "vitest";
import { type BusinessClient, type CreatePaymentInput as PaymentInput, createBusinessClient } from "../../client/businessClient.js";
import { exitOnSignals, removeOnExit } from "../../local/interrupt.js";
import { startStack, type LocalStack, type StackOptions } from "../../local/stack.js";
import type { SimulatorApp } from "../../simulator/types.js";
import { checkResponse } from "./openapiCheck.js";
import { runTempDirVariable } from "../runTempDir.js";

export interface TestStack {
  stack: LocalStack;
  logs: string[];
  api(path: string, init?: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> }): Promise<ApiResponse>;
  sim<T = any>(path: string, body?: unknown): Promise<{ status: number; body: T }>;
  token(user: string): Promise<string>;
  /** The business API client of a sample business system (`shop`, `membership`), responses checked against the contract. */
  business(system?: string): BusinessClient;
  /** A payment created by `system` for `user` (defaults for what is not given). */
  createPayment(input: Partial<PaymentInput> & { userId: string }, options?: { system?: string; key?: string }): Promise<ApiResponse>;
  /** The app's order-string request for a payment, as `user`. */
  orderString(user: string, paymentId: string): Promise<ApiResponse>;
  /** A new payment and its first order string: the two-sided start of every payment. */
  openPayment(user: string, amount?: number, options?: { system?: string; subject?: string }): Promise<{ payment: any; attempt: any }>;
  /** Runs `body` while the simulator treats the stack's own app with `mode` (OpenID, GBK notifications, ...), then restores it. */
  withAppMode<T>(mode: Partial<SimulatorApp>, body: () => Promise<T>): Promise<T>;
}

export type { PaymentInput };

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

/**
 * Every answer of the stack's API that this test file's process receives, whoever asked (the
 * harness, the business client, the chaos run, the ops commands), is checked against
 * docs/openapi.json (status, headers, body). One that the document does not describe throws where
 * it was received and fails the test, even if the code that asked swallowed the error.
 */
function checkEveryApiAnswer(apiUrl: () => string | undefined): void {
  const unchecked = globalThis.fetch;
  const violations: string[] = [];
  const checked: typeof fetch = async (input, init) => {
    const response = await unchecked(input, init);
    const base = apiUrl();
    const url = new URL(input instanceof Request ? input.url : input);
    if (base === undefined || url.origin !== new URL(base).origin) return response;
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    try {
      checkResponse(method, `${url.pathname}${url.search}`, response.status, response.headers, await response.clone().text());
    } catch (error) {
      violations.push((error as Error).message);
      throw error;
    }
    return response;
  };
  beforeAll(() => {
    globalThis.fetch = checked;
  });
  afterAll(() => {
    globalThis.fetch = unchecked;
  });
  afterEach(() => {
    const found = violations.splice(0);
    if (found.length > 0) throw new Error(`${found.length} answer(s) not described by docs/openapi.json:\n${found.join("\n")}`);
  });
}

/** Registers beforeAll/afterAll that start and stop a stack; use the returned object inside tests. */
export function useStack(options: StackOptions = {}): TestStack {
  const logs: string[] = [];
  let removeKeys: () => void = () => undefined;
  let uninstall: () => void = () => undefined;
  const harness = { logs } as TestStack;
  beforeAll(async () => {
    const keysDir = mkdtempSync(join(process.env[runTempDirVariable] ?? tmpdir(), "alipay-pay-keys-"));
    // Ctrl-C on the test run (or the runner's SIGTERM to its worker): the worker exits through
    // its 'exit' listeners, which kill the JVM and remove the keys, instead of dying with them.
    removeKeys = removeOnExit(keysDir);
    uninstall = exitOnSignals(async () => harness.stack?.stop());
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
    uninstall();
    await harness.stack?.stop();
    removeKeys();
  });
  checkEveryApiAnswer(() => harness.stack?.urls.api);

  harness.api = async (path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    if (init.body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
    const method = init.method ?? (init.body === undefined ? "GET" : "POST");
    const response = await fetch(`${harness.stack.urls.api}${path}`, {
      method,
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
  const clients = new Map<string, BusinessClient>();
  harness.business = (system = "shop") => {
    if (!clients.has(system)) {
      const credential = harness.stack.businessCredentials[system];
      if (!credential) throw new Error(`no business system ${system}`);
      clients.set(
        system,
        createBusinessClient({
          baseUrl: harness.stack.urls.api,
          region: harness.stack.service.region,
          credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey },
        }),
      );
    }
    return clients.get(system)!;
  };
  harness.createPayment = async (input, { system = "shop", key = `key-${Date.now()}-${(keyCounter += 1)}` } = {}) => {
    const response = await harness.business(system).createPayment(
      {
        businessOrderId: businessOrderId(system),
        amount: 1234,
        subject: "Coffee beans",
        ...input,
      },
      key,
    );
    return { status: response.status, body: response.body, headers: new Headers(response.headers as Record<string, string>) };
  };
  harness.orderString = async (user, paymentId) =>
    harness.api(`/v1/app/payments/${paymentId}/order-string`, { method: "POST", token: await harness.token(user) });
  harness.openPayment = async (user, amount = 1234, { system = "shop", subject = "Coffee beans" } = {}) => {
    const created = await harness.createPayment({ userId: user, amount, subject }, { system });
    if (created.status !== 201) throw new Error(`create payment answered ${created.status}: ${JSON.stringify(created.body)}`);
    const attempt = await harness.orderString(user, created.body.paymentId);
    if (attempt.status !== 201) throw new Error(`order string answered ${attempt.status}: ${JSON.stringify(attempt.body)}`);
    return { payment: created.body, attempt: attempt.body };
  };
  harness.withAppMode = async (mode, body) => {
    const env = harness.stack.functionEnv;
    const app: SimulatorApp = {
      appId: env.ALIPAY_APP_ID!,
      appPublicKey: readFileSync(join(harness.stack.keysDir, "app-public.pem"), "utf8"),
      // The app's certificate only on a stack in certificate mode (keysDir holds one then).
      ...(options.alipayCertificateMode ? { appCert: readFileSync(join(harness.stack.keysDir, "app-cert.crt"), "utf8") } : {}),
      sellerId: env.ALIPAY_SELLER_ID!,
    };
    harness.stack.simulator.addApp({ ...app, ...mode });
    try {
      return await body();
    } finally {
      harness.stack.simulator.addApp(app);
    }
  };
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

let businessOrderCounter = 0;
export function businessOrderId(prefix = "bo"): string {
  return `${prefix}-${Date.now().toString(36)}-${(businessOrderCounter += 1)}`;
}
