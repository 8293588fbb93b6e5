// Contract specs of the 文件管理 (file) group: uploads, pins, versions, direct links, listing, info, thumbnails,
// archives, content, viewer sessions, create / rename / move / copy / delete / restore, locks, metadata, view settings,
// and the Pro-only permissions, activities and policy mount.
import { randomUUID } from 'node:crypto';
import { test, expect } from '../../fixtures/target.js';
import { expectCode } from '../../harness/expect.js';
import type { CloudreveClient, Schemas } from '../../harness/client/index.js';
import {
  Code, Perm, adminGroupIdOf, bytesOf, capacityUsed, createFolder, createUploadSession, downloadFile, fetchBytes, fileInfo,
  hasBit, isPro, listAll, ok, png, policyOf, proOnly, putContent, randomPayload, sameUri, sendChunk, sinceReason, trashEntryFor,
  unique, userHasPermission, versionAtLeast, withGroupPermissions, writeFile, zip,
} from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Turns on unlimited version retention for the duration of `fn` (so every content update keeps a version). */
async function withVersionRetention<T>(user: CloudreveClient, fn: () => Promise<T>): Promise<T> {
  const before = ok(await user.GET('/user/setting'));
  ok(await user.PATCH('/user/setting', { body: { version_retention_enabled: true, version_retention_ext: [], version_retention_max: 0 } }));
  try {
    return await fn();
  } finally {
    ok(await user.PATCH('/user/setting', { body: {
      version_retention_enabled: before.version_retention_enabled,
      version_retention_ext: before.version_retention_ext ?? [],
      version_retention_max: before.version_retention_max ?? 0,
    } }), 'restore version retention');
  }
}

/** A file with two versions: `v1` then `v2` (current). Returns the entity ids. */
async function twoVersions(user: CloudreveClient, uri: string, v1: string, v2: string): Promise<{ first: string; second: string }> {
  const a = await writeFile(user, uri, v1);
  const b = ok(await putContent(user, uri, v2, a.primary_entity));
  expect(b.primary_entity).not.toBe(a.primary_entity);
  return { first: a.primary_entity!, second: b.primary_entity! };
}

async function entitiesOf(user: CloudreveClient, uri: string): Promise<Schemas['Entity'][]> {
  return (await fileInfo(user, uri, true)).extended_info?.entities ?? [];
}

