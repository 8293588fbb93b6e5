// Request-body integrity checks of the S3 family: Content-MD5, x-amz-content-sha256, the flexible checksums
// (x-amz-checksum-crc32 | crc32c | crc64nvme | sha1 | sha256, base64 of the big-endian digest) and the aws-chunked
// content encoding (STREAMING-UNSIGNED-PAYLOAD-TRAILER and the signed STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]).
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { EMPTY_SHA256, sha256Hex, type ChunkSigning, type S3ErrorSpec } from './s3-sigv4.js';

export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

let crc32cTable: Uint32Array | undefined;
function crc32c(data: Buffer): number {
  if (!crc32cTable) {
    crc32cTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      crc32cTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of data) crc = crc32cTable[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

let crc32Table: Uint32Array | undefined;
function crc32(data: Buffer): number {
  const native = (zlib as unknown as { crc32?: (d: Buffer) => number }).crc32;
  if (native) return native(data) >>> 0;
  if (!crc32Table) {
    crc32Table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
      crc32Table[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of data) crc = crc32Table[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// CRC-64/NVME: reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all ones. Kept as two 32-bit halves so
// that a multi-megabyte part does not go through BigInt per byte.
let crc64Lo: Uint32Array | undefined;
let crc64Hi: Uint32Array | undefined;
function crc64nvme(data: Buffer): Buffer {
  if (!crc64Lo || !crc64Hi) {
    crc64Lo = new Uint32Array(256);
    crc64Hi = new Uint32Array(256);
    const poly = 0x9a6c9329ac4bc9b5n;
    for (let i = 0; i < 256; i++) {
      let c = BigInt(i);
      for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
      crc64Lo[i] = Number(c & 0xffffffffn);
      crc64Hi[i] = Number(c >> 32n);
    }
  }
  let lo = 0xffffffff;
  let hi = 0xffffffff;
  for (const b of data) {
    const idx = (lo ^ b) & 0xff;
    // (crc >> 8) ^ table[idx]
    const nlo = ((lo >>> 8) | ((hi & 0xff) << 24)) >>> 0;
    const nhi = hi >>> 8;
    lo = (nlo ^ crc64Lo[idx]!) >>> 0;
    hi = (nhi ^ crc64Hi[idx]!) >>> 0;
  }
  const out = Buffer.alloc(8);
  out.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
  out.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
  return out;
}

/** base64 of the big-endian digest, as S3 puts it in x-amz-checksum-<algorithm>. */
export function checksumOf(algorithm: ChecksumAlgorithm, data: Buffer): string {
  switch (algorithm) {
    case 'crc32': { const b = Buffer.alloc(4); b.writeUInt32BE(crc32(data)); return b.toString('base64'); }
    case 'crc32c': { const b = Buffer.alloc(4); b.writeUInt32BE(crc32c(data)); return b.toString('base64'); }
    case 'crc64nvme': return crc64nvme(data).toString('base64');
    case 'sha1': return createHash('sha1').update(data).digest('base64');
    case 'sha256': return createHash('sha256').update(data).digest('base64');
  }
}

const ALG_LABEL: Record<ChecksumAlgorithm, string> = { crc32: 'CRC32', crc32c: 'CRC32C', crc64nvme: 'CRC64NVME', sha1: 'SHA1', sha256: 'SHA256' };

export interface DecodedBody {
  data: Buffer;
  /** Checksums the client declared (headers, hoisted query parameters or aws-chunked trailers), verified. */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

export type BodyCheck = { ok: true; body: DecodedBody } | { ok: false; error: S3ErrorSpec };

const bad = (status: number, code: string, message: string, extra?: [string, string][]): BodyCheck =>
  ({ ok: false, error: { status, code, message, extra } });

interface ChunkedResult { data: Buffer; trailers: Record<string, string> }

/** Decodes an aws-chunked body; with `signing`, verifies each chunk signature (AWS4-HMAC-SHA256-PAYLOAD). */
async function decodeAwsChunked(raw: Buffer, signing: ChunkSigning | undefined): Promise<ChunkedResult | S3ErrorSpec> {
  const parts: Buffer[] = [];
  const trailers: Record<string, string> = {};
  let pos = 0;
  let prev = signing?.seedSignature;
  const malformed: S3ErrorSpec = { status: 400, code: 'IncompleteBody', message: 'The request body terminated unexpectedly' };
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) return malformed;
    const header = raw.subarray(pos, eol).toString('latin1');
    const [sizeHex, ...exts] = header.split(';');
    if (!/^[0-9a-fA-F]+$/.test(sizeHex ?? '')) return malformed;
    const size = parseInt(sizeHex!, 16);
    const start = eol + 2;
    const chunk = raw.subarray(start, start + size);
    if (chunk.length !== size) return malformed;
    if (signing) {
      const sig = exts.map((e) => /^chunk-signature=([0-9a-f]{64})$/.exec(e.trim())?.[1]).find(Boolean);
      const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${signing.longDate}\n${signing.scope}\n${prev}\n${EMPTY_SHA256}\n${sha256Hex(chunk)}`;
      const expected = await signing.sign(sts);
      if (!sig || sig !== expected) {
        return { status: 403, code: 'SignatureDoesNotMatch',
          message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.' };
      }
      prev = sig;
    }
    pos = start + size;
    if (size === 0) {
      // Trailers (name:value\r\n)* then \r\n — or, without trailers, just \r\n.
      for (;;) {
        const e = raw.indexOf('\r\n', pos);
        if (e < 0) break;
        const line = raw.subarray(pos, e).toString('latin1');
        pos = e + 2;
        if (line === '') break;
        const i = line.indexOf(':');
        if (i > 0) trailers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      return { data: Buffer.concat(parts), trailers };
    }
    parts.push(chunk);
    if (raw.subarray(pos, pos + 2).toString('latin1') !== '\r\n') return malformed;
    pos += 2;
  }
}

/**
 * Checks a received body against what the request declared: Content-Length, Content-MD5, x-amz-content-sha256 (a
 * hex digest, or a STREAMING-* aws-chunked payload, decoded here, chunk signatures verified when signed), and
 * x-amz-checksum-* from headers, hoisted query parameters (presigned URLs) or aws-chunked trailers.
 */
export async function checkBody(raw: Buffer, p: { headers: Record<string, string>; query: [string, string][];
  payloadHash?: string; chunkSigning?: ChunkSigning }): Promise<BodyCheck> {
  const h = p.headers;
  let data = raw;
  let trailers: Record<string, string> = {};
  const payloadHash = p.payloadHash ?? h['x-amz-content-sha256'];
  const isChunked = (h['content-encoding'] ?? '').split(',').map((s) => s.trim()).includes('aws-chunked')
    || (payloadHash?.startsWith('STREAMING-') ?? false);
  if (h['content-length'] !== undefined && !isChunked) {
    const cl = Number(h['content-length']);
    if (raw.length < cl) return bad(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header');
  }
  if (isChunked) {
    const signed = payloadHash?.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD') ?? false;
    const r = await decodeAwsChunked(raw, signed ? p.chunkSigning : undefined);
    if ('code' in r) return { ok: false, error: r };
    data = r.data;
    trailers = r.trailers;
    const decodedLength = h['x-amz-decoded-content-length'];
    if (decodedLength !== undefined && Number(decodedLength) !== data.length) {
      return bad(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header');
    }
  } else if (payloadHash && /^[0-9a-f]{64}$/.test(payloadHash)) {
    const got = sha256Hex(data);
    if (got !== payloadHash) {
      return bad(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.",
        [['ClientComputedContentSHA256', payloadHash], ['S3ComputedContentSHA256', got]]);
    }
  }
  const md5 = h['content-md5'];
  if (md5 !== undefined) {
    const want = Buffer.from(md5, 'base64');
    if (want.length !== 16 || want.toString('base64') !== md5.trim()) return bad(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
    if (!createHash('md5').update(data).digest().equals(want)) {
      return bad(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.',
        [['ExpectedDigest', want.toString('hex')], ['CalculatedDigest', createHash('md5').update(data).digest('base64')]]);
    }
  }
  const declared: Partial<Record<ChecksumAlgorithm, string>> = {};
  const queryValue = (name: string) => p.query.find(([k]) => k.toLowerCase() === name)?.[1];
  for (const alg of CHECKSUM_ALGORITHMS) {
    const name = `x-amz-checksum-${alg}`;
    const v = h[name] ?? trailers[name] ?? queryValue(name);
    if (v !== undefined) declared[alg] = v;
  }
  const declaredNames = Object.keys(declared) as ChecksumAlgorithm[];
  if (declaredNames.length > 1) return bad(400, 'InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const sdkAlg = (h['x-amz-sdk-checksum-algorithm'] ?? queryValue('x-amz-sdk-checksum-algorithm'))?.toLowerCase();
  if (sdkAlg && (CHECKSUM_ALGORITHMS as readonly string[]).includes(sdkAlg) && !declared[sdkAlg as ChecksumAlgorithm] && !h['x-amz-trailer']) {
    return bad(400, 'InvalidRequest', `x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.`);
  }
  for (const alg of declaredNames) {
    const got = checksumOf(alg, data);
    if (got !== declared[alg]) {
      return bad(400, 'BadDigest', `The ${ALG_LABEL[alg]} you specified did not match the calculated checksum.`);
    }
  }
  return { ok: true, body: { data, checksums: declared } };
}

export { ALG_LABEL };
