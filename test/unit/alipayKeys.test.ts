// Key formats (issue 10): the gateway takes the app private key and Alipay's public key in every
// form Alipay's key tool and console produce, checks them when it is built, and refuses a wrong key
// with a message that names the key and the problem, never its text.
import { createVerify, generateKeyPairSync, type KeyObject } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AlipayGateway, AlipayKeyError } from "../../lib/alipay/gateway.js";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const alipayPair = generateKeyPairSync("rsa", { modulusLength: 2048 });

const pem = (key: KeyObject, type: "pkcs8" | "pkcs1" | "spki") => String(key.export({ type, format: "pem" })).trim();
/** The body of a PEM on one line: what Alipay's key tool shows and the console copies. */
const bare = (text: string) =>
  text
    .split("\n")
    .filter((line) => !line.startsWith("-----"))
    .join("");

const appPkcs8 = pem(rsa.privateKey, "pkcs8");
const appPkcs1 = pem(rsa.privateKey, "pkcs1");
const appPublic = pem(rsa.publicKey, "spki");
const alipayPublic = pem(alipayPair.publicKey, "spki");

function gateway(appPrivateKey: string, alipayPublicKey = alipayPublic, appId = "2021000100000001"): AlipayGateway {
  return new AlipayGateway({
    appId,
    appPrivateKey,
    alipayPublicKey,
    gatewayUrl: "http://127.0.0.1:9/gateway.do",
    notifyUrl: "https://pay.example.com/alipay/notify",
    timeoutMs: 1000,
  });
}

/** Verifies an order string as Alipay does: decoded values, sorted, minus `sign`, RSA2 with the app's public key. */
function orderStringVerifies(orderString: string): boolean {
  const params = Object.fromEntries(
    orderString.split("&").map((pair) => {
      const eq = pair.indexOf("=");
      return [pair.slice(0, eq), decodeURIComponent(pair.slice(eq + 1))];
    }),
  );
  const content = Object.keys(params)
    .filter((k) => k !== "sign" && params[k] !== "")
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join("&");
  return createVerify("RSA-SHA256").update(content, "utf8").verify(rsa.publicKey, params.sign!, "base64");
}

const order = { outTradeNo: "pay_1_1", amountFen: 1, subject: "keys", expiresAtMs: Date.now() + 900_000 };

describe("the app private key in every form Alipay's tools produce", () => {
  const forms: Record<string, string> = {
    "PKCS#8 PEM": appPkcs8,
    "PKCS#1 PEM": appPkcs1,
    "bare base64 PKCS#8 (the key tool's default)": bare(appPkcs8),
    "bare base64 PKCS#1 (alipay-sdk's README)": bare(appPkcs1),
    "PKCS#8 PEM with CRLF": appPkcs8.replace(/\n/g, "\r\n"),
    "PKCS#1 PEM with CRLF and a trailing newline": `${appPkcs1.replace(/\n/g, "\r\n")}\r\n`,
    "base64 in 64-column lines with CRLF": bare(appPkcs8).replace(/(.{64})/g, "$1\r\n"),
    "PEM with literal \\n (pasted into an env file)": appPkcs1.replace(/\n/g, "\\n"),
    "indented PEM": appPkcs8
      .split("\n")
      .map((line) => `  ${line}`)
      .join("\n"),
  };
  for (const [form, key] of Object.entries(forms)) {
    it(`signs order strings Alipay can verify: ${form}`, () => {
      expect(orderStringVerifies(gateway(key).orderString(order))).toBe(true);
    });
  }
});

