// The gateway and the cashier, driven through the real alipay-sdk: order strings, signatures both
// ways, trade query / close / refund / refund query, and injected faults.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AlipayRequestError, type AlipaySdk } from "alipay-sdk";
import type { AlipaySimulator } from "../../simulator/index.js";
import { formatFen, parseGmt8, parseYuan } from "../../simulator/values.js";
import {
  APP_ID,
  SELLER_ID,
  gmt8,
  keys,
  merchantSdk,
  newOutTradeNo,
  orderString,
  postJson,
  startReceiver,
  startTestSimulator,
  verifyNotification,
  waitFor,
  type Receiver,
} from "./support.js";

let sim: AlipaySimulator;
let receiver: Receiver;
let sdk: AlipaySdk;

beforeAll(async () => {
  receiver = await startReceiver();
  sim = await startTestSimulator();
  sdk = merchantSdk(sim.gatewayUrl);
});

afterAll(async () => {
  await sim?.close();
  await receiver?.close();
});

beforeEach(() => {
  sim.resetScenarios();
  receiver.respond = () => ({ status: 200, body: "success" });
});

const query = (outTradeNo: string) => sdk.exec("alipay.trade.query", { bizContent: { out_trade_no: outTradeNo } }, { validateSign: true });
const refund = (outTradeNo: string, amount: string, outRequestNo?: string) =>
  sdk.exec(
    "alipay.trade.refund",
    { bizContent: { out_trade_no: outTradeNo, refund_amount: amount, ...(outRequestNo ? { out_request_no: outRequestNo } : {}) } },
    { validateSign: true },
  );

async function paidTrade(totalAmount = "10.00") {
  const outTradeNo = newOutTradeNo();
  const result = sim.pay(orderString(sdk, outTradeNo, { totalAmount, notifyUrl: receiver.url }));
  await sim.whenIdle();
  return result;
}

describe("money and time helpers", () => {
  it("parses yuan strictly into integer fen and formats with two decimals", () => {
    expect(parseYuan("12.34")).toBe(1234);
    expect(parseYuan("0.1")).toBe(10);
    expect(parseYuan("7")).toBe(700);
    expect(parseYuan(0.1)).toBe(10);
    for (const bad of ["1.234", "-1.00", "01.00", "1e3", "", " ", "abc", "1.", ".5"]) expect(parseYuan(bad)).toBeUndefined();
    expect(formatFen(1)).toBe("0.01");
    expect(formatFen(1000)).toBe("10.00");
    expect(formatFen(10_000_000_000)).toBe("100000000.00");
  });

  it("reads Alipay times as GMT+8", () => {
    expect(parseGmt8("2026-01-01 08:00:00")).toBe(Date.UTC(2026, 0, 1, 0, 0, 0));
    expect(parseGmt8("2026-02-30 08:00:00")).toBeUndefined();
    expect(parseGmt8("2026-01-01T08:00:00")).toBeUndefined();
  });
});

