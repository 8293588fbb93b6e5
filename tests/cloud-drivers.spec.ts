// CT-CLOUD-DRV: the cloud upload drivers do on the wire what Cloudreve's web client does for each cloud policy. Each
// test builds the session the way Cloudreve 4.18.0 hands it out (the emulator's issueSession, or the same signing the
// emulator verifies), runs the driver through a multi-part upload against the loopback-mounted emulator, checks the
// stored object byte for byte (compareReadback), and checks that the finish step reached a stand-in for Cloudreve's
// callback route with what Cloudreve expects: method, /api/v4/callback/<type>/<session>/<secret>, and for provider
// callbacks the provider's signature, verified the way Cloudreve verifies it. Cloudreve calls go through the
// validating transport: the contract must hold for them too.
import { test, expect } from '@playwright/test';
import { randomUUID } from 'node:crypto';
import { mountLoopback, type LoopbackMount, type ProviderEmulator } from '../harness/cloud/mount.js';
import { S3Emulator } from '../harness/cloud/s3.js';
import { Ks3Emulator, KS3_V2 } from '../harness/cloud/ks3.js';
import { CosEmulator } from '../harness/cloud/cos.js';
import { OssEmulator } from '../harness/cloud/oss.js';
import { ObsEmulator } from '../harness/cloud/obs.js';
import { QiniuEmulator } from '../harness/cloud/qiniu.js';
import { UpyunEmulator } from '../harness/cloud/upyun.js';
import { OneDriveEmulator, FRAGMENT_UNIT } from '../harness/cloud/onedrive.js';
import { presignV2 } from '../harness/cloud/s3-v2sign.js';
import { verifyOssCallbackAsCloudreve } from '../harness/cloud/oss-sign.js';
import { verifyQiniuCallbackAsCloudreve } from '../harness/cloud/qiniu-sign.js';
import { verifyUpyunNotifyAsCloudreve } from '../harness/cloud/upyun-sign.js';
import { issueSession, startStandIn, type StandIn, type StandInRequest } from '../harness/cloud/cassette.js';
import { createCloudreveClient, type CloudreveClient } from '../harness/client/index.js';
import { validatingFetch } from '../harness/contract/transport.js';
import { CollectingSink } from '../harness/contract/violations.js';
import { LocalDriver, type UploadSession } from '../harness/upload/driver.js';
import { compareReadback, Payload } from '../harness/upload/payload.js';
import { cloudDriver, cloudDriverFor, S3LikeDriver, timedFetch, uploadWithDriver, type CloudFlow, type CloudUploadDriver,
  type UploadRun } from '../harness/upload/cloud-drivers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SECRET = 'Cb0SecretSecretSecretSecretSecr1'; // 32 alphanumerics, like Cloudreve's callback_secret
const OK = { status: 200, body: '{"code":0,"msg":""}' };

/** Cloudreve's session-secret check (4.18.0, every callback route): a wrong key is HTTP 401 + 40020. */
function secretChecked(next: (r: StandInRequest) => { status: number; body: string } | Promise<{ status: number; body: string }> = () => OK) {
  return (r: StandInRequest) => (r.path.endsWith(`/${SECRET}`) ? next(r)
    : { status: 401, body: `{"code":40020,"msg":"Invalid callback secret","correlation_id":"${randomUUID()}"}` });
}

interface World {
  mount: LoopbackMount;
  cloudreve: StandIn;
  client: CloudreveClient;
  sink: CollectingSink;
  driver(flow: CloudFlow): CloudUploadDriver;
  close(): Promise<void>;
}

async function world(emu: ProviderEmulator, answer: Parameters<typeof startStandIn>[0] = secretChecked()): Promise<World> {
  const mount = await mountLoopback(emu);
  const cloudreve = await startStandIn(answer);
  const sink = new CollectingSink();
  const client = createCloudreveClient({ siteUrl: cloudreve.url, fetch: validatingFetch({ sink }) });
  return { mount, cloudreve, client, sink, driver: (flow) => cloudDriver(flow, { provider: timedFetch(20_000), cloudreve: client }),
    close: async () => { await cloudreve.close(); await mount.close(); } };
}

