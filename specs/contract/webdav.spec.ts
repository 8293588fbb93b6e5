// Contract specs of the WebDAV账号 (webdav) group: list, create, update and delete WebDAV accounts. Creating and
// updating need the group permission `webdav` (bit 3), which the default User group lacks: the tests grant it to the
// user's group through the admin API and put the group back afterwards.
import { test, expect } from '../../fixtures/target.js';
import { expectCode } from '../../harness/expect.js';
import type { CloudreveClient, Schemas } from '../../harness/client/index.js';
import { Code, Perm, adminGroupIdOf, hasBit, ok, sameUri, unique, userHasPermission, withGroupPermissions } from './support.js';

async function allAccounts(client: CloudreveClient): Promise<Schemas['DavAccount'][]> {
  const out: Schemas['DavAccount'][] = [];
  let token: string | undefined;
  for (let page = 0; page < 20; page++) {
    const data = ok(await client.GET('/devices/dav', { params: { query: { page_size: 100, ...(token ? { next_page_token: token } : {}) } } }));
    out.push(...(data.accounts ?? []));
    token = data.pagination.next_token;
    if (!token) break;
  }
  return out;
}

test.describe('webdav', () => {
  test('WEBDAV-LIST-001 lists the user\'s WebDAV accounts (no WebDAV permission needed)', { annotation: [{ type: 'operation', description: 'listDavAccounts' }] },
    async ({ user }) => {
      const data = ok(await user.GET('/devices/dav', { params: { query: { page_size: 10 } } }));
      expect(data.accounts === null || Array.isArray(data.accounts)).toBe(true);
      expect(data.pagination.page_size).toBe(10);
    });

  test('WEBDAV-LIST-002 refuses an anonymous caller with 401', { annotation: [{ type: 'operation', description: 'listDavAccounts' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.GET('/devices/dav', { params: { query: { page_size: 10 } } }), Code.CheckLogin);
    });

  test('WEBDAV-CREATE-001 creates an account on a folder with a generated password; it is listed',
    { annotation: [{ type: 'operation', description: 'createDavAccount' }, { type: 'operation', description: 'listDavAccounts' }] },
    async ({ user, admin, sandbox, target }) => {
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      await withGroupPermissions(admin, groupId, [Perm.webdav], async () => {
        const name = unique('dav');
        const account = ok(await user.PUT('/devices/dav', { body: { uri: sandbox.root, name, readonly: true } }));
        try {
          expect(account.name).toBe(name);
          expect(sameUri(account.uri, sandbox.root)).toBe(true);
          expect(account.password).toMatch(/^[a-z0-9]{32}$/);
          expect(hasBit(account.options, 0), 'read-only option').toBe(true);
          const listed = (await allAccounts(user)).find((a) => a.id === account.id);
          expect(listed).toMatchObject({ name, password: account.password });
        } finally {
          await user.DELETE('/devices/dav/{id}', { params: { path: { id: account.id } } });
        }
      });
    });

  test('WEBDAV-CREATE-002 refuses a URI outside the user\'s own or shared files with 40001', { annotation: [{ type: 'operation', description: 'createDavAccount' }] },
    async ({ user, admin, target }) => {
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      await withGroupPermissions(admin, groupId, [Perm.webdav], async () => {
        expectCode(await user.PUT('/devices/dav', { body: { uri: 'cloudreve://trash', name: unique('dav') } }), Code.ParamErr);
      });
    });

  test('WEBDAV-CREATE-003 refuses a group without the WebDAV permission with 40007', { annotation: [{ type: 'operation', description: 'createDavAccount' }] },
    async ({ user, sandbox }) => {
      test.skip(await userHasPermission(user, Perm.webdav), 'the user\'s group has the webdav permission on this target');
      const name = unique('dav');
      expectCode(await user.PUT('/devices/dav', { body: { uri: sandbox.root, name } }), Code.GroupNotAllowed);
      expect((await allAccounts(user)).some((a) => a.name === name)).toBe(false);
    });

  test('WEBDAV-UPDATE-001 updating changes the name, root and options and keeps the password',
    { annotation: [{ type: 'operation', description: 'updateDavAccount' }] }, async ({ user, admin, sandbox, target }) => {
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      await withGroupPermissions(admin, groupId, [Perm.webdav], async () => {
        const account = ok(await user.PUT('/devices/dav', { body: { uri: sandbox.root, name: unique('dav') } }));
        try {
          expect(hasBit(account.options, 0)).toBe(false);
          const renamed = unique('dav-renamed');
          const sub = sandbox.uri('sub');
          ok(await user.POST('/file/create', { body: { uri: sub, type: 'folder' } }));
          const updated = ok(await user.PATCH('/devices/dav/{id}', { params: { path: { id: account.id } },
            body: { uri: sub, name: renamed, readonly: true, disable_sys_files: true } }));
          expect(updated).toMatchObject({ id: account.id, name: renamed, password: account.password });
          expect(sameUri(updated.uri, sub)).toBe(true);
          expect(hasBit(updated.options, 0), 'read-only').toBe(true);
          expect(hasBit(updated.options, 2), 'system files hidden').toBe(true);
          const listed = (await allAccounts(user)).find((a) => a.id === account.id);
          expect(listed?.name).toBe(renamed);
        } finally {
          await user.DELETE('/devices/dav/{id}', { params: { path: { id: account.id } } });
        }
      });
    });

  test('WEBDAV-UPDATE-002 another user cannot update the account (404)', { annotation: [{ type: 'operation', description: 'updateDavAccount' }] },
    async ({ user, user2, admin, sandbox, target }) => {
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      // The account is looked up for the caller before any permission check: user2 needs no WebDAV permission.
      await withGroupPermissions(admin, groupId, [Perm.webdav], async () => {
        const name = unique('dav');
        const account = ok(await user.PUT('/devices/dav', { body: { uri: sandbox.root, name } }));
        try {
          expectCode(await user2.PATCH('/devices/dav/{id}', { params: { path: { id: account.id } }, body: { uri: 'cloudreve://my', name: 'hijacked' } }),
            Code.NotFound);
          expect((await allAccounts(user)).find((a) => a.id === account.id)?.name).toBe(name);
        } finally {
          await user.DELETE('/devices/dav/{id}', { params: { path: { id: account.id } } });
        }
      });
    });

  test('WEBDAV-DELETE-001 deleting an account removes it; deleting it again answers 404', { annotation: [{ type: 'operation', description: 'deleteDavAccount' }] },
    async ({ user, admin, sandbox, target }) => {
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      const account = await withGroupPermissions(admin, groupId, [Perm.webdav],
        async () => ok(await user.PUT('/devices/dav', { body: { uri: sandbox.root, name: unique('dav') } })));
      // Deleting needs no WebDAV permission.
      ok(await user.DELETE('/devices/dav/{id}', { params: { path: { id: account.id } } }));
      expect((await allAccounts(user)).some((a) => a.id === account.id)).toBe(false);
      expectCode(await user.DELETE('/devices/dav/{id}', { params: { path: { id: account.id } } }), Code.NotFound);
    });

  test('WEBDAV-DELETE-002 another user cannot delete the account (404)', { annotation: [{ type: 'operation', description: 'deleteDavAccount' }] },
    async ({ user, user2, admin, sandbox, target }) => {
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      const account = await withGroupPermissions(admin, groupId, [Perm.webdav],
        async () => ok(await user.PUT('/devices/dav', { body: { uri: sandbox.root, name: unique('dav') } })));
      try {
        expectCode(await user2.DELETE('/devices/dav/{id}', { params: { path: { id: account.id } } }), Code.NotFound);
        expect((await allAccounts(user)).some((a) => a.id === account.id)).toBe(true);
      } finally {
        await user.DELETE('/devices/dav/{id}', { params: { path: { id: account.id } } });
      }
    });
});
