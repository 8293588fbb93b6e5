// REF-API: the reference target's other routes — site, session, user, files and the trash bin, shares, WebDAV
// accounts, admin — behave as Cloudreve 4.18.0 does and every answer conforms to the contract.
import { test, expect } from '@playwright/test';
import { startReference, type ReferenceTarget } from '../reference/index.js';
import { q, TestApi } from '../reference/testing.js';
import { Code } from '../contracts/generated/error-codes.js';

let target: ReferenceTarget;
let admin: TestApi;
let user: TestApi;
let user2: TestApi;
let anonymous: TestApi;

test.beforeAll(async () => {
  target = await startReference();
  const { identities: id } = target;
  admin = await new TestApi(target.url).login(id.admin.email, id.admin.password);
  user = await new TestApi(target.url).login(id.user.email, id.user.password);
  user2 = await new TestApi(target.url).login(id.user2.email, id.user2.password);
  anonymous = new TestApi(target.url);
});

test.afterAll(async () => {
  await target?.close();
});

test.afterEach(() => {
  expect([admin, user, user2, anonymous].flatMap((a) => a.violations())).toEqual([]);
});

test('REF-API-001 site config sections; only the basic set names the caller', async () => {
  const basic = await anonymous.ok('GET', '/site/config/basic');
  expect(basic.user).toMatchObject({ anonymous: true, group: { name: 'Anonymous' } });
  expect((await user.ok('GET', '/site/config/basic')).user.email).toBe(target.identities.user.email);
  expect(await anonymous.ok('GET', '/site/config/login')).toMatchObject({ register_enabled: true });
  for (const section of ['explorer', 'emojis', 'app', 'thumb', 'vas']) {
    const data = await anonymous.ok('GET', `/site/config/${section}`);
    expect('user' in data).toBe(section === 'vas');
  }
});

test('REF-API-002 tokens: refresh issues a new pair, sign-out revokes the family, a refresh token is no bearer', async () => {
  const s = await new TestApi(target.url).login(target.identities.user2.email, target.identities.user2.password);
  const pair = await s.ok('POST', '/session/token/refresh', { refresh_token: s.refreshToken });
  expect(Date.parse(pair.refresh_expires)).toBeGreaterThan(Date.parse(pair.access_expires));
  expect(await s.ok('DELETE', '/session/token', { refresh_token: pair.refresh_token })).toBe('');
  expect(await s.json('POST', '/session/token/refresh', { refresh_token: pair.refresh_token }))
    .toMatchObject({ code: Code.CredentialInvalid, msg: 'Failed to issue token pair' });
  s.token = pair.refresh_token;
  expect(await s.json('GET', '/user/me')).toMatchObject({ code: Code.CredentialInvalid, msg: 'Invalid token type' });
  s.token = 'not.a.jwt';
  expect(await s.json('GET', '/user/me')).toMatchObject({ code: Code.CheckLogin }); // a bad token is anonymous
  expect(s.violations()).toEqual([]);
});

