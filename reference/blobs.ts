// Stored bytes: one file per entity under <dataDir>/uploads/<uid>/. Chunks are streamed to their offset, downloads
// are streamed back; nothing is buffered whole.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';

export class Blobs {
  constructor(private readonly dataDir: string) {}

  newSource(uid: number, entityId: number): string {
    return `uploads/${uid}/${entityId}_${randomBytes(4).toString('hex')}`;
  }

  path(source: string): string {
    return join(this.dataDir, source);
  }

  /** Creates (or truncates) the blob; with pre-allocation it gets its final length at once, like fallocate. */
  async create(source: string, size: number, preallocate: boolean): Promise<void> {
    const p = this.path(source);
    await mkdir(dirname(p), { recursive: true });
    const fh = await open(p, 'w');
    try {
      if (preallocate && size > 0) await fh.truncate(size);
    } finally {
      await fh.close();
    }
  }

  /**
   * Streams `body` into the blob at `offset`, reading at most `length` bytes; resolves with the number of bytes
   * written (fewer than `length` when the client sent less than it declared).
   */
  async writeAt(source: string, offset: number, body: Readable, length: number): Promise<number> {
    let written = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, done) {
        const room = length - written;
        if (room <= 0) return done();
        const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
        written += part.length;
        done(null, part);
      },
    });
    if (length === 0) {
      body.resume();
      return 0;
    }
    await pipeline(body, limit, createWriteStream(this.path(source), { flags: 'r+', start: offset }));
    return written;
  }

  read(source: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.path(source), range);
  }

  async size(source: string): Promise<number> {
    try {
      return (await stat(this.path(source))).size;
    } catch {
      return -1;
    }
  }

  async remove(source: string): Promise<void> {
    await rm(this.path(source), { force: true });
  }
}
