// The simulator's daily bill, driven through the real alipay-sdk: alipay.data.dataservice.bill.downloadurl.query
// answers as Alipay does (T+1 from 09:00 GMT+8; today and bad dates refused; not ready yet), and its
// short-lived link serves a zip in Alipay's real layout (GBK entry names without the UTF-8 flag,
// GBK text, `#` lines, TAB padding, refunds as negative rows with their out_request_no, trailer,
// summary), built from the ledger by completion time, with the knobs that plant differences.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AlipaySdk } from "alipay-sdk";
import iconv from "iconv-lite";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import yauzl from "yauzl";
import { type BillRow, readBillZip } from "../../lib/reconciliation/bill.js";
import { BillDesk, detailColumns } from "../../simulator/bill.js";
import type { AlipaySimulator } from "../../simulator/index.js";
import { parseGmt8 } from "../../simulator/values.js";
import { gmt8, merchantSdk, newOutTradeNo, orderString, SELLER_ID, startTestSimulator } from "./support.js";

let sim: AlipaySimulator;
let sdk: AlipaySdk;
const dir = mkdtempSync(join(tmpdir(), "sim-bill-"));
const today = () => gmt8(Date.now()).slice(0, 10);

beforeAll(async () => {
  sim = await startTestSimulator();
  sdk = merchantSdk(sim.gatewayUrl);
});

afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => sim.bills.reset());

const billQuery = (bizContent: Record<string, string>) =>
  sdk.exec("alipay.data.dataservice.bill.downloadurl.query", { bizContent }, { validateSign: true });

const refund = (outTradeNo: string, amount: string, outRequestNo: string) =>
  sdk.exec(
    "alipay.trade.refund",
    { bizContent: { out_trade_no: outTradeNo, refund_amount: amount, out_request_no: outRequestNo } },
    { validateSign: true },
  );

async function download(url: string, name: string): Promise<{ path: string; bytes: Buffer }> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  const bytes = Buffer.from(await response.arrayBuffer());
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** Entry names (raw bytes, general-purpose flags) and texts (GBK-decoded) of a zip. */
function entries(path: string): Promise<Array<{ rawName: Buffer; flags: number; text: string }>> {
  return new Promise((resolve, reject) => {
    const found: Array<{ rawName: Buffer; flags: number; text: string }> = [];
    yauzl.open(path, { lazyEntries: true, decodeStrings: false }, (error, zip) => {
      if (error || !zip) return reject(error);
      zip.on("entry", (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return reject(err);
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => {
            found.push({
              rawName: entry.fileName as unknown as Buffer,
              flags: entry.generalPurposeBitFlag,
              text: iconv.decode(Buffer.concat(chunks), "gbk"),
            });
            zip.readEntry();
          });
        });
      });
      zip.on("end", () => resolve(found));
      zip.readEntry();
    });
  });
}

async function paidTrade(totalAmount: string, subject = "豆子, 一袋") {
  const outTradeNo = newOutTradeNo("B");
  const paid = sim.pay(orderString(sdk, outTradeNo, { totalAmount, subject }));
  return { outTradeNo, tradeNo: paid.tradeNo };
}

describe("alipay.data.dataservice.bill.downloadurl.query", () => {
  it("refuses today, future days and bad dates (isv.invalid_arguments), and wants its parameters", async () => {
    for (const day of [today(), "2999-01-01", "2026-13-01", "20260101"]) {
      expect(await billQuery({ bill_type: "trade", bill_date: day })).toMatchObject({ code: "40004", sub_code: "isv.invalid_arguments" });
    }
    expect(await billQuery({ bill_type: "trade" })).toMatchObject({ code: "40001" });
  });

  it("publishes a day's bill the next day from 09:00 GMT+8 (isp.bill_not_exist before)", () => {
    const desk = new BillDesk(() => "http://sim");
    const at = (text: string) => parseGmt8(text)!;
    expect(desk.availability("2026-01-01", at("2026-01-01 23:59:59"))).toBe("too_early");
    expect(desk.availability("2026-01-01", at("2026-01-02 08:59:59"))).toBe("not_yet");
    expect(desk.availability("2026-01-01", at("2026-01-02 09:00:00"))).toBe("ready");
    desk.readyThrough = "2026-01-02";
    expect(desk.availability("2026-01-02", at("2026-01-02 10:00:00"))).toBe("ready");
  });

  it("answers a past day without business with an empty bill (EMPTY_DATA_WITH_BILL_FILE)", async () => {
    const answer = await billQuery({ bill_type: "trade", bill_date: "2020-01-01" });
    expect(answer).toMatchObject({ code: "10000", bill_file_code: "EMPTY_DATA_WITH_BILL_FILE" });
    const { path } = await download(answer.bill_download_url, "empty.zip");
    const rows: BillRow[] = [];
    const facts = await readBillZip(path, (row) => {
      rows.push(row);
    });
    expect(rows).toEqual([]);
    expect(facts.trailer).toEqual({ payments: { count: 0, fen: 0 }, refunds: { count: 0, fen: 0 } });
  });
});