test('REF-API-003 users: sign-up, profile, search, preferences and password change', async () => {
  expect(await anonymous.json('POST', '/user', { email: target.identities.user.email, password: 'whatever1' }))
    .toMatchObject({ code: Code.EmailExisted });
  const fresh = await anonymous.ok('POST', '/user', { email: 'fresh@reference.test', password: 'secret-1' });
  expect(fresh).not.toHaveProperty('group'); // the answer is built before any promotion
  const me = await user.ok('GET', '/user/me');
  expect((await anonymous.ok('GET', `/user/info/${me.id}`)).email).toBeUndefined();
  expect((await user2.ok('GET', `/user/info/${me.id}`)).email).toBe(me.email);
  expect((await user2.ok('GET', `/user/search?keyword=${q(me.email.slice(0, 6))}`)).map((u: any) => u.id)).toContain(me.id);
  expect(await user.ok('GET', '/user/setting')).toMatchObject({ version_retention_enabled: true, two_fa_enabled: false });
  const f = await new TestApi(target.url).login('fresh@reference.test', 'secret-1');
  await f.ok('PATCH', '/user/setting', { nick: 'Fresh', version_retention_max: 3 });
  expect((await f.ok('GET', '/user/me')).nickname).toBe('Fresh');
  expect(await f.json('PATCH', '/user/setting', { current_password: 'wrong-1', new_password: 'secret-2' }))
    .toMatchObject({ code: Code.IncorrectPassword });
  await f.ok('PATCH', '/user/setting', { current_password: 'secret-1', new_password: 'secret-2' });
  expect(await f.json('POST', '/session/token', { email: 'fresh@reference.test', password: 'secret-1' }))
    .toMatchObject({ code: Code.InvalidPassword });
  await f.login('fresh@reference.test', 'secret-2');
  expect(f.violations()).toEqual([]);
});

test('REF-API-004 files: create, list with cursor pages, rename, move, copy, info by id and folder summary', async () => {
  const base = 'cloudreve://my/api-files';
  await user.ok('POST', '/file/create', { uri: `${base}/a/b`, type: 'folder' });
  expect(await user.json('POST', '/file/create', { uri: `${base}/a/b`, type: 'folder', err_on_conflict: true }))
    .toMatchObject({ code: Code.ObjectExist });
  for (const n of ['one.txt', 'two.txt', 'three.txt']) await user.content(`${base}/a/${n}`, Buffer.from(n));
  const p1 = await user.ok('GET', `/file?uri=${q(`${base}/a`)}&page_size=2`);
  expect(p1.files.map((f: any) => f.name)).toEqual(['b', 'one.txt']); // folders first, then by id
  const p2 = await user.ok('GET', `/file?uri=${q(`${base}/a`)}&page_size=2&next_page_token=${q(p1.pagination.next_token)}`);
  expect(p2.files.map((f: any) => f.name)).toEqual(['two.txt', 'three.txt']);
  expect(p2.pagination.next_token).toBeUndefined();

  expect(await user.json('POST', '/file/rename', { uri: `${base}/a/one.txt`, new_name: 'two.txt' })).toMatchObject({ code: Code.ObjectExist });
  expect(await user.json('POST', '/file/rename', { uri: `${base}/a/one.txt`, new_name: 'a:b' })).toMatchObject({ code: Code.IllegalObjectName });
  expect((await user.ok('POST', '/file/rename', { uri: `${base}/a/one.txt`, new_name: '1.txt' })).name).toBe('1.txt');
  await user.ok('POST', '/file/move', { uris: [`${base}/a/1.txt`], dst: `${base}/a/b` });
  const used = (await user.ok('GET', '/user/capacity')).used;
  await user.ok('POST', '/file/move', { uris: [`${base}/a/b`], dst: base, copy: true });
  expect((await user.ok('GET', '/user/capacity')).used).toBe(used + 'one.txt'.length); // the copy is charged again
  expect((await user.download(`${base}/b/1.txt`)).toString()).toBe('one.txt');

  const info = await user.ok('GET', `/file/info?uri=${q(`${base}/a`)}&folder_summary=true`);
  expect(info.folder_summary).toMatchObject({ files: 3, folders: 1, completed: true });
  expect((await user.ok('GET', `/file/info?id=${info.id}`)).name).toBe('a');
  expect(await user2.json('GET', `/file/info?id=${info.id}`)).toMatchObject({ code: Code.ParentNotExist });
  expect(await user.json('GET', `/file/info?uri=${q('cloudreve://my')}`)).toMatchObject({ code: Code.NoPermissionErr });
  expect(await anonymous.json('GET', `/file?uri=${q(base)}`)).toMatchObject({ code: Code.CheckLogin });
  expect(await user2.json('GET', `/file?uri=${q(base)}`)).toMatchObject({ code: Code.ParentNotExist });
});

