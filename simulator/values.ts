// Money (integer fen <-> yuan strings, never floating point), GMT+8 times, and Alipay-shaped ids.
import { createHash, randomInt } from "node:crypto";

export const minTotalFen = 1;
export const maxTotalFen = 10_000_000_000; // 100,000,000.00 yuan

const yuanPattern = /^(0|[1-9]\d{0,9})(?:\.(\d{1,2}))?$/;

/**
 * Parses an amount in yuan as Alipay accepts it in `biz_content` ("12.34", "12.3", "12"; a JSON
 * number is taken through its decimal text). Undefined for anything else (signs, 3 decimals, ...).
 */
export function parseYuan(value: unknown): number | undefined {
  let text: string;
  if (typeof value === "string") text = value.trim();
  else if (typeof value === "number" && Number.isFinite(value)) text = String(value);
  else return undefined;
  const match = yuanPattern.exec(text);
  if (!match) return undefined;
  const fen = Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
  return Number.isSafeInteger(fen) ? fen : undefined;
}

/** Integer fen to Alipay's yuan string with exactly two decimals. */
export function formatFen(fen: number): string {
  if (!Number.isSafeInteger(fen) || fen < 0) throw new RangeError(`not an amount in fen: ${fen}`);
  const text = String(fen).padStart(3, "0");
  return `${text.slice(0, -2)}.${text.slice(-2)}`;
}

const gmt8OffsetMs = 8 * 3600 * 1000;

/** `yyyy-MM-dd HH:mm:ss` in GMT+8 (Alipay's clock). */
export function formatGmt8(epochMs: number): string {
  const iso = new Date(Math.floor(epochMs / 1000) * 1000 + gmt8OffsetMs).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** Parses `yyyy-MM-dd HH:mm:ss` as GMT+8; undefined unless the text is exactly a valid time. */
export function parseGmt8(text: string | undefined): number | undefined {
  const match = text === undefined ? null : /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!match) return undefined;
  const [y, mo, d, h, mi, s] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const epoch = Date.UTC(y, mo - 1, d, h, mi, s) - gmt8OffsetMs;
  return formatGmt8(epoch) === text ? epoch : undefined;
}

/** `timeout_express`: "90m", "2h", "1d", or "1c" (until the end of the day, GMT+8). */
export function timeoutExpressDeadline(text: string | undefined, fromMs: number): number | undefined {
  const match = text === undefined ? null : /^(\d+)([mhdc])$/.exec(text.trim());
  if (!match) return undefined;
  const n = Number(match[1]);
  switch (match[2]) {
    case "m":
      return fromMs + n * 60_000;
    case "h":
      return fromMs + n * 3_600_000;
    case "d":
      return fromMs + n * 86_400_000;
    default: {
      const dayStart = parseGmt8(`${formatGmt8(fromMs).slice(0, 10)} 00:00:00`)!;
      return dayStart + 86_400_000 - 1000;
    }
  }
}

function digits(count: number): string {
  let out = "";
  for (let i = 0; i < count; i++) out += String(randomInt(10));
  return out;
}

function gmt8Date(epochMs: number): string {
  return formatGmt8(epochMs).slice(0, 10).replace(/-/g, "");
}

/** 28 digits like `2026112522001` + 15 more: yyyyMMdd, 22001, then unique digits. */
export function newTradeNo(nowMs = Date.now()): string {
  return `${gmt8Date(nowMs)}22001${digits(15)}`;
}

/** Alipay user ids: `2088` + 12 digits. */
export function newBuyerId(): string {
  return `2088${digits(12)}`;
}

export const buyerIdPattern = /^2088\d{12}$/;

/** The buyer's OpenID for one app: stable per (app, buyer), opaque, 47 characters like Alipay's. */
export function buyerOpenId(appId: string, buyerId: string): string {
  const digest = createHash("sha512")
    .update(`${appId}:${buyerId}`)
    .digest("base64")
    .replace(/[^A-Za-z0-9]/g, "");
  return `0${digest.slice(0, 46)}`;
}

/** The buyer field an app's answers and notifications carry: `<prefix>_id` or `buyer_open_id`. */
export function buyerField(
  app: { appId: string; buyerIdType?: "user_id" | "open_id" },
  buyerId: string,
  userIdField: string,
): Record<string, string> {
  return app.buyerIdType === "open_id" ? { buyer_open_id: buyerOpenId(app.appId, buyerId) } : { [userIdField]: buyerId };
}

/** A masked logon id as Alipay shows it (`138****1234`). */
export function maskedLogonId(buyerId: string): string {
  return `13${buyerId.slice(-1)}****${buyerId.slice(-4)}`;
}

/** 34 digits like real notify ids: yyyyMMdd, 00222, then unique digits. */
export function newNotifyId(nowMs = Date.now()): string {
  return `${gmt8Date(nowMs)}00222${digits(21)}`;
}