describe("App Pay order strings", () => {
  it("pays an order string from sdkExecute and creates an Alipay-shaped trade", async () => {
    const outTradeNo = newOutTradeNo();
    const res = await postJson(`${sim.url}/sim/pay`, {
      orderString: orderString(sdk, outTradeNo, { totalAmount: "12.34", notifyUrl: receiver.url }),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outTradeNo, totalAmount: "12.34", status: "TRADE_SUCCESS", appId: APP_ID });
    expect(res.body.tradeNo).toMatch(/^\d{8}22001\d{15}$/);
    expect(res.body.buyerId).toMatch(/^2088\d{12}$/);
    const trade = sim.trade(outTradeNo)!;
    expect(trade).toMatchObject({ totalFen: 1234, totalAmount: "12.34", sellerId: SELLER_ID, notifyUrl: receiver.url });
    await sim.whenIdle();
  });

  it("refuses a tampered order string, one signed by another key, and one for an unknown app", async () => {
    const outTradeNo = newOutTradeNo();
    const good = orderString(sdk, outTradeNo, { totalAmount: "10.00" });
    const tampered = good.replace(encodeURIComponent('"total_amount":"10.00"'), encodeURIComponent('"total_amount":"0.01"'));
    expect(tampered).not.toBe(good);
    const refused = await postJson(`${sim.url}/sim/pay`, { orderString: tampered });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe("isv.invalid-signature");

    const stranger = merchantSdk(sim.gatewayUrl, { privateKey: keys().stranger.privateKeyPkcs8 });
    expect((await postJson(`${sim.url}/sim/pay`, { orderString: orderString(stranger, outTradeNo) })).body.code).toBe(
      "isv.invalid-signature",
    );
    const unknownApp = merchantSdk(sim.gatewayUrl, { appId: "2021009999999999" });
    expect((await postJson(`${sim.url}/sim/pay`, { orderString: orderString(unknownApp, outTradeNo) })).body.code).toBe(
      "isv.invalid-app-id",
    );
    expect(sim.trade(outTradeNo)).toBeUndefined();
    // The genuine one still pays.
    expect(sim.pay(good).status).toBe("TRADE_SUCCESS");
  });

  it("refuses an expired time_expire, bad amounts, and paying twice", async () => {
    const expired = newOutTradeNo();
    const res = await postJson(`${sim.url}/sim/pay`, { orderString: orderString(sdk, expired, { timeExpire: gmt8(Date.now() - 60_000) }) });
    expect(res.status).toBe(410);
    expect(res.body.code).toBe("TRADE_EXPIRED");
    expect(sim.trade(expired)).toBeUndefined();

    for (const totalAmount of ["0.00", "100000000.01", "1.234", "-5"]) {
      const bad = await postJson(`${sim.url}/sim/pay`, { orderString: orderString(sdk, newOutTradeNo(), { totalAmount }) });
      expect(bad.status, totalAmount).toBe(400);
      expect(bad.body.code).toBe("ACQ.INVALID_PARAMETER");
    }
    expect(sim.pay(orderString(sdk, newOutTradeNo(), { totalAmount: "100000000.00" })).totalAmount).toBe("100000000.00");

    const outTradeNo = newOutTradeNo();
    const string = orderString(sdk, outTradeNo);
    sim.pay(string);
    const again = await postJson(`${sim.url}/sim/pay`, { orderString: string });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("ACQ.TRADE_HAS_SUCCESS");
  });

  it("records a buyer's cancel without creating a trade", async () => {
    const outTradeNo = newOutTradeNo();
    const res = await postJson(`${sim.url}/sim/cancel`, { orderString: orderString(sdk, outTradeNo) });
    expect(res.status).toBe(200);
    expect(sim.events().some((e) => e.kind === "cancel" && e.outTradeNo === outTradeNo)).toBe(true);
    expect((await query(outTradeNo)).sub_code).toBe("ACQ.TRADE_NOT_EXIST");
  });
});