test.describe('file', () => {
  // ----- Pro-only permissions -------------------------------------------------------------------------------------
  test('FILE-PERMISSION-001 sets explicit permissions on a file', { annotation: [{ type: 'operation', description: 'setFilePermission' }] },
    async ({ user, sandbox, target }) => {
      test.skip(!isPro(target), proOnly(target));
      const uri = sandbox.uri('perm.txt');
      await writeFile(user, uri, 'x');
      ok(await user.POST('/file/permission', { body: { uris: [uri], setting: { anonymous: '' } } }));
    });

  test('FILE-PERMISSION-002 deletes the explicit permissions of a file', { annotation: [{ type: 'operation', description: 'deleteFilePermission' }] },
    async ({ user, sandbox, target }) => {
      test.skip(!isPro(target), proOnly(target));
      const uri = sandbox.uri('perm.txt');
      await writeFile(user, uri, 'x');
      ok(await user.DELETE('/file/permission', { body: { uris: [uri] } }));
    });

  // ----- upload sessions ------------------------------------------------------------------------------------------
  test('FILE-UPLOAD-001 creates an upload session; the placeholder file is listed with size 0 until completion',
    { annotation: [{ type: 'operation', description: 'createUploadSession' }] }, async ({ user, sandbox }) => {
      const uri = sandbox.uri('session.bin');
      const now = Date.now() / 1000;
      const s = ok(await createUploadSession(user, uri, 100, await policyOf(user, sandbox.root)));
      expect(s.session_id).toMatch(UUID);
      expect(sameUri(s.uri, uri)).toBe(true);
      expect(s.callback_secret).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(s.expires).toBeGreaterThan(now);
      expect(s.chunk_size).toBeGreaterThanOrEqual(0);
      const placeholder = (await listAll(user, sandbox.root)).find((f) => f.name === 'session.bin');
      expect(placeholder?.size).toBe(0);
      expect(placeholder?.metadata?.['sys:upload_session_id']).toBe(s.session_id);
      ok(await user.DELETE('/file/upload', { body: { id: s.session_id, uri } }));
    });

  test('FILE-UPLOAD-002 creates missing parent folders', { annotation: [{ type: 'operation', description: 'createUploadSession' }] },
    async ({ user, sandbox }) => {
      const uri = sandbox.uri('x/y/z/deep.bin');
      const s = ok(await createUploadSession(user, uri, 3, await policyOf(user, sandbox.root)));
      expect((await listAll(user, sandbox.uri('x/y'))).find((f) => f.name === 'z')?.type).toBe(1);
      expect((await listAll(user, sandbox.uri('x/y/z'))).map((f) => f.name)).toEqual(['deep.bin']);
      ok(await user.DELETE('/file/upload', { body: { id: s.session_id, uri } }));
    });

  test('FILE-UPLOAD-003 refuses an existing file with 40004', { annotation: [{ type: 'operation', description: 'createUploadSession' }] },
    async ({ user, sandbox }) => {
      const uri = sandbox.uri('exists.txt');
      await writeFile(user, uri, 'hello');
      expectCode(await createUploadSession(user, uri, 5, await policyOf(user, sandbox.root)), Code.ObjectExist);
    });

  test('FILE-UPLOAD-004 refuses a size beyond the free capacity with 40051', { annotation: [{ type: 'operation', description: 'createUploadSession' }] },
    async ({ user, sandbox }) => {
      const cap = ok(await user.GET('/user/capacity'));
      expectCode(await createUploadSession(user, sandbox.uri('huge.bin'), cap.total - cap.used + 1, await policyOf(user, sandbox.root)),
        Code.InsufficientCapacity);
      expect(await listAll(user, sandbox.root)).toEqual([]);
    });

  test('FILE-UPLOAD-005 refuses an invalid object name with 40052', { annotation: [{ type: 'operation', description: 'createUploadSession' }] },
    async ({ user, sandbox }) => {
      expectCode(await createUploadSession(user, sandbox.uri('bad:name.txt'), 1, await policyOf(user, sandbox.root)), Code.IllegalObjectName);
    });

  test('FILE-UPLOAD-006 refuses an anonymous caller with 401', { annotation: [{ type: 'operation', description: 'createUploadSession' }] },
    async ({ anonymous, sandbox }) => {
      expectCode(await createUploadSession(anonymous, sandbox.uri('anon.bin'), 1, ''), Code.CheckLogin);
    });

  test('FILE-CHUNK-001 uploading every chunk completes the file with the bytes sent', { annotation: [{ type: 'operation', description: 'uploadChunk' }] },
    async ({ user, sandbox, target, makeTransport }) => {
      const uri = sandbox.uri('chunked.bin');
      const payload = randomPayload(3000);
      const s = ok(await createUploadSession(user, uri, payload.byteLength, await policyOf(user, sandbox.root)));
      const size = s.chunk_size > 0 ? s.chunk_size : payload.byteLength;
      for (let i = 0; i * size < payload.byteLength; i++) {
        ok(await sendChunk(user, s.session_id, i, payload.subarray(i * size, Math.min(payload.byteLength, (i + 1) * size))), `chunk ${i}`);
      }
      const info = await fileInfo(user, uri);
      expect(info.size).toBe(3000);
      expect(info.metadata?.['sys:upload_session_id']).toBeUndefined();
      expect(Buffer.from(await downloadFile(user, makeTransport(), target, uri)).equals(Buffer.from(payload))).toBe(true);
      // The session is gone once the upload completed.
      expectCode(await sendChunk(user, s.session_id, 0, payload.subarray(0, Math.min(size, 3000))), Code.UploadSessionExpired);
    });

  test('FILE-CHUNK-002 refuses a chunk index past the last chunk with 40012', { annotation: [{ type: 'operation', description: 'uploadChunk' }] },
    async ({ user, sandbox }) => {
      const uri = sandbox.uri('range.bin');
      const s = ok(await createUploadSession(user, uri, 10, await policyOf(user, sandbox.root)));
      const count = s.chunk_size > 0 ? Math.ceil(10 / s.chunk_size) : 1;
      expectCode(await sendChunk(user, s.session_id, count, randomPayload(Math.min(10, s.chunk_size || 10))), Code.InvalidChunkIndex);
      ok(await user.DELETE('/file/upload', { body: { id: s.session_id, uri } }));
    });

  test('FILE-CHUNK-003 refuses a chunk whose length is not the expected one with 40013', { annotation: [{ type: 'operation', description: 'uploadChunk' }] },
    async ({ user, sandbox }) => {
      const uri = sandbox.uri('length.bin');
      const s = ok(await createUploadSession(user, uri, 10, await policyOf(user, sandbox.root)));
      expectCode(await sendChunk(user, s.session_id, 0, randomPayload(3)), Code.InvalidContentLength);
      expect((await fileInfo(user, uri)).size, 'the file is still a placeholder').toBe(0);
      ok(await user.DELETE('/file/upload', { body: { id: s.session_id, uri } }));
    });

  test('FILE-CHUNK-004 refuses a chunk for an unknown session with 40011', { annotation: [{ type: 'operation', description: 'uploadChunk' }] },
    async ({ user }) => {
      expectCode(await sendChunk(user, randomUUID(), 0, randomPayload(4)), Code.UploadSessionExpired);
    });

  test('FILE-UPLOADDEL-001 deleting an upload session removes the placeholder and frees the reserved capacity',
    { annotation: [{ type: 'operation', description: 'deleteUploadSession' }] }, async ({ user, sandbox }) => {
      const uri = sandbox.uri('cancel.bin');
      const before = await capacityUsed(user);
      const s = ok(await createUploadSession(user, uri, 2500, await policyOf(user, sandbox.root)));
      ok(await user.DELETE('/file/upload', { body: { id: s.session_id, uri } }));
      expectCode(await user.GET('/file/info', { params: { query: { uri } } }), Code.ParentNotExist);
      expectCode(await sendChunk(user, s.session_id, 0, randomPayload(Math.min(2500, s.chunk_size || 2500))), Code.UploadSessionExpired);
      expect(await capacityUsed(user)).toBe(before);
    });

  test('FILE-UPLOADDEL-002 deleting the same session again answers 40016', { annotation: [{ type: 'operation', description: 'deleteUploadSession' }] },
    async ({ user, sandbox }) => {
      const uri = sandbox.uri('twice.bin');
      const s = ok(await createUploadSession(user, uri, 10, await policyOf(user, sandbox.root)));
      ok(await user.DELETE('/file/upload', { body: { id: s.session_id, uri } }));
      expectCode(await user.DELETE('/file/upload', { body: { id: s.session_id, uri } }), Code.ParentNotExist);
    });

  test('FILE-UPLOADDEL-003 refuses an anonymous caller with 401 and keeps the session', { annotation: [{ type: 'operation', description: 'deleteUploadSession' }] },
    async ({ user, anonymous, sandbox }) => {
      const uri = sandbox.uri('keep.bin');
      const s = ok(await createUploadSession(user, uri, 10, await policyOf(user, sandbox.root)));
      expectCode(await anonymous.DELETE('/file/upload', { body: { id: s.session_id, uri } }), Code.CheckLogin);
      expect((await fileInfo(user, uri)).metadata?.['sys:upload_session_id']).toBe(s.session_id);
      ok(await user.DELETE('/file/upload', { body: { id: s.session_id, uri } }));
    });

  // ----- pins -----------------------------------------------------------------------------------------------------
  test('FILE-PIN-001 pins a folder to the sidebar under a name', { annotation: [{ type: 'operation', description: 'pinFile' }] },
    async ({ user, sandbox }) => {
      const name = unique('pin');
      try {
        ok(await user.PUT('/file/pin', { body: { uri: sandbox.root, name } }));
        const pins = ok(await user.GET('/user/me')).pined ?? [];
        expect(pins.find((p) => sameUri(p.uri, sandbox.root))?.name).toBe(name);
        // Pinning it again under the same name changes nothing.
        ok(await user.PUT('/file/pin', { body: { uri: sandbox.root, name } }));
        expect((ok(await user.GET('/user/me')).pined ?? []).filter((p) => sameUri(p.uri, sandbox.root))).toHaveLength(1);
      } finally {
        await user.DELETE('/file/pin', { body: { uri: sandbox.root } });
      }
    });

  test('FILE-PIN-002 refuses pinning a pinned URI under another name with 40004', { annotation: [{ type: 'operation', description: 'pinFile' }] },
    async ({ user, sandbox }) => {
      try {
        ok(await user.PUT('/file/pin', { body: { uri: sandbox.root, name: 'first' } }));
        expectCode(await user.PUT('/file/pin', { body: { uri: sandbox.root, name: 'second' } }), Code.ObjectExist);
      } finally {
        await user.DELETE('/file/pin', { body: { uri: sandbox.root } });
      }
    });

  test('FILE-UNPIN-001 unpinning removes the pin from the sidebar', { annotation: [{ type: 'operation', description: 'unpinFile' }] },
    async ({ user, sandbox }) => {
      ok(await user.PUT('/file/pin', { body: { uri: sandbox.root, name: 'to-remove' } }));
      ok(await user.DELETE('/file/pin', { body: { uri: sandbox.root } }));
      expect((ok(await user.GET('/user/me')).pined ?? []).some((p) => sameUri(p.uri, sandbox.root))).toBe(false);
    });

  // ----- versions -------------------------------------------------------------------------------------------------
  test('FILE-VERSION-001 setting an older version as current serves its content', { annotation: [{ type: 'operation', description: 'setCurrentVersion' }] },
    async ({ user, sandbox, target, makeTransport }) => {
      await withVersionRetention(user, async () => {
        const uri = sandbox.uri('versions.txt');
        const v = await twoVersions(user, uri, 'first', 'second!');
        expect((await entitiesOf(user, uri)).map((e) => e.id).sort()).toEqual([v.first, v.second].sort());
        ok(await user.POST('/file/version/current', { body: { uri, version: v.first } }));
        const info = await fileInfo(user, uri);
        expect(info.primary_entity).toBe(v.first);
        expect(info.size).toBe(5);
        expect(Buffer.from(await downloadFile(user, makeTransport(), target, uri)).toString()).toBe('first');
      });
    });

  test('FILE-VERSION-002 refuses a version of another file with 40077', { annotation: [{ type: 'operation', description: 'setCurrentVersion' }] },
    async ({ user, sandbox }) => {
      const a = await writeFile(user, sandbox.uri('a.txt'), 'a');
      await writeFile(user, sandbox.uri('b.txt'), 'b');
      expectCode(await user.POST('/file/version/current', { body: { uri: sandbox.uri('b.txt'), version: a.primary_entity! } }), Code.EntityNotExist);
    });

  test('FILE-VERSION-003 refuses an undecodable version id with 40001', { annotation: [{ type: 'operation', description: 'setCurrentVersion' }] },
    async ({ user, sandbox }) => {
      await writeFile(user, sandbox.uri('a.txt'), 'a');
      expectCode(await user.POST('/file/version/current', { body: { uri: sandbox.uri('a.txt'), version: 'not-an-id' } }), Code.ParamErr);
    });

  test('FILE-DELVERSION-001 deleting an old version removes it and frees its bytes', { annotation: [{ type: 'operation', description: 'deleteVersion' }] },
    async ({ user, sandbox }) => {
      await withVersionRetention(user, async () => {
        const uri = sandbox.uri('versions.txt');
        const v = await twoVersions(user, uri, 'old content', 'new');
        const before = await capacityUsed(user);
        ok(await user.DELETE('/file/version', { body: { uri, version: v.first } }));
        expect((await entitiesOf(user, uri)).map((e) => e.id)).toEqual([v.second]);
        expect((await fileInfo(user, uri)).primary_entity).toBe(v.second);
        expect(await capacityUsed(user)).toBe(before - 11);
      });
    });

  test('FILE-DELVERSION-002 refuses to delete the current version with 403', { annotation: [{ type: 'operation', description: 'deleteVersion' }] },
    async ({ user, sandbox }) => {
      const f = await writeFile(user, sandbox.uri('only.txt'), 'only');
      expectCode(await user.DELETE('/file/version', { body: { uri: sandbox.uri('only.txt'), version: f.primary_entity! } }), Code.NoPermissionErr);
      expect((await fileInfo(user, sandbox.uri('only.txt'))).primary_entity).toBe(f.primary_entity);
    });

  // ----- direct links ---------------------------------------------------------------------------------------------
  test('FILE-SOURCE-001 creates a direct link that serves the file without credentials', { annotation: [{ type: 'operation', description: 'createDirectLinks' }] },
    async ({ user, sandbox, target, makeTransport }) => {
      const me = ok(await user.GET('/user/me'));
      test.skip(!me.group?.direct_link_batch_size, 'the user\'s group may not create direct links (source_batch = 0)');
      const uri = sandbox.uri('linked.txt');
      await writeFile(user, uri, 'direct link content');
      const links = ok(await user.PUT('/file/source', { body: { uris: [uri] } }));
      expect(links).toHaveLength(1);
      expect(sameUri(links[0]!.file_url, uri)).toBe(true);
      const got = await fetchBytes(makeTransport(), target, links[0]!.link);
      expect(got.status).toBe(200);
      expect(Buffer.from(got.bytes).toString()).toBe('direct link content');
      if (/\/f\/[^/]+\//.test(new URL(links[0]!.link).pathname)) {
        // A redirect link (group setting redirected_source, on by default): recorded on the file and reused.
        expect(links[0]!.link).toMatch(/\/f\/[^/]+\/linked\.txt$/);
        const listed = (await fileInfo(user, uri, true)).extended_info?.direct_links ?? [];
        expect(listed.map((l) => l.url)).toEqual([links[0]!.link]);
        if (!hasBit(me.group?.permission, 17)) {
          expect(ok(await user.PUT('/file/source', { body: { uris: [uri] } }))[0]!.link, 'the existing link is reused').toBe(links[0]!.link);
        }
      }
    });

  test('FILE-SOURCE-002 refuses more files than the group\'s direct-link batch size with 40014',
    { annotation: [{ type: 'operation', description: 'createDirectLinks' }] }, async ({ user, sandbox }) => {
      const batch = ok(await user.GET('/user/me')).group?.direct_link_batch_size ?? 0;
      test.skip(!batch || batch > 50, `the group's direct-link batch size is ${batch}`);
      const uris = Array.from({ length: batch + 1 }, (_, i) => sandbox.uri(`f${i}.txt`));
      expectCode(await user.PUT('/file/source', { body: { uris } }), Code.BatchSourceSize);
    });

  test('FILE-SOURCEDEL-001 deletes a direct link; deleting it again answers 404', { annotation: [{ type: 'operation', description: 'deleteDirectLink' }] },
    async ({ user, sandbox, target }) => {
      test.skip(!versionAtLeast(target, '4.1.0'), sinceReason(target, '4.1.0'));
      const me = ok(await user.GET('/user/me'));
      test.skip(!me.group?.direct_link_batch_size, 'the user\'s group may not create direct links (source_batch = 0)');
      const uri = sandbox.uri('unlinked.txt');
      await writeFile(user, uri, 'x');
      ok(await user.PUT('/file/source', { body: { uris: [uri] } }));
      const recorded = (await fileInfo(user, uri, true)).extended_info?.direct_links ?? [];
      test.skip(!recorded.length, 'the group serves direct source URLs, not redirect links (redirected_source off): nothing to delete');
      const id = recorded[0]!.id;
      ok(await user.DELETE('/file/source/{id}', { params: { path: { id } } }));
      expect((await fileInfo(user, uri, true)).extended_info?.direct_links ?? []).toEqual([]);
      expectCode(await user.DELETE('/file/source/{id}', { params: { path: { id } } }), Code.NotFound);
    });

  test('FILE-SOURCEDEL-002 another user cannot delete the link (404) and it stays', { annotation: [{ type: 'operation', description: 'deleteDirectLink' }] },
    async ({ user, user2, sandbox, target }) => {
      test.skip(!versionAtLeast(target, '4.1.0'), sinceReason(target, '4.1.0'));
      const me = ok(await user.GET('/user/me'));
      test.skip(!me.group?.direct_link_batch_size, 'the user\'s group may not create direct links (source_batch = 0)');
      const uri = sandbox.uri('kept.txt');
      await writeFile(user, uri, 'x');
      ok(await user.PUT('/file/source', { body: { uris: [uri] } }));
      const recorded = (await fileInfo(user, uri, true)).extended_info?.direct_links ?? [];
      test.skip(!recorded.length, 'the group serves direct source URLs, not redirect links (redirected_source off): nothing to delete');
      const id = recorded[0]!.id;
      expectCode(await user2.DELETE('/file/source/{id}', { params: { path: { id } } }), Code.NotFound);
      expect((await fileInfo(user, uri, true)).extended_info?.direct_links?.map((l) => l.id)).toEqual([id]);
    });

  // ----- listing --------------------------------------------------------------------------------------------------
  test('FILE-LIST-001 lists a folder\'s files and folders with their type, size and path', { annotation: [{ type: 'operation', description: 'listFiles' }] },
    async ({ user, sandbox }) => {
      await writeFile(user, sandbox.uri('one.txt'), '1');
      await writeFile(user, sandbox.uri('two.txt'), '22');
      await createFolder(user, sandbox.uri('sub'));
      const data = ok(await user.GET('/file', { params: { query: { uri: sandbox.root } } }));
      expect(sameUri(data.parent.path, sandbox.root)).toBe(true);
      expect(data.parent.type).toBe(1);
      expect(data.props.max_page_size).toBeGreaterThan(0);
      const byName = new Map((data.files ?? []).map((f) => [f.name, f]));
      expect([...byName.keys()].sort()).toEqual(['one.txt', 'sub', 'two.txt']);
      expect(byName.get('one.txt')).toMatchObject({ type: 0, size: 1 });
      expect(byName.get('two.txt')).toMatchObject({ type: 0, size: 2 });
      expect(byName.get('sub')).toMatchObject({ type: 1, size: 0 });
      expect(sameUri(byName.get('two.txt')!.path, sandbox.uri('two.txt'))).toBe(true);
    });

  test('FILE-LIST-002 pages through a folder with next_token', { annotation: [{ type: 'operation', description: 'listFiles' }] },
    async ({ user, sandbox }) => {
      for (const n of ['a', 'b', 'c']) await writeFile(user, sandbox.uri(`${n}.txt`), n);
      const first = ok(await user.GET('/file', { params: { query: { uri: sandbox.root, page_size: 2, order_by: 'name', order_direction: 'asc' } } }));
      expect((first.files ?? []).map((f) => f.name)).toEqual(['a.txt', 'b.txt']);
      expect(first.pagination.next_token).toBeTruthy();
      const second = ok(await user.GET('/file', { params: { query: {
        uri: sandbox.root, page_size: 2, order_by: 'name', order_direction: 'asc', next_page_token: first.pagination.next_token!,
      } } }));
      expect((second.files ?? []).map((f) => f.name)).toEqual(['c.txt']);
      expect(second.pagination.next_token).toBeUndefined();
    });

  test('FILE-LIST-003 answers 40016 for a folder that does not exist', { annotation: [{ type: 'operation', description: 'listFiles' }] },
    async ({ user, sandbox }) => {
      expectCode(await user.GET('/file', { params: { query: { uri: sandbox.uri('missing') } } }), Code.ParentNotExist);
    });

  test('FILE-LIST-004 refuses an anonymous caller on a user space with 401', { annotation: [{ type: 'operation', description: 'listFiles' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.GET('/file', { params: { query: { uri: 'cloudreve://my' } } }), Code.CheckLogin);
    });

  // ----- delete / restore -----------------------------------------------------------------------------------------
  test('FILE-DELETE-001 deleting moves the file to the trash bin, still counted in the capacity',
    { annotation: [{ type: 'operation', description: 'deleteFiles' }] }, async ({ user, sandbox }) => {
      const name = unique('trashed', '.txt');
      const uri = sandbox.uri(name);
      await writeFile(user, uri, 'to the trash');
      const used = await capacityUsed(user);
      ok(await user.DELETE('/file', { body: { uris: [uri] } }));
      // On a live server capacity can also move by other files' asynchronous recycling; a soft delete must not free
      // this file's 12 bytes.
      expectCode(await user.GET('/file/info', { params: { query: { uri } } }), Code.ParentNotExist);
      const entry = await trashEntryFor(user, name);
      expect(entry, 'the file is in the trash bin with its restore URI').toBeDefined();
      expect(entry!.size).toBe(12);
      expect(await capacityUsed(user)).toBeGreaterThan(used - 12);
      ok(await user.POST('/file/restore', { body: { uris: [entry!.path!] } }), 'restore (clean-up)');
    });

  test('FILE-DELETE-002 skip_soft_delete deletes for good and frees the bytes', { annotation: [{ type: 'operation', description: 'deleteFiles' }] },
    async ({ user, sandbox }) => {
      const name = unique('gone', '.txt');
      const uri = sandbox.uri(name);
      await writeFile(user, uri, randomPayload(777));
      const used = await capacityUsed(user);
      ok(await user.DELETE('/file', { body: { uris: [uri], skip_soft_delete: true } }));
      expectCode(await user.GET('/file/info', { params: { query: { uri } } }), Code.ParentNotExist);
      expect(await trashEntryFor(user, name)).toBeUndefined();
      expect(await capacityUsed(user)).toBe(used - 777);
    });

  test('FILE-DELETE-003 deletes a folder with its content', { annotation: [{ type: 'operation', description: 'deleteFiles' }] },
    async ({ user, sandbox }) => {
      await writeFile(user, sandbox.uri('dir/inner.txt'), 'inner');
      ok(await user.DELETE('/file', { body: { uris: [sandbox.uri('dir')], skip_soft_delete: true } }));
      expectCode(await user.GET('/file/info', { params: { query: { uri: sandbox.uri('dir/inner.txt') } } }), Code.ParentNotExist);
      expect(await listAll(user, sandbox.root)).toEqual([]);
    });

  test('FILE-RESTORE-001 restoring from the trash brings the file back where it was', { annotation: [{ type: 'operation', description: 'restoreFiles' }] },
    async ({ user, sandbox, target, makeTransport }) => {
      const name = unique('restored', '.txt');
      const uri = sandbox.uri(`folder/${name}`);
      await writeFile(user, uri, 'come back');
      ok(await user.DELETE('/file', { body: { uris: [uri] } }));
      const entry = await trashEntryFor(user, name);
      expect(entry).toBeDefined();
      ok(await user.POST('/file/restore', { body: { uris: [entry!.path!] } }));
      const info = await fileInfo(user, uri);
      expect(info.name).toBe(name);
      expect(info.size).toBe(9);
      expect(Buffer.from(await downloadFile(user, makeTransport(), target, uri)).toString()).toBe('come back');
      expect(await trashEntryFor(user, name)).toBeUndefined();
    });

  test('FILE-RESTORE-002 a file that is not in the trash cannot be restored (40081 with the per-file error)',
    { annotation: [{ type: 'operation', description: 'restoreFiles' }] }, async ({ user, sandbox }) => {
      const uri = sandbox.uri('alive.txt');
      await writeFile(user, uri, 'alive');
      const res = await user.POST('/file/restore', { body: { uris: [uri] } });
      expectCode(res, Code.BatchOperationNotFullyCompleted);
      expect(Object.keys((res.data as { aggregated_error?: object }).aggregated_error ?? {})).toHaveLength(1);
    });

  // ----- activities (Pro) -----------------------------------------------------------------------------------------
  test('FILE-ACTIVITIES-001 lists a file\'s activities', { annotation: [{ type: 'operation', description: 'listFileActivities' }] },
    async ({ user, sandbox, target }) => {
      test.skip(!isPro(target), proOnly(target));
      const uri = sandbox.uri('active.txt');
      await writeFile(user, uri, 'x');
      const data = ok(await user.GET('/file/activities', { params: { query: { uri, page_size: 10 } } }));
      expect(data.activities.length).toBeGreaterThan(0);
    });

  // ----- info -----------------------------------------------------------------------------------------------------
  test('FILE-INFO-001 shows a file\'s name, size and path; extended info adds its policy and versions',
    { annotation: [{ type: 'operation', description: 'getFileInfo' }] }, async ({ user, sandbox }) => {
      const uri = sandbox.uri('info.txt');
      const written = await writeFile(user, uri, 'twelve bytes');
      const info = await fileInfo(user, uri);
      expect(info).toMatchObject({ type: 0, name: 'info.txt', size: 12, id: written.id, primary_entity: written.primary_entity });
      expect(sameUri(info.path, uri)).toBe(true);
      expect(info.owned).toBe(true);
      expect(info.extended_info).toBeUndefined();
      const ext = (await fileInfo(user, uri, true)).extended_info!;
      expect(ext.storage_policy?.id).toBeTruthy();
      expect(ext.storage_used).toBe(12);
      expect(ext.entities?.map((e) => [e.id, e.size, e.type])).toEqual([[written.primary_entity, 12, 0]]);
    });

  test('FILE-INFO-002 a file is found by its id too', { annotation: [{ type: 'operation', description: 'getFileInfo' }] },
    async ({ user, sandbox }) => {
      const written = await writeFile(user, sandbox.uri('by-id.txt'), 'abc');
      const info = ok(await user.GET('/file/info', { params: { query: { id: written.id } } }));
      expect(info.name).toBe('by-id.txt');
      expect(info.size).toBe(3);
    });

  test('FILE-INFO-003 a folder summary counts the files and bytes below it', { annotation: [{ type: 'operation', description: 'getFileInfo' }] },
    async ({ user, sandbox }) => {
      await writeFile(user, sandbox.uri('sum/a.txt'), 'aaaa');
      await writeFile(user, sandbox.uri('sum/deeper/b.txt'), 'bb');
      const info = ok(await user.GET('/file/info', { params: { query: { uri: sandbox.uri('sum'), folder_summary: true } } }));
      expect(info.type).toBe(1);
      expect(info.folder_summary).toMatchObject({ files: 2, size: 6, completed: true });
      expect(info.folder_summary!.folders).toBeGreaterThanOrEqual(1);
    });

  test('FILE-INFO-004 answers 40016 for a path that does not exist', { annotation: [{ type: 'operation', description: 'getFileInfo' }] },
    async ({ user, sandbox }) => {
      expectCode(await user.GET('/file/info', { params: { query: { uri: sandbox.uri('nothing-here.txt') } } }), Code.ParentNotExist);
    });

  // ----- thumbnails -----------------------------------------------------------------------------------------------
  test('FILE-THUMB-001 an image gets a thumbnail URL that serves an image', { annotation: [{ type: 'operation', description: 'getThumbnailUrl' }] },
    async ({ user, sandbox, target, makeTransport }) => {
      const uri = sandbox.uri('picture.png');
      await writeFile(user, uri, png(64, 48));
      const thumb = ok(await user.GET('/file/thumb', { params: { query: { uri } } }));
      expect(thumb.url).toBeTruthy();
      if (thumb.expires !== null) expect(Date.parse(thumb.expires)).toBeGreaterThan(Date.now());
      const got = await fetchBytes(makeTransport(), target, thumb.url);
      expect(got.status).toBe(200);
      // Cloudreve 4.18.0 serves thumbnails as application/octet-stream: the bytes must be an image (PNG, JPEG or WebP).
      const head = Buffer.from(got.bytes.subarray(0, 12));
      const isImage = head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
        || (head[0] === 0xff && head[1] === 0xd8) || (head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP');
      expect(isImage, `thumbnail bytes are an image (got ${head.toString('hex')}, ${got.type})`).toBe(true);
    });

  test('FILE-THUMB-002 a folder has no thumbnail (40077)', { annotation: [{ type: 'operation', description: 'getThumbnailUrl' }] },
    async ({ user, sandbox }) => {
      await createFolder(user, sandbox.uri('no-thumb'));
      expectCode(await user.GET('/file/thumb', { params: { query: { uri: sandbox.uri('no-thumb') } } }), Code.EntityNotExist);
    });

  // ----- archive listing ------------------------------------------------------------------------------------------
  test('FILE-ARCHIVE-001 lists the entries of a zip file', { annotation: [{ type: 'operation', description: 'listArchiveFiles' }] },
    async ({ user, admin, sandbox, target }) => {
      test.skip(!versionAtLeast(target, '4.7.0'), sinceReason(target, '4.7.0'));
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      await withGroupPermissions(admin, groupId, [Perm.archiveTask], async () => {
        const uri = sandbox.uri('bundle.zip');
        await writeFile(user, uri, zip([
          { name: 'readme.txt', data: bytesOf('hello') },
          { name: 'src/' },
          { name: 'src/main.go', data: bytesOf('package main\n') },
        ]));
        const data = ok(await user.GET('/file/archive', { params: { query: { uri } } }));
        const byName = new Map((data.files ?? []).map((f) => [f.name.replace(/\/$/, ''), f]));
        expect(byName.get('readme.txt')).toMatchObject({ size: 5, is_directory: false });
        expect(byName.get('src/main.go')).toMatchObject({ size: 13, is_directory: false });
        expect(byName.get('src')?.is_directory).toBe(true);
        // A file that is not a zip or 7z archive cannot be listed.
        await writeFile(user, sandbox.uri('plain.txt'), 'not an archive');
        expectCode(await user.GET('/file/archive', { params: { query: { uri: sandbox.uri('plain.txt') } } }), Code.NoPermissionErr);
      });
    });

  test('FILE-ARCHIVE-002 refuses a group without the archive permission with 40007', { annotation: [{ type: 'operation', description: 'listArchiveFiles' }] },
    async ({ user, sandbox, target }) => {
      test.skip(!versionAtLeast(target, '4.7.0'), sinceReason(target, '4.7.0'));
      test.skip(await userHasPermission(user, Perm.archiveTask), 'the user\'s group has the archive_task permission on this target');
      await writeFile(user, sandbox.uri('bundle.zip'), zip([{ name: 'a.txt', data: bytesOf('a') }]));
      expectCode(await user.GET('/file/archive', { params: { query: { uri: sandbox.uri('bundle.zip') } } }), Code.GroupNotAllowed);
    });

  // ----- content --------------------------------------------------------------------------------------------------
  test('FILE-CONTENT-001 writing content creates the missing file with exactly those bytes',
    { annotation: [{ type: 'operation', description: 'updateFileContent' }] }, async ({ user, sandbox, target, makeTransport }) => {
      const uri = sandbox.uri('new/content.bin');
      const payload = randomPayload(1500);
      const file = ok(await putContent(user, uri, payload));
      expect(file).toMatchObject({ type: 0, name: 'content.bin', size: 1500 });
      expect(Buffer.from(await downloadFile(user, makeTransport(), target, uri)).equals(Buffer.from(payload))).toBe(true);
    });

  test('FILE-CONTENT-002 overwriting with the current version id replaces the content; a stale id gets 40076',
    { annotation: [{ type: 'operation', description: 'updateFileContent' }] }, async ({ user, sandbox, target, makeTransport }) => {
      const uri = sandbox.uri('edit.txt');
      const v1 = await writeFile(user, uri, 'version one');
      const v2 = ok(await putContent(user, uri, 'version two!', v1.primary_entity));
      expect(v2.id).toBe(v1.id);
      expect(v2.size).toBe(12);
      expect(v2.primary_entity).not.toBe(v1.primary_entity);
      expectCode(await putContent(user, uri, 'lost update', v1.primary_entity), Code.StaleVersion);
      expectCode(await putContent(user, uri, 'bad id', 'not-an-id'), Code.ParamErr);
      expect(Buffer.from(await downloadFile(user, makeTransport(), target, uri)).toString()).toBe('version two!');
    });

  test('FILE-CONTENT-003 refuses an anonymous caller with 401', { annotation: [{ type: 'operation', description: 'updateFileContent' }] },
    async ({ anonymous, sandbox }) => {
      expectCode(await putContent(anonymous, sandbox.uri('anon.txt'), 'x'), Code.CheckLogin);
    });

  // ----- viewer sessions ------------------------------------------------------------------------------------------
  test('FILE-VIEWER-001 opens a viewer session for a built-in viewer', { annotation: [{ type: 'operation', description: 'createViewerSession' }] },
    async ({ user, sandbox }) => {
      const cfg = ok(await user.GET('/site/config/{section}', { params: { path: { section: 'explorer' } } }));
      const viewer = (cfg.file_viewers ?? []).flatMap((g) => g?.viewers ?? []).find((v) => v.type === 'builtin' && !(v as { disabled?: boolean }).disabled);
      test.skip(!viewer, 'the site has no enabled built-in viewer');
      const uri = sandbox.uri('view.txt');
      await writeFile(user, uri, 'viewable');
      const data = ok(await user.PUT('/file/viewerSession', { body: { uri, viewer_id: viewer!.id, preferred_action: 'view' } }));
      expect(data.session.id).toMatch(UUID);
      expect(data.session.access_token.startsWith(`${data.session.id}.`)).toBe(true);
      expect(data.session.expires).toBeGreaterThan(Date.now());
      expect(data.wopi_src).toBeUndefined();
    });

  test('FILE-VIEWER-002 refuses an unknown viewer with 40001', { annotation: [{ type: 'operation', description: 'createViewerSession' }] },
    async ({ user, sandbox }) => {
      const uri = sandbox.uri('view.txt');
      await writeFile(user, uri, 'viewable');
      expectCode(await user.PUT('/file/viewerSession', { body: { uri, viewer_id: `no-such-viewer-${randomUUID()}`, preferred_action: 'view' } }),
        Code.ParamErr);
    });

  // ----- create / rename / move / copy ----------------------------------------------------------------------------
  test('FILE-CREATE-001 creates missing parent folders', { annotation: [{ type: 'operation', description: 'createFile' }] },
    async ({ user, sandbox }) => {
      const file = ok(await user.POST('/file/create', { body: { uri: sandbox.uri('p/q/r/new.txt'), type: 'file' } }));
      expect(file).toMatchObject({ type: 0, name: 'new.txt', size: 0 });
      expect((await fileInfo(user, sandbox.uri('p/q'))).type).toBe(1);
      expect((await listAll(user, sandbox.uri('p/q/r'))).map((f) => f.name)).toEqual(['new.txt']);
    });

  test('FILE-CREATE-002 creates a folder', { annotation: [{ type: 'operation', description: 'createFile' }] },
    async ({ user, sandbox }) => {
      const folder = ok(await user.POST('/file/create', { body: { uri: sandbox.uri('made'), type: 'folder' } }));
      expect(folder).toMatchObject({ type: 1, name: 'made' });
      expect(await listAll(user, sandbox.uri('made'))).toEqual([]);
    });

  test('FILE-CREATE-003 an existing name gets 40004 with err_on_conflict, the existing object without it',
    { annotation: [{ type: 'operation', description: 'createFile' }] }, async ({ user, sandbox }) => {
      const uri = sandbox.uri('twice');
      const first = ok(await user.POST('/file/create', { body: { uri, type: 'folder' } }));
      expectCode(await user.POST('/file/create', { body: { uri, type: 'folder', err_on_conflict: true } }), Code.ObjectExist);
      const again = ok(await user.POST('/file/create', { body: { uri, type: 'folder' } }));
      expect(again.id).toBe(first.id);
    });

  test('FILE-RENAME-001 renaming changes the name and keeps the content', { annotation: [{ type: 'operation', description: 'renameFile' }] },
    async ({ user, sandbox }) => {
      const before = await writeFile(user, sandbox.uri('old-name.txt'), 'same bytes');
      const renamed = ok(await user.POST('/file/rename', { body: { uri: sandbox.uri('old-name.txt'), new_name: 'new-name.txt' } }));
      expect(renamed).toMatchObject({ id: before.id, name: 'new-name.txt', size: 10 });
      expectCode(await user.GET('/file/info', { params: { query: { uri: sandbox.uri('old-name.txt') } } }), Code.ParentNotExist);
      expect((await fileInfo(user, sandbox.uri('new-name.txt'))).id).toBe(before.id);
    });

  test('FILE-RENAME-002 refuses a name already taken in the folder with 40004', { annotation: [{ type: 'operation', description: 'renameFile' }] },
    async ({ user, sandbox }) => {
      await writeFile(user, sandbox.uri('a.txt'), 'a');
      await writeFile(user, sandbox.uri('b.txt'), 'b');
      expectCode(await user.POST('/file/rename', { body: { uri: sandbox.uri('a.txt'), new_name: 'b.txt' } }), Code.ObjectExist);
      expect((await fileInfo(user, sandbox.uri('a.txt'))).size).toBe(1);
    });

  test('FILE-MOVE-001 moves a file into another folder', { annotation: [{ type: 'operation', description: 'moveFiles' }] },
    async ({ user, sandbox }) => {
      const file = await writeFile(user, sandbox.uri('moving.txt'), 'moving');
      await createFolder(user, sandbox.uri('dest'));
      ok(await user.POST('/file/move', { body: { uris: [sandbox.uri('moving.txt')], dst: sandbox.uri('dest') } }));
      expectCode(await user.GET('/file/info', { params: { query: { uri: sandbox.uri('moving.txt') } } }), Code.ParentNotExist);
      expect(await fileInfo(user, sandbox.uri('dest/moving.txt'))).toMatchObject({ id: file.id, size: 6 });
    });

  test('FILE-MOVE-002 copies a folder with its content, leaving the source in place', { annotation: [{ type: 'operation', description: 'moveFiles' }] },
    async ({ user, sandbox, target, makeTransport }) => {
      const src = await writeFile(user, sandbox.uri('orig/inner.txt'), 'copied');
      await createFolder(user, sandbox.uri('dest'));
      ok(await user.POST('/file/move', { body: { uris: [sandbox.uri('orig')], dst: sandbox.uri('dest'), copy: true } }));
      expect((await fileInfo(user, sandbox.uri('orig/inner.txt'))).id).toBe(src.id);
      const copy = await fileInfo(user, sandbox.uri('dest/orig/inner.txt'));
      expect(copy.id).not.toBe(src.id);
      expect(copy.size).toBe(6);
      expect(Buffer.from(await downloadFile(user, makeTransport(), target, sandbox.uri('dest/orig/inner.txt'))).toString()).toBe('copied');
    });

  test('FILE-MOVE-003 refuses moving onto a name that exists in the destination and leaves both files as they were',
    { annotation: [{ type: 'operation', description: 'moveFiles' }] }, async ({ user, sandbox }) => {
      await writeFile(user, sandbox.uri('clash.txt'), 'source-file');
      await writeFile(user, sandbox.uri('dest/clash.txt'), 'target');
      const res = await user.POST('/file/move', { body: { uris: [sandbox.uri('clash.txt')], dst: sandbox.uri('dest') } });
      expect((res.data as { code?: number }).code, 'the move is refused').not.toBe(Code.Success);
      expect((await fileInfo(user, sandbox.uri('dest/clash.txt'))).size).toBe(6);
      expect((await fileInfo(user, sandbox.uri('clash.txt'))).size).toBe(11);
    });

  // ----- download URLs --------------------------------------------------------------------------------------------
  test('FILE-URL-001 a download URL serves the file\'s bytes without credentials', { annotation: [{ type: 'operation', description: 'createDownloadUrl' }] },
    async ({ user, sandbox, target, makeTransport }) => {
      const payload = randomPayload(2048);
      await writeFile(user, sandbox.uri('dl.bin'), payload);
      const data = ok(await user.POST('/file/url', { body: { uris: [sandbox.uri('dl.bin')], download: true } }));
      expect(data.urls).toHaveLength(1);
      if (data.expires !== null) expect(Date.parse(data.expires)).toBeGreaterThan(Date.now());
      const got = await fetchBytes(makeTransport(), target, data.urls[0]!.url);
      expect(got.status).toBe(200);
      expect(Buffer.from(got.bytes).equals(Buffer.from(payload))).toBe(true);
    });

  test('FILE-URL-002 one URL per file, in the order asked', { annotation: [{ type: 'operation', description: 'createDownloadUrl' }] },
    async ({ user, sandbox, target, makeTransport }) => {
      await writeFile(user, sandbox.uri('first.txt'), 'first');
      await writeFile(user, sandbox.uri('second.txt'), 'second');
      const data = ok(await user.POST('/file/url', { body: { uris: [sandbox.uri('second.txt'), sandbox.uri('first.txt')] } }));
      expect(data.urls).toHaveLength(2);
      const bodies = await Promise.all(data.urls.map(async (u) => Buffer.from((await fetchBytes(makeTransport(), target, u.url)).bytes).toString()));
      expect(bodies).toEqual(['second', 'first']);
    });

  // ----- locks ----------------------------------------------------------------------------------------------------
  test('FILE-UNLOCK-001 force-unlocking the lock token of a 40073 conflict releases the file',
    { annotation: [{ type: 'operation', description: 'forceUnlock' }] }, async ({ user, sandbox }) => {
      const uri = sandbox.uri('locked.bin');
      // An upload session keeps its placeholder file locked.
      const s = ok(await createUploadSession(user, uri, 10, await policyOf(user, sandbox.root)));
      const conflict = await user.POST('/file/rename', { body: { uri, new_name: 'renamed.bin' } });
      expectCode(conflict, Code.LockConflict);
      const locks = ((conflict.data as { data?: Schemas['LockConflict'][] }).data ?? []);
      const tokens = locks.map((l) => l.token).filter((t): t is string => !!t);
      expect(tokens.length, 'the owner sees the lock token').toBeGreaterThan(0);
      ok(await user.DELETE('/file/lock', { body: { tokens } }));
      expect(ok(await user.POST('/file/rename', { body: { uri, new_name: 'renamed.bin' } })).name).toBe('renamed.bin');
      await user.DELETE('/file/upload', { body: { id: s.session_id, uri: sandbox.uri('renamed.bin') } });
    });

  test('FILE-UNLOCK-002 refuses an unknown lock token with 40001', { annotation: [{ type: 'operation', description: 'forceUnlock' }] },
    async ({ user }) => {
      expectCode(await user.DELETE('/file/lock', { body: { tokens: [`opaquelocktoken:${randomUUID()}`] } }), Code.ParamErr);
    });

  // ----- metadata -------------------------------------------------------------------------------------------------
  test('FILE-METADATA-001 patches set and remove metadata keys', { annotation: [{ type: 'operation', description: 'patchMetadata' }] },
    async ({ user, sandbox }) => {
      const uri = sandbox.uri('tagged.txt');
      await writeFile(user, uri, 'x');
      const key = `tag:${unique('conformance')}`;
      ok(await user.PATCH('/file/metadata', { body: { uris: [uri], patches: [{ key, value: '#ff0000' }] } }));
      expect((await fileInfo(user, uri)).metadata?.[key]).toBe('#ff0000');
      ok(await user.PATCH('/file/metadata', { body: { uris: [uri], patches: [{ key, remove: true }] } }));
      expect((await fileInfo(user, uri)).metadata?.[key]).toBeUndefined();
    });

  test('FILE-METADATA-002 refuses a key outside the known categories with 40001', { annotation: [{ type: 'operation', description: 'patchMetadata' }] },
    async ({ user, sandbox }) => {
      const uri = sandbox.uri('tagged.txt');
      await writeFile(user, uri, 'x');
      expectCode(await user.PATCH('/file/metadata', { body: { uris: [uri], patches: [{ key: 'nonsense:key', value: 'v' }] } }), Code.ParamErr);
      expect((await fileInfo(user, uri)).metadata?.['nonsense:key']).toBeUndefined();
    });

  // ----- storage policy mount (Pro) -------------------------------------------------------------------------------
  test('FILE-POLICY-001 mounts a storage policy on a folder', { annotation: [{ type: 'operation', description: 'mountStoragePolicy' }] },
    async ({ user, sandbox, target }) => {
      test.skip(!isPro(target), proOnly(target));
      ok(await user.PATCH('/file/policy', { body: { uri: sandbox.root, policy_id: await policyOf(user, sandbox.root) } }));
    });

  // ----- view settings --------------------------------------------------------------------------------------------
  test('FILE-VIEW-001 a folder\'s view setting is returned with its listing; null clears it',
    { annotation: [{ type: 'operation', description: 'updateViewSetting' }] }, async ({ user, sandbox }) => {
      const folder = sandbox.uri('viewed');
      await createFolder(user, folder);
      const view = { page_size: 50, order: 'name', order_direction: 'desc' as const, view: 'list' as const, thumbnail: true, gallery_width: 220 }; // false would be omitted (omitempty)
      ok(await user.PATCH('/file/view', { body: { uri: folder, view } }));
      const listed = ok(await user.GET('/file', { params: { query: { uri: folder } } }));
      expect(listed.view).toMatchObject(view);
      ok(await user.PATCH('/file/view', { body: { uri: folder, view: null } }));
      const cleared = ok(await user.GET('/file', { params: { query: { uri: folder } } }));
      expect(cleared.view?.view, 'back to the inherited default view').not.toBe('list');
    });
});
