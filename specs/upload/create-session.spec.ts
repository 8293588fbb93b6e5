// UPL-CREATE: creating an upload session (PUT /file/upload) for every storage policy: the answer's shape, expiry,
// chunk size and upload URLs as the policy's profile says; the placeholder and the quota it charges at once; what an
// existing target, a new version, a stale `previous`, the policy's size limit, the quota, a second session for the
// same path, missing parent folders and invalid uris, names or extensions do.
import {
  Code, POLICY_TYPES, basename, cancel, capacity, createSession, expect, expectCode, expectContent, expectFinished,
  expectGone, expectOneOfCodes, expectPlaceholder, info, list, names, nowSeconds, openSession, openUpload, policyIdOf,
  req, sameUri, seedFor, sendAll, sinceReason, slaveChunkCredential, test, used, versionAtLeast, Payload, uploadAll,
} from './support.js';
import type { CloudreveClient } from '../../harness/client/index.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Writes a small file through PUT /file/content; returns its current entity. */
async function writeSmall(client: CloudreveClient, uri: string, payload: Payload, previous?: string): Promise<string> {
  const res = await client.PUT('/file/content', {
    params: { query: previous === undefined ? { uri } : { uri, previous }, header: { 'Content-Length': payload.size } },
    body: payload.stream() as never,
    bodySerializer: (b: unknown) => b as never,
    headers: { 'Content-Type': 'application/octet-stream' },
    duplex: 'half',
  } as never);
  const data = (res.data as { code: number; data?: { primary_entity?: string } } | undefined);
  expect(data?.code, `write ${uri} through PUT /file/content`).toBe(Code.Success);
  return data!.data!.primary_entity!;
}

