// The bill parser (lib/reconciliation/bill.ts) against bills in Alipay's real layout: the 2019
// sample row of ../shared/alipay-facts.md §6.2 (GBK, TAB padding, `#` lines, trailer), a wider
// header variant, quoted commas, LF line endings, and broken rows.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import iconv from "iconv-lite";
import { afterAll, describe, expect, it } from "vitest";
import { BillFormatError, type BillRow, readBillZip, signedYuanToFen } from "../../lib/reconciliation/bill.js";
import { zipStream } from "../../simulator/zip.js";

const dir = mkdtempSync(join(tmpdir(), "bill-parser-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const header =
  "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注";

/** The real 2019 sample's refund row, verbatim (TABs included). */
const sampleRefund =
  "2019091622001458860515315453\t,service_1568601259302\t,退款\t,下单测试,2019-09-16 10:55:16,2019-09-16 10:56:48,alipay_store\t,alipay_store\t,alipay\t,\t,*津水(602***@qq.com)\t,-0.01,-0.01,0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,re_test_1568602607356\t,0.00,0.00,下单测试";
const samplePayment =
  '2019091622001458860515315454\t,service_1568601259303\t,交易\t,"豆子, 一袋",2019-09-16 11:00:00,2019-09-16 11:00:09,\t,\t,\t,\t,*津水(602***@qq.com)\t,12.34,12.34,0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,\t,0.00,0.00,';

function detail(rows: string[], trailer: string[], eol = "\r\n", head = header): string {
  return [
    "#支付宝业务明细查询",
    "#账号：[20880211096256330156]",
    "#起始日期：[2019年09月16日 00:00:00]   终止日期：[2019年09月17日 00:00:00]",
    "#-----------------------------------------业务明细列表----------------------------------------",
    head,
    ...rows,
    "#-----------------------------------------业务明细列表结束------------------------------------",
    ...trailer,
    "#导出时间：[2019年09月17日 05:46:49]",
    "",
  ].join(eol);
}

const summary = [
  "#支付宝业务汇总查询",
  "#账号：[20880211096256330156]",
  "#-----------------------------------------业务汇总列表----------------------------------------",
  "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）",
  "合计,,1,1,12.33,12.33,0.00,0.00,0.00,0.00,0.00,12.33",
  "#-----------------------------------------业务汇总列表结束-----------------------------------",
  "",
].join("\r\n");

async function writeZip(name: string, files: Record<string, string>): Promise<string> {
  const chunks: Buffer[] = [];
  const entries = Object.entries(files).map(([file, text]) => ({ name: iconv.encode(file, "gbk"), data: [iconv.encode(text, "gbk")] }));
  for await (const chunk of zipStream(entries)) chunks.push(chunk);
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(chunks));
  return path;
}

async function read(path: string) {
  const rows: BillRow[] = [];
  const facts = await readBillZip(path, (row) => {
    rows.push(row);
  });
  return { rows, facts };
}

const trailer = ["#交易合计：1笔，商家实收共12.34元，商家优惠共0.00元", "#退款合计：1笔，商家实收退款共-0.01元，商家优惠退款共0.00元"];

describe("the bill parser", () => {
  it("reads the real layout: GBK names and text, TAB padding, refunds as negative rows, trailer and summary", async () => {
    const path = await writeZip("real.zip", {
      "20880211096256330156_20190916_业务明细.csv": detail([samplePayment, sampleRefund], trailer),
      "20880211096256330156_20190916_业务明细(汇总).csv": summary,
    });
    const { rows, facts } = await read(path);
    expect(rows).toEqual([
      {
        kind: "payment",
        tradeNo: "2019091622001458860515315454",
        outTradeNo: "service_1568601259303",
        amountFen: 1234,
        completedAt: "2019-09-16 11:00:09",
        row: 1,
      },
      {
        kind: "refund",
        tradeNo: "2019091622001458860515315453",
        outTradeNo: "service_1568601259302",
        amountFen: 1,
        completedAt: "2019-09-16 10:56:48",
        outRequestNo: "re_test_1568602607356",
        row: 2,
      },
    ]);
    expect(facts).toEqual({
      accountId: "20880211096256330156",
      rows: { payments: { count: 1, fen: 1234 }, refunds: { count: 1, fen: 1 } },
      otherRows: 0,
      trailer: { payments: { count: 1, fen: 1234 }, refunds: { count: 1, fen: 1 } },
      summary: { payments: 1, refunds: 1, netFen: 1233 },
    });
  });

  it("maps columns by header name (a wider variant), and takes LF line endings", async () => {
    const wide = header
      .replace("退款批次号/请求号", "退款批次号")
      .replace("服务费（元）,分润（元）,备注", "服务费（元）,实收净额（元）,商户识别号,交易方式,备注,花呗分期手续费,花呗分期数");
    const refundRow = sampleRefund.replace(/,0\.00,0\.00,下单测试$/, ",0.00,-0.01,,,下单测试,0.00,0");
    const row = samplePayment.replace(/,0\.00,0\.00,$/, ",0.00,12.34,,,,0.00,0");
    const path = await writeZip("wide.zip", { "x_20190916_业务明细.csv": detail([row, refundRow], trailer.slice(0, 1), "\n", wide) });
    const { rows, facts } = await read(path);
    expect(rows.map((r) => [r.kind, r.tradeNo, r.amountFen, r.outRequestNo])).toEqual([
      ["payment", "2019091622001458860515315454", 1234, undefined],
      ["refund", "2019091622001458860515315453", 1, "re_test_1568602607356"],
    ]);
    expect(facts.trailer?.payments).toEqual({ count: 1, fen: 1234 });
    expect(facts.summary).toBeUndefined();
  });

  it("reads an empty day", async () => {
    const path = await writeZip("empty.zip", {
      "x_20190916_业务明细.csv": detail(
        [],
        ["#交易合计：0笔，商家实收共0.00元，商家优惠共0.00元", "#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元"],
      ),
    });
    const { rows, facts } = await read(path);
    expect(rows).toEqual([]);
    expect(facts.trailer).toEqual({ payments: { count: 0, fen: 0 }, refunds: { count: 0, fen: 0 } });
  });

  it("refuses an amount that is not yuan with two decimals, and a zip without the detail file", async () => {
    const bad = samplePayment.replace(",12.34,12.34,", ",12.34,12.3,");
    await expect(read(await writeZip("bad.zip", { "x_20190916_业务明细.csv": detail([bad], trailer) }))).rejects.toThrow(BillFormatError);
    await expect(read(await writeZip("none.zip", { "x_20190916_业务明细(汇总).csv": summary }))).rejects.toThrow(/no 业务明细 file/);
  });

  it('refuses a quote left open (a stray " in the last column) rather than reading the rows after it into that value', async () => {
    // csv-parser opens a quoted value at any quote: without the check the next rows vanish into 备注.
    const strayQuote = sampleRefund.replace(/下单测试$/, '27" 显示器');
    const path = await writeZip("stray-quote.zip", {
      "x_20190916_业务明细.csv": detail([strayQuote, samplePayment, samplePayment], trailer),
    });
    await expect(read(path)).rejects.toThrow(/3 lines under the header but 1 rows: a value spans lines/);
  });

  it("refuses a quote left open early in a long bill at once, not after buffering the rest of the bill into one value", async () => {
    const strayQuote = sampleRefund.replace(/下单测试$/, '27" 显示器');
    const rest = Array.from({ length: 400 }, () => samplePayment);
    const path = await writeZip("stray-quote-long.zip", { "x_20190916_业务明细.csv": detail([strayQuote, ...rest], trailer) });
    await expect(read(path)).rejects.toThrow(/the row near row 1 runs over 65536 bytes: a value spans lines/);
  });

  it("parses signed yuan exactly, without floating point", () => {
    expect(signedYuanToFen("-0.01")).toBe(-1);
    expect(signedYuanToFen("100000000.00")).toBe(10_000_000_000);
    expect(signedYuanToFen("0.1")).toBeUndefined();
    expect(signedYuanToFen("--1.00")).toBeUndefined();
  });
});
