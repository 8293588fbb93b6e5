// Splits an upload the way the server does: chunk_size 0, or a chunk size not below the file size, means one chunk;
// an empty file is one empty chunk; every chunk is chunk_size long except the last, which holds the remainder.

export interface ChunkPlan {
  index: number;
  offset: number;
  length: number;
}

export function planChunks(size: number, chunkSize: number): ChunkPlan[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be a non-negative integer, got ${size}`);
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 0) throw new RangeError(`chunk size must be a non-negative integer, got ${chunkSize}`);
  if (chunkSize === 0 || chunkSize >= size) return [{ index: 0, offset: 0, length: size }];
  const count = Math.ceil(size / chunkSize);
  return Array.from({ length: count }, (_, index) => {
    const offset = index * chunkSize;
    return { index, offset, length: Math.min(chunkSize, size - offset) };
  });
}

/** The chunk that holds byte `offset` of the file. */
export function chunkOf(offset: number, chunkSize: number): number {
  return chunkSize === 0 ? 0 : Math.floor(offset / chunkSize);
}
