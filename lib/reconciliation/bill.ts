// Alipay's daily trade bill (../shared/alipay-facts.md §6.2): a zip of two GBK CSV files,
// `<account>_<yyyyMMdd>_业务明细.csv` (one row per payment and per refund, `#` comment lines
// around the table, the 交易合计 / 退款合计 trailer) and `..._业务明细(汇总).csv` (the 合计 row).
// The download is streamed to a file (Lambda's /tmp), then each entry is streamed through
// GBK decoding (lib/gbk.ts) and read line by line (TableReader): the file is never held in memory.
// yauzl reads the zip by its central directory, so entries written with data descriptors (as Java's
// ZipOutputStream does) are sized exactly rather than found by scanning compressed data for a signature.
// Columns are taken by header name (a wider layout exists); every value is stripped of the TAB
// Alipay pads some columns with. Not a general CSV reader: Alipay writes the business system's
// free text (商品名称, 备注) unescaped, commas and lone quotes included, so one row is one line, the
// header fixes the column count, the free-text columns absorb the fields that do not fit (readLine),
// and a row that still cannot be read is reported alone (BillFacts.unreadable), never shifted and
// never failing the day (issue 19).
import { createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable, Transform, type TransformCallback, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import yauzl from "yauzl";
import { decodeGbk, gbkDecodeStream } from "../gbk.js";
import { yuanToFen } from "../money.js";

export class BillFormatError extends Error {
  override name = "BillFormatError";
}

export interface BillRow {
  kind: "payment" | "refund";
  /** 支付宝交易号 */
  tradeNo: string;
  /** 商户订单号 */
  outTradeNo: string;
  /** 商家实收, as a positive amount (refund rows are negative in the file). */
  amountFen: number;
  /** 完成时间 (GMT+8 `yyyy-MM-dd HH:mm:ss`). */
  completedAt: string;
  /** 退款批次号/请求号: a refund's out_request_no. */
  outRequestNo?: string;
  /** 1-based position among the detail file's rows. */
  row: number;
}

export interface BillCount {
  count: number;
  fen: number;
}

/** What the bill says about itself, next to what its rows add up to. */
export interface BillFacts {
  accountId?: string;
  /** Rows read, by kind (amounts positive). */
  rows: { payments: BillCount; refunds: BillCount };
  /** Rows of another 业务类型 than 交易 / 退款 (not matched, reported). */
  otherRows: number;
  /** The trailer: 交易合计 and 退款合计 (refund fen positive). */
  trailer?: { payments: BillCount; refunds: BillCount };
  /** The summary file's 合计 row. */
  summary?: { payments: number; refunds: number; netFen: number };
  /**
   * Rows of the detail file that could not be read, each alone (the rest of the day is read): how
   * many, and the first maxUnreadableListed with their row number, why, and the ids they show.
   */
  unreadable?: { count: number; rows: UnreadableRow[] };
}

export interface UnreadableRow {
  /** 1-based position among the detail file's rows. */
  row: number;
  reason: UnreadableReason;
  tradeNo?: string;
  outTradeNo?: string;
}

/** Unreadable rows listed by row (all are counted). */
export const maxUnreadableListed = 100;

const column = {
  tradeNo: "支付宝交易号",
  outTradeNo: "商户订单号",
  kind: "业务类型",
  completedAt: "完成时间",
  received: "商家实收（元）",
  outRequestNo: "退款批次号/请求号",
  /** The wider layout's name for the same column. */
  outRequestNoWide: "退款批次号",
} as const;

const clean = (value: unknown) => (typeof value === "string" ? value.replace(/\t/g, "").trim() : "");

/** "-0.01" / "12.34" in fen (signed); undefined when not exactly yuan with two decimals. */
export function signedYuanToFen(text: string): number | undefined {
  const negative = text.startsWith("-");
  const fen = yuanToFen(negative ? text.slice(1) : text);
  return fen === undefined ? undefined : negative ? -fen : fen;
}

const tradeTotals = /^#交易合计：(\d+)笔，商家实收共(-?\d+\.\d{2})元/;
const refundTotals = /^#退款合计：(\d+)笔，商家实收退款共(-?\d+\.\d{2})元/;
const accountLine = /^#账号：\[(\d+)\]/;

/**
 * A bill row is well under 2 KB. A longer line (a file cut or joined wrongly) is one unreadable row,
 * dropped as it streams by: it is never gathered into a growing buffer (that made a 1M-row bill with
 * an early stray quote superlinear under csv-parser).
 */
const maxRowChars = 64 * 1024;

/**
 * The business system's free text: 商品名称 (the subject) and 备注 (the body), written by Alipay as
 * given, unescaped: commas and lone `"` included (issue 19; how Alipay quotes, if ever, is
 * unconfirmed: ../shared/alipay-facts.md §6.2). In the summary file, 门店名称 (a store's name).
 */
const detailFreeText = ["商品名称", "备注"];
const summaryFreeText = ["门店名称"];

/** 创建时间 / 完成时间: GMT+8 `yyyy-MM-dd HH:mm:ss`, or empty. */
const timeValue = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})?$/;
/** Every `（元）` column: signed yuan with two decimals, or empty. */
const amountValue = /^(-?\d+\.\d{2})?$/;
/** The columns before the free text that name the row in a report (no buyer data). */
const tradeNoValue = /^\d{1,64}$/;
const outTradeNoValue = /^[\w.-]{1,64}$/;

