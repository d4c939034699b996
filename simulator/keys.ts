// RSA key handling for the simulator: throwaway RSA-2048 pairs, and tolerant loading of the PEM
// (or bare base64, as Alipay's console hands them out) keys it is configured with.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";

export interface RsaKeyPair {
  /** `-----BEGIN PRIVATE KEY-----` (use `keyType: 'PKCS8'` with alipay-sdk). */
  privateKeyPkcs8: string;
  /** `-----BEGIN RSA PRIVATE KEY-----` (alipay-sdk's default `keyType: 'PKCS1'`). */
  privateKeyPkcs1: string;
  /** `-----BEGIN PUBLIC KEY-----` (SPKI). */
  publicKey: string;
}

/** A fresh RSA-2048 pair; every PEM is trimmed (no trailing newline). */
export function generateRsaKeyPair(): RsaKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKeyPkcs8: String(privateKey.export({ type: "pkcs8", format: "pem" })).trim(),
    privateKeyPkcs1: String(privateKey.export({ type: "pkcs1", format: "pem" })).trim(),
    publicKey: String(publicKey.export({ type: "spki", format: "pem" })).trim(),
  };
}

function bareBase64(text: string): Buffer | undefined {
  const compact = text.replace(/\s+/g, "");
  return /^[A-Za-z0-9+/]+=*$/.test(compact) ? Buffer.from(compact, "base64") : undefined;
}

/** A private key from a PKCS#8 / PKCS#1 PEM, or from the bare base64 body of either. */
export function loadPrivateKey(text: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.includes("-----BEGIN")) return createPrivateKey(trimmed);
  const der = bareBase64(trimmed);
  if (!der) throw new TypeError("private key is neither PEM nor base64");
  try {
    return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } catch {
    return createPrivateKey({ key: der, format: "der", type: "pkcs1" });
  }
}

/** A public key from an SPKI / PKCS#1 PEM, or from the bare base64 SPKI body. */
export function loadPublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.includes("-----BEGIN")) return createPublicKey(trimmed);
  const der = bareBase64(trimmed);
  if (!der) throw new TypeError("public key is neither PEM nor base64");
  try {
    return createPublicKey({ key: der, format: "der", type: "spki" });
  } catch {
    return createPublicKey({ key: der, format: "der", type: "pkcs1" });
  }
}

/** The SPKI PEM (trimmed) of the public half of a private key. */
export function publicPemOf(privateKey: KeyObject): string {
  return String(createPublicKey(privateKey).export({ type: "spki", format: "pem" })).trim();
}
