// ZIP archives as Go's archive/zip reads and writes them (no zip64, no encryption): the entry list of
// GET /file/archive, the files an extract task writes, and the archive a create-archive task makes (deflated entries,
// a data descriptor after each, the extended-timestamp extra field). node:zlib does the (de)compression.
import { inflateRawSync } from 'node:zlib';
import { crc32, dosTime, writeZip } from '../harness/zip.js';

export { crc32 };

export class ZipError extends Error {}

export interface ZipEntry {
  /** The name as stored (forward slashes expected). */
  name: string;
  size: number;
  compressedSize: number;
  method: number;
  crc: number;
  modified: Date;
  isDir: boolean;
  /** Offset of the local header. */
  offset: number;
  flags: number;
}

function dosToDate(date: number, time: number): Date {
  return new Date(Date.UTC(((date >> 9) & 0x7f) + 1980, ((date >> 5) & 0xf) - 1, date & 0x1f,
    (time >> 11) & 0x1f, (time >> 5) & 0x3f, (time & 0x1f) * 2));
}

/** The entries of the central directory ("zip: not a valid zip file" when there is none). */
export function listZip(buf: Buffer): ZipEntry[] {
  let end = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { end = i; break; }
  }
  if (end < 0) throw new ZipError('zip: not a valid zip file');
  const count = buf.readUInt16LE(end + 10);
  const cdSize = buf.readUInt32LE(end + 12);
  let p = buf.readUInt32LE(end + 16);
  if (p + cdSize > buf.length) throw new ZipError('zip: not a valid zip file');
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw new ZipError('zip: not a valid zip file');
    const creator = buf[p + 5]!;
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const time = buf.readUInt16LE(p + 12);
    const date = buf.readUInt16LE(p + 14);
    const crc = buf.readUInt32LE(p + 16);
    const compressedSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const n = buf.readUInt16LE(p + 28);
    const m = buf.readUInt16LE(p + 30);
    const k = buf.readUInt16LE(p + 32);
    const external = buf.readUInt32LE(p + 38);
    const offset = buf.readUInt32LE(p + 42);
    const name = buf.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, p + 46 + n);
    let modified = dosToDate(date, time);
    // The extended timestamp extra field (0x5455) wins over the DOS time, as in Go's reader.
    const extra = buf.subarray(p + 46 + n, p + 46 + n + m);
    for (let q = 0; q + 4 <= extra.length;) {
      const id = extra.readUInt16LE(q);
      const len = extra.readUInt16LE(q + 2);
      if (id === 0x5455 && len >= 5 && (extra[q + 4]! & 1)) modified = new Date(extra.readUInt32LE(q + 5) * 1000);
      q += 4 + len;
    }
    const fatCreator = creator === 0 || creator === 11 || creator === 14;
    const isDir = name.endsWith('/') || (fatCreator && (external & 0x10) !== 0);
    out.push({ name, size, compressedSize, method, crc, modified, isDir, offset, flags });
    p += 46 + n + m + k;
  }
  return out;
}

/** The uncompressed bytes of an entry (stored or deflated), its CRC checked. */
export function readEntry(buf: Buffer, e: ZipEntry): Buffer {
  const p = e.offset;
  if (p + 30 > buf.length || buf.readUInt32LE(p) !== 0x04034b50) throw new ZipError('zip: not a valid zip file');
  const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
  const raw = buf.subarray(start, start + e.compressedSize);
  let data: Buffer;
  if (e.method === 0) data = Buffer.from(raw);
  else if (e.method === 8) {
    try {
      data = inflateRawSync(raw);
    } catch {
      throw new ZipError('flate: corrupt input');
    }
  } else throw new ZipError('zip: unsupported compression algorithm');
  if (e.flags & 0x1) throw new ZipError('zip: encrypted entry');
  if (crc32(data) !== e.crc) throw new ZipError('zip: checksum error');
  return data;
}

/** A deflated archive of the given files, as zip.Writer writes it with CreateHeader (data descriptors). */
export function createZip(files: { name: string; data: Buffer; modified: Date }[]): Buffer {
  return writeZip(files.map((f) => {
    const { date, time } = dosTime(f.modified);
    const extra = Buffer.alloc(9);
    extra.writeUInt16LE(0x5455, 0);
    extra.writeUInt16LE(5, 2);
    extra[4] = 1;
    extra.writeUInt32LE(Math.floor(f.modified.getTime() / 1000) >>> 0, 5);
    const utf8 = /[^\x20-\x7e]/.test(f.name);
    return { name: f.name, data: f.data, method: 8, flags: 0x8 | (utf8 ? 0x800 : 0), time, date, extra };
  }));
}

/** util.FormSlash: backslashes to slashes, then path.Clean. */
export function formSlash(name: string): string {
  const s = name.replaceAll('\\', '/');
  const abs = s.startsWith('/');
  const out: string[] = [];
  for (const part of s.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length && out.at(-1) !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(part);
  }
  const joined = out.join('/');
  return abs ? `/${joined}` : joined || '.';
}
