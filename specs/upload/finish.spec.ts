// UPL-FINISH: how an upload finishes for a policy that finishes with its last chunk (local, remote — the slave calls
// the master back before it answers): the file has its size, bytes and metadata at once, the quota is charged once,
// and the session is gone: a chunk afterwards is refused with 40011.
import {
  Code, POLICY_TYPES, expect, expectChunkCode, expectContent, expectFinished, expectPlaceholder, info, openUpload, req,
  Payload, seedFor, send, sendAll, test, used, uploadAll,
} from './support.js';

for (const policy of POLICY_TYPES) {
  test.describe(`${policy} @policy:${policy}`, () => {
    test('UPL-FINISH-001 the last chunk finishes the upload: size, current version and bytes right away', req('UPL-FINISH-001'),
      async ({ uploader, driver, profile, folder, opened, env, target, makeTransport }, testInfo) => {
        test.skip(profile.finish !== 'last-chunk', `${profile.policy} finishes with ${profile.finish}`);
        const uri = `${folder}/finish.bin`;
        const up = await openUpload(uploader, opened, uri, 3 * env.chunkSize + 1, seedFor(testInfo.title));
        await sendAll(driver, up, up.chunks.slice(0, -1).map((c) => c.index));
        await expectPlaceholder(uploader, uri, up.session.session_id, 'before the last chunk');
        await sendAll(driver, up, [up.chunks.length - 1]);
        // No polling: the answer to the last chunk comes after the upload finished.
        const f = await expectFinished(uploader, uri, up.payload.size);
        const ext = await info(uploader, uri, true);
        const versions = (ext.extended_info?.entities ?? []).filter((e) => (e.type ?? 0) === 0);
        expect(versions.map((e) => e.size), 'one version entity of the declared size').toEqual([up.payload.size]);
        expect(versions[0]?.id).toBe(f.primary_entity);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-FINISH-002 after the upload finished its session is gone: a chunk is refused with 40011 and changes nothing', req('UPL-FINISH-002'),
      async ({ uploader, driver, profile, folder, opened, env, target, makeTransport }, testInfo) => {
        test.skip(profile.finish !== 'last-chunk', `${profile.policy} finishes with ${profile.finish}`);
        const uri = `${folder}/gone.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize, seedFor(testInfo.title));
        await uploadAll(driver, up, uploader);
        const foreign = { ...up, payload: new Payload(up.payload.seed ^ 0xff, up.payload.size) };
        expectChunkCode(await send(driver, foreign, 0), Code.UploadSessionExpired, 'chunk 0 again after the upload finished');
        expectChunkCode(await send(driver, foreign, 1), Code.UploadSessionExpired, 'the last chunk again after the upload finished');
        await expectFinished(uploader, uri, up.payload.size);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-FINISH-003 the metadata sent with the session is set when the upload finishes, not before', req('UPL-FINISH-003'),
      async ({ uploader, driver, profile, folder, opened, env }, testInfo) => {
        test.skip(profile.finish !== 'last-chunk', `${profile.policy} finishes with ${profile.finish}`);
        const uri = `${folder}/meta.bin`;
        const metadata = { 'customize:icon_color': '#ff5722' };
        const up = await openUpload(uploader, opened, uri, env.chunkSize + 3, seedFor(testInfo.title), { metadata });
        expect((await info(uploader, uri)).metadata?.['customize:icon_color'], 'not while pending').toBeUndefined();
        await uploadAll(driver, up, uploader);
        expect((await info(uploader, uri)).metadata?.['customize:icon_color'], 'set once finished').toBe('#ff5722');
      });

    test('UPL-FINISH-004 last_modified (unix ms) becomes the finished file\'s updated_at', req('UPL-FINISH-004'),
      async ({ uploader, driver, profile, folder, opened, env }, testInfo) => {
        test.skip(profile.finish !== 'last-chunk', `${profile.policy} finishes with ${profile.finish}`);
        const uri = `${folder}/mtime.bin`;
        const lastModified = Date.UTC(2023, 10, 14, 22, 13, 20);
        const up = await openUpload(uploader, opened, uri, env.chunkSize + 3, seedFor(testInfo.title), { lastModified });
        await uploadAll(driver, up, uploader);
        expect(Date.parse((await info(uploader, uri)).updated_at)).toBe(lastModified);
      });

    test('UPL-FINISH-005 the finished file is charged to the quota once, at its size', req('UPL-FINISH-005'),
      async ({ uploader, driver, profile, folder, opened, env }, testInfo) => {
        test.skip(profile.finish !== 'last-chunk', `${profile.policy} finishes with ${profile.finish}`);
        const before = await used(uploader);
        const up = await openUpload(uploader, opened, `${folder}/quota.bin`, 2 * env.chunkSize + 9, seedFor(testInfo.title));
        await uploadAll(driver, up, uploader);
        expect(await used(uploader) - before, 'quota after the upload finished').toBe(up.payload.size);
      });
  });
}
