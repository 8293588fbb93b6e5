// Contract specs of the 分享管理 (share) group: create, edit, read, list and delete share links.
import { test, expect } from '../../fixtures/target.js';
import { expectCode } from '../../harness/expect.js';
import type { CloudreveClient } from '../../harness/client/index.js';
import { Code, collectShares, createShare, createFolder, ok, sleep, unique, writeFile } from './support.js';

async function myShares(client: CloudreveClient) {
  return collectShares(async (token) => ok(await client.GET('/share', {
    params: { query: { page_size: 100, ...(token ? { next_page_token: token } : {}) } },
  })));
}

test.describe('share', () => {
  test('SHARE-CREATE-001 shares a file: the link is readable by another user with the file\'s name and owner',
    { annotation: [{ type: 'operation', description: 'createShareLink' }] }, async ({ user, user2, sandbox, sessions }) => {
      const uri = sandbox.uri('shared.txt');
      await writeFile(user, uri, 'shared content');
      const { url, id } = await createShare(user, { uri });
      expect(url).toMatch(new RegExp(`/s/${id}$`));
      expect(new URL(url).protocol).toMatch(/^https?:$/);
      const info = ok(await user2.GET('/share/info/{id}', { params: { path: { id } } }));
      expect(info).toMatchObject({ id, name: 'shared.txt', unlocked: true, expired: false, source_type: 0 });
      expect(info.owner.id).toBe(sessions.user!.user!.id);
      expect(info.password_protected ?? false).toBe(false);
      expect(info.is_private, 'owner-only field').toBeUndefined();
    });

  test('SHARE-CREATE-002 a private link carries its password; without it another user sees it locked',
    { annotation: [{ type: 'operation', description: 'createShareLink' }] }, async ({ user, user2, sandbox }) => {
      const uri = sandbox.uri('secret');
      await createFolder(user, uri);
      const { url, id } = await createShare(user, { uri, is_private: true, password: 'abc123' });
      expect(url).toMatch(new RegExp(`/s/${id}/abc123$`));
      const locked = ok(await user2.GET('/share/info/{id}', { params: { path: { id } } }));
      expect(locked.unlocked).toBe(false);
      expect(locked.password_protected).toBe(true);
      expect(locked.password).toBeUndefined();
      expect(locked.url).not.toContain('abc123');
      const unlocked = ok(await user2.GET('/share/info/{id}', { params: { path: { id }, query: { password: 'abc123' } } }));
      expect(unlocked).toMatchObject({ unlocked: true, source_type: 1, name: 'secret' });
    });

  test('SHARE-CREATE-003 a private link without a password gets a generated one', { annotation: [{ type: 'operation', description: 'createShareLink' }] },
    async ({ user, sandbox }) => {
      const uri = sandbox.uri('auto.txt');
      await writeFile(user, uri, 'x');
      const { url, id } = await createShare(user, { uri, is_private: true });
      const password = new URL(url).pathname.split('/').pop()!;
      expect(password).not.toBe(id);
      expect(password).toMatch(/^[a-z0-9]{4,32}$/);
      const own = ok(await user.GET('/share/info/{id}', { params: { path: { id } } }));
      expect(own.password).toBe(password);
      expect(own.is_private).toBe(true);
    });

  // manager.CreateOrUpdateShare wraps the lookup error in a 404 error, but the envelope carries the innermost code
  // (serializer.AppError.ErrCode): the path error's 40016.
  test('SHARE-CREATE-004 refuses a path that does not exist with 40016', { annotation: [{ type: 'operation', description: 'createShareLink' }] },
    async ({ user, sandbox }) => {
      expectCode(await user.PUT('/share', { body: { uri: sandbox.uri('missing.txt') } }), Code.ParentNotExist);
    });

  test('SHARE-CREATE-005 refuses an anonymous caller with 401', { annotation: [{ type: 'operation', description: 'createShareLink' }] },
    async ({ anonymous, sandbox }) => {
      expectCode(await anonymous.PUT('/share', { body: { uri: sandbox.root } }), Code.CheckLogin);
    });

  test('SHARE-EDIT-001 editing sets and clears the download limit and expiry', { annotation: [{ type: 'operation', description: 'editShareLink' }] },
    async ({ user, sandbox }) => {
      const uri = sandbox.uri('edited.txt');
      await writeFile(user, uri, 'x');
      const { id, url } = await createShare(user, { uri });
      const before = Date.now();
      const edited = ok(await user.POST('/share/{id}', { params: { path: { id } }, body: { uri, downloads: 5, expire: 3600 } }));
      expect(edited).toBe(url);
      const limited = ok(await user.GET('/share/info/{id}', { params: { path: { id } } }));
      expect(limited.remain_downloads).toBe(5);
      const expires = Date.parse(limited.expires!);
      expect(expires).toBeGreaterThanOrEqual(before + 3590_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 3610_000);
      ok(await user.POST('/share/{id}', { params: { path: { id } }, body: { uri } }));
      const cleared = ok(await user.GET('/share/info/{id}', { params: { path: { id } } }));
      expect(cleared.remain_downloads).toBeUndefined();
      expect(cleared.expires).toBeUndefined();
    });

  test('SHARE-EDIT-002 another user cannot edit the link: the URI does not resolve in their space (40016)',
    { annotation: [{ type: 'operation', description: 'editShareLink' }] },
    async ({ user, user2, sandbox }) => {
      const uri = sandbox.uri('mine.txt');
      await writeFile(user, uri, 'x');
      const { id } = await createShare(user, { uri });
      expectCode(await user2.POST('/share/{id}', { params: { path: { id } }, body: { uri, downloads: 1 } }), Code.ParentNotExist);
      expect(ok(await user.GET('/share/info/{id}', { params: { path: { id } } })).remain_downloads).toBeUndefined();
    });

  test('SHARE-INFO-001 an anonymous visitor reads the link without the owner\'s email', { annotation: [{ type: 'operation', description: 'getShareLinkInfo' }] },
    async ({ user, anonymous, sandbox, sessions }) => {
      const uri = sandbox.uri('public.txt');
      await writeFile(user, uri, 'seen by anyone');
      const { id } = await createShare(user, { uri });
      const info = ok(await anonymous.GET('/share/info/{id}', { params: { path: { id }, query: { count_views: true } } }));
      expect(info).toMatchObject({ id, name: 'public.txt', unlocked: true });
      expect(info.owner.id).toBe(sessions.user!.user!.id);
      expect(info.owner.email).toBeUndefined();
      expect(ok(await user.GET('/share/info/{id}', { params: { path: { id } } })).visited, 'count_views counted the visit').toBe(1);
    });

  test('SHARE-INFO-002 the owner gets the shared file\'s URI with owner_extended', { annotation: [{ type: 'operation', description: 'getShareLinkInfo' }] },
    async ({ user, user2, sandbox }) => {
      const uri = sandbox.uri('extended.txt');
      await writeFile(user, uri, 'x');
      const { id } = await createShare(user, { uri });
      const own = ok(await user.GET('/share/info/{id}', { params: { path: { id }, query: { owner_extended: true } } }));
      expect(own.source_uri).toBeTruthy();
      // The shared object's place in the owner's space: Cloudreve 4.18.0 answers its folder with the owner's id as
      // userinfo (cloudreve://<id>@my/...); the file's own URI names the same place.
      const where = decodeURIComponent(own.source_uri!).replace(/^cloudreve:\/\/[^@/]+@my\//, 'cloudreve://my/');
      expect([decodeURIComponent(sandbox.root), decodeURIComponent(uri)]).toContain(where);
      const other = ok(await user2.GET('/share/info/{id}', { params: { path: { id }, query: { owner_extended: true } } }));
      expect(other.source_uri).toBeUndefined();
    });

  test('SHARE-INFO-003 an expired link answers 404', { annotation: [{ type: 'operation', description: 'getShareLinkInfo' }] },
    async ({ user, anonymous, sandbox }) => {
      const uri = sandbox.uri('short-lived.txt');
      await writeFile(user, uri, 'x');
      const { id } = await createShare(user, { uri, expire: 1 });
      await sleep(2100);
      expectCode(await anonymous.GET('/share/info/{id}', { params: { path: { id } } }), Code.NotFound);
    });

  test('SHARE-LIST-001 lists the user\'s own links, private ones included', { annotation: [{ type: 'operation', description: 'listMyShareLinks' }] },
    async ({ user, sandbox }) => {
      const a = sandbox.uri(unique('list-a', '.txt'));
      const b = sandbox.uri(unique('list-b', '.txt'));
      await writeFile(user, a, 'a');
      await writeFile(user, b, 'b');
      const pub = await createShare(user, { uri: a });
      const priv = await createShare(user, { uri: b, is_private: true, password: 'pw12' });
      const shares = await myShares(user);
      const byId = new Map(shares.map((s) => [s.id, s]));
      expect(byId.get(pub.id)?.name).toBe(a.split('/').pop());
      expect(byId.get(priv.id)?.password).toBe('pw12');
      expect(byId.get(priv.id)?.is_private).toBe(true);
    });

  test('SHARE-LIST-002 another user\'s list does not show them', { annotation: [{ type: 'operation', description: 'listMyShareLinks' }] },
    async ({ user, user2, sandbox }) => {
      const uri = sandbox.uri('not-yours.txt');
      await writeFile(user, uri, 'x');
      const { id } = await createShare(user, { uri });
      expect((await myShares(user2)).map((s) => s.id)).not.toContain(id);
    });

  test('SHARE-LIST-003 refuses an anonymous caller with 401', { annotation: [{ type: 'operation', description: 'listMyShareLinks' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.GET('/share', { params: { query: { page_size: 10 } } }), Code.CheckLogin);
    });

  test('SHARE-DELETE-001 deleting a link makes it unreadable (404) and drops it from the list', { annotation: [{ type: 'operation', description: 'deleteShareLink' }] },
    async ({ user, user2, sandbox }) => {
      const uri = sandbox.uri('deleted.txt');
      await writeFile(user, uri, 'x');
      const { id } = await createShare(user, { uri });
      ok(await user.DELETE('/share/{id}', { params: { path: { id } } }));
      expectCode(await user2.GET('/share/info/{id}', { params: { path: { id } } }), Code.NotFound);
      expect((await myShares(user)).map((s) => s.id)).not.toContain(id);
      // The shared file itself is untouched.
      expect(ok(await user.GET('/file/info', { params: { query: { uri } } })).name).toBe('deleted.txt');
    });

  test('SHARE-DELETE-002 another user cannot delete the link (404) and it keeps working', { annotation: [{ type: 'operation', description: 'deleteShareLink' }] },
    async ({ user, user2, sandbox }) => {
      const uri = sandbox.uri('kept.txt');
      await writeFile(user, uri, 'x');
      const { id } = await createShare(user, { uri });
      expectCode(await user2.DELETE('/share/{id}', { params: { path: { id } } }), Code.NotFound);
      expect(ok(await user2.GET('/share/info/{id}', { params: { path: { id } } })).id).toBe(id);
    });
});