test('REF-API-005 delete: soft into the trash bin (quota kept), restore, hard delete frees quota, empty the trash', async () => {
  const base = 'cloudreve://my/api-trash';
  await user.content(`${base}/t.txt`, Buffer.from('five!'));
  const used = (await user.ok('GET', '/user/capacity')).used;
  await user.ok('DELETE', '/file', { uris: [`${base}/t.txt`] });
  expect((await user.ok('GET', '/user/capacity')).used).toBe(used);
  const trash = await user.ok('GET', `/file?uri=${q('cloudreve://trash')}`);
  const item = trash.files.find((f: any) => f.name === 't.txt');
  expect(item.metadata['sys:restore_uri']).toBe(`${base}/t.txt`);
  expect(item.path).toMatch(/^cloudreve:\/\/trash\//);
  await user.ok('POST', '/file/restore', { uris: [item.path] });
  expect((await user.download(`${base}/t.txt`)).toString()).toBe('five!');
  await user.ok('DELETE', '/file', { uris: [`${base}/t.txt`] });
  await user.ok('DELETE', '/file/trash');
  expect((await user.ok('GET', `/file?uri=${q('cloudreve://trash')}`)).files).toEqual([]);
  expect((await user.ok('GET', '/user/capacity')).used).toBe(used - 5);
  await user.content(`${base}/h.txt`, Buffer.from('abc'));
  await user.ok('DELETE', '/file', { uris: [`${base}/h.txt`], skip_soft_delete: true });
  expect((await user.ok('GET', '/user/capacity')).used).toBe(used - 5);
  const missing = await user.json('DELETE', '/file', { uris: [`${base}/nothing`] });
  expect(missing).toMatchObject({ code: Code.BatchOperationNotFullyCompleted });
  expect(missing.aggregated_error[`${base}/nothing`]).toMatchObject({ code: Code.ParentNotExist });
});

test('REF-API-006 download URLs are signed: a tampered or missing signature is an envelope error', async () => {
  await user.content('cloudreve://my/api-dl/x.bin', Buffer.from([1, 2, 3]));
  const { urls, expires } = await user.ok('POST', '/file/url', { uris: ['cloudreve://my/api-dl/x.bin'], download: true });
  expect(Date.parse(expires) - Date.now()).toBeGreaterThan(3500_000);
  const good = new URL(urls[0].url);
  expect(good.pathname).toMatch(/^\/api\/v4\/file\/content\/[^/]+\/0\/x\.bin$/);
  const ranged = await user.strict(good.href, { headers: { Range: 'bytes=1-' } });
  expect(ranged.status).toBe(206);
  expect([...new Uint8Array(await ranged.arrayBuffer())]).toEqual([2, 3]);
  const bad = new URL(good.href);
  bad.searchParams.set('sign', `${bad.searchParams.get('sign')!.slice(0, -12)}AAAA:${Math.floor(Date.now() / 1000) + 60}`);
  expect(await (await user.strict(bad.href)).json()).toMatchObject({ code: Code.InvalidSign, msg: 'invalid sign' });
  bad.searchParams.set('sign', 'x:1');
  expect(await (await user.strict(bad.href)).json()).toMatchObject({ code: Code.SignExpired });
});

test('REF-API-007 shares: create, info (locked without the password), list, profile, edit, delete', async () => {
  await user.content('cloudreve://my/api-share/s.txt', Buffer.from('shared'));
  const open = await user.ok('PUT', '/share', { uri: 'cloudreve://my/api-share/s.txt' });
  const secret = await user.ok('PUT', '/share', { uri: 'cloudreve://my/api-share', is_private: true, password: 'abc123' });
  expect(secret).toMatch(/\/s\/[^/]+\/abc123$/);
  const openId = open.split('/s/')[1];
  const secretId = secret.split('/s/')[1].split('/')[0];
  expect(await anonymous.ok('GET', `/share/info/${openId}?count_views=true`)).toMatchObject({ unlocked: true, name: 's.txt', visited: 1, size: 6 });
  expect(await anonymous.ok('GET', `/share/info/${secretId}`)).toMatchObject({ unlocked: false, password_protected: true });
  expect(await user2.ok('GET', `/share/info/${secretId}?password=abc123`)).toMatchObject({ unlocked: true, source_type: 1 });
  expect(await user.ok('GET', `/share/info/${secretId}?owner_extended=true`)).toMatchObject({ is_private: true, source_uri: 'cloudreve://my/api-share' });
  expect((await user.ok('GET', '/share?page_size=10')).shares).toHaveLength(2);
  const me = await user.ok('GET', '/user/me');
  expect((await anonymous.ok('GET', `/user/shares/${me.id}?page_size=10`)).shares).toHaveLength(1);
  expect(await user.ok('POST', `/share/${openId}`, { uri: 'cloudreve://my/api-share/s.txt', downloads: 5 })).toBe(open);
  expect((await user.ok('GET', `/share/info/${openId}`)).remain_downloads).toBe(5);
  expect(await user2.json('DELETE', `/share/${openId}`)).toMatchObject({ code: Code.NotFound });
  await user.ok('DELETE', `/share/${openId}`);
  expect(await anonymous.json('GET', `/share/info/${openId}`)).toMatchObject({ code: Code.NotFound });
  expect((await user2.ok('GET', '/share?page_size=10')).shares).toBeNull();
});

test('REF-API-008 WebDAV accounts need the group permission, which the admin can grant', async () => {
  expect(await user.ok('GET', '/devices/dav?page_size=10')).toMatchObject({ accounts: [] });
  const body = { uri: 'cloudreve://my', name: 'laptop' };
  expect(await user.json('PUT', '/devices/dav', body)).toMatchObject({ code: Code.GroupNotAllowed });
  const group = await admin.ok('GET', '/admin/group/2');
  const { total_users: _n, ...row } = group;
  const perms = Buffer.from(row.permissions, 'base64');
  perms[0] = perms[0]! | (1 << 3); // WebDAV
  await admin.ok('PUT', '/admin/group/2', { group: { ...row, permissions: perms.toString('base64') } });
  try {
    const acc = await user.ok('PUT', '/devices/dav', { ...body, readonly: true });
    expect(acc.password).toHaveLength(32);
    expect(acc.options).toBe(Buffer.from([1]).toString('base64'));
    const upd = await user.ok('PATCH', `/devices/dav/${acc.id}`, { uri: 'cloudreve://my/sub', name: 'phone' });
    expect(upd).toMatchObject({ id: acc.id, name: 'phone', uri: 'cloudreve://my/sub' });
    expect((await user.ok('GET', '/devices/dav?page_size=10')).accounts).toHaveLength(1);
    expect(await user2.json('DELETE', `/devices/dav/${acc.id}`)).toMatchObject({ code: Code.NotFound });
    await user.ok('DELETE', `/devices/dav/${acc.id}`);
  } finally {
    await admin.ok('PUT', '/admin/group/2', { group: row });
  }
});

test('REF-API-009 admin: access rules, settings, policies, groups, users and nodes', async () => {
  expect(await user.json('POST', '/admin/settings', { keys: ['siteURL'] })).toMatchObject({ code: Code.NoPermissionErr });
  expect(await anonymous.json('POST', '/admin/settings', { keys: ['siteURL'] })).toMatchObject({ code: Code.CheckLogin });
  const settings = await admin.ok('POST', '/admin/settings', { keys: ['upload_session_timeout', 'secret_key', 'nope'] });
  expect(settings).toEqual({ upload_session_timeout: '86400' });

  const policy = await admin.ok('PUT', '/admin/policy', { policy: { name: 'second', type: 'local', max_size: 0,
    dir_name_rule: 'x', file_name_rule: '{originname}', settings: { chunk_size: 2048 } } });
  expect((await admin.ok('GET', `/admin/policy/${policy.id}`)).settings.chunk_size).toBe(2048);
  expect(await admin.json('DELETE', '/admin/policy/1')).toMatchObject({ code: Code.DeleteDefaultPolicy });
  const group = await admin.ok('PUT', '/admin/group', { group: { name: 'g', max_storage: 1000, permissions: 'hAg=',
    settings: {}, edges: { storage_policies: { id: policy.id } } } });
  expect(group).toMatchObject({ storage_policy_id: policy.id, total_users: 0 });
  expect(await admin.json('DELETE', `/admin/policy/${policy.id}`)).toMatchObject({ code: Code.PolicyUsedByGroups, msg: '1' });

  const created = await admin.ok('PUT', '/admin/user', { user: { email: 'made@reference.test', nick: 'made', status: 'active',
    group_users: group.id }, password: 'made-pass' });
  expect(created).toMatchObject({ group_users: group.id, capacity: { total: 1000, used: 0 } });
  const made = await new TestApi(target.url).login('made@reference.test', 'made-pass');
  const s = await made.ok('PUT', '/file/upload', { uri: 'cloudreve://my/m.bin', size: 10 });
  expect(s.chunk_size).toBe(2048); // the group's policy
  await made.ok('DELETE', '/file/upload', { id: s.session_id, uri: 'cloudreve://my/m.bin' });
  expect(made.violations()).toEqual([]);
  expect(await admin.json('DELETE', `/admin/group/${group.id}`)).toMatchObject({ code: Code.GroupUsedByUser, msg: '1' });
  const { capacity: _c, hash_id: _h, ...userRow } = created;
  expect((await admin.ok('PUT', `/admin/user/${created.id}`, { user: { ...userRow, nick: 'renamed' }, password: '' })).nick).toBe('renamed');
  expect((await admin.ok('POST', '/admin/user', { page: 1, page_size: 50, conditions: { user_group: String(group.id) } })).users)
    .toHaveLength(1);
  const refused = await admin.json('POST', '/admin/user/batch/delete', { ids: [1, created.id] });
  expect(refused).toMatchObject({ code: Code.BatchOperationNotFullyCompleted });
  expect(await admin.json('GET', `/admin/user/${created.id}`)).toMatchObject({ code: Code.DBError });
  await admin.ok('DELETE', `/admin/group/${group.id}`);
  await admin.ok('DELETE', `/admin/policy/${policy.id}`);
  expect(await admin.json('DELETE', '/admin/group/2')).toMatchObject({ code: Code.InvalidActionOnSystemGroup });

  const nodes = await admin.ok('POST', '/admin/node', { page: 1, page_size: 10 });
  expect(nodes.nodes.map((n: any) => n.type)).toEqual(['master']);
  expect(await admin.json('DELETE', `/admin/node/${nodes.nodes[0].id}`)).toMatchObject({ code: Code.InvalidActionOnSystemNode });
  const node = await admin.ok('PUT', '/admin/node', { node: { name: 'slave', type: 'slave', status: 'active',
    server: 'http://127.0.0.1:9', slave_key: 'k'.repeat(64), capabilities: 'AA==', settings: {}, weight: 1 } });
  expect(await admin.json('POST', '/admin/node/test', { node: { name: 'slave', type: 'slave', server: 'http://127.0.0.1:9' } }))
    .toMatchObject({ code: Code.ParamErr });
  expect((await admin.ok('PUT', `/admin/node/${node.id}`, { node: { ...node, name: 'renamed' } })).name).toBe('renamed');
  await admin.ok('DELETE', `/admin/node/${node.id}`);
  expect(await admin.json('GET', `/admin/node/${node.id}`)).toMatchObject({ code: Code.DBError });
});
