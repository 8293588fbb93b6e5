// REF-ROUTES: the reference target's routes around content and accounts — direct links, thumbnails, archives,
// viewer sessions, workflows, 2FA, passkeys, CAPTCHA, avatars, password reset — answer as Cloudreve 4.18.0 does
// (probed side by side with a real 4.18.0) and conform to the contract. Plus the codecs behind them.
import { test, expect } from '@playwright/test';
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { startReference, type ReferenceTarget } from '../reference/index.js';
import { q, TestApi } from '../reference/testing.js';
import { Code } from '../contracts/generated/error-codes.js';
import { decodePng, encodePng, thumbnail, resize } from '../reference/image.js';
import { createZip, formSlash, listZip, readEntry } from '../reference/zip.js';
import { newTotpSecret, totpCode, validateTotp } from '../reference/totp.js';

let target: ReferenceTarget;
let admin: TestApi;
let user: TestApi;
let user2: TestApi;
let anonymous: TestApi;
let adminId = '';
let userId = '';

test.beforeAll(async () => {
  target = await startReference();
  const { identities: id } = target;
  admin = await new TestApi(target.url).login(id.admin.email, id.admin.password);
  user = await new TestApi(target.url).login(id.user.email, id.user.password);
  user2 = await new TestApi(target.url).login(id.user2.email, id.user2.password);
  anonymous = new TestApi(target.url);
  adminId = (await admin.ok('GET', '/user/me')).id;
  userId = (await user.ok('GET', '/user/me')).id;
});

test.afterAll(async () => {
  await target?.close();
});

test.afterEach(() => {
  expect([admin, user, user2, anonymous].flatMap((a) => a.violations())).toEqual([]);
});

/** An RGB PNG with a gradient (the shape the contract specs upload). */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    data.copy(out, 8);
    const crc = (buf: Buffer) => {
      let c = 0xffffffff;
      for (const b of buf) { c ^= b; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; }
      return (c ^ 0xffffffff) >>> 0;
    };
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw.set([x % 256, y % 256, 128], y * (width * 3 + 1) + 1 + x * 3);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

async function folder(api: TestApi, name: string): Promise<string> {
  const uri = `cloudreve://my/${name}-${Date.now()}`;
  await api.ok('POST', '/file/create', { uri, type: 'folder' });
  return uri;
}

async function write(api: TestApi, uri: string, body: Buffer | string): Promise<any> {
  const r = await api.content(uri, typeof body === 'string' ? Buffer.from(body) : body);
  expect(r.code, r.msg).toBe(0);
  return r.data;
}

async function withArchivePermission<T>(fn: () => Promise<T>): Promise<T> {
  const g = await admin.ok('GET', '/admin/group/2');
  const { total_users: _t, ...group } = g;
  const bits = Buffer.from(group.permissions ?? '', 'base64');
  const granted = Buffer.concat([bits, Buffer.alloc(Math.max(0, 1 - bits.length))]);
  granted[0]! |= 1 << 5;
  await admin.ok('PUT', '/admin/group/2', { group: { ...group, permissions: granted.toString('base64') } });
  try {
    return await fn();
  } finally {
    await admin.ok('PUT', '/admin/group/2', { group });
  }
}

async function waitTask(api: TestApi, id: string): Promise<any> {
  for (let i = 0; i < 100; i++) {
    const list = await api.ok('GET', '/workflow?page_size=100&category=general');
    const t = (list.tasks ?? []).find((x: any) => x.id === id);
    if (t && ['completed', 'error', 'canceled'].includes(t.status)) return t;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`task ${id} did not finish`);
}

