// Asynchronous notifications as Alipay sends them: a form POST with Alipay's odd content-type, signed
// over every field but `sign` / `sign_type`, retried on the schedule with a stable notify_id until
// the receiver answers `success`.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { createSign, type KeyObject } from "node:crypto";
import iconv from "iconv-lite";
import { rsa2Sign, signContent, type Params } from "./signing.js";
import { buyerField, formatFen, formatGmt8, newNotifyId } from "./values.js";
import type { Trade } from "./ledger.js";
import type { ForgeMode, NotificationAttempt, NotificationKind, NotificationState, Scenario, SimulatorApp } from "./types.js";

/** Alipay's documented schedule: first send, then 4m, 10m, 10m, 1h, 2h, 6h, 15h. */
export const alipayNotifySchedule: readonly number[] = [
  0,
  4 * 60_000,
  10 * 60_000,
  10 * 60_000,
  3_600_000,
  2 * 3_600_000,
  6 * 3_600_000,
  15 * 3_600_000,
];

export const notifyContentType = "application/x-www-form-urlencoded; text/html; charset=UTF-8";
export const notifyUserAgent = "Mozilla/4.0";

export interface TradeNotificationExtra {
  refundFen?: number;
  gmtRefund?: string;
  outBizNo?: string;
}

/** The fields of a notification about `trade` in its current state (without notify_time/notify_id/sign). */
export function tradeNotificationParams(trade: Trade, app: SimulatorApp, extra: TradeNotificationExtra = {}): Params {
  const total = formatFen(trade.totalFen);
  const paid = trade.paidAtMs !== undefined;
  const params: Params = {
    gmt_create: formatGmt8(trade.createdAtMs),
    charset: app.notifyCharset ?? "utf-8",
    ...(app.sellerEmail ? { seller_email: app.sellerEmail } : {}),
    subject: trade.subject,
    ...(trade.body ? { body: trade.body } : {}),
    ...buyerField(app, trade.buyerId, "buyer_id"),
    ...(paid
      ? {
          invoice_amount: total,
          fund_bill_list: JSON.stringify([{ amount: total, fundChannel: "ALIPAYACCOUNT" }]),
        }
      : {}),
    notify_type: "trade_status_sync",
    trade_status: trade.status,
    ...(paid ? { receipt_amount: total, buyer_pay_amount: total } : {}),
    app_id: trade.appId,
    sign_type: "RSA2",
    seller_id: trade.sellerId,
    ...(paid ? { gmt_payment: formatGmt8(trade.paidAtMs!) } : {}),
    version: "1.0",
    out_trade_no: trade.outTradeNo,
    total_amount: total,
    trade_no: trade.tradeNo,
    auth_app_id: trade.appId,
    buyer_logon_id: trade.buyerLogonId,
    ...(paid ? { point_amount: "0.00" } : {}),
    ...(trade.passbackParams ? { passback_params: trade.passbackParams } : {}),
  };
  if (extra.refundFen !== undefined) params.refund_fee = formatFen(extra.refundFen);
  else if (trade.refundedFen > 0) params.refund_fee = formatFen(trade.refundedFen);
  if (extra.gmtRefund) params.gmt_refund = extra.gmtRefund;
  if (extra.outBizNo) params.out_biz_no = extra.outBizNo;
  const endedAt = trade.status === "TRADE_CLOSED" ? trade.closedAtMs : trade.status === "TRADE_FINISHED" ? trade.finishedAtMs : undefined;
  if (endedAt !== undefined) params.gmt_close = formatGmt8(endedAt);
  return params;
}

export interface NotifierOptions {
  schedule: readonly number[];
  timeScale: number;
  timeoutMs: number;
  ackMatch: "exact" | "trim";
  privateKey: KeyObject;
  log: (line: string) => void;
}

export interface NotificationRequest {
  appId: string;
  outTradeNo: string;
  url: string;
  kind: NotificationKind;
  /** Fields without notify_time / notify_id / sign (added per attempt). */
  params: Params;
  scenario: Scenario;
}

interface Pending extends NotificationRequest {
  notifyId: string;
  tradeKey: string;
  state: NotificationState["state"];
  slots: number;
  createdAtMs: number;
  nextAttemptAtMs?: number;
  /** Runs once this notification's first attempt is over (releases a held, reordered one). */
  afterFirstAttempt?: () => void;
}