describe("gateway signatures", () => {
  it("answers query with signed responses the SDK verifies, TRADE_NOT_EXIST before payment", async () => {
    const outTradeNo = newOutTradeNo();
    const before = await query(outTradeNo);
    expect(before).toMatchObject({ code: "40004", msg: "Business Failed", sub_code: "ACQ.TRADE_NOT_EXIST", out_trade_no: outTradeNo });

    const { tradeNo, buyerId } = sim.pay(orderString(sdk, outTradeNo, { totalAmount: "8.88" }));
    const after = await query(outTradeNo);
    expect(after).toMatchObject({
      code: "10000",
      msg: "Success",
      trade_status: "TRADE_SUCCESS",
      trade_no: tradeNo,
      out_trade_no: outTradeNo,
      total_amount: "8.88",
      buyer_pay_amount: "8.88",
      receipt_amount: "8.88",
      buyer_user_id: buyerId,
    });
    expect(after.buyer_logon_id).toMatch(/\*{4}/);
    expect(after.send_pay_date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    // by trade_no as well
    const byTradeNo = await sdk.exec("alipay.trade.query", { bizContent: { trade_no: tradeNo } }, { validateSign: true });
    expect(byTradeNo.out_trade_no).toBe(outTradeNo);
  });

  it("signs the exact response bytes (with Alipay's escaped slashes)", async () => {
    const response = await fetch(`${sim.gatewayUrl}?${new URLSearchParams({ app_id: APP_ID, method: "alipay.trade.query" })}`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^\{"alipay_trade_query_response":\{.*\},"sign":"[A-Za-z0-9+/=]+"\}$/);
    expect(text).toContain("isv.missing-signature");
    // A tampered answer fails the SDK's check: prove the check is real.
    const genuine = sdk.checkResponseSign.bind(sdk);
    const sign = JSON.parse(text).sign as string;
    expect(() => genuine(text, "alipay_trade_query_response", sign, "")).not.toThrow();
    expect(() => genuine(text.replace("40001", "10000"), "alipay_trade_query_response", sign, "")).toThrow();
  });

  it("answers a request signed with the wrong key with a signed 40002 isv.invalid-signature", async () => {
    const forger = merchantSdk(sim.gatewayUrl, { privateKey: keys().stranger.privateKeyPkcs8 });
    const result = await forger.exec("alipay.trade.query", { bizContent: { out_trade_no: "X1" } }, { validateSign: true });
    expect(result).toMatchObject({ code: "40002", msg: "Invalid Arguments", sub_code: "isv.invalid-signature" });
    expect(result.sub_msg).toContain("验签出错");
    expect(result.sub_msg).toContain("&amp;method=alipay.trade.query&amp;");
  });

  it("leaves empty parameters out of the string it verifies (the SDK signs them: 40002)", async () => {
    const result = await sdk.exec("alipay.trade.query", { app_auth_token: "", bizContent: { out_trade_no: "X1" } }, { validateSign: true });
    expect(result).toMatchObject({ code: "40002", sub_code: "isv.invalid-signature" });
  });

  it("answers unknown apps unsigned (validateSign then throws) and unknown methods under error_response", async () => {
    const unknown = merchantSdk(sim.gatewayUrl, { appId: "2021009999999999" });
    const plain = await unknown.exec("alipay.trade.query", { bizContent: { out_trade_no: "X1" } });
    expect(plain).toMatchObject({ code: "40002", sub_code: "isv.invalid-app-id" });
    await expect(unknown.exec("alipay.trade.query", { bizContent: { out_trade_no: "X1" } }, { validateSign: true })).rejects.toThrow();

    const result = await sdk.exec("alipay.trade.nonexistent", { bizContent: {} });
    expect(result).toMatchObject({ code: "40002", sub_code: "isv.invalid-method" });
  });
});

describe("close", () => {
  it("TRADE_NOT_EXIST for an unpaid order (recorded), closes a WAIT_BUYER_PAY trade, refuses a paid one", async () => {
    const close = (outTradeNo: string) =>
      sdk.exec("alipay.trade.close", { bizContent: { out_trade_no: outTradeNo } }, { validateSign: true });

    const never = newOutTradeNo();
    expect((await close(never)).sub_code).toBe("ACQ.TRADE_NOT_EXIST");
    expect(sim.events()).toContainEqual(expect.objectContaining({ kind: "close-request", outTradeNo: never, tradeExisted: false }));

    const opened = newOutTradeNo();
    const string = orderString(sdk, opened);
    expect((await postJson(`${sim.url}/sim/open`, { orderString: string })).body.status).toBe("WAIT_BUYER_PAY");
    expect((await query(opened)).trade_status).toBe("WAIT_BUYER_PAY");
    expect(await close(opened)).toMatchObject({ code: "10000", out_trade_no: opened });
    expect((await query(opened)).trade_status).toBe("TRADE_CLOSED");
    const payClosed = await postJson(`${sim.url}/sim/pay`, { orderString: string });
    expect(payClosed.status).toBe(409);
    expect(payClosed.body.code).toBe("ACQ.TRADE_HAS_CLOSE");

    const { outTradeNo: paid } = await paidTrade();
    expect(await close(paid)).toMatchObject({ code: "40004", sub_code: "ACQ.TRADE_STATUS_ERROR" });
  });

  it("a close before any trade does not block payment by default; closeBlocksPayment makes it", async () => {
    const close = (outTradeNo: string) => sdk.exec("alipay.trade.close", { bizContent: { out_trade_no: outTradeNo } });
    const lenient = newOutTradeNo();
    await close(lenient);
    expect(sim.pay(orderString(sdk, lenient)).status).toBe("TRADE_SUCCESS");

    const strict = newOutTradeNo();
    sim.setScenario({ outTradeNo: strict, closeBlocksPayment: true });
    await close(strict);
    const res = await postJson(`${sim.url}/sim/pay`, { orderString: orderString(sdk, strict) });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ACQ.TRADE_HAS_CLOSE");
  });

  it("an opened trade closes by itself at time_expire and notifies TRADE_CLOSED", async () => {
    const outTradeNo = newOutTradeNo();
    sim.open(orderString(sdk, outTradeNo, { notifyUrl: receiver.url, timeExpire: gmt8(Date.now() + 1000) }));
    const seen = receiver.received.length;
    // time_expire has whole seconds: the close comes 1-2 s from now, later on a loaded machine.
    await waitFor(() => sim.trade(outTradeNo)!.status === "TRADE_CLOSED", 8000);
    await sim.whenIdle();
    expect(sim.trade(outTradeNo)).toMatchObject({ status: "TRADE_CLOSED", closedReason: "timeout" });
    const closed = receiver.received.slice(seen).find((r) => r.params.out_trade_no === outTradeNo)!;
    expect(closed.params.trade_status).toBe("TRADE_CLOSED");
    expect(closed.params.gmt_payment).toBeUndefined();
    expect(verifyNotification(sdk, closed.params)).toBe(true);
  });
});

describe("refunds", () => {
  it("partial refunds, idempotency by out_request_no, over-refund, full refund closes the trade", async () => {
    const { outTradeNo, tradeNo } = await paidTrade("10.00");
    const seen = receiver.received.length;

    expect(await refund(outTradeNo, "3.00", "R1")).toMatchObject({
      code: "10000",
      fund_change: "Y",
      refund_fee: "3.00",
      trade_no: tradeNo,
    });
    expect(await refund(outTradeNo, "3.00", "R1")).toMatchObject({ code: "10000", fund_change: "N", refund_fee: "3.00" });
    expect(await refund(outTradeNo, "4.00", "R1")).toMatchObject({ code: "40004", sub_code: "ACQ.DISCORDANT_REPEAT_REQUEST" });
    expect(await refund(outTradeNo, "7.01", "R2")).toMatchObject({ code: "40004", sub_code: "ACQ.REASON_TRADE_REFUND_FEE_ERR" });
    expect(await refund(outTradeNo, "1.00")).toMatchObject({ code: "40004", sub_code: "ACQ.INVALID_PARAMETER" });
    expect((await query(outTradeNo)).trade_status).toBe("TRADE_SUCCESS");
    expect(await refund(outTradeNo, "7.00", "R2")).toMatchObject({ code: "10000", fund_change: "Y", refund_fee: "10.00" });
    expect((await query(outTradeNo)).trade_status).toBe("TRADE_CLOSED");
    expect(await refund(outTradeNo, "7.00", "R2")).toMatchObject({ code: "10000", fund_change: "N", refund_fee: "10.00" });
    expect(await refund(outTradeNo, "0.01", "R3")).toMatchObject({ code: "40004", sub_code: "ACQ.TRADE_HAS_CLOSE" });
    expect(sim.trade(outTradeNo)).toMatchObject({ refundedFen: 1000, status: "TRADE_CLOSED", closedReason: "full-refund" });

    const refundQuery = (outRequestNo: string) =>
      sdk.exec(
        "alipay.trade.fastpay.refund.query",
        { bizContent: { out_trade_no: outTradeNo, out_request_no: outRequestNo } },
        { validateSign: true },
      );
    expect(await refundQuery("R1")).toMatchObject({
      code: "10000",
      refund_status: "REFUND_SUCCESS",
      refund_amount: "3.00",
      total_amount: "10.00",
      out_request_no: "R1",
    });
    const missing = await refundQuery("R9");
    expect(missing.code).toBe("10000");
    expect(missing.refund_status).toBeUndefined();

    await sim.whenIdle();
    const notes = receiver.received.slice(seen).filter((r) => r.params.out_trade_no === outTradeNo);
    expect(notes.map((n) => [n.params.trade_status, n.params.refund_fee, n.params.out_biz_no])).toEqual([
      ["TRADE_SUCCESS", "3.00", "R1"],
      ["TRADE_CLOSED", "10.00", "R2"],
    ]);
    expect(notes[0]!.params.gmt_refund).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/);
    expect(notes[1]!.params.gmt_close).toBeDefined();
    for (const n of notes) expect(verifyNotification(sdk, n.params)).toBe(true);
  });

  it("a full refund without out_request_no is allowed once; a finished trade refuses refunds", async () => {
    const { outTradeNo } = await paidTrade("5.00");
    expect(await refund(outTradeNo, "5.00")).toMatchObject({ code: "10000", fund_change: "Y", refund_fee: "5.00" });
    expect(await refund(outTradeNo, "5.00")).toMatchObject({ code: "10000", fund_change: "N" });

    const finished = await paidTrade("5.00");
    const res = await postJson(`${sim.url}/sim/trades/${finished.outTradeNo}/finish`, {});
    expect(res.body.status).toBe("TRADE_FINISHED");
    expect(await refund(finished.outTradeNo, "1.00", "F1")).toMatchObject({ code: "40004", sub_code: "ACQ.TRADE_HAS_FINISHED" });
    expect((await query(finished.outTradeNo)).trade_status).toBe("TRADE_FINISHED");
    await sim.whenIdle();
    expect(receiver.received.some((r) => r.params.out_trade_no === finished.outTradeNo && r.params.trade_status === "TRADE_FINISHED")).toBe(
      true,
    );
  });

  it("answers the refund query in the legacy shape when asked: the refund's fields without refund_status, {code, msg} alone for an unknown number", async () => {
    const { outTradeNo, tradeNo } = await paidTrade("6.00");
    const shape = await postJson(`${sim.url}/sim/scenario`, { outTradeNo, refundQueryShape: "legacy" });
    expect(shape.body).toMatchObject({ refundQueryShape: "legacy" });
    expect((await postJson(`${sim.url}/sim/scenario`, { outTradeNo, refundQueryShape: "1999" })).status).toBe(400);
    expect(await refund(outTradeNo, "2.50", "L1")).toMatchObject({ code: "10000", fund_change: "Y" });
    const refundQuery = (outRequestNo: string) =>
      sdk.exec(
        "alipay.trade.fastpay.refund.query",
        { bizContent: { out_trade_no: outTradeNo, out_request_no: outRequestNo } },
        { validateSign: true },
      );
    // Exactly the keys of Alipay's genuine old answers (test/fixtures/alipay-responses/refund-answers.json).
    const settled = await refundQuery("L1");
    expect(settled).toEqual({
      code: "10000",
      msg: "Success",
      out_request_no: "L1",
      out_trade_no: outTradeNo,
      refund_amount: "2.50",
      total_amount: "6.00",
      trade_no: tradeNo,
    });
    const unknown = await refundQuery("L9");
    expect(unknown).toEqual({ code: "10000", msg: "Success" });
    // The shape is a knob of this order only: others answer in today's shape.
    const other = await paidTrade("1.00");
    expect(await refund(other.outTradeNo, "1.00", "C1")).toMatchObject({ code: "10000" });
    const current = await sdk.exec(
      "alipay.trade.fastpay.refund.query",
      { bizContent: { out_trade_no: other.outTradeNo, out_request_no: "C1" } },
      { validateSign: true },
    );
    expect(current).toMatchObject({ refund_status: "REFUND_SUCCESS", refund_amount: "1.00" });
  });

  it("a refund that settles later: fund_change N and no refund_status until it settles, then REFUND_SUCCESS and a notification", async () => {
    const { outTradeNo } = await paidTrade("8.00");
    await postJson(`${sim.url}/sim/scenario`, { outTradeNo, refundSettleMs: 300 });
    const seen = receiver.received.length;
    expect(await refund(outTradeNo, "8.00", "S1")).toMatchObject({ code: "10000", fund_change: "N", refund_fee: "0.00" });
    const refundQuery = () =>
      sdk.exec(
        "alipay.trade.fastpay.refund.query",
        { bizContent: { out_trade_no: outTradeNo, out_request_no: "S1" } },
        { validateSign: true },
      );
    expect((await refundQuery()).refund_status).toBeUndefined();
    // Held while processing: the same number is a repeat, another number cannot refund it twice.
    expect(await refund(outTradeNo, "8.00", "S1")).toMatchObject({ code: "10000", fund_change: "N" });
    expect(await refund(outTradeNo, "0.01", "S2")).toMatchObject({ code: "40004", sub_code: "ACQ.REASON_TRADE_REFUND_FEE_ERR" });
    expect((await query(outTradeNo)).trade_status).toBe("TRADE_SUCCESS");
    await waitFor(() => sim.trade(outTradeNo)!.refundedFen === 800);
    expect(await refundQuery()).toMatchObject({ refund_status: "REFUND_SUCCESS", refund_amount: "8.00" });
    expect(sim.trade(outTradeNo)).toMatchObject({ refundedFen: 800, status: "TRADE_CLOSED", closedReason: "full-refund" });
    await sim.whenIdle();
    const notes = receiver.received.slice(seen).filter((r) => r.params.out_trade_no === outTradeNo);
    expect(notes.map((n) => [n.params.trade_status, n.params.refund_fee, n.params.out_biz_no])).toEqual([["TRADE_CLOSED", "8.00", "S1"]]);
  });

  it("refuses refunds of a trade paid longer ago than the merchant's refund window: the trade is finished", async () => {
    const shortWindow = await startTestSimulator({ refundableForMs: 200 });
    try {
      const oldSdk = merchantSdk(shortWindow.gatewayUrl);
      const outTradeNo = newOutTradeNo();
      shortWindow.pay(orderString(oldSdk, outTradeNo, { totalAmount: "2.00", notifyUrl: receiver.url }));
      const refundOld = (amount: string, no: string) =>
        oldSdk.exec("alipay.trade.refund", { bizContent: { out_trade_no: outTradeNo, refund_amount: amount, out_request_no: no } });
      expect(await refundOld("1.00", "W1")).toMatchObject({ code: "10000", fund_change: "Y" });
      await new Promise((r) => setTimeout(r, 250));
      expect(await refundOld("1.00", "W2")).toMatchObject({ code: "40004", sub_code: "ACQ.TRADE_HAS_FINISHED" });
      // A repeat of a number already refunded is still answered as a repeat.
      expect(await refundOld("1.00", "W1")).toMatchObject({ code: "10000", fund_change: "N" });
      expect(shortWindow.trade(outTradeNo)).toMatchObject({ status: "TRADE_FINISHED", refundedFen: 100 });
    } finally {
      await shortWindow.close();
    }
  });

  it("does no floating-point arithmetic on amounts", async () => {
    const { outTradeNo } = await paidTrade("0.30");
    expect(await refund(outTradeNo, "0.10", "A")).toMatchObject({ refund_fee: "0.10" });
    expect(await refund(outTradeNo, "0.20", "B")).toMatchObject({ code: "10000", refund_fee: "0.30" });
    expect(sim.trade(outTradeNo)!.status).toBe("TRADE_CLOSED");
  });
});