test('REF-ROUTES-001 direct links: reused per file, listed to the owner, redirect with a download count, deleted by the owner only', async () => {
  const root = await folder(user, 'links');
  await write(user, `${root}/linked.txt`, 'direct link content');
  const [link] = await user.ok('PUT', '/file/source', { uris: [`${root}/linked.txt`] });
  expect(link.file_url).toBe(`${root}/linked.txt`);
  expect(link.link).toMatch(/\/f\/[^/]+\/linked\.txt$/);
  expect((await user.ok('PUT', '/file/source', { uris: [`${root}/linked.txt`] }))[0].link).toBe(link.link);

  const redirect = await fetch(link.link, { redirect: 'manual' });
  expect(redirect.status).toBe(302);
  expect(redirect.headers.get('location')).toMatch(/\/api\/v4\/file\/content\/[^/]+\/0\/linked\.txt\?sign=/);
  expect(await (await fetch(link.link)).text()).toBe('direct link content');
  const forced = await fetch(link.link.replace('/f/', '/f/d/'), { redirect: 'manual' });
  expect(forced.headers.get('location')).toContain('download=true');
  expect((await fetch(link.link.replace(/linked\.txt$/, 'other.txt'), { redirect: 'manual' })).status).toBe(404);

  const info = await user.ok('GET', `/file/info?uri=${q(`${root}/linked.txt`)}&extended=true`);
  expect(info.extended_info.direct_links).toEqual([expect.objectContaining({ url: link.link, downloaded: 3 })]);
  const id = info.extended_info.direct_links[0].id;
  expect((await user2.json('GET', `/file/info?uri=${q(`${root}/linked.txt`)}&extended=true`)).code).not.toBe(0);

  // Errors: a folder (per-uri 40077), the batch size (40014), an anonymous group (40007).
  const mixed = await user.json('PUT', '/file/source', { uris: [root, `${root}/linked.txt`] });
  expect(mixed).toMatchObject({ code: Code.BatchOperationNotFullyCompleted, data: [{ link: link.link }] });
  expect(mixed.aggregated_error[root]).toMatchObject({ code: Code.EntityNotExist });
  expect((await user.json('PUT', '/file/source', { uris: Array.from({ length: 11 }, (_, i) => `${root}/${i}`) })).code)
    .toBe(Code.BatchSourceSize);
  expect((await anonymous.json('PUT', '/file/source', { uris: [`${root}/linked.txt`] })).code).toBe(Code.GroupNotAllowed);

  expect((await user2.json('DELETE', `/file/source/${id}`)).code).toBe(Code.NotFound);
  expect((await anonymous.json('DELETE', `/file/source/${id}`)).code).toBe(Code.NotFound);
  expect((await user.json('DELETE', '/file/source/not-an-id')).code).toBe(Code.ParamErr);
  await user.ok('DELETE', `/file/source/${id}`);
  expect((await user.json('DELETE', `/file/source/${id}`)).code).toBe(Code.NotFound);
  expect((await fetch(link.link, { redirect: 'manual' })).status).toBe(404);
});

