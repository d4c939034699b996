// The two RSA keys of the v2 gateway, read in every form Alipay's key tool and console hand out:
// PEM or bare base64 (the tool's default, one line), PKCS#8 (the tool's default) or PKCS#1 (what
// alipay-sdk's README suggests for Node), LF or CRLF line ends, even `\n` written out literally (a
// PEM pasted into an env file). Each key is parsed once by node:crypto, trying the encodings in turn,
// and handed on as one canonical PEM (PKCS#8 / SPKI), so alipay-sdk never guesses its type.
// Errors name the key and the problem, never the key's text.
import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { certificateFileSn, certificateSn, endCertificate, rootCertificateSn } from "./certificates.js";

export class AlipayKeyError extends Error {
  override name = "AlipayKeyError";
}

/** Alipay's RSA2 (SHA256withRSA) needs RSA-2048 or larger. */
const minRsaBits = 2048;

interface Decoded {
  /** The PEM label (`PRIVATE KEY`, `RSA PRIVATE KEY`, `PUBLIC KEY`, ...), undefined for bare base64. */
  label?: string;
  der: Buffer;
}

function decode(text: string, name: string): Decoded {
  // A PEM stored with literal `\n` (base64 never contains a backslash), CRLF or stray indentation.
  const unescaped = text.replace(/\\r/g, "").replace(/\\n/g, "\n").trim();
  if (unescaped === "") throw new AlipayKeyError(`${name} is empty`);
  const pem = /^-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----$/.exec(unescaped);
  const body = (pem ? pem[2]! : unescaped).replace(/\s+/g, "");
  if (pem && /^(Proc-Type|DEK-Info):/m.test(pem[2]!)) throw new AlipayKeyError(`${name} is an encrypted PEM: store it unencrypted`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
    throw new AlipayKeyError(
      unescaped.includes("-----BEGIN")
        ? `${name} is a malformed PEM (its BEGIN/END lines do not match or its body is not base64)`
        : `${name} is neither a PEM nor base64`,
    );
  }
  return pem ? { label: pem[1]!, der: Buffer.from(body, "base64") } : { der: Buffer.from(body, "base64") };
}

function tryParse<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
}

function privateFromDer(der: Buffer): KeyObject | undefined {
  return (
    tryParse(() => createPrivateKey({ key: der, format: "der", type: "pkcs8" })) ??
    tryParse(() => createPrivateKey({ key: der, format: "der", type: "pkcs1" }))
  );
}

function publicFromDer(der: Buffer): KeyObject | undefined {
  return (
    tryParse(() => createPublicKey({ key: der, format: "der", type: "spki" })) ??
    tryParse(() => createPublicKey({ key: der, format: "der", type: "pkcs1" }))
  );
}

function isCertificate(decoded: Decoded): boolean {
  return decoded.label === "CERTIFICATE" || tryParse(() => new X509Certificate(decoded.der)) !== undefined;
}

