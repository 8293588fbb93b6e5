// REF-UP: the reference target's upload rules — chunk length and index checks, completion when every chunk has
// arrived in any order, expiry driven by the admin's upload_session_timeout, cancel releasing the charged quota, the
// group quota. Every answer goes through the validating transport and must conform.
import { test, expect } from '@playwright/test';
import { startReference, type ReferenceTarget } from '../reference/index.js';
import { TestApi as Api } from '../reference/testing.js';
import { Code } from '../contracts/generated/error-codes.js';

const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const uri = (name: string) => `cloudreve://my/up/${name}`;

let target: ReferenceTarget;
let admin: Api;
let user: Api;

test.beforeAll(async () => {
  target = await startReference();
  admin = await new Api(target.url).login(target.identities.admin.email, target.identities.admin.password);
  user = await new Api(target.url).login(target.identities.user.email, target.identities.user.password);
  // Small chunks, through the admin API as a real server allows.
  const policy = await admin.ok('GET', '/admin/policy/1');
  await admin.ok('PUT', '/admin/policy/1', { policy: { ...policy, settings: { ...policy.settings, chunk_size: 1024 } } });
});

test.afterAll(async () => {
  await target?.close();
});

test.afterEach(() => {
  expect([...admin.violations(), ...user.violations()]).toEqual([]);
});

test('REF-UP-001 every non-last chunk is exactly chunk_size and the last the remainder (Content-Length or X-Expected-Entity-Length)', async () => {
  const s = await user.ok('PUT', '/file/upload', { uri: uri('len.bin'), size: 2500 });
  expect(s.chunk_size).toBe(1024);
  expect(await user.chunk(s.session_id, 0, bytes(1000))).toMatchObject({ code: Code.InvalidContentLength, msg: 'Invalid Content-Length (expected: 1024)' });
  expect(await user.chunk(s.session_id, 2, bytes(453))).toMatchObject({ code: Code.InvalidContentLength, msg: 'Invalid Content-Length (expected: 452)' });
  // No Content-Length at all (chunked transfer) counts as 0 bytes...
  const stream = () => new ReadableStream<Uint8Array>({ start(c) { c.enqueue(bytes(1024)); c.close(); } });
  expect(await user.chunk(s.session_id, 0, stream())).toMatchObject({ code: Code.InvalidContentLength });
  // ...unless X-Expected-Entity-Length declares it.
  expect(await user.chunk(s.session_id, 0, stream(), { 'X-Expected-Entity-Length': '1024' })).toMatchObject({ code: 0 });
  expect(await user.chunk(s.session_id, 1, bytes(1024))).toMatchObject({ code: 0 });
  expect(await user.chunk(s.session_id, 2, bytes(452, 7))).toMatchObject({ code: 0 });
  const want = Buffer.concat([bytes(1024), bytes(1024), bytes(452, 7)]);
  expect((await user.download(uri('len.bin'))).equals(want)).toBe(true);
});