test('REF-ROUTES-002 thumbnails: the built-in generator scales images into a thumbnail entity; other files are disabled', async () => {
  const root = await folder(user, 'thumbs');
  await write(user, `${root}/big.png`, png(800, 600));
  await write(user, `${root}/notes.txt`, 'no picture');
  await write(user, `${root}/fake.png`, 'not a png');
  const used = (await user.ok('GET', '/user/capacity')).used;

  const first = await user.ok('GET', `/file/thumb?uri=${q(`${root}/big.png`)}`);
  expect(Date.parse(first.expires)).toBeGreaterThan(Date.now());
  // The first URL names the new blob (served as application/octet-stream), later ones `<name>.jpg`.
  expect(new URL(first.url).pathname).toMatch(/\._thumb$/);
  const again = await user.ok('GET', `/file/thumb?uri=${q(`${root}/big.png`)}`);
  expect(new URL(again.url).pathname).toMatch(/\/big\.png\.jpg$/);
  const res = await fetch(again.url);
  expect(res.headers.get('content-type')).toBe('image/jpeg');
  const thumb = decodePng(Buffer.from(await res.arrayBuffer()));
  expect([thumb.width, thumb.height]).toEqual([400, 300]);

  const info = await user.ok('GET', `/file/info?uri=${q(`${root}/big.png`)}&extended=true`);
  const thumbEntity = info.extended_info.entities.find((e: any) => e.type === 1);
  expect(thumbEntity.size).toBeGreaterThan(0);
  expect((await user.ok('GET', '/user/capacity')).used).toBe(used + thumbEntity.size);

  // No generator for text, a broken image: an unclassified error once, then thumbnails are off for the file.
  for (const name of ['notes.txt', 'fake.png']) {
    expect((await user.json('GET', `/file/thumb?uri=${q(`${root}/${name}`)}`)).code).toBe(Code.NotSet);
    expect((await user.json('GET', `/file/thumb?uri=${q(`${root}/${name}`)}`)).code).toBe(Code.EntityNotExist);
    expect((await user.ok('GET', `/file/info?uri=${q(`${root}/${name}`)}`)).metadata).toHaveProperty('thumb:disabled');
  }
  expect((await user.json('GET', `/file/thumb?uri=${q(root)}`)).code).toBe(Code.EntityNotExist);
  expect((await anonymous.json('GET', `/file/thumb?uri=${q(`${root}/big.png`)}`)).code).toBe(Code.CheckLogin);
  // A new version drops the old thumbnail (and the disabled mark): it is made again on demand.
  await write(user, `${root}/notes.txt`, 'changed');
  expect((await user.ok('GET', `/file/info?uri=${q(`${root}/notes.txt`)}`)).metadata).not.toHaveProperty('thumb:disabled');
  await write(user, `${root}/big.png`, png(40, 30));
  const entities = (await user.ok('GET', `/file/info?uri=${q(`${root}/big.png`)}&extended=true`)).extended_info.entities;
  expect(entities.filter((e: any) => e.type === 1)).toEqual([]);
  await user.ok('GET', `/file/thumb?uri=${q(`${root}/big.png`)}`);
  const small = await fetch((await user.ok('GET', `/file/thumb?uri=${q(`${root}/big.png`)}`)).url);
  expect(decodePng(Buffer.from(await small.arrayBuffer())).width).toBe(40);
});