/** A value wrapped whole in double quotes (RFC 4180, should Alipay quote one) is unwrapped; any other `"` is text. */
function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1).replace(/""/g, '"') : value;
}

/** How to read the rows under one header: the column count is the header's; free-text columns absorb what does not fit. */
interface TableLayout {
  names: string[];
  /** Indexes of the free-text columns, in order (at most two are searched: the detail file's). */
  free: number[];
  /** Per column, what its value must look like (free text and plain text: anything). */
  checks: Array<RegExp | undefined>;
}

function layoutOf(headerLine: string, freeText: readonly string[]): TableLayout {
  const names = headerLine.split(",").map(clean);
  const free = names.flatMap((name, i) => (freeText.includes(name) ? [i] : [])).slice(0, 2);
  const checks = names.map((name) =>
    name === "创建时间" || name === "完成时间" ? timeValue : name.endsWith("（元）") ? amountValue : undefined,
  );
  return { names, free, checks };
}

/** Why a row could not be read (no values: a row holds buyer data). */
export type UnreadableReason = "too_few_columns" | "too_many_columns" | "values_do_not_fit" | "ambiguous" | "row_too_long" | "no_trade_no";

type RowReading = { values: string[] } | { problem: UnreadableReason };

/**
 * One line of the table, by its layout. Split at every comma; with more fields than the header has
 * columns, the extra fields belong to the free-text columns: every way of giving them to those
 * columns is tried (one way when there is one free column, extra + 1 ways for two) and the row is
 * read only if exactly one way makes every time and amount column a time and an amount. Rows
 * without extra fields are checked the same way. Linear in the line's length for a bounded number
 * of extra commas (the search is at most 65 ways: more extra fields than that is unreadable).
 */
function readLine(line: string, layout: TableLayout): RowReading {
  const fields = line.split(",");
  const extra = fields.length - layout.names.length;
  if (extra < 0) return { problem: "too_few_columns" };
  if (extra > 0 && layout.free.length === 0) return { problem: "too_many_columns" };
  if (extra > 64) return { problem: "too_many_columns" };
  const [first, second] = layout.free;
  const ways = extra === 0 || second === undefined ? [extra] : Array.from({ length: extra + 1 }, (_, i) => i);
  let found: string[] | undefined;
  for (const toFirst of ways) {
    const values: string[] = [];
    let at = 0;
    for (let column = 0; column < layout.names.length; column++) {
      const width = 1 + (column === first ? toFirst : column === second ? extra - toFirst : 0);
      values.push(width === 1 ? fields[at]! : fields.slice(at, at + width).join(","));
      at += width;
    }
    const cleaned = values.map((v) => unquote(clean(v)));
    if (!cleaned.every((v, i) => layout.checks[i]?.test(v) ?? true)) continue;
    if (found) return { problem: "ambiguous" };
    found = cleaned;
  }
  return found ? { values: found } : { problem: "values_do_not_fit" };
}

/** A table line, read (`record` by header name) or not (`problem`), with its 1-based row number. */
type TableItem = { row: number; record: Record<string, string> } | { row: number; problem: UnreadableReason; ids: Record<string, string> };

