// The simulator's HTTP face: the v2 gateway, the cashier page, and the JSON control API under /sim/.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { KeyObject } from "node:crypto";
import { cancel, expire, finish, open, pay } from "./buyer.js";
import { attachBillDesk, BillDesk, billControl, serveBillDownload } from "./bill.js";
import { cashierPage } from "./cashier.js";
import { certPublicKey, firstCertSn, issueAlipayCertificate, rootCertSn } from "./certificates.js";
import { clearExpiryTimers, type SimulatorContext } from "./context.js";
import { handleGateway } from "./gateway.js";
import { generateRsaKeyPair, loadPrivateKey, loadPublicKey, publicPemOf } from "./keys.js";
import { Ledger, tradeView } from "./ledger.js";
import { alipayNotifySchedule, Notifier, tradeNotificationParams } from "./notifier.js";
import type { KnownApp } from "./orderString.js";
import { FaultStore, ScenarioStore, SimulatorError } from "./scenarios.js";
import type { Params } from "./signing.js";
import { buyerField, formatGmt8, newBuyerId, newTradeNo } from "./values.js";
import type {
  FaultInput,
  ForgeInput,
  ForgeMode,
  NotificationAttempt,
  NotificationState,
  OrderEvent,
  PayResult,
  Scenario,
  ScenarioInput,
  SimulatorApp,
  SimulatorOptions,
  TradeView,
} from "./types.js";

export interface AlipaySimulator {
  /** http://host:port */
  readonly url: string;
  /** url + /gateway.do: the `gateway` option of alipay-sdk. */
  readonly gatewayUrl: string;
  /** url + /cashier: the page a person pays order strings with. */
  readonly cashierUrl: string;
  readonly port: number;
  /** SPKI PEM of the key the simulator signs with: the merchant's `alipayPublicKey`. */
  readonly alipayPublicKey: string;
  /** The buyer pays (POST /sim/pay). Throws SimulatorError when Alipay would refuse. */
  pay(orderString: string, options?: { buyerId?: string }): PayResult;
  /** The buyer reaches the password step but does not pay: WAIT_BUYER_PAY (POST /sim/open). */
  open(orderString: string, options?: { buyerId?: string }): PayResult;
  /** The buyer abandons the cashier (POST /sim/cancel). */
  cancel(orderString: string): OrderEvent;
  /** TRADE_SUCCESS -> TRADE_FINISHED, notified. */
  finish(outTradeNo: string, appId?: string): TradeView;
  /** WAIT_BUYER_PAY -> TRADE_CLOSED now (as at time_expire), notified. */
  expire(outTradeNo: string, appId?: string): TradeView;
  trades(): TradeView[];
  trade(outTradeNo: string, appId?: string): TradeView | undefined;
  /** Buyer cancels and merchant close requests, including for orders that never became trades. */
  events(): OrderEvent[];
  /** Every notification send attempt, oldest first. */
  notifications(filter?: { outTradeNo?: string; notifyId?: string }): NotificationAttempt[];
  /** One entry per notify_id: held / scheduled / sending / acknowledged / gave-up / cancelled. */
  notificationStates(filter?: { outTradeNo?: string }): NotificationState[];
  setScenario(input: ScenarioInput): Scenario;
  setFault(input: FaultInput): void;
  /** Clears scenarios and armed faults. */
  resetScenarios(): void;
  forgeNotification(input: ForgeInput): Promise<NotificationAttempt>;
  /** Sends held (reordered) notifications now. */
  releaseHeld(outTradeNo?: string): number;
  /** Resolves when no notification is scheduled or in flight. */
  whenIdle(timeoutMs?: number): Promise<void>;
  addApp(app: SimulatorApp): void;
  /** Forgets every trade, event, notification (pending ones are cancelled), scenario and fault. */
  reset(): void;
  /** Stops the server, cancels pending notification and expiry timers, drops hanging requests. */
  close(): Promise<void>;
  /** The daily bills (simulator/bill.ts): planted differences and the availability clock. */
  readonly bills: BillDesk;
  /** Alipay rotates its certificate (POST /sim/certificates/rotate): certificate mode with the CA only. */
  rotateCertificate(input?: { sameKey?: boolean; untrusted?: boolean }): CertificateRotation;
}

export interface CertificateRotation {
  alipayCertSn: string;
  previousAlipayCertSn: string;
  /** SPKI PEM of the key answers and notifications are signed with now. */
  alipayPublicKey: string;
}

