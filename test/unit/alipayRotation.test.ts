// Certificate mode after Alipay rotates its certificate (issue 19, part 4): a certificate fetched
// with alipay.open.app.alipaycert.download (whose answer is unsigned) is trusted only once it chains
// to the configured root bundle, as the official Java SDK's AntCertificationUtil.isTrusted checks.
// Against real certificates from Alipay (test/fixtures/alipay-certificates, see its README) and
// chains issued like Alipay's (an intermediate between the root and the certificate).
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AlipayCertificateError,
  certificateFileSn,
  certificateSn,
  parseCertificates,
  rootCertificateSn,
  trustedCertificate,
} from "../../lib/alipay/certificates.js";
import { answerCertSn } from "../../lib/alipay/gateway.js";
import {
  forgetRotations,
  learn,
  learnedKey,
  learnedKeys,
  learnOnce,
  recentlyRefused,
  refuse,
  takeProbe,
} from "../../lib/alipay/rotation.js";
import { type IssuedCertificates, issueAlipayCertificate, issueCertificates } from "../../simulator/certificates.js";
import { generateRsaKeyPair } from "../../simulator/keys.js";

const fixture = (name: string) => readFileSync(join(__dirname, "..", "fixtures", "alipay-certificates", name), "utf8");
const realAlipayCert = fixture("alipayCertPublicKey_RSA2.crt");
const realAppCert = fixture("appCertPublicKey_2021001161683774.crt");
const realRootBundle = fixture("alipayRootCert.crt");
const realRoots = parseCertificates(realRootBundle, "ALIPAY_ROOT_CERT");
/** While the real certificates were valid (May 2020 – May 2022). */
const in2021 = Date.parse("2021-06-01T00:00:00Z");

describe("the real certificates' SN digests (as alipay-sdk computes them), as answers name them", () => {
  it("alipay_cert_sn of an answer signed with Alipay's real certificate is that certificate's digest", () => {
    const held = certificateFileSn(realAlipayCert, "ALIPAY_PUBLIC_CERT");
    expect(held).toBe("7513daaaa48aa3ba2e4018d84402479c");
    const answer = `{"alipay_trade_query_response":{"code":"10000","msg":"Success"},"alipay_cert_sn":"${held}","sign":"x"}`;
    expect(answerCertSn(answer)).toBe(held);
    // The app's certificate and the root bundle are other digests: never taken for Alipay's.
    expect(certificateFileSn(realAppCert, "ALIPAY_APP_CERT")).toBe("866efef280dec9137a87d047ac446315");
    expect(rootCertificateSn(realRootBundle)).toBe("687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6");
  });
});

