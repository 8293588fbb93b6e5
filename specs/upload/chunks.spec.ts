// UPL-CHUNK: chunk uploads, for every storage policy whose chunks the suite drives (the master's chunk route for
// local and relay, the slave's for remote): every size around the chunk boundaries read back byte for byte, the
// length and index rules, and chunks out of order or repeated (4.18: the upload completes when every index arrived).
import { randomUUID } from 'node:crypto';
import {
  Code, POLICY_TYPES, Payload, SUITE_CHUNK_SIZE, expect, expectChunkCode, expectChunkOk, expectContent, expectFinished,
  expectPlaceholder, openUpload, rawSlaveChunk, req, seedFor, send, sendAll, sendBody, slaveChunkCredential, test,
  uncheckedDriver, used, skipUnlessTargetTakesChunks, uploadAll,
} from './support.js';

const C = SUITE_CHUNK_SIZE;
/** The sizes that cross the chunk boundaries, by name (the chunk size is the environment's, 1024). */
const SIZES: [string, (c: number) => number][] = [
  ['0', () => 0], ['1', () => 1], ['chunk-1', (c) => c - 1], ['chunk', (c) => c], ['chunk+1', (c) => c + 1],
  ['2·chunk', (c) => 2 * c], ['2·chunk+1', (c) => 2 * c + 1],
];

