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
  /** The RSA root and its private key: what Alipay keeps to issue its next certificate (rotation). */
  ca: CertificateAuthority;
}

/** A certificate authority the simulator can issue with (PEMs). */
export interface CertificateAuthority {
  cert: string;
  key: string;
}

type Openssl = (...args: string[]) => Buffer;

function withOpenssl<T>(body: (file: (name: string) => string, openssl: Openssl) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "alipay-sim-ca-"));
  try {
    return body(
      (name) => join(dir, name),
      (...args) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A new self-signed root, `<name>.key` and `<name>.crt`, ten years; `newkey` is openssl's key spec. */
function selfSignedRoot(
  file: (name: string) => string,
  openssl: Openssl,
  { name, newkey, subject }: { name: string; newkey: string[]; subject: string },
): void {
  openssl(
    "req",
    "-x509",
    "-nodes",
    "-days",
    "3650",
    "-newkey",
    ...newkey,
    "-keyout",
    file(`${name}.key`),
    "-out",
    file(`${name}.crt`),
    "-subj",
    subject,
  );
}

/** `<csr>.csr` signed by the authority `<ca>.crt` / `<ca>.key` into `<csr>.crt`: ten years, SHA-256, `extfile`'s extensions. */
function signCsr(
  file: (name: string) => string,
  openssl: Openssl,
  { csr, ca, extfile }: { csr: string; ca: string; extfile?: string },
): void {
  openssl(
    "x509",
    "-req",
    "-in",
    file(`${csr}.csr`),
    "-CA",
    file(`${ca}.crt`),
    "-CAkey",
    file(`${ca}.key`),
    "-CAcreateserial",
    "-days",
    "3650",
    "-sha256",
    ...(extfile ? ["-extfile", file(extfile)] : []),
    "-out",
    file(`${csr}.crt`),
  );
}

/**
 * Alipay's next public-key certificate after a rotation, for `alipayPrivateKey` (a new key, or the
 * same one: Alipay re-issues with a new SN either way). As Alipay's are, it is issued by an
 * intermediate ("Class 2") the root issued; `chain` (the certificate, then the intermediate) is
 * what alipay.open.app.alipaycert.download hands out, so a client can walk it to its root bundle.
 * Without `ca`, a throwaway root issues it: a certificate that chains to no root the merchant holds.
 */
export function issueAlipayCertificate(input: { ca?: CertificateAuthority; alipayPrivateKey: string }): {
  alipayCert: string;
  chain: string;
} {
  return withOpenssl((file, openssl) => {
    if (input.ca) {
      writeFileSync(file("root.crt"), input.ca.cert);
      writeFileSync(file("root.key"), input.ca.key);
    } else {
      selfSignedRoot(file, openssl, {
        name: "root",
        newkey: ["rsa:2048"],
        subject: "/C=CN/O=Not Ant Financial/OU=Certification Authority/CN=Untrusted Root CA R1",
      });
    }
    writeFileSync(file("alipay.key"), input.alipayPrivateKey);
    writeFileSync(file("ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
    writeFileSync(file("end.ext"), "keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment\n");
    openssl(
      "req",
      "-new",
      "-nodes",
      "-newkey",
      "rsa:2048",
      "-keyout",
      file("class2.key"),
      "-out",
      file("class2.csr"),
      "-subj",
      "/C=CN/O=Simulated Ant Financial/OU=Certification Authority/CN=Simulated Ant Financial Certification Authority Class 2 R1",
    );
    signCsr(file, openssl, { csr: "class2", ca: "root", extfile: "ca.ext" });
    openssl(
      "req",
      "-new",
      "-key",
      file("alipay.key"),
      "-subj",
      "/C=CN/O=Simulated Alipay/OU=Alipay/CN=Alipay RSA2",
      "-out",
      file("alipay.csr"),
    );
    signCsr(file, openssl, { csr: "alipay", ca: "class2", extfile: "end.ext" });
    const alipayCert = readFileSync(file("alipay.crt"), "utf8").trim();
    return { alipayCert, chain: `${alipayCert}\n${readFileSync(file("class2.crt"), "utf8").trim()}` };
  });
}

/**
 * Issues the three files with the openssl CLI (local runs and tests only): certificates for the
 * app's and Alipay's existing key pairs, both signed by a throwaway RSA root, whose key is kept
 * (`ca`) so the simulator can rotate Alipay's certificate as Alipay does.
 */
export function issueCertificates(input: { appId: string; appPrivateKey: string; alipayPrivateKey: string }): IssuedCertificates {
  return withOpenssl((file, openssl) => {
    writeFileSync(file("app.key"), input.appPrivateKey);
    writeFileSync(file("alipay.key"), input.alipayPrivateKey);
    selfSignedRoot(file, openssl, {
      name: "root",
      newkey: ["rsa:2048"],
      subject: "/C=CN/O=Simulated Ant Financial/OU=Certification Authority/CN=Simulated Ant Financial Root CA R1",
    });
    selfSignedRoot(file, openssl, {
      name: "ec",
      newkey: ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
      subject: "/C=CN/O=Simulated Ant Financial/OU=Certification Authority/CN=Simulated Ant Financial Root CA E1",
    });
    const issue = (key: string, subject: string, out: string) => {
      openssl("req", "-new", "-key", file(key), "-subj", subject, "-out", file(`${out}.csr`));
      signCsr(file, openssl, { csr: out, ca: "root" });
      return readFileSync(file(`${out}.crt`), "utf8").trim();
    };
    return {
      appCert: issue("app.key", `/C=CN/O=Simulated merchant/OU=Alipay/CN=${input.appId}`, "app"),
      alipayCert: issue("alipay.key", "/C=CN/O=Simulated Alipay/OU=Alipay/CN=Alipay RSA2", "alipay"),
      rootCert: `${readFileSync(file("ec.crt"), "utf8").trim()}\n${readFileSync(file("root.crt"), "utf8").trim()}`,
      ca: { cert: readFileSync(file("root.crt"), "utf8").trim(), key: readFileSync(file("root.key"), "utf8").trim() },
    };
  });
}
