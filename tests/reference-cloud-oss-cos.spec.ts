// REF-CLD-OSS / REF-CLD-COS: the reference target's `oss` and `cos` storage policies against the OSS and COS emulators
// on loopback (harness/upload/worlds/{oss,cos}.ts), provisioned through the admin API. Sessions are created and every
// answer of the target is read through the validating transport; parts, completion and callbacks go the way the web
// client sends them (harness/upload/cloud-drivers.ts). OSS: the emulator completes the upload by calling the target's
// callback with its RSA-MD5 signature; forged callbacks are refused and complete nothing. COS: the client's callback
// makes the target HEAD the object. Both: downloads through the master (GetObject, with Range), PUT /file/content
// (PutObject), deletion (DeleteObject), cancel (AbortMultipartUpload), presigned source URLs.
import { test, expect } from '@playwright/test';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReference, type ReferenceTarget } from '../reference/index.js';
import { TestApi as Api } from '../reference/testing.js';
import type { PolicyRow } from '../reference/state.js';
import { ossDriver } from '../reference/cloud/oss.js';
import { cosDriver } from '../reference/cloud/cos.js';
import { Code } from '../contracts/generated/error-codes.js';
import { validatingFetch } from '../harness/contract/transport.js';
import { CollectingSink, describeViolation } from '../harness/contract/violations.js';
import { createCloudreveClient, type CloudreveClient } from '../harness/client/index.js';
import { signOssCallback } from '../harness/cloud/oss-sign.js';
import { cloudDriverFor, timedFetch, uploadWithDriver, type CloudUploadDriver, type UploadRun } from '../harness/upload/cloud-drivers.js';
import type { UploadSession } from '../harness/upload/driver.js';
import { Payload } from '../harness/upload/payload.js';
import { openOssWorld, OSS_CHUNK_SIZE, type OssWorld } from '../harness/upload/worlds/oss.js';
import { openCosWorld, COS_CHUNK_SIZE, type CosWorld } from '../harness/upload/worlds/cos.js';
import type { ProviderPolicyFields } from '../harness/upload/provider-world.js';

const CHUNK = OSS_CHUNK_SIZE;
const OSS_CALLBACK_BODY = '{"name":${x:fname},"source_name":${object},"size":${size},"pic_info":"${imageInfo.width},${imageInfo.height}"}';
const VERIFY_FAILED = { error: 'Failed to verify callback request.' };
const uri = (name: string) => `cloudreve://my/cloud/${name}`;
const bytesOf = (p: Payload) => Buffer.concat([...p.blocks()]);
const b64 = (s: string) => Buffer.from(s).toString('base64');

// The key the OSS world signs its callbacks with, known here so callbacks can be signed by hand as OSS would.
const ossCallbackKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
// Someone else's key pair.
const forger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const forgerPublicPem = forger.publicKey.export({ type: 'spki', format: 'pem' }).toString();

let dir: string;
let target: ReferenceTarget;
let admin: Api;
let user: Api;
let oss: OssWorld;
let cos: CosWorld;
let ossPolicy: number;
let cosPolicy: number;
let sink: CollectingSink;
let client: CloudreveClient;
let current = 0;

async function createPolicy(type: 'oss' | 'cos', f: ProviderPolicyFields): Promise<number> {
  const p = await admin.ok('PUT', '/admin/policy', { policy: { name: `ref-${type}`, type, server: f.server, bucket_name: f.bucket_name,
    access_key: f.access_key, secret_key: f.secret_key, is_private: true, max_size: 0, dir_name_rule: `${type}/{uid}/{path}`,
    file_name_rule: '{uid}_{randomkey8}_{originname}', settings: { ...f.settings, chunk_size: CHUNK } } });
  return p.id as number;
}

/** Puts the User group (2) on the policy. */
async function usePolicy(id: number): Promise<void> {
  if (current === id) return;
  const { total_users: _t, ...group } = await admin.ok('GET', '/admin/group/2');
  await admin.ok('PUT', '/admin/group/2', { group: { ...group, edges: { storage_policies: { id } } } });
  current = id;
}

