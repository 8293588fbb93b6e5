// Writing ZIP archives (no zip64, no encryption), shared by the reference target (reference/zip.ts: the archive a
// create-archive task makes) and the contract specs (specs/contract/support.ts: archives to upload and extract).
// Each caller picks the storage method, flags, times, extra field and attributes; node:zlib deflates.
import { deflateRawSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE), as ZIP and PNG use it. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The MS-DOS date and time of a moment (UTC, two-second resolution, years before 1980 as 1980). */
export function dosTime(d: Date): { date: number; time: number } {
  return {
    date: ((Math.max(1980, d.getUTCFullYear()) - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
  };
}

export interface ZipWriteEntry {
  /** The name, written as UTF-8 (set flag 0x800 where it is not ASCII). */
  name: string;
  /** The uncompressed bytes. */
  data: Uint8Array;
  /** 0: stored as they are; 8: deflated. */
  method: 0 | 8;
  /**
   * General-purpose flags. With bit 3 (0x8) the CRC and sizes follow the data in a data descriptor and the local
   * header leaves them zero; without it the local header carries them.
   */
  flags: number;
  /** MS-DOS time and date (see dosTime). */
  time: number;
  date: number;
  /** Extra field, written in the local and the central header. */
  extra?: Uint8Array;
  /** External attributes of the central header (0x10: MS-DOS directory). */
  external?: number;
}

/** An archive of the entries in order: local headers and data, then the central directory and its end record. */
export function writeZip(entries: ZipWriteEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const at = offset;
    const name = Buffer.from(e.name, 'utf8');
    const extra = Buffer.from(e.extra ?? new Uint8Array());
    const stored = e.method === 8 ? deflateRawSync(e.data) : Buffer.from(e.data);
    const crc = crc32(e.data);
    const descriptor = (e.flags & 0x8) !== 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.flags, 6);
    local.writeUInt16LE(e.method, 8);
    local.writeUInt16LE(e.time, 10);
    local.writeUInt16LE(e.date, 12);
    if (!descriptor) {
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(stored.length, 18);
      local.writeUInt32LE(e.data.length, 22);
    }
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    parts.push(local, name, extra, stored);
    offset += local.length + name.length + extra.length + stored.length;
    if (descriptor) {
      const dd = Buffer.alloc(16);
      dd.writeUInt32LE(0x08074b50, 0);
      dd.writeUInt32LE(crc, 4);
      dd.writeUInt32LE(stored.length, 8);
      dd.writeUInt32LE(e.data.length, 12);
      parts.push(dd);
      offset += dd.length;
    }
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(e.flags, 8);
    cd.writeUInt16LE(e.method, 10);
    cd.writeUInt16LE(e.time, 12);
    cd.writeUInt16LE(e.date, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(stored.length, 20);
    cd.writeUInt32LE(e.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt16LE(extra.length, 30);
    cd.writeUInt32LE(e.external ?? 0, 38);
    cd.writeUInt32LE(at, 42);
    central.push(cd, name, extra);
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBuf, end]);
}
