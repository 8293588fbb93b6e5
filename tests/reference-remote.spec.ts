// REF-RMT: the reference target's remote storage policy — its slave node (a second listener with its own secret),
// registered through the admin API as the harness does; sessions whose chunks go to the slave with an HMAC credential;
// the slave's completion callback to the master; cancel; downloads from the slave. Every answer of the master, the
// slave and the callback goes through the validating transport and must conform.
import { test, expect } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReference, type ReferenceTarget } from '../reference/index.js';
import { TestApi as Api, type Json } from '../reference/testing.js';
import { DIFFERENCES, listFiles, loadRemoteScenario, REMOTE_SCENARIOS, replayRemote } from '../reference/slave/replay.js';
import { requestCredential, requestSignContent } from '../reference/slave/hmac.js';
import { RemoteAwareBlobs } from '../reference/slave/master.js';
import { startSlave } from '../reference/slave/server.js';
import { State, type EntityRow, type PolicyRow } from '../reference/state.js';
import { Readable } from 'node:stream';
import { Code } from '../contracts/generated/error-codes.js';
import { validatingFetch } from '../harness/contract/transport.js';
import { CollectingSink, describeViolation } from '../harness/contract/violations.js';
import { AuthSession, createCloudreveClient, unwrap } from '../harness/client/index.js';
import { provisionPolicy } from '../harness/upload/provision.js';
import { PROFILES } from '../harness/upload/profiles.js';
import { RemoteDriver, type UploadSession } from '../harness/upload/driver.js';
import { planChunks } from '../harness/upload/plan.js';
import { compareReadback, Payload } from '../harness/upload/payload.js';

const CHUNK = 1024;
const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const uri = (name: string) => `cloudreve://my/remote/${name}`;
const info = (api: Api, u: string) => api.ok('GET', `/file/info?uri=${encodeURIComponent(u)}&extended=true`);

/** Go's base64.URLEncoding of an HMAC-SHA256, computed here without the reference's code. */
const byHand = (key: string, content: string, expires: number) =>
  `${createHmac('sha256', key).update(`${content}:${expires}`).digest('base64').replace(/\+/g, '-').replace(/\//g, '_')}:${expires}`;

let dir: string;
let target: ReferenceTarget;
let admin: Api;
let user: Api;
let slaveDir: string;

/** Registers the target's slave as a node, makes a remote policy (1 KiB chunks) and puts the User group on it. */
async function useRemotePolicy(api: Api, t: ReferenceTarget): Promise<{ nodeId: number; policyId: number }> {
  const node = await api.ok('PUT', '/admin/node', { node: { name: 'reference-slave', type: 'slave', status: 'active',
    server: t.slave.url, slave_key: t.slave.secret, capabilities: 'AA==', settings: {}, weight: 1 } });
  const policy = await api.ok('PUT', '/admin/policy', { policy: { name: 'remote', type: 'remote', node_id: node.id,
    is_private: true, max_size: 0, dir_name_rule: 'uploads/{uid}/{path}', file_name_rule: '{uid}_{randomkey8}_{originname}',
    settings: { chunk_size: CHUNK, pre_allocate: true } } });
  const { total_users: _t, ...group } = await api.ok('GET', '/admin/group/2');
  await api.ok('PUT', '/admin/group/2', { group: { ...group, edges: { storage_policies: { id: policy.id } } } });
  return { nodeId: node.id, policyId: policy.id };
}

/** A chunk to the slave: `upload_urls[0]?chunk=N` with an Authorization value (undefined: none). */
async function slaveChunk(api: Api, s: { upload_urls: string[] }, index: string | number | undefined, body: Uint8Array,
  authorization: string | undefined, headers: Record<string, string> = {}): Promise<Json> {
  const url = new URL(s.upload_urls[0]!);
  if (index !== undefined) url.searchParams.set('chunk', String(index));
  const res = await api.loose(url, { method: 'POST', body,
    headers: { 'content-type': 'application/octet-stream', ...(authorization === undefined ? {} : { authorization }), ...headers } });
  expect(res.status).toBe(200);
  return res.json() as Promise<Json>;
}

/** Files on the slave whose path ends with `/<uid>_<random8>_<name>`. */
const slaveFiles = (name: string) => listFiles(slaveDir).filter((f) => f.path.endsWith(`_${name}`));

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-remote-'));
  slaveDir = join(dir, 'slave');
  target = await startReference({ dataDir: dir });
  admin = await new Api(target.url).login(target.identities.admin.email, target.identities.admin.password);
  user = await new Api(target.url).login(target.identities.user.email, target.identities.user.password);
  await useRemotePolicy(admin, target);
});