describe("Alipay's public key in PEM or bare base64", () => {
  // A genuine TRADE_SUCCESS notification (production, 2019) and the bare base64 SPKI key it verifies
  // with, as the console gives it. From alipay/alipay-sdk-nodejs-all test fixtures (MIT), release 4.14.0.
  const realAlipayPublicKey =
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqObrdC7hrgAVM98tK0nv3hSQRGGKT4lBsQjHiGjeYZjOPIPHR5knm2jnnz/YGIXIofVHkA/tAlBAd5DrY7YpvI4tP5EONLtZKC2ghBMx7McI2wRD0xiqzxOQr1FuhZGJ8/AUokBzJrzY+aGX2xcOrxFYRlFilvVLTXg4LWjR1tdPkO6+i7wQZAIVMClPkwVRZEbaERRHlKqTzv2gGv5rDU8gRoe1LeaN+6BlbTqHWkQcNCUNrA8C6l17XAXGKDsm/9TFWwO8EPHHHCaQdjtV5/FdcWIt+L8SR1ss7EXTjYDFtxcKVv9rEoY1lX8T4mX+GbXfZHraG5NCF1+XioL5JwIDAQAB";
  const realNotification: Record<string, string> = {
    gmt_create: "2019-08-15 15:56:22",
    charset: "utf-8",
    seller_email: "z97-yuquerevenue@service.aliyun.com",
    subject: "语雀空间 500人规模",
    sign: "QfTb8tqE1BMhS5qAnXtvsF3/jBkEvu9q9en0pdbBUDDjvKycZhQb7h8GDs4FKfi049PynaNuatxSgLb/nLWZpXyyh0LEWdK2S6Ri7nPwrVgOs08zugLO20vOQz44y3ti2Ncm8/wZts1Fr2gZ7pShnVX3d1B50hbsXnObT1r/U8ONNQjWXd0HIul4TG+Q3fm3svmSvFEy0WnzuhcyHPX5Gm4ELNctL6Qd5YniGJFNcc7kopHYtI/XD9YCKCH6Ct02rzUs9i11C9CsadtZn+WhxF26Dqt9sGEFajkJ8cxUTLi8+VCpLHsgPE8P0y095uQcDdK0YjCh4x7wVSov+lrmOQ==",
    buyer_id: "2088102534368455",
    invoice_amount: "0.10",
    notify_id: "2019081500222155624068450559358070",
    fund_bill_list: '[{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}]',
    notify_type: "trade_status_sync",
    trade_status: "TRADE_SUCCESS",
    receipt_amount: "0.10",
    buyer_pay_amount: "0.10",
    sign_type: "RSA2",
    app_id: "2019073166072302",
    seller_id: "2088531891668739",
    gmt_payment: "2019-08-15 15:56:24",
    notify_time: "2019-08-15 15:56:25",
    version: "1.0",
    out_trade_no: "20190815155618536-564-57",
    total_amount: "0.10",
    trade_no: "2019081522001468450512505578",
    auth_app_id: "2019073166072302",
    buyer_logon_id: "xud***@126.com",
    point_amount: "0.00",
  };
  const realKeyPem = `-----BEGIN PUBLIC KEY-----\n${realAlipayPublicKey.replace(/(.{64})/g, "$1\n")}\n-----END PUBLIC KEY-----`;

  for (const [form, key] of Object.entries({
    "bare base64 SPKI (the console)": realAlipayPublicKey,
    "SPKI PEM": realKeyPem,
    "SPKI PEM with CRLF": realKeyPem.replace(/\n/g, "\r\n"),
  })) {
    it(`verifies a genuine Alipay notification: ${form}`, () => {
      const g = gateway(appPkcs1, key, "2019073166072302");
      expect(g.verifyNotification(realNotification)).toBe(true);
      expect(g.verifyNotification({ ...realNotification, total_amount: "100.00" })).toBe(false);
    });
  }
});

describe("a key that cannot work fails when the gateway is built, naming the key, never printing it", () => {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const small = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const encrypted = String(rsa.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" }));
  const cases: Array<[string, string, string, RegExp]> = [
    ["the app's public key given as the private key", appPublic, alipayPublic, /ALIPAY_APP_PRIVATE_KEY is a public key/],
    ["bare base64 public key given as the private key", bare(appPublic), alipayPublic, /ALIPAY_APP_PRIVATE_KEY is a public key/],
    ["a private key given as Alipay's public key", appPkcs8, pem(alipayPair.privateKey, "pkcs8"), /ALIPAY_PUBLIC_KEY is a private key/],
    [
      "a bare base64 private key given as Alipay's public key",
      appPkcs8,
      bare(pem(alipayPair.privateKey, "pkcs1")),
      /ALIPAY_PUBLIC_KEY is a private key/,
    ],
    ["the app's own public key given as Alipay's", appPkcs8, bare(appPublic), /ALIPAY_PUBLIC_KEY holds the app.s own public key/],
    ["garbage", "my-app-key!", alipayPublic, /ALIPAY_APP_PRIVATE_KEY is neither a PEM nor base64/],
    ["a truncated key", bare(appPkcs8).slice(0, 400), alipayPublic, /ALIPAY_APP_PRIVATE_KEY is not a PKCS#8 or PKCS#1 private key/],
    [
      "mismatched PEM lines",
      appPkcs8.replace("END PRIVATE KEY", "END RSA PRIVATE KEY"),
      alipayPublic,
      /ALIPAY_APP_PRIVATE_KEY is a malformed PEM/,
    ],
    ["an encrypted private key", encrypted, alipayPublic, /ALIPAY_APP_PRIVATE_KEY is an encrypted PEM/],
    ["an EC key", pem(ec.privateKey, "pkcs8"), alipayPublic, /ALIPAY_APP_PRIVATE_KEY is an ec key: RSA2 needs an RSA key/],
    ["an RSA-1024 key", pem(small.privateKey, "pkcs1"), alipayPublic, /ALIPAY_APP_PRIVATE_KEY is an RSA-1024 key/],
    ["an empty Alipay public key", appPkcs8, "  \n", /ALIPAY_PUBLIC_KEY is empty/],
  ];
  for (const [what, privateKey, publicKey, message] of cases) {
    it(what, () => {
      let error: unknown;
      try {
        gateway(privateKey, publicKey);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(AlipayKeyError);
      const text = `${(error as Error).message} ${(error as Error).stack}`;
      expect((error as Error).message).toMatch(message);
      // No line of either key's body appears in the error.
      for (const line of [...privateKey.split(/\r?\n/), ...publicKey.split(/\r?\n/)]) {
        if (line.length >= 16 && !line.startsWith("-----")) expect(text).not.toContain(line.trim().slice(0, 16));
      }
    });
  }
});
