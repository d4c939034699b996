import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { decodeGbk, gbkDecodeStream } from "../../lib/gbk.js";

// Every GBK double-byte character (lead 0x81-0xFE, trail 0x40-0xFE but 0x7F) as iconv-lite, the
// reference encoder the simulator writes bills with, encodes them.
const everyGbkCharacter = (() => {
  let all = "";
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      const char = iconv.decode(Buffer.from([lead, trail]), "gbk");
      if (char !== "\ufffd") all += char;
    }
  }
  return all;
})();

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

describe("GBK through the runtime's TextDecoder", () => {
  it("decodes every GBK character as iconv-lite encodes it (or, for 18, as GB18030-2022 moved them out of the private use area)", () => {
    const characters = [...everyGbkCharacter];
    expect(characters.length).toBeGreaterThan(21_000);
    const decoded = [...decodeGbk(iconv.encode(everyGbkCharacter, "gbk"))];
    expect(decoded).toHaveLength(characters.length);
    const privateUse = /^[\uE000-\uF8FF]$/;
    const different = characters.filter((character, at) => decoded[at] !== character);
    expect(different.every((character) => privateUse.test(character))).toBe(true);
    expect(different.length).toBeLessThanOrEqual(18);
    expect(decodeGbk(iconv.encode("€　支付宝交易号", "gbk"))).toBe("€　支付宝交易号");
  });

  it("streams: a character split across chunks comes out whole, whatever the chunk size", async () => {
    const line = `#支付宝业务明细查询\n2019091622001458860515315453\t,退款\t,*津水(602***@qq.com)\t,-0.01\n${everyGbkCharacter.slice(0, 3000)}`;
    const bytes = iconv.encode(line, "gbk");
    for (const size of [1, 3, 7, 4096]) {
      expect(await text(Readable.from(chunksOf(bytes, size)).pipe(gbkDecodeStream()))).toBe(line);
    }
  });
});