/**
 * Decoded text in, the table's rows out (object mode): `#` lines go to `onComment`, the first other
 * line is the header, every later non-blank line is one row. Lines are bounded (maxRowChars).
 */
class TableReader extends Transform {
  private rest = "";
  /** Dropping the rest of a line over maxRowChars, up to its end. */
  private skipping = false;
  private layout: TableLayout | undefined;
  private row = 0;

  constructor(
    private readonly onComment: (line: string) => void,
    private readonly freeText: readonly string[],
  ) {
    super({ readableObjectMode: true, decodeStrings: false });
  }

  override _transform(chunk: string, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      let start = 0;
      if (this.skipping) {
        const end = chunk.indexOf("\n");
        if (end < 0) {
          done();
          return;
        }
        this.skipping = false;
        start = end + 1;
      }
      const text = start === 0 ? this.rest + chunk : chunk.slice(start);
      let from = 0;
      for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n", from)) {
        this.line(text.slice(from, end));
        from = end + 1;
      }
      this.rest = text.slice(from);
      if (this.rest.length > maxRowChars) {
        this.rest = "";
        this.skipping = true;
        this.tooLong();
      }
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.rest && !this.skipping) this.line(this.rest);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  private tooLong(): void {
    if (!this.layout) throw new BillFormatError(`a line over ${maxRowChars} characters before the table's header: not a bill`);
    this.row += 1;
    this.push({ row: this.row, problem: "row_too_long", ids: {} } satisfies TableItem);
  }

  private line(raw: string): void {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.startsWith("#")) {
      this.onComment(line);
      return;
    }
    if (line.trim() === "") return;
    if (line.length > maxRowChars) {
      this.tooLong();
      return;
    }
    if (!this.layout) {
      this.layout = layoutOf(line, this.freeText);
      return;
    }
    this.row += 1;
    const reading = readLine(line, this.layout);
    if ("values" in reading) {
      const record: Record<string, string> = {};
      this.layout.names.forEach((name, i) => {
        record[name] = reading.values[i]!;
      });
      this.push({ row: this.row, record } satisfies TableItem);
      return;
    }
    // The columns before the first free-text one sit where the header says: they name the row.
    const fields = line.split(",");
    const ids: Record<string, string> = {};
    const tradeNo = clean(fields[this.layout.names.indexOf(column.tradeNo)]);
    const outTradeNo = clean(fields[this.layout.names.indexOf(column.outTradeNo)]);
    const beforeFree = (name: string) => this.layout!.names.indexOf(name) < (this.layout!.free[0] ?? Number.POSITIVE_INFINITY);
    if (beforeFree(column.tradeNo) && tradeNoValue.test(tradeNo)) ids.tradeNo = tradeNo;
    if (beforeFree(column.outTradeNo) && outTradeNoValue.test(outTradeNo)) ids.outTradeNo = outTradeNo;
    this.push({ row: this.row, problem: reading.problem, ids } satisfies TableItem);
  }
}

/** Streams one entry through GBK decoding and the table reader to `onItem`. */
async function readEntryRecords(
  stream: Readable,
  onComment: (line: string) => void,
  freeText: readonly string[],
  onItem: (item: TableItem) => void | Promise<void>,
): Promise<void> {
  await pipeline(
    stream,
    gbkDecodeStream(),
    new TableReader(onComment, freeText),
    new Writable({
      objectMode: true,
      write(item: TableItem, _encoding, done) {
        Promise.resolve(onItem(item)).then(() => done(), done);
      },
    }),
  );
}

function rowOf(record: Record<string, string>, row: number): BillRow | "other" | UnreadableReason {
  const kind = record[column.kind] ?? "";
  if (kind !== "交易" && kind !== "退款") return "other";
  const tradeNo = record[column.tradeNo] ?? "";
  // 商家实收 is an amount or empty (checked by the layout): empty is no amount.
  const fen = signedYuanToFen(record[column.received] ?? "");
  if (!tradeNo) return "no_trade_no";
  if (fen === undefined) return "values_do_not_fit";
  const outRequestNo = record[column.outRequestNo] ?? record[column.outRequestNoWide] ?? "";
  return {
    kind: kind === "交易" ? "payment" : "refund",
    tradeNo,
    outTradeNo: record[column.outTradeNo] ?? "",
    amountFen: Math.abs(fen),
    completedAt: record[column.completedAt] ?? "",
    ...(outRequestNo ? { outRequestNo } : {}),
    row,
  };
}

