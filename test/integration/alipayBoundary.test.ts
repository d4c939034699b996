// The backend against the simulator, on the edges a first day against real Alipay hits (issue 10):
// unsigned error answers keep Alipay's code and sub_code; only RSA2 notifications are accepted; the
// backend and the simulator count subject length the same way (UTF-16 code units, as Alipay's Java).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AlipayGateway, AlipayUnavailableError } from "../../lib/alipay/gateway.js";
import { metricCounts } from "../../lib/observability.js";
import { getPayment } from "../../lib/payments/repository.js";
import {
  type AlipaySimulator,
  firstCertSn,
  generateRsaKeyPair,
  type IssuedCertificates,
  issueCertificates,
  type RsaKeyPair,
  rootCertSn,
  startAlipaySimulator,
} from "../../simulator/index.js";
import { useStack, waitFor } from "./harness.js";
import { paramOptions } from "./stageParams.js";

// The whole stack runs in certificate mode (公钥证书): every payment below goes through it end to end.
const t = useStack({ alipayCertificateMode: true });
const metric = (name: string) => metricCounts.get(name) ?? 0;

const APP_ID = "2021000100000077";
const SELLER_ID = "2088000100000077";

let sim: AlipaySimulator;
let app: RsaKeyPair;
let alipay: RsaKeyPair;

beforeAll(async () => {
  app = generateRsaKeyPair();
  alipay = generateRsaKeyPair();
  sim = await startAlipaySimulator({
    alipayPrivateKey: alipay.privateKeyPkcs8,
    apps: [{ appId: APP_ID, appPublicKey: app.publicKey, sellerId: SELLER_ID }],
    timeScale: 10_000,
  });
});

afterAll(async () => {
  await sim?.close();
});

beforeEach(() => sim.resetScenarios());

function gateway(appId = APP_ID): AlipayGateway {
  return new AlipayGateway({
    appId,
    appPrivateKey: app.privateKeyPkcs1,
    alipayPublicKey: alipay.publicKey,
    gatewayUrl: sim.gatewayUrl,
    notifyUrl: "http://127.0.0.1:9/alipay/notify",
    timeoutMs: 3000,
  });
}

async function failure(call: Promise<unknown>): Promise<Error> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AlipayUnavailableError);
  return error as Error;
}

describe("unsigned error answers keep Alipay's code and sub_code", () => {
  it("20000 aop.ACQ.SYSTEM_ERROR, unsigned: retried as unavailable, with its codes", async () => {
    sim.setFault({ method: "alipay.trade.query", mode: "unsigned-system-error", count: 1 });
    const error = await failure(gateway().query("pay_unsigned_1"));
    expect(error.message).toContain("alipay.trade.query pay_unsigned_1");
    expect(error.message).toContain("unsigned");
    expect(error.message).toContain("answer 20000 aop.ACQ.SYSTEM_ERROR");
  });

  it("an unknown app id (misconfiguration) reads as 40002 isv.invalid-app-id, not as a signature error", async () => {
    const error = await failure(gateway("2021000199999999").close("pay_unsigned_2"));
    expect(error.message).toContain("answer 40002 isv.invalid-app-id");
    expect(error.message).not.toMatch(/signature invalid|TypeError/);
  });

  it("an unsigned answer is never acted upon, whatever it says", async () => {
    // A close that would succeed, answered without a signature: not "closed".
    sim.setFault({ method: "alipay.trade.close", mode: "unsigned-system-error", count: 1 });
    await failure(gateway().close("pay_unsigned_3"));
  });
});

describe("notifications: RSA2 only", () => {
  it("refuses a correctly signed sign_type=RSA (SHA1withRSA) notification, counted as unsupported_sign_type", async () => {
    const { payment, attempt } = await t.openPayment("rsa1", 700);
    const before = metric("NotificationsRejected.unsupported_sign_type");
    const forged = await t.sim("/sim/notify/forge", {
      url: `${t.stack.urls.api}/alipay/notify`,
      outTradeNo: attempt.outTradeNo,
      mode: "valid-rsa1",
      overrides: { trade_status: "TRADE_SUCCESS", total_amount: "7.00" },
    });
    expect(forged.status).toBe(200);
    expect(forged.body.params.sign_type).toBe("RSA");
    expect(forged.body.responseBody).toBe("failure");
    expect(metric("NotificationsRejected.unsupported_sign_type")).toBe(before + 1);
    expect(await getPayment(payment.paymentId)).toMatchObject({ status: "OPEN", attempts: [{ status: "PENDING" }] });
  });
});