function session(type: string, o: Partial<UploadSession> & { name: string }): UploadSession {
  return { session_id: randomUUID(), upload_id: '', chunk_size: 0, expires: Math.floor(Date.now() / 1000) + 86400, callback_secret: SECRET,
    uri: `cloudreve://my/drivers/${encodeURIComponent(o.name)}`, storage_policy: { id: 'Xy3', name: `${type} policy`, type, max_size: 0 } as UploadSession['storage_policy'],
    ...o } as UploadSession;
}

async function readback(payload: Payload, bytes: Buffer | undefined, chunkSize: number) {
  expect(bytes, 'the provider holds the object').toBeDefined();
  return compareReadback(payload, (async function* () { yield bytes!; })(), chunkSize);
}

function expectUploaded(run: UploadRun, parts: number): void {
  expect(run.chunks.map((c) => [c.status, c.ok, c.providerCode ?? null])).toEqual(Array.from({ length: parts }, () => [expect.any(Number), true, null]));
  expect(run.ok, JSON.stringify(run.finish)).toBe(true);
}

test('CT-CLOUD-DRV-001 s3: presigned part PUTs (ETags kept), CompleteMultipartUpload XML, then GET /callback/s3/<sid>/<secret>', async () => {
  const emu = new S3Emulator({ credentials: { accessKeyId: 'DRVS3AK', secretAccessKey: 'drv/s3+secret' }, buckets: ['cr'], region: 'us-east-1' });
  const w = await world(emu);
  try {
    const payload = new Payload(11, 2 * 5 * MiB + 777);
    const key = 's3/7/drivers/7_Ab_report 中.bin';
    const s = await issueSession({ provider: 's3', endpoint: w.mount.url, bucket: 'cr', region: 'us-east-1', accessKey: 'DRVS3AK', secretKey: 'drv/s3+secret' },
      { key, size: payload.size, chunkSize: 5 * MiB, callbackBase: w.cloudreve.url, callbackSecret: SECRET });
    expect(s.upload_urls).toHaveLength(3);
    expect(s.upload_urls![0]).toContain('X-Amz-SignedHeaders=content-length%3Bhost');
    const run = await uploadWithDriver(w.driver('s3'), s, payload);
    expectUploaded(run, 3);
    expect(run.chunks.every((c) => /^"[0-9a-f]{32}"$/.test(c.etag ?? ''))).toBe(true);
    expect(run.finish).toMatchObject({ by: 'client-callback', complete: { status: 200 }, callback: { status: 200, code: 0 } });
    const rb = await readback(payload, emu.objectBytes('cr', key), 5 * MiB);
    expect(rb).toMatchObject({ bytes: payload.size, sha256: payload.sha256() });
    expect(rb.mismatch).toBeUndefined();
    expect(emu.listUploads()).toEqual([]);
    expect(w.cloudreve.received.map((r) => [r.method, r.path])).toEqual([['GET', `/api/v4/callback/s3/${s.session_id}/${SECRET}`]]);
    expect(w.cloudreve.received[0]!.headers.authorization).toBeUndefined();
    expect(w.sink.violations).toEqual([]);
  } finally {
    await w.close();
  }
});

