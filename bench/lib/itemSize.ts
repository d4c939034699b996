// DynamoDB's item size (what capacity is billed on), from a plain (unmarshalled) item, following
// AWS's documented rules: names + values, strings as UTF-8, numbers ~1 byte per 2 significant
// digits + 1, lists and maps 3 bytes + 1 byte per element. An estimate to within a few bytes.
export function itemSizeBytes(item: object): number {
  return Object.entries(item).reduce((n, [name, value]) => n + Buffer.byteLength(name) + valueSize(value), 0);
}

function valueSize(value: unknown): number {
  if (value === null || value === undefined || typeof value === "boolean") return 1;
  if (typeof value === "string") return Buffer.byteLength(value);
  if (typeof value === "number" || typeof value === "bigint") {
    const digits = String(value).replace(/^-/, "").replace(".", "").replace(/^0+/, "").replace(/0+$/, "").length || 1;
    return Math.ceil(digits / 2) + 1;
  }
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return 3 + value.reduce((n: number, v) => n + 1 + valueSize(v), 0);
  if (value instanceof Set) return [...value].reduce((n: number, v) => n + valueSize(v), 0);
  if (typeof value === "object") {
    return 3 + Object.entries(value as Record<string, unknown>).reduce((n, [k, v]) => n + 1 + Buffer.byteLength(k) + valueSize(v), 0);
  }
  return 0;
}

/** On-demand write units for writing an item of this size (1 per started KB; x2 in a transaction). */
export const writeUnits = (bytes: number, transactional = false) => Math.max(1, Math.ceil(bytes / 1024)) * (transactional ? 2 : 1);
/** Read units of a strongly consistent read of this size (1 per started 4 KB; half if eventually consistent). */
export const readUnits = (bytes: number, consistent = true) => Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);
