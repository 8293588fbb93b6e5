// REF-ADMENT: the reference target's admin entity routes (adminListEntities, adminBatchDeleteEntities) as the real
// 4.18.0 answers them: a policy's entities with their storage policy and creator, the `source` of a remote entity
// being the path the slave stores it under (read back with a URL signed by hand with the node key, as
// specs/upload/support.ts does), the batch delete's empty HTTP 200 answer, blobs and rows removed and the quota
// given back, admins only. Every answer goes through the validating transport and must conform.
import { test, expect } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReference, type ReferenceTarget } from '../reference/index.js';
import { TestApi as Api, type Json } from '../reference/testing.js';
import { Code } from '../contracts/generated/error-codes.js';

test.describe.configure({ mode: 'serial' });

const CHUNK = 1024;
const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

let dir: string;
let target: ReferenceTarget;
let admin: Api;
let user: Api;
let userId: number;
let userHash: string;
let remotePolicy: number;

/** A GET URL of the slave signed with the node key: `sign=<base64url(hmac(path:expires))>:<expires>`, by hand. */
function signed(url: string, expires = Math.floor(Date.now() / 1000) + 300): string {
  const u = new URL(url);
  const mac = createHmac('sha256', target.slave.secret).update(`${u.pathname}:${expires}`).digest('base64')
    .replace(/\+/g, '-').replace(/\//g, '_');
  u.searchParams.set('sign', `${mac}:${expires}`);
  return u.toString();
}

/** The blob at `source` on the slave (status and bytes), through the validating transport. */
async function slaveBlob(source: string): Promise<{ status: number; body: Buffer; code?: number }> {
  const src = Buffer.from(source, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
  const res = await admin.strict(signed(`${target.slave.url}/api/v4/slave/file/content/0/${src}/0/blob.bin`));
  const body = Buffer.from(await res.arrayBuffer());
  const json = (res.headers.get('content-type') ?? '').includes('json');
  return { status: res.status, body, code: json ? (JSON.parse(body.toString('utf8')) as Json).code : undefined };
}

const listOf = (policy: number | string, more: Record<string, unknown> = {}) => admin.ok('POST', '/admin/entity',
  { page: 1, page_size: 100, order_by: 'id', order_direction: 'desc', conditions: { entity_policy: String(policy) }, ...more });

/** POST /admin/entity/batch/delete as admin: HTTP status, headers and the raw body. */
async function batchDelete(api: Api, body: unknown): Promise<{ status: number; length: string | null; type: string | null; text: string }> {
  const res = await api.strict(`${target.url}/api/v4/admin/entity/batch/delete`, { method: 'POST',
    headers: { 'content-type': 'application/json', ...(api.token ? { authorization: `Bearer ${api.token}` } : {}) }, body: JSON.stringify(body) });
  return { status: res.status, length: res.headers.get('content-length'), type: res.headers.get('content-type'), text: await res.text() };
}

/** An upload session of `size` bytes for `name`; with `send`, its chunks are sent (to the master or the slave). */
async function upload(name: string, data: Buffer, send: number[]): Promise<Json['data']> {
  const s = await user.ok('PUT', '/file/upload', { uri: `cloudreve://my/ent/${name}`, size: data.length });
  for (const i of send) {
    const part = data.subarray(i * s.chunk_size, (i + 1) * s.chunk_size);
    if (s.upload_urls?.length) {
      const res = await user.loose(`${s.upload_urls[0]}?chunk=${i}`, { method: 'POST', body: part,
        headers: { 'content-type': 'application/octet-stream', authorization: s.credential } });
      expect(await res.json()).toEqual({ code: 0, msg: '' });
    } else {
      expect(await user.chunk(s.session_id, i, part)).toMatchObject({ code: 0 });
    }
  }
  return s;
}

const usedBy = async (api: Api) => (await api.ok('GET', '/user/capacity')).used as number;

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-admin-entity-'));
  target = await startReference({ dataDir: dir });
  admin = await new Api(target.url).login(target.identities.admin.email, target.identities.admin.password);
  user = await new Api(target.url).login(target.identities.user.email, target.identities.user.password);
  const users = await admin.ok('POST', '/admin/user', { page: 1, page_size: 10, conditions: { user_email: target.identities.user.email } });
  userId = users.users[0].id;
  userHash = (await admin.ok('GET', `/admin/user/${userId}`)).hash_id;
});

