// Shared fixtures for the simulator tests: throwaway keys, a merchant notify receiver, the real SDK.
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { AlipaySdk } from "alipay-sdk";
import {
  type AlipaySimulator,
  generateRsaKeyPair,
  type RsaKeyPair,
  type SimulatorOptions,
  startAlipaySimulator,
} from "../../simulator/index.js";

export const APP_ID = "2021000100000001";
export const SELLER_ID = "2088000100000001";

let cached: { app: RsaKeyPair; alipay: RsaKeyPair; stranger: RsaKeyPair } | undefined;
/** Generated once per test file (RSA-2048 generation is the slow part). */
export function keys() {
  return (cached ??= { app: generateRsaKeyPair(), alipay: generateRsaKeyPair(), stranger: generateRsaKeyPair() });
}

/** A simulator that knows the test app (the shared keys), with Alipay's schedule compressed 10,000x. */
export function startTestSimulator(options: Partial<SimulatorOptions> = {}): Promise<AlipaySimulator> {
  const k = keys();
  return startAlipaySimulator({
    alipayPrivateKey: k.alipay.privateKeyPkcs1,
    apps: [{ appId: APP_ID, appPublicKey: k.app.publicKey, sellerId: SELLER_ID }],
    timeScale: 10_000,
    ...options,
  });
}

export interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  /** Decoded exactly once. */
  params: Record<string, string>;
  atMs: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** How to answer the n-th (0-based) notification received; default 200 `success`. */
  respond: (request: Received, index: number) => { status: number; body: string };
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = {
    url: "",
    received: [],
    respond: () => ({ status: 200, body: "success" }),
    close: async () => undefined,
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const request: Received = {
        headers: req.headers,
        raw,
        params: Object.fromEntries(new URLSearchParams(raw)),
        atMs: Date.now(),
      };
      const index = receiver.received.push(request) - 1;
      const { status, body } = receiver.respond(request, index);
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alipay/notify`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return receiver;
}

export function merchantSdk(gatewayUrl: string, options: { privateKey?: string; appId?: string; timeout?: number } = {}) {
  const k = keys();
  return new AlipaySdk({
    appId: options.appId ?? APP_ID,
    privateKey: options.privateKey ?? k.app.privateKeyPkcs8,
    keyType: "PKCS8",
    alipayPublicKey: k.alipay.publicKey,
    gateway: gatewayUrl,
    timeout: options.timeout ?? 3000,
    camelcase: false,
  });
}

/** yyyy-MM-dd HH:mm:ss in GMT+8. */
export function gmt8(epochMs: number): string {
  const iso = new Date(Math.floor(epochMs / 1000) * 1000 + 8 * 3600_000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

let serial = 0;
export function newOutTradeNo(prefix = "T"): string {
  serial += 1;
  return `${prefix}${Date.now()}${String(serial).padStart(4, "0")}`;
}

export interface OrderOptions {
  totalAmount?: string;
  timeExpire?: string;
  notifyUrl?: string;
  passbackParams?: string;
  body?: string;
  subject?: string;
}

/**
 * Where order strings notify when a test does not care: Alipay requires a notify_url in App Pay order
 * strings. It acknowledges everything, so those notifications are done after one send.
 */
export const sinkNotifyUrl = await startSink();

async function startSink(): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end("success"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/sink/notify`;
}

export function orderString(sdk: AlipaySdk, outTradeNo: string, options: OrderOptions = {}): string {
  return sdk.sdkExecute("alipay.trade.app.pay", {
    notify_url: options.notifyUrl ?? sinkNotifyUrl,
    bizContent: {
      out_trade_no: outTradeNo,
      total_amount: options.totalAmount ?? "10.00",
      subject: options.subject ?? "Test order",
      product_code: "QUICK_MSECURITY_PAY",
      time_expire: options.timeExpire ?? gmt8(Date.now() + 15 * 60_000),
      ...(options.passbackParams ? { passback_params: options.passbackParams } : {}),
      ...(options.body ? { body: options.body } : {}),
    },
  });
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** What the merchant does: drop empty values, then checkNotifySignV2. */
export function verifyNotification(sdk: AlipaySdk, params: Record<string, string>): boolean {
  const nonEmpty = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== ""));
  return sdk.checkNotifySignV2(nonEmpty);
}

export async function waitFor<T>(probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
