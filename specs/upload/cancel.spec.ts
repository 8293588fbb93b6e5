// UPL-CANCEL: DELETE /file/upload for every storage policy: it removes the session and the placeholder and releases
// the quota (what the profile's cancelUndoes lists), later chunks are refused with 40011, a second cancel finds no
// file (40016), a cancelled new version leaves the file's current version alone, and (remote) the stored partial bytes
// go as well.
import {
  Code, POLICY_TYPES, blobOfSession, cancel, eventually, expect, expectChunkCode, expectCode, expectContent,
  expectGone, expectSuccess, info, names, openUpload, req, seedFor, send, sendAll, slaveHasBlob, test, used,
  skipUnlessTargetTakesChunks, uploadAll,
} from './support.js';

for (const policy of POLICY_TYPES) {
  test.describe(`${policy} @policy:${policy}`, () => {
    test('UPL-CANCEL-001 cancelling removes the session\'s placeholder file', req('UPL-CANCEL-001'),
      async ({ uploader, driver, profile, folder, opened, env }, testInfo) => {
        test.skip(profile.singleChunk, `${profile.policy}: the whole file is one request, so no upload is left half-sent`);
        expect(profile.cancelUndoes).toContain('placeholder');
        const uri = `${folder}/cancel.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        await sendAll(driver, up, [0]);
        expectSuccess(await cancel(uploader, up.session, uri), 'cancel');
        await expectGone(uploader, uri, 'the placeholder');
        expect(await names(uploader, folder), 'nothing left in the folder').toEqual([]);
      });

    test('UPL-CANCEL-002 cancelling releases the quota the session charged', req('UPL-CANCEL-002'),
      async ({ uploader, driver, profile, folder, opened, env }, testInfo) => {
        test.skip(profile.singleChunk, `${profile.policy}: the whole file is one request, so no upload is left half-sent`);
        expect(profile.cancelUndoes).toContain('quota');
        const before = await used(uploader);
        const uri = `${folder}/quota.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        await sendAll(driver, up, [0, 1]);
        expect(await used(uploader) - before, 'charged while pending').toBe(up.payload.size);
        expectSuccess(await cancel(uploader, up.session, uri), 'cancel');
        expect(await used(uploader), 'quota after the cancel').toBe(before);
      });

    test('UPL-CANCEL-003 after a cancel every chunk is refused with 40011 and nothing reappears', req('UPL-CANCEL-003'),
      async ({ uploader, driver, profile, folder, opened, env }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        expect(profile.cancelUndoes).toContain('session');
        const uri = `${folder}/after.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        await sendAll(driver, up, [0]);
        const before = await used(uploader);
        expectSuccess(await cancel(uploader, up.session, uri), 'cancel');
        const after = await used(uploader);
        expect(after, 'released').toBeLessThan(before);
        for (const i of [1, 2, 0]) expectChunkCode(await send(driver, up, i), Code.UploadSessionExpired, `chunk ${i} after the cancel`);
        await expectGone(uploader, uri, 'the placeholder');
        expect(await used(uploader), 'nothing charged by the refused chunks').toBe(after);
      });

    test('UPL-CANCEL-004 cancelling again finds no file: 40016', req('UPL-CANCEL-004'),
      async ({ uploader, folder, opened, env }, testInfo) => {
        const uri = `${folder}/twice.bin`;
        const up = await openUpload(uploader, opened, uri, env.chunkSize + 1, seedFor(testInfo.title));
        expectSuccess(await cancel(uploader, up.session, uri), 'cancel');
        const before = await used(uploader);
        expectCode(await cancel(uploader, up.session, uri), Code.ParentNotExist, { message: 'the second cancel' });
        expect(await used(uploader)).toBe(before);
      });

    test('UPL-CANCEL-005 cancelling a new version drops only that version: the file, its current version and bytes stay', req('UPL-CANCEL-005'),
      async ({ uploader, driver, folder, opened, env, target, makeTransport, profile }, testInfo) => {
        test.skip(profile.singleChunk, `${profile.policy}: the whole file is one request, so no upload is left half-sent`);
        const uri = `${folder}/keep.bin`;
        const v1 = await openUpload(uploader, opened, uri, env.chunkSize + 100, seedFor(testInfo.title, 'v1'));
        await uploadAll(driver, v1, uploader);
        const current = (await info(uploader, uri)).primary_entity;
        const before = await used(uploader);
        const v2 = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 5, seedFor(testInfo.title, 'v2'), { entityType: 'version' });
        await sendAll(driver, v2, [0]);
        expectSuccess(await cancel(uploader, v2.session, uri), 'cancel the new version');
        const f = await info(uploader, uri);
        expect(f.primary_entity, 'the current version stays').toBe(current);
        expect(f.size).toBe(v1.payload.size);
        expect(f.metadata?.['sys:upload_session_id'], 'no pending session').toBeUndefined();
        expect(await used(uploader), 'quota back to the current version only').toBe(before);
        const late = await send(driver, v2, 1);
        // Parts at a provider: the cancel aborted its upload, so the provider refuses them.
        if (profile.chunkEndpoint === 'provider') expect((late as { ok?: boolean }).ok, 'a part of the cancelled version').toBe(false);
        else expectChunkCode(late, Code.UploadSessionExpired, 'a chunk of the cancelled version');
        await expectContent(uploader, makeTransport(), target, uri, v1.payload, env.chunkSize);
      });

    test('UPL-CANCEL-006 cancelling removes the bytes already stored for the upload', req('UPL-CANCEL-006'),
      async ({ uploader, driver, profile, admin, folder, opened, env, target, makeTransport }, testInfo) => {
        test.skip(profile.chunkEndpoint !== 'slave',
          `${profile.policy}: the bytes the ${profile.chunkEndpoint} stores are not observable through the API (the slave's are, with the node key)`);
        const uri = `${folder}/stored.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        await sendAll(driver, up, [0]);
        const blob = await blobOfSession(admin, env.policyId, up.session.session_id);
        expect(blob, 'the admin API lists the pending upload\'s blob').toBeDefined();
        const transport = makeTransport();
        expect(await slaveHasBlob(transport, target.slave!, blob!.source), 'the slave holds the partial file while pending').toBe(true);
        expectSuccess(await cancel(uploader, up.session, uri), 'cancel');
        const gone = await eventually(async () => !(await slaveHasBlob(transport, target.slave!, blob!.source)));
        expect(gone, `the slave no longer holds ${blob!.source} after the cancel`).toBe(true);
      });

    test('UPL-CANCEL-007 a new session for the cancelled path works from scratch', req('UPL-CANCEL-007'),
      async ({ uploader, driver, folder, opened, env, target, makeTransport, profile }, testInfo) => {
        test.skip(profile.singleChunk, `${profile.policy}: the whole file is one request, so no upload is left half-sent`);
        const uri = `${folder}/again.bin`;
        const first = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title, 'first'));
        await sendAll(driver, first, [0, 1]);
        expectSuccess(await cancel(uploader, first.session, uri), 'cancel');
        const second = await openUpload(uploader, opened, uri, env.chunkSize + 9, seedFor(testInfo.title, 'second'));
        expect(second.session.session_id).not.toBe(first.session.session_id);
        await uploadAll(driver, second, uploader);
        await expectContent(uploader, makeTransport(), target, uri, second.payload, env.chunkSize);
      });
  });
}
