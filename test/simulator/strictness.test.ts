// Alipay's stricter edges (issue 10): order strings the simulator refuses as Alipay would (each case
// correctly signed by the app, so only the rule under test can refuse it), apps in OpenID mode, and apps
// whose notifications are in GBK.
import { createSign, createVerify } from "node:crypto";
import iconv from "iconv-lite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signContent, type AlipaySimulator } from "../../simulator/index.js";
import {
  APP_ID,
  SELLER_ID,
  gmt8,
  keys,
  merchantSdk,
  newOutTradeNo,
  orderString,
  postJson,
  sinkNotifyUrl,
  startReceiver,
  verifyNotification,
  startTestSimulator,
} from "./support.js";

let sim: AlipaySimulator;

beforeAll(async () => {
  const k = keys();
  // The Alipay key in PKCS#8 here (PKCS#1 elsewhere).
  sim = await startTestSimulator({ alipayPrivateKey: k.alipay.privateKeyPkcs8 });
});

afterAll(async () => {
  await sim?.close();
});

type Fields = Record<string, string | undefined>;

/** An App Pay order string as sdkExecute lays it out, with `common` / `biz` fields replaced or (undefined) removed. */
function signedOrderString(common: Fields = {}, biz: Record<string, unknown> = {}): string {
  const bizContent: Record<string, unknown> = {
    out_trade_no: newOutTradeNo(),
    total_amount: "1.00",
    subject: "Strict order",
    product_code: "QUICK_MSECURITY_PAY",
    time_expire: gmt8(Date.now() + 15 * 60_000),
    ...biz,
  };
  for (const key of Object.keys(bizContent)) if (bizContent[key] === undefined) delete bizContent[key];
  const fields: Fields = {
    method: "alipay.trade.app.pay",
    app_id: APP_ID,
    charset: "utf-8",
    version: "1.0",
    sign_type: "RSA2",
    timestamp: gmt8(Date.now()),
    notify_url: sinkNotifyUrl,
    ...common,
    biz_content: JSON.stringify(bizContent),
  };
  const params = Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const sign = createSign("RSA-SHA256").update(signContent(params), "utf8").sign(keys().app.privateKeyPkcs8, "base64");
  return Object.entries({ ...params, sign })
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join("&");
}

const pay = (orderString: string) => postJson(`${sim.url}/sim/pay`, { orderString });

describe("order strings Alipay would refuse", () => {
  it("the baseline order string is accepted", async () => {
    expect((await pay(signedOrderString())).body.status).toBe("TRADE_SUCCESS");
    await sim.whenIdle();
  });

  it.each([
    ["a missing timestamp", { timestamp: undefined }, {}, "isv.missing-timestamp"],
    ["an ISO timestamp", { timestamp: "2026-11-25T12:00:00" }, {}, "isv.invalid-timestamp"],
    ["an impossible timestamp", { timestamp: "2026-02-30 08:00:00" }, {}, "isv.invalid-timestamp"],
    ["a missing version", { version: undefined }, {}, "isv.missing-version"],
    ["version 2.0", { version: "2.0" }, {}, "isv.invalid-parameter"],
    ["charset gbk", { charset: "gbk" }, {}, "isv.invalid-charset"],
    ["a missing charset", { charset: undefined }, {}, "isv.invalid-charset"],
    ["a missing notify_url", { notify_url: undefined }, {}, "isv.missing-notify-url"],
    ["a missing product_code", {}, { product_code: undefined }, "ACQ.INVALID_PARAMETER"],
    ["another product_code", {}, { product_code: "FAST_INSTANT_TRADE_PAY" }, "ACQ.INVALID_PARAMETER"],
    ["/ in the subject", {}, { subject: "A/B" }, "ACQ.INVALID_PARAMETER"],
    ["= in the subject", {}, { subject: "A=B" }, "ACQ.INVALID_PARAMETER"],
    ["& in the subject", {}, { subject: "A&B" }, "ACQ.INVALID_PARAMETER"],
    ["a body of 129 characters", {}, { body: "b".repeat(129) }, "ACQ.INVALID_PARAMETER"],
    ["a body of 65 emoji (130 UTF-16 units)", {}, { body: "😀".repeat(65) }, "ACQ.INVALID_PARAMETER"],
    ["a subject of 129 emoji (258 UTF-16 units)", {}, { subject: "😀".repeat(129) }, "ACQ.INVALID_PARAMETER"],
    ["time_expire 16 days ahead", {}, { time_expire: gmt8(Date.now() + 16 * 86_400_000) }, "ACQ.INVALID_PARAMETER"],
  ] as const)("refuses %s", async (_what, common, biz, code) => {
    const refused = await pay(signedOrderString(common as Fields, biz));
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe(code);
  });

  it.each([
    ["a subject of 128 emoji (256 UTF-16 units)", {}, { subject: "😀".repeat(128) }],
    ["a body of 128 characters with & and =", {}, { body: `${"b".repeat(124)}&a=1` }],
    ["charset UTF-8 in capitals", { charset: "UTF-8" }, {}],
    ["time_expire 14 days ahead", {}, { time_expire: gmt8(Date.now() + 14 * 86_400_000) }],
    ["an order string made an hour ago (its timestamp's age is not checked)", { timestamp: gmt8(Date.now() - 3_600_000) }, {}],
  ] as const)("accepts %s", async (_what, common, biz) => {
    const paid = await pay(signedOrderString(common as Fields, biz));
    expect(paid.body.status, JSON.stringify(paid.body)).toBe("TRADE_SUCCESS");
    await sim.whenIdle();
  });
});

