// Deterministic, seekable payloads that are never held whole in memory. The bytes at any offset are a pure function
// of (seed, offset): AES-256-CTR keystream under a key that faker derives from the seed, and every 4 KiB block starts
// with a marker naming its own offset. A readback that differs says which offset its bytes came from — so a chunk
// stored at the wrong place is named, not just "hash mismatch".
import { createCipheriv, createHash } from 'node:crypto';
import { Faker, en } from '@faker-js/faker';

export const BLOCK = 4096;
const MARKER = 16; // "#" + 15 hex digits
const ZEROS = Buffer.alloc(64 * 1024 + 16); // never written: cipher input only

function keyFor(seed: number): Buffer {
  const faker = new Faker({ locale: [en] });
  faker.seed(seed);
  return Buffer.from(faker.string.hexadecimal({ length: 64, casing: 'lower', prefix: '' }), 'hex');
}

function marker(offset: number): Buffer {
  return Buffer.from(`#${offset.toString(16).padStart(15, '0')}`, 'latin1');
}

/** Reads the marker at the start of a block; undefined when the bytes are not one. */
export function readMarker(block: Uint8Array): number | undefined {
  if (block.length < MARKER || block[0] !== 0x23) return undefined;
  const hex = Buffer.from(block.subarray(1, MARKER)).toString('latin1');
  return /^[0-9a-f]{15}$/.test(hex) ? parseInt(hex, 16) : undefined;
}

export class Payload {
  private readonly key: Buffer;
  constructor(readonly seed: number, readonly size: number) {
    this.key = keyFor(seed);
  }

  /** The bytes [offset, offset + length), produced block by block. */
  *blocks(offset = 0, length = this.size - offset, maxPiece = 64 * 1024): Generator<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.size) throw new RangeError(`range ${offset}+${length} outside 0..${this.size}`);
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const pieceEnd = Math.min(end, pos + maxPiece);
      yield this.range(pos, pieceEnd);
      pos = pieceEnd;
    }
  }

  /** Bytes [start, end) of the payload (end - start small: one piece). */
  range(start: number, end: number): Buffer {
    // The keystream is seekable: CTR's counter for byte p is p / 16.
    const alignedStart = start - (start % 16);
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64BE(BigInt(alignedStart / 16), 8);
    const cipher = createCipheriv('aes-256-ctr', this.key, iv);
    // The keystream is the encryption of zeros; one shared zero buffer saves an allocation per piece.
    const n = end - alignedStart;
    const out = cipher.update(n <= ZEROS.length ? ZEROS.subarray(0, n) : Buffer.alloc(n)).subarray(start - alignedStart);
    // Stamp the markers of the blocks that begin inside this range.
    for (let b = Math.ceil(start / BLOCK) * BLOCK; b < end; b += BLOCK) {
      const m = marker(b);
      m.copy(out, b - start, 0, Math.min(MARKER, end - b));
    }
    // A block that began before this range but whose marker reaches into it.
    const first = Math.floor(start / BLOCK) * BLOCK;
    if (first < start && start < first + MARKER) {
      marker(first).copy(out, 0, start - first, Math.min(MARKER, end - first));
    }
    return out;
  }

  /** A web stream of [offset, offset + length) for a fetch body. */
  stream(offset = 0, length = this.size - offset): ReadableStream<Uint8Array> {
    const it = this.blocks(offset, length);
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = it.next();
        if (next.done) controller.close();
        else controller.enqueue(new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.length));
      },
    });
  }

  /** sha256 of the whole payload, computed by streaming. */
  sha256(): string {
    const h = createHash('sha256');
    for (const b of this.blocks()) h.update(b);
    return h.digest('hex');
  }
}

export interface Mismatch {
  /** First offset where the readback differs. */
  offset: number;
  /** The payload offset the bytes found there belong to (a chunk stored at the wrong place), when it can be located. */
  cameFrom?: number;
}

export interface Readback {
  bytes: number;
  sha256: string;
  mismatch?: Mismatch;
}

const SAMPLE = 32;

/**
 * Where in the payload `sample` (bytes read back at `offset`) comes from: the same position in another chunk, or, for
 * other shifts, the block marker it carries.
 */
function locate(payload: Payload, sample: Buffer, offset: number, chunkSize: number): number | undefined {
  if (chunkSize > 0) {
    for (let c = offset % chunkSize; c + sample.length <= payload.size; c += chunkSize) {
      if (c !== offset && payload.range(c, c + sample.length).equals(sample)) return c;
    }
  }
  const inBlock = offset % BLOCK;
  return inBlock === 0 ? readMarker(sample) : undefined;
}

/** Compares a readback stream with the payload, streaming; never holds the file. */
export async function compareReadback(payload: Payload, body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  chunkSize = 0): Promise<Readback> {
  const hash = createHash('sha256');
  let pos = 0;
  let mismatch: Mismatch | undefined;
  let sample: Buffer | undefined;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    const got = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    hash.update(got);
    if (!mismatch) {
      const end = Math.min(pos + got.length, payload.size);
      const want = end > pos ? payload.range(pos, end) : Buffer.alloc(0);
      const n = Math.min(want.length, got.length);
      let at = -1;
      for (let i = 0; i < n; i++) if (want[i] !== got[i]) { at = i; break; }
      if (at < 0 && got.length > want.length) at = want.length;
      if (at >= 0) {
        mismatch = { offset: pos + at };
        sample = Buffer.from(got.subarray(at, at + SAMPLE));
      }
    } else if (sample && sample.length < SAMPLE) {
      sample = Buffer.concat([sample, got.subarray(0, SAMPLE - sample.length)]);
    }
    pos += got.length;
  }
  if (!mismatch && pos < payload.size) mismatch = { offset: pos };
  if (mismatch && sample?.length) mismatch.cameFrom = locate(payload, sample, mismatch.offset, chunkSize);
  return { bytes: pos, sha256: hash.digest('hex'), mismatch };
}