describe("a downloaded certificate is trusted only if it chains to the root bundle", () => {
  let issued: IssuedCertificates;
  let roots: X509Certificate[];
  let rotated: { alipayCert: string; chain: string };
  beforeAll(() => {
    const app = generateRsaKeyPair();
    issued = issueCertificates({
      appId: "2021000100000001",
      appPrivateKey: app.privateKeyPkcs8,
      alipayPrivateKey: generateRsaKeyPair().privateKeyPkcs8,
    });
    roots = parseCertificates(issued.rootCert, "ALIPAY_ROOT_CERT");
    rotated = issueAlipayCertificate({ ca: issued.ca, alipayPrivateKey: generateRsaKeyPair().privateKeyPkcs8 });
  });

  it("refuses Alipay's real certificate alone: its issuer (Class 2 R1) is not in the real root bundle", () => {
    // The SM2 and ECDSA roots of the real bundle are tried and passed over, not a crash.
    expect(() => trustedCertificate(realAlipayCert, realRoots, in2021)).toThrow(AlipayCertificateError);
    expect(() => trustedCertificate(realAlipayCert, realRoots, in2021)).toThrow(/does not chain to the configured root/);
    expect(() => trustedCertificate(realAppCert, realRoots, in2021)).toThrow(/does not chain/);
  });

  it("refuses a real certificate that expired, before looking further", () => {
    expect(() => trustedCertificate(realAlipayCert, realRoots, Date.parse("2026-01-01T00:00:00Z"))).toThrow(/expired or not yet valid/);
  });

  it("accepts a certificate with its intermediate, in either order, and gives the end certificate's SN", () => {
    const [end, intermediate] = parseCertificates(rotated.chain, "chain");
    const expected = certificateSn(new X509Certificate(rotated.alipayCert));
    expect(trustedCertificate(rotated.chain, roots)).toMatchObject({ sn: expected });
    expect(trustedCertificate(`${intermediate!.toString()}\n${end!.toString()}`, roots).sn).toBe(expected);
    expect(trustedCertificate(rotated.chain, roots).certificate.publicKey.export({ type: "spki", format: "pem" })).toBe(
      end!.publicKey.export({ type: "spki", format: "pem" }),
    );
  });

  it("refuses the certificate without its intermediate, one of another root, and one past its validity", () => {
    expect(() => trustedCertificate(rotated.alipayCert, roots)).toThrow(/does not chain/);
    const foreign = issueAlipayCertificate({ alipayPrivateKey: generateRsaKeyPair().privateKeyPkcs8 });
    expect(() => trustedCertificate(foreign.chain, roots)).toThrow(/does not chain/);
    // The simulator's chain against Alipay's real root bundle (SM2, ECDSA and RSA roots): refused.
    expect(() => trustedCertificate(rotated.chain, realRoots)).toThrow(/does not chain/);
    expect(() => trustedCertificate(rotated.chain, roots, Date.parse("2999-01-01T00:00:00Z"))).toThrow(/expired/);
  });

  it("refuses what is not a certificate", () => {
    expect(() => trustedCertificate("not a certificate", roots)).toThrow(AlipayCertificateError);
  });
});

describe("alipay_cert_sn of an answer", () => {
  it("is read from the raw answer, an md5 hex digest only", () => {
    expect(
      answerCertSn('{"alipay_trade_query_response":{"code":"10000"},"alipay_cert_sn":"7513DAAAA48AA3BA2E4018D84402479C","sign":"x"}'),
    ).toBe("7513daaaa48aa3ba2e4018d84402479c");
    expect(answerCertSn('{"alipay_trade_query_response":{"code":"10000"},"sign":"x"}')).toBeUndefined();
    expect(answerCertSn('{"alipay_cert_sn":"<script>"}')).toBeUndefined();
    expect(answerCertSn("not json")).toBeUndefined();
  });
});

describe("what a container learns", () => {
  it("keys learned per root bundle, refusals for a minute, one fetch per SN, one probe a minute", async () => {
    forgetRotations();
    const key = new X509Certificate(realAlipayCert).publicKey;
    learn("root-a", "sn-1", key);
    expect(learnedKey("root-a", "sn-1")).toBe(key);
    expect(learnedKey("root-b", "sn-1")).toBeUndefined();
    expect(learnedKeys("root-a")).toEqual([key]);
    refuse("root-a", "sn-2", 1000);
    expect(recentlyRefused("root-a", "sn-2", 1000 + 59_999)).toBe(true);
    expect(recentlyRefused("root-a", "sn-2", 1000 + 60_000)).toBe(false);
    let fetches = 0;
    const fetch = async () => {
      fetches += 1;
      await new Promise((r) => setTimeout(r, 10));
      return key;
    };
    await Promise.all([learnOnce("root-a", "sn-3", fetch), learnOnce("root-a", "sn-3", fetch)]);
    expect(fetches).toBe(1);
    expect(takeProbe(100_000)).toBe(true);
    expect(takeProbe(159_999)).toBe(false);
    expect(takeProbe(160_000)).toBe(true);
    forgetRotations();
    expect(learnedKeys("root-a")).toEqual([]);
  });
});