describe("an app in OpenID mode", () => {
  const OPEN_ID_APP = "2021000100000042";

  it("gets buyer_open_id instead of buyer_id in notifications and query answers, stable per buyer", async () => {
    sim.addApp({ appId: OPEN_ID_APP, appPublicKey: keys().app.publicKey, sellerId: SELLER_ID, buyerIdType: "open_id" });
    const receiver = await startReceiver();
    try {
      const sdk = merchantSdk(sim.gatewayUrl, { appId: OPEN_ID_APP });
      const outTradeNo = newOutTradeNo();
      const paid = sim.pay(orderString(sdk, outTradeNo, { notifyUrl: receiver.url }));
      await sim.whenIdle();
      const [note] = receiver.received.filter((r) => r.params.out_trade_no === outTradeNo);
      expect(note!.params.buyer_id).toBeUndefined();
      expect(note!.params.buyer_open_id).toMatch(/^0[A-Za-z0-9]{46}$/);
      expect(verifyNotification(sdk, note!.params)).toBe(true);

      const answer = await sdk.exec("alipay.trade.query", { bizContent: { out_trade_no: outTradeNo } }, { validateSign: true });
      expect(answer.buyer_user_id).toBeUndefined();
      expect(answer.buyer_open_id).toBe(note!.params.buyer_open_id);

      // The same buyer paying again: the same OpenID; another app would see another one.
      const again = newOutTradeNo();
      sim.pay(orderString(sdk, again, { notifyUrl: receiver.url }), { buyerId: paid.buyerId });
      await sim.whenIdle();
      expect(receiver.received.find((r) => r.params.out_trade_no === again)!.params.buyer_open_id).toBe(note!.params.buyer_open_id);
    } finally {
      await receiver.close();
    }
  });
});

describe("an app whose notifications are in GBK", () => {
  const GBK_APP = "2021000100000043";

  it("gets charset=gbk notifications, percent-encoded in GBK and signed over their GBK bytes", async () => {
    sim.addApp({ appId: GBK_APP, appPublicKey: keys().app.publicKey, sellerId: SELLER_ID, notifyCharset: "gbk" });
    const receiver = await startReceiver();
    try {
      const sdk = merchantSdk(sim.gatewayUrl, { appId: GBK_APP });
      const outTradeNo = newOutTradeNo();
      sim.pay(orderString(sdk, outTradeNo, { notifyUrl: receiver.url, subject: "会员年费 €5" }));
      await sim.whenIdle();
      const [note] = receiver.received.filter((r) => r.raw.includes(outTradeNo));
      // 会 is BB E1 in GBK, € is 80 (E4 BC 9A and E2 82 AC in UTF-8).
      expect(note!.raw).toContain("subject=%BB%E1%D4%B1%C4%EA%B7%D1+%805");
      const params = Object.fromEntries(
        note!.raw.split("&").map((pair) => {
          const [key, value] = pair.split("=") as [string, string];
          const bytes = Buffer.from(
            value.replace(/\+/g, " ").replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
            "latin1",
          );
          return [key, iconv.decode(bytes, "gbk")];
        }),
      );
      expect(params.charset).toBe("gbk");
      expect(params.subject).toBe("会员年费 €5");
      const content = iconv.encode(signContent(params, { excludeSignType: true }), "gbk");
      expect(createVerify("RSA-SHA256").update(content).verify(keys().alipay.publicKey, params.sign!, "base64")).toBe(true);
      // Read as UTF-8 (what alipay-sdk does), it verifies no more.
      expect(verifyNotification(sdk, note!.params)).toBe(false);
    } finally {
      await receiver.close();
    }
  });
});
