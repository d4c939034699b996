// An asynchronous notification's form body, decoded exactly once in the charset it names. Alipay
// writes notifications in the charset of the app's requests: UTF-8 for us, but GBK for apps set up
// that way, percent-encoded GBK bytes with `charset=gbk`, signed over the GBK bytes of the string to
// sign. Those bytes are kept as they came, so no GBK encoder is needed (nor bundled) to verify them.
import { decodeGbk } from "../gbk.js";

const maxNotifyBytes = 64 * 1024;

export interface NotificationForm {
  params: Record<string, string>;
  /**
   * GBK notifications only: the bytes Alipay signed (fields minus `sign`, `sign_type` and empty
   * values, sorted by name, `k=v` joined by `&`), in GBK. UTF-8 ones verify from `params`.
   */
  gbkSignedContent?: Buffer;
}

export const isGbkCharset = (charset: string | undefined): boolean => /^(gbk|gb2312)$/i.test(charset ?? "");

/** The fields of a form body, or undefined when it is not one Alipay would send. */
export function parseNotificationForm(raw: string): NotificationForm | undefined {
  if (raw.length === 0 || raw.length > maxNotifyBytes) return undefined;
  let utf8: URLSearchParams;
  try {
    utf8 = new URLSearchParams(raw);
  } catch {
    return undefined;
  }
  if (isGbkCharset(utf8.get("charset") ?? undefined)) return parseGbk(raw);
  const params: Record<string, string> = {};
  for (const [key, value] of utf8) {
    if (key in params) return undefined; // a repeated field is never Alipay's
    params[key] = value;
  }
  return { params };
}

function parseGbk(raw: string): NotificationForm | undefined {
  const fields = new Map<string, { keyBytes: Buffer; bytes: Buffer; value: string }>();
  for (const pair of raw.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const keyBytes = formBytes(eq < 0 ? pair : pair.slice(0, eq));
    const bytes = formBytes(eq < 0 ? "" : pair.slice(eq + 1));
    if (!keyBytes || !bytes) return undefined; // not percent-encoded
    // Bytes that are not GBK decode to U+FFFD; the signature, over the bytes themselves, then fails.
    const key = decodeGbk(keyBytes);
    if (fields.has(key)) return undefined;
    fields.set(key, { keyBytes, bytes, value: decodeGbk(bytes) });
  }
  const signed = [...fields.keys()]
    .filter((key) => key !== "sign" && key !== "sign_type" && fields.get(key)!.value !== "")
    .sort()
    .flatMap((key, i) => {
      const field = fields.get(key)!;
      return [Buffer.from(i ? "&" : ""), field.keyBytes, Buffer.from("="), field.bytes];
    });
  return {
    params: Object.fromEntries([...fields].map(([key, { value }]) => [key, value])),
    gbkSignedContent: Buffer.concat(signed),
  };
}

/** The bytes of one form-encoded component (`+` a space, `%XX` a byte, the rest ASCII), or undefined. */
function formBytes(component: string): Buffer | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < component.length; i++) {
    const char = component[i]!;
    if (char === "+") bytes.push(0x20);
    else if (char === "%" && /^[0-9A-Fa-f]{2}$/.test(component.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(component.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (char.charCodeAt(0) < 0x80 && char !== "%") bytes.push(char.charCodeAt(0));
    else return undefined;
  }
  return Buffer.from(bytes);
}
