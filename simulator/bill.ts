// Alipay's daily trade bill (对账单): alipay.data.dataservice.bill.downloadurl.query, and the zip its
// short-lived URL serves, built from the ledger for one Asia/Shanghai day in Alipay's real layout
// (../shared/alipay-facts.md §6): GBK text and GBK entry names, `#` comment lines, the 25-column
// detail header with a TAB after the padded columns, refunds as their own rows with negative
// amounts, the 交易合计 / 退款合计 trailer, and the summary (汇总) file. Rows fall in a day by
// their completion time (完成时间) in GMT+8. Knobs plant differences: a payment we never heard
// of, a trade left out, an amount changed.
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import iconv from "iconv-lite";
import type { SimulatorContext } from "./context.js";
import type { Trade } from "./ledger.js";
import type { KnownApp } from "./orderString.js";
import { SimulatorError } from "./scenarios.js";
import { formatFen, formatGmt8, newTradeNo, parseGmt8 } from "./values.js";
import { zipStream } from "./zip.js";

export const detailColumns = [
  "支付宝交易号",
  "商户订单号",
  "业务类型",
  "商品名称",
  "创建时间",
  "完成时间",
  "门店编号",
  "门店名称",
  "操作员",
  "终端号",
  "对方账户",
  "订单金额（元）",
  "商家实收（元）",
  "支付宝红包（元）",
  "集分宝（元）",
  "支付宝优惠（元）",
  "商家优惠（元）",
  "券核销金额（元）",
  "券名称",
  "商家红包消费金额（元）",
  "卡消费金额（元）",
  "退款批次号/请求号",
  "服务费（元）",
  "分润（元）",
  "备注",
] as const;

/** The columns Alipay pads with a TAB after the value (even when empty). */
const tabbed = new Set<string>([
  "支付宝交易号",
  "商户订单号",
  "业务类型",
  "门店编号",
  "门店名称",
  "操作员",
  "终端号",
  "对方账户",
  "商家红包消费金额（元）",
  "退款批次号/请求号",
]);

export const summaryColumns = [
  "门店编号",
  "门店名称",
  "交易订单总笔数",
  "退款订单总笔数",
  "订单金额（元）",
  "商家实收（元）",
  "支付宝优惠（元）",
  "商家优惠（元）",
  "卡消费金额（元）",
  "服务费（元）",
  "分润（元）",
  "实收净额（元）",
] as const;

export interface BillRow {
  kind: "交易" | "退款";
  tradeNo: string;
  outTradeNo: string;
  subject: string;
  createdAtMs: number;
  completedAtMs: number;
  /** Signed: a refund row is negative. */
  amountFen: number;
  outRequestNo?: string;
  buyerLogonId?: string;
}

/** Knobs that make the bill differ from the ledger (POST /sim/bills/plant). */
export type BillPlantInput =
  /** A paid trade in the bill that the ledger (and so the merchant) never saw. */
  | { kind: "unknown-payment"; outTradeNo?: string; tradeNo?: string; amountFen?: number; day?: string }
  /** A refund row the ledger has no refund for. */
  | { kind: "unknown-refund"; outTradeNo: string; tradeNo?: string; outRequestNo?: string; amountFen?: number; day?: string }
  /** The trade row of `outTradeNo` (or its refund row `outRequestNo`) is left out of the bill. */
  | { kind: "drop"; outTradeNo: string; outRequestNo?: string }
  /** The trade row of `outTradeNo` (or its refund row) shows another amount (positive fen). */
  | { kind: "amount"; outTradeNo: string; outRequestNo?: string; amountFen: number }
  /** The 交易合计 trailer line disagrees with the rows by this many fen (a truncated or garbled file). */
  | { kind: "trailer"; tradeFenDelta: number };

export type BillPlant = BillPlantInput & { plantedAtMs: number };

const dayPattern = /^(\d{4})-(\d{2})-(\d{2})$/;
const dayMs = 86_400_000;

/** [start, end) of a GMT+8 day, epoch ms; undefined unless `day` is a real yyyy-MM-dd. */
export function dayWindow(day: string): { startMs: number; endMs: number } | undefined {
  if (!dayPattern.test(day)) return undefined;
  const startMs = parseGmt8(`${day} 00:00:00`);
  return startMs === undefined ? undefined : { startMs, endMs: startMs + dayMs };
}

export const gmt8Day = (epochMs: number) => formatGmt8(epochMs).slice(0, 10);