function checkRsa(key: KeyObject, name: string): void {
  if (key.asymmetricKeyType !== "rsa") {
    throw new AlipayKeyError(`${name} is an ${String(key.asymmetricKeyType)} key: RSA2 needs an RSA key`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < minRsaBits) throw new AlipayKeyError(`${name} is an RSA-${bits} key: RSA2 needs at least ${minRsaBits} bits`);
}

/** The app's private key (signs requests and order strings) as a PKCS#8 PEM. */
export function appPrivateKeyPem(text: string, name = "ALIPAY_APP_PRIVATE_KEY"): string {
  const decoded = decode(text, name);
  if (decoded.label === "ENCRYPTED PRIVATE KEY") throw new AlipayKeyError(`${name} is an encrypted PEM: store it unencrypted`);
  const key = privateFromDer(decoded.der);
  if (!key) {
    if (isCertificate(decoded)) throw new AlipayKeyError(`${name} is a certificate, not the app's private key`);
    if (publicFromDer(decoded.der)) {
      throw new AlipayKeyError(`${name} is a public key: it must be the app's private key (应用私钥), which never leaves the merchant`);
    }
    throw new AlipayKeyError(`${name} is not a PKCS#8 or PKCS#1 private key`);
  }
  checkRsa(key, name);
  return String(key.export({ type: "pkcs8", format: "pem" })).trim();
}

/** Alipay's public key (verifies answers and notifications) as an SPKI PEM. */
export function alipayPublicKeyPem(text: string, name = "ALIPAY_PUBLIC_KEY"): string {
  const decoded = decode(text, name);
  // createPublicKey would quietly derive the public half of a private key: refuse it instead.
  if (decoded.label?.includes("PRIVATE KEY") || privateFromDer(decoded.der)) {
    throw new AlipayKeyError(`${name} is a private key: it must be Alipay's public key (支付宝公钥) from the console`);
  }
  const key = publicFromDer(decoded.der);
  if (!key) {
    if (isCertificate(decoded)) {
      throw new AlipayKeyError(`${name} is a certificate: give Alipay's public key, or use certificate mode (ALIPAY_PUBLIC_CERT)`);
    }
    throw new AlipayKeyError(`${name} is not an SPKI or PKCS#1 public key`);
  }
  checkRsa(key, name);
  return String(key.export({ type: "spki", format: "pem" })).trim();
}

export interface AlipayKeyPems {
  appPrivateKey: string;
  alipayPublicKey: string;
}

/**
 * Both keys, checked together: besides each key's own form, a common mix-up is configuring the
 * app's own public key (应用公钥) where Alipay's public key belongs; nothing would then verify.
 */
export function normaliseAlipayKeys(
  keys: { appPrivateKey: string; alipayPublicKey: string },
  alipayKeyName = "ALIPAY_PUBLIC_KEY",
): AlipayKeyPems {
  const appPrivateKey = appPrivateKeyPem(keys.appPrivateKey);
  const alipayPublicKey = alipayPublicKeyPem(keys.alipayPublicKey, alipayKeyName);
  const appPublicKey = String(createPublicKey(appPrivateKey).export({ type: "spki", format: "pem" })).trim();
  if (appPublicKey === alipayPublicKey) {
    throw new AlipayKeyError(
      `${alipayKeyName} holds the app's own public key (应用公钥): it must be Alipay's (支付宝公钥), from the console`,
    );
  }
  return { appPrivateKey, alipayPublicKey };
}

/** Certificate mode (公钥证书): the three files the merchant downloads after uploading the app's CSR. */
export interface AlipayCertificates {
  /** appCertPublicKey_<APPID>.crt */
  appCert: string;
  /** alipayCertPublicKey_RSA2.crt */
  alipayPublicCert: string;
  /** alipayRootCert.crt (a bundle) */
  alipayRootCert: string;
}

export interface AlipayCredentials {
  appPrivateKey: string;
  /** Public-key mode; unused in certificate mode, where Alipay's key comes from its certificate. */
  alipayPublicKey?: string;
  certificates?: AlipayCertificates;
}

export interface NormalisedCredentials extends AlipayKeyPems {
  /** Certificate mode: sent (and signed) as `app_cert_sn` and `alipay_root_cert_sn` on every request. */
  appCertSn?: string;
  alipayRootCertSn?: string;
  /** Certificate mode: the SN of Alipay's certificate we hold; answers naming another one mean a rotation. */
  alipayCertSn?: string;
}

/**
 * The keys of either mode, checked. In certificate mode Alipay's public key is the one in its
 * certificate (notifications and answers verify with it, as alipay-sdk and the Java SDK do) and the
 * app certificate must be the app private key's own.
 */
export function normaliseAlipayCredentials(credentials: AlipayCredentials): NormalisedCredentials {
  const certificates = credentials.certificates;
  if (!certificates) {
    if (credentials.alipayPublicKey === undefined) {
      throw new AlipayKeyError(
        "ALIPAY_PUBLIC_KEY is missing (or configure certificate mode: ALIPAY_APP_CERT, ALIPAY_PUBLIC_CERT, ALIPAY_ROOT_CERT)",
      );
    }
    return normaliseAlipayKeys({ appPrivateKey: credentials.appPrivateKey, alipayPublicKey: credentials.alipayPublicKey });
  }
  // A pasted chain, in either order: the end certificate's key signs (lib/alipay/certificates.ts).
  const alipayCert = endCertificate(certificates.alipayPublicCert, "ALIPAY_PUBLIC_CERT");
  const alipayPublicKey = String(alipayCert.publicKey.export({ type: "spki", format: "pem" }));
  const keys = normaliseAlipayKeys({ appPrivateKey: credentials.appPrivateKey, alipayPublicKey }, "ALIPAY_PUBLIC_CERT");
  const appCert = endCertificate(certificates.appCert, "ALIPAY_APP_CERT");
  if (!appCert.checkPrivateKey(createPrivateKey(keys.appPrivateKey))) {
    throw new AlipayKeyError("ALIPAY_APP_CERT is not the certificate of ALIPAY_APP_PRIVATE_KEY (应用公钥证书 of another key)");
  }
  return {
    ...keys,
    appCertSn: certificateFileSn(certificates.appCert, "ALIPAY_APP_CERT"),
    alipayRootCertSn: rootCertificateSn(certificates.alipayRootCert, "ALIPAY_ROOT_CERT"),
    alipayCertSn: certificateSn(alipayCert),
  };
}