describe("subject length: one rule (UTF-16 code units, at most 256) in the backend and the simulator", () => {
  it("refuses a 200-emoji subject (400 UTF-16 units) at create with 400 subject_invalid", async () => {
    const created = await t.createPayment({ userId: "emoji", subject: "😀".repeat(200) });
    expect(created.status).toBe(400);
    expect(created.body.code).toBe("subject_invalid");
  });

  it("accepts a 128-emoji subject (256 units), and the simulator accepts and pays its order string", async () => {
    const subject = "😀".repeat(128);
    const { payment, attempt } = await t.openPayment("emoji", 990, { subject });
    // Certificate mode end to end: the order string names both certificates.
    expect(t.stack.functionEnv.ALIPAY_APP_CERT).toMatch(/^file:/);
    const signed = new URLSearchParams(attempt.orderString);
    expect(signed.get("app_cert_sn")).toMatch(/^[0-9a-f]{32}$/);
    expect(signed.get("alipay_root_cert_sn")).toMatch(/^[0-9a-f]{32}$/);
    const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
    expect(paid.status).toBe(200);
    expect(paid.body.status).toBe("TRADE_SUCCESS");
    await waitFor(async () => (await getPayment(payment.paymentId))?.status === "PAID", { what: "128-emoji payment paid" });
  });

  it("refuses a 129-emoji subject (258 units) at create; the simulator refuses it too (test/simulator)", async () => {
    const created = await t.createPayment({ userId: "emoji", subject: "😀".repeat(129) });
    expect(created.status).toBe(400);
    expect(created.body.code).toBe("subject_invalid");
  });
});

describe("an app in OpenID mode (buyer_open_id instead of buyer_id)", () => {
  it("gets paid through a notification that names the buyer by buyer_open_id", async () => {
    await t.withAppMode({ buyerIdType: "open_id" }, async () => {
      const { payment, attempt } = await t.openPayment("openid", 450);
      const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
      expect(paid.status).toBe(200);
      const settled = await waitFor(
        async () => {
          const p = await getPayment(payment.paymentId);
          return p?.status === "PAID" && p;
        },
        { what: "OpenID payment paid" },
      );
      const [note] = t.stack.simulator.notifications({ outTradeNo: attempt.outTradeNo });
      expect(note!.params.buyer_id).toBeUndefined();
      expect(note!.params.buyer_open_id).toBeDefined();
      expect(settled).toMatchObject({ buyerId: note!.params.buyer_open_id, attempts: [{ status: "PAID" }] });
    });
  });
});

describe("an app whose notifications come in GBK (charset=gbk)", () => {
  it("gets paid through a GBK-encoded notification, its Chinese subject decoded and its signature checked over GBK bytes", async () => {
    await t.withAppMode({ notifyCharset: "gbk" }, async () => {
      const rejectedBefore = metric("NotificationsRejected.bad_signature") + metric("NotificationsRejected.malformed");
      const { payment, attempt } = await t.openPayment("gbk", 660, { subject: "会员年费 中文订单" });
      const paid = await t.sim("/sim/pay", { orderString: attempt.orderString });
      expect(paid.status).toBe(200);
      await waitFor(async () => (await getPayment(payment.paymentId))?.status === "PAID", { what: "GBK-notified payment paid" });
      const [note] = t.stack.simulator.notifications({ outTradeNo: attempt.outTradeNo });
      expect(note!.params.charset).toBe("gbk");
      expect(note!.params.subject).toBe("会员年费 中文订单");
      expect(t.stack.simulator.notifications({ outTradeNo: attempt.outTradeNo }).some((n) => n.acknowledged)).toBe(true);
      expect(metric("NotificationsRejected.bad_signature") + metric("NotificationsRejected.malformed")).toBe(rejectedBefore);
    });
  });
});

