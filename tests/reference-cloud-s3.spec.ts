// REF-CLD-S3: the reference target's S3-family storage policies (s3, ks3, obs, and relay = an S3 policy with relay
// on) against the provider worlds the suite uses (harness/upload/worlds/s3.ts, obs.ts: the S3 / KS3 / OBS emulators on
// loopback, which verify every signature the target makes). A policy is created through the admin API with the
// world's fields and put on the User group; sessions are created, uploaded with the client's cloud drivers
// (harness/upload/cloud-drivers.ts), called back and cancelled through the validating transport (no contract
// violation allowed), and what the target did at the provider is read from the emulator. What is expected is what
// Cloudreve 4.18.0 answered (fixtures/transcripts/cloudreve-4.18.0-policies/s3*.jsonl, cloud_sessions.jsonl).
import { test, expect } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReference, type ReferenceTarget } from '../reference/index.js';
import { TestApi as Api, type Json } from '../reference/testing.js';
import { Code } from '../contracts/generated/error-codes.js';
import { validatingFetch } from '../harness/contract/transport.js';
import { CollectingSink, describeViolation } from '../harness/contract/violations.js';
import { AuthSession, createCloudreveClient, unwrap, type CloudreveClient } from '../harness/client/index.js';
import { LocalDriver, type UploadSession } from '../harness/upload/driver.js';
import { compareReadback, Payload } from '../harness/upload/payload.js';
import { planChunks } from '../harness/upload/plan.js';
import { cloudDriverFor, timedFetch, uploadWithDriver, type CloudUploadDriver } from '../harness/upload/cloud-drivers.js';
import { bucketFor, freshCredential, RELAY_CHUNK_SIZE, startKs3World, startRelayWorld, startS3World, WORLD_CHUNK_SIZE,
  type S3FamilyWorld } from '../harness/upload/worlds/s3.js';
import { startObsWorld } from '../harness/upload/worlds/obs.js';
import type { CloudPolicy } from '../harness/upload/provider-world.js';
import { OBS_CALLBACK_BODY } from '../reference/cloud/obs.js';
import { ObsEmulator } from '../harness/cloud/obs.js';
import { S3Emulator } from '../harness/cloud/s3.js';
import type { S3FamilyEmulator, S3FamilyOptions } from '../harness/cloud/s3-core.js';
import { mountNock } from '../harness/cloud/mount.js';

const CHUNK = WORLD_CHUNK_SIZE;

let dir: string;
let target: ReferenceTarget;
let admin: Api;

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-cloud-s3-'));
  target = await startReference({ dataDir: dir });
  admin = await new Api(target.url).login(target.identities.admin.email, target.identities.admin.password);
});

