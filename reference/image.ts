// The little image processing the built-in thumbnail generator and avatars need (pkg/thumb/builtin.go): decode,
// scale (Thumbnail keeps the aspect ratio and never enlarges; Resize to a square for avatars) and encode as PNG.
// PNG is decoded fully (every colour type and bit depth, Adam7 too); for JPEG and GIF only the header is read (the
// format check and the dimensions Go's image.DecodeConfig gives) and the pixels are a neutral grey — the sizes, types
// and error codes the API shows are the real server's, the picture is not.
import { deflateSync, inflateSync } from 'node:zlib';
import { crc32 } from '../harness/zip.js';

export interface Raster { width: number; height: number; /** RGBA, 8 bits per channel. */ data: Buffer }

export class ImageError extends Error {}

const PNG_SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** The decoder's pixel limit (maxDecodePixels). */
const MAX_PIXELS = 64_000_000;

/** The format image.DecodeConfig recognises, from the magic bytes. */
export function sniff(bytes: Buffer): 'png' | 'jpeg' | 'gif' | undefined {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_SIG)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.toString('latin1', 0, 6))) return 'gif';
  return undefined;
}

/** Decodes an image of a format image.DecodeConfig knows; anything else throws ImageError. */
export function decodeImage(bytes: Buffer): Raster {
  const format = sniff(bytes);
  if (format === 'png') return decodePng(bytes);
  const dims = format === 'jpeg' ? jpegSize(bytes) : format === 'gif' ? gifSize(bytes) : undefined;
  if (!dims) throw new ImageError('image: unknown format');
  checkDims(dims.width, dims.height);
  const data = Buffer.alloc(dims.width * dims.height * 4, 0x80);
  for (let i = 3; i < data.length; i += 4) data[i] = 0xff;
  return { ...dims, data };
}

function checkDims(w: number, h: number): void {
  if (w <= 0 || h <= 0 || w * h > MAX_PIXELS) throw new ImageError(`image dimensions too large (${w}x${h})`);
}

function jpegSize(b: Buffer): { width: number; height: number } | undefined {
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return undefined;
    const marker = b[p + 1]!;
    if (marker === 0xff) { p++; continue; }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { p += 2; continue; }
    const len = b.readUInt16BE(p + 2);
    // SOF0..SOF15 except DHT (c4), JPG (c8) and DAC (cc).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (p + 9 > b.length) return undefined;
      return { height: b.readUInt16BE(p + 5), width: b.readUInt16BE(p + 7) };
    }
    if (marker === 0xd9 || marker === 0xda) return undefined;
    p += 2 + len;
  }
  return undefined;
}

function gifSize(b: Buffer): { width: number; height: number } | undefined {
  if (b.length < 10) return undefined;
  return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
}

// ---- PNG ----

export function decodePng(bytes: Buffer): Raster {
  if (!bytes.subarray(0, 8).equals(PNG_SIG)) throw new ImageError('png: invalid format: not a PNG file');
  let p = 8;
  let ihdr: Buffer | undefined;
  let palette: Buffer | undefined;
  let trns: Buffer | undefined;
  const idat: Buffer[] = [];
  let ended = false;
  while (p + 12 <= bytes.length) {
    const len = bytes.readUInt32BE(p);
    const type = bytes.toString('latin1', p + 4, p + 8);
    if (p + 12 + len > bytes.length) throw new ImageError('png: unexpected EOF');
    const data = bytes.subarray(p + 8, p + 8 + len);
    if (crc32(bytes.subarray(p + 4, p + 8 + len)) !== bytes.readUInt32BE(p + 8 + len)) throw new ImageError('png: invalid format: invalid checksum');
    p += 12 + len;
    if (type === 'IHDR') ihdr = data;
    else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') { ended = true; break; }
  }
  if (!ihdr || ihdr.length !== 13 || !idat.length || !ended) throw new ImageError('png: unexpected EOF');
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const depth = ihdr[8]!;
  const colorType = ihdr[9]!;
  const interlace = ihdr[12]!;
  checkDims(width, height);
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  const depths = ({ 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] } as Record<number, number[]>)[colorType];
  if (!channels || !depths?.includes(depth) || interlace > 1) throw new ImageError('png: unsupported feature');
  if (colorType === 3 && !palette) throw new ImageError('png: invalid format: missing palette');
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch {
    throw new ImageError('png: invalid format: bad compressed data');
  }
  const out = Buffer.alloc(width * height * 4);
  const bitsPerPixel = channels * depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  let offset = 0;
  const passes = interlace
    ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]
    : [[0, 0, 1, 1]];
  for (const [x0, y0, dx, dy] of passes as [number, number, number, number][]) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const stride = Math.ceil((pw * bitsPerPixel) / 8);
    let prev = Buffer.alloc(stride);
    for (let r = 0; r < ph; r++) {
      if (offset + 1 + stride > raw.length) throw new ImageError('png: unexpected EOF');
      const filter = raw[offset]!;
      const line = Buffer.from(raw.subarray(offset + 1, offset + 1 + stride));
      offset += 1 + stride;
      unfilter(filter, line, prev, bpp);
      prev = line;
      for (let c = 0; c < pw; c++) {
        const x = x0 + c * dx;
        const y = y0 + r * dy;
        const rgba = pixel(line, c, colorType, depth, channels, palette, trns);
        rgba.copy(out, (y * width + x) * 4);
      }
    }
  }
  return { width, height, data: out };
}