const isDetail = (name: string) => name.endsWith("_业务明细.csv");
const isSummary = (name: string) => name.endsWith("_业务明细(汇总).csv");

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    // Names are GBK with the UTF-8 flag unset: decoded here, not by yauzl (which would read CP437).
    yauzl.open(path, { lazyEntries: true, decodeStrings: false, autoClose: true }, (error, zip) => (error ? reject(error) : resolve(zip!))),
  );
}

function entryStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => zip.openReadStream(entry, (error, stream) => (error ? reject(error) : resolve(stream!))));
}

/**
 * Reads a bill zip: every detail row goes to `onRow` (awaited, one at a time), in file order;
 * returns what the bill says about its totals. Throws BillFormatError when the zip lacks the
 * detail file or a row cannot be read.
 */
export async function readBillZip(path: string, onRow: (row: BillRow) => void | Promise<void>): Promise<BillFacts> {
  const zip = await openZip(path);
  const facts: BillFacts = { rows: { payments: { count: 0, fen: 0 }, refunds: { count: 0, fen: 0 } }, otherRows: 0 };
  let sawDetail = false;
  const unreadable = (row: number, reason: UnreadableReason, ids: Record<string, string>) => {
    facts.unreadable ??= { count: 0, rows: [] };
    facts.unreadable.count += 1;
    if (facts.unreadable.rows.length < maxUnreadableListed) facts.unreadable.rows.push({ row, reason, ...ids });
  };
  const onComment = (line: string) => {
    const account = accountLine.exec(line);
    if (account) facts.accountId = account[1]!;
    const trades = tradeTotals.exec(line);
    const refunds = refundTotals.exec(line);
    if (trades || refunds) {
      facts.trailer ??= { payments: { count: 0, fen: 0 }, refunds: { count: 0, fen: 0 } };
      if (trades) facts.trailer.payments = { count: Number(trades[1]), fen: signedYuanToFen(trades[2]!)! };
      if (refunds) facts.trailer.refunds = { count: Number(refunds[1]), fen: Math.abs(signedYuanToFen(refunds[2]!)!) };
    }
  };
  await new Promise<void>((resolve, reject) => {
    zip.on("error", reject);
    zip.on("end", resolve);
    zip.on("entry", (entry: yauzl.Entry) => {
      const name = decodeGbk(entry.fileName as unknown as Buffer);
      const read = async () => {
        if (isDetail(name)) {
          sawDetail = true;
          await readEntryRecords(await entryStream(zip, entry), onComment, detailFreeText, async (item) => {
            const row = "record" in item ? rowOf(item.record, item.row) : item.problem;
            if (typeof row === "string") {
              if (row === "other") facts.otherRows += 1;
              else unreadable(item.row, row, "ids" in item ? item.ids : {});
              return;
            }
            const count = row.kind === "payment" ? facts.rows.payments : facts.rows.refunds;
            count.count += 1;
            count.fen += row.amountFen;
            await onRow(row);
          });
        } else if (isSummary(name)) {
          await readEntryRecords(
            await entryStream(zip, entry),
            () => undefined,
            summaryFreeText,
            (item) => {
              if (!("record" in item)) return;
              const record = item.record;
              if (record.门店编号 !== "合计") return;
              const net = signedYuanToFen(record["商家实收（元）"] ?? "");
              facts.summary = {
                payments: Number(record.交易订单总笔数),
                refunds: Number(record.退款订单总笔数),
                netFen: net ?? Number.NaN,
              };
            },
          );
        }
        zip.readEntry();
      };
      read().catch((error: unknown) => {
        zip.close();
        reject(error);
      });
    });
    zip.readEntry();
  });
  if (!sawDetail) throw new BillFormatError("the bill zip has no 业务明细 file");
  return facts;
}

/** Streams `url` to `path`; the link lives 30 s, so this starts at once. Returns the bytes written. */
export async function downloadBill(url: string, path: string, { timeoutMs = 300_000 }: { timeoutMs?: number } = {}): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok || !response.body) throw new Error(`bill download answered HTTP ${response.status}`);
  await pipeline(Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>), createWriteStream(path));
  return (await stat(path)).size;
}