for (const policy of POLICY_TYPES) {
  test.describe(`${policy} @policy:${policy}`, () => {
    for (const [label, sizeOf] of SIZES) {
      test(`UPL-CHUNK-001 a file of ${label} bytes (${sizeOf(C)}) uploads in order and reads back byte for byte`, req('UPL-CHUNK-001'),
        async ({ uploader, driver, folder, opened, env, target, makeTransport, profile }, testInfo) => {
          skipUnlessTargetTakesChunks(profile);
          const size = sizeOf(env.chunkSize);
          const uri = `${folder}/size-${size}.bin`;
          const up = await openUpload(uploader, opened, uri, size, seedFor(testInfo.title));
          expect(up.chunks.length, 'chunks the file needs').toBe(Math.max(1, Math.ceil(size / env.chunkSize)));
          await uploadAll(driver, up, uploader);
          await expectFinished(uploader, uri, size);
          await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
        });
    }

    test('UPL-CHUNK-002 a chunk of the wrong length is refused with 40013 (short, long, a last chunk one byte long)', req('UPL-CHUNK-002'),
      async ({ uploader, driver, folder, opened, env, profile }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/length.bin`;
        const size = 2 * env.chunkSize + 452;
        const up = await openUpload(uploader, opened, uri, size, seedFor(testInfo.title));
        expectChunkCode(await sendBody(driver, up, 0, env.chunkSize - 24), Code.InvalidContentLength, 'chunk 0, 24 bytes short');
        expectChunkCode(await sendBody(driver, up, 0, env.chunkSize + 76), Code.InvalidContentLength, 'chunk 0, 76 bytes long');
        expectChunkCode(await sendBody(driver, up, 2, 453), Code.InvalidContentLength, 'the last chunk (452 bytes) one byte long');
        await expectPlaceholder(uploader, uri, up.session.session_id);
      });

    test('UPL-CHUNK-003 a chunk without Content-Length (chunked transfer) is refused with 40013', req('UPL-CHUNK-003'),
      async ({ uploader, uploaderUnchecked, profile, makeTransport, folder, opened, env }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/no-length.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        const raw = uncheckedDriver(profile, uploaderUnchecked, makeTransport);
        expectChunkCode(await send(raw, up, 0, { contentLength: null }), Code.InvalidContentLength, 'chunk 0 without Content-Length');
        await expectPlaceholder(uploader, uri, up.session.session_id);
      });

    test('UPL-CHUNK-004 a chunk index past the last chunk is refused with 40012', req('UPL-CHUNK-004'),
      async ({ uploader, driver, folder, opened, env, profile }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/range.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        expectChunkCode(await sendBody(driver, up, 3, env.chunkSize), Code.InvalidChunkIndex, 'index 3 (= the chunk count), a full chunk');
        expectChunkCode(await sendBody(driver, up, 99, 0), Code.InvalidChunkIndex, 'index 99, empty body');
        await expectPlaceholder(uploader, uri, up.session.session_id);
      });

    test('UPL-CHUNK-005 a negative chunk index is refused with 40001', req('UPL-CHUNK-005'),
      async ({ uploader, uploaderUnchecked, profile, makeTransport, folder, opened, env }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/negative.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        const raw = uncheckedDriver(profile, uploaderUnchecked, makeTransport);
        expectChunkCode(await send(raw, up, 0, { index: -1 }), Code.ParamErr, 'index -1');
        await expectPlaceholder(uploader, uri, up.session.session_id);
      });

    test('UPL-CHUNK-006 a chunk index that is not an integer is refused with 40001, not taken as 0', req('UPL-CHUNK-006'),
      async ({ uploader, uploaderUnchecked, driver, profile, makeTransport, folder, opened, env, target }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/not-a-number.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        const raw = uncheckedDriver(profile, uploaderUnchecked, makeTransport);
        // After chunk 0, the bytes of chunk 0 with a foreign seed: if the server took the index as 0, the readback shows it.
        const foreign = { ...up, payload: new Payload(up.payload.seed ^ 0x5a5a, up.payload.size) };
        await sendAll(driver, up, [0]);
        expectChunkCode(await send(raw, foreign, 0, { index: 'abc' }), Code.ParamErr, 'index "abc"');
        expectChunkCode(await send(raw, foreign, 0, { index: '1.5' }), Code.ParamErr, 'index "1.5"');
        await sendAll(driver, up, [1, 2]);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-CHUNK-007 a chunk request without an index is refused, not taken as chunk 0', req('UPL-CHUNK-007'),
      async ({ uploader, profile, makeTransport, folder, opened, env }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        test.skip(profile.chunkEndpoint !== 'slave', `the ${profile.chunkEndpoint}'s chunk route carries the index in its path; only the slave's takes it from the query`);
        const uri = `${folder}/no-index.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        const a = await rawSlaveChunk(makeTransport({ requestValidation: 'off' }), up.session, '', new Payload(up.payload.seed ^ 0x33, env.chunkSize));
        expectChunkCode(a, Code.ParamErr, 'a slave chunk request without ?chunk=');
        await expectPlaceholder(uploader, uri, up.session.session_id);
      });

    test('UPL-CHUNK-008 chunks in any order: the upload completes when the last missing index arrives, not before', req('UPL-CHUNK-008'),
      async ({ uploader, driver, profile, folder, opened, env, target, makeTransport }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        test.skip(!profile.outOfOrderChunks, `${profile.policy} takes chunks in order only (capability profile)`);
        const uri = `${folder}/order.bin`;
        const up = await openUpload(uploader, opened, uri, 3 * env.chunkSize + 300, seedFor(testInfo.title));
        await sendAll(driver, up, [3, 0]);
        await expectPlaceholder(uploader, uri, up.session.session_id, 'after the last and the first chunk');
        await sendAll(driver, up, [2]);
        await expectPlaceholder(uploader, uri, up.session.session_id, 'with chunk 1 still missing');
        await sendAll(driver, up, [1]);
        await expectFinished(uploader, uri, up.payload.size);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-CHUNK-009 a repeated chunk overwrites in place and completes nothing; the last write of an index counts', req('UPL-CHUNK-009'),
      async ({ uploader, driver, folder, opened, env, target, makeTransport, profile }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/repeat.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        // Chunk 0 first with other bytes of the right length, then (after chunk 1) with the right ones: the repeat
        // must not disturb chunk 1 (4.0.0 truncated the file at chunk 0).
        const wrong = { ...up, payload: new Payload(up.payload.seed ^ 0x77, up.payload.size) };
        expectChunkOk(await send(driver, wrong, 0), 'chunk 0 (other bytes)');
        await sendAll(driver, up, [1, 0]);
        await expectPlaceholder(uploader, uri, up.session.session_id, 'after chunks 0, 1, 0');
        await sendAll(driver, up, [2]);
        await expectFinished(uploader, uri, up.payload.size);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-CHUNK-010 a chunk for an unknown session is refused with 40011 and charges nothing', req('UPL-CHUNK-010'),
      async ({ uploader, driver, profile, folder, opened, env, target }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/unknown.bin`;
        const up = await openUpload(uploader, opened, uri, env.chunkSize, seedFor(testInfo.title));
        const before = await used(uploader);
        const id = randomUUID();
        const session = { ...up.session, session_id: id };
        if (profile.chunkEndpoint === 'slave') {
          // A credential the node key really signed for that session id: only the session is unknown.
          const url = up.session.upload_urls![0]!.replace(up.session.session_id, id);
          session.upload_urls = [url];
          session.credential = slaveChunkCredential(target.slave!.secret, url, up.session.expires);
        }
        expectChunkCode(await send(driver, { ...up, session }, 0), Code.UploadSessionExpired, `a chunk for session ${id}`);
        expect(await used(uploader), 'quota after the refused chunk').toBe(before);
      });
  });
}
