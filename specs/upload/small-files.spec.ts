// UPL-SMALL: PUT /file/content, the one-request upload of a small file (every policy: the server stores it through
// its own driver): it creates a file, overwrites it as a new version (kept when version retention is on), refuses a
// stale `previous` with 40076 and a file whose upload is pending with 40073, and charges the quota by the bytes.
import type { CloudreveClient, Schemas } from '../../harness/client/index.js';
import {
  Code, POLICY_TYPES, expect, expectCode, expectContent, expectPlaceholder, expectSuccess, info, openUpload, req,
  seedFor, sendAll, test, used, Payload, uploadAll,
} from './support.js';

type FileResponse = Schemas['FileResponse'];

/** PUT /file/content with a streamed payload and its Content-Length. */
function putContent(client: CloudreveClient, uri: string, payload: Payload, previous?: string) {
  return client.PUT('/file/content', {
    params: { query: previous === undefined ? { uri } : { uri, previous }, header: { 'Content-Length': payload.size } },
    body: payload.stream() as never,
    bodySerializer: (b: unknown) => b as never,
    headers: { 'Content-Type': 'application/octet-stream' },
    duplex: 'half',
  } as never);
}

async function write(client: CloudreveClient, uri: string, payload: Payload, previous?: string): Promise<FileResponse> {
  return expectSuccess(await putContent(client, uri, payload, previous), `PUT /file/content ${uri} (${payload.size} bytes)`) as FileResponse;
}

/** Runs `fn` with the uploader's version retention on (unlimited), restoring the setting afterwards. */
async function withRetention<T>(client: CloudreveClient, fn: () => Promise<T>): Promise<T> {
  const before = expectSuccess(await client.GET('/user/setting'), 'read user settings') as Schemas['UserSettings'];
  expectSuccess(await client.PATCH('/user/setting', { body: { version_retention_enabled: true, version_retention_ext: [], version_retention_max: 0 } }),
    'turn version retention on');
  try {
    return await fn();
  } finally {
    expectSuccess(await client.PATCH('/user/setting', { body: { version_retention_enabled: before.version_retention_enabled ?? false,
      version_retention_ext: before.version_retention_ext ?? [], version_retention_max: before.version_retention_max ?? 0 } }), 'restore version retention');
  }
}

for (const policy of POLICY_TYPES) {
  test.describe(`${policy} @policy:${policy}`, () => {
    test('UPL-SMALL-001 PUT /file/content creates a file with the bytes sent', req('UPL-SMALL-001'),
      async ({ uploader, folder, target, makeTransport, env }, testInfo) => {
        const uri = `${folder}/small.bin`;
        const payload = new Payload(seedFor(testInfo.title), 3 * env.chunkSize + 17);
        const f = await write(uploader, uri, payload);
        expect(f.size).toBe(payload.size);
        expect(f.primary_entity, 'a current version').toBeTruthy();
        await expectContent(uploader, makeTransport(), target, uri, payload, env.chunkSize);
      });

    test('UPL-SMALL-002 an empty body creates an empty file', req('UPL-SMALL-002'),
      async ({ uploader, folder, target, makeTransport }) => {
        const uri = `${folder}/empty.bin`;
        const payload = new Payload(1, 0);
        expect((await write(uploader, uri, payload)).size).toBe(0);
        await expectContent(uploader, makeTransport(), target, uri, payload);
      });

    test('UPL-SMALL-003 overwriting with previous = the current version makes a new version; retention keeps the old one', req('UPL-SMALL-003'),
      async ({ uploader, folder, target, makeTransport }, testInfo) => {
        const uri = `${folder}/versions.bin`;
        const v1 = new Payload(seedFor(testInfo.title, 'v1'), 1500);
        const v2 = new Payload(seedFor(testInfo.title, 'v2'), 700);
        await withRetention(uploader, async () => {
          const first = await write(uploader, uri, v1);
          const second = await write(uploader, uri, v2, first.primary_entity);
          expect(second.primary_entity, 'a new current version').not.toBe(first.primary_entity);
          expect(second.size).toBe(700);
          const versions = ((await info(uploader, uri, true)).extended_info?.entities ?? []).filter((e) => (e.type ?? 0) === 0);
          expect(versions.map((e) => e.id).sort(), 'both versions kept').toEqual([first.primary_entity, second.primary_entity].sort());
          await expectContent(uploader, makeTransport(), target, uri, v2);
        });
      });

    test('UPL-SMALL-004 overwriting without previous replaces the content', req('UPL-SMALL-004'),
      async ({ uploader, folder, target, makeTransport }, testInfo) => {
        const uri = `${folder}/replace.bin`;
        await write(uploader, uri, new Payload(seedFor(testInfo.title, 'v1'), 900));
        const v2 = new Payload(seedFor(testInfo.title, 'v2'), 333);
        expect((await write(uploader, uri, v2)).size).toBe(333);
        await expectContent(uploader, makeTransport(), target, uri, v2);
      });

    test('UPL-SMALL-005 a stale previous is refused with 40076 and the content stays', req('UPL-SMALL-005'),
      async ({ uploader, folder, target, makeTransport }, testInfo) => {
        const uri = `${folder}/stale.bin`;
        const v1 = await write(uploader, uri, new Payload(seedFor(testInfo.title, 'v1'), 100));
        const v2 = new Payload(seedFor(testInfo.title, 'v2'), 120);
        await write(uploader, uri, v2, v1.primary_entity);
        const before = await used(uploader);
        expectCode(await putContent(uploader, uri, new Payload(seedFor(testInfo.title, 'v3'), 140), v1.primary_entity), Code.StaleVersion);
        expect(await used(uploader), 'nothing charged').toBe(before);
        await expectContent(uploader, makeTransport(), target, uri, v2);
      });

    test('UPL-SMALL-006 a file whose upload session is pending cannot be overwritten; the upload is unharmed', req('UPL-SMALL-006'),
      async ({ uploader, driver, folder, opened, env, target, makeTransport }, testInfo) => {
        const uri = `${folder}/pending.bin`;
        const up = await openUpload(uploader, opened, uri, env.chunkSize + 5, seedFor(testInfo.title));
        expectCode(await putContent(uploader, uri, new Payload(seedFor(testInfo.title, 'other'), 10)), Code.LockConflict,
          { message: 'PUT /file/content on the placeholder' });
        await expectPlaceholder(uploader, uri, up.session.session_id);
        await uploadAll(driver, up, uploader);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
      });

    test('UPL-SMALL-007 the quota is charged by the bytes; an overwrite without retention charges only the new content', req('UPL-SMALL-007'),
      async ({ uploader, folder }, testInfo) => {
        const before = await used(uploader);
        const uri = `${folder}/quota.bin`;
        const first = await write(uploader, uri, new Payload(seedFor(testInfo.title, 'v1'), 2000));
        expect(await used(uploader) - before).toBe(2000);
        const settings = expectSuccess(await uploader.GET('/user/setting'), 'user settings') as Schemas['UserSettings'];
        test.skip(!!settings.version_retention_enabled, 'the uploader keeps versions; the overwrite would add to the quota');
        await write(uploader, uri, new Payload(seedFor(testInfo.title, 'v2'), 500), first.primary_entity);
        expect(await used(uploader) - before, 'only the new content').toBe(500);
      });
  });
}
