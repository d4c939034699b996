// Alipay's daily trade bill (../shared/alipay-facts.md §6.2): a zip of two GBK CSV files,
// `<account>_<yyyyMMdd>_业务明细.csv` (one row per payment and per refund, `#` comment lines
// around the table, the 交易合计 / 退款合计 trailer) and `..._业务明细(汇总).csv` (the 合计 row).
// The download is streamed to a file (Lambda's /tmp), then each entry is streamed through
// GBK decoding (lib/gbk.ts) and csv-parser row by row: the file is never held in memory. yauzl reads the zip by
// its central directory, so entries written with data descriptors (as Java's ZipOutputStream
// does) are sized exactly rather than found by scanning compressed data for a signature.
// Columns are taken by header name (a wider layout exists); every value is stripped of the TAB
// Alipay pads some columns with.
import { createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable, Transform, type TransformCallback, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import csvParse from "csv-parser";
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
}

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

/** Splits decoded text into lines: `#` lines go to `onComment`, the table's lines go on. */
class CommentSplitter extends Transform {
  private rest = "";
  /** Lines of the table passed on, its header included. */
  tableLines = 0;

  constructor(private readonly onComment: (line: string) => void) {
    super({ decodeStrings: false, encoding: "utf8" });
  }

  override _transform(chunk: string, _encoding: BufferEncoding, done: TransformCallback): void {
    const text = this.rest + chunk;
    const lines = text.split("\n");
    this.rest = lines.pop() ?? "";
    this.emitLines(lines);
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.rest) this.emitLines([this.rest]);
    done();
  }

  private emitLines(lines: string[]): void {
    let table = "";
    for (const raw of lines) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line.startsWith("#")) this.onComment(line);
      else if (line.trim() !== "") {
        table += `${line}\n`;
        this.tableLines += 1;
      }
    }
    if (table) this.push(table);
  }
}

/**
 * A bill row is well under 2 KB. The bound stops a quote left open early in a long bill at once:
 * csv-parser would otherwise gather the rest of the file into one growing buffer, copied per chunk.
 */
const maxRowBytes = 64 * 1024;

/**
 * Rows by header name. Not strict: a row with a column more or less is still read. csv-parser opens
 * a quoted value at any `"`, even mid-field, and a quote left open swallows the lines after it into
 * one value; no value of a bill holds a line break (subjects carry no control characters), so a
 * row that spans lines is refused (readEntryRecords counts lines against rows) rather than read.
 */
function csvParser() {
  return csvParse({ mapHeaders: ({ header }) => clean(header), strict: false, maxRowBytes });
}

/** Streams one entry through GBK decoding, the comment splitter and csv-parser to `onRecord`. */
async function readEntryRecords(
  stream: Readable,
  onComment: (line: string) => void,
  onRecord: (record: Record<string, string>, row: number) => void | Promise<void>,
): Promise<void> {
  let row = 0;
  const splitter = new CommentSplitter(onComment);
  try {
    await pipeline(
      stream,
      gbkDecodeStream(),
      splitter,
      csvParser(),
      new Writable({
        objectMode: true,
        write(record: Record<string, string>, _encoding, done) {
          row += 1;
          Promise.resolve(onRecord(record, row)).then(() => done(), done);
        },
      }),
    );
  } catch (error) {
    // csv-parser's own words for a row over maxRowBytes; the row is counted as written, buffers ahead.
    if (error instanceof Error && error.message === "Row exceeds the maximum size") {
      throw new BillFormatError(`the row near row ${row + 1} runs over ${maxRowBytes} bytes: a value spans lines (a quote left open?)`);
    }
    throw error;
  }
  // One row per line: fewer rows than lines means a value ran over lines (see csvParser).
  if (splitter.tableLines > row + 1) {
    throw new BillFormatError(
      `${splitter.tableLines - 1} lines under the header but ${row} rows: a value spans lines (a quote left open?)`,
    );
  }
}

function rowOf(record: Record<string, string>, row: number): BillRow | "other" {
  const kind = clean(record[column.kind]);
  if (kind !== "交易" && kind !== "退款") return "other";
  const tradeNo = clean(record[column.tradeNo]);
  const outTradeNo = clean(record[column.outTradeNo]);
  const received = clean(record[column.received]);
  const fen = signedYuanToFen(received);
  if (!tradeNo || fen === undefined) {
    throw new BillFormatError(`bill row ${row}: ${!tradeNo ? `no ${column.tradeNo}` : `bad ${column.received} "${received}"`}`);
  }
  const outRequestNo = clean(record[column.outRequestNo] ?? record[column.outRequestNoWide]);
  return {
    kind: kind === "交易" ? "payment" : "refund",
    tradeNo,
    outTradeNo,
    amountFen: Math.abs(fen),
    completedAt: clean(record[column.completedAt]),
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
          await readEntryRecords(await entryStream(zip, entry), onComment, async (record, position) => {
            const row = rowOf(record, position);
            if (row === "other") {
              facts.otherRows += 1;
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
            (record) => {
              if (clean(record.门店编号) !== "合计") return;
              const net = signedYuanToFen(clean(record["商家实收（元）"]));
              facts.summary = {
                payments: Number(clean(record.交易订单总笔数)),
                refunds: Number(clean(record.退款订单总笔数)),
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