const maxBodyBytes = 1 << 20;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(new SimulatorError(413, "BODY_TOO_LARGE", "request body over 1 MiB"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value, null, 2);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function parseJsonBody(text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SimulatorError(400, "INVALID_JSON", "the body is not JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new SimulatorError(400, "INVALID_JSON", "the body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new SimulatorError(400, "INVALID_REQUEST", `${field} must be a string`);
  return value;
}

function requiredString(body: Record<string, unknown>, field: string): string {
  const value = optionalString(body, field);
  if (!value) throw new SimulatorError(400, "INVALID_REQUEST", `${field} is required`);
  return value;
}

const forgeModes: readonly ForgeMode[] = ["bad-signature", "other-key", "tampered-amount", "valid", "valid-rsa1"];

/** Alipay's refund window is set by contract; three months is the common one. */
const defaultRefundableForMs = 90 * 24 * 3600_000;

export async function startAlipaySimulator(options: SimulatorOptions): Promise<AlipaySimulator> {
  const log = options.log ?? (() => undefined);
  const alipayKey = loadPrivateKey(options.alipayPrivateKey);
  const schedule = options.notifySchedule ?? alipayNotifySchedule;
  if (!schedule.length || schedule.some((d) => !Number.isFinite(d) || d < 0)) {
    throw new TypeError("notifySchedule must be a non-empty list of non-negative delays");
  }
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new TypeError("timeScale must be positive");

  const certificates = options.certificates && {
    alipayCertSn: firstCertSn(options.certificates.alipayCert),
    rootCertSn: rootCertSn(options.certificates.rootCert),
    issued: new Map([[firstCertSn(options.certificates.alipayCert), options.certificates.alipayCert]]),
    ...(options.certificates.ca ? { ca: options.certificates.ca } : {}),
  };
  if (certificates && certPublicKey(options.certificates!.alipayCert) !== publicPemOf(alipayKey)) {
    throw new TypeError("certificates.alipayCert is not the certificate of alipayPrivateKey");
  }
  const apps = new Map<string, KnownApp>();
  const addApp = (app: SimulatorApp) => {
    if (app.appCert && !certificates) throw new TypeError(`app ${app.appId} has a certificate: the simulator needs certificates too`);
    const known: KnownApp = { app: { ...app }, key: loadPublicKey(app.appCert ? certPublicKey(app.appCert) : app.appPublicKey) };
    if (app.appCert) known.appCertSn = firstCertSn(app.appCert);
    apps.set(app.appId, known);
  };
  options.apps.forEach(addApp);

  const ctx: SimulatorContext = {
    apps,
    alipayKey,
    ledger: new Ledger(),
    scenarios: new ScenarioStore(),
    faults: new FaultStore(),
    notifier: new Notifier({
      schedule,
      timeScale,
      timeoutMs: options.notifyTimeoutMs ?? 15_000,
      ackMatch: options.ackMatch ?? "exact",
      privateKey: alipayKey,
      log,
    }),
    expiryTimers: new Map(),
    refundableForMs: options.refundableForMs ?? defaultRefundableForMs,
    log,
  };
  if (options.maxTimestampSkewMs !== undefined) ctx.maxTimestampSkewMs = options.maxTimestampSkewMs;
  if (certificates) ctx.certificates = certificates;
  const bills = new BillDesk(() => publicUrl);
  attachBillDesk(ctx, bills);

  let otherKey: KeyObject | undefined;
  const forgeryKey = () => (otherKey ??= loadPrivateKey(generateRsaKeyPair().privateKeyPkcs8));

  const forgeNotification = async (input: ForgeInput): Promise<NotificationAttempt> => {
    if (!forgeModes.includes(input.mode)) {
      throw new SimulatorError(400, "INVALID_REQUEST", `mode must be one of ${forgeModes.join(", ")}`);
    }
    if (!input.url || !input.outTradeNo) throw new SimulatorError(400, "INVALID_REQUEST", "url and outTradeNo are required");
    const trade = ctx.ledger.lookup(input.outTradeNo, input.appId);
    let base: Params;
    if (trade) {
      base = tradeNotificationParams(trade, apps.get(trade.appId)!.app);
    } else {
      const known = input.appId ? apps.get(input.appId) : apps.values().next().value;
      const appId = known?.app.appId ?? input.appId ?? "2021000000000000";
      const now = formatGmt8(Date.now());
      const buyerId = newBuyerId();
      base = {
        gmt_create: now,
        charset: "utf-8",
        subject: "forged",
        ...buyerField(known?.app ?? { appId }, buyerId, "buyer_id"),
        invoice_amount: "0.01",
        notify_type: "trade_status_sync",
        trade_status: "TRADE_SUCCESS",
        receipt_amount: "0.01",
        buyer_pay_amount: "0.01",
        app_id: appId,
        sign_type: "RSA2",
        seller_id: known?.app.sellerId ?? "2088000000000000",
        gmt_payment: now,
        version: "1.0",
        out_trade_no: input.outTradeNo,
        total_amount: "0.01",
        trade_no: newTradeNo(),
        auth_app_id: appId,
        buyer_logon_id: "138****0000",
        point_amount: "0.00",
      };
    }
    const params: Params = { ...base };
    for (const [k, v] of Object.entries(input.overrides ?? {})) params[k] = String(v);
    return ctx.notifier.forge(input.url, params, input.mode, { appId: params.app_id ?? "", outTradeNo: input.outTradeNo }, forgeryKey);
  };

  const hanging = new Set<ServerResponse>();

  const gateway = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const body = req.method === "POST" ? await readBody(req) : "";
    const params: Params = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    // Form body (alipay-sdk sends biz_content there); query and body merge, body last.
    for (const [k, v] of new URLSearchParams(body)) params[k] = v;
    const outcome = handleGateway(ctx, params);
    log(`gateway ${params.method ?? "(no method)"} -> ${outcome.kind === "answer" ? outcome.body.slice(0, 160) : outcome.kind}`);
    if (outcome.delayMs) {
      // A slow gateway: the answer is held back (dropped if the client gives up or the simulator stops).
      hanging.add(res);
      res.on("close", () => hanging.delete(res));
      await new Promise((resolve) => setTimeout(resolve, outcome.delayMs).unref());
      if (res.destroyed || !hanging.has(res)) return;
    }
    if (outcome.kind === "5xx") {
      const html = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";
      res.writeHead(502, { "content-type": "text/html", "content-length": Buffer.byteLength(html) });
      res.end(html);
      return;
    }
    if (outcome.kind === "timeout") {
      hanging.add(res);
      res.on("close", () => hanging.delete(res));
      return; // never answered; the client gives up
    }
    res.writeHead(200, { "content-type": "text/html;charset=utf-8", "content-length": Buffer.byteLength(outcome.body) });
    res.end(outcome.body);
  };

  /**
   * Alipay rotates its public-key certificate: a new key (or the same one), a new certificate with a
   * new SN, issued through an intermediate by the root (or, `untrusted`, by a root nobody holds).
   * Answers and notifications are signed with it and name it from now on; the download serves it.
   */
  const rotateCertificate = (input: { sameKey?: boolean; untrusted?: boolean } = {}): CertificateRotation => {
    const held = ctx.certificates;
    if (!held) throw new SimulatorError(409, "NOT_CERTIFICATE_MODE", "the simulator runs without certificates");
    if (!held.ca && !input.untrusted)
      throw new SimulatorError(409, "NO_CA_KEY", "certificates were given without their CA (ca): cannot issue");
    const privateKeyPem = input.sameKey
      ? String(ctx.alipayKey.export({ type: "pkcs8", format: "pem" }))
      : generateRsaKeyPair().privateKeyPkcs8;
    const issued = issueAlipayCertificate({ ...(input.untrusted ? {} : { ca: held.ca! }), alipayPrivateKey: privateKeyPem });
    const previousAlipayCertSn = held.alipayCertSn;
    const alipayCertSn = firstCertSn(issued.alipayCert);
    held.issued.set(alipayCertSn, issued.chain);
    held.alipayCertSn = alipayCertSn;
    ctx.alipayKey = loadPrivateKey(privateKeyPem);
    ctx.notifier.setPrivateKey(ctx.alipayKey);
    log(`Alipay certificate rotated: ${previousAlipayCertSn} -> ${alipayCertSn}${input.untrusted ? " (untrusted root)" : ""}`);
    return { alipayCertSn, previousAlipayCertSn, alipayPublicKey: publicPemOf(ctx.alipayKey) };
  };

  const simulator: Omit<AlipaySimulator, "url" | "gatewayUrl" | "cashierUrl" | "port" | "close"> = {
    get alipayPublicKey() {
      return publicPemOf(ctx.alipayKey);
    },
    rotateCertificate,
    pay: (orderString, opts) => pay(ctx, orderString, opts?.buyerId),
    open: (orderString, opts) => open(ctx, orderString, opts?.buyerId),
    cancel: (orderString) => cancel(ctx, orderString),
    finish: (outTradeNo, appId) => tradeView(finish(ctx, outTradeNo, appId)),
    expire: (outTradeNo, appId) => tradeView(expire(ctx, outTradeNo, appId)),
    trades: () => ctx.ledger.all().map(tradeView),
    trade: (outTradeNo, appId) => {
      const trade = ctx.ledger.lookup(outTradeNo, appId);
      return trade ? tradeView(trade) : undefined;
    },
    events: () => ctx.ledger.events.map((e) => ({ ...e })),
    notifications: (filter = {}) =>
      ctx.notifier.attempts
        .filter((a) => filter.outTradeNo === undefined || a.outTradeNo === filter.outTradeNo)
        .filter((a) => filter.notifyId === undefined || a.notifyId === filter.notifyId)
        .map((a) => ({ ...a, params: { ...a.params } })),
    notificationStates: (filter) => ctx.notifier.states(filter),
    setScenario: (input) => ctx.scenarios.set(input),
    setFault: (input) => ctx.faults.add(input),
    resetScenarios: () => {
      ctx.scenarios.reset();
      ctx.faults.reset();
    },
    forgeNotification,
    releaseHeld: (outTradeNo) => ctx.notifier.releaseHeld(outTradeNo),
    whenIdle: (timeoutMs) => ctx.notifier.whenIdle(timeoutMs),
    addApp,
    reset: () => {
      clearExpiryTimers(ctx);
      ctx.notifier.clearAll();
      ctx.ledger.clear();
      ctx.scenarios.reset();
      ctx.faults.reset();
      bills.reset();
    },
    bills,
  };

  const control = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const path = url.pathname;
    const method = req.method ?? "GET";
    const query = (name: string) => url.searchParams.get(name) ?? undefined;
    const body = method === "POST" ? parseJsonBody(await readBody(req)) : {};
    const billAnswer = billControl(bills, method, path, body);
    if (billAnswer !== undefined) return sendJson(res, 200, billAnswer);
    const tradeRoute = /^\/sim\/trades\/([^/]+)(?:\/(finish|expire))?$/.exec(path);

    if (method === "POST" && path === "/sim/pay") {
      const buyerId = optionalString(body, "buyerId");
      return sendJson(res, 200, simulator.pay(requiredString(body, "orderString"), buyerId ? { buyerId } : {}));
    }
    if (method === "POST" && path === "/sim/open") {
      const buyerId = optionalString(body, "buyerId");
      return sendJson(res, 200, simulator.open(requiredString(body, "orderString"), buyerId ? { buyerId } : {}));
    }
    if (method === "POST" && path === "/sim/cancel") return sendJson(res, 200, simulator.cancel(requiredString(body, "orderString")));
    if (method === "GET" && path === "/sim/trades") return sendJson(res, 200, simulator.trades());
    if (tradeRoute) {
      const outTradeNo = decodeURIComponent(tradeRoute[1]!);
      const appId = optionalString(body, "appId") ?? query("appId");
      if (method === "GET" && !tradeRoute[2]) {
        const trade = simulator.trade(outTradeNo, appId);
        return trade
          ? sendJson(res, 200, trade)
          : sendJson(res, 404, { code: "ACQ.TRADE_NOT_EXIST", message: `no trade for ${outTradeNo}` });
      }
      if (method === "POST" && tradeRoute[2] === "finish") return sendJson(res, 200, simulator.finish(outTradeNo, appId));
      if (method === "POST" && tradeRoute[2] === "expire") return sendJson(res, 200, simulator.expire(outTradeNo, appId));
    }
    if (method === "GET" && path === "/sim/events") return sendJson(res, 200, simulator.events());
    if (method === "GET" && path === "/sim/notifications") {
      const filter: { outTradeNo?: string; notifyId?: string } = {};
      const outTradeNo = query("outTradeNo");
      const notifyId = query("notifyId");
      if (outTradeNo) filter.outTradeNo = outTradeNo;
      if (notifyId) filter.notifyId = notifyId;
      return sendJson(res, 200, simulator.notifications(filter));
    }
    if (method === "GET" && path === "/sim/notifications/state") {
      const outTradeNo = query("outTradeNo");
      return sendJson(res, 200, simulator.notificationStates(outTradeNo ? { outTradeNo } : {}));
    }
    if (method === "POST" && path === "/sim/notifications/release") {
      return sendJson(res, 200, { released: simulator.releaseHeld(optionalString(body, "outTradeNo")) });
    }
    if (method === "GET" && path === "/sim/idle") {
      const timeoutMs = Number(query("timeoutMs") ?? 10_000);
      await simulator.whenIdle(Number.isFinite(timeoutMs) ? timeoutMs : 10_000).catch((error: Error) => {
        throw new SimulatorError(408, "NOT_IDLE", error.message);
      });
      return sendJson(res, 200, { idle: true });
    }
    if (method === "POST" && path === "/sim/scenario") return sendJson(res, 200, simulator.setScenario(body as ScenarioInput));
    if (method === "POST" && path === "/sim/faults") {
      simulator.setFault(body as unknown as FaultInput);
      return sendJson(res, 200, ctx.faults.pending());
    }
    if (method === "GET" && path === "/sim/faults") return sendJson(res, 200, ctx.faults.pending());
    if (method === "POST" && path === "/sim/certificates/rotate") {
      return sendJson(res, 200, simulator.rotateCertificate({ sameKey: body.sameKey === true, untrusted: body.untrusted === true }));
    }
    if (method === "GET" && path === "/sim/certificates") {
      return sendJson(
        res,
        200,
        ctx.certificates ? { alipayCertSn: ctx.certificates.alipayCertSn, issued: [...ctx.certificates.issued.keys()] } : {},
      );
    }
    if (method === "POST" && path === "/sim/reset-scenarios") {
      simulator.resetScenarios();
      return sendJson(res, 200, { ok: true });
    }
    if (method === "POST" && path === "/sim/reset") {
      simulator.reset();
      return sendJson(res, 200, { ok: true });
    }
    if (method === "POST" && path === "/sim/notify/forge") {
      const { url: target, outTradeNo, mode, appId, overrides, ...rest } = body;
      const merged: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...rest, ...(overrides && typeof overrides === "object" ? overrides : {}) })) {
        merged[k] = String(v);
      }
      const input: ForgeInput = {
        url: requiredString({ url: target }, "url"),
        outTradeNo: requiredString({ outTradeNo }, "outTradeNo"),
        mode: mode as ForgeMode,
        overrides: merged,
      };
      const app = optionalString({ appId }, "appId");
      if (app) input.appId = app;
      return sendJson(res, 200, await simulator.forgeNotification(input));
    }
    if (method === "GET" && path === "/sim/info") {
      return sendJson(res, 200, {
        url: publicUrl,
        gatewayUrl: `${publicUrl}/gateway.do`,
        cashierUrl: `${publicUrl}/cashier`,
        alipayPublicKey: simulator.alipayPublicKey,
        apps: [...apps.values()].map(({ app }) => ({ appId: app.appId, sellerId: app.sellerId })),
        notifySchedule: schedule,
        timeScale,
      });
    }
    return sendJson(res, 404, { code: "NOT_FOUND", message: `${method} ${path} is not a simulator route` });
  };

  let publicUrl = "";
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://simulator.invalid");
    const handle = async () => {
      if (url.pathname === "/gateway.do" && (req.method === "POST" || req.method === "GET")) return gateway(req, res, url);
      if (url.pathname === "/downloadBillFile.resource" && req.method === "GET") return serveBillDownload(ctx, bills, url, res);
      if (req.method === "GET" && url.pathname === "/") {
        res.writeHead(302, { location: "/cashier" });
        return res.end();
      }
      if (req.method === "GET" && url.pathname === "/cashier") {
        const html = cashierPage();
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(html) });
        return res.end(html);
      }
      if (url.pathname.startsWith("/sim/")) return control(req, res, url);
      return sendJson(res, 404, { code: "NOT_FOUND", message: `${req.method} ${url.pathname}` });
    };
    handle().catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      if (error instanceof SimulatorError) return sendJson(res, error.status, { code: error.code, message: error.message });
      log(`internal error on ${req.method} ${url.pathname}: ${(error as Error).stack ?? String(error)}`);
      sendJson(res, 500, { code: "INTERNAL", message: (error as Error).message ?? String(error) });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const wildcard = address.address === "0.0.0.0" || address.address === "::";
  const host = wildcard ? "127.0.0.1" : address.family === "IPv6" ? `[${address.address}]` : address.address;
  publicUrl = `http://${host}:${address.port}`;
  log(`listening on ${publicUrl} (gateway ${publicUrl}/gateway.do, cashier ${publicUrl}/cashier)`);

  let closing: Promise<void> | undefined;
  const exposed: AlipaySimulator = {
    ...simulator,
    url: publicUrl,
    gatewayUrl: `${publicUrl}/gateway.do`,
    cashierUrl: `${publicUrl}/cashier`,
    port: address.port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        ctx.notifier.close();
        clearExpiryTimers(ctx);
        for (const res of hanging) res.destroy();
        hanging.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
  // The key of the moment: a spread copies a getter's value once.
  Object.defineProperty(exposed, "alipayPublicKey", { get: () => publicPemOf(ctx.alipayKey), enumerable: true });
  return exposed;
}
