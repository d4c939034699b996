// Money is integer fen inside; Alipay speaks yuan strings with exactly two decimals.
// Conversions are string <-> integer only: no floating point ever touches an amount.

/** Alipay's bounds for one App Pay trade: 0.01 to 100,000,000.00 yuan. */
export const minAmountFen = 1;
export const maxAmountFen = 10_000_000_000;

const yuanPattern = /^(0|[1-9]\d{0,9})\.(\d{2})$/;

export function isValidAmountFen(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= minAmountFen && value <= maxAmountFen;
}

export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen) || fen < 0) throw new RangeError(`not an amount in fen: ${fen}`);
  const text = String(fen).padStart(3, "0");
  return `${text.slice(0, -2)}.${text.slice(-2)}`;
}

/** Parses Alipay's "12.34"; undefined for anything that is not exactly that shape. */
export function yuanToFen(yuan: string | undefined): number | undefined {
  const match = yuan === undefined ? null : yuanPattern.exec(yuan);
  if (!match) return undefined;
  return Number(match[1]) * 100 + Number(match[2]);
}