/** The bill desk of one simulator: planted differences, the availability clock, live download links. */
export class BillDesk {
  readonly plants: BillPlant[] = [];
  /** Bills of days up to this one (yyyy-MM-dd) are ready now, even today's: tests' time travel. */
  readyThrough: string | undefined;
  private readonly links = new Map<string, { appId: string; day: string; expiresAtMs: number }>();

  constructor(
    readonly publicUrl: () => string,
    /** How long a download link lives: Alipay's is 30 s. */
    readonly linkTtlMs = 30_000,
  ) {}

  plant(input: BillPlantInput): BillPlant[] {
    const kinds = ["unknown-payment", "unknown-refund", "drop", "amount", "trailer"];
    if (!input || !kinds.includes(input.kind)) throw new SimulatorError(400, "INVALID_REQUEST", `kind must be one of ${kinds.join(", ")}`);
    if (input.kind === "trailer") {
      if (!Number.isSafeInteger(input.tradeFenDelta)) throw new SimulatorError(400, "INVALID_REQUEST", "tradeFenDelta must be an integer");
    } else if (input.kind !== "unknown-payment" && !input.outTradeNo) {
      throw new SimulatorError(400, "INVALID_REQUEST", "outTradeNo is required");
    }
    if (input.kind === "amount" && !(Number.isSafeInteger(input.amountFen) && input.amountFen > 0)) {
      throw new SimulatorError(400, "INVALID_REQUEST", "amountFen must be a positive integer");
    }
    if ("day" in input && input.day !== undefined && !dayWindow(input.day))
      throw new SimulatorError(400, "INVALID_REQUEST", "day must be yyyy-MM-dd");
    this.plants.push({ ...input, plantedAtMs: Date.now() });
    return this.plants;
  }

  reset(): void {
    this.plants.length = 0;
    this.readyThrough = undefined;
    this.links.clear();
  }

  /** Whether the bill of `day` can be downloaded at `nowMs`: T+1 from 09:00 GMT+8 (Alipay: "一般于次日 9 点前生成"). */
  availability(day: string, nowMs: number): "ready" | "not_yet" | "too_early" {
    if (this.readyThrough !== undefined && day <= this.readyThrough) return "ready";
    const today = gmt8Day(nowMs);
    if (day >= today) return "too_early";
    const window = dayWindow(day)!;
    return nowMs >= window.endMs + 9 * 3_600_000 ? "ready" : "not_yet";
  }

  issueLink(appId: string, sellerId: string, day: string): string {
    const token = randomBytes(16).toString("hex");
    const now = Date.now();
    for (const [key, link] of this.links) if (link.expiresAtMs < now) this.links.delete(key);
    this.links.set(token, { appId, day, expiresAtMs: now + this.linkTtlMs });
    const compact = day.replace(/-/g, "");
    const query = new URLSearchParams({
      bizType: "trade",
      userId: sellerId,
      fileType: "csv.zip",
      bizDates: compact,
      downloadFileName: `${accountIdOf(sellerId)}_${compact}.csv.zip`,
      fileId: token,
      timestamp: String(now),
    });
    return `${this.publicUrl()}/downloadBillFile.resource?${query}`;
  }

  takeLink(token: string | null): { appId: string; day: string } | undefined {
    const link = token ? this.links.get(token) : undefined;
    if (!link || link.expiresAtMs < Date.now()) return undefined;
    return link;
  }
}

/** The account id in bill names: the 16-digit PID followed by 0156. */
export const accountIdOf = (sellerId: string) => `${sellerId}0156`;

const desks = new WeakMap<SimulatorContext, BillDesk>();

export function attachBillDesk(ctx: SimulatorContext, desk: BillDesk): void {
  desks.set(ctx, desk);
}

type Inner = Record<string, unknown> & { code: string; msg: string };
const business = (subCode: string, subMsg: string): Inner => ({
  code: "40004",
  msg: "Business Failed",
  sub_code: subCode,
  sub_msg: subMsg,
});