test('CT-CLOUD-DRV-002 s3: a refused part stops the upload (status, S3 code, no finish); a refused callback reports its envelope code', async () => {
  const emu = new S3Emulator({ credentials: { accessKeyId: 'DRVS3AK', secretAccessKey: 'drv/s3+secret' }, buckets: ['cr'], region: 'us-east-1' });
  const w = await world(emu);
  try {
    const account = { provider: 's3' as const, endpoint: w.mount.url, bucket: 'cr', region: 'us-east-1', accessKey: 'DRVS3AK', secretKey: 'drv/s3+secret' };
    const payload = new Payload(12, 5 * MiB + 10);
    const s = await issueSession(account, { key: 'neg/a.bin', size: payload.size, chunkSize: 5 * MiB, callbackBase: w.cloudreve.url, callbackSecret: SECRET });
    const tampered = { ...s, upload_urls: s.upload_urls!.map((u) => u.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`)) };
    const bad = await uploadWithDriver(w.driver('s3'), tampered, payload);
    expect(bad.chunks).toHaveLength(1);
    expect(bad.chunks[0]).toMatchObject({ status: 403, ok: false, providerCode: 'SignatureDoesNotMatch' });
    expect(bad.chunks[0]!.url).toContain('X-Amz-Signature=<redacted>');
    expect(bad.finish).toBeUndefined();

    // The right parts, but a session whose secret Cloudreve does not know: complete succeeds, the callback is 401 40020.
    const run = await uploadWithDriver(w.driver('s3'), { ...s, callback_secret: 'WrongSecretWrongSecretWrongSecre' }, payload);
    expect(run.finish).toMatchObject({ ok: false, complete: { status: 200, ok: true }, callback: { status: 401, code: 40020, ok: false } });
    expect(w.sink.violations).toEqual([]);
  } finally {
    await w.close();
  }
});

test('CT-CLOUD-DRV-003 ks3: V2-presigned parts, complete, then GET /callback/ks3/<sid>/<secret>', async () => {
  const creds = { accessKeyId: 'DRVKS3AK', secretAccessKey: 'drv-ks3-secret' };
  const emu = new Ks3Emulator({ credentials: creds, buckets: ['cr'] });
  const w = await world(emu);
  try {
    const payload = new Payload(13, 5 * MiB + 4321);
    const key = 'ks3/7/drivers/7_x_k.bin';
    const uploadId = emu.createUploadDirect('cr', key, { contentType: 'application/octet-stream' });
    const path = `/cr/${key.split('/').map(encodeURIComponent).join('/')}`;
    const expires = Math.floor(Date.now() / 1000) + 3600;
    // ks3.go Token: GeneratePresignedUrl (V2, Content-Type application/octet-stream signed) per part, and for completion.
    const sign = (method: string, query: string) => presignV2({ method, url: new URL(`${w.mount.url}${path}?${query}`), canonicalPath: path,
      accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, expires, contentType: 'application/octet-stream', flavor: KS3_V2 });
    const s = session('ks3', { name: '7_x_k.bin', upload_id: uploadId, chunk_size: 5 * MiB,
      upload_urls: [1, 2].map((n) => sign('PUT', `partNumber=${n}&uploadId=${uploadId}`)), completeURL: sign('POST', `uploadId=${uploadId}`) });
    const run = await uploadWithDriver(w.driver('ks3'), s, payload);
    expectUploaded(run, 2);
    expect(run.finish).toMatchObject({ complete: { status: 200 }, callback: { status: 200, code: 0 } });
    expect((await readback(payload, emu.objectBytes('cr', key), 5 * MiB)).mismatch).toBeUndefined();
    expect(w.cloudreve.received.map((r) => [r.method, r.path])).toEqual([['GET', `/api/v4/callback/ks3/${s.session_id}/${SECRET}`]]);
    expect(w.sink.violations).toEqual([]);
  } finally {
    await w.close();
  }
});

test('CT-CLOUD-DRV-004 cos: parts (length and type signed), complete with x-cos-forbid-overwrite, GET /callback/cos; a missing part stops before the callback', async () => {
  const emu = new CosEmulator({ secretId: 'AKIDdrvcos', secretKey: 'drv-cos-secret', bucket: 'drv-1250000000' });
  const w = await world(emu);
  try {
    const payload = new Payload(14, 2 * MiB + 333);
    const key = 'cos/7/drivers/7_c_photo.jpg';
    const issued = emu.issueSession({ baseUrl: w.mount.url, key, size: payload.size, chunkSize: MiB });
    const s = session('cos', { name: '7_c_photo.jpg', upload_id: issued.uploadId, chunk_size: MiB, upload_urls: issued.uploadUrls, completeURL: issued.completeUrl });
    const run = await uploadWithDriver(w.driver('cos'), s, payload);
    expectUploaded(run, 3);
    expect(run.finish).toMatchObject({ complete: { status: 200 }, callback: { status: 200, code: 0 } });
    expect((await readback(payload, emu.object(key)?.body, MiB)).mismatch).toBeUndefined();
    expect(w.cloudreve.received.map((r) => [r.method, r.path])).toEqual([['GET', `/api/v4/callback/cos/${s.session_id}/${SECRET}`]]);

    // A second upload whose complete lists part 1 only: COS refuses (EntityTooSmall is not it: the last part may be
    // small; a listed part that was never uploaded is InvalidPart), and the client does not call Cloudreve.
    const key2 = 'cos/7/drivers/7_c_two.bin';
    const i2 = emu.issueSession({ baseUrl: w.mount.url, key: key2, size: payload.size, chunkSize: MiB });
    const s2 = session('cos', { name: '7_c_two.bin', upload_id: i2.uploadId, chunk_size: MiB, upload_urls: i2.uploadUrls, completeURL: i2.completeUrl });
    const driver = w.driver('cos');
    driver.begin(s2, { size: payload.size });
    const first = await driver.sendChunk(s2, { index: 0, offset: 0, length: MiB }, payload.stream(0, MiB));
    const finish = await driver.finish(s2, { parts: [{ partNumber: 1, etag: first.etag! }, { partNumber: 2, etag: first.etag! }] });
    expect(finish).toMatchObject({ ok: false, complete: { status: 400, providerCode: 'InvalidPart' } });
    expect(finish.callback).toBeUndefined();
    expect(w.cloudreve.received).toHaveLength(1);
    expect(w.sink.violations).toEqual([]);
  } finally {
    await w.close();
  }
});

test('CT-CLOUD-DRV-005 oss: parts, empty complete-all POST; OSS calls Cloudreve (RSA-MD5 signature verified as Cloudreve does) and relays its answer', async () => {
  const emu = new OssEmulator({ accessKeyId: 'LTAIdrv', accessKeySecret: 'drv-oss-secret', buckets: ['bucket'] });
  const payload = new Payload(15, 250 * KiB + 3);
  let mountUrl = '';
  const w = await world(emu, secretChecked(async (r) => {
    // Cloudreve's check (oss/callback.go): public key from base64(x-oss-pub-key-url), MD5 over path + "\n" + body.
    const keyUrl = Buffer.from(String(r.headers['x-oss-pub-key-url'] ?? ''), 'base64').toString('utf8');
    if (!keyUrl.startsWith(mountUrl)) return { status: 401, body: '{"error":"Failed to verify callback request."}' };
    const pem = await (await fetch(keyUrl)).text();
    if (!verifyOssCallbackAsCloudreve(pem, r.path, r.body, String(r.headers.authorization ?? ''))) return { status: 401, body: '{"error":"Failed to verify callback request."}' };
    return (JSON.parse(r.body.toString()) as { size: number }).size === payload.size ? OK : { status: 401, body: '{"error":"size mismatch"}' };
  }));
  mountUrl = w.mount.url;
  emu.publicKeyUrl = `${w.mount.url}/__oss/pubkey.pem`;
  try {
    const key = 'oss/7/drivers/7_o_report.pdf';
    const sid = randomUUID();
    const issued = emu.issueSession({ baseUrl: w.mount.url, bucket: 'bucket', key, size: payload.size, chunkSize: 100 * KiB,
      callbackUrl: `${w.cloudreve.url}/api/v4/callback/oss/${sid}/${SECRET}` });
    const s = session('oss', { name: '7_o_report.pdf', session_id: sid, upload_id: issued.uploadId, chunk_size: 100 * KiB, upload_urls: issued.uploadUrls,
      completeURL: issued.completeUrl });
    const run = await uploadWithDriver(w.driver('oss'), s, payload);
    expectUploaded(run, 3);
    expect(run.finish).toMatchObject({ by: 'provider-callback', complete: { status: 200, code: 0 } });
    expect(run.finish!.callback).toBeUndefined();
    expect((await readback(payload, emu.object('bucket', key)?.body, 100 * KiB)).mismatch).toBeUndefined();
    const cb = w.cloudreve.received.filter((r) => r.path.startsWith('/api/v4/callback/'));
    expect(cb.map((r) => [r.method, r.path, r.headers['content-type']])).toEqual([['POST', `/api/v4/callback/oss/${sid}/${SECRET}`, 'application/json']]);
    expect(cb[0]!.headers['x-oss-pub-key-url']).toBeTruthy();
    expect(emu.callbacks[0]).toMatchObject({ outcome: 'ok', status: 200 });
    expect(JSON.parse(cb[0]!.body.toString())).toMatchObject({ source_name: key, size: payload.size });
  } finally {
    await w.close();
  }
});

test('CT-CLOUD-DRV-006 obs: V2-presigned parts, complete XML with x-obs-callback; OBS posts to /callback/obs/<sid>/<secret> and relays the answer', async () => {
  const creds = { accessKeyId: 'DRVOBSAK', secretAccessKey: 'drv-obs-secret' };
  const emu = new ObsEmulator({ credentials: creds, buckets: ['cr'] });
  const w = await world(emu);
  try {
    const payload = new Payload(16, 250 * KiB + 3);
    const key = 'obs/7/drivers/7_b_clip.mp4';
    const s = await issueSession({ provider: 'obs', endpoint: w.mount.url, bucket: 'cr', accessKey: creds.accessKeyId, secretKey: creds.secretAccessKey },
      { key, size: payload.size, chunkSize: 100 * KiB, callbackBase: w.cloudreve.url, callbackSecret: SECRET });
    expect(s.upload_urls![0]).toMatch(/AWSAccessKeyId=.*Signature=/);
    expect(s.completeURL).toContain('x-obs-callback=');
    const run = await uploadWithDriver(w.driver('obs'), s, payload);
    expectUploaded(run, 3);
    expect(run.finish).toMatchObject({ by: 'provider-callback', complete: { status: 200, code: 0 } });
    expect((await readback(payload, emu.objectBytes('cr', key), 100 * KiB)).mismatch).toBeUndefined();
    expect(w.cloudreve.received.map((r) => [r.method, r.path])).toEqual([['POST', `/api/v4/callback/obs/${s.session_id}/${SECRET}`]]);
    expect(JSON.parse(w.cloudreve.received[0]!.body.toString())).toEqual({ name: key, source_name: '7_b_clip.mp4', size: payload.size });
  } finally {
    await w.close();
  }
});

test('CT-CLOUD-DRV-007 qiniu: v2 parts with UpToken, complete JSON; Qiniu calls Cloudreve (QBox signature verified) and relays its answer', async () => {
  const emu = new QiniuEmulator({ accessKey: 'drv-qiniu-ak', secretKey: 'drv-qiniu-sk', buckets: ['bucket'] });
  let verified = false;
  const w = await world(emu, secretChecked((r) => {
    verified = verifyQiniuCallbackAsCloudreve('drv-qiniu-ak', 'drv-qiniu-sk', { path: r.path, rawQuery: r.query, contentType: String(r.headers['content-type'] ?? ''),
      body: r.body, authorization: String(r.headers.authorization ?? '') });
    return verified ? OK : { status: 401, body: '{"error":"Invalid signature."}' };
  }));
  try {
    const payload = new Payload(17, 2 * MiB + 5);
    const key = 'qiniu/7/drivers/7_q_a.bin';
    const sid = randomUUID();
    const issued = emu.issueSession({ upHost: w.mount.url, bucket: 'bucket', key, size: payload.size, callbackUrl: `${w.cloudreve.url}/api/v4/callback/qiniu/${sid}/${SECRET}` });
    const s = session('qiniu', { name: '7_q_a.bin', session_id: sid, upload_id: issued.uploadId, chunk_size: MiB, upload_urls: [issued.uploadUrl],
      credential: issued.token, mime_type: 'application/octet-stream' });
    const run = await uploadWithDriver(w.driver('qiniu'), s, payload);
    expectUploaded(run, 3);
    expect(run.chunks.every((c) => typeof c.etag === 'string' && c.etag.length > 0)).toBe(true);
    expect(run.finish).toMatchObject({ by: 'provider-callback', complete: { status: 200, code: 0 } });
    expect((await readback(payload, emu.object('bucket', key)?.body, MiB)).mismatch).toBeUndefined();
    expect(w.cloudreve.received.map((r) => [r.method, r.path])).toEqual([['POST', `/api/v4/callback/qiniu/${sid}/${SECRET}`]]);
    expect(verified).toBe(true);

    // Cloudreve refusing the callback: Qiniu answers the complete request 579 with its error JSON.
    const issued2 = emu.issueSession({ upHost: w.mount.url, bucket: 'bucket', key: 'qiniu/7/drivers/refused.bin', size: 10, callbackUrl: `${w.cloudreve.url}/api/v4/callback/qiniu/${sid}/wrong` });
    const small = new Payload(18, 10);
    const refused = await uploadWithDriver(w.driver('qiniu'), session('qiniu', { name: 'refused.bin', upload_id: issued2.uploadId, chunk_size: MiB,
      upload_urls: [issued2.uploadUrl], credential: issued2.token }), small);
    expect(refused.finish).toMatchObject({ ok: false, complete: { status: 579, ok: false } });
    expect(refused.finish!.complete!.providerCode).toContain('40020');
  } finally {
    await w.close();
  }
});

test('CT-CLOUD-DRV-008 upyun: one form POST (policy, authorization, content-type, file last); Upyun notifies Cloudreve, signed as Cloudreve checks', async () => {
  const emu = new UpyunEmulator({ operator: 'drvop', password: 'drv-upyun-password', buckets: ['bucket'], notifyMode: 'before-response' });
  const w = await world(emu);
  try {
    const payload = new Payload(19, 300 * KiB + 5);
    const sid = randomUUID();
    const issued = emu.issueSession({ bucket: 'bucket', saveKey: '/upyun/7/drivers/7_u_report.pdf', size: payload.size,
      notifyUrl: `${w.cloudreve.url}/api/v4/callback/upyun/${sid}/${SECRET}` });
    expect(issued.uploadUrl).toBe('https://v0.api.upyun.com/bucket');
    const s = session('upyun', { name: '7_u_report.pdf', session_id: sid, upload_urls: [`${w.mount.url}/bucket`], credential: issued.authorization,
      upload_policy: issued.policy, mime_type: 'application/pdf' });
    const driver = w.driver('upyun');
    expect(driver.plan(s, payload.size)).toEqual([{ index: 0, offset: 0, length: payload.size }]);
    const run = await uploadWithDriver(driver, s, payload);
    expectUploaded(run, 1);
    expect(run.finish).toEqual({ ok: true, by: 'provider-notify', steps: [] });
    await emu.flush();
    const f = emu.file('bucket', '/upyun/7/drivers/7_u_report.pdf');
    expect(f?.contentType).toBe('application/pdf');
    expect((await readback(payload, f?.body, 0)).mismatch).toBeUndefined();
    const n = w.cloudreve.received;
    expect(n.map((r) => [r.method, r.path])).toEqual([['POST', `/api/v4/callback/upyun/${sid}/${SECRET}`]]);
    expect(verifyUpyunNotifyAsCloudreve('drvop', 'drv-upyun-password', { path: n[0]!.path, date: String(n[0]!.headers.date),
      contentMd5: String(n[0]!.headers['content-md5']), authorization: String(n[0]!.headers.authorization), body: n[0]!.body })).toBe(true);
  } finally {
    await w.close();
  }
});

test('CT-CLOUD-DRV-009 onedrive: Content-Range PUTs to the pre-authorised URL (202, 202, 201), then POST /callback/onedrive; a gap is Graph\'s 416', async () => {
  const emu = new OneDriveEmulator({ accessToken: 'drv-graph-token' });
  const w = await world(emu);
  try {
    const payload = new Payload(20, 2 * FRAGMENT_UNIT + 1234);
    const path = '/Cloudreve/7/drivers/报告 final.bin';
    const od = emu.createSession(path, w.mount.url, 'fail');
    const s = session('onedrive', { name: '报告 final.bin', chunk_size: FRAGMENT_UNIT, upload_urls: [od.uploadUrl] });
    const run = await uploadWithDriver(w.driver('onedrive'), s, payload);
    expectUploaded(run, 3);
    expect(run.chunks.map((c) => c.status)).toEqual([202, 202, 201]);
    expect(run.finish).toMatchObject({ by: 'client-callback', callback: { status: 200, code: 0 } });
    expect((await readback(payload, emu.item(path)?.body, FRAGMENT_UNIT)).mismatch).toBeUndefined();
    expect(w.cloudreve.received.map((r) => [r.method, r.path])).toEqual([['POST', `/api/v4/callback/onedrive/${s.session_id}/${SECRET}`]]);

    // Sending the second range first: Graph's 416 with innererror fragmentOutOfOrder.
    const od2 = emu.createSession('/Cloudreve/gap.bin', w.mount.url);
    const s2 = session('onedrive', { name: 'gap.bin', chunk_size: FRAGMENT_UNIT, upload_urls: [od2.uploadUrl] });
    const driver = w.driver('onedrive');
    driver.begin(s2, { size: payload.size });
    const gap = await driver.sendChunk(s2, { index: 1, offset: FRAGMENT_UNIT, length: FRAGMENT_UNIT }, payload.stream(FRAGMENT_UNIT, FRAGMENT_UNIT));
    expect(gap).toMatchObject({ status: 416, ok: false, providerCode: 'fragmentOutOfOrder' });
    expect(w.sink.violations).toEqual([]);
  } finally {
    await w.close();
  }
});

test('CT-CLOUD-DRV-010 choosing the driver: relay → the local driver (whole file to the master), otherwise the policy type\'s', () => {
  const deps = { provider: timedFetch(1000), cloudreve: createCloudreveClient({ siteUrl: 'http://127.0.0.1:1', fetch: (r) => fetch(r) }) };
  const relay = session('s3', { name: 'r.bin', storage_policy: { id: 'a', name: 'relay', type: 's3', max_size: 0, relay: true } as UploadSession['storage_policy'] });
  expect(cloudDriverFor(relay, deps)).toBeInstanceOf(LocalDriver);
  const s3 = cloudDriverFor(session('s3', { name: 'a.bin' }), deps);
  expect(s3).toBeInstanceOf(S3LikeDriver);
  expect((s3 as CloudUploadDriver).flow).toBe('s3');
  for (const t of ['ks3', 'cos', 'oss', 'obs', 'qiniu', 'upyun', 'onedrive']) expect((cloudDriverFor(session(t, { name: 'a' }), deps) as CloudUploadDriver).flow).toBe(t);
  expect(() => cloudDriverFor(session('local', { name: 'a' }), deps)).toThrow(/no cloud driver/);
});
