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

/**
 * The end certificate of an app or Alipay public-key certificate setting: the only one, or, in a
 * pasted chain (the certificate and its issuers, in either order), the one that issued none of the
 * others. Taking the first of a chain pasted issuer-first gave the issuer's key: accepted at start,
 * then every notification and answer failed its signature (issue 19).
 */
export function endCertificate(text: string, name: string): X509Certificate {
  const certificates = parseCertificates(text, name);
  if (certificates.length === 1) return certificates[0]!;
  // b.checkIssued(a): b was issued by a, so a is an issuer, not the end of the chain.
  const ends = certificates.filter((a) => !certificates.some((b) => b !== a && b.checkIssued(a)));
  if (ends.length !== 1) {
    throw new AlipayCertificateError(`${name} holds ${certificates.length} certificates that are not one certificate and its issuers`);
  }
  return ends[0]!;
}

/** The SN of an app or Alipay public-key certificate setting (its end certificate). */
export function certificateFileSn(text: string, name: string): string {
  return certificateSn(endCertificate(text, name));
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

/** The public key of Alipay's public-key certificate (alipayCertPublicKey_RSA2.crt, or a chain of it). */
export function certificatePublicKey(text: string, name: string): KeyObject {
  return endCertificate(text, name).publicKey;
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

/** An Alipay public-key certificate fetched after a rotation, checked against the root bundle. */
export interface TrustedCertificate {
  certificate: X509Certificate;
  sn: string;
}

/**
 * Checks a certificate Alipay's gateway handed out (alipay.open.app.alipaycert.download, whose
 * answer is not signed) as the official Java SDK does (AntCertificationUtil.isTrusted): its end
 * certificate must lead, through the intermediates in the same text (any order), to a certificate
 * of the configured root bundle, every signature verifying and every certificate valid at `now`.
 * Roots of other algorithms (SM2, ECDSA) are tried like the rest; one that cannot verify is passed
 * over. Throws AlipayCertificateError saying why; the text itself is never quoted.
 */
export function trustedCertificate(text: string, roots: readonly X509Certificate[], now = Date.now()): TrustedCertificate {
  const certificates = parseCertificates(text, "the downloaded certificate");
  const end = endCertificate(text, "the downloaded certificate");
  const validAt = (certificate: X509Certificate) => Date.parse(certificate.validFrom) <= now && now <= Date.parse(certificate.validTo);
  const issuedBy = (subject: X509Certificate, issuer: X509Certificate) => {
    try {
      return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
    } catch {
      return false;
    }
  };
  let current = end;
  for (let depth = 0; depth <= certificates.length; depth++) {
    if (!validAt(current)) throw new AlipayCertificateError("a certificate of the chain is expired or not yet valid");
    const root = roots.find((candidate) => issuedBy(current, candidate));
    if (root) {
      if (!validAt(root)) throw new AlipayCertificateError("the root certificate is expired");
      return { certificate: end, sn: certificateSn(end) };
    }
    const issuer = certificates.find((candidate) => candidate !== current && issuedBy(current, candidate));
    if (!issuer) throw new AlipayCertificateError("the certificate does not chain to the configured root certificate");
    current = issuer;
  }
  throw new AlipayCertificateError("the certificate chain loops");
}