describe("faults", () => {
  it("5xx makes exec throw, then the gateway recovers", async () => {
    const outTradeNo = newOutTradeNo();
    await postJson(`${sim.url}/sim/faults`, { method: "alipay.trade.query", mode: "5xx", count: 1 });
    const error = await query(outTradeNo).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlipayRequestError);
    expect((error as Error).message).toContain("502");
    expect((await query(outTradeNo)).sub_code).toBe("ACQ.TRADE_NOT_EXIST");
  });

  it("rate-limit, unknown-error and system-error answer signed 40005 / 20000 / 40004 ACQ.SYSTEM_ERROR", async () => {
    const outTradeNo = newOutTradeNo();
    sim.setFault({ mode: "rate-limit", count: 1 });
    expect(await query(outTradeNo)).toMatchObject({ code: "40005", sub_code: "isv.app-call-limited" });
    sim.setFault({ mode: "unknown-error", count: 1, method: "alipay.trade.query" });
    expect(await query(outTradeNo)).toMatchObject({ code: "20000", sub_code: "isp.unknow-error" });
    sim.setFault({ mode: "system-error", count: 2, outTradeNo });
    expect(await query(newOutTradeNo())).toMatchObject({ sub_code: "ACQ.TRADE_NOT_EXIST" }); // other order: no fault
    expect(await query(outTradeNo)).toMatchObject({ code: "40004", sub_code: "ACQ.SYSTEM_ERROR" });
    expect(await query(outTradeNo)).toMatchObject({ code: "40004", sub_code: "ACQ.SYSTEM_ERROR" });
    expect(await query(outTradeNo)).toMatchObject({ sub_code: "ACQ.TRADE_NOT_EXIST" });
  });

  it("unsigned-system-error answers 20000 aop.ACQ.SYSTEM_ERROR without a signature", async () => {
    const outTradeNo = newOutTradeNo();
    sim.setFault({ mode: "unsigned-system-error", count: 2, method: "alipay.trade.query" });
    expect(await sdk.exec("alipay.trade.query", { bizContent: { out_trade_no: outTradeNo } })).toMatchObject({
      code: "20000",
      sub_code: "aop.ACQ.SYSTEM_ERROR",
    });
    // alipay-sdk's own check trips over the missing signature inside node:crypto: the codes are lost.
    await expect(query(outTradeNo)).rejects.toBeInstanceOf(TypeError);
    expect((await query(outTradeNo)).sub_code).toBe("ACQ.TRADE_NOT_EXIST");
  });

  it("timeout: no answer until the SDK gives up", async () => {
    const impatient = merchantSdk(sim.gatewayUrl, { timeout: 300 });
    sim.setFault({ mode: "timeout", count: 1 });
    const started = Date.now();
    await expect(
      impatient.exec("alipay.trade.query", { bizContent: { out_trade_no: "T-timeout" } }, { validateSign: true }),
    ).rejects.toBeInstanceOf(AlipayRequestError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect((await impatient.exec("alipay.trade.query", { bizContent: { out_trade_no: "T-timeout" } })).sub_code).toBe(
      "ACQ.TRADE_NOT_EXIST",
    );
  });

  it("afterProcessing: the refund happens although the answer is lost", async () => {
    const { outTradeNo } = await paidTrade("10.00");
    sim.setFault({ method: "alipay.trade.refund", mode: "5xx", count: 1, afterProcessing: true });
    await expect(refund(outTradeNo, "2.00", "P1")).rejects.toBeInstanceOf(AlipayRequestError);
    expect(sim.trade(outTradeNo)!.refundedFen).toBe(200);
    expect(await refund(outTradeNo, "2.00", "P1")).toMatchObject({ code: "10000", fund_change: "N", refund_fee: "2.00" });
    await sim.whenIdle();
  });
});

describe("cashier and control API", () => {
  it("serves a self-contained cashier page and redirects / to it", async () => {
    const page = await fetch(sim.cashierUrl);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("<textarea");
    expect(html).toContain("/sim/pay");
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=/);
    const root = await fetch(`${sim.url}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/cashier");
  });

  it("lists the ledger over HTTP", async () => {
    const { outTradeNo } = await paidTrade("1.50");
    const one = await (await fetch(`${sim.url}/sim/trades/${outTradeNo}`)).json();
    expect(one).toMatchObject({ outTradeNo, totalFen: 150, totalAmount: "1.50", status: "TRADE_SUCCESS" });
    const all = (await (await fetch(`${sim.url}/sim/trades`)).json()) as Array<{ outTradeNo: string }>;
    expect(all.some((t) => t.outTradeNo === outTradeNo)).toBe(true);
    expect((await fetch(`${sim.url}/sim/trades/nope`)).status).toBe(404);
    const bad = await postJson(`${sim.url}/sim/faults`, { mode: "explode", count: 1 });
    expect(bad.status).toBe(400);
  });
});
