// A streaming zip writer, as Alipay's bill zips are written (Java's ZipOutputStream): deflated
// entries with a data descriptor after their data (local header flag 0x08), entry names in raw
// bytes (GBK for the bill, UTF-8 flag unset), then the central directory. Never buffers an entry.
import { createDeflateRaw, crc32 } from "node:zlib";

export interface ZipEntry {
  /** The name's bytes as stored (the bill's are GBK). */
  name: Buffer;
  data: AsyncIterable<Buffer> | Iterable<Buffer>;
  modifiedAtMs?: number;
}

function dosTime(ms: number): { time: number; date: number } {
  // DOS times are local wall-clock: Alipay writes Beijing time.
  const d = new Date(ms + 8 * 3600_000);
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

async function* deflated(data: AsyncIterable<Buffer> | Iterable<Buffer>, totals: { crc: number; size: number }): AsyncGenerator<Buffer> {
  const deflate = createDeflateRaw({ level: 6 });
  const feed = (async () => {
    for await (const chunk of data) {
      totals.crc = crc32(chunk, totals.crc);
      totals.size += chunk.length;
      if (!deflate.write(chunk)) await new Promise((r) => deflate.once("drain", r));
    }
    deflate.end();
  })();
  for await (const out of deflate) yield out as Buffer;
  await feed;
}

/** The zip's bytes, in order. Entries must be under 4 GiB each (no zip64: a day's bill is far smaller). */
export async function* zipStream(entries: ZipEntry[]): AsyncGenerator<Buffer> {
  let offset = 0;
  const central: Buffer[] = [];
  for (const entry of entries) {
    const { time, date } = dosTime(entry.modifiedAtMs ?? Date.now());
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0008, 6); // sizes and CRC in the data descriptor; names not UTF-8
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt16LE(entry.name.length, 26);
    const headerOffset = offset;
    yield local;
    yield entry.name;
    offset += local.length + entry.name.length;
    const totals = { crc: 0, size: 0 };
    let compressed = 0;
    for await (const chunk of deflated(entry.data, totals)) {
      compressed += chunk.length;
      yield chunk;
    }
    offset += compressed;
    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(totals.crc >>> 0, 4);
    descriptor.writeUInt32LE(compressed, 8);
    descriptor.writeUInt32LE(totals.size, 12);
    yield descriptor;
    offset += descriptor.length;
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(0x0008, 8);
    header.writeUInt16LE(8, 10);
    header.writeUInt16LE(time, 12);
    header.writeUInt16LE(date, 14);
    header.writeUInt32LE(totals.crc >>> 0, 16);
    header.writeUInt32LE(compressed, 20);
    header.writeUInt32LE(totals.size, 24);
    header.writeUInt16LE(entry.name.length, 28);
    header.writeUInt32LE(headerOffset, 42);
    central.push(header, entry.name);
  }
  const directory = Buffer.concat(central);
  yield directory;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  yield end;
}