interface SendResult {
  httpStatus: number | null;
  body: string | null;
  error?: string;
  durationMs: number;
}

const maxBodyRecorded = 4096;

export class Notifier {
  readonly attempts: NotificationAttempt[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly held = new Map<string, Pending>();
  private readonly reorderUsed = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<ClientRequest>();
  private busy = 0;
  /** Bumped by clearAll(): attempts in flight across a reset are discarded. */
  private generation = 0;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly options: NotifierOptions) {}

  /** Alipay rotated its key: every later attempt (retries of earlier notifications too) is signed with it. */
  setPrivateKey(privateKey: KeyObject): void {
    this.options.privateKey = privateKey;
  }

  /** Queues a notification; returns its notify_id. */
  enqueue(request: NotificationRequest): string {
    const now = Date.now();
    const tradeKey = `${request.appId}\u0000${request.outTradeNo}`;
    const pending: Pending = {
      ...request,
      notifyId: newNotifyId(now),
      tradeKey,
      state: "scheduled",
      slots: 0,
      createdAtMs: now,
    };
    this.pending.set(pending.notifyId, pending);
    const heldOne = this.held.get(tradeKey);
    if (heldOne) {
      this.held.delete(tradeKey);
      pending.afterFirstAttempt = () => this.start(heldOne, 0);
      this.options.log(
        `notify ${pending.notifyId} ${request.outTradeNo} ${request.params.trade_status}: sent before held ${heldOne.notifyId}`,
      );
    } else if (request.scenario.reorder && !this.reorderUsed.has(tradeKey)) {
      this.reorderUsed.add(tradeKey);
      this.held.set(tradeKey, pending);
      pending.state = "held";
      this.options.log(`notify ${pending.notifyId} ${request.outTradeNo} ${request.params.trade_status}: held (reorder)`);
      return pending.notifyId;
    }
    this.start(pending, request.scenario.delayMs);
    return pending.notifyId;
  }

  /** Sends held (reordered) notifications now; all of them, or one trade's. */
  releaseHeld(outTradeNo?: string): number {
    let released = 0;
    for (const [key, pending] of [...this.held]) {
      if (outTradeNo !== undefined && pending.outTradeNo !== outTradeNo) continue;
      this.held.delete(key);
      this.start(pending, 0);
      released += 1;
    }
    return released;
  }

  states(filter: { outTradeNo?: string } = {}): NotificationState[] {
    return [...this.pending.values()]
      .filter((p) => filter.outTradeNo === undefined || p.outTradeNo === filter.outTradeNo)
      .map((p) => ({
        notifyId: p.notifyId,
        appId: p.appId,
        outTradeNo: p.outTradeNo,
        tradeStatus: p.params.trade_status ?? "",
        kind: p.kind,
        url: p.url,
        state: p.state,
        attempts: p.slots,
        createdAtMs: p.createdAtMs,
        ...(p.nextAttemptAtMs !== undefined && p.state === "scheduled" ? { nextAttemptAtMs: p.nextAttemptAtMs } : {}),
      }));
  }

