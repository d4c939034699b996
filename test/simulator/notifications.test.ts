// Asynchronous notifications: shape and signature as the SDK verifies them, forgeries, the retry
// schedule (time-compressed), and the lost / duplicated / late / reordered knobs.
import { createVerify } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AlipaySdk } from "alipay-sdk";
import { startAlipaySimulator, type AlipaySimulator, type SimulatorOptions } from "../../simulator/index.js";
import {
  APP_ID,
  SELLER_ID,
  keys,
  merchantSdk,
  newOutTradeNo,
  orderString,
  postJson,
  startReceiver,
  verifyNotification,
  waitFor,
  type Receiver,
} from "./support.js";

let sim: AlipaySimulator;
let receiver: Receiver;
let sdk: AlipaySdk;
const extra: AlipaySimulator[] = [];

function options(overrides: Partial<SimulatorOptions> = {}): SimulatorOptions {
  const k = keys();
  return {
    alipayPrivateKey: k.alipay.privateKeyPkcs8,
    apps: [{ appId: APP_ID, appPublicKey: k.app.publicKey, sellerId: SELLER_ID, sellerEmail: "shop@example.com" }],
    timeScale: 10_000,
    ...overrides,
  };
}

async function another(overrides: Partial<SimulatorOptions>): Promise<AlipaySimulator> {
  const s = await startAlipaySimulator(options(overrides));
  extra.push(s);
  return s;
}

beforeAll(async () => {
  receiver = await startReceiver();
  sim = await startAlipaySimulator(options());
  sdk = merchantSdk(sim.gatewayUrl);
});

afterAll(async () => {
  await Promise.all([sim, ...extra].map((s) => s?.close()));
  await receiver?.close();
});

beforeEach(() => {
  sim.resetScenarios();
  receiver.respond = () => ({ status: 200, body: "success" });
});

const forOrder = (outTradeNo: string) => receiver.received.filter((r) => r.params.out_trade_no === outTradeNo);

describe("notification shape and signature", () => {
  it("POSTs Alipay's form with its headers, fields and a signature checkNotifySignV2 accepts", async () => {
    const outTradeNo = newOutTradeNo();
    const passback = encodeURIComponent("order=42&note=100% sure");
    // Alipay refuses / = & in a subject; the body may carry them (and %, +), encoded once.
    const subject = "测试 订单 100%+1";
    const body = "desc & more=2";
    const paid = sim.pay(
      orderString(sdk, outTradeNo, { totalAmount: "88.80", notifyUrl: receiver.url, passbackParams: passback, body, subject }),
    );
    await sim.whenIdle();
    const [note, ...more] = forOrder(outTradeNo);
    expect(more).toHaveLength(0);
    expect(note!.headers["content-type"]).toBe("application/x-www-form-urlencoded; text/html; charset=UTF-8");
    expect(note!.headers["user-agent"]).toBe("Mozilla/4.0");
    const p = note!.params;
    expect(p).toMatchObject({
      notify_type: "trade_status_sync",
      app_id: APP_ID,
      auth_app_id: APP_ID,
      charset: "utf-8",
      version: "1.0",
      sign_type: "RSA2",
      trade_no: paid.tradeNo,
      out_trade_no: outTradeNo,
      buyer_id: paid.buyerId,
      seller_id: SELLER_ID,
      seller_email: "shop@example.com",
      trade_status: "TRADE_SUCCESS",
      total_amount: "88.80",
      receipt_amount: "88.80",
      buyer_pay_amount: "88.80",
      invoice_amount: "88.80",
      point_amount: "0.00",
      subject,
      body,
      passback_params: passback, // still URL-encoded, as Alipay returns it
    });
    expect(p.notify_id).toMatch(/^\d{34}$/);
    expect(p.notify_time).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(p.gmt_payment).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(p.buyer_logon_id).toContain("****");
    expect(JSON.parse(p.fund_bill_list!)).toEqual([{ amount: "88.80", fundChannel: "ALIPAYACCOUNT" }]);
    expect(verifyNotification(sdk, p)).toBe(true);
    // The documented rule, checked by hand: minus sign and sign_type, sorted, raw k=v joined by &.
    const content = Object.keys(p)
      .filter((k) => k !== "sign" && k !== "sign_type" && p[k] !== "")
      .sort()
      .map((k) => `${k}=${p[k]}`)
      .join("&");
    expect(createVerify("RSA-SHA256").update(content, "utf8").verify(keys().alipay.publicKey, p.sign!, "base64")).toBe(true);
    // Any change breaks it; the old double-decoding checkNotifySign cannot cope with the % in the values.
    expect(verifyNotification(sdk, { ...p, total_amount: "0.01" })).toBe(false);
    expect(verifyNotification(merchantSdk(sim.gatewayUrl), { ...p, seller_id: "2088999999999999" })).toBe(false);
    expect(sim.notifications({ outTradeNo })).toMatchObject([
      { attempt: 1, copy: 0, acknowledged: true, httpStatus: 200, responseBody: "success" },
    ]);
  });

  it("forged notifications fail checkNotifySignV2 (bad signature, other key, tampered amount); a valid one passes", async () => {
    const { outTradeNo } = sim.pay(orderString(sdk, newOutTradeNo(), { totalAmount: "20.00" }));
    const results: Record<string, boolean> = {};
    for (const mode of ["bad-signature", "other-key", "tampered-amount", "valid"] as const) {
      const before = receiver.received.length;
      const res = await postJson(`${sim.url}/sim/notify/forge`, { url: receiver.url, outTradeNo, mode, seller_id: "2088777777777777" });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ forged: mode, attempt: 1 });
      const got = receiver.received[before]!;
      expect(got.params.out_trade_no).toBe(outTradeNo);
      expect(got.params.seller_id).toBe("2088777777777777");
      if (mode === "tampered-amount") expect(got.params.total_amount).not.toBe("20.00");
      results[mode] = verifyNotification(sdk, got.params);
    }
    expect(results).toEqual({ "bad-signature": false, "other-key": false, "tampered-amount": false, valid: true });
    // Empty values are left out of what Alipay signs: the merchant must drop them before verifying.
    const withEmpty = await sim.forgeNotification({ url: receiver.url, outTradeNo, mode: "valid", overrides: { body: "" } });
    expect(withEmpty.params.body).toBe("");
    expect(verifyNotification(sdk, withEmpty.params)).toBe(true);
    expect(sdk.checkNotifySignV2(withEmpty.params)).toBe(false);
    // A forgery for an order the simulator never saw still goes out.
    const unknown = await sim.forgeNotification({ url: receiver.url, outTradeNo: "NEVER_SEEN", mode: "other-key" });
    expect(unknown.params.trade_status).toBe("TRADE_SUCCESS");
    expect(verifyNotification(sdk, unknown.params)).toBe(false);
  });
});

