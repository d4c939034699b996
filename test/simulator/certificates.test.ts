// The simulator's certificate mode (公钥证书): the certificates its local CA issues, the SNs it
// expects (the same as alipay-sdk computes them), and answers naming Alipay's certificate.
import { AlipaySdk } from "alipay-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certificateFileSn, rootCertificateSn } from "../../lib/alipay/certificates.js";
import {
  type AlipaySimulator,
  certPublicKey,
  firstCertSn,
  type IssuedCertificates,
  issueCertificates,
  rootCertSn,
  startAlipaySimulator,
} from "../../simulator/index.js";
import { APP_ID, newOutTradeNo, orderString, postJson, SELLER_ID, keys } from "./support.js";

let sim: AlipaySimulator;
let issued: IssuedCertificates;

beforeAll(async () => {
  const k = keys();
  issued = issueCertificates({ appId: APP_ID, appPrivateKey: k.app.privateKeyPkcs8, alipayPrivateKey: k.alipay.privateKeyPkcs1 });
  sim = await startAlipaySimulator({
    alipayPrivateKey: k.alipay.privateKeyPkcs1,
    certificates: { alipayCert: issued.alipayCert, rootCert: issued.rootCert },
    apps: [{ appId: APP_ID, appPublicKey: k.app.publicKey, appCert: issued.appCert, sellerId: SELLER_ID }],
    timeScale: 10_000,
  });
});

afterAll(async () => {
  await sim?.close();
});

/** alipay-sdk in certificate mode, as its README configures it (it computes the SNs itself). */
function certSdk(certificates: Partial<{ appCertContent: string; alipayRootCertContent: string }> = {}) {
  return new AlipaySdk({
    appId: APP_ID,
    privateKey: keys().app.privateKeyPkcs8,
    keyType: "PKCS8",
    appCertContent: certificates.appCertContent ?? issued.appCert,
    alipayPublicCertContent: issued.alipayCert,
    alipayRootCertContent: certificates.alipayRootCertContent ?? issued.rootCert,
    gateway: sim.gatewayUrl,
    camelcase: false,
  });
}

describe("certificate mode", () => {
  it("issues certificates for the given keys; its SNs agree with the backend's and with alipay-sdk's", () => {
    expect(certPublicKey(issued.appCert)).toBe(keys().app.publicKey);
    expect(certPublicKey(issued.alipayCert)).toBe(keys().alipay.publicKey);
    expect(firstCertSn(issued.appCert)).toBe(certificateFileSn(issued.appCert, "app"));
    expect(rootCertSn(issued.rootCert)).toBe(rootCertificateSn(issued.rootCert));
    const sdk = certSdk();
    expect(sdk.config.appCertSn).toBe(firstCertSn(issued.appCert));
    expect(sdk.config.alipayRootCertSn).toBe(rootCertSn(issued.rootCert));
    expect(sdk.config.alipayCertSn).toBe(firstCertSn(issued.alipayCert));
  });

  it("answers alipay-sdk's certificate-mode requests with alipay_cert_sn next to the signed answer", async () => {
    const sdk = certSdk();
    const answer = await sdk.exec("alipay.trade.query", { bizContent: { out_trade_no: newOutTradeNo() } }, { validateSign: true });
    expect(answer.sub_code).toBe("ACQ.TRADE_NOT_EXIST");
    const paid = sim.pay(orderString(sdk, newOutTradeNo()));
    expect(paid.status).toBe("TRADE_SUCCESS");
    await sim.whenIdle();
    // The raw layout: {"alipay_trade_query_response":{...},"alipay_cert_sn":"...","sign":"..."}.
    const url = new URL(sim.gatewayUrl);
    const signed = sdk.sdkExecute("alipay.trade.query", { bizContent: { out_trade_no: paid.outTradeNo } });
    const raw = await (
      await fetch(url, { method: "POST", body: signed, headers: { "content-type": "application/x-www-form-urlencoded" } })
    ).text();
    expect(raw).toMatch(
      new RegExp(`^\\{"alipay_trade_query_response":\\{.*\\},"alipay_cert_sn":"${firstCertSn(issued.alipayCert)}","sign":"`),
    );
  });

  it("refuses a missing or wrong app_cert_sn or alipay_root_cert_sn, on the gateway and in order strings", async () => {
    const other = issueCertificates({
      appId: APP_ID,
      appPrivateKey: keys().app.privateKeyPkcs8,
      alipayPrivateKey: keys().stranger.privateKeyPkcs8,
    });
    const wrongApp = certSdk({ appCertContent: other.appCert });
    expect((await wrongApp.exec("alipay.trade.query", { bizContent: { out_trade_no: "x" } })).sub_code).toBe("isv.invalid-app-cert-sn");
    const wrongRoot = certSdk({ alipayRootCertContent: other.rootCert });
    const refused = await postJson(`${sim.url}/sim/pay`, { orderString: orderString(wrongRoot, newOutTradeNo()) });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe("isv.invalid-alipay-root-cert-sn");
  });
});
