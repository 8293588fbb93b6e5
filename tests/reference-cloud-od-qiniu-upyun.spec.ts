// REF-CLD-OD / REF-CLD-QN / REF-CLD-UP: the reference target's onedrive, qiniu and upyun storage policies against their
// provider worlds (the emulators on loopback, harness/upload/worlds/). A policy of each type is provisioned through the
// admin API; sessions are created through the validating transport; the client's upload runs with the harness's cloud
// drivers (what Cloudreve's web client does); completion comes from the client's callback (onedrive), Qiniu's callback
// relayed to the client, or Upyun's asynchronous notify. Every answer of the reference must conform to the contract.
import { test, expect } from '@playwright/test';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { startReference, type ReferenceTarget } from '../reference/index.js';
import { TestApi as Api, type Json } from '../reference/testing.js';
import type { PolicyRow } from '../reference/state.js';
import type { CloudDriver } from '../reference/cloud/types.js';
import { onedriveDriver } from '../reference/cloud/onedrive.js';
import { qiniuDriver } from '../reference/cloud/qiniu.js';
import { upyunDriver } from '../reference/cloud/upyun.js';
import { Code } from '../contracts/generated/error-codes.js';
import { validatingFetch } from '../harness/contract/transport.js';
import { CollectingSink, describeViolation } from '../harness/contract/violations.js';
import { createCloudreveClient } from '../harness/client/index.js';
import { cloudDriverFor, timedFetch, uploadWithDriver, type CloudUploadDriver, type UploadRun } from '../harness/upload/cloud-drivers.js';
import type { UploadSession } from '../harness/upload/driver.js';
import { Payload } from '../harness/upload/payload.js';
import type { ProviderWorld } from '../harness/upload/provider-world.js';
import { openOneDriveWorld, type OneDriveWorld } from '../harness/upload/worlds/onedrive.js';
import { openQiniuWorld, type QiniuWorld } from '../harness/upload/worlds/qiniu.js';
import { openUpyunWorld, type UpyunWorld } from '../harness/upload/worlds/upyun.js';
import { fromB64url, parseUploadToken, qboxToken } from '../harness/cloud/qiniu-sign.js';
import { md5hex, upyunAuthorization } from '../harness/cloud/upyun-sign.js';

const KiB = 1024;
const info = (api: Api, u: string) => api.ok('GET', `/file/info?uri=${encodeURIComponent(u)}`);
const whole = (p: Payload) => Buffer.concat([...p.blocks()]);

/** One reference target with group 2 on a policy pointing at the world, and a validating client for the cloud drivers. */
interface Setup<W extends ProviderWorld> {
  target: ReferenceTarget;
  world: W;
  admin: Api;
  user: Api;
  sink: CollectingSink;
  policyId: number;
  /** The policy as the reference stores it, for calling the reference's driver directly. */
  row: PolicyRow;
  driver(s: UploadSession): CloudUploadDriver;
}

async function setUp<W extends ProviderWorld>(open: () => Promise<W>, type: string): Promise<Setup<W>> {
  const target = await startReference();
  const world = await open();
  const admin = await new Api(target.url).login(target.identities.admin.email, target.identities.admin.password);
  const user = await new Api(target.url).login(target.identities.user.email, target.identities.user.password);
  const f = world.policyFields;
  const settings = { ...f.settings, chunk_size: world.chunkSize };
  const policy = await admin.ok('PUT', '/admin/policy', { policy: { name: `${type}-world`, type, server: f.server, bucket_name: f.bucket_name,
    access_key: f.access_key, secret_key: f.secret_key, is_private: true, max_size: 0, dir_name_rule: 'uploads/{uid}/{path}',
    file_name_rule: '{uid}_{randomkey8}_{originname}', settings } });
  const { total_users: _t, ...group } = await admin.ok('GET', '/admin/group/2');
  await admin.ok('PUT', '/admin/group/2', { group: { ...group, edges: { storage_policies: { id: policy.id } } } });
  const sink = new CollectingSink();
  const client = createCloudreveClient({ siteUrl: target.url, fetch: validatingFetch({ sink }) });
  const row: PolicyRow = { id: policy.id, name: `${type}-world`, type, server: f.server, bucketName: f.bucket_name, isPrivate: true,
    accessKey: f.access_key, secretKey: f.secret_key, maxSize: 0, dirNameRule: '', fileNameRule: '', settings, nodeId: 0,
    createdAt: new Date(), updatedAt: new Date() };
  return { target, world, admin, user, sink, policyId: policy.id, row,
    driver: (s) => cloudDriverFor(s, { provider: timedFetch(20_000), cloudreve: client }) as CloudUploadDriver };
}

