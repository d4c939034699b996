// Alipay's RSA2 (SHA256withRSA) strings to sign, and the exact JSON text the gateway answers with.
import { createSign, createVerify, type KeyObject } from "node:crypto";

export type Params = Record<string, string>;

/**
 * The string Alipay signs / verifies: params minus `sign` (and minus `sign_type` when asked, as
 * for notifications), minus empty values, sorted by key (code unit order), raw `k=v` joined by `&`.
 */
export function signContent(params: Params, options: { excludeSignType?: boolean } = {}): string {
  return Object.keys(params)
    .filter((key) => key !== "sign" && !(options.excludeSignType && key === "sign_type"))
    .filter((key) => params[key] !== undefined && params[key] !== "")
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join("&");
}

export function rsa2Sign(content: string, privateKey: KeyObject): string {
  return createSign("RSA-SHA256").update(content, "utf8").sign(privateKey, "base64");
}

export function rsa2Verify(content: string, signature: string | undefined, publicKey: KeyObject): boolean {
  if (!signature) return false;
  try {
    return createVerify("RSA-SHA256").update(content, "utf8").verify(publicKey, signature, "base64");
  } catch {
    return false;
  }
}

/**
 * JSON as Alipay's gateway writes it: compact, non-ASCII left as is, `/` escaped as `\/`
 * (its responses carry `https:\/\/...`). Clients must verify the raw bytes, never a re-serialization.
 */
export function alipayJson(value: unknown): string {
  return JSON.stringify(value).replace(/\//g, "\\/");
}

/** Escapes like the `sub_msg` of `isv.invalid-signature` (`&amp;`, `&quot;`). */
export function htmlEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
