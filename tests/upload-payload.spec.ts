// CT-UPL: the chunk planner splits as the server does; payloads are deterministic, seekable and self-describing, and a
// readback names the chunk that landed in the wrong place.
import { test, expect } from '@playwright/test';
import { planChunks } from '../harness/upload/plan.js';
import { BLOCK, Payload, compareReadback, readMarker } from '../harness/upload/payload.js';

test('CT-UPL-PLAN-001 chunk boundaries: 0, 1, chunk−1, chunk, chunk+1, 2·chunk, 2·chunk+1', () => {
  const c = 1024;
  const lengths = (size: number) => planChunks(size, c).map((p) => p.length);
  expect(lengths(0)).toEqual([0]);
  expect(lengths(1)).toEqual([1]);
  expect(lengths(c - 1)).toEqual([c - 1]);
  expect(lengths(c)).toEqual([c]);
  expect(lengths(c + 1)).toEqual([c, 1]);
  expect(lengths(2 * c)).toEqual([c, c]);
  expect(lengths(2 * c + 1)).toEqual([c, c, 1]);
  expect(planChunks(5000, 0)).toEqual([{ index: 0, offset: 0, length: 5000 }]);
  expect(planChunks(2049, 1024).map((p) => p.offset)).toEqual([0, 1024, 2048]);
  expect(() => planChunks(-1, 10)).toThrow(RangeError);
});

test('CT-UPL-PAY-001 bytes are a pure function of seed and offset, whatever the slicing', () => {
  const p = new Payload(42, 3 * BLOCK + 123);
  const whole = Buffer.concat([...p.blocks()]);
  expect(whole.length).toBe(p.size);
  expect(Buffer.concat([...p.blocks(0, p.size, 777)]).equals(whole)).toBe(true);
  for (const [o, l] of [[0, 10], [5, 20], [BLOCK - 3, 40], [2 * BLOCK + 7, 500], [p.size - 1, 1]] as const) {
    expect(Buffer.concat([...p.blocks(o, l)]).equals(whole.subarray(o, o + l)), `${o}+${l}`).toBe(true);
  }
  expect(readMarker(whole.subarray(2 * BLOCK))).toBe(2 * BLOCK);
  expect(new Payload(42, 100).range(0, 100).equals(whole.subarray(0, 100))).toBe(true);
  expect(new Payload(43, 100).range(0, 100).equals(whole.subarray(0, 100))).toBe(false);
});

async function* pieces(buf: Buffer, size = 1000) { for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size); }

test('CT-UPL-PAY-002 an exact readback matches; a swapped chunk is named by where its bytes came from', async () => {
  const chunk = 1024;
  const p = new Payload(7, 4 * chunk + 10);
  const whole = Buffer.concat([...p.blocks()]);
  const ok = await compareReadback(p, pieces(whole), chunk);
  expect(ok).toEqual({ bytes: p.size, sha256: p.sha256(), mismatch: undefined });
  const swapped = Buffer.from(whole);
  whole.copy(swapped, 1 * chunk, 3 * chunk, 4 * chunk);   // chunk 3's bytes stored as chunk 1
  const bad = await compareReadback(p, pieces(swapped), chunk);
  expect(bad.mismatch).toEqual({ offset: 1 * chunk, cameFrom: 3 * chunk });
  const short = await compareReadback(p, pieces(whole.subarray(0, 3000)), chunk);
  expect(short.mismatch).toEqual({ offset: 3000 });
  const zeros = Buffer.from(whole); zeros.fill(0, 2 * chunk, 3 * chunk);
  expect((await compareReadback(p, pieces(zeros), chunk)).mismatch).toEqual({ offset: 2 * chunk, cameFrom: undefined });
});

test('CT-UPL-PAY-003 a payload streams in bounded pieces, never as one buffer', async () => {
  const p = new Payload(1, 16 * 1024 * 1024 + 5);
  let n = 0;
  let largest = 0;
  for await (const piece of p.stream()) { n += piece.length; largest = Math.max(largest, piece.length); }
  expect(n).toBe(p.size);
  expect(largest).toBeLessThanOrEqual(64 * 1024);
});