async function tearDown(s: Setup<ProviderWorld> | undefined): Promise<void> {
  await s?.world.close();
  await s?.target.close();
}

function noViolations(s: Setup<ProviderWorld> | undefined): void {
  if (!s) return;
  expect([...s.admin.violations(), ...s.user.violations(), ...s.sink.take().map(describeViolation)]).toEqual([]);
}

/** A callback by hand through the validating transport (the contract allows probes that break it: requestValidation off). */
async function callback(api: Api, type: string, sid: string, key: string, init: { body?: string; headers?: Record<string, string> } = {}):
  Promise<{ status: number; json: Json & { error?: string } }> {
  const res = await api.loose(`${api.site}/api/v4/callback/${type}/${sid}/${key}`, { method: 'POST', body: init.body ?? '', headers: init.headers ?? {} });
  return { status: res.status, json: await res.json() as Json & { error?: string } };
}

function expectUploaded(run: UploadRun): void {
  expect(run.chunks.filter((c) => !c.ok), JSON.stringify(run.chunks)).toEqual([]);
  expect(run.ok, JSON.stringify(run.finish)).toBe(true);
}

/** put, head, get (whole and a range), remove of the reference's driver, straight against the world. */
async function driverRoundTrip(driver: CloudDriver, row: PolicyRow, world: ProviderWorld, key: string, payload: Payload): Promise<void> {
  const bytes = whole(payload);
  await driver.put(row, key, Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), bytes.length, 'application/octet-stream');
  expect(world.objects()).toContainEqual({ key, size: bytes.length });
  expect(await driver.head(row, key)).toBe(bytes.length);
  const all = await driver.get(row, key);
  expect(Buffer.concat(await all!.toArray()).equals(bytes)).toBe(true);
  const part = await driver.get(row, key, { start: 5000, end: 70_000 });
  expect(Buffer.concat(await part!.toArray()).equals(bytes.subarray(5000, 70_001))).toBe(true);
  await driver.remove(row, key);
  expect(world.objects().map((o) => o.key)).not.toContain(key);
  expect(await driver.head(row, key)).toBeUndefined();
  expect(await driver.get(row, key)).toBeUndefined();
  await driver.remove(row, key); // already gone: not an error
}

// ---- OneDrive ---------------------------------------------------------------------------------------------------------