describe("certificate mode (公钥证书) end to end against the simulator", () => {
  const CERT_APP_ID = "2021000100000099";
  let certSim: AlipaySimulator;
  let issued: IssuedCertificates;
  let receiver: Server;
  let receiverUrl: string;
  const received: Array<Record<string, string>> = [];

  beforeAll(async () => {
    issued = issueCertificates({ appId: CERT_APP_ID, appPrivateKey: app.privateKeyPkcs8, alipayPrivateKey: alipay.privateKeyPkcs8 });
    certSim = await startAlipaySimulator({
      alipayPrivateKey: alipay.privateKeyPkcs8,
      certificates: { alipayCert: issued.alipayCert, rootCert: issued.rootCert },
      apps: [{ appId: CERT_APP_ID, appPublicKey: app.publicKey, appCert: issued.appCert, sellerId: SELLER_ID }],
      timeScale: 10_000,
    });
    receiver = createServer((req, res) => {
      let raw = "";
      req.on("data", (chunk: Buffer) => (raw += chunk.toString("utf8")));
      req.on("end", () => {
        received.push(Object.fromEntries(new URLSearchParams(raw)));
        res.end("success");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alipay/notify`;
  });

  afterAll(async () => {
    await certSim?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  const certGateway = (certificates: Partial<IssuedCertificates> = {}) =>
    new AlipayGateway({
      appId: CERT_APP_ID,
      appPrivateKey: app.privateKeyPkcs1,
      certificates: {
        appCert: certificates.appCert ?? issued.appCert,
        alipayPublicCert: certificates.alipayCert ?? issued.alipayCert,
        alipayRootCert: certificates.rootCert ?? issued.rootCert,
      },
      gatewayUrl: certSim.gatewayUrl,
      notifyUrl: receiverUrl,
      timeoutMs: 3000,
    });

  it("signs app_cert_sn and alipay_root_cert_sn into order strings; the simulator pays them; the notification verifies", async () => {
    const gateway = certGateway();
    const orderString = gateway.orderString({
      outTradeNo: "pay_cert_1",
      amountFen: 123,
      subject: "cert",
      expiresAtMs: Date.now() + 900_000,
    });
    const params = new URLSearchParams(orderString);
    expect(params.get("app_cert_sn")).toBe(firstCertSn(issued.appCert));
    expect(params.get("alipay_root_cert_sn")).toBe(rootCertSn(issued.rootCert));
    // Only the RSA root counts: the bundle's ECDSA root is left out.
    expect(params.get("alipay_root_cert_sn")).toMatch(/^[0-9a-f]{32}$/);
    expect(certSim.pay(orderString).status).toBe("TRADE_SUCCESS");
    await certSim.whenIdle();
    const note = received.find((r) => r.out_trade_no === "pay_cert_1")!;
    expect(gateway.verifyNotification(note)).toBe(true);
    expect(gateway.verifyNotification({ ...note, total_amount: "9.99" })).toBe(false);
  });

  it("queries and closes with both SNs; the answers verify with the key of Alipay's certificate", async () => {
    const gateway = certGateway();
    expect(await gateway.query("pay_cert_1")).toMatchObject({ kind: "trade", status: "TRADE_SUCCESS", totalFen: 123 });
    expect(await gateway.close("pay_cert_never")).toBe("not_found");
  });

  it("the simulator refuses a public-key-mode request from a certificate-mode app", async () => {
    const publicKeyMode = new AlipayGateway({
      appId: CERT_APP_ID,
      appPrivateKey: app.privateKeyPkcs8,
      alipayPublicKey: alipay.publicKey,
      gatewayUrl: certSim.gatewayUrl,
      notifyUrl: receiverUrl,
      timeoutMs: 3000,
    });
    const error = await failure(publicKeyMode.query("pay_cert_1"));
    expect(error.message).toContain("40002 isv.missing-app-cert-sn");
    const orderString = publicKeyMode.orderString({
      outTradeNo: "pay_cert_2",
      amountFen: 1,
      subject: "s",
      expiresAtMs: Date.now() + 60_000,
    });
    expect(() => certSim.pay(orderString)).toThrow(/app_cert_sn/);
  });

  it("refuses, when the gateway is built, an app certificate of another key and a root bundle without an RSA root", () => {
    const other = generateRsaKeyPair();
    const foreign = issueCertificates({
      appId: CERT_APP_ID,
      appPrivateKey: other.privateKeyPkcs8,
      alipayPrivateKey: alipay.privateKeyPkcs8,
    });
    expect(() => certGateway({ appCert: foreign.appCert })).toThrow(/ALIPAY_APP_CERT is not the certificate of ALIPAY_APP_PRIVATE_KEY/);
    const ecRootOnly = issued.rootCert.split(/(?<=-----END CERTIFICATE-----)\n/)[0]!;
    expect(() => certGateway({ rootCert: ecRootOnly })).toThrow(/ALIPAY_ROOT_CERT holds no RSA-signed root certificate/);
    expect(() => certGateway({ alipayCert: app.publicKey })).toThrow(/ALIPAY_PUBLIC_CERT holds no certificate/);
  });
});

describe("certificate mode in the deployed template", () => {
  type Json = Record<string, any>;
  const packageTemplate = (params: string[]): Json => {
    const out = mkdtempSync(join(tmpdir(), "alipay-pay-certs-"));
    try {
      const given = Object.fromEntries(params.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
      execFileSync("npx", ["serverless", "package", "--stage", "dev", ...paramOptions(given), "--package", out], {
        stdio: "pipe",
        timeout: 180_000,
      });
      return JSON.parse(readFileSync(join(out, "cloudformation-template-update-stack.json"), "utf8"));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  };
  const holds = (condition: Json): boolean => {
    const [a, b] = condition["Fn::Not"][0]["Fn::Equals"];
    return a !== b;
  };
  const parameterArns = (statement: Json) =>
    [statement.Resource].flat().map((r: Json) => String(r["Fn::Sub"]).replace(/^.*:parameter/, "ssm:"));

  it("grants the three certificates to every function that holds the app key, only when alipayAppCert is set", () => {
    const refs = ["app", "public", "root"].map((name) => `ssm:/alipay-pay/dev/alipay-${name}-cert`);
    const template = packageTemplate([`alipayAppCert=${refs[0]}`, `alipayPublicCert=${refs[1]}`, `alipayRootCert=${refs[2]}`]);
    expect(holds(template.Conditions.AlipayCertificateMode)).toBe(true);
    const roles = Object.entries(template.Resources as Record<string, Json>).filter(([, r]) => r.Type === "AWS::IAM::Role");
    let keyHolders = 0;
    for (const [id, role] of roles) {
      const statements = role.Properties.Policies.flatMap((p: Json) => p.PolicyDocument.Statement) as Json[];
      const holdsAppKey = statements.some(
        (s) => s.Action?.includes?.("ssm:GetParameter") && parameterArns(s).some((a) => a.endsWith("alipay-app-private-key")),
      );
      const certGrants = statements
        .filter((s) => s["Fn::If"]?.[0] === "AlipayCertificateMode")
        .flatMap((s) => parameterArns(s["Fn::If"][1]));
      expect(certGrants, id).toEqual(holdsAppKey ? refs : []);
      if (holdsAppKey) keyHolders += 1;
      const fn = template.Resources[id.replace(/Role$/, "LambdaFunction")];
      if (holdsAppKey) expect(fn.Properties.Environment.Variables.ALIPAY_APP_CERT, id).toBe(refs[0]);
    }
    // The functions that sign requests to Alipay, the daily reconcile included.
    expect(keyHolders).toBe(6);
    // Without the params: public-key mode, no certificate grant in effect, empty references.
    const plain = packageTemplate([]);
    expect(holds(plain.Conditions.AlipayCertificateMode)).toBe(false);
    expect(plain.Resources.CheckPaymentLambdaFunction.Properties.Environment.Variables.ALIPAY_APP_CERT).toBe("");
  });
});