test.afterAll(async () => {
  await target?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.afterEach(() => {
  expect([...admin.violations(), ...user.violations()]).toEqual([]);
});

test('REF-RMT-001 the recorded 4.18.0 remote traffic, replayed: same answers, except where the contract corrects the real slave', async () => {
  test.setTimeout(120_000);
  const d = mkdtempSync(join(tmpdir(), 'reference-remote-replay-'));
  const t = await startReference({ createIdentities: false, dataDir: d });
  const sink = new CollectingSink();
  try {
    const r = await replayRemote({ url: t.url, slave: t.slave, slaveDir: join(d, 'slave') }, validatingFetch({ sink, requestValidation: 'off' }));
    const recorded = REMOTE_SCENARIOS.flatMap(loadRemoteScenario).filter((l) => l.request).length;
    console.log(`replayed ${REMOTE_SCENARIOS.join(', ')}: ${r.compared} of ${recorded} exchanges compared, ${r.notesChecked} notes checked, ` +
      `${r.skipped.length} skipped (${r.skipped.map((s) => s.step).join('; ')}), ${r.mismatches.length} mismatches; ` +
      `where the reference answers as the contract says instead of the real slave:\n` +
      r.differences.map((k) => `  ${k}: ${DIFFERENCES[k]!.why}`).join('\n'));
    expect(r.mismatches).toEqual([]);
    expect(r.compared + r.skipped.length).toBe(recorded);
    expect(r.differences).toEqual(Object.keys(DIFFERENCES));
    expect(sink.violations.map(describeViolation)).toEqual([]);
  } finally {
    await t.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test('REF-RMT-002 HMAC credentials computed by hand: known answers, the session credential, Go JSON escaping of the signed content', async () => {
  // A fixed secret, expiry and path: the known answer (openssl dgst -sha256 -hmac … | base64 | tr '+/' '-_').
  const key = 'conformance-slave-secret-0123456789abcdefghijklmnopqrstuvwxyzABCDEF';
  const sid = '34f07a85-1ab8-48ca-be20-1a5617dc6ba8';
  const content = `{"Path":"/api/v4/slave/upload/${sid}","Header":"","Body":""}`;
  expect(byHand(key, content, 1795676330)).toBe('_jBskFVtX_uZEiHHEZ10ylxy6VE_aVc6UG_t46s1qkA=:1795676330');
  expect(requestCredential(key, `/api/v4/slave/upload/${sid}`, '', '', 1795676330))
    .toBe('Bearer Cr _jBskFVtX_uZEiHHEZ10ylxy6VE_aVc6UG_t46s1qkA=:1795676330');
  // Go's encoding/json escapes & < > and U+2028/U+2029 in the signed content; JSON.stringify does not.
  const header = 'X-Cr-Correlation-Id=0d7f6a3e-9a51-4c2b-8f4e-2a1b3c4d5e6f&X-Cr-Probe=<b>';
  const goContent = `{"Path":"/api/v4/callback/remote/${sid}/k","Header":"X-Cr-Correlation-Id=0d7f6a3e-9a51-4c2b-8f4e-2a1b3c4d5e6f\\u0026X-Cr-Probe=\\u003cb\\u003e","Body":""}`;
  expect(requestSignContent(`/api/v4/callback/remote/${sid}/k`, header, '')).toBe(goContent);
  expect(byHand(key, goContent, 1795676330)).toBe('QK30nS4cXHrupHtjF5m_bgNmBOpNsVP6VXZ8Xzlawlo=:1795676330');
  expect(requestSignContent('/', '', 'a\u2028b\u2029"\\\n\b\f\u0001')).toBe('{"Path":"/","Header":"","Body":"a\\u2028b\\u2029\\"\\\\\\n\\b\\f\\u0001"}');

  // The credential of a live session is the one a client computes from the slave secret, the path and `expires`.
  expect(target.slave.secret.length).toBeGreaterThanOrEqual(64);
  const s = await user.ok('PUT', '/file/upload', { uri: uri('hmac.bin'), size: 10 });
  const path = `/api/v4/slave/upload/${s.session_id}`;
  expect(s.upload_urls).toEqual([`${target.slave.url}${path}`]);
  expect(s.credential).toBe(`Bearer Cr ${byHand(target.slave.secret, `{"Path":"${path}","Header":"","Body":""}`, s.expires)}`);
  // A credential made by hand (with a signed X-Cr-* header, so & is escaped) is accepted by the slave; the same
  // made with JSON.stringify's escaping is not.
  const headers = { 'X-Cr-Probe': '1', 'X-Cr-Trace': 'a&b' };
  const signedList = 'X-Cr-Probe=1&X-Cr-Trace=a&b';
  const naive = JSON.stringify({ Path: path, Header: signedList, Body: '' });
  expect(await slaveChunk(user, s, 0, bytes(10), `Bearer Cr ${byHand(target.slave.secret, naive, s.expires)}`, headers))
    .toMatchObject({ code: Code.InvalidSign, msg: 'invalid sign' });
  const go = naive.replace(/&/g, '\\u0026');
  expect(await slaveChunk(user, s, 0, bytes(10), `Bearer Cr ${byHand(target.slave.secret, go, s.expires)}`, headers))
    .toEqual({ code: 0, msg: '' });
  expect((await info(user, uri('hmac.bin'))).size).toBe(10);

  // The master checks the slave's callback the same way: signed by hand with the node key over the callback request.
  const s2 = await user.ok('PUT', '/file/upload', { uri: uri('hmac-callback.bin'), size: 3 });
  const cbPath = `/api/v4/callback/remote/${s2.session_id}/${s2.callback_secret}`;
  const cid = '0d7f6a3e-9a51-4c2b-8f4e-2a1b3c4d5e6f';
  const cbHeaders = { 'X-Cr-Correlation-Id': cid, 'X-Cr-Probe': '<b>' };
  const cbContent = `{"Path":"${cbPath}","Header":"X-Cr-Correlation-Id=${cid}\\u0026X-Cr-Probe=\\u003cb\\u003e","Body":""}`;
  const callback = (authorization: string) => user.strict(`${target.url}${cbPath}`, { method: 'POST', headers: { ...cbHeaders, authorization } });
  const unescaped = JSON.stringify({ Path: cbPath, Header: `X-Cr-Correlation-Id=${cid}&X-Cr-Probe=<b>`, Body: '' });
  const rejected = await callback(`Bearer Cr ${byHand(target.slave.secret, unescaped, s2.expires)}`);
  expect([rejected.status, await rejected.json()]).toMatchObject([401, { code: Code.InvalidSign, msg: 'invalid sign' }]);
  const accepted = await callback(`Bearer Cr ${byHand(target.slave.secret, cbContent, s2.expires)}`);
  expect([accepted.status, await accepted.json()]).toEqual([200, { code: 0, msg: '' }]);
  expect((await info(user, uri('hmac-callback.bin'))).size).toBe(3);
});

test('REF-RMT-003 a remote upload as the harness drives it: provisionPolicy registers the slave, RemoteDriver sends out-of-order parallel chunks, byte-exact readback', async () => {
  const sink = new CollectingSink();
  const transport = validatingFetch({ sink });
  const adminClient = createCloudreveClient({ siteUrl: target.url, fetch: transport });
  const adminSession = new AuthSession(adminClient, target.identities.admin);
  await adminSession.login();
  const { env, remove } = await provisionPolicy(adminClient, PROFILES.remote,
    { runId: 'rmt003', chunkSize: CHUNK, quota: 1024 * 1024, slave: target.slave });
  let removed = false;
  try {
    const client = createCloudreveClient({ siteUrl: target.url, fetch: transport });
    await new AuthSession(client, env.uploader).login();
    const payload = new Payload(3, 20 * CHUNK + 321);
    const target_ = 'cloudreve://my/rmt003/data.bin';
    const session = unwrap(await client.PUT('/file/upload', { body: { uri: target_, size: payload.size } }), 'create session') as UploadSession;
    expect(session.storage_policy?.type).toBe('remote');
    expect(session.chunk_size).toBe(CHUNK);
    expect(session.upload_urls).toEqual([`${target.slave.url}/api/v4/slave/upload/${session.session_id}`]);
    expect(session.credential).toMatch(new RegExp(`^Bearer Cr [A-Za-z0-9_-]{43}=:${session.expires}$`));
    expect(unwrap(await client.GET('/user/capacity'), 'capacity').used).toBe(payload.size);

    const driver = new RemoteDriver(transport);
    const chunks = planChunks(payload.size, session.chunk_size!).reverse();
    const attempts = await Promise.all(chunks.map((c) => driver.sendChunk(session, c, payload.stream(c.offset, c.length))));
    expect(attempts.map((a) => [a.index, a.status, a.code])).toEqual(chunks.map((c) => [c.index, 200, 0]));

    const file = unwrap(await client.GET('/file/info', { params: { query: { uri: target_ } } }), 'info');
    expect(file.size).toBe(payload.size);
    expect(file.metadata ?? {}).toEqual({});
    const urls = unwrap(await client.POST('/file/url', { body: { uris: [target_], download: true } }), 'url');
    const url = new URL(urls.urls[0]!.url);
    expect(url.origin).toBe(target.slave.url);
    expect(url.pathname).toMatch(/^\/api\/v4\/slave\/file\/content\/0\/[A-Za-z0-9_-]+=*\/0\/data\.bin$/);
    const res = await transport(url.toString());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment/);
    const readback = await compareReadback(payload, res.body!, CHUNK);
    expect(readback).toEqual({ bytes: payload.size, sha256: payload.sha256(), mismatch: undefined });
    const part = await transport(url.toString(), { headers: { Range: 'bytes=1000-2047' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(payload.range(1000, 2048))).toBe(true);
    // The chunk route is closed once the upload completed.
    expect((await driver.sendChunk(session, chunks.at(-1)!, payload.range(0, CHUNK))).code).toBe(Code.UploadSessionExpired);

    // Tear-down through the admin API removes the users' files from the slave, then policy and node.
    expect(slaveFiles('data.bin')).toHaveLength(1);
    await remove();
    removed = true;
    expect(slaveFiles('data.bin')).toEqual([]);
    expect(sink.violations.map(describeViolation)).toEqual([]);
  } finally {
    if (!removed) await remove().catch(() => undefined);
  }
});

test('REF-RMT-004 cancel deletes the slave session and its partial file, live or expired; quota is released', async () => {
  const before = (await user.ok('GET', '/user/capacity')).used;
  const s = await user.ok('PUT', '/file/upload', { uri: uri('cancel.bin'), size: 2500 });
  expect(slaveFiles('cancel.bin')).toEqual([expect.objectContaining({ size: 2500 })]); // pre-allocated
  expect(await slaveChunk(user, s, 0, bytes(CHUNK), s.credential)).toEqual({ code: 0, msg: '' });
  await user.ok('DELETE', '/file/upload', { id: s.session_id, uri: uri('cancel.bin') });
  expect(slaveFiles('cancel.bin')).toEqual([]);
  expect(await slaveChunk(user, s, 1, bytes(CHUNK), s.credential)).toMatchObject({ code: Code.UploadSessionExpired });
  expect((await user.ok('GET', '/user/capacity')).used).toBe(before);
  expect(await user.json('DELETE', '/file/upload', { id: s.session_id, uri: uri('cancel.bin') })).toMatchObject({ code: Code.ParentNotExist });

  // After expiry (the real 4.18.0 leaves this file on the slave).
  await admin.ok('PATCH', '/admin/settings', { settings: { upload_session_timeout: '1' } });
  try {
    const e = await user.ok('PUT', '/file/upload', { uri: uri('expired.bin'), size: 2500 });
    expect(await slaveChunk(user, e, 0, bytes(CHUNK), e.credential)).toEqual({ code: 0, msg: '' });
    await new Promise((r) => setTimeout(r, (e.expires + 1) * 1000 + 200 - Date.now()));
    expect(await slaveChunk(user, e, 1, bytes(CHUNK), e.credential)).toMatchObject({ code: Code.SignExpired });
    const fresh = requestCredential(target.slave.secret, new URL(e.upload_urls[0]).pathname, '', '', Math.floor(Date.now() / 1000) + 600);
    expect(await slaveChunk(user, e, 1, bytes(CHUNK), fresh)).toMatchObject({ code: Code.UploadSessionExpired });
    expect(slaveFiles('expired.bin')).toHaveLength(1);
    expect((await user.ok('GET', '/user/capacity')).used).toBe(before + 2500);
    await user.ok('DELETE', '/file/upload', { id: e.session_id, uri: uri('expired.bin') });
    expect(slaveFiles('expired.bin')).toEqual([]);
    expect((await user.ok('GET', '/user/capacity')).used).toBe(before);
  } finally {
    await admin.ok('PATCH', '/admin/settings', { settings: { upload_session_timeout: '86400' } });
  }

  // slaveDeleteUploadSession itself (the master's call), through the validating transport: URL-signed with the key.
  const s3 = await user.ok('PUT', '/file/upload', { uri: uri('cancel3.bin'), size: 10 });
  const del = new URL(`/api/v4/slave/upload/${s3.session_id}`, target.slave.url);
  const unsigned = await user.loose(del, { method: 'DELETE' });
  expect(await unsigned.json()).toMatchObject({ code: Code.NoPermissionErr, msg: 'expire timestamp is missing' });
  const expires = Math.floor(Date.now() / 1000) + 60;
  del.searchParams.set('sign', byHand(target.slave.secret, del.pathname, expires));
  expect(await (await user.strict(del, { method: 'DELETE' })).json()).toEqual({ code: 0, msg: '' });
  expect(slaveFiles('cancel3.bin')).toEqual([]);
  expect(await slaveChunk(user, s3, 0, bytes(10), s3.credential)).toMatchObject({ code: Code.UploadSessionExpired });
  await user.ok('DELETE', '/file/upload', { id: s3.session_id, uri: uri('cancel3.bin') });
});

test('REF-RMT-005 the slave chunk route as the contract says (stricter than the real 4.18.0 slave) and the callback\'s 401 answers', async () => {
  const s = await user.ok('PUT', '/file/upload', { uri: uri('rules.bin'), size: 2048 });
  const path = new URL(s.upload_urls[0]).pathname;
  const now = Math.floor(Date.now() / 1000);
  const signed = (expires: number, key = target.slave.secret) => requestCredential(key, path, '', '', expires);
  const chunk = (index: string | number | undefined, body: Uint8Array, auth: string | null = s.credential) =>
    slaveChunk(user, s, index, body, auth ?? undefined);

  expect(await chunk(0, bytes(CHUNK), null)).toMatchObject({ code: Code.NoPermissionErr, msg: 'authorization header is missing' });
  expect(await chunk(0, bytes(CHUNK), s.credential.slice('Bearer Cr '.length))).toMatchObject({ code: Code.InvalidSign });
  expect(await chunk(0, bytes(CHUNK), signed(0))).toMatchObject({ code: Code.SignExpired });
  expect(await chunk(0, bytes(CHUNK), signed(now - 60))).toMatchObject({ code: Code.SignExpired, msg: 'signature expired' });
  expect(await chunk(0, bytes(CHUNK), signed(s.expires, 'another-key'))).toMatchObject({ code: Code.InvalidSign, msg: 'invalid sign' });
  expect(await chunk(0, bytes(CHUNK), `${s.credential.replace(/:\d+$/, '')}:`)).toMatchObject({ code: Code.NoPermissionErr, msg: 'expire timestamp is missing' });
  expect(await chunk(0, bytes(CHUNK), `${s.credential.replace(/:\d+$/, '')}:soon`)).toMatchObject({ code: Code.InvalidSign, msg: 'sign expired' });
  for (const index of [undefined, 'abc', '-1', '1.5']) {
    const r = await chunk(index, bytes(CHUNK));
    expect(r.code, `chunk=${index}`).toBe(Code.ParamErr);
    expect(r.correlation_id).toBeUndefined();
  }
  for (const [index, n] of [[2, 0], [2, CHUNK], [99, 0]] as const) {
    expect(await chunk(index, bytes(n)), `chunk=${index}, ${n} bytes`).toMatchObject({ code: Code.InvalidChunkIndex });
  }
  expect(await chunk(0, bytes(1000))).toMatchObject({ code: Code.InvalidContentLength, msg: 'Invalid Content-Length (expected: 1024)' });
  expect(await chunk(1, bytes(1025))).toMatchObject({ code: Code.InvalidContentLength });
  const other = requestCredential(target.slave.secret, '/api/v4/slave/upload/0b5c3f3e-1111-4222-8333-444455556666', '', '', now + 60);
  expect(await slaveChunk(user, { upload_urls: [`${target.slave.url}/api/v4/slave/upload/0b5c3f3e-1111-4222-8333-444455556666`] }, 0,
    bytes(CHUNK), other)).toMatchObject({ code: Code.UploadSessionExpired });
  // The master's own chunk route is not the place for a remote session.
  expect(await user.chunk(s.session_id, 0, bytes(CHUNK))).toMatchObject({ code: Code.PolicyNotAllowed });
  expect((await info(user, uri('rules.bin'))).size).toBe(0);

  // completeRemoteUpload: each check answers HTTP 401 with an envelope.
  const cb = (sid: string, key: string, authorization?: string) => user.strict(`${target.url}/api/v4/callback/remote/${sid}/${key}`,
    { method: 'POST', headers: authorization ? { authorization } : {} });
  const cbPath = `/api/v4/callback/remote/${s.session_id}/${s.callback_secret}`;
  const cbSigned = (expires: number, key = target.slave.secret) => requestCredential(key, cbPath, '', '', expires);
  const expect401 = async (res: Response, code: number) => expect([res.status, (await res.json() as Json).code]).toEqual([401, code]);
  await expect401(await cb(s.session_id, 'wrongkey0000', cbSigned(now + 60)), Code.CredentialInvalid);
  await expect401(await cb(s.session_id, s.callback_secret), Code.NoPermissionErr);
  await expect401(await cb(s.session_id, s.callback_secret, cbSigned(now + 60, 'another-key')), Code.InvalidSign);
  await expect401(await cb(s.session_id, s.callback_secret, cbSigned(0)), Code.SignExpired);
  await expect401(await cb('0b5c3f3e-1111-4222-8333-444455556666', s.callback_secret, cbSigned(now + 60)), Code.UploadSessionExpired);
  const s3 = await user.loose(`${target.url}/api/v4/callback/s3/${s.session_id}/${s.callback_secret}`);
  expect([s3.status, (await s3.json() as Json).code]).toEqual([401, Code.PolicyNotAllowed]);

  // The right chunks, in reverse order, complete the upload through the slave's own callback; it is then gone.
  expect(await chunk(1, bytes(CHUNK, 2))).toEqual({ code: 0, msg: '' });
  expect(await chunk(0, bytes(CHUNK, 1))).toEqual({ code: 0, msg: '' });
  expect((await info(user, uri('rules.bin'))).size).toBe(2048);
  expect((await user.download(uri('rules.bin'))).equals(Buffer.concat([bytes(CHUNK, 1), bytes(CHUNK, 2)]))).toBe(true);
  await expect401(await cb(s.session_id, s.callback_secret, cbSigned(now + 60)), Code.UploadSessionExpired);
});

test('REF-RMT-006 remote storage beyond sessions: PUT /file/content, signed slave downloads, deletes; admin node and policy checks', async () => {
  // A small file written through the master goes to the slave too, and comes back from it.
  const body = Buffer.from('hello from the slave\n');
  expect(await user.content(uri('note.txt'), body)).toMatchObject({ code: 0 });
  expect(slaveFiles('note.txt')).toEqual([expect.objectContaining({ size: body.length })]);
  const d = await user.ok('POST', '/file/url', { uris: [uri('note.txt')] });
  const url = new URL(d.urls[0].url);
  expect(url.origin).toBe(target.slave.url);
  const res = await user.strict(url);
  expect([res.status, res.headers.get('content-type'), await res.text()]).toEqual([200, 'text/plain; charset=utf-8', body.toString()]);
  // slaveDownloadEntity: a bad signature is a JSON envelope; a missing file HTTP 400.
  const tampered = new URL(url);
  tampered.searchParams.set('sign', `${url.searchParams.get('sign')!.slice(0, -12)}:${Math.floor(Date.now() / 1000) + 60}`);
  expect(await (await user.strict(tampered)).json()).toMatchObject({ code: Code.InvalidSign });
  const noSign = new URL(url);
  noSign.searchParams.delete('sign');
  expect(await (await user.loose(noSign)).json()).toMatchObject({ code: Code.NoPermissionErr });
  const slaveGet = async (src: string) => {
    const u = new URL(`/api/v4/slave/file/content/0/${src}/0/none.bin`, target.slave.url);
    u.searchParams.set('sign', byHand(target.slave.secret, u.pathname, Math.floor(Date.now() / 1000) + 60));
    const r = await user.strict(u);
    return [r.status, (await r.json() as Json).code];
  };
  const b64 = Buffer.from('uploads/none.bin').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
  expect(await slaveGet(b64)).toEqual([400, Code.ParentNotExist]);
  expect(await slaveGet(b64.replace(/=+$/, ''))).toEqual([400, Code.NotSet]); // base64.URLEncoding wants its padding

  // A permanent delete removes the file from the slave.
  await user.ok('DELETE', '/file', { uris: [uri('note.txt')], skip_soft_delete: true });
  expect(slaveFiles('note.txt')).toEqual([]);

  // Admin: the node test really pings the slave (which pings the master back); keys and ids are checked.
  const node = { name: 'n', type: 'slave', status: 'active', server: target.slave.url, slave_key: target.slave.secret,
    capabilities: 'AA==', settings: {}, weight: 1 };
  expect(await admin.json('POST', '/admin/node/test', { node })).toEqual({ code: 0, msg: '' });
  expect(await admin.json('POST', '/admin/node/test', { node: { ...node, slave_key: 'wrong' } }))
    .toMatchObject({ code: Code.ParamErr, msg: 'Successfully connected to slave node, but slave returns: invalid sign' });
  const closed = await startReference({ createIdentities: false });
  const deadUrl = closed.slave.url;
  await closed.close();
  expect((await admin.json('POST', '/admin/node/test', { node: { ...node, server: deadUrl } })).msg).toMatch(/^Failed to connect to node: /);
  expect(await admin.json('PUT', '/admin/policy', { policy: { name: 'x', type: 'remote', node_id: 9999, settings: {} } }))
    .toMatchObject({ code: Code.DBError });
  const used = (await admin.ok('GET', '/admin/group/2')).storage_policy_id;
  const policy = await admin.ok('GET', `/admin/policy/${used}`);
  expect(policy.edges.node).toMatchObject({ type: 'slave', server: target.slave.url });
  expect(await admin.json('DELETE', `/admin/node/${policy.node_id}`)).toMatchObject({ code: Code.NodeUsedByStoragePolicy });
});

test('REF-RMT-007 the master\'s storage for a remote entity: name rules render its path, and it is written, read and removed over the node\'s routes', async () => {
  const d = mkdtempSync(join(tmpdir(), 'reference-remote-blobs-'));
  const slave = await startSlave({ host: '127.0.0.1', dir: join(d, 'slave') });
  try {
    const st = new State(d);
    const now = new Date();
    st.nodes.set(7, { id: 7, name: 'n', type: 'slave', status: 'active', server: slave.url, slaveKey: slave.secret, capabilities: '',
      settings: {}, weight: 1, createdAt: now, updatedAt: now });
    const policy: PolicyRow = { id: 5, name: 'r', type: 'remote', server: '', bucketName: '', isPrivate: true, accessKey: '',
      secretKey: '', maxSize: 0, dirNameRule: 'uploads/{uid}/{path}', fileNameRule: '{uid}_{randomkey8}_{originname}',
      settings: { chunk_size: CHUNK }, nodeId: 7, createdAt: now, updatedAt: now };
    st.policies.set(5, policy);
    const blobs = new RemoteAwareBlobs(d, st);
    const entity = { id: 1, source: 'uploads/3/1_x' } as EntityRow;
    blobs.remote.adopt(entity, policy, 3, ['docs', 'a b', 'x.bin']);
    expect(entity.source).toMatch(/^uploads\/3\/docs\/a b\/3_[A-Za-z0-9]{8}_x\.bin$/);

    const data = bytes(3000, 5);
    await blobs.create(entity.source, 0, false);
    expect(await blobs.writeAt(entity.source, 0, Readable.from([data.subarray(0, 1000), data.subarray(1000)]), data.length)).toBe(data.length);
    expect(listFiles(join(d, 'slave'))).toEqual([{ path: entity.source, size: data.length }]);
    expect(slave.sessions.size).toBe(0); // the master's own upload session completed without a callback
    expect(await blobs.size(entity.source)).toBe(data.length);
    const read = async (range?: { start: number; end: number }) => Buffer.concat(await blobs.read(entity.source, range).toArray() as Buffer[]);
    expect((await read()).equals(data)).toBe(true);
    expect((await read({ start: 100, end: 199 })).equals(data.subarray(100, 200))).toBe(true);
    await blobs.remove(entity.source);
    expect(listFiles(join(d, 'slave'))).toEqual([]);
    expect(await blobs.size(entity.source)).toBe(-1);
  } finally {
    await slave.close();
    rmSync(d, { recursive: true, force: true });
  }
});