test.describe('onedrive', () => {
  test.describe.configure({ mode: 'default' });
  let s: Setup<OneDriveWorld> | undefined;
  test.beforeAll(async () => { s = await setUp((() => openOneDriveWorld({ targetUrl: '', runTag: 'ref-od' })), 'onedrive'); });
  test.afterAll(async () => tearDown(s));
  test.afterEach(() => noViolations(s));
  const uri = (name: string) => `cloudreve://my/od/${name}`;

  test('REF-CLD-OD-001 createUploadSession on Graph, Content-Range fragments, client callback: complete, byte-exact, second call 40011', async () => {
    const { user, world } = s!;
    const payload = new Payload(11, 2 * 320 * KiB + 1000);
    const session = await user.ok('PUT', '/file/upload', { uri: uri('a.bin'), size: payload.size }) as UploadSession;
    expect(session).toMatchObject({ upload_id: '', chunk_size: 320 * KiB, upload_urls: [expect.stringMatching(new RegExp(`^${world.url}/up/`))] });
    expect(session.credential).toBeUndefined();
    expect(world.uploadOpen(session)).toBe(true);
    const od = world.emulator.session(session.upload_urls![0]!)!;
    expect(od.conflictBehavior).toBe('fail');
    expect((await info(user, uri('a.bin'))).size).toBe(0);

    const run = await uploadWithDriver(s!.driver(session), session, payload);
    expectUploaded(run);
    expect(run.chunks.map((c) => c.status)).toEqual([202, 202, 201]);
    expect(run.finish!.callback).toMatchObject({ status: 200, code: 0 });
    expect(world.uploadOpen(session)).toBe(false);
    expect((await info(user, uri('a.bin'))).size).toBe(payload.size);
    expect(world.objects()).toContainEqual({ key: od.path.slice(1), size: payload.size });
    expect((await user.download(uri('a.bin'))).equals(whole(payload))).toBe(true);

    const again = await callback(user, 'onedrive', session.session_id, session.callback_secret);
    expect([again.status, again.json.code]).toEqual([401, Code.UploadSessionExpired]);
  });

  test('REF-CLD-OD-002 callback checks: wrong key 401/40020, nothing uploaded yet, size mismatch 200/40055 — the session is kept', async () => {
    const { user, world } = s!;
    const session = await user.ok('PUT', '/file/upload', { uri: uri('short.bin'), size: 1000 }) as UploadSession;
    const wrong = await callback(user, 'onedrive', session.session_id, `${session.callback_secret.slice(0, -1)}x`);
    expect([wrong.status, wrong.json.code, wrong.json.msg]).toEqual([401, Code.CredentialInvalid, 'Invalid callback secret']);

    const early = await callback(user, 'onedrive', session.session_id, session.callback_secret);
    expect([early.status, early.json.code]).toEqual([200, Code.NotSet]);

    // The client sends 900 bytes (Content-Range total 900): Graph holds 900, the session says 1000.
    const payload = new Payload(12, 900);
    const run = await uploadWithDriver(s!.driver(session), session, payload);
    expect(run.chunks.map((c) => c.status)).toEqual([201]);
    expect(run.finish!.callback).toMatchObject({ status: 200, code: Code.MetaMismatch, msg: 'File size not match, expected: 1000, actual: 900' });
    const retry = await callback(user, 'onedrive', session.session_id, session.callback_secret);
    expect([retry.status, retry.json.code]).toEqual([200, Code.MetaMismatch]);
    expect((await info(user, uri('short.bin'))).size).toBe(0);
    expect(world.objects().some((o) => o.size === 900)).toBe(true);
    expect(await user.json('DELETE', '/file/upload', { id: session.session_id, uri: session.uri })).toEqual({ code: 0, msg: '' });
  });

  test('REF-CLD-OD-003 cancel deletes the Graph upload session: no further fragment, no file, nothing stored', async () => {
    const { user, world } = s!;
    const payload = new Payload(13, 2 * 320 * KiB);
    const session = await user.ok('PUT', '/file/upload', { uri: uri('cancel.bin'), size: payload.size }) as UploadSession;
    const driver = s!.driver(session);
    driver.begin(session, { size: payload.size });
    const [first, second] = driver.plan(session, payload.size);
    expect((await driver.sendChunk(session, first!, payload.stream(first!.offset, first!.length))).status).toBe(202);
    const before = world.objects().length;
    expect(await user.json('DELETE', '/file/upload', { id: session.session_id, uri: session.uri })).toEqual({ code: 0, msg: '' });
    expect(world.uploadOpen(session)).toBe(false);
    const late = await driver.sendChunk(session, second!, payload.stream(second!.offset, second!.length));
    expect([late.status, late.providerCode]).toEqual([404, 'uploadSessionNotFound']);
    expect(world.objects().length).toBe(before);
    expect((await user.json('GET', `/file/info?uri=${encodeURIComponent(uri('cancel.bin'))}`)).code).toBe(Code.ParentNotExist);
    const cb = await callback(user, 'onedrive', session.session_id, session.callback_secret);
    expect([cb.status, cb.json.code]).toEqual([401, Code.UploadSessionExpired]);
  });

  test('REF-CLD-OD-004 the driver over Graph: simple upload and an upload session (> 4 MiB), item metadata, ranged download, delete', async () => {
    const { world, row } = s!;
    await driverRoundTrip(onedriveDriver, row, world, 'direct/small.bin', new Payload(14, 100 * KiB));
    await driverRoundTrip(onedriveDriver, row, world, 'direct/large.bin', new Payload(15, 4 * 1024 * KiB + 5000));
    // The large one went through an upload session in 320 KiB fragments (the policy's chunk size).
    expect(world.emulator.requests.filter((r) => r.method === 'PUT' && r.url.includes('/up/')).length).toBeGreaterThanOrEqual(13);
    // One access token, obtained with the refresh token once and cached; a refresh token Graph refuses is an error.
    expect(world.emulator.requests.filter((r) => r.url.endsWith('/common/oauth2/v2.0/token')).map((r) => r.status)).toEqual([200]);
    await expect(onedriveDriver.head({ ...row, accessKey: 'not-the-refresh-token' }, 'direct/small.bin'))
      .rejects.toMatchObject({ code: Code.NotSet, msg: expect.stringContaining('refresh the access token: HTTP 400 invalid_grant') });
  });
});