test('REF-ROUTES-003 archives: listing needs archive_task; archive and extract tasks write the tree', async () => {
  const root = await folder(user, 'arch');
  const zip = createZip([
    { name: 'readme.txt', data: Buffer.from('hello'), modified: new Date('2024-01-02T03:04:06Z') },
    { name: 'docs/', data: Buffer.alloc(0), modified: new Date('2024-01-02T03:04:06Z') },
    { name: 'docs/main.go', data: Buffer.from('package main\n'), modified: new Date('2024-01-02T03:04:06Z') },
  ]);
  await write(user, `${root}/bundle.zip`, zip);
  await write(user, `${root}/plain.txt`, 'x');
  expect((await user.json('GET', `/file/archive?uri=${q(`${root}/bundle.zip`)}`)).code).toBe(Code.GroupNotAllowed);
  expect((await user.json('POST', '/workflow/archive', { src: [`${root}/plain.txt`], dst: `${root}/o.zip` })).code)
    .toBe(Code.GroupNotAllowed);
  await withArchivePermission(async () => {
    const list = await user.ok('GET', `/file/archive?uri=${q(`${root}/bundle.zip`)}`);
    expect(list.files).toEqual([
      { name: 'readme.txt', size: 5, updated_at: '2024-01-02T03:04:06Z', is_directory: false },
      { name: 'docs', size: 0, updated_at: '2024-01-02T03:04:06Z', is_directory: true },
      { name: 'docs/main.go', size: 13, updated_at: '2024-01-02T03:04:06Z', is_directory: false },
    ]);
    expect((await user.json('GET', `/file/archive?uri=${q(`${root}/plain.txt`)}`)).code).toBe(Code.NoPermissionErr);
    expect((await user.json('GET', `/file/archive?uri=${q(`${root}/bundle.zip`)}&entity=nope`)).code).toBe(Code.EntityNotExist);

    // Extract into an existing folder (a missing one is refused up front with the walk's code).
    expect((await user.json('POST', '/workflow/extract', { src: [`${root}/bundle.zip`], dst: `${root}/nowhere` })))
      .toMatchObject({ code: Code.ParentNotExist, msg: 'Invalid destination' });
    await user.ok('POST', '/file/create', { uri: `${root}/out`, type: 'folder' });
    const ex = await user.ok('POST', '/workflow/extract', { src: [`${root}/bundle.zip`], dst: `${root}/out` });
    expect(ex).toMatchObject({ type: 'extract_archive', status: 'queued', summary: { props: { src: `${root}/bundle.zip` } } });
    expect((await waitTask(user, ex.id)).status).toBe('completed');
    expect(await user.download(`${root}/out/docs/main.go`)).toEqual(Buffer.from('package main\n'));

    // Archive files and a folder: entries at "/<name>", the folder's files below its name.
    const t = await user.ok('POST', '/workflow/archive', { src: [`${root}/plain.txt`, `${root}/out`], dst: `${root}/made.zip` });
    expect(t.summary.props).toEqual({ dst: `${root}/made.zip`, failed: 0, src_multiple: [`${root}/plain.txt`, `${root}/out`] });
    expect(await user.ok('GET', `/workflow/progress/${t.id}`)).toBeDefined();
    expect(await user2.ok('GET', `/workflow/progress/${t.id}`)).toEqual({});
    expect((await user2.json('DELETE', `/workflow/download/${t.id}`)).code).toBe(Code.NotFound);
    const done = await waitTask(user, t.id);
    expect(done).toMatchObject({ status: 'completed', node: { type: 'master' }, summary: { phase: 'upload_archive' } });
    const made = listZip(await user.download(`${root}/made.zip`));
    expect(made.map((e) => e.name).sort()).toEqual(['/out/docs/main.go', '/out/readme.txt', '/plain.txt']);
    expect(await user.ok('GET', `/workflow/progress/${t.id}`)).toEqual({});
    expect((await user.json('DELETE', `/workflow/download/${t.id}`)).code).toBe(Code.NotFound);
    // An existing destination is refused when the task is created.
    expect((await user.json('POST', '/workflow/archive', { src: [`${root}/plain.txt`], dst: `${root}/made.zip` })).code)
      .toBe(Code.ObjectExist);
  });
});

test('REF-ROUTES-004 workflows: list by category, remote downloads and the admin import', async () => {
  expect((await user.json('GET', '/workflow?page_size=10&category=everything', undefined, true)))
    .toMatchObject({ code: Code.ParamErr, msg: 'Invalid parameters.' });
  expect((await anonymous.json('GET', '/workflow?page_size=10&category=general')).code).toBe(Code.CheckLogin);
  expect((await user.json('GET', '/workflow/progress/zz')).code).toBe(Code.ParamErr);
  const root = await folder(admin, 'wf');
  expect((await user.json('POST', '/workflow/download', { dst: 'cloudreve://my', src: ['http://127.0.0.1:9/x'] })).code)
    .toBe(Code.GroupNotAllowed);
  const [dl] = await admin.ok('POST', '/workflow/download', { dst: root, src: ['http://127.0.0.1:9/x.bin'] });
  expect(dl).toMatchObject({ type: 'remote_download', status: 'queued', summary: { props: { src_str: 'http://127.0.0.1:9/x.bin' } } });
  const downloading = await admin.ok('GET', '/workflow?page_size=10&category=downloading');
  expect(downloading.tasks.map((t: any) => t.id)).toContain(dl.id);
  expect((await admin.json('PATCH', `/workflow/download/${dl.id}`, { files: [{ index: 0, download: false }] })))
    .toMatchObject({ code: Code.NotFound, msg: 'Task not in processing state' });
  await admin.ok('DELETE', `/workflow/download/${dl.id}`);
  const downloaded = await admin.ok('GET', '/workflow?page_size=10&category=downloaded');
  expect(downloaded.tasks.find((t: any) => t.id === dl.id)?.status).toBe('canceled');

  expect((await user.json('POST', '/workflow/import', { src: '/', dst: root, user_id: userId, policy_id: 1 })).code)
    .toBe(Code.NoPermissionErr);
  expect((await admin.json('POST', '/workflow/import', { src: '/', dst: root, user_id: 'nope', policy_id: 1 })).code)
    .toBe(Code.ParamErr);
  const imp = await admin.ok('POST', '/workflow/import', { src: '/no-such-folder', dst: 'cloudreve://my/x', user_id: userId, policy_id: 1 });
  expect(imp.summary.props).toMatchObject({ dst: `cloudreve://${userId}@my/cloudreve%3A%2F%2Fmy%2Fx`, src_str: '/no-such-folder' });
  expect((await waitTask(user, imp.id)).status).toBe('completed');
  expect(await admin.ok('GET', '/workflow?page_size=10&category=general')).toMatchObject({ pagination: { is_cursor: true } });
  void adminId;
});