function unfilter(filter: number, line: Buffer, prev: Buffer, bpp: number): void {
  for (let i = 0; i < line.length; i++) {
    const a = i >= bpp ? line[i - bpp]! : 0;
    const b = prev[i]!;
    const c = i >= bpp ? prev[i - bpp]! : 0;
    let v: number;
    switch (filter) {
      case 0: v = 0; break;
      case 1: v = a; break;
      case 2: v = b; break;
      case 3: v = (a + b) >> 1; break;
      case 4: {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        v = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        break;
      }
      default: throw new ImageError('png: invalid format: bad filter type');
    }
    line[i] = (line[i]! + v) & 0xff;
  }
}

function sample(line: Buffer, index: number, depth: number): number {
  if (depth === 8) return line[index]!;
  if (depth === 16) return line[index * 2]!; // the high byte
  const perByte = 8 / depth;
  const byte = line[Math.floor(index / perByte)]!;
  const shift = 8 - depth * ((index % perByte) + 1);
  const v = (byte >> shift) & ((1 << depth) - 1);
  return Math.round((v * 255) / ((1 << depth) - 1));
}

function pixel(line: Buffer, x: number, colorType: number, depth: number, channels: number, palette?: Buffer,
  trns?: Buffer): Buffer {
  const s = (k: number) => sample(line, x * channels + k, depth);
  switch (colorType) {
    case 0: { const g = s(0); return Buffer.from([g, g, g, 255]); }
    case 2: return Buffer.from([s(0), s(1), s(2), 255]);
    case 3: {
      const perByte = 8 / depth;
      const i = depth === 8 ? line[x]! : (line[Math.floor(x / perByte)]! >> (8 - depth * ((x % perByte) + 1))) & ((1 << depth) - 1);
      if (3 * i + 2 >= palette!.length) throw new ImageError('png: invalid format: palette index out of range');
      return Buffer.from([palette![3 * i]!, palette![3 * i + 1]!, palette![3 * i + 2]!, trns && i < trns.length ? trns[i]! : 255]);
    }
    case 4: { const g = s(0); return Buffer.from([g, g, g, s(1)]); }
    default: return Buffer.from([s(0), s(1), s(2), s(3)]);
  }
}

function filterRow(filter: number, line: Buffer, prev: Buffer, bpp: number): Buffer {
  if (filter === 0) return line;
  const out = Buffer.alloc(line.length);
  for (let i = 0; i < line.length; i++) {
    const a = i >= bpp ? line[i - bpp]! : 0;
    const b = prev[i]!;
    const c = i >= bpp ? prev[i - bpp]! : 0;
    let v: number;
    if (filter === 1) v = a;
    else if (filter === 2) v = b;
    else if (filter === 3) v = (a + b) >> 1;
    else {
      const pa = Math.abs(b - c);
      const pb = Math.abs(a - c);
      const pc = Math.abs(a + b - 2 * c);
      v = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    out[i] = (line[i]! - v) & 0xff;
  }
  return out;
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG encoding as Go's png.Encode does it for an NRGBA image: RGB when fully opaque, else RGBA; 8 bits. */
export function encodePng(img: Raster): Buffer {
  let opaque = true;
  for (let i = 3; i < img.data.length; i += 4) if (img.data[i] !== 255) { opaque = false; break; }
  const channels = opaque ? 3 : 4;
  const stride = img.width * channels;
  const raw = Buffer.alloc((stride + 1) * img.height);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < img.height; y++) {
    const line = Buffer.alloc(stride);
    for (let x = 0; x < img.width; x++) {
      const src = (y * img.width + x) * 4;
      img.data.copy(line, x * channels, src, src + channels);
    }
    // Each row gets the filter whose output has the smallest sum of absolute (signed) values, as Go's encoder does.
    let best = 0;
    let bestOut: Buffer = line;
    let bestSum = Infinity;
    for (let f = 0; f < 5; f++) {
      const out = filterRow(f, line, prev, channels);
      let sum = 0;
      for (const b of out) sum += b < 128 ? b : 256 - b;
      if (sum < bestSum) { best = f; bestOut = out; bestSum = sum; }
    }
    const row = y * (stride + 1);
    raw[row] = best;
    bestOut.copy(raw, row + 1);
    prev = line;
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(img.width, 0);
  ihdr.writeUInt32BE(img.height, 4);
  ihdr[8] = 8;
  ihdr[9] = opaque ? 2 : 6;
  return Buffer.concat([PNG_SIG, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** Bilinear scaling (x/image/draw BiLinear). */
export function resize(img: Raster, width: number, height: number): Raster {
  const out = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(img.height - 1, Math.max(0, ((y + 0.5) * img.height) / height - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(img.height - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(img.width - 1, Math.max(0, ((x + 0.5) * img.width) / width - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(img.width - 1, x0 + 1);
      const fx = sx - x0;
      for (let k = 0; k < 4; k++) {
        const at = (xx: number, yy: number) => img.data[(yy * img.width + xx) * 4 + k]!;
        const top = at(x0, y0) * (1 - fx) + at(x1, y0) * fx;
        const bottom = at(x0, y1) * (1 - fx) + at(x1, y1) * fx;
        out[(y * width + x) * 4 + k] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { width, height, data: out };
}

/** thumb.Thumbnail: fits the image in maxW × maxH keeping its aspect ratio; a smaller image is kept as it is. */
export function thumbnail(img: Raster, maxW: number, maxH: number): Raster {
  if (maxW >= img.width && maxH >= img.height) return img;
  let w = img.width;
  let h = img.height;
  if (w > maxW) {
    h = Math.max(1, Math.floor((img.height * maxW) / img.width));
    w = maxW;
  }
  if (h > maxH) {
    w = Math.max(1, Math.floor((w * maxH) / h));
    h = maxH;
  }
  return resize(img, w, h);
}
