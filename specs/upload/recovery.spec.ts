// UPL-RECOVER: a rejected chunk costs nothing. After each rejection (wrong length, missing length, bad index, a bad
// credential) the same index can be sent again and the upload still finishes with the right bytes; no partial file
// becomes visible meanwhile, and the rejection charges no quota.
import {
  Code, POLICY_TYPES, describeAttempt, driverAs, expect, expectChunkOk, expectContent, expectFinished,
  expectPlaceholder, openUpload, req, seedFor, send, sendAll, sendBody, slaveChunkCredential, test, uncheckedDriver,
  used, Payload, type ChunkAttempt, type Upload, skipUnlessTargetTakesChunks, uploadAll,
} from './support.js';
import type { CloudreveClient } from '../../harness/client/index.js';

function expectRejected(a: ChunkAttempt, what: string): void {
  expect(a.code, `${what}: expected a rejection, got ${describeAttempt(a)}`).not.toBe(Code.Success);
  expect(a.code, `${what}: expected an error envelope, got ${describeAttempt(a)}`).toBeDefined();
}

/** After a rejection: still the placeholder, quota as charged at creation. */
async function expectNothingChanged(client: CloudreveClient, up: Upload, charged: number, what: string): Promise<void> {
  await expectPlaceholder(client, up.uri, up.session.session_id, `after ${what}`);
  expect(await used(client), `quota after ${what}`).toBe(charged);
}

for (const policy of POLICY_TYPES) {
  test.describe(`${policy} @policy:${policy}`, () => {
    test('UPL-RECOVER-001 after a chunk of the wrong length (or none) the same index can be sent again', req('UPL-RECOVER-001'),
      async ({ uploader, uploaderUnchecked, driver, profile, folder, opened, env, target, makeTransport }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/length.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        const charged = await used(uploader);
        const raw = uncheckedDriver(profile, uploaderUnchecked, makeTransport);
        expectRejected(await sendBody(driver, up, 0, env.chunkSize - 1), 'chunk 0 one byte short');
        await expectNothingChanged(uploader, up, charged, 'a short chunk 0');
        expectChunkOk(await send(driver, up, 0), 'chunk 0 sent again');
        expectRejected(await send(raw, up, 1, { contentLength: null }), 'chunk 1 without Content-Length');
        await expectNothingChanged(uploader, up, charged, 'chunk 1 without Content-Length');
        expectChunkOk(await send(driver, up, 1), 'chunk 1 sent again');
        expectRejected(await sendBody(driver, up, 2, 453), 'the last chunk one byte long');
        await expectNothingChanged(uploader, up, charged, 'a long last chunk');
        expectChunkOk(await send(driver, up, 2), 'the last chunk sent again');
        await expectFinished(uploader, uri, up.payload.size);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
        expect(await used(uploader), 'quota: the file, once').toBe(charged);
      });

    test('UPL-RECOVER-002 after a chunk with a bad index (past the end, negative) the upload still finishes right', req('UPL-RECOVER-002'),
      async ({ uploader, uploaderUnchecked, driver, profile, folder, opened, env, target, makeTransport }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/index.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        const charged = await used(uploader);
        const raw = uncheckedDriver(profile, uploaderUnchecked, makeTransport);
        const foreign: Upload = { ...up, payload: new Payload(up.payload.seed ^ 0xabc, up.payload.size) };
        await sendAll(driver, up, [0]);
        expectRejected(await sendBody(driver, foreign, 3, env.chunkSize), 'index 3 (= the chunk count), a full chunk');
        await expectNothingChanged(uploader, up, charged, 'an index past the end');
        expectRejected(await send(raw, foreign, 1, { index: -1 }), 'index -1');
        await expectNothingChanged(uploader, up, charged, 'a negative index');
        await sendAll(driver, up, [1, 2]);
        await expectFinished(uploader, uri, up.payload.size);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-RECOVER-003 after a chunk with a bad credential the same index can be sent again', req('UPL-RECOVER-003'),
      async ({ uploader, other, driver, profile, folder, opened, env, target, makeTransport }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/credential.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 452, seedFor(testInfo.title));
        const charged = await used(uploader);
        const foreign: Upload = { ...up, payload: new Payload(up.payload.seed ^ 0x1234, up.payload.size) };
        if (profile.chunkEndpoint === 'slave') {
          // Signed with another key, same expiry: the slave must refuse it.
          const forged = slaveChunkCredential('not-the-node-key', up.session.upload_urls![0]!, up.session.expires);
          expectRejected(await send(driver, foreign, 0, { credential: forged }), 'chunk 0 with a forged credential');
        } else {
          // Another user's token: the session is not theirs.
          expectRejected(await send(driverAs(profile, other, makeTransport), foreign, 0), 'chunk 0 as another user');
        }
        await expectNothingChanged(uploader, up, charged, 'the rejected credential');
        await uploadAll(driver, up, uploader);
        await expectFinished(uploader, uri, up.payload.size);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-RECOVER-004 an empty chunk past the end of a file of whole chunks is refused and completes nothing', req('UPL-RECOVER-004'),
      async ({ uploader, driver, folder, opened, env, target, makeTransport, profile }, testInfo) => {
        skipUnlessTargetTakesChunks(profile);
        const uri = `${folder}/whole-chunks.bin`;
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize, seedFor(testInfo.title));
        const charged = await used(uploader);
        await sendAll(driver, up, [0]);
        // size / chunk_size = 2 is one past the last index; an empty body has the "remainder" length 0.
        expectRejected(await sendBody(driver, up, 2, 0), 'an empty chunk at index 2 of a 2-chunk file');
        await expectNothingChanged(uploader, up, charged, 'an empty chunk past the end');
        await sendAll(driver, up, [1]);
        await expectFinished(uploader, uri, up.payload.size);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });
  });
}
