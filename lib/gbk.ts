// GBK (Alipay's bills, and notifications sent with charset=gbk) decoded by the runtime's own ICU
// through TextDecoder: Node's official builds carry full ICU, and so do Lambda's Node.js runtimes
// (observed, not documented by AWS). A bundled decoder (iconv-lite) would add its ~500 KB of
// code-page tables to the bundle.
// The decoder is GB18030's, a superset of GBK: ICU's "gbk" is the older Windows 936 table, which
// puts 83 characters (€ among them) in the private use area.
// A runtime without it (a small-ICU build) fails on first use with a message that says so.
import { Transform, type TransformCallback } from "node:stream";
import { TextDecoder } from "node:util";

export class GbkUnsupportedError extends Error {
  override name = "GbkUnsupportedError";
}

function gbkDecoder(): TextDecoder {
  try {
    return new TextDecoder("gb18030");
  } catch {
    throw new GbkUnsupportedError(
      `this Node.js (${process.version}, ICU ${process.versions.icu ?? "none"}) cannot decode GBK: it needs full ICU (the default of Node's official builds)`,
    );
  }
}

// Whole-buffer decodes keep no state between calls, so one decoder serves them all (a GBK
// notification decodes each of its names and values).
let wholeDecoder: TextDecoder | undefined;

export function decodeGbk(bytes: Uint8Array): string {
  wholeDecoder ??= gbkDecoder();
  return wholeDecoder.decode(bytes);
}

/** A stream of GBK bytes in, text out; a character split across chunks is decoded whole. */
export function gbkDecodeStream(): Transform {
  const decoder = gbkDecoder();
  return new Transform({
    // Text out as strings, as the next stage (the comment splitter) reads them.
    encoding: "utf8",
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      done(null, decoder.decode(chunk, { stream: true }));
    },
    flush(done: TransformCallback) {
      const rest = decoder.decode();
      done(null, rest.length > 0 ? rest : undefined);
    },
  });
}