test('REF-ROUTES-005 viewer sessions for the site\'s viewers', async () => {
  const root = await folder(user, 'view');
  await write(user, `${root}/a.txt`, 'viewable');
  const s = await user.ok('PUT', '/file/viewerSession', { uri: `${root}/a.txt`, viewer_id: 'monaco', preferred_action: 'view' });
  expect(s.session.access_token.startsWith(`${s.session.id}.`)).toBe(true);
  expect(s.session.expires).toBeGreaterThan(Date.now() + 35_000_000);
  expect(s).not.toHaveProperty('wopi_src');
  expect((await user.json('PUT', '/file/viewerSession', { uri: `${root}/a.txt`, viewer_id: 'nope', preferred_action: 'view' })))
    .toMatchObject({ code: Code.ParamErr, msg: 'unknown viewer id' });
  expect((await user.json('PUT', '/file/viewerSession', { uri: `${root}/a.txt`, viewer_id: 'monaco', preferred_action: 'view', version: 'x' })).code)
    .toBe(Code.EntityNotExist);
  expect((await anonymous.json('PUT', '/file/viewerSession', { uri: `${root}/a.txt`, viewer_id: 'monaco', preferred_action: 'view' })).code)
    .toBe(Code.CheckLogin);
});

test('REF-ROUTES-006 2FA: a confirmed secret turns it on, sign-in answers 203 and finishes with the code', async () => {
  const email = `twofa-${Date.now()}@reference.test`;
  await anonymous.ok('POST', '/user', { email, password: 'secret-123' });
  const u = await new TestApi(target.url).login(email, 'secret-123');
  expect((await u.json('PATCH', '/user/setting', { two_fa_enabled: true, two_fa_code: '123456' })).code).toBe(Code.InternalSetting);
  const secret = await u.ok('GET', '/user/setting/2fa');
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  const now = Math.floor(Date.now() / 30000);
  const wrong = ['000000', '111111'].find((c) => ![now - 1, now, now + 1].some((n) => totpCode(secret, n) === c))!;
  expect((await u.json('PATCH', '/user/setting', { two_fa_enabled: true, two_fa_code: wrong })).code).toBe(Code.TwoFACodeErr);
  await u.ok('PATCH', '/user/setting', { two_fa_enabled: true, two_fa_code: totpCode(secret, now) });
  expect((await u.ok('GET', '/user/setting')).two_fa_enabled).toBe(true);

  const first = await anonymous.json('POST', '/session/token', { email, password: 'secret-123' });
  expect(first).toEqual({ code: Code.NotFullySuccess, data: expect.stringMatching(/^[0-9a-f-]{36}$/), msg: '' });
  expect((await anonymous.json('POST', '/session/token/2fa', { otp: wrong, session_id: first.data })).code).toBe(Code.TwoFACodeErr);
  const done = await anonymous.ok('POST', '/session/token/2fa', { otp: totpCode(secret, now), session_id: first.data });
  expect(done.user.email).toBe(email);
  expect((await anonymous.json('POST', '/session/token/2fa', { otp: totpCode(secret, now), session_id: first.data })).code).toBe(Code.NotFound);

  await u.ok('PATCH', '/user/setting', { two_fa_enabled: false, two_fa_code: totpCode(secret, now) });
  expect((await anonymous.ok('POST', '/session/token', { email, password: 'secret-123' })).user.email).toBe(email);
});