function driverFor(s: UploadSession): CloudUploadDriver {
  const d = cloudDriverFor(s, { provider: timedFetch(20_000), cloudreve: client });
  if (!('finish' in d)) throw new Error('expected a cloud driver');
  return d;
}

async function session(name: string, size: number): Promise<UploadSession> {
  return user.ok('PUT', '/file/upload', { uri: uri(name), size, last_modified: 1700000000000 }) as Promise<UploadSession>;
}

async function upload(name: string, payload: Payload): Promise<{ s: UploadSession; run: UploadRun; driver: CloudUploadDriver }> {
  const s = await session(name, payload.size);
  const driver = driverFor(s);
  return { s, run: await uploadWithDriver(driver, s, payload), driver };
}

const info = (name: string) => user.json('GET', `/file/info?uri=${encodeURIComponent(uri(name))}`);

/** The object key of a session, from its complete URL (path-style OSS: /<bucket>/<key>; COS: /<key>). */
function keyOf(s: UploadSession, bucket?: string): string {
  const path = decodeURIComponent(new URL(s.completeURL!).pathname).slice(1);
  return bucket ? path.slice(bucket.length + 1) : path;
}

function policyRow(id: number, type: string, f: ProviderPolicyFields): PolicyRow {
  return { id, name: `ref-${type}`, type, server: f.server, bucketName: f.bucket_name, isPrivate: true, accessKey: f.access_key,
    secretKey: f.secret_key, maxSize: 0, dirNameRule: '', fileNameRule: '', settings: { ...f.settings }, nodeId: 0,
    createdAt: new Date(), updatedAt: new Date() };
}

async function cancel(s: UploadSession, name: string): Promise<void> {
  await user.ok('DELETE', '/file/upload', { id: s.session_id, uri: uri(name) });
}

