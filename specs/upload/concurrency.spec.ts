// UPL-CONC: races, judged against the SET of allowed outcomes (codes and the resulting file state), never against
// one interleaving, so they hold under --repeat-each: the same index twice at once, a chunk racing a cancel, two
// sessions for one path, and the chunks of one session in parallel (up to the policy's chunk_concurrency, or 3).
import {
  Code, POLICY_TYPES, cancel, createSession, expect, expectChunkCode, expectChunkOk, expectChunkOneOf, expectContent,
  expectFinished, expectGone, expectOneOfCodes, expectPlaceholder, isCode, openUpload, planChunks, req, seedFor, send,
  sendAll, test, used, withSize, Payload, type ChunkAttempt, type UploadSession, skipUnlessTargetTakesChunks,
  uploadAll,
} from './support.js';

for (const policy of POLICY_TYPES) {
  test.describe(`${policy} @policy:${policy}`, () => {
    test('UPL-CONC-001 the last chunk sent twice at once completes the upload once, with the right bytes', req('UPL-CONC-001'),
      async ({ uploader, driver, folder, opened, env, target, makeTransport, profile }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/same-index.bin`;
        const before = await used(uploader);
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        await sendAll(driver, up, [0, 1]);
        const both = await Promise.all([send(driver, up, 2), send(driver, up, 2)]);
        // One completes; the other is counted again (0), finds the session gone (40011), or loses the lock race (40073).
        for (const a of both) expectChunkOneOf(a, [Code.Success, Code.UploadSessionExpired, Code.LockConflict], 'chunk 2 (twice at once)');
        expect(both.filter((a) => a.code === Code.Success).length, 'at least one of the two succeeded').toBeGreaterThanOrEqual(1);
        await expectFinished(uploader, uri, up.payload.size);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
        expect(await used(uploader) - before, 'charged once').toBe(up.payload.size);
      });

    test('UPL-CONC-002 a chunk racing a cancel: whichever wins, the session, the placeholder and the charge are gone', req('UPL-CONC-002'),
      async ({ uploader, driver, folder, opened, env, profile }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/race-cancel.bin`;
        const before = await used(uploader);
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        await sendAll(driver, up, [0]);
        const [chunk, cancelled] = await Promise.all([send(driver, up, 1), cancel(uploader, up.session, uri)]);
        expectChunkOneOf(chunk, [Code.Success, Code.UploadSessionExpired, Code.ParentNotExist, Code.LockConflict, Code.IOFailed],
          'chunk 1 racing the cancel');
        const c = expectOneOfCodes(cancelled, [Code.Success, Code.LockConflict], 'the cancel racing chunk 1');
        // A cancel that lost the lock race leaves the session intact; cancelling again then succeeds.
        if (c === Code.LockConflict) expect(isCode(await cancel(uploader, up.session, uri)), 'the cancel again').toBe(Code.Success);
        await expectGone(uploader, uri, 'the placeholder');
        expectChunkCode(await send(driver, up, 2), Code.UploadSessionExpired, 'chunk 2 after the race');
        expect(await used(uploader), 'quota after the race').toBe(before);
      });

    test('UPL-CONC-003 two sessions for one path at once: exactly one is created, charged and completes', req('UPL-CONC-003'),
      async ({ uploader, driver, folder, opened, env, target, makeTransport }, testInfo) => {
        const uri = `${folder}/two-sessions.bin`;
        const before = await used(uploader);
        const sizes = [env.chunkSize + 11, 2 * env.chunkSize + 22];
        const results = await Promise.all(sizes.map((n) => createSession(uploader, opened, uri, n)));
        const codes = results.map((r, i) => expectOneOfCodes(r, [Code.Success, Code.ObjectExist, Code.LockConflict, Code.Conflict], `session ${i + 1}`));
        expect(codes.filter((c) => c === Code.Success).length, 'exactly one session is created').toBe(1);
        const winner = codes.indexOf(Code.Success);
        const session = withSize((results[winner]!.data as { data: UploadSession }).data, sizes[winner]!);
        expect(await used(uploader) - before, 'charged once, by the winner\'s size').toBe(sizes[winner]);
        await expectPlaceholder(uploader, uri, session.session_id);
        const payload = new Payload(seedFor(testInfo.title), sizes[winner]!);
        const up = { session, payload, uri, chunks: planChunks(payload.size, session.chunk_size) };
        await uploadAll(driver, up, uploader);
        await expectContent(uploader, makeTransport(), target, uri, payload, env.chunkSize);
      });

    test('UPL-CONC-004 the chunks of one session sent in parallel (chunk_concurrency, or 3) complete the upload right', req('UPL-CONC-004'),
      async ({ uploader, driver, profile, folder, opened, env, target, makeTransport }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        test.skip(!profile.outOfOrderChunks, `${profile.policy} takes chunks in order only (capability profile)`);
        const uri = `${folder}/parallel.bin`;
        const up = await openUpload(uploader, opened, uri, 7 * env.chunkSize + 300, seedFor(testInfo.title));
        const width = up.session.storage_policy?.chunk_concurrency || 3;
        // The last index goes first: a server that completes on the last index alone would finish with chunks missing.
        const queue = [up.chunks.length - 1, ...up.chunks.slice(0, -1).map((c) => c.index)];
        const attempts: ChunkAttempt[] = [];
        const worker = async () => {
          for (let i = queue.shift(); i !== undefined; i = queue.shift()) attempts.push(await send(driver, up, i));
        };
        await Promise.all(Array.from({ length: width }, worker));
        for (const a of attempts) expectChunkOneOf(a, [Code.Success, Code.LockConflict], `chunk ${a.index} (${width} in parallel)`);
        // 40073: two confirmations of the session lock overlapped; the server asks for the chunk again.
        for (const a of attempts.filter((x) => x.code === Code.LockConflict)) expectChunkOk(await send(driver, up, a.index), `chunk ${a.index} again`);
        await expectFinished(uploader, uri, up.payload.size);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });
  });
}