// ---- Qiniu ------------------------------------------------------------------------------------------------------------

test.describe('qiniu', () => {
  test.describe.configure({ mode: 'default' });
  let s: Setup<QiniuWorld> | undefined;
  test.beforeAll(async () => { s = await setUp(() => openQiniuWorld({ targetUrl: '', runTag: 'ref-qn' }), 'qiniu'); });
  test.afterAll(async () => tearDown(s));
  test.afterEach(() => noViolations(s));
  const uri = (name: string) => `cloudreve://my/qn/${name}`;
  const keyOf = (session: UploadSession) => fromB64url(/\/objects\/([^/]+)\/uploads\//.exec(session.upload_urls![0]!)![1]!).toString('utf8');
  const signed = (sid: string, secret: string, body: string) => {
    const f = s!.world.policyFields;
    return { authorization: `QBox ${qboxToken(f.access_key, f.secret_key, `/api/v4/callback/qiniu/${sid}/${secret}`, '', 'application/json', body)}`,
      'content-type': 'application/json' };
  };

  test('REF-CLD-QN-001 upload token and server-side InitParts, parts to the up host, Qiniu calls back and relays: complete, byte-exact', async () => {
    const { user, world } = s!;
    const payload = new Payload(21, 3 * 64 * KiB + 777);
    const session = await user.ok('PUT', '/file/upload', { uri: uri('a.bin'), size: payload.size, mime_type: 'application/x-test' }) as UploadSession;
    const key = keyOf(session);
    expect(session).toMatchObject({ chunk_size: 64 * KiB, mime_type: 'application/x-test',
      upload_urls: [`${world.url}/buckets/${world.bucket}/objects/${Buffer.from(key).toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}/uploads/${session.upload_id}`] });
    expect(session.upload_id).toMatch(/^[0-9a-f]{40}$/);
    expect(world.uploadOpen(session)).toBe(true);
    const token = parseUploadToken(session.credential!)!;
    expect(token.accessKey).toBe(world.policyFields.access_key);
    expect(token.policy).toEqual({ scope: `${world.bucket}:${key}`, deadline: session.expires,
      callbackUrl: `${s!.target.url}/api/v4/callback/qiniu/${session.session_id}/${session.callback_secret}`,
      callbackBody: '{"size":$(fsize),"pic_info":"$(imageInfo.width),$(imageInfo.height)"}', callbackBodyType: 'application/json',
      forceSaveKey: true, saveKey: key, fsizeLimit: payload.size });

    const run = await uploadWithDriver(s!.driver(session), session, payload);
    expectUploaded(run);
    expect(run.chunks.length).toBe(4);
    expect(run.finish!.complete).toMatchObject({ status: 200, code: 0 });
    const cb = world.emulator.callbacks.at(-1)!;
    expect([cb.outcome, cb.status, cb.body]).toEqual(['ok', 200, `{"size":${payload.size},"pic_info":","}`]);
    expect(world.uploadOpen(session)).toBe(false);
    expect((await info(user, uri('a.bin'))).size).toBe(payload.size);
    expect(world.emulator.object(world.bucket, key)!.body.equals(whole(payload))).toBe(true);

    // Qiniu's callback once more, signed: the session is gone.
    const again = await callback(user, 'qiniu', session.session_id, session.callback_secret, { body: cb.body, headers: cb.headers });
    expect([again.status, again.json.code]).toEqual([401, Code.UploadSessionExpired]);
  });

  test('REF-CLD-QN-002 a callback without a valid QBox signature is refused (401 {"error"}) and completes nothing; wrong key 40020', async () => {
    const { user } = s!;
    const session = await user.ok('PUT', '/file/upload', { uri: uri('forged.bin'), size: 10 }) as UploadSession;
    const body = '{"size":10,"pic_info":","}';
    const bare = await callback(user, 'qiniu', session.session_id, session.callback_secret, { body, headers: { 'content-type': 'application/json' } });
    expect([bare.status, bare.json]).toEqual([401, { error: 'Invalid signature.' }]);
    const forged = signed(session.session_id, session.callback_secret, body);
    forged.authorization = forged.authorization.slice(0, -2) + (forged.authorization.endsWith('AA') ? 'BB' : 'AA');
    const bad = await callback(user, 'qiniu', session.session_id, session.callback_secret, { body, headers: forged });
    expect([bad.status, bad.json]).toEqual([401, { error: 'Invalid signature.' }]);
    // Signed with the policy's keys but for another path.
    const other = signed(session.session_id, 'x'.repeat(32), body);
    expect((await callback(user, 'qiniu', session.session_id, session.callback_secret, { body, headers: other })).status).toBe(401);
    const wrongKey = `${session.callback_secret.slice(0, -1)}x`;
    const wrong = await callback(user, 'qiniu', session.session_id, wrongKey, { body, headers: signed(session.session_id, wrongKey, body) });
    expect([wrong.status, wrong.json.code]).toEqual([401, Code.CredentialInvalid]);
    expect((await info(user, uri('forged.bin'))).size).toBe(0);

    // The same request correctly signed completes (Cloudreve checks nothing more for qiniu), once.
    const ok = await callback(user, 'qiniu', session.session_id, session.callback_secret, { body, headers: signed(session.session_id, session.callback_secret, body) });
    expect([ok.status, ok.json]).toEqual([200, { code: 0, msg: '' }]);
    expect((await info(user, uri('forged.bin'))).size).toBe(10);
    const twice = await callback(user, 'qiniu', session.session_id, session.callback_secret, { body, headers: signed(session.session_id, session.callback_secret, body) });
    expect([twice.status, twice.json.code]).toEqual([401, Code.UploadSessionExpired]);
  });

  test('REF-CLD-QN-003 cancel aborts the multipart upload: parts and completion refused (612), no file, nothing stored', async () => {
    const { user, world } = s!;
    const payload = new Payload(23, 2 * 64 * KiB);
    const session = await user.ok('PUT', '/file/upload', { uri: uri('cancel.bin'), size: payload.size }) as UploadSession;
    const driver = s!.driver(session);
    driver.begin(session, { size: payload.size });
    const [first, second] = driver.plan(session, payload.size);
    expect((await driver.sendChunk(session, first!, payload.stream(first!.offset, first!.length))).ok).toBe(true);
    expect(await user.json('DELETE', '/file/upload', { id: session.session_id, uri: session.uri })).toEqual({ code: 0, msg: '' });
    expect(world.uploadOpen(session)).toBe(false);
    const late = await driver.sendChunk(session, second!, payload.stream(second!.offset, second!.length));
    expect([late.status, late.providerCode]).toEqual([612, 'no such uploadId']);
    const finish = await driver.finish(session);
    expect([finish.complete!.status, finish.complete!.providerCode]).toEqual([612, 'no such uploadId']);
    expect(world.objects().map((o) => o.key)).not.toContain(keyOf(session));
    expect((await user.json('GET', `/file/info?uri=${encodeURIComponent(uri('cancel.bin'))}`)).code).toBe(Code.ParentNotExist);
  });

  test('REF-CLD-QN-004 the driver\'s relay write: a resumable upload without callback, stored byte-exact', async () => {
    const { world, row } = s!;
    const payload = new Payload(24, 2 * 64 * KiB + 99);
    await qiniuDriver.put(row, 'direct/put.bin', Readable.from([whole(payload)]), payload.size, 'application/octet-stream');
    expect(world.emulator.object(world.bucket, 'direct/put.bin')!.body.equals(whole(payload))).toBe(true);
    expect(world.emulator.callbacks.filter((c) => c.url.includes('direct'))).toEqual([]);
    expect(world.emulator.uploads().filter((u) => u.key === 'direct/put.bin')).toEqual([]);
  });

  test('REF-CLD-QN-005 the driver over the emulator: stat, private download (ranged), batch delete; download of an uploaded file', async () => {
    const { world, row, user } = s!;
    await driverRoundTrip(qiniuDriver, row, world, 'direct/round.bin', new Payload(25, 100 * KiB));
    const payload = new Payload(26, 64 * KiB + 5);
    const session = await user.ok('PUT', '/file/upload', { uri: uri('dl.bin'), size: payload.size }) as UploadSession;
    expectUploaded(await uploadWithDriver(s!.driver(session), session, payload));
    expect((await user.download(uri('dl.bin'))).equals(whole(payload))).toBe(true);
  });
});

// ---- Upyun ------------------------------------------------------------------------------------------------------------

test.describe('upyun', () => {
  test.describe.configure({ mode: 'default' });
  let s: Setup<UpyunWorld> | undefined;
  test.beforeAll(async () => { s = await setUp(() => openUpyunWorld({ targetUrl: '', runTag: 'ref-up' }), 'upyun'); });
  test.afterAll(async () => tearDown(s));
  test.afterEach(() => noViolations(s));
  const uri = (name: string) => `cloudreve://my/up/${name}`;
  const policyOf = (session: UploadSession) => JSON.parse(Buffer.from(session.upload_policy!, 'base64').toString('utf8')) as Record<string, unknown>;
  const notifyHeaders = (path: string, body: string, password = s!.world.policyFields.secret_key) => {
    const date = new Date().toUTCString();
    const md5 = md5hex(body);
    return { 'content-type': 'application/x-www-form-urlencoded', date, 'content-md5': md5,
      authorization: upyunAuthorization(s!.world.policyFields.access_key, password, ['POST', path, date, md5]) };
  };

  test('REF-CLD-UP-001 form policy and signature, one form POST, Upyun\'s asynchronous notify completes: byte-exact, second notify 40011', async () => {
    const { user, world } = s!;
    const payload = new Payload(31, 150 * KiB + 3);
    const session = await user.ok('PUT', '/file/upload', { uri: uri('a.bin'), size: payload.size }) as UploadSession;
    expect(session).toMatchObject({ upload_id: '', chunk_size: 0, upload_urls: [`${world.url}/${world.bucket}`],
      credential: expect.stringMatching(new RegExp(`^UPYUN ${world.policyFields.access_key}:[A-Za-z0-9+/]+=*$`)), mime_type: 'application/octet-stream' });
    const policy = policyOf(session);
    const key = policy['save-key'] as string;
    expect(policy).toEqual({ bucket: world.bucket, 'save-key': key, expiration: session.expires,
      'notify-url': `${s!.target.url}/api/v4/callback/upyun/${session.session_id}/${session.callback_secret}`,
      'content-length': payload.size, 'content-length-range': `0,${payload.size}` });
    expect(world.uploadOpen(session)).toBeUndefined();

    const run = await uploadWithDriver(s!.driver(session), session, payload);
    expectUploaded(run);
    expect(run.chunks.length).toBe(1);
    await world.emulator.flush();
    const n = world.emulator.notifications.at(-1)!;
    expect([n.status, n.responseBody]).toEqual([200, '{"code":0,"msg":""}']);
    expect((await info(user, uri('a.bin'))).size).toBe(payload.size);
    expect(world.objects()).toContainEqual({ key, size: payload.size });
    expect((await user.download(uri('a.bin'))).equals(whole(payload))).toBe(true);

    const again = await callback(user, 'upyun', session.session_id, session.callback_secret, { body: n.body, headers: n.headers });
    expect([again.status, again.json.code]).toEqual([401, Code.UploadSessionExpired]);
  });

  test('REF-CLD-UP-002 a notify with a bad signature or Content-MD5 is refused (401 {"error"}) and completes nothing; wrong key 40020', async () => {
    const { user } = s!;
    const session = await user.ok('PUT', '/file/upload', { uri: uri('forged.bin'), size: 10 }) as UploadSession;
    const path = `/api/v4/callback/upyun/${session.session_id}/${session.callback_secret}`;
    const body = 'code=200&message=ok&url=%2Fx&time=1';
    const refused = { error: 'Failed to verify callback request.' };
    const badSig = await callback(user, 'upyun', session.session_id, session.callback_secret, { body, headers: notifyHeaders(path, body, 'not-the-password') });
    expect([badSig.status, badSig.json]).toEqual([401, refused]);
    const badMd5 = await callback(user, 'upyun', session.session_id, session.callback_secret,
      { body: `${body}&x=1`, headers: notifyHeaders(path, body) });
    expect([badMd5.status, badMd5.json]).toEqual([401, refused]);
    const unsigned = await callback(user, 'upyun', session.session_id, session.callback_secret,
      { body, headers: { 'content-type': 'application/x-www-form-urlencoded', date: new Date().toUTCString(), 'content-md5': md5hex(body) } });
    expect([unsigned.status, unsigned.json]).toEqual([401, refused]);
    const wrongKey = `${session.callback_secret.slice(0, -1)}x`;
    const wrong = await callback(user, 'upyun', session.session_id, wrongKey,
      { body, headers: notifyHeaders(`/api/v4/callback/upyun/${session.session_id}/${wrongKey}`, body) });
    expect([wrong.status, wrong.json.code]).toEqual([401, Code.CredentialInvalid]);
    // Unlike Cloudreve 4.18.0 (which completes after writing the 401), nothing was completed.
    expect((await info(user, uri('forged.bin'))).size).toBe(0);

    const ok = await callback(user, 'upyun', session.session_id, session.callback_secret, { body, headers: notifyHeaders(path, body) });
    expect([ok.status, ok.json]).toEqual([200, { code: 0, msg: '' }]);
    expect((await info(user, uri('forged.bin'))).size).toBe(10);
  });

  test('REF-CLD-UP-003 cancel: nothing to undo at Upyun; the session, file and a late notify are gone', async () => {
    const { user, world } = s!;
    const session = await user.ok('PUT', '/file/upload', { uri: uri('cancel.bin'), size: 10 }) as UploadSession;
    const requests = world.emulator.requests.length;
    expect(await user.json('DELETE', '/file/upload', { id: session.session_id, uri: session.uri })).toEqual({ code: 0, msg: '' });
    // Nothing to abort; the placeholder's entity is removed at the provider (it was never written: 404).
    expect(world.emulator.requests.slice(requests).map((r) => [r.method, r.status])).toEqual([['DELETE', 404]]);
    expect((await user.json('GET', `/file/info?uri=${encodeURIComponent(uri('cancel.bin'))}`)).code).toBe(Code.ParentNotExist);
    const path = `/api/v4/callback/upyun/${session.session_id}/${session.callback_secret}`;
    const late = await callback(user, 'upyun', session.session_id, session.callback_secret, { body: 'code=200', headers: notifyHeaders(path, 'code=200') });
    expect([late.status, late.json.code]).toEqual([401, Code.UploadSessionExpired]);
  });

  test('REF-CLD-UP-004 the driver over the REST API: PUT (refused over an existing object), HEAD, ranged GET, async DELETE', async () => {
    const { world, row } = s!;
    await driverRoundTrip(upyunDriver, row, world, 'direct/round.bin', new Payload(34, 100 * KiB));
    await upyunDriver.put(row, 'direct/twice.bin', Readable.from([Buffer.from('one')]), 3);
    await expect(upyunDriver.put(row, 'direct/twice.bin', Readable.from([Buffer.from('two')]), 3)).rejects.toMatchObject({ code: Code.ObjectExist });
    const del = world.emulator.requests.filter((r) => r.method === 'DELETE');
    expect(del.length).toBeGreaterThan(0);
    expect(createHash('md5').update(world.emulator.file(world.bucket, 'direct/twice.bin')!.body).digest('hex')).toBe(md5hex('one'));
  });
});