test('REF-ROUTES-007 passkeys: options while authn_enabled, malformed responses 40001, off 40019', async () => {
  const login = await anonymous.ok('PUT', '/session/authn');
  expect(login.options.publicKey).toMatchObject({ timeout: 300000, rpId: '127.0.0.1' });
  expect(Buffer.from(login.options.publicKey.challenge, 'base64url')).toHaveLength(32);
  expect((await anonymous.json('POST', '/session/authn', { response: 'not json', session_id: login.session_id })).code).toBe(Code.ParamErr);
  expect((await anonymous.json('POST', '/session/authn', { response: '{}', session_id: 'nope' })).code).toBe(Code.NotFound);
  const reg = await user.ok('PUT', '/user/authn');
  expect(reg.publicKey.user).toEqual({ name: target.identities.user.email, displayName: expect.any(String),
    id: Buffer.from(userId).toString('base64url') });
  expect((await user.json('POST', '/user/authn', { response: 'not json', name: 'n', ua: 'u' })).code).toBe(Code.ParamErr);
  expect((await user.json('POST', '/user/authn', { response: 'not json', name: 'n', ua: 'u' })).code).toBe(Code.NotFound);
  expect((await user.json('DELETE', '/user/authn?id=abc')).code).toBe(Code.NotFound);
  expect((await anonymous.json('PUT', '/user/authn')).code).toBe(Code.CheckLogin);
  await admin.ok('PATCH', '/admin/settings', { settings: { authn_enabled: '0' } });
  try {
    expect(await anonymous.json('PUT', '/session/authn')).toMatchObject({ code: Code.FeatureNotEnabled, msg: 'This feature is not enabled' });
    expect((await user.json('PUT', '/user/authn')).code).toBe(Code.FeatureNotEnabled);
  } finally {
    await admin.ok('PATCH', '/admin/settings', { settings: { authn_enabled: '1' } });
  }
});

test('REF-ROUTES-008 CAPTCHA: a PNG and a ticket; with login_captcha on, sign-in needs them', async () => {
  const c = await anonymous.ok('GET', '/site/captcha');
  const image = decodePng(Buffer.from(c.image.replace(/^data:image\/png;base64,/, ''), 'base64'));
  expect([image.width, image.height]).toEqual([240, 60]);
  expect(c.ticket).toMatch(/^[A-Za-z0-9]{20}$/);
  await admin.ok('PATCH', '/admin/settings', { settings: { login_captcha: '1' } });
  try {
    const cred = { email: target.identities.user2.email, password: target.identities.user2.password };
    expect(await anonymous.json('POST', '/session/token', cred)).toMatchObject({ code: Code.CaptchaError, msg: 'CAPTCHA not match.' });
    expect((await anonymous.json('POST', '/session/token', { ...cred, ticket: c.ticket, captcha: 'wrong!' })).code).toBe(Code.CaptchaError);
  } finally {
    await admin.ok('PATCH', '/admin/settings', { settings: { login_captcha: '0' } });
  }
});