for (const policy of POLICY_TYPES) {
  test.describe(`${policy} @policy:${policy}`, () => {
    test('UPL-CREATE-001 the session answer has the documented shape for the policy', req('UPL-CREATE-001'),
      async ({ uploader, profile, folder, opened }) => {
        const uri = `${folder}/shape.bin`;
        const s = await openSession(uploader, opened, uri, 2500);
        expect(s.session_id).toMatch(UUID);
        expect(typeof s.upload_id, 'upload_id is always sent').toBe('string');
        expect(s.callback_secret, 'callback_secret: 32 alphanumerics').toMatch(/^[0-9A-Za-z]{32}$/);
        expect(sameUri(s.uri, uri), `uri ${s.uri} names ${uri}`).toBe(true);
        expect(s.storage_policy?.type, 'storage_policy.type').toBe(profile.policyType);
        expect(s.storage_policy?.id, 'storage_policy.id is the folder\'s policy').toBe(await policyIdOf(uploader, 'cloudreve://my'));
        if (!profile.hasUploadUrls) {
          expect(s.upload_urls, `${profile.policy}: chunks go to the master, no upload_urls`).toBeUndefined();
          expect(s.credential, `${profile.policy}: no credential`).toBeUndefined();
        }
      });

    test('UPL-CREATE-002 expires is now + upload_session_timeout, in unix seconds', req('UPL-CREATE-002'),
      async ({ uploader, adminSettings, folder, opened }) => {
        const ttl = Number((await adminSettings.getSettings(['upload_session_timeout'])).upload_session_timeout);
        expect(ttl, 'upload_session_timeout (s)').toBeGreaterThan(0);
        const before = nowSeconds();
        const s = await openSession(uploader, opened, `${folder}/expires.bin`, 10);
        const after = nowSeconds();
        expect(Number.isInteger(s.expires), 'expires is whole seconds').toBe(true);
        expect(s.expires, `expires ${s.expires} ≥ ${before} + ${ttl}`).toBeGreaterThanOrEqual(before + ttl - 1);
        expect(s.expires, `expires ${s.expires} ≤ ${after} + ${ttl}`).toBeLessThanOrEqual(after + ttl + 1);
      });

    test('UPL-CREATE-003 chunk_size is the policy\'s chunk size (0 where the whole file is one request)', req('UPL-CREATE-003'),
      async ({ uploader, env, profile, folder, opened }) => {
        const s = await openSession(uploader, opened, `${folder}/chunk-size.bin`, 3 * env.chunkSize + 1);
        expect(s.chunk_size).toBe(profile.singleChunk ? 0 : env.chunkSize);
      });

    test('UPL-CREATE-004 upload URLs: none for the master\'s route; remote: one slave URL and a Bearer Cr credential expiring with the session',
      req('UPL-CREATE-004'), async ({ uploader, profile, folder, opened, target }) => {
        const s = await openSession(uploader, opened, `${folder}/urls.bin`, 2500);
        if (profile.chunkEndpoint === 'master') {
          expect(s.upload_urls, 'no upload_urls').toBeUndefined();
          expect(s.credential, 'no credential').toBeUndefined();
          return;
        }
        test.skip(profile.chunkEndpoint !== 'slave', `${profile.policy}: provider URLs are checked by the provider flow`);
        expect(s.upload_urls, 'exactly one slave URL').toHaveLength(1);
        const url = new URL(s.upload_urls![0]!);
        expect(url.origin, 'the slave node\'s origin').toBe(new URL(target.slave!.url).origin);
        expect(url.pathname).toBe(`/api/v4/slave/upload/${s.session_id}`);
        expect(url.search, 'no query: the client adds ?chunk=N').toBe('');
        const m = /^Bearer Cr ([A-Za-z0-9_-]+={0,2}):(\d+)$/.exec(s.credential ?? '');
        expect(m, `credential "Bearer Cr <sig>:<expires>", got ${s.credential ? 'another form' : 'none'}`).not.toBeNull();
        expect(Number(m![2]), 'the credential expires with the session').toBe(s.expires);
        expect(s.credential === slaveChunkCredential(target.slave!.secret, s.upload_urls![0]!, s.expires),
          'the credential is the node key\'s signature of the chunk route').toBe(true);
      });

    test('UPL-CREATE-005 the session holds a placeholder file of size 0, listed in its folder', req('UPL-CREATE-005'),
      async ({ uploader, folder, opened }) => {
        const uri = `${folder}/placeholder.bin`;
        const s = await openSession(uploader, opened, uri, 2500);
        const listed = (await list(uploader, folder)).find((f) => f.name === 'placeholder.bin');
        expect(listed, 'the placeholder is listed').toBeDefined();
        expect(listed!.size).toBe(0);
        expect(listed!.metadata?.['sys:upload_session_id']).toBe(s.session_id);
        await expectPlaceholder(uploader, uri, s.session_id);
      });

    test('UPL-CREATE-006 the declared size is charged to the quota when the session is created', req('UPL-CREATE-006'),
      async ({ uploader, folder, opened }) => {
        const before = await used(uploader);
        await openSession(uploader, opened, `${folder}/charged.bin`, 2500);
        expect(await used(uploader) - before, 'quota charged at creation').toBe(2500);
      });

    test('UPL-CREATE-007 an existing file or folder as target is refused with 40004', req('UPL-CREATE-007'),
      async ({ uploader, folder, opened }, testInfo) => {
        const uri = `${folder}/exists.bin`;
        await writeSmall(uploader, uri, new Payload(seedFor(testInfo.title), 5));
        const before = await used(uploader);
        expectCode(await createSession(uploader, opened, uri, 10), Code.ObjectExist, { message: 'an existing file' });
        expectCode(await createSession(uploader, opened, folder, 10), Code.ObjectExist, { message: 'an existing folder' });
        expect(await used(uploader), 'nothing charged').toBe(before);
        expect((await info(uploader, uri)).size, 'the file is unchanged').toBe(5);
      });

    test('UPL-CREATE-008 entity_type "version" with previous = the current version uploads a new version', req('UPL-CREATE-008'),
      async ({ uploader, driver, folder, opened, env, target, makeTransport }, testInfo) => {
        const uri = `${folder}/versioned.bin`;
        const first = await writeSmall(uploader, uri, new Payload(seedFor(testInfo.title, 'v1'), 100));
        const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 10, seedFor(testInfo.title, 'v2'),
          { entityType: 'version', previous: first });
        // Until it completes the file keeps its current version.
        const pending = await info(uploader, uri);
        expect(pending.size, 'size while the new version is pending').toBe(100);
        expect(pending.primary_entity).toBe(first);
        await uploadAll(driver, up, uploader);
        const done = await expectFinished(uploader, uri, up.payload.size);
        expect(done.primary_entity, 'a new current version').not.toBe(first);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-CREATE-009 a stale previous is refused with 40076 and changes nothing', req('UPL-CREATE-009'),
      async ({ uploader, folder, opened, target }, testInfo) => {
        test.skip(!versionAtLeast(target, '4.11.0'), sinceReason(target, 'previous on PUT /file/upload', '4.11.0'));
        const uri = `${folder}/stale.bin`;
        const first = await writeSmall(uploader, uri, new Payload(seedFor(testInfo.title, 'v1'), 100));
        const second = await writeSmall(uploader, uri, new Payload(seedFor(testInfo.title, 'v2'), 120), first);
        const before = await used(uploader);
        expectCode(await createSession(uploader, opened, uri, 300, { entityType: 'version', previous: first }), Code.StaleVersion);
        const f = await info(uploader, uri);
        expect(f.primary_entity, 'the current version stays').toBe(second);
        expect(f.size).toBe(120);
        expect(f.metadata?.['sys:upload_session_id'], 'no pending session').toBeUndefined();
        expect(await used(uploader), 'nothing charged').toBe(before);
      });

    test('UPL-CREATE-010 a size over the policy\'s max_size is refused with 40049; equal to it is accepted', req('UPL-CREATE-010'),
      async ({ uploader, adminSettings, env, folder, opened }) => {
        const original = await adminSettings.getPolicy(env.policyId);
        // A policy without chunks (chunk size 0) still gets a real limit.
        const max = 4 * (env.chunkSize || 1024);
        await adminSettings.updatePolicy(env.policyId, (p) => ({ ...p, max_size: max }));
        try {
          const before = await used(uploader);
          expectCode(await createSession(uploader, opened, `${folder}/too-large.bin`, max + 1), Code.FileTooLarge);
          await expectGone(uploader, `${folder}/too-large.bin`, 'no placeholder for a refused session');
          expect(await used(uploader), 'nothing charged').toBe(before);
          await openSession(uploader, opened, `${folder}/just-fits.bin`, max);
        } finally {
          await adminSettings.updatePolicy(env.policyId, (p) => ({ ...p, max_size: original.max_size }));
        }
      });

    test('UPL-CREATE-011 a size over the free quota is refused with 40051; exactly the free quota is accepted', req('UPL-CREATE-011'),
      async ({ uploader, folder, opened }) => {
        const cap = await capacity(uploader);
        const free = cap.total - cap.used;
        expect(free, 'the environment has free quota').toBeGreaterThan(0);
        expectCode(await createSession(uploader, opened, `${folder}/over.bin`, free + 1), Code.InsufficientCapacity);
        await expectGone(uploader, `${folder}/over.bin`, 'no placeholder for a refused session');
        expect(await used(uploader), 'nothing charged').toBe(cap.used);
        const s = await openSession(uploader, opened, `${folder}/exactly.bin`, free);
        expect(await used(uploader), 'the whole quota is charged').toBe(cap.total);
        expectCode(await createSession(uploader, opened, `${folder}/one-more.bin`, 1), Code.InsufficientCapacity, { message: 'with a full quota' });
        expect((await cancel(uploader, s, `${folder}/exactly.bin`)).data?.code).toBe(Code.Success);
      });

    test('UPL-CREATE-012 a second session for a path whose upload is pending is refused; the first is unharmed', req('UPL-CREATE-012'),
      async ({ uploader, driver, folder, opened, env, target, makeTransport }, testInfo) => {
        const uri = `${folder}/twice.bin`;
        const up = await openUpload(uploader, opened, uri, env.chunkSize + 7, seedFor(testInfo.title));
        const before = await used(uploader);
        expectOneOfCodes(await createSession(uploader, opened, uri, 50), [Code.ObjectExist, Code.LockConflict], 'the same path again');
        expect(await used(uploader), 'nothing more charged').toBe(before);
        await expectPlaceholder(uploader, uri, up.session.session_id);
        await uploadAll(driver, up, uploader);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-CREATE-013 missing parent folders are created with the session', req('UPL-CREATE-013'),
      async ({ uploader, folder, opened }) => {
        const s = await openSession(uploader, opened, `${folder}/x/y/z/deep.bin`, 3);
        expect(await names(uploader, folder)).toEqual(['x']);
        const z = (await list(uploader, `${folder}/x/y`)).find((f) => f.name === 'z');
        expect(z?.type, 'x/y/z is a folder').toBe(1);
        await expectPlaceholder(uploader, `${folder}/x/y/z/deep.bin`, s.session_id);
      });

    test('UPL-CREATE-014 an invalid uri or size is refused with 40001 and creates nothing', req('UPL-CREATE-014'),
      async ({ uploaderUnchecked, uploader, folder, opened }) => {
        const before = await used(uploader);
        const policyId = await policyIdOf(uploader, 'cloudreve://my');
        expectCode(await createSession(uploaderUnchecked, opened, `http://my/${basename(folder)}/scheme.bin`, 1, { policyId }), Code.ParamErr,
          { message: 'a uri that is not cloudreve://' });
        expectCode(await createSession(uploaderUnchecked, opened, 'not a uri', 1, { policyId }), Code.ParamErr, { message: 'not a uri' });
        expectCode(await createSession(uploaderUnchecked, opened, `${folder}/negative.bin`, -1, { policyId }), Code.ParamErr,
          { message: 'a negative size' });
        expect(await names(uploader, folder), 'nothing created').toEqual([]);
        expect(await used(uploader)).toBe(before);
      });

    test('UPL-CREATE-015 an invalid file name is refused with 40052 and creates nothing', req('UPL-CREATE-015'),
      async ({ uploaderUnchecked, uploader, folder, opened }) => {
        const bad: [string, string][] = [['a colon', 'a:b.bin'], ['a star', 'a*b.bin'], ['a question mark', 'a%3Fb.bin'],
          ['a pipe', 'a|b.bin'], ['a backslash', 'a%5Cb.bin'], ['a quote', 'a"b.bin'], ['angle brackets', 'a<b>.bin'],
          ['a 256-byte name', `${'n'.repeat(252)}.bin`]];
        for (const [what, name] of bad) {
          expectCode(await createSession(uploaderUnchecked, opened, `${folder}/${name}`, 1), Code.IllegalObjectName, { message: `a name with ${what}` });
        }
        expect(await names(uploader, folder), 'nothing created').toEqual([]);
      });

    test('UPL-CREATE-016 an extension the policy does not allow is refused with 40052', req('UPL-CREATE-016'),
      async ({ uploader, adminSettings, env, folder, opened }) => {
        const original = await adminSettings.getPolicy(env.policyId);
        await adminSettings.updatePolicy(env.policyId, (p) => ({ ...p, settings: { ...p.settings, file_type: ['txt'] } }));
        try {
          expectCode(await createSession(uploader, opened, `${folder}/program.exe`, 1), Code.IllegalObjectName, { message: '.exe, only txt allowed' });
          expectCode(await createSession(uploader, opened, `${folder}/no-extension`, 1), Code.IllegalObjectName, { message: 'no extension, only txt allowed' });
          expect(await names(uploader, folder), 'nothing created').toEqual([]);
          await openSession(uploader, opened, `${folder}/notes.TXT`, 1);
        } finally {
          await adminSettings.updatePolicy(env.policyId, (p) => ({ ...p, settings: original.settings }));
        }
      });
  });
}