  /** Resolves once nothing is scheduled or in flight (held notifications do not count). */
  whenIdle(timeoutMs = 10_000): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        reject(new Error(`notifications still pending after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.push(done);
    });
  }

  /** Sends one forged notification (no retries) and records it. */
  async forge(
    url: string,
    base: Params,
    mode: ForgeMode,
    meta: { appId: string; outTradeNo: string },
    otherKey: () => KeyObject,
  ): Promise<NotificationAttempt> {
    const params: Params = { notify_time: formatGmt8(Date.now()), notify_id: newNotifyId(), ...base };
    const content = signContent(params, { excludeSignType: true });
    let sent: Params;
    switch (mode) {
      case "valid":
        sent = { ...params, sign: signNotification(params, this.options.privateKey) };
        break;
      case "other-key":
        sent = { ...params, sign: signNotification(params, otherKey()) };
        break;
      case "valid-rsa1":
        // The legacy RSA (SHA1withRSA) signature type: the content to sign excludes sign_type either way.
        sent = {
          ...params,
          sign_type: "RSA",
          sign: createSign("RSA-SHA1").update(content, "utf8").sign(this.options.privateKey, "base64"),
        };
        break;
      case "bad-signature": {
        const good = rsa2Sign(content, this.options.privateKey);
        const bytes = Buffer.from(good, "base64");
        bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
        sent = { ...params, sign: bytes.toString("base64") };
        break;
      }
      case "tampered-amount": {
        const sign = rsa2Sign(content, this.options.privateKey);
        const original = params.total_amount ?? "0.01";
        const tampered = /^\d+\.\d{2}$/.test(original) ? tamperAmount(original) : "0.01";
        sent = { ...params, sign };
        for (const field of ["total_amount", "receipt_amount", "buyer_pay_amount", "invoice_amount"]) {
          if (field in sent || field === "total_amount") sent[field] = tampered;
        }
        break;
      }
    }
    this.busy += 1;
    try {
      const result = await this.send(url, sent);
      const record = this.record(
        {
          notifyId: sent.notify_id!,
          appId: meta.appId,
          outTradeNo: meta.outTradeNo,
          tradeStatus: sent.trade_status ?? "",
          kind: "forged",
          url,
          attempt: 1,
          copy: 0,
          params: sent,
          forged: mode,
        },
        result,
      );
      return record;
    } finally {
      this.busy -= 1;
      this.checkIdle();
    }
  }

  /** Stops every timer and send in flight; scheduled and held notifications become cancelled. */
  private cancelAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const req of this.inflight) req.destroy();
    this.inflight.clear();
    for (const p of this.pending.values()) if (p.state === "scheduled" || p.state === "held") p.state = "cancelled";
    this.held.clear();
  }

  clearAll(): void {
    this.generation += 1;
    this.cancelAll();
    this.reorderUsed.clear();
    this.pending.clear();
    this.attempts.length = 0;
    this.checkIdle();
  }

  close(): void {
    this.closed = true;
    this.cancelAll();
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private isIdle(): boolean {
    return this.timers.size === 0 && this.busy === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private start(pending: Pending, extraDelayMs: number): void {
    pending.state = "scheduled";
    this.later(pending, (this.options.schedule[0] ?? 0) / this.options.timeScale + extraDelayMs);
  }

  private later(pending: Pending, delayMs: number): void {
    if (this.closed) return;
    const delay = Math.max(0, Math.round(delayMs));
    pending.nextAttemptAtMs = Date.now() + delay;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.attempt(pending);
    }, delay);
    this.timers.add(timer);
  }

  private async attempt(pending: Pending): Promise<void> {
    if (this.closed || pending.state !== "scheduled") return;
    this.busy += 1;
    pending.state = "sending";
    pending.slots += 1;
    const attempt = pending.slots;
    const params: Params = { notify_time: formatGmt8(Date.now()), notify_id: pending.notifyId, ...pending.params };
    // notify_time first, the rest in the order they were built; `sign` last, as Alipay's form does.
    const ordered: Params = {};
    for (const [k, v] of Object.entries(params)) if (v !== undefined) ordered[k] = v;
    ordered.sign = signNotification(ordered, this.options.privateKey);
    const meta = {
      notifyId: pending.notifyId,
      appId: pending.appId,
      outTradeNo: pending.outTradeNo,
      tradeStatus: pending.params.trade_status ?? "",
      kind: pending.kind,
      url: pending.url,
      attempt,
      params: ordered,
    };
    const generation = this.generation;
    let acknowledged = false;
    try {
      if (attempt <= pending.scenario.dropFirst) {
        this.record({ ...meta, copy: 0, dropped: true }, { httpStatus: null, body: null, durationMs: 0, error: "dropped by scenario" });
      } else {
        const copies = 1 + pending.scenario.duplicate;
        const results = await Promise.all(Array.from({ length: copies }, () => this.send(pending.url, ordered)));
        if (generation !== this.generation) return; // reset() while in flight: forget it
        acknowledged = results.map((result, copy) => this.record({ ...meta, copy }, result)).some((r) => r.acknowledged);
      }
    } finally {
      this.busy -= 1;
      if (generation !== this.generation) this.checkIdle();
    }
    if (this.closed) return;
    const after = pending.afterFirstAttempt;
    pending.afterFirstAttempt = undefined;
    if (acknowledged) {
      pending.state = "acknowledged";
    } else if (pending.slots < this.options.schedule.length) {
      pending.state = "scheduled";
      this.later(pending, (this.options.schedule[pending.slots] ?? 0) / this.options.timeScale);
    } else {
      pending.state = "gave-up";
      this.options.log(`notify ${pending.notifyId} ${pending.outTradeNo}: gave up after ${pending.slots} attempts`);
    }
    after?.();
    this.checkIdle();
  }

  private record(
    meta: Omit<
      NotificationAttempt,
      "sentAtMs" | "sentAt" | "durationMs" | "httpStatus" | "responseBody" | "acknowledged" | "dropped" | "error"
    > & { dropped?: boolean },
    result: SendResult,
  ): NotificationAttempt {
    const sentAtMs = Date.now() - result.durationMs;
    const body = result.body;
    const acknowledged =
      !meta.dropped &&
      result.httpStatus === 200 &&
      body !== null &&
      (this.options.ackMatch === "trim" ? body.trim() === "success" : body === "success");
    const record: NotificationAttempt = {
      ...meta,
      dropped: meta.dropped === true,
      sentAtMs,
      sentAt: formatGmt8(sentAtMs),
      durationMs: result.durationMs,
      httpStatus: result.httpStatus,
      responseBody: body === null ? null : body.slice(0, maxBodyRecorded),
      acknowledged,
      ...(result.error ? { error: result.error } : {}),
    };
    this.attempts.push(record);
    this.options.log(
      `notify ${record.notifyId} ${record.outTradeNo} ${record.tradeStatus} attempt ${record.attempt}` +
        `${record.copy ? ` copy ${record.copy}` : ""}${record.forged ? ` forged:${record.forged}` : ""}: ` +
        (record.dropped ? "dropped" : `${record.httpStatus ?? record.error} ${record.acknowledged ? "acknowledged" : "not acknowledged"}`),
    );
    return record;
  }

  private send(url: string, params: Params): Promise<SendResult> {
    const started = Date.now();
    const body = isGbk(params.charset) ? gbkFormBody(params) : new URLSearchParams(params).toString();
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const finish = (result: Omit<SendResult, "durationMs">) => {
        if (settled) return;
        settled = true;
        this.inflight.delete(req);
        resolve({ ...result, durationMs: Date.now() - started });
      };
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        resolve({ httpStatus: null, body: null, error: `invalid notify url ${url}`, durationMs: 0 });
        return;
      }
      const requester = target.protocol === "https:" ? httpsRequest : httpRequest;
      const req = requester(target, {
        method: "POST",
        agent: false,
        headers: {
          "content-type": notifyContentType,
          "user-agent": notifyUserAgent,
          "content-length": Buffer.byteLength(body),
          connection: "close",
        },
        timeout: this.options.timeoutMs,
      });
      this.inflight.add(req);
      req.on("timeout", () => {
        req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`));
      });
      req.on("error", (error) => finish({ httpStatus: null, body: null, error: error.message }));
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size <= 65_536) chunks.push(chunk);
        });
        res.on("end", () => finish({ httpStatus: res.statusCode ?? null, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (error) => finish({ httpStatus: res.statusCode ?? null, body: null, error: error.message }));
      });
      req.end(body);
    });
  }
}