test('REF-ROUTES-009 avatars: an image is resized and served as PNG, an empty body means Gravatar, nothing is 404', async () => {
  const email = `avatar-${Date.now()}@reference.test`;
  const me = await anonymous.ok('POST', '/user', { email, password: 'secret-123' });
  const u = await new TestApi(target.url).login(email, 'secret-123');
  const put = (body: Buffer, type = 'image/png') => u.loose(`${target.url}/api/v4/user/setting/avatar`,
    { method: 'PUT', body, headers: { 'content-type': type, authorization: `Bearer ${u.token}` } })
    .then((r) => r.json() as Promise<{ code: number; msg: string }>);
  const get = (query = '') => fetch(`${target.url}/api/v4/user/avatar/${me.id}${query}`, { redirect: 'manual' });
  const none = await get();
  expect([none.status, none.headers.get('cache-control')]).toEqual([404, 'public, max-age=86400']);
  expect((await get('?nocache=true')).headers.get('cache-control')).toBe('private, no-cache');
  expect(await put(Buffer.from('this is not an image at all'))).toMatchObject({ code: Code.ParamErr, msg: 'Invalid image' });
  expect((await put(png(64, 64), 'image/jpeg')).code).toBe(Code.ParamErr);
  expect((await put(png(64, 32))).code).toBe(0);
  expect((await u.ok('GET', '/user/me')).avatar).toBe('file');
  const file = await get();
  expect(file.headers.get('content-type')).toBe('image/png');
  const avatar = decodePng(Buffer.from(await file.arrayBuffer()));
  expect([avatar.width, avatar.height]).toEqual([200, 200]);
  expect((await put(Buffer.alloc(0))).code).toBe(0);
  const gravatar = await get();
  expect(gravatar.status).toBe(302);
  expect(gravatar.headers.get('location')).toBe(
    `https://www.gravatar.com/avatar/${createHash('md5').update(email).digest('hex')}?d=mm&s=200`);
  expect((await anonymous.json('GET', '/user/avatar/not-an-id')).code).toBe(Code.ParamErr);
  expect(u.violations()).toEqual([]);
});

test('REF-ROUTES-010 password reset without SMTP: known emails succeed, unknown 40021, a wrong secret 40030', async () => {
  expect(await anonymous.ok('POST', '/user/reset', { email: target.identities.user2.email })).toBeUndefined();
  expect((await anonymous.json('POST', '/user/reset', { email: 'nobody@reference.test' })).code).toBe(Code.UserNotFound);
  expect((await anonymous.json('PATCH', `/user/reset/${userId}`, { password: 'hijacked-1', secret: 'nope' })))
    .toMatchObject({ code: Code.TempLinkExpired, msg: 'Link is expired' });
  expect((await anonymous.json('PATCH', '/user/reset/nope', { password: 'hijacked-1', secret: 'nope' })).code).toBe(Code.ParamErr);
  await new TestApi(target.url).login(target.identities.user.email, target.identities.user.password);
});

test('REF-ROUTES-011 codecs: PNG decode/encode/scale, ZIP write/read, TOTP', () => {
  const img = decodePng(png(37, 23));
  expect([img.width, img.height, img.data[4 * 5]]).toEqual([37, 23, 5]);
  const back = decodePng(encodePng(img));
  expect(back.data.equals(img.data)).toBe(true);
  expect([thumbnail(img, 400, 300).width, thumbnail(decodePng(png(1000, 100)), 400, 300).height]).toEqual([37, 40]);
  expect(resize(img, 10, 10).data).toHaveLength(400);
  const modified = new Date('2025-06-01T10:20:30Z');
  const zip = createZip([{ name: '/a/b.txt', data: Buffer.from('hello hello hello'), modified }]);
  const [e] = listZip(zip);
  expect(e).toMatchObject({ name: '/a/b.txt', size: 17, isDir: false, modified });
  expect(readEntry(zip, e!).toString()).toBe('hello hello hello');
  expect([formSlash('a\\b/../c/'), formSlash('/x/./y')]).toEqual(['a/c', '/x/y']);
  const secret = newTotpSecret();
  expect(validateTotp(totpCode(secret, Math.floor(Date.now() / 30000)), secret)).toBe(true);
  expect(validateTotp('12345', secret)).toBe(false);
  // RFC 6238 test vector (SHA-1, T = 59 s): 94287082 → the 6-digit code 287082.
  expect(totpCode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1)).toBe('287082');
});