describe("retries", () => {
  it("retries on the compressed schedule with the same notify_id until the body is exactly `success`", async () => {
    const timeScale = 2000; // 0, 4m, 10m, 10m -> 0, 120, 300, 300 ms
    const s = await another({ timeScale });
    const answers = [
      { status: 500, body: "success" },
      { status: 200, body: "fail" },
      { status: 200, body: "success\n" },
      { status: 200, body: "success" },
    ];
    receiver.respond = (_r, index) => answers[index - base] ?? { status: 200, body: "success" };
    const base = receiver.received.length;
    const outTradeNo = newOutTradeNo();
    s.pay(orderString(merchantSdk(s.gatewayUrl), outTradeNo, { notifyUrl: receiver.url }));
    await s.whenIdle(5000);
    const got = forOrder(outTradeNo);
    expect(got).toHaveLength(4);
    expect(new Set(got.map((g) => g.params.notify_id)).size).toBe(1);
    for (const g of got) expect(verifyNotification(sdk, g.params)).toBe(true);
    const attempts = s.notifications({ outTradeNo });
    expect(attempts.map((a) => [a.attempt, a.httpStatus, a.acknowledged])).toEqual([
      [1, 500, false],
      [2, 200, false],
      [3, 200, false],
      [4, 200, true],
    ]);
    const expected = [4 * 60_000, 10 * 60_000, 10 * 60_000].map((d) => d / timeScale);
    got.slice(1).forEach((g, i) => {
      const gap = g.atMs - got[i]!.atMs;
      expect(gap).toBeGreaterThanOrEqual(expected[i]! - 5);
      expect(gap).toBeLessThan(expected[i]! + 150);
    });
    expect(s.notificationStates({ outTradeNo })).toMatchObject([{ state: "acknowledged", attempts: 4 }]);
  });

  it("stops when the schedule is exhausted; connection errors count as failures", async () => {
    const s = await another({ notifySchedule: [0, 20, 20], timeScale: 1 });
    receiver.respond = () => ({ status: 503, body: "busy" });
    const failing = newOutTradeNo();
    s.pay(orderString(merchantSdk(s.gatewayUrl), failing, { notifyUrl: receiver.url }));
    const unreachable = newOutTradeNo();
    s.pay(orderString(merchantSdk(s.gatewayUrl), unreachable, { notifyUrl: "http://127.0.0.1:1/notify" }));
    await s.whenIdle(5000);
    await new Promise((r) => setTimeout(r, 60));
    expect(forOrder(failing)).toHaveLength(3);
    expect(s.notificationStates({ outTradeNo: failing })).toMatchObject([{ state: "gave-up", attempts: 3 }]);
    const errors = s.notifications({ outTradeNo: unreachable });
    expect(errors).toHaveLength(3);
    for (const a of errors) expect(a).toMatchObject({ httpStatus: null, acknowledged: false });
    expect(errors[0]!.error).toBeTruthy();
  });

  it("close() cancels pending retries", async () => {
    const s = await startAlipaySimulator(options({ notifySchedule: [0, 200], timeScale: 1 }));
    receiver.respond = () => ({ status: 500, body: "no" });
    const outTradeNo = newOutTradeNo();
    s.pay(orderString(merchantSdk(s.gatewayUrl), outTradeNo, { notifyUrl: receiver.url }));
    await waitFor(() => s.notifications({ outTradeNo }).length === 1);
    await s.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(forOrder(outTradeNo)).toHaveLength(1);
  });
});