/** alipay.data.dataservice.bill.downloadurl.query */
export function billDownloadUrlQuery(ctx: SimulatorContext, app: KnownApp, biz: Record<string, unknown>): Inner {
  const desk = desks.get(ctx);
  if (!desk) return business("isp.unknow-error", "系统繁忙");
  const billType = typeof biz.bill_type === "string" ? biz.bill_type : "";
  const billDate = typeof biz.bill_date === "string" ? biz.bill_date : "";
  if (!billType || !billDate)
    return { code: "40001", msg: "Missing Required Arguments", sub_code: "isv.missing-parameter", sub_msg: "缺少必选参数" };
  // Only trade bills by day are simulated (signcustomer and monthly bills exist at Alipay).
  if (billType !== "trade") return business("isv.invalid_arguments", "入参不合法");
  if (!dayWindow(billDate)) return business("isv.invalid_arguments", "入参不合法");
  const availability = desk.availability(billDate, Date.now());
  if (availability === "too_early") return business("isv.invalid_arguments", "入参不合法");
  if (availability === "not_yet") return business("isp.bill_not_exist", "账单不存在");
  const rows = billRows(ctx, app.app.sellerId, billDate, desk.plants);
  return {
    code: "10000",
    msg: "Success",
    bill_download_url: desk.issueLink(app.app.appId, app.app.sellerId, billDate),
    ...(rows.length === 0 ? { bill_file_code: "EMPTY_DATA_WITH_BILL_FILE" } : {}),
  };
}

/** The rows of `day` for the merchant `sellerId`: paid trades and refunds by completion time, then the knobs. */
export function billRows(ctx: SimulatorContext, sellerId: string, day: string, plants: readonly BillPlant[]): BillRow[] {
  const { startMs, endMs } = dayWindow(day)!;
  const inDay = (ms: number | undefined) => ms !== undefined && ms >= startMs && ms < endMs;
  const sameMerchant = (trade: Trade) => ctx.apps.get(trade.appId)?.app.sellerId === sellerId;
  const rows: BillRow[] = [];
  for (const trade of ctx.ledger.all().filter(sameMerchant)) {
    const base = {
      tradeNo: trade.tradeNo,
      outTradeNo: trade.outTradeNo,
      subject: trade.subject,
      createdAtMs: trade.createdAtMs,
      buyerLogonId: trade.buyerLogonId,
    };
    if (inDay(trade.paidAtMs)) rows.push({ ...base, kind: "交易", completedAtMs: trade.paidAtMs!, amountFen: trade.totalFen });
    for (const refund of trade.refunds) {
      if (inDay(refund.atMs)) {
        rows.push({ ...base, kind: "退款", completedAtMs: refund.atMs, amountFen: -refund.refundFen, outRequestNo: refund.outRequestNo });
      }
    }
  }
  const matches = (row: BillRow, plant: { outTradeNo: string; outRequestNo?: string }) =>
    row.outTradeNo === plant.outTradeNo &&
    (plant.outRequestNo === undefined ? row.kind === "交易" : row.outRequestNo === plant.outRequestNo);
  let planted = rows;
  for (const plant of plants) {
    if (plant.kind === "drop") planted = planted.filter((row) => !matches(row, plant));
    if (plant.kind === "amount") {
      planted = planted.map((row) =>
        matches(row, plant) ? { ...row, amountFen: row.kind === "退款" ? -plant.amountFen : plant.amountFen } : row,
      );
    }
    const plantDay =
      plant.kind === "unknown-payment" || plant.kind === "unknown-refund" ? (plant.day ?? gmt8Day(plant.plantedAtMs)) : undefined;
    if (plantDay !== day) continue;
    const atMs = inDay(plant.plantedAtMs) ? plant.plantedAtMs : startMs + 12 * 3_600_000;
    if (plant.kind === "unknown-payment") {
      planted.push({
        kind: "交易",
        tradeNo: plant.tradeNo ?? newTradeNo(atMs),
        outTradeNo: plant.outTradeNo ?? `unknown_${randomBytes(6).toString("hex")}`,
        subject: "unknown",
        createdAtMs: atMs - 60_000,
        completedAtMs: atMs,
        amountFen: plant.amountFen ?? 100,
        buyerLogonId: "138****0000",
      });
    } else if (plant.kind === "unknown-refund") {
      const trade = ctx.ledger.lookup(plant.outTradeNo);
      planted.push({
        kind: "退款",
        tradeNo: plant.tradeNo ?? trade?.tradeNo ?? newTradeNo(atMs),
        outTradeNo: plant.outTradeNo,
        subject: trade?.subject ?? "unknown",
        createdAtMs: trade?.createdAtMs ?? atMs - 60_000,
        completedAtMs: atMs,
        amountFen: -(plant.amountFen ?? 1),
        outRequestNo: plant.outRequestNo ?? `ref_unknown_${randomBytes(6).toString("hex")}`,
      });
    }
  }
  return planted.sort((a, b) => a.completedAtMs - b.completedAtMs);
}