test.afterAll(async () => {
  await target?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Ctx<W extends S3FamilyWorld = S3FamilyWorld> {
  world: W;
  policyId: number;
  /** The user (group 2) as a small JSON client, for envelope-level checks. */
  user: Api;
  /** The user's validating openapi client (the cloud drivers' callbacks go through it). */
  client: CloudreveClient;
  sink: CollectingSink;
  driver(session: UploadSession): CloudUploadDriver | LocalDriver;
  /** Creates an upload session of `size` bytes at `uri`. */
  create(uri: string, size: number): Promise<UploadSession>;
  /** A client callback to /callback/<type>/<sid>/<key>: HTTP status and envelope. */
  callback(type: string, sid: string, key: string, method?: string): Promise<[number, Json]>;
  download(uri: string): Promise<Response>;
  close(): Promise<void>;
}

/** Starts a world, creates a policy of `type` pointing at it (admin API) and puts the User group on it. */
async function setUp<W extends S3FamilyWorld>(start: (o: { targetUrl: string; runTag: string }) => Promise<W>, type: string,
  tag: string): Promise<Ctx<W>> {
  const world = await start({ targetUrl: target.url, runTag: `ref-${tag}-${Date.now()}` });
  const f = world.policyFields;
  const policy = await admin.ok('PUT', '/admin/policy', { policy: { name: `ref-${tag}`, type, server: f.server, bucket_name: f.bucket_name,
    is_private: true, access_key: f.access_key, secret_key: f.secret_key, max_size: 0, dir_name_rule: 'uploads/{uid}/{path}',
    file_name_rule: '{uid}_{randomkey8}_{originname}', settings: { ...f.settings, chunk_size: world.chunkSize } } });
  const { total_users: _t, ...group } = await admin.ok('GET', '/admin/group/2');
  await admin.ok('PUT', '/admin/group/2', { group: { ...group, edges: { storage_policies: { id: policy.id } } } });
  const user = await new Api(target.url).login(target.identities.user.email, target.identities.user.password);
  const sink = new CollectingSink();
  const transport = validatingFetch({ sink });
  const client = createCloudreveClient({ siteUrl: target.url, fetch: transport });
  await new AuthSession(client, target.identities.user).login();
  return {
    world, policyId: policy.id, user, client, sink,
    driver: (session) => cloudDriverFor(session, { provider: timedFetch(20_000), cloudreve: client }),
    create: async (uri, size) => unwrap(await client.PUT('/file/upload', { body: { uri, size } }), `create ${uri}`) as UploadSession,
    callback: async (t, sid, key, method = 'GET') => {
      const res = await user.strict(`${target.url}/api/v4/callback/${t}/${sid}/${key}`, { method });
      return [res.status, await res.json() as Json];
    },
    download: async (uri) => {
      const d = unwrap(await client.POST('/file/url', { body: { uris: [uri], download: true } }), `url of ${uri}`);
      return transport(d.urls[0]!.url);
    },
    close: async () => {
      expect([...user.violations(), ...admin.violations(), ...sink.violations.map(describeViolation)]).toEqual([]);
      await world.close();
    },
  };
}

const info = (c: Ctx, uri: string) => c.user.ok('GET', `/file/info?uri=${encodeURIComponent(uri)}&extended=true`);
const params = (url: string) => Object.fromEntries(new URL(url).searchParams);

test('REF-CLD-S3-001 s3: CreateMultipartUpload and SigV4 presigned part/complete URLs; the client uploads, completes and calls back; byte-exact download', async () => {
  const c = await setUp(startS3World, 's3', 's3-001');
  try {
    const payload = new Payload(11, 3 * CHUNK + 1234);
    const uri = 'cloudreve://my/cloud-s3/ok.bin';
    const before = Math.floor(Date.now() / 1000);
    const session = await c.create(uri, payload.size);
    expect(session.storage_policy?.type).toBe('s3');
    expect(session.chunk_size).toBe(CHUNK);
    const uploads = c.world.emulator.listUploads(c.world.bucket);
    expect(uploads.map((u) => u.uploadId)).toEqual([session.upload_id]);
    expect(uploads[0]!.key).toMatch(/^uploads\/\d+\/cloud-s3\/\d+_[A-Za-z0-9]{8}_ok\.bin$/);
    expect(c.world.uploadOpen(session)).toBe(true);
    expect(session.upload_urls).toHaveLength(4);
    const ttl = session.expires - before;
    for (const [i, u] of session.upload_urls!.entries()) {
      const url = new URL(u);
      expect(url.origin).toBe(c.world.url);
      expect(url.pathname).toBe(`/${c.world.bucket}/${uploads[0]!.key}`);
      expect(params(u)).toMatchObject({ partNumber: String(i + 1), uploadId: session.upload_id, 'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
        'X-Amz-SignedHeaders': 'content-length;host' });
      expect(params(u)['X-Amz-Credential']).toMatch(new RegExp(`^${c.world.policyFields.access_key}/\\d{8}/us-east-1/s3/aws4_request$`));
      expect(Math.abs(Number(params(u)['X-Amz-Expires']) - ttl)).toBeLessThanOrEqual(2);
      expect(u).not.toContain(c.world.policyFields.secret_key);
    }
    expect(params(session.completeURL!)).toMatchObject({ uploadId: session.upload_id, 'X-Amz-SignedHeaders': 'host' });
    expect(params(session.completeURL!).partNumber).toBeUndefined();

    const run = await uploadWithDriver(c.driver(session) as CloudUploadDriver, session, payload);
    expect(run.chunks.map((a) => [a.index, a.status, a.ok])).toEqual([[0, 200, true], [1, 200, true], [2, 200, true], [3, 200, true]]);
    expect(run.finish?.complete?.status).toBe(200);
    expect([run.finish?.callback?.status, run.finish?.callback?.code]).toEqual([200, 0]);
    expect(run.ok).toBe(true);
    expect(c.world.uploadOpen(session)).toBe(false);
    expect(c.world.objects()).toEqual([{ key: uploads[0]!.key, size: payload.size }]);

    const file = await info(c, uri);
    expect(file.size).toBe(payload.size);
    expect(file.metadata ?? {}).toEqual({});
    const res = await c.download(uri);
    expect(res.status).toBe(200);
    expect(await compareReadback(payload, res.body!, CHUNK)).toEqual({ bytes: payload.size, sha256: payload.sha256(), mismatch: undefined });
    // A range read through the master is a ranged GetObject.
    const d = unwrap(await c.client.POST('/file/url', { body: { uris: [uri] } }), 'url');
    const part = await c.user.strict(d.urls[0]!.url, { headers: { Range: `bytes=${CHUNK - 10}-${CHUNK + 9}` } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(payload.range(CHUNK - 10, CHUNK + 10))).toBe(true);

    // The session is gone after the first successful callback.
    expect(await c.callback('s3', session.session_id, session.callback_secret)).toEqual([401,
      expect.objectContaining({ code: Code.UploadSessionExpired, msg: 'Upload session does not exist or expired' })]);
    // What the target did at the provider, each request signed: HEAD (the key is free), create, HEAD at the callback,
    // GETs of the downloads; the parts and the complete came from the client's presigned URLs.
    const ops = c.world.emulator.requests().map((r) => `${r.operation} ${r.status} ${r.auth}`);
    expect(ops.slice(0, 2)).toEqual(['HeadObject 404 sigv4-header', 'CreateMultipartUpload 200 sigv4-header']);
    expect(ops.slice(2, 7)).toEqual([...Array(4).fill('UploadPart 200 sigv4-query'), 'CompleteMultipartUpload 200 sigv4-query']);
    expect(ops[7]).toBe('HeadObject 200 sigv4-header');
    expect(ops.slice(8).every((o) => /^(HeadObject|GetObject) 20[06] sigv4-header$/.test(o))).toBe(true);
  } finally {
    await c.close();
  }
});

test('REF-CLD-S3-002 s3 callback: before complete 400/-1, wrong key 401/40020, other type 401/40006, fewer parts 400/40055 with the session kept', async () => {
  const c = await setUp(startS3World, 's3', 's3-002');
  try {
    const payload = new Payload(12, 2 * CHUNK + 100);
    const uri = 'cloudreve://my/cloud-s3/short.bin';
    const session = await c.create(uri, payload.size);
    const { session_id: sid, callback_secret: key } = session;
    expect(await c.callback('s3', sid, key)).toEqual([400, expect.objectContaining({ code: Code.NotSet, msg: '' })]);
    expect(await c.callback('s3', sid, 'wrongkey0000')).toEqual([401, expect.objectContaining({ code: Code.CredentialInvalid, msg: 'Invalid callback secret' })]);
    expect(await c.callback('ks3', sid, key)).toEqual([401, expect.objectContaining({ code: Code.PolicyNotAllowed })]);
    // The master's chunk route is not for a non-relay s3 session.
    expect(await c.user.chunk(sid, 0, payload.range(0, CHUNK))).toMatchObject({ code: Code.PolicyNotAllowed });

    // Two of three parts, completed at the provider: the object is one part short.
    const driver = c.driver(session) as CloudUploadDriver;
    driver.begin(session, { size: payload.size });
    for (const chunk of planChunks(payload.size, CHUNK).slice(0, 2)) {
      expect((await driver.sendChunk(session, chunk, payload.stream(chunk.offset, chunk.length))).ok).toBe(true);
    }
    const finish = await driver.finish(session);
    expect(finish.complete?.status).toBe(200);
    const mismatch = `File size not match, expected: ${payload.size}, actual: ${2 * CHUNK}`;
    expect([finish.callback?.status, finish.callback?.code, finish.callback?.msg]).toEqual([400, Code.MetaMismatch, mismatch]);
    expect(await c.callback('s3', sid, key)).toEqual([400, expect.objectContaining({ code: Code.MetaMismatch, msg: mismatch })]);
    const file = await info(c, uri);
    expect([file.size, file.metadata?.['sys:upload_session_id']]).toEqual([0, sid]);
    // The multipart upload is completed: nothing is left to abort (NoSuchUpload), the cancel succeeds and the object
    // goes with the entity (the real 4.18.0 answers -1 and leaves it: a listed deviation).
    expect(await c.user.json('DELETE', '/file/upload', { id: sid, uri })).toMatchObject({ code: Code.Success });
  } finally {
    await c.close();
  }
});

test('REF-CLD-S3-003 s3 cancel: DELETE aborts the multipart upload; later parts get NoSuchUpload, the callback 40011; quota back', async () => {
  const c = await setUp(startS3World, 's3', 's3-003');
  try {
    const payload = new Payload(13, 2 * CHUNK + 5);
    const uri = 'cloudreve://my/cloud-s3/cancel.bin';
    const before = (await c.user.ok('GET', '/user/capacity')).used;
    const session = await c.create(uri, payload.size);
    expect((await c.user.ok('GET', '/user/capacity')).used).toBe(before + payload.size);
    const driver = c.driver(session) as CloudUploadDriver;
    const [first, second] = planChunks(payload.size, CHUNK);
    expect((await driver.sendChunk(session, first!, payload.stream(first!.offset, first!.length))).ok).toBe(true);
    expect(c.world.uploadOpen(session)).toBe(true);
    await c.user.ok('DELETE', '/file/upload', { id: session.session_id, uri });
    expect(c.world.uploadOpen(session)).toBe(false);
    expect(c.world.emulator.listUploads(c.world.bucket)).toEqual([]);
    const late = await driver.sendChunk(session, second!, payload.stream(second!.offset, second!.length));
    expect([late.status, late.providerCode]).toEqual([404, 'NoSuchUpload']);
    expect(await c.callback('s3', session.session_id, session.callback_secret)).toEqual([401, expect.objectContaining({ code: Code.UploadSessionExpired })]);
    expect((await c.user.ok('GET', '/user/capacity')).used).toBe(before);
    expect(await c.user.json('DELETE', '/file/upload', { id: session.session_id, uri })).toMatchObject({ code: Code.ParentNotExist });
    expect(c.world.objects()).toEqual([]);
  } finally {
    await c.close();
  }
});

test('REF-CLD-S3-004 ks3: V2 presigned URLs (AWSAccessKeyId/Expires/Signature, Content-Type signed), upload and callback, errors, cancel', async () => {
  const c = await setUp(startKs3World, 'ks3', 'ks3-004');
  try {
    const payload = new Payload(14, 2 * CHUNK + 77);
    const uri = 'cloudreve://my/cloud-ks3/ok.bin';
    const session = await c.create(uri, payload.size);
    expect(session.storage_policy?.type).toBe('ks3');
    expect(c.world.uploadOpen(session)).toBe(true);
    expect(session.upload_urls).toHaveLength(3);
    for (const [i, u] of session.upload_urls!.entries()) {
      expect(params(u)).toEqual({ partNumber: String(i + 1), uploadId: session.upload_id, AWSAccessKeyId: c.world.policyFields.access_key,
        Expires: String(session.expires), Signature: expect.stringMatching(/^[A-Za-z0-9+/]{27}=$/) });
    }
    expect(params(session.completeURL!)).toEqual({ uploadId: session.upload_id, AWSAccessKeyId: c.world.policyFields.access_key,
      Expires: String(session.expires), Signature: expect.any(String) });
    expect(await c.callback('ks3', session.session_id, session.callback_secret)).toEqual([400, expect.objectContaining({ code: Code.NotSet })]);

    const run = await uploadWithDriver(c.driver(session) as CloudUploadDriver, session, payload);
    expect(run.ok).toBe(true);
    expect([run.finish?.callback?.status, run.finish?.callback?.code]).toEqual([200, 0]);
    expect((await info(c, uri)).size).toBe(payload.size);
    const res = await c.download(uri);
    expect(await compareReadback(payload, res.body!, CHUNK)).toEqual({ bytes: payload.size, sha256: payload.sha256(), mismatch: undefined });
    expect(await c.callback('ks3', session.session_id, session.callback_secret)).toEqual([401, expect.objectContaining({ code: Code.UploadSessionExpired })]);
    const kinds = new Set(c.world.emulator.requests().map((r) => `${r.operation} ${r.auth}`));
    expect([...kinds]).toEqual(expect.arrayContaining(['CreateMultipartUpload v2-header', 'UploadPart v2-query', 'CompleteMultipartUpload v2-query',
      'HeadObject v2-header', 'GetObject v2-header']));

    // A part that is too small (not the last) is refused at completion; the callback then finds no object.
    const small = await c.create('cloudreve://my/cloud-ks3/small.bin', 3 * CHUNK);
    const d = c.driver(small) as CloudUploadDriver;
    d.begin(small, { size: 3 * CHUNK });
    const parts = planChunks(3 * CHUNK, CHUNK);
    for (const p of parts) expect((await d.sendChunk(small, p, payload.range(0, p.length))).ok).toBe(true);
    const shortPart = { ...parts[1]!, length: CHUNK - 1 };
    const resent = await d.sendChunk(small, shortPart, payload.range(0, CHUNK - 1));
    expect(resent.ok).toBe(true); // KS3 does not sign the length: a short part is accepted…
    const finish = await d.finish(small);
    expect([finish.complete?.status, finish.complete?.providerCode]).toEqual([400, 'EntityTooSmall']); // …and refused at completion.

    // Cancel aborts the multipart upload.
    await c.user.ok('DELETE', '/file/upload', { id: small.session_id, uri: 'cloudreve://my/cloud-ks3/small.bin' });
    expect(c.world.uploadOpen(small)).toBe(false);
    expect(c.world.emulator.listUploads(c.world.bucket)).toEqual([]);
  } finally {
    await c.close();
  }
});

test('REF-CLD-S3-005 obs: path-style V2 URLs on an IP endpoint, x-obs-callback policy; OBS calls the target back on complete and relays its answer', async () => {
  const c = await setUp<S3FamilyWorld<ObsEmulator>>(startObsWorld, 'obs', 'obs-005');
  try {
    const payload = new Payload(15, 2 * CHUNK + 300);
    const uri = 'cloudreve://my/cloud-obs/ok.bin';
    const session = await c.create(uri, payload.size);
    expect(session.storage_policy?.type).toBe('obs');
    expect(session.upload_urls).toHaveLength(3);
    for (const [i, u] of session.upload_urls!.entries()) {
      expect(new URL(u).pathname.startsWith(`/${c.world.bucket}/uploads/`)).toBe(true);
      expect(params(u)).toEqual({ partNumber: String(i + 1), uploadId: session.upload_id, AWSAccessKeyId: c.world.policyFields.access_key,
        Expires: String(session.expires), Signature: expect.any(String) });
    }
    const complete = params(session.completeURL!);
    expect(Object.keys(complete)).toEqual(['uploadId', 'x-obs-callback', 'AWSAccessKeyId', 'Expires', 'Signature']);
    expect(JSON.parse(Buffer.from(complete['x-obs-callback']!, 'base64').toString('utf8'))).toEqual({
      callbackUrl: `${target.url}/api/v4/callback/obs/${session.session_id}/${session.callback_secret}`,
      callbackBody: OBS_CALLBACK_BODY, callbackBodyType: 'application/json' });

    const run = await uploadWithDriver(c.driver(session) as CloudUploadDriver, session, payload);
    expect(run.finish?.by).toBe('provider-callback');
    expect([run.finish?.complete?.status, run.finish?.complete?.code]).toEqual([200, 0]);
    expect(run.ok).toBe(true);
    const [callback] = c.world.emulator.callbacks();
    const key = c.world.objects()[0]!.key;
    expect(callback).toMatchObject({ status: 200, contentType: 'application/json',
      url: `${target.url}/api/v4/callback/obs/${session.session_id}/${session.callback_secret}` });
    expect(JSON.parse(callback!.body)).toEqual({ name: key, source_name: key.split('/').pop(), size: payload.size });
    expect(c.world.objects()).toEqual([{ key, size: payload.size }]);
    expect((await info(c, uri)).size).toBe(payload.size);
    const res = await c.download(uri);
    expect(await compareReadback(payload, res.body!, CHUNK)).toEqual({ bytes: payload.size, sha256: payload.sha256(), mismatch: undefined });
    expect(await c.callback('obs', session.session_id, session.callback_secret, 'POST')).toEqual([401, expect.objectContaining({ code: Code.UploadSessionExpired })]);
    const auths = new Set(c.world.emulator.requests().map((r) => `${r.operation} ${r.auth} ${r.flavor}`));
    expect([...auths]).toEqual(expect.arrayContaining(['CreateMultipartUpload v2-header obs-v2', 'UploadPart v2-query obs-v2',
      'CompleteMultipartUpload v2-query obs-v2', 'GetObject v2-header obs-v2']));

    // Only the session and the key are checked: a wrong key is 401/40020; the right one completes the upload whatever
    // the provider holds (4.18.0: no signature, no HEAD, no size check).
    const bare = await c.create('cloudreve://my/cloud-obs/bare.bin', 10);
    expect(await c.callback('obs', bare.session_id, 'wrongkey0000', 'POST')).toEqual([401, expect.objectContaining({ code: Code.CredentialInvalid })]);
    expect(await c.callback('obs', bare.session_id, bare.callback_secret, 'POST')).toEqual([200, { code: 0, msg: '' }]);
    expect((await info(c, 'cloudreve://my/cloud-obs/bare.bin')).size).toBe(10);

    // Cancel aborts the multipart upload.
    const cancelled = await c.create('cloudreve://my/cloud-obs/cancel.bin', CHUNK + 1);
    expect(c.world.uploadOpen(cancelled)).toBe(true);
    await c.user.ok('DELETE', '/file/upload', { id: cancelled.session_id, uri: 'cloudreve://my/cloud-obs/cancel.bin' });
    expect(c.world.uploadOpen(cancelled)).toBe(false);
  } finally {
    await c.close();
  }
});

test('REF-CLD-S3-006 relay: chunk size 0, the whole file as chunk 0 to the master, stored with PutObject; downloads, small files and deletes go to S3 too', async () => {
  const c = await setUp(startRelayWorld, 's3', 'relay-006');
  try {
    const payload = new Payload(16, 3 * CHUNK + 999);
    const uri = 'cloudreve://my/cloud-relay/relay.bin';
    const session = await c.create(uri, payload.size);
    expect(session).toMatchObject({ chunk_size: 0, upload_id: '', storage_policy: { type: 's3', relay: true } });
    expect(session.upload_urls).toBeUndefined();
    expect(session.completeURL).toBeUndefined();
    expect(c.world.uploadOpen(session)).toBeUndefined();
    const driver = c.driver(session);
    expect(driver).toBeInstanceOf(LocalDriver);
    const [whole] = planChunks(payload.size, 0);
    const short = await driver.sendChunk(session, { ...whole!, length: payload.size - 1 }, payload.stream(0, payload.size - 1));
    expect(short.code).toBe(Code.InvalidContentLength);
    expect(c.world.objects()).toEqual([]);
    const sent = await driver.sendChunk(session, whole!, payload.stream());
    expect([sent.status, sent.code]).toEqual([200, 0]);
    const [object] = c.world.objects();
    expect(object).toEqual({ key: expect.stringMatching(/^uploads\/\d+\/cloud-relay\/\d+_[A-Za-z0-9]{8}_relay\.bin$/), size: payload.size });
    expect(c.world.emulator.listUploads(c.world.bucket)).toEqual([]);
    expect(c.world.emulator.objectBytes(c.world.bucket, object!.key)!.equals(Buffer.concat([...payload.blocks()]))).toBe(true);
    expect((await info(c, uri)).size).toBe(payload.size);
    const res = await c.download(uri);
    expect(await compareReadback(payload, res.body!, 0)).toEqual({ bytes: payload.size, sha256: payload.sha256(), mismatch: undefined });
    expect(await c.user.chunk(session.session_id, 0, payload.range(0, 10))).toMatchObject({ code: Code.UploadSessionExpired });
    expect(await c.callback('s3', session.session_id, session.callback_secret)).toEqual([401, expect.objectContaining({ code: Code.UploadSessionExpired })]);

    // PUT /file/content stores the object with PutObject as well; an empty file is an empty object.
    expect(await c.user.content('cloudreve://my/cloud-relay/note.txt', Buffer.from('hello s3\n'))).toMatchObject({ code: 0 });
    expect(await c.user.content('cloudreve://my/cloud-relay/empty.txt', Buffer.alloc(0))).toMatchObject({ code: 0 });
    expect(c.world.objects().map((o) => [o.key.split('_').pop(), o.size]).sort()).toEqual([['empty.txt', 0], ['note.txt', 9], ['relay.bin', payload.size]]);
    expect((await c.user.download('cloudreve://my/cloud-relay/note.txt')).toString()).toBe('hello s3\n');
    const note = c.world.emulator.listObjects(c.world.bucket).find((o) => o.key.endsWith('_note.txt'))!;
    expect(note.contentType).toBe('text/plain; charset=utf-8');

    // Deleting the files for good deletes the objects.
    await c.user.ok('DELETE', '/file', { uris: ['cloudreve://my/cloud-relay/relay.bin', 'cloudreve://my/cloud-relay/note.txt',
      'cloudreve://my/cloud-relay/empty.txt'], skip_soft_delete: true });
    expect(c.world.objects()).toEqual([]);
  } finally {
    await c.close();
  }
});

test('REF-CLD-S3-007 provider failures: an unreachable endpoint or wrong keys fail the session with -1, an existing object 40004; nothing left behind', async () => {
  const c = await setUp(startS3World, 's3', 's3-007');
  try {
    const before = (await c.user.ok('GET', '/user/capacity')).used;
    const policy = await admin.ok('GET', `/admin/policy/${c.policyId}`);
    // Wrong secret: the emulator refuses the signature.
    await admin.ok('PUT', `/admin/policy/${policy.id}`, { policy: { ...policy, secret_key: 'not-the-secret' } });
    const bad = await c.user.json('PUT', '/file/upload', { uri: 'cloudreve://my/cloud-s3/bad.bin', size: 10 });
    expect(bad.code).toBe(Code.NotSet);
    expect(bad.msg).toMatch(/^S3 CreateMultipartUpload of ".+" failed: HTTP 403 SignatureDoesNotMatch/);
    expect(bad.msg).not.toContain('not-the-secret');
    // A dead port.
    await admin.ok('PUT', `/admin/policy/${policy.id}`, { policy: { ...policy, server: 'http://127.0.0.1:9' } });
    const dead = await c.user.json('PUT', '/file/upload', { uri: 'cloudreve://my/cloud-s3/dead.bin', size: 10 });
    expect(dead.code).toBe(Code.NotSet);
    expect(dead.msg).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
    expect((await c.user.ok('GET', '/user/capacity')).used).toBe(before);
    expect(c.world.emulator.listUploads(c.world.bucket)).toEqual([]);
    // Token's duplicate check: an object already at the save path refuses the session (40004) before anything opens.
    await admin.ok('PUT', `/admin/policy/${policy.id}`, { policy: { ...policy, dir_name_rule: 'fixed', file_name_rule: '{originname}' } });
    c.world.emulator.putObjectDirect(c.world.bucket, 'fixed/exists.bin', 'already here');
    expect(await c.user.json('PUT', '/file/upload', { uri: 'cloudreve://my/cloud-s3/exists.bin', size: 10 }))
      .toMatchObject({ code: Code.ObjectExist, msg: 'Object existed' });
    expect(c.world.emulator.listUploads(c.world.bucket)).toEqual([]);
    const fresh = await c.create('cloudreve://my/cloud-s3/fresh.bin', 10);
    expect(c.world.emulator.listUploads(c.world.bucket).map((u) => u.key)).toEqual(['fixed/fresh.bin']);
    await c.user.ok('DELETE', '/file/upload', { id: fresh.session_id, uri: 'cloudreve://my/cloud-s3/fresh.bin' });
    expect((await c.user.ok('GET', '/user/capacity')).used).toBe(before);
  } finally {
    await c.close();
  }
});

test('REF-CLD-S3-008 the worlds: S3-valid bucket names, fresh keys per world, policy fields a real Cloudreve accepts', async () => {
  expect(bucketFor('Run_ABC.def-w0-s3')).toBe('cr-run-abc-def-w0-s3');
  const long = bucketFor('x'.repeat(100));
  expect(long.length).toBeLessThanOrEqual(63);
  expect(long).toMatch(/^[a-z0-9][a-z0-9-]*[a-z0-9]$/);
  const a = await startS3World({ targetUrl: target.url, runTag: 't-a' });
  const b = await startRelayWorld({ targetUrl: target.url, runTag: 't-b' });
  try {
    expect(a.policyFields.access_key).not.toBe(b.policyFields.access_key);
    expect(a.policyFields.secret_key).not.toBe(b.policyFields.secret_key);
    expect(a.secrets).toEqual([a.policyFields.secret_key, a.policyFields.access_key]);
    expect(a.policyFields).toEqual({ server: a.url, bucket_name: 'cr-t-a', access_key: expect.stringMatching(/^[A-Z0-9]{20}$/),
      secret_key: expect.stringMatching(/^[A-Za-z0-9+/]{40}$/), settings: { region: 'us-east-1', s3_path_style: true } });
    expect(b.policyFields.settings).toEqual({ region: 'us-east-1', s3_path_style: true, relay: true });
    expect([a.chunkSize, b.chunkSize]).toEqual([CHUNK, RELAY_CHUNK_SIZE]);
    expect(a.objects()).toEqual([]);
  } finally {
    await a.close();
    await b.close();
  }
});

/** A world whose emulator answers in-process (nock) on the provider's own virtual-hosted origin. */
async function nockedWorld<E extends S3FamilyEmulator>(policy: CloudPolicy, make: (o: S3FamilyOptions) => E, bucket: string,
  server: string, settings: Record<string, unknown>): Promise<S3FamilyWorld<E>> {
  const credential = freshCredential();
  const emulator = make({ credentials: credential, buckets: [bucket], region: 'us-east-1', minPartSize: CHUNK });
  const e = new URL(server);
  const unmount = mountNock(emulator, [`${e.protocol}//${bucket}.${e.host}`]);
  return { policy, url: server, chunkSize: CHUNK, emulator, bucket, secrets: [credential.secretAccessKey],
    policyFields: { server, bucket_name: bucket, access_key: credential.accessKeyId, secret_key: credential.secretAccessKey, settings },
    uploadOpen: (s) => emulator.listUploads(bucket).some((u) => u.uploadId === s.upload_id),
    objects: () => emulator.listObjects(bucket).map(({ key, size }) => ({ key, size })),
    close: async () => unmount() };
}

test('REF-CLD-S3-009 domain endpoints: s3 without path style and obs are virtual-hosted; OBS then signs with its own scheme (AccessKeyId, OBS AK:sig)', async () => {
  const s3 = await setUp(() => nockedWorld('s3', (o) => new S3Emulator(o), 'cr-vhost', 'https://s3.us-east-1.amazonaws.com',
    { region: 'us-east-1', s3_path_style: false }), 's3', 's3-009');
  try {
    const payload = new Payload(19, CHUNK + 5);
    const session = await s3.create('cloudreve://my/cloud-vhost/s3.bin', payload.size);
    for (const u of [...session.upload_urls!, session.completeURL!]) expect(new URL(u).origin).toBe('https://cr-vhost.s3.us-east-1.amazonaws.com');
    expect(new URL(session.upload_urls![0]!).pathname).toMatch(/^\/uploads\/\d+\/cloud-vhost\/\d+_[A-Za-z0-9]{8}_s3\.bin$/);
    const run = await uploadWithDriver(s3.driver(session) as CloudUploadDriver, session, payload);
    expect(run.ok).toBe(true);
    const res = await s3.download('cloudreve://my/cloud-vhost/s3.bin');
    expect(await compareReadback(payload, res.body!, CHUNK)).toEqual({ bytes: payload.size, sha256: payload.sha256(), mismatch: undefined });
    expect(new Set(s3.world.emulator.requests().map((r) => new URL(r.url).host))).toEqual(new Set(['cr-vhost.s3.us-east-1.amazonaws.com']));
  } finally {
    await s3.close();
  }

  const obs = await setUp(() => nockedWorld('obs', (o) => new ObsEmulator(o), 'cr-vhost', 'https://obs.cn-north-4.myhuaweicloud.com',
    { region: 'cn-north-4' }), 'obs', 'obs-009');
  try {
    const payload = new Payload(20, CHUNK + 5);
    const session = await obs.create('cloudreve://my/cloud-vhost/obs.bin', payload.size);
    expect(new URL(session.completeURL!).origin).toBe('https://cr-vhost.obs.cn-north-4.myhuaweicloud.com');
    expect(Object.keys(params(session.upload_urls![0]!))).toEqual(['partNumber', 'uploadId', 'AccessKeyId', 'Expires', 'Signature']);
    expect(Object.keys(params(session.completeURL!))).toEqual(['uploadId', 'x-obs-callback', 'AccessKeyId', 'Expires', 'Signature']);
    const run = await uploadWithDriver(obs.driver(session) as CloudUploadDriver, session, payload);
    expect([run.ok, run.finish?.complete?.status, run.finish?.complete?.code]).toEqual([true, 200, 0]);
    expect((await info(obs, 'cloudreve://my/cloud-vhost/obs.bin')).size).toBe(payload.size);
    const res = await obs.download('cloudreve://my/cloud-vhost/obs.bin');
    expect(await compareReadback(payload, res.body!, CHUNK)).toEqual({ bytes: payload.size, sha256: payload.sha256(), mismatch: undefined });
    const auths = new Set(obs.world.emulator.requests().map((r) => `${r.operation} ${r.auth} ${r.flavor}`));
    expect([...auths]).toEqual(expect.arrayContaining(['HeadObject v2-header obs', 'CreateMultipartUpload v2-header obs',
      'UploadPart v2-query obs', 'CompleteMultipartUpload v2-query obs', 'GetObject v2-header obs']));
  } finally {
    await obs.close();
  }
});
