// Plain-text tables and the small statistics the sections print.
import { appendFileSync } from "node:fs";

export type Cell = string | number | undefined;

/** A plain-text table: first column left-aligned, the rest right-aligned. */
export function table(title: string, header: string[], rows: Cell[][], notes: string[] = []): string {
  const text = rows.map((r) => header.map((_, i) => cell(r[i])));
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [title, "=".repeat(title.length), line(header), rule, ...text.map(line), ...notes.map((n) => `  ${n}`), ""].join("\n");
}

function cell(value: Cell): string {
  if (value === undefined) return "";
  if (typeof value === "number") return num(value);
  return value;
}

/** Integers as is (with thousands separators); others with 3 significant figures, at most 2 decimals. */
export function num(value: number, decimals?: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (decimals !== undefined) return value.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function kib(bytes: number): string {
  return `${num(bytes / 1024, 1)} KB`;
}

/** Progress lines go to stderr, so stdout is only the tables. */
export function progress(line: string): void {
  process.stderr.write(`  … ${line}\n`);
}

/** Sections report their figures here (a JSON line per section) for bench/README.md. */
export function report(section: string, data: unknown): void {
  const file = process.env.BENCH_RESULTS_FILE;
  if (file) appendFileSync(file, `${JSON.stringify({ section, data })}\n`);
}

/** Sizes scale down with BENCH_QUICK=1 and can be set one by one. */
export const quick = process.env.BENCH_QUICK === "1" || process.env.BENCH_QUICK === "true";

export function envInt(name: string, normal: number, quickValue: number): number {
  const raw = process.env[name];
  if (raw !== undefined && raw !== "") {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
    return value;
  }
  return quick ? quickValue : normal;
}

export function envList(name: string, normal: number[], quickValue: number[]): number[] {
  const raw = process.env[name];
  if (raw !== undefined && raw !== "") {
    return raw.split(",").map((s) => {
      const value = Number(s.trim().replace(/_/g, ""));
      if (!Number.isInteger(value) || value < 0) throw new Error(`${name}: bad entry "${s}"`);
      return value;
    });
  }
  return quick ? quickValue : normal;
}