/** Downloads through POST /file/url, optionally a Range. */
async function download(name: string, range?: string): Promise<{ status: number; body: Buffer }> {
  const d = await user.ok('POST', '/file/url', { uris: [uri(name)] });
  const res = await user.strict(d.urls[0].url, range ? { headers: { range } } : {});
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** A stand-in for someone's key server: counts the requests it gets. */
async function keyServer(pem: string): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((_req, res) => { hits++; res.writeHead(200, { 'content-type': 'application/x-pem-file' }); res.end(pem); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-cloud-oss-cos-'));
  target = await startReference({ dataDir: dir });
  admin = await new Api(target.url).login(target.identities.admin.email, target.identities.admin.password);
  user = await new Api(target.url).login(target.identities.user.email, target.identities.user.password);
  const runTag = `ref-${randomUUID().slice(0, 8)}`;
  oss = await openOssWorld({ targetUrl: target.url, runTag }, { callbackPrivateKeyPem: ossCallbackKey });
  cos = await openCosWorld({ targetUrl: target.url, runTag });
  expect(cos.chunkSize).toBe(CHUNK);
  expect(COS_CHUNK_SIZE).toBe(CHUNK);
  ossPolicy = await createPolicy('oss', oss.policyFields);
  cosPolicy = await createPolicy('cos', cos.policyFields);
  sink = new CollectingSink();
  client = createCloudreveClient({ siteUrl: target.url, fetch: validatingFetch({ sink }) });
});

test.afterAll(async () => {
  await oss?.close();
  await cos?.close();
  await target?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.afterEach(() => {
  expect([...admin.violations(), ...user.violations(), ...sink.take().map(describeViolation)]).toEqual([]);
});

// ---------------------------------------------------------------------------------------------------------------- OSS

test.describe('oss', () => {
  test.beforeEach(() => usePolicy(ossPolicy));

  test('REF-CLD-OSS-001 the session: a multipart upload at OSS, V4-presigned part URLs (one per chunk) and a complete URL carrying Cloudreve\'s callback policy', async () => {
    const size = 3 * CHUNK + 5;
    const s = await session('oss-shape.bin', size);
    const now = Math.floor(Date.now() / 1000);
    expect(s.chunk_size).toBe(CHUNK);
    expect(s.upload_id).toMatch(/^[0-9A-F]{32}$/);
    expect(oss.uploadOpen(s)).toBe(true);
    const key = keyOf(s, oss.bucket);
    expect(key).toMatch(/^oss\/\d+\/cloud\/\d+_[A-Za-z0-9]{8}_oss-shape\.bin$/);
    expect(oss.emulator.upload(s.upload_id)).toMatchObject({ bucket: oss.bucket, key, contentType: 'application/octet-stream' });
    expect(s.upload_urls).toHaveLength(4);
    for (const [i, raw] of (s.upload_urls ?? []).entries()) {
      const u = new URL(raw);
      expect(u.origin).toBe(oss.url);
      expect(decodeURIComponent(u.pathname)).toBe(`/${oss.bucket}/${key}`);
      expect(u.searchParams.get('partNumber')).toBe(String(i + 1));
      expect(u.searchParams.get('uploadId')).toBe(s.upload_id);
      expect(u.searchParams.get('x-oss-signature-version')).toBe('OSS4-HMAC-SHA256');
      expect(u.searchParams.get('x-oss-credential')).toMatch(new RegExp(`^${oss.policyFields.access_key}/\\d{8}/cn-hangzhou/oss/aliyun_v4_request$`));
      expect(Math.abs(Number(u.searchParams.get('x-oss-expires')) - (s.expires - now))).toBeLessThanOrEqual(3);
      expect(u.searchParams.get('x-oss-signature')).toMatch(/^[0-9a-f]{64}$/);
    }
    const complete = new URL(s.completeURL!);
    expect(decodeURIComponent(complete.pathname)).toBe(`/${oss.bucket}/${key}`);
    expect(complete.searchParams.get('uploadId')).toBe(s.upload_id);
    expect(complete.searchParams.has('callback-var')).toBe(false);
    expect(JSON.parse(Buffer.from(complete.searchParams.get('callback')!, 'base64').toString('utf8'))).toEqual({
      callbackUrl: `${target.url}/api/v4/callback/oss/${s.session_id}/${s.callback_secret}`, callbackBody: OSS_CALLBACK_BODY,
      callbackBodyType: 'application/json', callbackSNI: true });
    expect(s.storage_policy).toMatchObject({ type: 'oss' });

    // An empty file still gets one part URL.
    const empty = await session('oss-empty.bin', 0);
    expect(empty.upload_urls).toHaveLength(1);
    await cancel(s, 'oss-shape.bin');
    await cancel(empty, 'oss-empty.bin');
    expect([oss.uploadOpen(s), oss.uploadOpen(empty)]).toEqual([false, false]);
  });

  test('REF-CLD-OSS-002 an upload completes through OSS\'s signed callback; the file downloads byte-exact (also a Range) and from a presigned source URL', async () => {
    const payload = new Payload(41, 2 * CHUNK + 1234);
    const before = oss.emulator.callbacks.length;
    const { s, run } = await upload('oss-up.bin', payload);
    expect(run.chunks.map((c) => c.status)).toEqual([200, 200, 200]);
    expect(run.ok).toBe(true);
    expect(run.finish).toMatchObject({ by: 'provider-callback', complete: { status: 200, code: 0 } });
    const key = keyOf(s, oss.bucket);
    // OSS called the target and relayed its answer.
    const calls = oss.emulator.callbacks.slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ url: `${target.url}/api/v4/callback/oss/${s.session_id}/${s.callback_secret}`, status: 200, outcome: 'ok' });
    expect(JSON.parse(calls[0]!.responseBody!)).toEqual({ code: 0, msg: '' });
    expect(JSON.parse(calls[0]!.body)).toEqual({ name: '', source_name: key, size: payload.size, pic_info: ',' });
    expect(oss.uploadOpen(s)).toBe(false);
    expect(oss.objects()).toContainEqual({ key, size: payload.size });

    const i = await info('oss-up.bin');
    expect(i).toMatchObject({ code: 0, data: { size: payload.size } });
    const whole = await download('oss-up.bin');
    expect(whole.status).toBe(200);
    expect(whole.body.equals(bytesOf(payload))).toBe(true);
    const part = await download('oss-up.bin', 'bytes=70000-140000');
    expect(part.status).toBe(206);
    expect(part.body.equals(bytesOf(payload).subarray(70000, 140001))).toBe(true);

    // sourceUrl: a V4-presigned GET on OSS itself.
    const row = policyRow(ossPolicy, 'oss', oss.policyFields);
    const src = ossDriver.sourceUrl!(row, key, { name: 'oss-up.bin', download: true, expires: Math.floor(Date.now() / 1000) + 600 })!;
    expect(new URL(src).searchParams.get('response-content-disposition')).toBe('attachment; filename="oss-up.bin"; filename*=UTF-8\'\'oss-up.bin');
    const res = await fetch(src);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytesOf(payload))).toBe(true);
    expect(await ossDriver.head(row, key)).toBe(payload.size);
    expect(await ossDriver.head(row, `${key}.missing`)).toBeUndefined();
  });

  test('REF-CLD-OSS-003 callbacks posted by hand without OSS\'s valid signature are refused (401 bare error) and complete nothing', async () => {
    const payload = new Payload(42, CHUNK + 7);
    const s = await session('oss-forged.bin', payload.size);
    const key = keyOf(s, oss.bucket);
    const path = `/api/v4/callback/oss/${s.session_id}/${s.callback_secret}`;
    const body = JSON.stringify({ name: '', source_name: key, size: payload.size, pic_info: ',' });
    const trustedKeyUrl = `${oss.url}/__oss/pubkey.pem`;
    const post = async (headers: Record<string, string>, b = body, p = path) => {
      const res = await user.loose(`${target.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: b });
      return { status: res.status, body: await res.json() as unknown };
    };
    const attacker = await keyServer(forgerPublicPem);
    try {
      // No usable signature.
      expect(await post({ 'x-oss-pub-key-url': b64(trustedKeyUrl), authorization: 'AAAA' })).toEqual({ status: 401, body: VERIFY_FAILED });
      expect(await post({ 'x-oss-pub-key-url': b64(trustedKeyUrl) })).toEqual({ status: 401, body: VERIFY_FAILED });
      expect(await post({ authorization: signOssCallback(ossCallbackKey, path, '', body) })).toEqual({ status: 401, body: VERIFY_FAILED });
      // Signed with another key, announced at the attacker's own URL: refused without fetching it.
      const forged = signOssCallback(forger.privateKey, path, '', body);
      expect(await post({ 'x-oss-pub-key-url': b64(`${attacker.url}/pub.pem`), authorization: forged })).toEqual({ status: 401, body: VERIFY_FAILED });
      expect(await post({ 'x-oss-pub-key-url': b64('file:///etc/passwd'), authorization: forged })).toEqual({ status: 401, body: VERIFY_FAILED });
      expect(attacker.hits()).toBe(0);
      // Signed with another key, announced at the trusted URL: the signature does not verify.
      expect(await post({ 'x-oss-pub-key-url': b64(trustedKeyUrl), authorization: forged })).toEqual({ status: 401, body: VERIFY_FAILED });
      // OSS's key, but over another path (a signature replayed on another session's callback).
      const other = `/api/v4/callback/oss/${randomUUID()}/${s.callback_secret}`;
      expect(await post({ 'x-oss-pub-key-url': b64(trustedKeyUrl), authorization: signOssCallback(ossCallbackKey, other, '', body) }))
        .toEqual({ status: 401, body: VERIFY_FAILED });
      // OSS's key over this path, but a body that was not signed.
      expect(await post({ 'x-oss-pub-key-url': b64(trustedKeyUrl), authorization: signOssCallback(ossCallbackKey, path, '', body) },
        body.replace('"pic_info":","', '"pic_info":"1,1"'))).toEqual({ status: 401, body: VERIFY_FAILED });
      // Validly signed, but the size is not the session's, or the body does not bind.
      const wrongSize = JSON.stringify({ name: '', source_name: key, size: payload.size + 1, pic_info: ',' });
      expect(await post({ 'x-oss-pub-key-url': b64(trustedKeyUrl), authorization: signOssCallback(ossCallbackKey, path, '', wrongSize) }, wrongSize))
        .toEqual({ status: 401, body: { error: 'size mismatch' } });
      const notJson = 'size=1';
      expect(await post({ 'x-oss-pub-key-url': b64(trustedKeyUrl), authorization: signOssCallback(ossCallbackKey, path, '', notJson) }, notJson))
        .toEqual({ status: 401, body: { code: Code.ParamErr, msg: 'Parameter error' } });
    } finally {
      await attacker.close();
    }
    // Nothing completed: the placeholder is still empty, the upload still open; the real upload then completes.
    expect(await info('oss-forged.bin')).toMatchObject({ code: 0, data: { size: 0 } });
    expect(oss.uploadOpen(s)).toBe(true);
    const driver = driverFor(s);
    const run = await uploadWithDriver(driver, s, payload);
    expect(run.ok).toBe(true);
    expect(await info('oss-forged.bin')).toMatchObject({ code: 0, data: { size: payload.size } });
    expect((await download('oss-forged.bin')).body.equals(bytesOf(payload))).toBe(true);
  });

  test('REF-CLD-OSS-004 the callback\'s session checks: a wrong key is 401/40020, a second callback after completion 401/40011', async () => {
    const payload = new Payload(43, CHUNK / 2);
    const s = await session('oss-twice.bin', payload.size);
    const body = JSON.stringify({ name: '', source_name: keyOf(s, oss.bucket), size: payload.size, pic_info: ',' });
    const call = async (p: string) => {
      const res = await user.strict(`${target.url}${p}`, { method: 'POST', body, headers: { 'content-type': 'application/json',
        'x-oss-pub-key-url': b64(`${oss.url}/__oss/pubkey.pem`), authorization: signOssCallback(ossCallbackKey, p, '', body) } });
      return { status: res.status, body: await res.json() as { code?: number; msg?: string } };
    };
    const wrong = await call(`/api/v4/callback/oss/${s.session_id}/${'x'.repeat(32)}`);
    expect(wrong).toMatchObject({ status: 401, body: { code: Code.CredentialInvalid, msg: 'Invalid callback secret' } });
    const run = await uploadWithDriver(driverFor(s), s, payload);
    expect(run.ok).toBe(true);
    const again = await call(`/api/v4/callback/oss/${s.session_id}/${s.callback_secret}`);
    expect(again).toMatchObject({ status: 401, body: { code: Code.UploadSessionExpired } });
    expect(await info('oss-twice.bin')).toMatchObject({ code: 0, data: { size: payload.size } });
  });

  test('REF-CLD-OSS-005 cancel aborts the multipart upload at OSS', async () => {
    const payload = new Payload(44, 2 * CHUNK);
    const s = await session('oss-cancel.bin', payload.size);
    const driver = driverFor(s);
    driver.begin(s, { size: payload.size });
    const [first] = driver.plan(s, payload.size);
    expect((await driver.sendChunk(s, first!, payload.range(0, first!.length))).ok).toBe(true);
    expect(oss.uploadOpen(s)).toBe(true);
    await cancel(s, 'oss-cancel.bin');
    expect(oss.uploadOpen(s)).toBe(false);
    expect(await info('oss-cancel.bin')).toMatchObject({ code: Code.ParentNotExist });
    // The abandoned complete URL is now useless.
    const fin = await driver.finish(s);
    expect(fin).toMatchObject({ ok: false, complete: { status: 404, providerCode: 'NoSuchUpload' } });
  });

  test('REF-CLD-OSS-006 a short non-last part is refused at completion (EntityTooSmall): OSS never calls back, the session stays', async () => {
    const payload = new Payload(45, 2 * CHUNK + 10);
    const s = await session('oss-short.bin', payload.size);
    const driver = driverFor(s);
    driver.begin(s, { size: payload.size });
    const plan = driver.plan(s, payload.size);
    const short = { ...plan[0]!, length: CHUNK - 1 };
    expect((await driver.sendChunk(s, short, payload.range(0, short.length))).ok).toBe(true);
    for (const c of plan.slice(1)) expect((await driver.sendChunk(s, c, payload.range(c.offset, c.offset + c.length))).ok).toBe(true);
    const before = oss.emulator.callbacks.length;
    const fin = await driver.finish(s);
    expect(fin).toMatchObject({ ok: false, complete: { status: 400, providerCode: 'EntityTooSmall' } });
    expect(oss.emulator.callbacks.length).toBe(before);
    expect(oss.uploadOpen(s)).toBe(true);
    expect(await info('oss-short.bin')).toMatchObject({ code: 0, data: { size: 0 } });
    await cancel(s, 'oss-short.bin');
    expect(oss.uploadOpen(s)).toBe(false);
  });

  test('REF-CLD-OSS-007 PUT /file/content stores the object at OSS (PutObject), downloads read it back, deleting the file deletes it', async () => {
    const body = Buffer.from('hello OSS, through the master\n'.repeat(100));
    const r = await user.content(uri('oss-content.txt'), body);
    expect(r.code).toBe(0);
    const obj = oss.objects().find((o) => o.key.endsWith('_oss-content.txt'));
    expect(obj).toEqual({ key: expect.stringMatching(/^oss\//), size: body.length });
    expect((await download('oss-content.txt')).body.equals(body)).toBe(true);
    await user.ok('DELETE', '/file', { uris: [uri('oss-content.txt')], skip_soft_delete: true });
    expect(oss.objects().find((o) => o.key === obj!.key)).toBeUndefined();
  });
});

test('REF-CLD-OSS-008 provider failures at session creation are -1 envelopes naming the provider\'s error, and leave nothing behind', async () => {
  const dead = await keyServer('');
  const deadUrl = dead.url;
  await dead.close();
  const wrongSecret = await createPolicy('oss', { ...oss.policyFields, secret_key: 'not-the-secret' });
  const deadCos = await createPolicy('cos', { ...cos.policyFields, server: deadUrl });
  try {
    await usePolicy(wrongSecret);
    const a = await user.json('PUT', '/file/upload', { uri: uri('oss-badkey.bin'), size: 10 });
    expect(a).toMatchObject({ code: Code.NotSet, msg: expect.stringContaining('OSS InitiateMultipartUpload failed: HTTP 403 SignatureDoesNotMatch') });
    expect(await info('oss-badkey.bin')).toMatchObject({ code: Code.ParentNotExist });
    // A refused PutObject (PUT /file/content) is an error envelope on the same connection, not a reset.
    const put = await user.content(uri('oss-badkey.txt'), Buffer.alloc(200_000, 7));
    expect(put.code).not.toBe(0);
    expect(await info('oss-badkey.txt')).toMatchObject({ code: Code.ParentNotExist });
    await usePolicy(deadCos);
    const b = await user.json('PUT', '/file/upload', { uri: uri('cos-dead.bin'), size: 10 });
    expect(b).toMatchObject({ code: Code.NotSet, msg: expect.stringContaining('COS InitiateMultipartUpload failed: fetch failed') });
    expect(await info('cos-dead.bin')).toMatchObject({ code: Code.ParentNotExist });
    // OSS presigned URLs live at most 7 days: a longer session cannot be created (as on Cloudreve ≥ 4.10).
    await usePolicy(ossPolicy);
    await admin.ok('PATCH', '/admin/settings', { settings: { upload_session_timeout: String(8 * 86400) } });
    try {
      const c = await user.json('PUT', '/file/upload', { uri: uri('oss-long.bin'), size: 10 });
      expect(c).toMatchObject({ code: Code.NotSet, msg: expect.stringContaining('expires should be not greater than 604800') });
    } finally {
      await admin.ok('PATCH', '/admin/settings', { settings: { upload_session_timeout: '86400' } });
    }
    expect(oss.emulator.uploads().filter((u) => u.key.endsWith('_oss-long.bin'))).toEqual([]);
  } finally {
    await usePolicy(ossPolicy);
  }
});

// ---------------------------------------------------------------------------------------------------------------- COS

test.describe('cos', () => {
  test.beforeEach(() => usePolicy(cosPolicy));

  test('REF-CLD-COS-001 the session: a multipart upload at COS, presigned part URLs signing each chunk\'s length and a complete URL signing x-cos-forbid-overwrite', async () => {
    const size = 2 * CHUNK + 3;
    const s = await session('cos-shape.bin', size);
    expect(s.chunk_size).toBe(CHUNK);
    expect(s.upload_id).toBeTruthy();
    expect(cos.uploadOpen(s)).toBe(true);
    const key = keyOf(s);
    expect(key).toMatch(/^cos\/\d+\/cloud\/\d+_[A-Za-z0-9]{8}_cos-shape\.bin$/);
    expect(cos.emulator.upload(s.upload_id)).toMatchObject({ bucket: cos.bucket, key });
    expect(s.upload_urls).toHaveLength(3);
    for (const [i, raw] of (s.upload_urls ?? []).entries()) {
      const u = new URL(raw);
      expect(u.origin).toBe(cos.url);
      expect(decodeURIComponent(u.pathname)).toBe(`/${key}`);
      expect(u.searchParams.get('partNumber')).toBe(String(i + 1));
      expect(u.searchParams.get('uploadId')).toBe(s.upload_id);
      expect(u.searchParams.get('q-sign-algorithm')).toBe('sha1');
      expect(u.searchParams.get('q-ak')).toBe(cos.policyFields.access_key);
      expect(u.searchParams.get('q-header-list')).toBe('content-length;content-type');
      expect(u.searchParams.get('q-url-param-list')).toBe('partnumber;uploadid');
      expect(u.searchParams.get('q-sign-time')!.split(';')[1]).toBe(String(s.expires));
    }
    const complete = new URL(s.completeURL!);
    expect(complete.searchParams.get('uploadId')).toBe(s.upload_id);
    expect(complete.searchParams.get('q-header-list')).toBe('x-cos-forbid-overwrite');
    expect(complete.searchParams.get('q-url-param-list')).toBe('uploadid');
    const empty = await session('cos-empty.bin', 0);
    expect(empty.upload_urls).toHaveLength(1);
    await cancel(s, 'cos-shape.bin');
    await cancel(empty, 'cos-empty.bin');
  });

  test('REF-CLD-COS-002 an upload completes with the client\'s callback (HEAD at COS); byte-exact download (also a Range), presigned source URL; a second callback is 401/40011', async () => {
    const payload = new Payload(51, 2 * CHUNK + 999);
    const { s, run } = await upload('cos-up.bin', payload);
    expect(run.chunks.map((c) => c.status)).toEqual([200, 200, 200]);
    expect(run.ok).toBe(true);
    expect(run.finish).toMatchObject({ by: 'client-callback', complete: { status: 200 }, callback: { status: 200, code: 0 } });
    const key = keyOf(s);
    expect(cos.uploadOpen(s)).toBe(false);
    expect(cos.objects()).toContainEqual({ key, size: payload.size });
    expect(await info('cos-up.bin')).toMatchObject({ code: 0, data: { size: payload.size } });
    const whole = await download('cos-up.bin');
    expect(whole.status).toBe(200);
    expect(whole.body.equals(bytesOf(payload))).toBe(true);
    // The COS emulator ignores Range: the driver cuts the range out of the whole answer.
    const part = await download('cos-up.bin', 'bytes=65530-65600');
    expect(part.status).toBe(206);
    expect(part.body.equals(bytesOf(payload).subarray(65530, 65601))).toBe(true);

    const row = policyRow(cosPolicy, 'cos', cos.policyFields);
    const src = cosDriver.sourceUrl!(row, key, { name: 'cos-up.bin', download: true, expires: Math.floor(Date.now() / 1000) + 600 })!;
    const res = await fetch(src);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytesOf(payload))).toBe(true);
    expect(cosDriver.sourceUrl!({ ...row, isPrivate: false }, key, { name: 'x', download: true, expires: 0 })).toBe(`${cos.url}/${key}`);

    const again = await client.GET('/callback/cos/{session_id}/{key}', { params: { path: { session_id: s.session_id, key: s.callback_secret } } });
    expect(again.response.status).toBe(401);
    expect(again.error).toMatchObject({ code: Code.UploadSessionExpired });
  });

  test('REF-CLD-COS-003 a callback before the complete is 400/-1 and keeps the session; completing then succeeds', async () => {
    const payload = new Payload(52, CHUNK + 100);
    const s = await session('cos-early.bin', payload.size);
    const driver = driverFor(s);
    const early = await uploadWithDriver(driver, s, payload, { finish: { skipComplete: true } });
    expect(early.ok).toBe(false);
    expect(early.finish?.callback).toMatchObject({ status: 400, code: Code.NotSet });
    expect(early.finish?.callback?.msg).toContain('failed to get uploaded file size');
    expect(cos.uploadOpen(s)).toBe(true);
    const fin = await driver.finish(s);
    expect(fin).toMatchObject({ ok: true, complete: { status: 200 }, callback: { status: 200, code: 0 } });
    expect((await download('cos-early.bin')).body.equals(bytesOf(payload))).toBe(true);
  });

  test('REF-CLD-COS-004 an object of another size at the key is 400/40055 "File size not match" and keeps the session', async () => {
    const payload = new Payload(53, CHUNK + 1);
    const s = await session('cos-mismatch.bin', payload.size);
    const key = keyOf(s);
    cos.emulator.putObject(key, Buffer.alloc(10, 1));
    const params = { params: { path: { session_id: s.session_id, key: s.callback_secret } } };
    for (let i = 0; i < 2; i++) {
      const r = await client.GET('/callback/cos/{session_id}/{key}', params);
      expect(r.response.status).toBe(400);
      expect(r.error).toMatchObject({ code: Code.MetaMismatch, msg: `File size not match, expected: ${payload.size}, actual: 10` });
    }
    const row = policyRow(cosPolicy, 'cos', cos.policyFields);
    await cosDriver.remove(row, key);
    expect(await cosDriver.head(row, key)).toBeUndefined();
    const run = await uploadWithDriver(driverFor(s), s, payload);
    expect(run.ok).toBe(true);
    expect(cos.objects()).toContainEqual({ key, size: payload.size });
  });

  test('REF-CLD-COS-005 a wrong callback key is 401/40020 and completes nothing', async () => {
    const payload = new Payload(54, 1000);
    const s = await session('cos-wrongkey.bin', payload.size);
    const run = await uploadWithDriver(driverFor(s), { ...s, callback_secret: 'y'.repeat(32) }, payload);
    expect(run.finish).toMatchObject({ ok: false, complete: { status: 200 }, callback: { status: 401, code: Code.CredentialInvalid } });
    expect(await info('cos-wrongkey.bin')).toMatchObject({ code: 0, data: { size: 0 } });
    const r = await client.GET('/callback/cos/{session_id}/{key}', { params: { path: { session_id: s.session_id, key: s.callback_secret } } });
    expect(r.response.status).toBe(200);
    expect(await info('cos-wrongkey.bin')).toMatchObject({ code: 0, data: { size: payload.size } });
  });

  test('REF-CLD-COS-006 cancel aborts the multipart upload at COS', async () => {
    const payload = new Payload(55, 2 * CHUNK);
    const s = await session('cos-cancel.bin', payload.size);
    const driver = driverFor(s);
    driver.begin(s, { size: payload.size });
    const [first] = driver.plan(s, payload.size);
    expect((await driver.sendChunk(s, first!, payload.range(0, first!.length))).ok).toBe(true);
    expect(cos.uploadOpen(s)).toBe(true);
    await cancel(s, 'cos-cancel.bin');
    expect(cos.uploadOpen(s)).toBe(false);
    expect(await info('cos-cancel.bin')).toMatchObject({ code: Code.ParentNotExist });
  });

  test('REF-CLD-COS-007 PUT /file/content stores the object at COS (PutObject), downloads read it back, deleting the file deletes it', async () => {
    const body = Buffer.from('hello COS, through the master\n'.repeat(100));
    const r = await user.content(uri('cos-content.txt'), body);
    expect(r.code).toBe(0);
    const obj = cos.objects().find((o) => o.key.endsWith('_cos-content.txt'));
    expect(obj).toEqual({ key: expect.stringMatching(/^cos\//), size: body.length });
    expect((await download('cos-content.txt')).body.equals(body)).toBe(true);
    await user.ok('DELETE', '/file', { uris: [uri('cos-content.txt')], skip_soft_delete: true });
    expect(cos.objects().find((o) => o.key === obj!.key)).toBeUndefined();
  });
});
