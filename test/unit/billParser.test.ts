// The bill parser (lib/reconciliation/bill.ts) against bills in Alipay's real layout: the 2019
// sample row of ../shared/alipay-facts.md §6.2 (GBK, TAB padding, `#` lines, trailer), a wider
// header variant, quoted commas, LF line endings, and broken rows.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import iconv from "iconv-lite";
import { afterAll, describe, expect, it } from "vitest";
import { type BillRow, readBillZip, signedYuanToFen } from "../../lib/reconciliation/bill.js";
import { zipStream } from "../../simulator/zip.js";

const dir = mkdtempSync(join(tmpdir(), "bill-parser-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const header =
  "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注";

/** The real 2019 sample's refund row, verbatim (TABs included). */
const sampleRefund =
  "2019091622001458860515315453\t,service_1568601259302\t,退款\t,下单测试,2019-09-16 10:55:16,2019-09-16 10:56:48,alipay_store\t,alipay_store\t,alipay\t,\t,*津水(602***@qq.com)\t,-0.01,-0.01,0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,re_test_1568602607356\t,0.00,0.00,下单测试";
/** What the sample refund row reads as. */
const realRefund = {
  kind: "refund",
  tradeNo: "2019091622001458860515315453",
  outTradeNo: "service_1568601259302",
  amountFen: 1,
  completedAt: "2019-09-16 10:56:48",
  outRequestNo: "re_test_1568602607356",
} as const;
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
      { ...realRefund, row: 2 },
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

  it("reports a row whose amount is not yuan with two decimals alone, and refuses a zip without the detail file", async () => {
    const bad = samplePayment.replace(",12.34,12.34,", ",12.34,12.3,");
    const { rows, facts } = await read(await writeZip("bad.zip", { "x_20190916_业务明细.csv": detail([bad, sampleRefund], trailer) }));
    expect(rows.map((r) => r.row)).toEqual([2]);
    expect(facts.unreadable).toEqual({
      count: 1,
      rows: [{ row: 1, reason: "values_do_not_fit", tradeNo: "2019091622001458860515315454", outTradeNo: "service_1568601259303" }],
    });
    await expect(read(await writeZip("none.zip", { "x_20190916_业务明细(汇总).csv": summary }))).rejects.toThrow(/no 业务明细 file/);
  });

  /** The 2019 sample's refund row with other free text in 商品名称 and 备注 (written verbatim, as Alipay does). */
  const withText = (subject: string, remark = subject) =>
    sampleRefund.replace(",退款\t,下单测试,", `,退款\t,${subject},`).replace(/,下单测试$/, `,${remark}`);

  it.each([
    ["an unquoted comma in 商品名称 and 备注", "豆子,一袋", "豆子,一袋"],
    ["several commas, one side only", "a,b,c,d", "plain"],
    ["commas in 备注 only", "plain", "x,y"],
    ["a lone double quote", '27" 显示器', '27" 显示器'],
    ["quotes and commas", 'the "best", large', '"a, b'],
    ["a field wholly in quotes", '"豆子, 一袋"', '"豆子, 一袋"'],
    ["text that looks like the columns after it", "x,2019-09-16 10:55:16", "-0.01,0.00"],
    ["an empty subject", "", ""],
  ])("reads a row whose free text holds %s right: never shifted", async (_what, subject, remark) => {
    const path = await writeZip(`free-${subject.length}-${remark.length}.zip`, {
      "x_20190916_业务明细.csv": detail([withText(subject, remark), samplePayment], trailer),
    });
    const { rows, facts } = await read(path);
    expect(rows).toEqual([{ ...realRefund, row: 1 }, expect.objectContaining({ kind: "payment", amountFen: 1234, row: 2 })]);
    expect(facts.unreadable).toBeUndefined();
    expect(facts.rows).toEqual({ payments: { count: 1, fen: 1234 }, refunds: { count: 1, fen: 1 } });
  });

  it("reports alone a row that cannot be read one way only, or has too few columns, and reads the rest of the day", async () => {
    // Commas in both free-text columns that line up with the columns between them: two readings.
    const ambiguous = withText(
      "a,2019-09-16 10:55:16,2019-09-16 10:56:48,alipay_store\t,alipay_store\t,alipay\t,\t,x\t,-0.01,-0.01,0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,r\t,0.00,0.00,b",
      "c",
    );
    const cut = sampleRefund.split(",").slice(0, 12).join(",");
    const path = await writeZip("unreadable.zip", {
      "x_20190916_业务明细.csv": detail([samplePayment, ambiguous, cut, sampleRefund], trailer),
    });
    const { rows, facts } = await read(path);
    expect(rows.map((r) => [r.kind, r.row])).toEqual([
      ["payment", 1],
      ["refund", 4],
    ]);
    expect(facts.unreadable).toEqual({
      count: 2,
      rows: [
        { row: 2, reason: "ambiguous", tradeNo: "2019091622001458860515315453", outTradeNo: "service_1568601259302" },
        { row: 3, reason: "too_few_columns", tradeNo: "2019091622001458860515315453", outTradeNo: "service_1568601259302" },
      ],
    });
  });

  it('reads every row after a stray " in a long bill (csv-parser read them all into one value)', async () => {
    const strayQuote = withText('27" 显示器');
    const rest = Array.from({ length: 400 }, () => samplePayment);
    const path = await writeZip("stray-quote-long.zip", { "x_20190916_业务明细.csv": detail([strayQuote, ...rest], trailer) });
    const { rows, facts } = await read(path);
    expect(rows).toHaveLength(401);
    expect(rows[0]).toEqual({ ...realRefund, row: 1 });
    expect(facts.rows.payments).toEqual({ count: 400, fen: 400 * 1234 });
  });

  it("reports a row over 64 KiB alone, without gathering it, and a value broken over lines as two unreadable rows", async () => {
    const huge = withText("x".repeat(70 * 1024));
    const broken = withText("line one\r\nline two", "plain");
    const path = await writeZip("huge.zip", { "x_20190916_业务明细.csv": detail([samplePayment, huge, broken, sampleRefund], trailer) });
    const { rows, facts } = await read(path);
    expect(rows.map((r) => [r.kind, r.row])).toEqual([
      ["payment", 1],
      ["refund", 5],
    ]);
    expect(facts.unreadable?.rows.map((r) => [r.row, r.reason])).toEqual([
      [2, "row_too_long"],
      [3, "too_few_columns"],
      [4, "too_few_columns"],
    ]);
  });

  it("parses signed yuan exactly, without floating point", () => {
    expect(signedYuanToFen("-0.01")).toBe(-1);
    expect(signedYuanToFen("100000000.00")).toBe(10_000_000_000);
    expect(signedYuanToFen("0.1")).toBeUndefined();
    expect(signedYuanToFen("--1.00")).toBeUndefined();
  });
});