describe("scenarios", () => {
  it("dropFirst loses the first attempts (they still use schedule slots)", async () => {
    const outTradeNo = newOutTradeNo();
    await postJson(`${sim.url}/sim/scenario`, { outTradeNo, dropFirst: 2 });
    sim.pay(orderString(sdk, outTradeNo, { notifyUrl: receiver.url }));
    await sim.whenIdle();
    expect(forOrder(outTradeNo)).toHaveLength(1);
    const attempts = (await (await fetch(`${sim.url}/sim/notifications?outTradeNo=${outTradeNo}`)).json()) as Array<{
      attempt: number;
      dropped: boolean;
      acknowledged: boolean;
    }>;
    expect(attempts.map((a) => [a.attempt, a.dropped, a.acknowledged])).toEqual([
      [1, true, false],
      [2, true, false],
      [3, false, true],
    ]);
    // Other orders are unaffected.
    const other = newOutTradeNo();
    sim.pay(orderString(sdk, other, { notifyUrl: receiver.url }));
    await sim.whenIdle();
    expect(sim.notifications({ outTradeNo: other })).toHaveLength(1);
  });

  it("duplicate sends concurrent copies with the same notify_id", async () => {
    const outTradeNo = newOutTradeNo();
    sim.setScenario({ duplicate: 2 });
    sim.pay(orderString(sdk, outTradeNo, { notifyUrl: receiver.url }));
    await sim.whenIdle();
    const got = forOrder(outTradeNo);
    expect(got).toHaveLength(3);
    expect(new Set(got.map((g) => g.params.notify_id)).size).toBe(1);
    expect(
      sim
        .notifications({ outTradeNo })
        .map((a) => a.copy)
        .sort(),
    ).toEqual([0, 1, 2]);
    for (const g of got) expect(verifyNotification(sdk, g.params)).toBe(true);
  });

  it("delayMs makes the first send late", async () => {
    const outTradeNo = newOutTradeNo();
    sim.setScenario({ outTradeNo, delayMs: 250 });
    const paidAt = Date.now();
    sim.pay(orderString(sdk, outTradeNo, { notifyUrl: receiver.url }));
    await sim.whenIdle();
    expect(forOrder(outTradeNo)[0]!.atMs - paidAt).toBeGreaterThanOrEqual(245);
  });

  it("reorder holds a trade's notification until its next one has been sent", async () => {
    const outTradeNo = newOutTradeNo();
    sim.setScenario({ outTradeNo, reorder: true });
    sim.pay(orderString(sdk, outTradeNo, { notifyUrl: receiver.url }));
    await sim.whenIdle();
    expect(forOrder(outTradeNo)).toHaveLength(0);
    expect(sim.notificationStates({ outTradeNo })).toMatchObject([{ state: "held", tradeStatus: "TRADE_SUCCESS" }]);
    sim.finish(outTradeNo);
    await waitFor(() => forOrder(outTradeNo).length === 2);
    await sim.whenIdle();
    expect(forOrder(outTradeNo).map((r) => r.params.trade_status)).toEqual(["TRADE_FINISHED", "TRADE_SUCCESS"]);
    expect(sim.notificationStates({ outTradeNo }).map((n) => n.state)).toEqual(["acknowledged", "acknowledged"]);
  });

  it("reset-scenarios restores normal delivery", async () => {
    sim.setScenario({ dropFirst: 5, duplicate: 3 });
    await postJson(`${sim.url}/sim/reset-scenarios`, {});
    const outTradeNo = newOutTradeNo();
    sim.pay(orderString(sdk, outTradeNo, { notifyUrl: receiver.url }));
    await sim.whenIdle();
    expect(sim.notifications({ outTradeNo })).toMatchObject([{ attempt: 1, copy: 0, dropped: false, acknowledged: true }]);
  });
});

describe("reset", () => {
  it("forgets trades and cancels pending notifications; /sim/info describes the simulator", async () => {
    const s = await another({ notifySchedule: [0, 60_000], timeScale: 1 });
    receiver.respond = () => ({ status: 500, body: "no" });
    const outTradeNo = newOutTradeNo();
    s.pay(orderString(merchantSdk(s.gatewayUrl), outTradeNo, { notifyUrl: receiver.url }));
    await waitFor(() => s.notificationStates({ outTradeNo })[0]?.state === "scheduled" && s.notifications({ outTradeNo }).length === 1);
    expect((await postJson(`${s.url}/sim/reset`, {})).status).toBe(200);
    expect(s.trades()).toEqual([]);
    expect(s.notificationStates()).toEqual([]);
    await s.whenIdle(100);
    const info = (await (await fetch(`${s.url}/sim/info`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({
      gatewayUrl: s.gatewayUrl,
      apps: [{ appId: APP_ID, sellerId: SELLER_ID }],
      alipayPublicKey: keys().alipay.publicKey,
    });
  });
});
