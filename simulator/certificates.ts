// Certificate mode (公钥证书) for the simulator: Alipay's serial-number digests of certificates, and a
// local certificate authority (the openssl CLI) that issues what the open platform hands a merchant
// after it uploads its CSR: an app certificate, Alipay's public-key certificate, and a root bundle.
// Written apart from the backend's lib/alipay/certificates.ts on purpose: the simulator stands for Alipay.
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function certificatesIn(pem: string): X509Certificate[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]));
}

/** md5 of the issuer DN (`CN=…,OU=…,O=…,C=…`) followed by the decimal serial: Alipay's certificate SN. */
export function certSn(certificate: X509Certificate): string {
  const issuerDn = certificate.issuer.split("\n").reverse().join(",");
  return createHash("md5")
    .update(issuerDn + BigInt(`0x${certificate.serialNumber}`).toString(10))
    .digest("hex");
}

/** The SN of the first certificate of a PEM file. */
export function firstCertSn(pem: string): string {
  const [first] = certificatesIn(pem);
  if (!first) throw new TypeError("no certificate in PEM");
  return certSn(first);
}

/** The root bundle's SN: the SNs of its RSA-signed certificates (sha1/sha256WithRSA), joined by `_`. */
export function rootCertSn(pem: string): string {
  return certificatesIn(pem)
    .filter((certificate) => /WithRSAEncryption/i.test(signatureAlgorithmOf(certificate)))
    .map(certSn)
    .join("_");
}

// Node 20's X509Certificate does not expose the signature algorithm: openssl reads it (once, at start).
function signatureAlgorithmOf(certificate: X509Certificate): string {
  return (
    execFileSync("openssl", ["x509", "-noout", "-text"], { input: certificate.toString() })
      .toString()
      .match(/Signature Algorithm: (\S+)/)?.[1] ?? ""
  );
}

/** The public key (SPKI PEM) inside a certificate. */
export function certPublicKey(pem: string): string {
  const [first] = certificatesIn(pem);
  if (!first) throw new TypeError("no certificate in PEM");
  return String(first.publicKey.export({ type: "spki", format: "pem" })).trim();
}

export interface IssuedCertificates {
  /** appCertPublicKey_<APPID>.crt: the app's public key, issued by the RSA root. */
  appCert: string;
  /** alipayCertPublicKey_RSA2.crt: Alipay's public key, issued by the RSA root. */
  alipayCert: string;
  /** alipayRootCert.crt: an ECDSA root (left out of the SN, as Alipay's SM2/ECDSA roots are) and the RSA root. */
  rootCert: string;
}

/**
 * Issues the three files with the openssl CLI (local runs and tests only): certificates for the
 * app's and Alipay's existing key pairs, both signed by a throwaway RSA root.
 */
export function issueCertificates(input: { appId: string; appPrivateKey: string; alipayPrivateKey: string }): IssuedCertificates {
  const dir = mkdtempSync(join(tmpdir(), "alipay-sim-ca-"));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  try {
    writeFileSync(file("app.key"), input.appPrivateKey);
    writeFileSync(file("alipay.key"), input.alipayPrivateKey);
    const root = ["-x509", "-nodes", "-days", "3650"];
    openssl(
      "req",
      ...root,
      "-newkey",
      "rsa:2048",
      "-keyout",
      file("root.key"),
      "-out",
      file("root.crt"),
      "-subj",
      "/C=CN/O=Simulated Ant Financial/OU=Certification Authority/CN=Simulated Ant Financial Root CA R1",
    );
    openssl(
      "req",
      ...root,
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-keyout",
      file("ec.key"),
      "-out",
      file("ec.crt"),
      "-subj",
      "/C=CN/O=Simulated Ant Financial/OU=Certification Authority/CN=Simulated Ant Financial Root CA E1",
    );
    const issue = (key: string, subject: string, out: string) => {
      openssl("req", "-new", "-key", file(key), "-subj", subject, "-out", file(`${out}.csr`));
      openssl(
        "x509",
        "-req",
        "-in",
        file(`${out}.csr`),
        "-CA",
        file("root.crt"),
        "-CAkey",
        file("root.key"),
        "-CAcreateserial",
        "-days",
        "3650",
        "-sha256",
        "-out",
        file(`${out}.crt`),
      );
      return readFileSync(file(`${out}.crt`), "utf8").trim();
    };
    return {
      appCert: issue("app.key", `/C=CN/O=Simulated merchant/OU=Alipay/CN=${input.appId}`, "app"),
      alipayCert: issue("alipay.key", "/C=CN/O=Simulated Alipay/OU=Alipay/CN=Alipay RSA2", "alipay"),
      rootCert: `${readFileSync(file("ec.crt"), "utf8").trim()}\n${readFileSync(file("root.crt"), "utf8").trim()}`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