test.afterAll(async () => {
  await target?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.afterEach(() => {
  expect([...admin.violations(), ...user.violations()]).toEqual([]);
});

test('REF-ADMENT-001 the entities of a local policy after an upload: ent JSON, filters, order, paging, bad conditions', async () => {
  const data = bytes(2 * CHUNK + 100);
  await upload('local.bin', data, [0]); // one chunk: the default policy's chunks are 25 MiB
  const page = await listOf(1);
  expect(page.pagination).toEqual({ page: 0, page_size: 100, total_items: page.entities.length });
  const e = page.entities.find((x: Json['data']) => x.size === data.length);
  expect(e).toMatchObject({ source: expect.any(String), size: data.length, reference_count: 1, storage_policy_entities: 1,
    created_by: userId, user_hash_id: userHash, edges: { storage_policy: { id: 1, type: 'local', edges: {} },
      user: { id: userId, email: target.identities.user.email, edges: {} } } });
  expect(Number.isInteger(e.id)).toBe(true);
  expect(e.type, 'a version entity: type 0 is left out').toBeUndefined();
  expect(e.upload_session_id, 'the upload is complete').toBeUndefined();
  expect(existsSync(join(dir, e.source)), 'the source names the blob in the data directory').toBe(true);

  expect((await listOf(1, { conditions: { entity_policy: '1', entity_user: String(userId) } })).entities.map((x: Json['data']) => x.id)).toContain(e.id);
  expect((await listOf(1, { conditions: { entity_policy: '1', entity_type: '1' } })).entities).toEqual([]);
  expect((await listOf(999)).entities).toEqual([]);
  expect((await listOf(999)).pagination).toEqual({ page: 0, page_size: 100 });
  const second = await admin.ok('POST', '/admin/entity', { page: 2, page_size: 1, order_by: 'size', order_direction: 'asc' });
  expect(second.pagination.page).toBe(1);
  expect(second.entities).toHaveLength(second.pagination.total_items > 1 ? 1 : 0);
  const bySize = (await admin.ok('POST', '/admin/entity', { page: 1, page_size: 100, order_by: 'size', order_direction: 'desc' }))
    .entities.map((x: Json['data']) => x.size ?? 0);
  expect(bySize).toEqual([...bySize].sort((a, b) => b - a));
  for (const [k, msg] of [['entity_policy', 'Invalid policy ID'], ['entity_user', 'Invalid user ID'], ['entity_type', 'Invalid entity type']]) {
    const r = await admin.json('POST', '/admin/entity', { page: 1, page_size: 10, conditions: { [k!]: 'x' } });
    expect(r).toMatchObject({ code: Code.ParamErr, msg, correlation_id: expect.any(String) });
  }
});

test('REF-ADMENT-002 a remote entity\'s source is the path on the slave: the pending upload\'s partial file and the finished one read back with a signed URL', async () => {
  const node = await admin.ok('PUT', '/admin/node', { node: { name: 'slave', type: 'slave', status: 'active',
    server: target.slave.url, slave_key: target.slave.secret, capabilities: 'AA==', settings: {}, weight: 1 } });
  const policy = await admin.ok('PUT', '/admin/policy', { policy: { name: 'remote', type: 'remote', node_id: node.id,
    is_private: true, max_size: 0, dir_name_rule: 'uploads/{uid}/{path}', file_name_rule: '{uid}_{randomkey8}_{originname}',
    settings: { chunk_size: CHUNK, pre_allocate: true } } });
  remotePolicy = policy.id;
  const { total_users: _t, ...group } = await admin.ok('GET', '/admin/group/2');
  await admin.ok('PUT', '/admin/group/2', { group: { ...group, edges: { storage_policies: { id: policy.id } } } });

  const data = bytes(2 * CHUNK + 452, 3);
  const s = await upload('remote.bin', data, [0]);
  const pending = (await listOf(remotePolicy)).entities.find((x: Json['data']) => x.upload_session_id === s.session_id);
  expect(pending).toMatchObject({ size: data.length, storage_policy_entities: remotePolicy, reference_count: 1,
    edges: { storage_policy: { id: remotePolicy, type: 'remote', node_id: node.id } } });
  expect(pending.source).toMatch(new RegExp(`^uploads/${userId}/ent/${userId}_[A-Za-z0-9]{8}_remote\\.bin$`));
  const partial = await slaveBlob(pending.source);
  expect(partial.status).toBe(200);
  expect(partial.body.subarray(0, CHUNK).equals(data.subarray(0, CHUNK))).toBe(true);

  for (const i of [1, 2]) {
    const res = await user.loose(`${s.upload_urls[0]}?chunk=${i}`, { method: 'POST', body: data.subarray(i * CHUNK, (i + 1) * CHUNK),
      headers: { 'content-type': 'application/octet-stream', authorization: s.credential } });
    expect(await res.json()).toEqual({ code: 0, msg: '' });
  }
  const done = (await listOf(remotePolicy)).entities.find((x: Json['data']) => x.id === pending.id);
  expect(done.upload_session_id).toBeUndefined();
  expect(done.source).toBe(pending.source);
  const whole = await slaveBlob(done.source);
  expect([whole.status, whole.body.equals(data)]).toEqual([200, true]);
});

test('REF-ADMENT-003 force delete: HTTP 200 with an empty body, the blob (slave or disk) and the row are gone, the quota is given back', async () => {
  const [remote] = (await listOf(remotePolicy)).entities;
  const before = await usedBy(user);
  const r = await batchDelete(admin, { ids: [remote.id], force: true });
  expect(r).toEqual({ status: 200, length: '0', type: null, text: '' });
  expect(await slaveBlob(remote.source)).toMatchObject({ status: 400, code: Code.ParentNotExist });
  expect((await listOf(remotePolicy)).entities.map((x: Json['data']) => x.id)).not.toContain(remote.id);
  expect(await usedBy(user)).toBe(before - remote.size);

  // A pending upload's entity: its session goes too (the slave no longer takes its chunks).
  const data = bytes(CHUNK + 10, 5);
  const s = await upload('pending.bin', data, [0]);
  const pending = (await listOf(remotePolicy)).entities.find((x: Json['data']) => x.upload_session_id === s.session_id);
  expect((await slaveBlob(pending.source)).status).toBe(200);
  expect(await batchDelete(admin, { ids: [pending.id], force: true })).toMatchObject({ status: 200, text: '' });
  expect((await slaveBlob(pending.source)).code).toBe(Code.ParentNotExist);
  const late = await user.loose(`${s.upload_urls[0]}?chunk=1`, { method: 'POST', body: data.subarray(CHUNK),
    headers: { 'content-type': 'application/octet-stream', authorization: s.credential } });
  expect(await late.json()).toMatchObject({ code: Code.UploadSessionExpired });

  // Local, without force: 4.18.0 does not check references when ids are given (only a failed blob delete keeps a
  // row), so a referenced entity goes as well; the file on disk is removed.
  const local = (await listOf(1)).entities.find((x: Json['data']) => x.created_by === userId);
  expect(existsSync(join(dir, local.source))).toBe(true);
  expect(await batchDelete(admin, { ids: [local.id, 987654], force: false })).toMatchObject({ status: 200, text: '' });
  expect(existsSync(join(dir, local.source))).toBe(false);
  expect((await listOf(1)).entities.map((x: Json['data']) => x.id)).not.toContain(local.id);

  // Binding: at least one id, integers only.
  for (const [ids, msg] of [[[], 'IDs too short'], [['1'], 'JSON marshall error']] as const) {
    expect(await admin.json('POST', '/admin/entity/batch/delete', { ids }, true)).toEqual({ code: Code.ParamErr, msg });
  }
  // With the entities gone the policy can be deleted.
  await admin.ok('PUT', '/admin/group/2', { group: { ...(await admin.ok('GET', '/admin/group/2')), total_users: undefined,
    edges: { storage_policies: { id: 1 } } } });
  const left = (await listOf(remotePolicy)).entities.map((x: Json['data']) => x.id);
  if (left.length) expect(await batchDelete(admin, { ids: left, force: true })).toMatchObject({ status: 200, text: '' });
  expect(await admin.json('DELETE', `/admin/policy/${remotePolicy}`)).toEqual({ code: 0, msg: '' });
});

test('REF-ADMENT-004 admins only: a user gets 403, an anonymous caller 401, and nothing is deleted', async () => {
  await user.ok('PUT', '/file/upload', { uri: 'cloudreve://my/ent/kept.bin', size: 10 });
  const [e] = (await listOf(1)).entities;
  expect(await user.json('POST', '/admin/entity', { page: 1, page_size: 10 })).toMatchObject({ code: Code.NoPermissionErr });
  const r = await batchDelete(user, { ids: [e.id], force: true });
  expect(r.status).toBe(200);
  expect(JSON.parse(r.text)).toMatchObject({ code: Code.NoPermissionErr });
  const anon = new Api(target.url);
  expect(await anon.json('POST', '/admin/entity', { page: 1, page_size: 10 })).toMatchObject({ code: Code.CheckLogin });
  expect(JSON.parse((await batchDelete(anon, { ids: [e.id], force: true })).text)).toMatchObject({ code: Code.CheckLogin });
  expect((await listOf(1)).entities.map((x: Json['data']) => x.id)).toContain(e.id);
  expect(anon.violations()).toEqual([]);
});