function signedYuan(fen: number): string {
  return fen < 0 ? `-${formatFen(-fen)}` : formatFen(fen);
}

/**
 * A free-text field as Alipay writes it: the business system's text verbatim, commas and double
 * quotes unescaped (issue 19: a subject with a comma shifts naive readers' columns). Only line
 * breaks, which no bill row holds, become spaces.
 */
function verbatim(value: string): string {
  return value.replace(/[\r\n]/g, " ");
}

function chineseTime(ms: number): string {
  const t = formatGmt8(ms);
  return `${t.slice(0, 4)}年${t.slice(5, 7)}月${t.slice(8, 10)}日 ${t.slice(11)}`;
}

export function detailLine(row: BillRow): string {
  const amount = signedYuan(row.amountFen);
  const values: Record<(typeof detailColumns)[number], string> = {
    支付宝交易号: row.tradeNo,
    商户订单号: row.outTradeNo,
    业务类型: row.kind,
    商品名称: verbatim(row.subject),
    创建时间: formatGmt8(row.createdAtMs),
    完成时间: formatGmt8(row.completedAtMs),
    门店编号: "",
    门店名称: "",
    操作员: "",
    终端号: "",
    对方账户: row.buyerLogonId ?? "",
    "订单金额（元）": amount,
    "商家实收（元）": amount,
    "支付宝红包（元）": "0.00",
    "集分宝（元）": "0.00",
    "支付宝优惠（元）": "0.00",
    "商家优惠（元）": "0.00",
    "券核销金额（元）": "0.00",
    券名称: "",
    "商家红包消费金额（元）": "0.00",
    "卡消费金额（元）": "0.00",
    "退款批次号/请求号": row.outRequestNo ?? "",
    "服务费（元）": "0.00",
    "分润（元）": "0.00",
    备注: verbatim(row.subject),
  };
  return detailColumns.map((column) => `${values[column]}${tabbed.has(column) ? "\t" : ""}`).join(",");
}

const dashes = "-----------------------------------------";

export interface BillTotals {
  trades: number;
  tradeFen: number;
  refunds: number;
  /** Negative, as in the trailer. */
  refundFen: number;
}

function addToTotals(totals: BillTotals, row: BillRow): void {
  if (row.kind === "交易") {
    totals.trades += 1;
    totals.tradeFen += row.amountFen;
  } else {
    totals.refunds += 1;
    totals.refundFen += row.amountFen;
  }
}

export function totalsOf(rows: Iterable<BillRow>): BillTotals {
  const totals = { trades: 0, tradeFen: 0, refunds: 0, refundFen: 0 };
  for (const row of rows) addToTotals(totals, row);
  return totals;
}

/** The detail file's lines (CRLF-terminated), rows streamed from `rows`. */
export function* detailFile(
  accountId: string,
  day: string,
  rows: Iterable<BillRow>,
  exportedAtMs: number,
  totalsOverride?: BillTotals,
): Generator<string> {
  const { startMs, endMs } = dayWindow(day)!;
  yield "#支付宝业务明细查询\r\n";
  yield `#账号：[${accountId}]\r\n`;
  yield `#起始日期：[${chineseTime(startMs)}]   终止日期：[${chineseTime(endMs)}]\r\n`;
  // The markers exactly as in Alipay's 2019 bill (alipay-facts.md §6.2): 41 dashes before, 40 / 36 after.
  yield `#${dashes}业务明细列表${dashes.slice(0, -1)}\r\n`;
  yield `${detailColumns.join(",")}\r\n`;
  const totals = { trades: 0, tradeFen: 0, refunds: 0, refundFen: 0 };
  let batch = "";
  for (const row of rows) {
    addToTotals(totals, row);
    batch += `${detailLine(row)}\r\n`;
    if (batch.length > 1 << 16) {
      yield batch;
      batch = "";
    }
  }
  if (batch) yield batch;
  const t = totalsOverride ?? totals;
  yield `#${dashes}业务明细列表结束${dashes.slice(0, -5)}\r\n`;
  yield `#交易合计：${t.trades}笔，商家实收共${signedYuan(t.tradeFen)}元，商家优惠共0.00元\r\n`;
  yield `#退款合计：${t.refunds}笔，商家实收退款共${signedYuan(t.refundFen)}元，商家优惠退款共0.00元\r\n`;
  yield `#导出时间：[${chineseTime(exportedAtMs)}]\r\n`;
}

