// UPL-SEC: who may touch an upload. Anonymous callers and other users cannot create in the owner's space, send its
// chunks or cancel it, and the owner's upload finishes unharmed; the slave refuses forged, expired, unprefixed,
// never-expiring and missing credentials; uris that try to climb out of the user's root (`..`) never leave it; nothing
// of another user becomes visible or changes.
import {
  Code, POLICY_TYPES, cancel, createSession, driverAs, expect, expectChunkCode, expectChunkOneOf, expectCode,
  expectContent, expectFinished, expectGone, expectOneOfCodes, expectPlaceholder, info, inSpaceOf, isCode, names,
  nowSeconds, openSession, openUpload, policyIdOf, req, seedFor, send, sendAll, slaveChunkCredential, test, used,
  userIdOf, Payload, type Upload, type UploadSession, slaveRequestCredential, skipUnlessTargetTakesChunks, uploadAll,
} from './support.js';
import { expectNoSecretEcho } from '../../harness/expect.js';

const SLAVE_ONLY = (endpoint: string) => `the ${endpoint} takes the user's token, not a slave credential (see UPL-SEC-002/005)`;

for (const policy of POLICY_TYPES) {
  test.describe(`${policy} @policy:${policy}`, () => {
    test('UPL-SEC-001 an anonymous caller cannot create an upload session (401)', req('UPL-SEC-001'),
      async ({ uploader, stranger, folder, opened }) => {
        const policyId = await policyIdOf(uploader, 'cloudreve://my');
        expectCode(await createSession(stranger, opened, `${folder}/anonymous.bin`, 10, { policyId }), Code.CheckLogin);
        expect(await names(uploader, folder), 'nothing created').toEqual([]);
      });

    test('UPL-SEC-002 a chunk without the owner\'s credential is refused; the owner\'s upload is unharmed', req('UPL-SEC-002'),
      async ({ uploader, stranger, driver, profile, folder, opened, env, target, makeTransport }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/anonymous-chunk.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 1, seedFor(testInfo.title));
        const charged = await used(uploader);
        const foreign: Upload = { ...up, payload: new Payload(up.payload.seed ^ 0x99, up.payload.size) };
        if (profile.chunkEndpoint === 'slave') {
          expectChunkCode(await send(driver, foreign, 0, { credential: null }), Code.NoPermissionErr, 'chunk 0 without Authorization');
        } else {
          // The master answers as if the session did not exist (40011): nothing tells a stranger it does.
          expectChunkCode(await send(driverAs(profile, stranger, makeTransport), foreign, 0), Code.UploadSessionExpired, 'chunk 0, anonymous');
        }
        await expectPlaceholder(uploader, uri, up.session.session_id);
        expect(await used(uploader)).toBe(charged);
        await uploadAll(driver, up, uploader);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-SEC-003 an anonymous caller cannot cancel an upload (401); the session stays', req('UPL-SEC-003'),
      async ({ uploader, stranger, driver, folder, opened, env, target, makeTransport }, testInfo) => {
        const uri = `${folder}/anonymous-cancel.bin`;
        const up = await openUpload(uploader, opened, uri, env.chunkSize + 1, seedFor(testInfo.title));
        expectCode(await cancel(stranger, up.session, uri), Code.CheckLogin);
        await expectPlaceholder(uploader, uri, up.session.session_id);
        await uploadAll(driver, up, uploader);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-SEC-004 another user cannot create an upload in the owner\'s space (403), nor list it', req('UPL-SEC-004'),
      async ({ uploader, other, folder, opened }) => {
        const owner = await userIdOf(uploader);
        const before = await used(uploader);
        expectCode(await createSession(other, opened, inSpaceOf(owner, `${folder}/intruder.bin`), 10), Code.NoPermissionErr);
        expectCode(await other.GET('/file', { params: { query: { uri: inSpaceOf(owner, folder) } } }), Code.NoPermissionErr,
          { message: 'listing the owner\'s folder' });
        expect(await names(uploader, folder), 'nothing created').toEqual([]);
        expect(await used(uploader), 'the owner\'s quota').toBe(before);
      });

    test('UPL-SEC-005 another user cannot send the owner\'s chunks; the owner\'s upload is unharmed', req('UPL-SEC-005'),
      async ({ uploader, other, driver, profile, folder, opened, env, target, makeTransport }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/cross-chunk.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 1, seedFor(testInfo.title));
        const foreign: Upload = { ...up, payload: new Payload(up.payload.seed ^ 0x42, up.payload.size) };
        if (profile.chunkEndpoint === 'slave') {
          // The slave knows no users: what another party could hold is another session's credential, and that one is
          // bound to its own session's URL.
          const another = await openSession(uploader, opened, `${folder}/another.bin`, 1);
          expectChunkCode(await send(driver, foreign, 0, { credential: another.credential }), Code.InvalidSign,
            'chunk 0 with another session\'s credential');
        } else {
          expectChunkCode(await send(driverAs(profile, other, makeTransport), foreign, 0), Code.UploadSessionExpired, 'chunk 0 as another user');
        }
        await expectPlaceholder(uploader, uri, up.session.session_id);
        await uploadAll(driver, up, uploader);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-SEC-006 another user cannot cancel the owner\'s upload; the session stays', req('UPL-SEC-006'),
      async ({ uploader, other, driver, folder, opened, env, target, makeTransport }, testInfo) => {
        const uri = `${folder}/cross-cancel.bin`;
        const up = await openUpload(uploader, opened, uri, env.chunkSize + 1, seedFor(testInfo.title));
        const owner = await userIdOf(uploader);
        // The same path in their own space does not exist; the owner's space is not theirs.
        expectCode(await cancel(other, up.session, uri), Code.ParentNotExist, { message: 'cancel with the uri in their own space' });
        expectCode(await cancel(other, up.session, inSpaceOf(owner, uri)), Code.NoPermissionErr, { message: 'cancel with the owner\'s uri' });
        await expectPlaceholder(uploader, uri, up.session.session_id);
        await uploadAll(driver, up, uploader);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-SEC-007 the slave refuses a credential signed with another key (40071)', req('UPL-SEC-007'),
      async ({ uploader, driver, profile, folder, opened, env }, testInfo) => {
        test.skip(profile.chunkEndpoint !== 'slave', SLAVE_ONLY(profile.chunkEndpoint));
        const up = await openUpload(uploader, opened, `${folder}/forged.bin`, env.chunkSize + 1, seedFor(testInfo.title));
        const forged = slaveChunkCredential('not-the-node-key-'.repeat(4), up.session.upload_urls![0]!, up.session.expires);
        expectChunkCode(await send(driver, up, 0, { credential: forged }), Code.InvalidSign, 'a forged credential');
        await expectPlaceholder(uploader, up.uri, up.session.session_id);
      });

    test('UPL-SEC-008 the slave refuses an expired credential (40005)', req('UPL-SEC-008'),
      async ({ uploader, driver, profile, folder, opened, env, target }, testInfo) => {
        test.skip(profile.chunkEndpoint !== 'slave', SLAVE_ONLY(profile.chunkEndpoint));
        const up = await openUpload(uploader, opened, `${folder}/expired.bin`, env.chunkSize + 1, seedFor(testInfo.title));
        const expired = slaveChunkCredential(target.slave!.secret, up.session.upload_urls![0]!, nowSeconds() - 60);
        expectChunkCode(await send(driver, up, 0, { credential: expired }), Code.SignExpired, 'a credential that expired a minute ago');
        await expectPlaceholder(uploader, up.uri, up.session.session_id);
      });

    test('UPL-SEC-009 the slave refuses a credential without the "Bearer Cr " scheme', req('UPL-SEC-009'),
      async ({ uploader, driver, profile, folder, opened, env }, testInfo) => {
        test.skip(profile.chunkEndpoint !== 'slave', SLAVE_ONLY(profile.chunkEndpoint));
        const up = await openUpload(uploader, opened, `${folder}/unprefixed.bin`, env.chunkSize + 1, seedFor(testInfo.title));
        const bare = up.session.credential!.replace(/^Bearer Cr /, '');
        expectChunkOneOf(await send(driver, up, 0, { credential: bare }), [Code.NoPermissionErr, Code.InvalidSign, Code.CredentialInvalid],
          'the signature without its "Bearer Cr " scheme');
        await expectPlaceholder(uploader, up.uri, up.session.session_id);
      });

    test('UPL-SEC-010 the slave refuses a credential that never expires (expiry 0)', req('UPL-SEC-010'),
      async ({ uploader, driver, profile, folder, opened, env, target }, testInfo) => {
        test.skip(profile.chunkEndpoint !== 'slave', SLAVE_ONLY(profile.chunkEndpoint));
        const up = await openUpload(uploader, opened, `${folder}/forever.bin`, env.chunkSize + 1, seedFor(testInfo.title));
        // The master only issues credentials that expire with their session; one signed for ever outlives it.
        const forever = slaveChunkCredential(target.slave!.secret, up.session.upload_urls![0]!, 0);
        expectChunkOneOf(await send(driver, up, 0, { credential: forever }), [Code.SignExpired, Code.InvalidSign],
          'a credential with expiry 0');
        await expectPlaceholder(uploader, up.uri, up.session.session_id);
      });

    test('UPL-SEC-011 uris climbing out of the user\'s root with .. never leave it; nothing of another user changes', req('UPL-SEC-011'),
      async ({ uploader, other, folder, opened }) => {
        const rel = folder.slice('cloudreve://my/'.length);
        const rootBefore = await names(uploader, 'cloudreve://my');
        const otherRoot = await names(other, 'cloudreve://my');
        const otherUsed = await used(other);
        const attempts: [string, string, string][] = [
          ['from the root', `cloudreve://my/${'../'.repeat(8)}${rel}/climb-root.bin`, 'climb-root.bin'],
          ['from the folder', `${folder}/${'../'.repeat(12)}${rel}/climb-folder.bin`, 'climb-folder.bin'],
          ['encoded dots', `cloudreve://my/${'%2e%2e/'.repeat(8)}${rel}/climb-encoded.bin`, 'climb-encoded.bin'],
        ];
        for (const [what, uri, name] of attempts) {
          const res = await createSession(uploader, opened, uri, 10);
          const code = expectOneOfCodes(res, [Code.Success, Code.ParamErr, Code.IllegalObjectName], `a session for ${what}`);
          if (code !== Code.Success) continue;
          // Accepted: then it was resolved inside the user's root, here: this test's folder.
          const session = (res.data as { data: UploadSession }).data;
          await expectPlaceholder(uploader, `${folder}/${name}`, session.session_id, `the placeholder of ${what}, inside the folder`);
          expect(isCode(await cancel(uploader, session, `${folder}/${name}`)), `cancel ${what}`).toBe(Code.Success);
          await expectGone(uploader, `${folder}/${name}`);
        }
        expect(await names(uploader, 'cloudreve://my'), 'nothing new at the user\'s root').toEqual(rootBefore);
        expect(await names(other, 'cloudreve://my'), 'the other user\'s root is unchanged').toEqual(otherRoot);
        expect(await used(other), 'the other user\'s quota is unchanged').toBe(otherUsed);
      });

    test('UPL-SEC-012 the owner\'s finished upload stays private: another user gets no download URL and no info', req('UPL-SEC-012'),
      async ({ uploader, other, driver, folder, opened, env }, testInfo) => {
        const uri = `${folder}/private.bin`;
        const up = await openUpload(uploader, opened, uri, env.chunkSize + 1, seedFor(testInfo.title));
        await uploadAll(driver, up, uploader);
        await expectFinished(uploader, uri, up.payload.size);
        const theirs = inSpaceOf(await userIdOf(uploader), uri);
        expectCode(await other.GET('/file/info', { params: { query: { uri: theirs } } }), Code.NoPermissionErr, { message: 'info of the owner\'s file' });
        const url = await other.POST('/file/url', { body: { uris: [theirs], download: true } });
        expectOneOfCodes(url, [Code.NoPermissionErr, Code.BatchOperationNotFullyCompleted], 'a download URL for the owner\'s file');
        expect((await info(uploader, uri)).size).toBe(up.payload.size);
      });
    test('UPL-SEC-013 a completion callback with a wrong secret is refused (HTTP 401, 40020) without naming the right one; the upload is unharmed', req('UPL-SEC-013'),
      async ({ uploader, stranger, driver, folder, opened, env, target, makeTransport }, testInfo) => {
        const uri = `${folder}/callback-secret.bin`;
        const up = await openUpload(uploader, opened, uri, env.chunkSize + 1, seedFor(testInfo.title));
        const wrong = up.session.callback_secret.split('').reverse().join('');
        const res = await stranger.POST('/callback/remote/{session_id}/{key}', { params: { path: { session_id: up.session.session_id, key: wrong } } });
        expectCode(res, Code.CredentialInvalid, { status: 401, message: 'the callback with a wrong secret' });
        expectNoSecretEcho(res, up.session.callback_secret, 'the refusal of a wrong callback secret');
        await expectPlaceholder(uploader, uri, up.session.session_id);
        await uploadAll(driver, up, uploader);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-SEC-014 a completion callback with the right secret but no node signature completes nothing', req('UPL-SEC-014'),
      async ({ uploader, stranger, driver, folder, opened, env, target, makeTransport }, testInfo) => {
        const uri = `${folder}/callback-unsigned.bin`;
        const up = await openUpload(uploader, opened, uri, env.chunkSize + 1, seedFor(testInfo.title));
        const res = await stranger.POST('/callback/remote/{session_id}/{key}',
          { params: { path: { session_id: up.session.session_id, key: up.session.callback_secret } } });
        // Local sessions have no callback (40006); a remote one needs the node's signature (403 without Authorization).
        expectOneOfCodes(res, [Code.PolicyNotAllowed, Code.NoPermissionErr, Code.InvalidSign], 'an unsigned completion callback');
        expect(res.response.status, 'HTTP status of a refused callback').toBe(401);
        await expectPlaceholder(uploader, uri, up.session.session_id, 'the file after the unsigned callback');
        await uploadAll(driver, up, uploader);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-SEC-015 a completion callback replayed after the upload finished is refused (HTTP 401, 40011) and changes nothing',
      req('UPL-SEC-015'), async ({ uploader, stranger, driver, profile, folder, opened, env, target, makeTransport }, testInfo) => {
        test.skip(profile.policy !== 'remote', 'only the remote policy completes through a callback from a Cloudreve node');
        test.skip(!target.slave, 'needs the slave node\'s key to sign the callback as the node does');
        const uri = `${folder}/replayed-callback.bin`;
        const up = await openUpload(uploader, opened, uri, env.chunkSize + 1, seedFor(testInfo.title));
        await uploadAll(driver, up, uploader);
        await expectFinished(uploader, uri, up.payload.size);
        // The callback the slave sent, signed with the node key, sent again.
        const path = `/api/v4/callback/remote/${up.session.session_id}/${up.session.callback_secret}`;
        const res = await stranger.POST('/callback/remote/{session_id}/{key}', {
          params: { path: { session_id: up.session.session_id, key: up.session.callback_secret } },
          headers: { Authorization: slaveRequestCredential(target.slave!.secret, path, nowSeconds() + 60) },
        });
        expectCode(res, Code.UploadSessionExpired, { status: 401, message: 'the replayed completion callback' });
        await expectFinished(uploader, uri, up.payload.size);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });
  });
}