describe("the bill file", () => {
  it("is a zip in Alipay's layout: GBK names and text, header, TABs, refunds as negative rows, trailer, summary", async () => {
    const first = await paidTrade("12.34");
    // Subjects as the chaos run sends them: commas and lone double quotes, written verbatim as Alipay does.
    const second = await paidTrade("0.99", '27" 显示器, "限量",特价');
    expect(await refund(first.outTradeNo, "2.34", "re_part_1")).toMatchObject({ code: "10000" });
    sim.bills.readyThrough = today();

    const answer = await billQuery({ bill_type: "trade", bill_date: today() });
    expect(answer.code).toBe("10000");
    expect(answer.bill_download_url).toMatch(/\/downloadBillFile\.resource\?bizType=trade&userId=2088000100000001&fileType=csv\.zip/);
    expect(answer.bill_download_url).toContain(`downloadFileName=${SELLER_ID}0156_${today().replace(/-/g, "")}.csv.zip`);
    const { path } = await download(answer.bill_download_url, "day.zip");

    const files = await entries(path);
    const base = `${SELLER_ID}0156_${today().replace(/-/g, "")}`;
    expect(files.map((f) => f.rawName)).toEqual([
      iconv.encode(`${base}_业务明细.csv`, "gbk"),
      iconv.encode(`${base}_业务明细(汇总).csv`, "gbk"),
    ]);
    expect(files.every((f) => (f.flags & 0x800) === 0)).toBe(true);

    const lines = files[0]!.text.split("\r\n");
    expect(lines.slice(0, 3)).toEqual([
      "#支付宝业务明细查询",
      `#账号：[${SELLER_ID}0156]`,
      `#起始日期：[${today().slice(0, 4)}年${today().slice(5, 7)}月${today().slice(8)}日 00:00:00]   终止日期：[${gmt8(parseGmt8(`${today()} 00:00:00`)! + 86_400_000).replace(/^(\d{4})-(\d{2})-(\d{2})/, "$1年$2月$3日")}]`,
    ]);
    // The markers exactly as in Alipay's 2019 bill (../shared/alipay-facts.md §6.2).
    expect(lines[3]).toBe("#-----------------------------------------业务明细列表----------------------------------------");
    expect(lines).toContain("#-----------------------------------------业务明细列表结束------------------------------------");
    expect(lines[4]).toBe(detailColumns.join(","));
    const refundLine = lines.find((l) => l.includes("re_part_1"))!;
    expect(refundLine.split(",").slice(0, 3)).toEqual([`${first.tradeNo}\t`, `${first.outTradeNo}\t`, "退款\t"]);
    expect(refundLine).toContain(",-2.34,-2.34,");
    expect(refundLine).toContain(",re_part_1\t,");
    const paymentLine = lines.find((l) => l.startsWith(`${second.tradeNo}\t,`))!;
    expect(paymentLine).toContain(',交易\t,27" 显示器, "限量",特价,');
    expect(paymentLine.endsWith(',27" 显示器, "限量",特价')).toBe(true);
    expect(lines.find((l) => l.startsWith(`${first.tradeNo}\t,`))).toContain(",交易\t,豆子, 一袋,");
    expect(lines).toContain("#交易合计：2笔，商家实收共13.33元，商家优惠共0.00元");
    expect(lines).toContain("#退款合计：1笔，商家实收退款共-2.34元，商家优惠退款共0.00元");
    expect(files[1]!.text).toContain("合计,,2,1,10.99,10.99,");

    const rows: BillRow[] = [];
    const facts = await readBillZip(path, (row) => {
      rows.push(row);
    });
    expect(rows.map((r) => [r.kind, r.tradeNo, r.outTradeNo, r.amountFen, r.outRequestNo])).toEqual([
      ["payment", first.tradeNo, first.outTradeNo, 1234, undefined],
      ["payment", second.tradeNo, second.outTradeNo, 99, undefined],
      ["refund", first.tradeNo, first.outTradeNo, 234, "re_part_1"],
    ]);
    expect(facts.summary).toEqual({ payments: 2, refunds: 1, netFen: 1099 });
    expect(facts.unreadable).toBeUndefined();
    expect(facts.trailer).toEqual(facts.rows);
  });

  it("plants differences: a payment we never heard of, a dropped trade, a changed amount", async () => {
    const dropped = await paidTrade("1.00");
    const changed = await paidTrade("2.00");
    sim.bills.readyThrough = today();
    sim.bills.plant({ kind: "drop", outTradeNo: dropped.outTradeNo });
    sim.bills.plant({ kind: "amount", outTradeNo: changed.outTradeNo, amountFen: 201 });
    sim.bills.plant({ kind: "unknown-payment", outTradeNo: "never_heard_of", amountFen: 555 });
    const answer = await billQuery({ bill_type: "trade", bill_date: today() });
    const { path } = await download(answer.bill_download_url, "planted.zip");
    const rows: BillRow[] = [];
    await readBillZip(path, (row) => {
      rows.push(row);
    });
    expect(rows.find((r) => r.outTradeNo === dropped.outTradeNo)).toBeUndefined();
    expect(rows.find((r) => r.outTradeNo === changed.outTradeNo)?.amountFen).toBe(201);
    expect(rows.find((r) => r.outTradeNo === "never_heard_of")).toMatchObject({ kind: "payment", amountFen: 555 });
  });

  it("serves a link only while it lives", async () => {
    const response = await fetch(`${sim.url}/downloadBillFile.resource?fileId=nope`);
    expect(response.status).toBe(404);
    expect(await response.text()).toBe("链接地址失效");
  });
});