export function* summaryFile(accountId: string, day: string, totals: BillTotals, exportedAtMs: number): Generator<string> {
  const { startMs, endMs } = dayWindow(day)!;
  const net = signedYuan(totals.tradeFen + totals.refundFen);
  const figures = [String(totals.trades), String(totals.refunds), net, net, "0.00", "0.00", "0.00", "0.00", "0.00", net];
  yield "#支付宝业务汇总查询\r\n";
  yield `#账号：[${accountId}]\r\n`;
  yield `#起始日期：[${chineseTime(startMs)}]   终止日期：[${chineseTime(endMs)}]\r\n`;
  yield `#${dashes}业务汇总列表${dashes}\r\n`;
  yield `${summaryColumns.join(",")}\r\n`;
  yield `\t,\t,${figures.join(",")}\r\n`;
  yield `合计,,${figures.join(",")}\r\n`;
  yield `#${dashes}业务汇总列表结束${dashes.slice(0, -4)}\r\n`;
  yield `#导出时间：[${chineseTime(exportedAtMs)}]\r\n`;
}

/** GBK bytes of a stream of text. */
export async function* gbk(lines: Iterable<string> | AsyncIterable<string>): AsyncGenerator<Buffer> {
  for await (const line of lines) yield iconv.encode(line, "gbk");
}

/** The bill zip of a day: `<account>_<yyyyMMdd>_业务明细.csv` and `..._业务明细(汇总).csv`, names in GBK. */
export function billZip(
  sellerId: string,
  day: string,
  rows: BillRow[],
  exportedAtMs = Date.now(),
  trailerFenDelta = 0,
): AsyncGenerator<Buffer> {
  const accountId = accountIdOf(sellerId);
  const base = `${accountId}_${day.replace(/-/g, "")}`;
  const totals = totalsOf(rows);
  const trailer = trailerFenDelta === 0 ? undefined : { ...totals, tradeFen: totals.tradeFen + trailerFenDelta };
  return zipStream([
    {
      name: iconv.encode(`${base}_业务明细.csv`, "gbk"),
      data: gbk(detailFile(accountId, day, rows, exportedAtMs, trailer)),
      modifiedAtMs: exportedAtMs,
    },
    {
      name: iconv.encode(`${base}_业务明细(汇总).csv`, "gbk"),
      data: gbk(summaryFile(accountId, day, totals, exportedAtMs)),
      modifiedAtMs: exportedAtMs,
    },
  ]);
}

/** GET /downloadBillFile.resource?fileId=...: the zip while the link lives. */
export async function serveBillDownload(ctx: SimulatorContext, desk: BillDesk, url: URL, res: ServerResponse): Promise<void> {
  const link = desk.takeLink(url.searchParams.get("fileId"));
  if (!link) {
    const body = "链接地址失效";
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  const sellerId = ctx.apps.get(link.appId)?.app.sellerId ?? "";
  const rows = billRows(ctx, sellerId, link.day, desk.plants);
  const fileName = `${accountIdOf(sellerId)}_${link.day.replace(/-/g, "")}.csv.zip`;
  res.writeHead(200, { "content-type": "application/zip", "content-disposition": `attachment; filename=${fileName}` });
  const trailerFenDelta = desk.plants.reduce((sum, p) => sum + (p.kind === "trailer" ? p.tradeFenDelta : 0), 0);
  for await (const chunk of billZip(sellerId, link.day, rows, Date.now(), trailerFenDelta)) {
    if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
  }
  res.end();
}

/** The control API's bill routes (POST /sim/bills/...); undefined for any other route. */
export function billControl(desk: BillDesk, method: string, path: string, body: Record<string, unknown>): unknown {
  if (method === "POST" && path === "/sim/bills/plant") return desk.plant(body as unknown as BillPlantInput);
  if (method === "GET" && path === "/sim/bills/plant") return desk.plants;
  if (method === "POST" && path === "/sim/bills/ready") {
    const through = body.through;
    if (through !== null && (typeof through !== "string" || !dayWindow(through))) {
      throw new SimulatorError(400, "INVALID_REQUEST", "through must be yyyy-MM-dd (or null)");
    }
    desk.readyThrough = through ?? undefined;
    return { readyThrough: desk.readyThrough ?? null };
  }
  if (method === "POST" && path === "/sim/bills/reset") {
    desk.reset();
    return { ok: true };
  }
  return undefined;
}