const isGbk = (charset: string | undefined) => /^(gbk|gb2312)$/i.test(charset ?? "");

/** Alipay signs the bytes of the string to sign in the notification's own charset. */
function signNotification(params: Params, privateKey: KeyObject): string {
  const content = signContent(params, { excludeSignType: true });
  if (!isGbk(params.charset)) return rsa2Sign(content, privateKey);
  return createSign("RSA-SHA256").update(iconv.encode(content, "gbk")).sign(privateKey, "base64");
}

/** A form body percent-encoded in GBK, as Java's URLEncoder.encode(value, "GBK") writes it. */
export function gbkFormBody(params: Params): string {
  const encode = (text: string) =>
    [...iconv.encode(text, "gbk")]
      .map((byte) => {
        const char = String.fromCharCode(byte);
        if (/[A-Za-z0-9*._-]/.test(char)) return char;
        return byte === 0x20 ? "+" : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
      })
      .join("");
  return Object.entries(params)
    .map(([key, value]) => `${encode(key)}=${encode(value)}`)
    .join("&");
}

function tamperAmount(yuan: string): string {
  const [int, dec] = yuan.split(".") as [string, string];
  const fen = Number(int) * 100 + Number(dec);
  return formatFen(fen > 1 ? fen - 1 : fen + 100);
}
