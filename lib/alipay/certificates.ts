// Certificate mode (公钥证书) with node:crypto alone: the serial-number digests Alipay expects on
// every request (`app_cert_sn`, `alipay_root_cert_sn`) and the public key inside Alipay's certificate.
// alipay-sdk computes the same with @fidm/x509 and bignumber.js (src/antcertutil.ts), which the
// bundles leave out (esbuild.config.cjs): md5 of the issuer DN in RFC 2253 order (most specific
// first, `CN=…,OU=…,O=…,C=CN`) followed by the serial number in decimal.
import { createHash, type KeyObject, X509Certificate } from "node:crypto";

export class AlipayCertificateError extends Error {
  override name = "AlipayCertificateError";
}

/** Every certificate in a PEM text (a root bundle holds several), or one bare base64 DER certificate. */
export function parseCertificates(text: string, name: string): X509Certificate[] {
  const normalised = text.replace(/\\r/g, "").replace(/\\n/g, "\n").trim();
  if (normalised === "") throw new AlipayCertificateError(`${name} is empty`);
  const blocks = [...normalised.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => m[1]!);
  if (blocks.length === 0 && normalised.includes("-----BEGIN")) {
    throw new AlipayCertificateError(`${name} holds no certificate (a key where a certificate belongs?)`);
  }
  const bodies = blocks.length ? blocks : [normalised];
  return bodies.map((body, index) => {
    const compact = body.replace(/\s+/g, "");
    try {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new Error("not base64");
      return new X509Certificate(Buffer.from(compact, "base64"));
    } catch {
      throw new AlipayCertificateError(`${name}: certificate ${index + 1} is not a readable X.509 certificate`);
    }
  });
}

/** Alipay's SN of one certificate: md5_hex(issuer DN, most specific RDN first, + decimal serial). */
export function certificateSn(certificate: X509Certificate): string {
  // Node lists the issuer's RDNs one a line, most general (C=) first.
  const issuer = certificate.issuer.split("\n").reverse().join(",");
  const serial = BigInt(`0x${certificate.serialNumber}`).toString(10);
  return createHash("md5").update(`${issuer}${serial}`, "utf8").digest("hex");
}

/** The SN of an app or Alipay public-key certificate file (the first certificate in it). */
export function certificateFileSn(text: string, name: string): string {
  return certificateSn(parseCertificates(text, name)[0]!);
}

const rsaSignatureOidPrefix = "1.2.840.113549.1.1";

/**
 * `alipay_root_cert_sn`: the SNs of the RSA-signed certificates in Alipay's root bundle (it also
 * holds SM2 and ECDSA roots, which Alipay leaves out), joined by `_`.
 */
export function rootCertificateSn(text: string, name = "ALIPAY_ROOT_CERT"): string {
  const sns = parseCertificates(text, name)
    .filter((certificate) => signatureAlgorithmOid(certificate.raw).startsWith(`${rsaSignatureOidPrefix}.`))
    .map(certificateSn);
  if (sns.length === 0) throw new AlipayCertificateError(`${name} holds no RSA-signed root certificate`);
  return sns.join("_");
}

/** The public key of Alipay's public-key certificate (alipayCertPublicKey_RSA2.crt). */
export function certificatePublicKey(text: string, name: string): KeyObject {
  return parseCertificates(text, name)[0]!.publicKey;
}

/** One DER element: where its content starts and ends. */
function element(der: Buffer, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  if (start + length > der.length) throw new AlipayCertificateError("truncated certificate");
  return { tag, start, end: start + length };
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm SEQUENCE { OID, ... }, signature }. */
export function signatureAlgorithmOid(der: Buffer): string {
  const certificate = element(der, 0);
  const tbs = element(der, certificate.start);
  const algorithm = element(der, tbs.end);
  const oid = element(der, algorithm.start);
  if (oid.tag !== 0x06) throw new AlipayCertificateError("certificate without a signature algorithm");
  const bytes = der.subarray(oid.start, oid.end);
  const parts = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
  let value = 0;
  for (const byte of bytes.subarray(1)) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join(".");
}