test('REF-UP-002 chunk index: out of range 40012, negative or not a number 40001 (no correlation_id), foreign 40011', async () => {
  const s = await user.ok('PUT', '/file/upload', { uri: uri('index.bin'), size: 2048 });
  const out = await user.chunk(s.session_id, 2, bytes(1024));
  expect(out).toMatchObject({ code: Code.InvalidChunkIndex, msg: 'Chunk offset cannot be greater than file size' });
  expect(out.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
  const neg = await user.chunk(s.session_id, -1, bytes(1024));
  expect(neg).toEqual({ code: Code.ParamErr, msg: 'Index too short' });
  expect(await user.chunk(s.session_id, 'abc', bytes(1024))).toEqual({ code: Code.ParamErr, msg: 'Parameter error' });
  // Another user, or nobody, is told the session does not exist.
  const anonymous = new Api(target.url);
  expect(await anonymous.chunk(s.session_id, 0, bytes(1024))).toMatchObject({ code: Code.UploadSessionExpired });
  expect(await admin.chunk(s.session_id, 0, bytes(1024))).toMatchObject({ code: Code.UploadSessionExpired });
  expect(await user.chunk('0b5c3f3e-1111-4222-8333-444455556666', 0, bytes(1024))).toMatchObject({ code: Code.UploadSessionExpired });
  expect(anonymous.violations()).toEqual([]);
  await user.ok('DELETE', '/file/upload', { id: s.session_id, uri: uri('index.bin') });
});

test('REF-UP-003 the upload completes when the last missing chunk arrives, whatever its index', async () => {
  const s = await user.ok('PUT', '/file/upload', { uri: uri('order.bin'), size: 2500, last_modified: 1700000000000 });
  const parts = [bytes(1024, 1), bytes(1024, 2), bytes(452, 3)];
  expect(await user.chunk(s.session_id, 2, parts[2]!)).toMatchObject({ code: 0 });
  expect(await user.chunk(s.session_id, 0, parts[0]!)).toMatchObject({ code: 0 });
  expect(await user.chunk(s.session_id, 0, parts[0]!)).toMatchObject({ code: 0 }); // a repeat completes nothing
  const pending = await user.ok('GET', `/file/info?uri=${encodeURIComponent(uri('order.bin'))}&extended=true`);
  expect(pending.size).toBe(0);
  expect(pending.metadata['sys:upload_session_id']).toBe(s.session_id);
  expect(pending.extended_info.storage_used).toBe(2500);
  expect(await user.chunk(s.session_id, 1, parts[1]!)).toMatchObject({ code: 0 });
  const done = await user.ok('GET', `/file/info?uri=${encodeURIComponent(uri('order.bin'))}`);
  expect(done.size).toBe(2500);
  expect(done.metadata).toEqual({});
  expect(done.updated_at).toBe('2023-11-14T22:13:20.000Z');
  expect((await user.download(uri('order.bin'))).equals(Buffer.concat(parts))).toBe(true);
  // The session is gone once completed.
  expect(await user.chunk(s.session_id, 0, parts[0]!)).toMatchObject({ code: Code.UploadSessionExpired });
});

test('REF-UP-004 parallel chunks in reverse order complete once with the right bytes', async () => {
  const size = 10 * 1024 + 17;
  const s = await user.ok('PUT', '/file/upload', { uri: uri('parallel.bin'), size });
  const data = bytes(size, 9);
  const n = Math.ceil(size / 1024);
  const answers = await Promise.all(Array.from({ length: n }, (_, k) => n - 1 - k)
    .map((i) => user.chunk(s.session_id, i, data.subarray(i * 1024, Math.min(size, (i + 1) * 1024)))));
  expect(answers.every((a) => a.code === 0)).toBe(true);
  expect((await user.download(uri('parallel.bin'))).equals(data)).toBe(true);
});

test('REF-UP-005 an expired session (admin upload_session_timeout) is gone; its placeholder and charge stay until cancelled', async () => {
  const before = (await user.ok('GET', '/user/capacity')).used;
  await admin.ok('PATCH', '/admin/settings', { settings: { upload_session_timeout: '1' } });
  try {
    const s = await user.ok('PUT', '/file/upload', { uri: uri('expire.bin'), size: 2048 });
    expect(Math.abs(s.expires - (Date.now() / 1000 + 1))).toBeLessThanOrEqual(1);
    expect(await user.chunk(s.session_id, 0, bytes(1024))).toMatchObject({ code: 0 });
    await new Promise((r) => setTimeout(r, (s.expires + 1) * 1000 + 100 - Date.now()));
    expect(await user.chunk(s.session_id, 1, bytes(1024))).toMatchObject({ code: Code.UploadSessionExpired, msg: '' });
    const left = await user.ok('GET', `/file/info?uri=${encodeURIComponent(uri('expire.bin'))}`);
    expect(left.metadata['sys:upload_session_id']).toBe(s.session_id);
    expect((await user.ok('GET', '/user/capacity')).used).toBe(before + 2048);
    // A plain new session for the same path meets the placeholder.
    expect(await user.json('PUT', '/file/upload', { uri: uri('expire.bin'), size: 1 })).toMatchObject({ code: Code.ObjectExist });
    await user.ok('DELETE', '/file/upload', { id: s.session_id, uri: uri('expire.bin') });
    expect((await user.ok('GET', '/user/capacity')).used).toBe(before);
  } finally {
    await admin.ok('PATCH', '/admin/settings', { settings: { upload_session_timeout: '86400' } });
  }
});

test('REF-UP-006 cancel removes the placeholder and releases the charged quota; chunks then get 40011', async () => {
  const before = (await user.ok('GET', '/user/capacity')).used;
  const s = await user.ok('PUT', '/file/upload', { uri: uri('cancel/deep/c.bin'), size: 5000 });
  expect((await user.ok('GET', '/user/capacity')).used).toBe(before + 5000);
  expect(await user.chunk(s.session_id, 0, bytes(1024))).toMatchObject({ code: 0 });
  await user.ok('DELETE', '/file/upload', { id: s.session_id, uri: uri('cancel/deep/c.bin') });
  expect((await user.ok('GET', '/user/capacity')).used).toBe(before);
  expect(await user.chunk(s.session_id, 1, bytes(1024))).toMatchObject({ code: Code.UploadSessionExpired });
  expect(await user.json('GET', `/file/info?uri=${encodeURIComponent(uri('cancel/deep/c.bin'))}`)).toMatchObject({ code: Code.ParentNotExist });
  // The parents created for the session stay.
  expect((await user.ok('GET', `/file?uri=${encodeURIComponent(uri('cancel/deep'))}`)).files).toEqual([]);
  expect(await user.json('DELETE', '/file/upload', { id: s.session_id, uri: uri('cancel/deep/c.bin') })).toMatchObject({ code: Code.ParentNotExist });
});

test('REF-UP-007 quota is the group\'s max_storage, charged at session creation; max_size is the policy\'s', async () => {
  const used = (await user.ok('GET', '/user/capacity')).used;
  const group = await admin.ok('GET', '/admin/group/2');
  const { total_users: _t, ...row } = group;
  try {
    await admin.ok('PUT', '/admin/group/2', { group: { ...row, max_storage: used + 3000 } });
    expect((await user.ok('GET', '/user/capacity')).total).toBe(used + 3000);
    const first = await user.ok('PUT', '/file/upload', { uri: uri('q1.bin'), size: 2000 });
    expect(await user.json('PUT', '/file/upload', { uri: uri('q2.bin'), size: 1001 })).toMatchObject({ code: Code.InsufficientCapacity, msg: 'Insufficient capacity' });
    const second = await user.ok('PUT', '/file/upload', { uri: uri('q2.bin'), size: 1000 });
    for (const [s, name] of [[first, 'q1.bin'], [second, 'q2.bin']] as const) {
      await user.ok('DELETE', '/file/upload', { id: s.session_id, uri: uri(name) });
    }
  } finally {
    await admin.ok('PUT', '/admin/group/2', { group: row });
  }
  const policy = await admin.ok('GET', '/admin/policy/1');
  try {
    await admin.ok('PUT', '/admin/policy/1', { policy: { ...policy, max_size: 4096 } });
    expect(await user.json('PUT', '/file/upload', { uri: uri('big.bin'), size: 4097 })).toMatchObject({ code: Code.FileTooLarge });
  } finally {
    await admin.ok('PUT', '/admin/policy/1', { policy });
  }
});

test('REF-UP-008 versions: a version upload needs the current entity as previous; PUT /file/content adds versions', async () => {
  const first = (await user.content(uri('v.txt'), new Uint8Array(0))).data;
  expect(first.size).toBe(0);
  expect(await user.content(uri('v.txt'), Buffer.from('x'), 'nope')).toMatchObject({ code: Code.ParamErr, msg: 'Unknown version ID' });
  expect(await user.json('PUT', '/file/upload', { uri: uri('v.txt'), size: 3 })).toMatchObject({ code: Code.ObjectExist });
  expect(await user.json('PUT', '/file/upload', { uri: uri('v.txt'), size: 3, entity_type: 'version', previous: 'nope' }))
    .toMatchObject({ code: Code.ParamErr, msg: 'Unknown version ID' });
  const s = await user.ok('PUT', '/file/upload', { uri: uri('v.txt'), size: 3, entity_type: 'version', previous: first.primary_entity });
  // While the version uploads, the file is locked for other writers.
  const locked = await user.json('PUT', '/file/upload', { uri: uri('v.txt'), size: 3, entity_type: 'version' });
  expect(locked.code).toBe(Code.LockConflict);
  expect(await user.chunk(s.session_id, 0, Buffer.from('abc'))).toMatchObject({ code: 0 });
  const info = await user.ok('GET', `/file/info?uri=${encodeURIComponent(uri('v.txt'))}&extended=true`);
  expect(info.extended_info.entities).toHaveLength(2);
  expect(info.primary_entity).toBe(info.extended_info.entities[0].id);
  expect(await user.json('PUT', '/file/upload', { uri: uri('v.txt'), size: 3, entity_type: 'version', previous: first.primary_entity }))
    .toMatchObject({ code: Code.StaleVersion });
  await user.ok('POST', '/file/version/current', { uri: uri('v.txt'), version: first.primary_entity });
  expect((await user.download(uri('v.txt'))).length).toBe(0);
  await user.ok('DELETE', '/file/version', { uri: uri('v.txt'), version: info.primary_entity });
  const after = await user.ok('GET', `/file/info?uri=${encodeURIComponent(uri('v.txt'))}&extended=true`);
  expect(after.extended_info.entities).toHaveLength(1);
});
