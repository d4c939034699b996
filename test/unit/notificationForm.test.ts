// Notifications in GBK (issue 10): an app whose requests Alipay took as GBK gets `charset=gbk`
// notifications, percent-encoded GBK bytes signed over the GBK bytes of the string to sign.
import { createSign, generateKeyPairSync } from "node:crypto";
import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { AlipayGateway } from "../../lib/alipay/gateway.js";
import { parseNotificationForm } from "../../lib/alipay/notificationForm.js";

const app = generateKeyPairSync("rsa", { modulusLength: 2048 });
const alipayPair = generateKeyPairSync("rsa", { modulusLength: 2048 });
const gateway = new AlipayGateway({
  appId: "2021000100000001",
  appPrivateKey: String(app.privateKey.export({ type: "pkcs8", format: "pem" })),
  alipayPublicKey: String(alipayPair.publicKey.export({ type: "spki", format: "pem" })),
  gatewayUrl: "http://127.0.0.1:9/gateway.do",
  notifyUrl: "https://pay.example.com/alipay/notify",
  timeoutMs: 1000,
});

const fields: Record<string, string> = {
  notify_time: "2026-11-26 12:00:01",
  notify_type: "trade_status_sync",
  notify_id: "2026112600222120001000000000000001",
  charset: "gbk",
  version: "1.0",
  sign_type: "RSA2",
  app_id: "2021000100000001",
  seller_id: "2088000100000001",
  out_trade_no: "pay_gbk_1",
  trade_no: "2026112622001400000000000001",
  trade_status: "TRADE_SUCCESS",
  total_amount: "6.60",
  subject: "会员年费 中文订单 €5",
  buyer_logon_id: "",
};

/** Java's URLEncoder.encode(value, "GBK"). */
const gbkEncode = (text: string) =>
  [...iconv.encode(text, "gbk")]
    .map((b) =>
      /[A-Za-z0-9*._-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : b === 0x20
          ? "+"
          : `%${b.toString(16).toUpperCase().padStart(2, "0")}`,
    )
    .join("");

function gbkBody(params: Record<string, string>, signedAs: "gbk" | "utf8" = "gbk"): string {
  const content = Object.keys(params)
    .filter((k) => k !== "sign_type" && params[k] !== "")
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join("&");
  const bytes = signedAs === "gbk" ? iconv.encode(content, "gbk") : Buffer.from(content, "utf8");
  const sign = createSign("RSA-SHA256").update(bytes).sign(alipayPair.privateKey, "base64");
  return Object.entries({ ...params, sign })
    .map(([k, v]) => `${gbkEncode(k)}=${gbkEncode(v)}`)
    .join("&");
}

describe("a GBK notification", () => {
  it("decodes in GBK and verifies over the GBK bytes Alipay signed", () => {
    const form = parseNotificationForm(gbkBody(fields))!;
    expect(form.params.subject).toBe("会员年费 中文订单 €5");
    expect(form.params.buyer_logon_id).toBe("");
    expect(gateway.verifyNotification(form.params, form.gbkSignedContent)).toBe(true);
  });

  it("is garbled read as UTF-8, which is why the charset decides", () => {
    const asUtf8 = Object.fromEntries(new URLSearchParams(gbkBody(fields)));
    expect(asUtf8.subject).not.toBe("会员年费 中文订单 €5");
    expect(gateway.verifyNotification(asUtf8)).toBe(false);
  });

  it("refuses one signed over UTF-8 bytes, a tampered amount, and a missing signed content", () => {
    const utf8Signed = parseNotificationForm(gbkBody(fields, "utf8"))!;
    expect(gateway.verifyNotification(utf8Signed.params, utf8Signed.gbkSignedContent)).toBe(false);
    const tampered = parseNotificationForm(gbkBody(fields).replace("total_amount=6.60", "total_amount=0.01"))!;
    expect(gateway.verifyNotification(tampered.params, tampered.gbkSignedContent)).toBe(false);
    const form = parseNotificationForm(gbkBody(fields))!;
    expect(gateway.verifyNotification(form.params)).toBe(false);
  });

  it("is malformed when it is not percent-encoded or a field repeats; bytes that are not GBK fail the signature", () => {
    expect(parseNotificationForm("charset=gbk&subject=中")).toBeUndefined();
    expect(parseNotificationForm("charset=gbk&subject=%G1")).toBeUndefined();
    expect(parseNotificationForm("charset=gbk&a=1&a=2")).toBeUndefined();
    const halfCharacter = parseNotificationForm(gbkBody(fields).replace("subject=", "subject=%D6"))!;
    expect(gateway.verifyNotification(halfCharacter.params, halfCharacter.gbkSignedContent)).toBe(false);
  });
});

describe("a UTF-8 notification", () => {
  it("is read as before: URL-decoded once, no signed bytes kept", () => {
    const form = parseNotificationForm("charset=utf-8&subject=%E4%B8%AD+1&passback_params=a%2525b")!;
    expect(form.params).toEqual({ charset: "utf-8", subject: "中 1", passback_params: "a%25b" });
    expect(form.gbkSignedContent).toBeUndefined();
    expect(parseNotificationForm("a=1&a=2")).toBeUndefined();
    expect(parseNotificationForm("")).toBeUndefined();
  });
});

describe("the gateway verifies RSA2 notifications only", () => {
  const utf8 = { ...fields, charset: "utf-8" };
  const signed = (algorithm: "RSA-SHA256" | "RSA-SHA1", signType: string) => {
    const params = { ...utf8, sign_type: signType };
    const content = Object.keys(params)
      .filter((k) => k !== "sign_type" && params[k as keyof typeof params] !== "")
      .sort()
      .map((k) => `${k}=${params[k as keyof typeof params]}`)
      .join("&");
    return { ...params, sign: createSign(algorithm).update(content, "utf8").sign(alipayPair.privateKey, "base64") };
  };

  it("accepts sign_type=RSA2, refuses a correctly signed sign_type=RSA (SHA1withRSA) one, which alipay-sdk alone would accept", () => {
    expect(gateway.verifyNotification(signed("RSA-SHA256", "RSA2"))).toBe(true);
    expect(gateway.verifyNotification(signed("RSA-SHA1", "RSA"))).toBe(false);
  });
});
