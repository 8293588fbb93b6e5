// UPL-EXPIRY: upload sessions expire `upload_session_timeout` seconds after creation (chunks do not extend them).
// With an admin identity the TTL is shortened through the admin settings (journaled and restored): after expiry a
// chunk is refused, and what expiry leaves behind — the placeholder holding the path, the charged quota — stays until
// the session is cancelled, which then removes all of it. Without admin only `expires` is checked; the waits skip.
// upload_session_timeout is a site-wide setting: the tests of a policy run serially.
import {
  Code, POLICY_TYPES, blobOfSession, cancel, createSession, eventually, expect, expectChunkCode, expectChunkOk,
  expectCode, expectGone, expectPlaceholder, expectSuccess, nowSeconds, openSession, openUpload, req, seedFor, send,
  slaveChunkCredential, slaveHasBlob, test, used, waitPast, type Upload, skipUnlessTargetTakesChunks, withTtl,
} from './support.js';

const TTL = 3;

for (const policy of POLICY_TYPES) {
  test.describe(`${policy} @policy:${policy}`, () => {
    test.describe.configure({ mode: 'serial' });

    test('UPL-EXPIRY-001 expires is in the future, in whole seconds, and (with admin) now + upload_session_timeout', req('UPL-EXPIRY-001'),
      async ({ uploader, adminGuard, folder, opened }) => {
        const before = nowSeconds();
        const s = await openSession(uploader, opened, `${folder}/expires.bin`, 10);
        const after = nowSeconds();
        expect(Number.isInteger(s.expires), 'whole seconds').toBe(true);
        expect(s.expires, 'in the future').toBeGreaterThan(after);
        if (!adminGuard) {
          test.info().annotations.push({ type: 'note', description: 'no admin identity: upload_session_timeout unknown, only the clock checked' });
          return;
        }
        const ttl = Number((await adminGuard.getSettings(['upload_session_timeout'])).upload_session_timeout);
        expect(s.expires).toBeGreaterThanOrEqual(before + ttl - 1);
        expect(s.expires).toBeLessThanOrEqual(after + ttl + 1);
      });

    test('UPL-EXPIRY-002 after the session expired a chunk is refused (40011; the slave: the credential expired with it, 40005)', req('UPL-EXPIRY-002'),
      async ({ uploader, adminSettings, driver, profile, folder, opened, env, target }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        await withTtl(adminSettings, TTL, async () => {
          const before = nowSeconds();
          const up = await openUpload(uploader, opened, `${folder}/late.bin`, 2 * env.chunkSize + 452, seedFor(testInfo.title));
          expect(up.session.expires, `expires ≈ now + ${TTL}`).toBeLessThanOrEqual(nowSeconds() + TTL + 1);
          expect(up.session.expires).toBeGreaterThanOrEqual(before + TTL - 1);
          expectChunkOk(await send(driver, up, 0), 'chunk 0 in time');
          await waitPast(up.session.expires);
          if (profile.chunkEndpoint === 'slave') {
            expectChunkCode(await send(driver, up, 1), Code.SignExpired, 'chunk 1 after expiry, with the session\'s credential');
            // Re-signed for later: the slave's own session has expired as well.
            const fresh = slaveChunkCredential(target.slave!.secret, up.session.upload_urls![0]!, nowSeconds() + 600);
            expectChunkCode(await send(driver, up, 1, { credential: fresh }), Code.UploadSessionExpired, 'chunk 1 after expiry, re-signed');
          } else {
            expectChunkCode(await send(driver, up, 1), Code.UploadSessionExpired, 'chunk 1 after expiry');
          }
        });
      });

    test('UPL-EXPIRY-003 an expired session leaves its placeholder and charge until cancelled; cancelling removes both', req('UPL-EXPIRY-003'),
      async ({ uploader, adminSettings, driver, folder, opened, env, profile }, testInfo) => {
        test.skip(profile.singleChunk, `${profile.policy}: the whole file is one request, so no upload is left half-sent`);
        const base = await used(uploader);
        const uri = `${folder}/left.bin`;
        let up: Upload | undefined;
        await withTtl(adminSettings, TTL, async () => {
          up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
          expectChunkOk(await send(driver, up, 0), 'chunk 0 in time');
        });
        await waitPast(up!.session.expires);
        // What Cloudreve leaves after expiry (no job collects it): the placeholder, still holding the path and the charge.
        await expectPlaceholder(uploader, uri, up!.session.session_id, 'after expiry');
        expect(await used(uploader) - base, 'still charged after expiry').toBe(up!.payload.size);
        expectCode(await createSession(uploader, opened, uri, 5), Code.ObjectExist, { message: 'a new session for the path' });
        expectSuccess(await cancel(uploader, up!.session, uri), 'cancel the expired session');
        await expectGone(uploader, uri, 'the placeholder after the cancel');
        expect(await used(uploader), 'quota after the cancel').toBe(base);
      });

    test('UPL-EXPIRY-004 cancelling an expired session also removes the bytes it stored', req('UPL-EXPIRY-004'),
      async ({ uploader, adminSettings, admin, driver, profile, folder, opened, env, target, makeTransport }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        test.skip(profile.chunkEndpoint !== 'slave',
          `${profile.policy}: the bytes the ${profile.chunkEndpoint} stores are not observable through the API (the slave's are, with the node key)`);
        const uri = `${folder}/stored.bin`;
        let up: Upload | undefined;
        await withTtl(adminSettings, TTL, async () => {
          up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
          expectChunkOk(await send(driver, up, 0), 'chunk 0 in time');
        });
        const blob = await blobOfSession(admin, env.policyId, up!.session.session_id);
        expect(blob, 'the admin API lists the pending upload\'s blob').toBeDefined();
        await waitPast(up!.session.expires);
        const transport = makeTransport();
        expect(await slaveHasBlob(transport, target.slave!, blob!.source), 'the partial file is on the slave after expiry').toBe(true);
        expectSuccess(await cancel(uploader, up!.session, uri), 'cancel the expired session');
        const gone = await eventually(async () => !(await slaveHasBlob(transport, target.slave!, blob!.source)));
        expect(gone, `the slave no longer holds ${blob!.source} after the cancel`).toBe(true);
      });
  });
}
