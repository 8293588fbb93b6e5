// CT-CLOUD-QINIU: the Qiniu emulator speaks resumable upload v2: the documented token vectors reproduce, the qiniu
// Node SDK uploads through it (its tokens, its part/complete JSON), Cloudreve's flow runs to the callback — signed
// `QBox` and accepted by Cloudreve's `VerifyCallback` algorithm — and errors come back as Qiniu's JSON and statuses.
// The same mount answers management (stat, delete, batch; `QBox` and `Qiniu` V2 signatures) and private downloads
// (`?e=<deadline>&token=AK:sign`), driven by the SDK's BucketManager and privateDownloadUrl.
// Form upload (`POST /`, multipart/form-data, `token` in the form) through the SDK's FormUploader, empty files included.
import { test, expect } from '@playwright/test';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import qiniu from 'qiniu';
import { mountLoopback, mountNock, type LoopbackMount } from '../harness/cloud/mount.js';
import { QiniuEmulator } from '../harness/cloud/qiniu.js';
import { b64url, encodedEntry, qboxToken, qiniuPrivateDownloadUrl, qiniuTokenV2, qiniuUploadToken } from '../harness/cloud/qiniu-sign.js';

const AK = 'qiniu-test-ak';
const SK = 'qiniu-test-sk';

interface Received { path: string; query: string; headers: IncomingHttpHeaders; body: Buffer }

/**
 * Cloudreve's `QiniuCallbackValidate` (qiniu/go-sdk v7.19.0 `VerifyCallback`), re-implemented: `Authorization` must be
 * `QBox AK:` + base64url(HMAC-SHA1(SK, decodedPath ["?" rawQuery] "\n" [+ body only for form-urlencoded])).
 */
function cloudreveQiniuCheck(r: Received): boolean {
  let data = `${decodeURIComponent(r.path)}${r.query}\n`;
  if (r.headers['content-type'] === 'application/x-www-form-urlencoded') data += r.body.toString('utf8');
  const sign = createHmac('sha1', SK).update(data).digest('base64').replace(/\+/g, '-').replace(/\//g, '_');
  return r.headers.authorization === `QBox ${AK}:${sign}`;
}

async function callbackServer(answer: (r: Received) => { status: number; body: string }) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://cb');
      const r = { path: u.pathname, query: u.search, headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      const a = answer(r);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Cloudreve's answers: 401 for a bad signature, then the size check of its completion, else `{"code":0}`. */
const cloudreve = (size: number) => (r: Received) => {
  if (!cloudreveQiniuCheck(r)) return { status: 401, body: '{"error":"Invalid signature."}' };
  return (JSON.parse(r.body.toString()) as { size: number }).size === size ? { status: 200, body: '{"code":0,"msg":""}' } : { status: 400, body: '{"error":"size mismatch"}' };
};

function payload(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 13 + seed * 5 + (i >> 11)) & 0xff;
  return b;
}

async function setup(opts: Partial<ConstructorParameters<typeof QiniuEmulator>[0]> = {}): Promise<{ emu: QiniuEmulator; mount: LoopbackMount }> {
  const emu = new QiniuEmulator({ accessKey: AK, secretKey: SK, buckets: ['bucket'], ...opts });
  return { emu, mount: await mountLoopback(emu) };
}

test('CT-CLOUD-QINIU-001 Qiniu\'s documented token vectors reproduce (upload token; QBox access token)', () => {
  const policy = '{"scope":"my-bucket:sunflower.jpg","deadline":1451491200,"returnBody":"{\\"name\\":$(fname),\\"size\\":$(fsize),\\"w\\":$(imageInfo.width),\\"h\\":$(imageInfo.height),\\"hash\\":$(etag)}"}';
  expect(qiniuUploadToken('MY_ACCESS_KEY', 'MY_SECRET_KEY', policy)).toBe('MY_ACCESS_KEY:wQ4ofysef1R7IKnrziqtomqyDvI=:'
    + 'eyJzY29wZSI6Im15LWJ1Y2tldDpzdW5mbG93ZXIuanBnIiwiZGVhZGxpbmUiOjE0NTE0OTEyMDAsInJldHVybkJvZHkiOiJ7XCJuYW1lXCI6JChmbmFtZSksXCJzaXplXCI6JChmc2l6ZSksXCJ3XCI6JChpbWFnZUluZm8ud2lkdGgpLFwiaFwiOiQoaW1hZ2VJbmZvLmhlaWdodCksXCJoYXNoXCI6JChldGFnKX0ifQ==');
  expect(qboxToken('MY_ACCESS_KEY', 'MY_SECRET_KEY', '/move/bmV3ZG9jczpmaW5kX21hbi50eHQ=/bmV3ZG9jczpmaW5kLm1hbi50eHQ=')).toBe('MY_ACCESS_KEY:FXsYh0wKHYPEsIAgdPD9OfjkeEM=');
  // The qiniu Node SDK agrees on tokens, and on the QBox header for a body that is not signed (JSON callback).
  const mac = new qiniu.auth.digest.Mac(AK, SK);
  const sdkToken = new qiniu.rs.PutPolicy({ scope: 'bucket:k', expires: 3600 }).uploadToken(mac);
  const policyJson = Buffer.from((sdkToken.split(':')[2] ?? '').replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString();
  expect(qiniuUploadToken(AK, SK, policyJson)).toBe(sdkToken);
  expect(qiniu.util.generateAccessToken(mac, 'http://x/api/v4/callback/qiniu/s/k?a=1')).toBe(`QBox ${qboxToken(AK, SK, '/api/v4/callback/qiniu/s/k', '?a=1')}`);
});

test('CT-CLOUD-QINIU-002 the qiniu Node SDK (resume v2) uploads through the emulator; the callback passes Cloudreve\'s check; bytes equal', async () => {
  const { emu, mount } = await setup();
  const dir = mkdtempSync(join(tmpdir(), 'qiniu-'));
  const data = payload(2 * 1024 * 1024 + 4321);
  const cb = await callbackServer(cloudreve(data.length));
  try {
    const mac = new qiniu.auth.digest.Mac(AK, SK);
    const token = new qiniu.rs.PutPolicy({ scope: 'bucket:dir/文件 a.bin', callbackUrl: `${cb.url}/api/v4/callback/qiniu/sid/secret`,
      callbackBody: '{"size":$(fsize),"pic_info":"$(imageInfo.width),$(imageInfo.height)"}', callbackBodyType: 'application/json' }).uploadToken(mac);
    const host = mount.url.replace('http://', '');
    const config = new qiniu.conf.Config({ useHttpsDomain: false });
    config.zone = new qiniu.conf.Zone([host], [], host, host, host, host);
    const uploader = new qiniu.resume_up.ResumeUploader(config);
    const file = join(dir, 'a.bin');
    writeFileSync(file, data);
    const extra = qiniu.resume_up.PutExtra.create(undefined, undefined, 'application/octet-stream', undefined, undefined, 1024 * 1024, 'v2');
    const result = await uploader.putFile(token, 'dir/文件 a.bin', file, extra);
    expect(result.resp.statusCode).toBe(200);
    expect(result.data).toEqual({ code: 0, msg: '' });
    expect(cb.received).toHaveLength(1);
    expect(cb.received[0]?.body.toString()).toBe(`{"size":${data.length},"pic_info":","}`);
    expect(Buffer.compare(emu.object('bucket', 'dir/文件 a.bin')?.body ?? Buffer.alloc(0), data)).toBe(0);
    expect(emu.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['POST 200', 'PUT 200', 'PUT 200', 'PUT 200', 'POST 200']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await cb.close();
    await mount.close();
  }
});

test('CT-CLOUD-QINIU-003 Cloudreve\'s flow: UpToken parts on upload_urls[0]/<n>, JSON complete, callback answer relayed; cancel is DELETE', async () => {
  const { emu, mount } = await setup();
  const chunk = 1024 * 1024;
  const data = payload(2 * chunk + 77, 4);
  const cb = await callbackServer(cloudreve(data.length));
  try {
    const key = 'qiniu/7/docs/7_abc_report.pdf';
    const s = emu.issueSession({ upHost: mount.url, bucket: 'bucket', key, size: data.length, callbackUrl: `${cb.url}/api/v4/callback/qiniu/sid/secret` });
    expect(s.uploadUrl).toBe(`${mount.url}/buckets/bucket/objects/${b64url(key)}/uploads/${s.uploadId}`);
    const parts: { etag: string; partNumber: number }[] = [];
    for (let i = 0; i * chunk < data.length; i++) {
      const res = await fetch(`${s.uploadUrl}/${i + 1}`, { method: 'PUT', headers: { authorization: `UpToken ${s.token}`, 'content-type': 'application/octet-stream' }, body: data.subarray(i * chunk, (i + 1) * chunk) });
      expect(res.status).toBe(200);
      const j = await res.json() as { etag: string; md5: string };
      expect(j.md5).toMatch(/^[0-9a-f]{32}$/);
      parts.push({ etag: j.etag, partNumber: i + 1 });
    }
    const done = await fetch(s.uploadUrl, { method: 'POST', headers: { authorization: `UpToken ${s.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ mimeType: 'application/pdf', parts }) });
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ code: 0, msg: '' });
    expect(cb.received[0]?.path).toBe('/api/v4/callback/qiniu/sid/secret');
    expect(cloudreveQiniuCheck(cb.received[0] as Received)).toBe(true);
    expect(emu.object('bucket', key)?.mimeType).toBe('application/pdf');
    // Cloudreve's cancel: DELETE upload_urls[0] with the UpToken; the id is dead afterwards (612).
    const s2 = emu.issueSession({ upHost: mount.url, bucket: 'bucket', key: 'x.bin', size: 5, callbackUrl: `${cb.url}/cb` });
    expect((await fetch(s2.uploadUrl, { method: 'DELETE', headers: { authorization: `UpToken ${s2.token}` } })).status).toBe(200);
    const dead = await fetch(`${s2.uploadUrl}/1`, { method: 'PUT', headers: { authorization: `UpToken ${s2.token}` }, body: Buffer.from('hello') });
    expect(dead.status).toBe(612);
    expect(await dead.json()).toEqual({ error: 'no such uploadId' });
    expect(dead.headers.get('x-reqid')).toBeTruthy();
  } finally {
    await cb.close();
    await mount.close();
  }
});

test('CT-CLOUD-QINIU-004 token errors: missing, tampered, expired, key outside the scope, wrong bucket', async () => {
  let clock = Date.now();
  const { emu, mount } = await setup({ now: () => clock });
  try {
    const key = 'k.bin';
    const url = `${mount.url}/buckets/bucket/objects/${b64url(key)}/uploads`;
    const init = (token?: string, u = url) => fetch(u, { method: 'POST', headers: token ? { authorization: `UpToken ${token}` } : {} });
    const good = emu.token({ scope: `bucket:${key}`, deadline: Math.floor(clock / 1000) + 60 });
    expect((await init(good)).status).toBe(200);
    let res = await init();
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'token not specified' });
    const [ak, sig, pol] = good.split(':');
    res = await init(`${ak}:${(sig ?? '').replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}:${pol}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'bad token' });
    res = await init(qiniuUploadToken(AK, 'other-secret', { scope: `bucket:${key}`, deadline: Math.floor(clock / 1000) + 60 }));
    expect(await res.json()).toEqual({ error: 'bad token' });
    clock += 61_000;
    res = await init(good);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'expired token' });
    clock -= 61_000;
    res = await init(emu.token({ scope: 'bucket:other.bin', deadline: Math.floor(clock / 1000) + 60 }));
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: 'key doesn\'t match with scope' });
    res = await init(emu.token({ scope: 'elsewhere', deadline: Math.floor(clock / 1000) + 60 }));
    expect(res.status).toBe(401);
  } finally {
    await mount.close();
  }
});

test('CT-CLOUD-QINIU-005 part and completion rules: ETags, order, 1 MB minimum, fsizeLimit, 614 file exists, 579 when the callback fails', async () => {
  const { emu, mount } = await setup({ callbackTimeoutMs: 2000 });
  const cb = await callbackServer(() => ({ status: 401, body: '{"error":"Invalid signature."}' }));
  try {
    const start = async (key: string, policy: Record<string, unknown> = {}) => {
      const token = emu.token({ scope: `bucket:${key}`, deadline: Math.floor(Date.now() / 1000) + 600, ...policy });
      const base = `${mount.url}/buckets/bucket/objects/${b64url(key)}/uploads`;
      const init = await (await fetch(base, { method: 'POST', headers: { authorization: `UpToken ${token}` } })).json() as { uploadId: string };
      const url = `${base}/${init.uploadId}`;
      const auth = { authorization: `UpToken ${token}` };
      const part = async (n: number, body: Buffer) => (await (await fetch(`${url}/${n}`, { method: 'PUT', headers: auth, body })).json() as { etag: string }).etag;
      const complete = async (parts: { etag: string; partNumber: number }[]) => {
        const res = await fetch(url, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ parts }) });
        return { status: res.status, body: await res.json() as { error?: string } };
      };
      return { part, complete, token, url };
    };
    const a = await start('a.bin');
    const e1 = await a.part(1, payload(600 * 1024, 1));
    const e2 = await a.part(2, payload(600 * 1024, 2));
    expect((await a.complete([{ etag: e2, partNumber: 2 }, { etag: e1, partNumber: 1 }])).status).toBe(400);
    expect((await a.complete([{ etag: e2, partNumber: 1 }])).body.error).toContain('etag');
    const small = await a.complete([{ etag: e1, partNumber: 1 }, { etag: e2, partNumber: 2 }]);
    expect(small).toEqual({ status: 400, body: { error: 'part size too small' } });
    const badMd5 = await fetch(`${a.url}/3`, { method: 'PUT', headers: { authorization: `UpToken ${a.token}`, 'content-md5': '0'.repeat(32) }, body: Buffer.from('x') });
    expect(badMd5.status).toBe(400);
    expect((await a.complete([{ etag: e1, partNumber: 1 }])).status).toBe(200);

    const limited = await start('limited.bin', { fsizeLimit: 10 });
    const el = await limited.part(1, payload(11));
    expect(await limited.complete([{ etag: el, partNumber: 1 }])).toEqual({ status: 413, body: { error: 'exceed FsizeLimit' } });

    emu.putObject('bucket', 'taken.bin', 'old');
    const insertOnly = await start('taken.bin', { insertOnly: 1 });
    const ei = await insertOnly.part(1, payload(5));
    expect(await insertOnly.complete([{ etag: ei, partNumber: 1 }])).toEqual({ status: 614, body: { error: 'file exists' } });

    const withCb = await start('cb.bin', { callbackUrl: `${cb.url}/api/v4/callback/qiniu/s/k`, callbackBody: '{"size":$(fsize)}', callbackBodyType: 'application/json' });
    const ec = await withCb.part(1, payload(5));
    const failed = await withCb.complete([{ etag: ec, partNumber: 1 }]);
    expect(failed.status).toBe(579);
    expect(JSON.parse(failed.body.error ?? '')).toMatchObject({ callback_url: `${cb.url}/api/v4/callback/qiniu/s/k`, callback_bodyType: 'application/json',
      callback_body: '{"size":5}', err_code: 401, error: '{"error":"Invalid signature."}', key: 'cb.bin' });
    expect(emu.object('bucket', 'cb.bin')?.body.length).toBe(5);
  } finally {
    await cb.close();
    await mount.close();
  }
});

test('CT-CLOUD-QINIU-006 in-process through nock on a real Qiniu upload host: the Node SDK\'s v2 upload', async () => {
  const emu = new QiniuEmulator({ accessKey: AK, secretKey: SK, buckets: ['bucket'] });
  const unmount = mountNock(emu, ['https://up-z0.qiniup.com']);
  const dir = mkdtempSync(join(tmpdir(), 'qiniu-nock-'));
  try {
    const mac = new qiniu.auth.digest.Mac(AK, SK);
    const token = new qiniu.rs.PutPolicy({ scope: 'bucket:nock.bin' }).uploadToken(mac);
    const config = new qiniu.conf.Config({ useHttpsDomain: true });
    config.zone = new qiniu.conf.Zone(['up-z0.qiniup.com'], [], 'iovip.qiniuio.com', 'rs-z0.qiniuapi.com', 'rsf-z0.qiniuapi.com', 'api.qiniuapi.com');
    const data = payload(1024 * 1024 + 10, 6);
    const file = join(dir, 'n.bin');
    writeFileSync(file, data);
    const r = await new qiniu.resume_up.ResumeUploader(config).putFile(token, 'nock.bin', file, qiniu.resume_up.PutExtra.create(undefined, undefined, undefined, undefined, undefined, 1024 * 1024, 'v2'));
    expect(r.resp.statusCode).toBe(200);
    expect(r.data).toMatchObject({ key: 'nock.bin' });
    expect(Buffer.compare(emu.object('bucket', 'nock.bin')?.body ?? Buffer.alloc(0), data)).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    unmount();
  }
});

/** The qiniu Node SDK's BucketManager with every service host (rs included) pointed at the loopback mount. */
function bucketManager(mount: LoopbackMount, sk = SK): qiniu.rs.BucketManager {
  const host = mount.url.replace('http://', '');
  const config = new qiniu.conf.Config({ useHttpsDomain: false });
  config.zone = new qiniu.conf.Zone([host], [], host, host, host, host);
  return new qiniu.rs.BucketManager(new qiniu.auth.digest.Mac(AK, sk), config);
}

const FORM = 'application/x-www-form-urlencoded';

/** A management call signed `QBox` (path [+ "?" query] "\n" [+ form body]) as qboxToken computes it. */
function qbox(mount: LoopbackMount, method: string, path: string, body = '', sk = SK): Promise<Response> {
  const headers: Record<string, string> = { authorization: `QBox ${qboxToken(AK, sk, path, '', FORM, body)}`, 'content-type': FORM };
  return fetch(`${mount.url}${path}`, { method, headers, ...(method === 'GET' ? {} : { body }) });
}

test('CT-CLOUD-QINIU-007 management through the qiniu SDK\'s BucketManager: stat, delete, batch (200 / 298 per-op 612), 612 for a missing key', async () => {
  const { emu, mount } = await setup();
  try {
    const bm = bucketManager(mount);
    const data = payload(5000, 7);
    const o = emu.putObject('bucket', 'dir/文件 a+b.bin', data, 'application/pdf');
    const st = await bm.stat('bucket', 'dir/文件 a+b.bin');
    expect(st.resp.statusCode).toBe(200);
    expect(st.data).toEqual({ fsize: 5000, hash: o.hash, mimeType: 'application/pdf', putTime: o.putTime * 10_000, type: 0 });
    const miss = await bm.stat('bucket', 'nope.bin');
    expect(miss.resp.statusCode).toBe(612);
    expect(miss.data).toEqual({ error: 'no such file or directory' });

    const del = await bm.delete('bucket', 'dir/文件 a+b.bin');
    expect(del.resp.statusCode).toBe(200);
    expect(emu.object('bucket', 'dir/文件 a+b.bin')).toBeUndefined();
    const delAgain = await bm.delete('bucket', 'dir/文件 a+b.bin');
    expect(delAgain.resp.statusCode).toBe(612);
    expect(delAgain.data).toEqual({ error: 'no such file or directory' });

    emu.putObject('bucket', 'a.bin', 'a');
    emu.putObject('bucket', 'b.bin', 'b');
    const all = await bm.batch([qiniu.rs.deleteOp('bucket', 'a.bin'), qiniu.rs.deleteOp('bucket', 'b.bin')]);
    expect(all.resp.statusCode).toBe(200);
    expect(all.data).toEqual([{ code: 200 }, { code: 200 }]);
    emu.putObject('bucket', 'c.bin', 'c');
    const some = await bm.batch([qiniu.rs.deleteOp('bucket', 'c.bin'), qiniu.rs.deleteOp('bucket', 'gone.bin'), qiniu.rs.statOp('bucket', 'c.bin')]);
    expect(some.resp.statusCode).toBe(298);
    expect(some.data).toEqual([{ code: 200 }, { code: 612, data: { error: 'no such file or directory' } }, { code: 612, data: { error: 'no such file or directory' } }]);
    expect(emu.listObjects('bucket')).toEqual([]);
    // The SDK signs V2 (`Qiniu AK:sign`) with its `Host: host:port:port` quirk, which the emulator tolerates and records.
    expect(emu.requests.map((r) => `${r.method} ${new URL(r.url).pathname.split('/')[1]} ${r.status} ${r.quirk ?? '-'}`)).toEqual([
      'GET stat 200 node-sdk-host-port', 'GET stat 612 node-sdk-host-port', 'POST delete 200 node-sdk-host-port', 'POST delete 612 node-sdk-host-port',
      'POST batch 200 node-sdk-host-port', 'POST batch 298 node-sdk-host-port']);
  } finally {
    await mount.close();
  }
});

test('CT-CLOUD-QINIU-008 management signed QBox (path "\\n" [+ form body]) and Qiniu V2 as qiniu/go-sdk (Cloudreve) sends it: POST stat, delete, batch', async () => {
  const { emu, mount } = await setup({ buckets: ['bucket', 'b2'] });
  try {
    const o = emu.putObject('bucket', 'k.txt', 'hello', 'text/plain');
    const entry = encodedEntry('bucket', 'k.txt');
    let res = await qbox(mount, 'GET', `/stat/${entry}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ fsize: 5, hash: o.hash, mimeType: 'text/plain', putTime: o.putTime * 10_000, type: 0 });
    res = await qbox(mount, 'POST', `/stat/${encodedEntry('nobucket', 'k.txt')}`);
    expect(res.status).toBe(631);
    expect(await res.json()).toEqual({ error: 'no such bucket' });

    // Go SDK v7.19.0 (`BucketManager.StatWithOpts`): POST, `Qiniu` token over method, path, Host, Content-Type, X-Qiniu-*.
    const host = mount.url.replace('http://', '');
    const date = '20240102T030405Z';
    const v2 = (method: string, path: string, body = '') => fetch(`${mount.url}${path}`, { method, body, headers: {
      'content-type': FORM, 'x-qiniu-date': date,
      authorization: `Qiniu ${qiniuTokenV2(AK, SK, { method, path, host, contentType: FORM, headers: { 'X-Qiniu-Date': date }, body })}` } });
    res = await v2('POST', `/stat/${entry}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { hash: string }).hash).toBe(o.hash);
    expect(emu.requests.at(-1)?.quirk).toBeUndefined();

    res = await qbox(mount, 'POST', `/delete/${entry}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    res = await qbox(mount, 'POST', `/delete/${entry}`);
    expect(res.status).toBe(612);
    expect(await res.json()).toEqual({ error: 'no such file or directory' });

    // Cloudreve's Delete: BatchWithContext with `op=/delete/<entry>` repeated, V2-signed over the form body too.
    emu.putObject('bucket', 'x', 'x');
    emu.putObject('b2', 'y', 'y');
    const form = new URLSearchParams([['op', `/delete/${encodedEntry('bucket', 'x')}`], ['op', `/delete/${encodedEntry('b2', 'y')}`]]).toString();
    res = await v2('POST', '/batch', form);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([{ code: 200 }, { code: 200 }]);
    emu.putObject('bucket', 'z', 'z');
    const form2 = new URLSearchParams([['op', `/delete/${encodedEntry('bucket', 'z')}`], ['op', `/delete/${encodedEntry('bucket', 'x')}`]]).toString();
    res = await qbox(mount, 'POST', '/batch', form2);
    expect(res.status).toBe(298);
    expect(await res.json()).toEqual([{ code: 200 }, { code: 612, data: { error: 'no such file or directory' } }]);
    expect(emu.listObjects()).toEqual([]);
  } finally {
    await mount.close();
  }
});

test('CT-CLOUD-QINIU-009 private download: the SDK\'s privateDownloadUrl → 200 body + ETag; Range → 206 / 416; HEAD; Cloudreve\'s URL with attname', async () => {
  const domains: Record<string, string> = {};
  const { emu, mount } = await setup({ buckets: ['bucket', 'b2'], downloadDomains: domains });
  try {
    const data = payload(100_000, 9);
    const o = emu.putObject('bucket', 'dir/文件 a+b.bin', data, 'application/pdf');
    const deadline = Math.floor(Date.now() / 1000) + 600;
    const url = bucketManager(mount).privateDownloadUrl(mount.url, 'dir/文件 a+b.bin', deadline);
    // The SDK signs the whole URL, scheme and host included, up to and including e=<deadline>.
    const signed = url.slice(0, url.indexOf('&token='));
    expect(signed).toBe(`${mount.url}/dir/${encodeURIComponent('文件')}%20a+b.bin?e=${deadline}`);
    expect(url).toBe(`${signed}&token=${AK}:${b64url(createHmac('sha1', SK).update(signed).digest())}`);

    let res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), data)).toBe(0);
    expect(res.headers.get('content-length')).toBe('100000');
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('etag')).toBe(`"${o.hash}"`);

    res = await fetch(url, { headers: { range: 'bytes=10-19' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 10-19/100000');
    expect(res.headers.get('content-length')).toBe('10');
    expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), data.subarray(10, 20))).toBe(0);
    res = await fetch(url, { headers: { range: 'bytes=-5' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 99995-99999/100000');
    expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), data.subarray(99_995))).toBe(0);
    res = await fetch(url, { headers: { range: 'bytes=99990-' } });
    expect(res.headers.get('content-range')).toBe('bytes 99990-99999/100000');
    res = await fetch(url, { headers: { range: 'bytes=200000-' } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe('bytes */100000');
    await res.arrayBuffer();

    res = await fetch(url, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('100000');
    expect(res.headers.get('etag')).toBe(`"${o.hash}"`);
    expect((await res.arrayBuffer()).byteLength).toBe(0);

    // What Cloudreve's `Source` builds (go-sdk MakePrivateURLv2WithQuery): `?attname=<name>&e=…&token=…`.
    const cr = qiniuPrivateDownloadUrl(AK, SK, mount.url, 'dir/文件 a+b.bin', deadline, new URLSearchParams({ attname: 'report.pdf' }).toString());
    expect(cr).toContain(`/dir/${encodeURIComponent('文件')}%20a%2Bb.bin?attname=report.pdf&e=${deadline}&token=${AK}:`);
    res = await fetch(cr);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(100_000);

    // The Host picks the bucket: mapped to b2, the same key is not there; b2's own object is.
    domains[mount.url.replace('http://', '')] = 'b2';
    res = await fetch(url);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'Document not found' });
    emu.putObject('b2', 'only-b2.txt', 'b2 body', 'text/plain');
    res = await fetch(qiniuPrivateDownloadUrl(AK, SK, mount.url, 'only-b2.txt', deadline));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('b2 body');
  } finally {
    await mount.close();
  }
});

test('CT-CLOUD-QINIU-010 download errors: tampered token, wrong key pair, expired deadline, no token, missing key; HEAD too', async () => {
  let clock = Date.now();
  const { emu, mount } = await setup({ now: () => clock });
  try {
    emu.putObject('bucket', 'k.bin', payload(64));
    const deadline = Math.floor(clock / 1000) + 60;
    const good = qiniuPrivateDownloadUrl(AK, SK, mount.url, 'k.bin', deadline);
    expect((await fetch(good)).status).toBe(200);
    const expectError = async (u: string, status: number, error: string) => {
      const res = await fetch(u);
      expect(res.status, u).toBe(status);
      expect(await res.json(), u).toEqual({ error });
      const head = await fetch(u, { method: 'HEAD' });
      expect(head.status, `HEAD ${u}`).toBe(status);
      expect((await head.arrayBuffer()).byteLength).toBe(0);
    };
    const sig = good.slice(good.lastIndexOf(':') + 1);
    await expectError(good.replace(sig, sig.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))), 401, 'download token auth failed');
    await expectError(qiniuPrivateDownloadUrl(AK, 'other-secret', mount.url, 'k.bin', deadline), 401, 'download token auth failed');
    await expectError(qiniuPrivateDownloadUrl('other-ak', SK, mount.url, 'k.bin', deadline), 401, 'download token auth failed');
    // A URL signed for another key, or with the deadline edited after signing.
    await expectError(good.replace('/k.bin?', '/k2.bin?'), 401, 'download token auth failed');
    await expectError(good.replace(`e=${deadline}`, `e=${deadline + 3600}`), 401, 'download token auth failed');
    await expectError(`${mount.url}/k.bin?e=${deadline}`, 401, 'download token not specified');
    await expectError(qiniuPrivateDownloadUrl(AK, SK, mount.url, 'missing.bin', deadline), 404, 'Document not found');
    clock += 61_000;
    await expectError(good, 401, 'token out of date');
    // A token is checked before the key: an expired URL for a missing key says so, not 404.
    await expectError(qiniuPrivateDownloadUrl(AK, SK, mount.url, 'missing.bin', deadline), 401, 'token out of date');
  } finally {
    await mount.close();
  }
});

test('CT-CLOUD-QINIU-011 management auth errors: no Authorization, bad QBox signature, body outside the signature, SDK with a wrong SK; Node-SDK host quirk can be refused', async () => {
  const { emu, mount } = await setup();
  try {
    emu.putObject('bucket', 'k.txt', 'keep');
    const entry = encodedEntry('bucket', 'k.txt');
    const expect401 = async (res: Response) => {
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: 'bad token' });
    };
    await expect401(await fetch(`${mount.url}/stat/${entry}`));
    await expect401(await fetch(`${mount.url}/delete/${entry}`, { method: 'POST' }));
    await expect401(await qbox(mount, 'GET', `/stat/${entry}`, '', 'other-secret'));
    await expect401(await fetch(`${mount.url}/delete/${entry}`, { method: 'POST', headers: { authorization: `QBox other-ak:${qboxToken(AK, SK, `/delete/${entry}`).split(':')[1]}` } }));
    // A QBox token for another path does not carry over.
    await expect401(await fetch(`${mount.url}/delete/${entry}`, { method: 'POST', headers: { authorization: `QBox ${qboxToken(AK, SK, `/stat/${entry}`)}` } }));
    // Batch: the form body is signed; a token over one op list cannot delete another.
    const signedFor = `op=${encodeURIComponent(`/delete/${encodedEntry('bucket', 'other')}`)}`;
    const sent = `op=${encodeURIComponent(`/delete/${entry}`)}`;
    await expect401(await fetch(`${mount.url}/batch`, { method: 'POST', body: sent,
      headers: { 'content-type': FORM, authorization: `QBox ${qboxToken(AK, SK, '/batch', '', FORM, signedFor)}` } }));
    // The SDK with a wrong secret key (V2 signature).
    const bad = await bucketManager(mount, 'other-secret').stat('bucket', 'k.txt');
    expect(bad.resp.statusCode).toBe(401);
    expect(bad.data).toEqual({ error: 'bad token' });
    const badDel = await bucketManager(mount, 'other-secret').delete('bucket', 'k.txt');
    expect(badDel.resp.statusCode).toBe(401);
    expect(emu.object('bucket', 'k.txt')?.body.toString()).toBe('keep');
  } finally {
    await mount.close();
  }
  // Strict mode: the Node SDK's `Host: host:port:port` signature is refused like any other bad one.
  const strict = await setup({ nodeSdkHostQuirk: false });
  try {
    strict.emu.putObject('bucket', 'k.txt', 'keep');
    const r = await bucketManager(strict.mount).stat('bucket', 'k.txt');
    expect(r.resp.statusCode).toBe(401);
    expect(r.data).toEqual({ error: 'bad token' });
  } finally {
    await strict.mount.close();
  }
});

/** The qiniu Node SDK's FormUploader with its up host pointed at the loopback mount (`POST /`, multipart/form-data). */
function formUploader(mount: LoopbackMount): qiniu.form_up.FormUploader {
  const host = mount.url.replace('http://', '');
  const config = new qiniu.conf.Config({ useHttpsDomain: false });
  config.zone = new qiniu.conf.Zone([host], [], host, host, host, host);
  return new qiniu.form_up.FormUploader(config);
}

test('CT-CLOUD-QINIU-012 form upload through the SDK\'s FormUploader: a normal and an EMPTY file (0 bytes) stat and download right; callback relayed', async () => {
  const { emu, mount } = await setup();
  const cb = await callbackServer(cloudreve(0));
  try {
    const mac = new qiniu.auth.digest.Mac(AK, SK);
    const up = formUploader(mount);
    const bm = bucketManager(mount);
    const deadline = Math.floor(Date.now() / 1000) + 600;

    // A normal file, with a custom var and returnBody using it; the SDK adds `crc32` (after the file) and the emulator checks it.
    const data = payload(300_000, 12);
    const key = 'dir/文件 form.bin';
    const token = new qiniu.rs.PutPolicy({ scope: `bucket:${key}`, returnBody: '{"key":"$(key)","hash":"$(etag)","fsize":$(fsize),"fname":"$(fname)","v":"$(x:v)"}' }).uploadToken(mac);
    const r = await up.put(token, key, data, new qiniu.form_up.PutExtra('form.bin', { 'x:v': 'hello' }, 'application/pdf'));
    expect(r.resp.statusCode).toBe(200);
    const o = emu.object('bucket', key);
    expect(Buffer.compare(o?.body ?? Buffer.alloc(0), data)).toBe(0);
    expect(r.data).toEqual({ key, hash: o?.hash, fsize: data.length, fname: 'form.bin', v: 'hello' });
    const st = await bm.stat('bucket', key);
    expect(st.data).toEqual({ fsize: data.length, hash: o?.hash, mimeType: 'application/pdf', putTime: (o?.putTime ?? 0) * 10_000, type: 0 });
    let res = await fetch(bm.privateDownloadUrl(mount.url, key, deadline));
    expect(res.status).toBe(200);
    expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), data)).toBe(0);

    // EMPTY files: FormUploader.put of a 0-byte buffer, putStream of an empty stream; default answer {hash, key}.
    const emptyHash = 'Fto5o-5ea0sNMlW_75VgGJCv2AcJ';
    const e1 = await up.put(new qiniu.rs.PutPolicy({ scope: 'bucket:empty.txt' }).uploadToken(mac), 'empty.txt', Buffer.alloc(0), null);
    expect(e1.resp.statusCode).toBe(200);
    expect(e1.data).toEqual({ hash: emptyHash, key: 'empty.txt' });
    const e2 = await up.putStream(new qiniu.rs.PutPolicy({ scope: 'bucket:empty2.txt' }).uploadToken(mac), 'empty2.txt', Readable.from([]), null);
    expect(e2.resp.statusCode).toBe(200);
    expect(e2.data).toEqual({ hash: emptyHash, key: 'empty2.txt' });
    for (const k of ['empty.txt', 'empty2.txt']) {
      expect(emu.object('bucket', k)?.body.length).toBe(0);
      const s = await bm.stat('bucket', k);
      expect(s.resp.statusCode).toBe(200);
      expect(s.data).toMatchObject({ fsize: 0, hash: emptyHash });
      res = await fetch(bm.privateDownloadUrl(mount.url, k, deadline));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe('0');
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    }

    // Cloudreve's token for an empty file (forceSaveKey/saveKey, callback, no fsizeLimit): the callback runs as for the
    // resumable complete and its answer is relayed.
    const cKey = 'qiniu/7/empty_cb.txt';
    const s = emu.issueSession({ upHost: mount.url, bucket: 'bucket', key: cKey, size: 0, callbackUrl: `${cb.url}/api/v4/callback/qiniu/sid/secret` });
    const c = await up.put(s.token, cKey, Buffer.alloc(0), null);
    expect(c.resp.statusCode).toBe(200);
    expect(c.data).toEqual({ code: 0, msg: '' });
    expect(cb.received).toHaveLength(1);
    expect(cb.received[0]?.body.toString()).toBe('{"size":0,"pic_info":","}');
    expect(cloudreveQiniuCheck(cb.received[0] as Received)).toBe(true);
    expect(emu.object('bucket', cKey)?.body.length).toBe(0);
    expect(emu.requests.filter((q) => new URL(q.url).pathname === '/').map((q) => `${q.method} ${q.status}`)).toEqual(['POST 200', 'POST 200', 'POST 200', 'POST 200']);
  } finally {
    await cb.close();
    await mount.close();
  }
});

test('CT-CLOUD-QINIU-013 form upload errors: no token / bad token 401, expired 401, key outside the scope 403, fsizeLimit 413, crc32 406, insertOnly on an existing key 614', async () => {
  let clock = Date.now();
  const { emu, mount } = await setup({ now: () => clock });
  try {
    const up = formUploader(mount);
    const dl = Math.floor(clock / 1000) + 60;
    const body = Buffer.from('form body');
    const expectErr = async (p: Promise<qiniu.form_up.UploadResult>, status: number, error: string) => {
      const r = await p;
      expect(r.resp.statusCode).toBe(status);
      expect(r.data).toEqual({ error });
    };
    // Missing token (a raw form without `token`), then a tampered signature and another secret key.
    const fd = new FormData();
    fd.append('key', 'k.bin');
    fd.append('file', new Blob([body]), 'k.bin');
    const noToken = await fetch(`${mount.url}/`, { method: 'POST', body: fd });
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toEqual({ error: 'token not specified' });
    const good = emu.token({ scope: 'bucket:k.bin', deadline: dl });
    const [ak, sig, pol] = good.split(':');
    await expectErr(up.put(`${ak}:${(sig ?? '').replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A'))}:${pol}`, 'k.bin', body, null), 401, 'bad token');
    await expectErr(up.put(qiniuUploadToken(AK, 'other-secret', { scope: 'bucket:k.bin', deadline: dl }), 'k.bin', body, null), 401, 'bad token');
    // A token that is no token at all (the SDK parses its token before sending, so a raw form).
    const fd2 = new FormData();
    fd2.append('token', 'not-a-token');
    fd2.append('key', 'k.bin');
    fd2.append('file', new Blob([body]), 'k.bin');
    const junk = await fetch(`${mount.url}/`, { method: 'POST', body: fd2 });
    expect(junk.status).toBe(401);
    expect(await junk.json()).toEqual({ error: 'bad token' });
    // Expired.
    clock += 61_000;
    await expectErr(up.put(good, 'k.bin', body, null), 401, 'expired token');
    clock -= 61_000;
    await expectErr(up.put(good, 'other.bin', body, null), 403, 'key doesn\'t match with scope');
    await expectErr(up.put(emu.token({ scope: 'bucket:k.bin', deadline: dl, fsizeLimit: 4 }), 'k.bin', body, null), 413, 'exceed FsizeLimit');
    await expectErr(up.put(good, 'k.bin', body, new qiniu.form_up.PutExtra(undefined, undefined, undefined, '12345')), 406, 'crc32 not match');
    await expectErr(up.put(emu.token({ scope: 'nobucket:k.bin', deadline: dl }), 'k.bin', body, null), 631, 'no such bucket');
    expect(emu.object('bucket', 'k.bin')).toBeUndefined();
    // insertOnly on an existing key (also an empty upload), and a bucket-wide scope that may not overwrite.
    emu.putObject('bucket', 'taken.bin', 'old');
    await expectErr(up.put(emu.token({ scope: 'bucket:taken.bin', deadline: dl, insertOnly: 1 }), 'taken.bin', body, null), 614, 'file exists');
    await expectErr(up.put(emu.token({ scope: 'bucket:taken.bin', deadline: dl, insertOnly: 1 }), 'taken.bin', Buffer.alloc(0), null), 614, 'file exists');
    await expectErr(up.put(emu.token({ scope: 'bucket', deadline: dl }), 'taken.bin', body, null), 614, 'file exists');
    expect(emu.object('bucket', 'taken.bin')?.body.toString()).toBe('old');
    // The same key with an overwriting `bucket:key` scope replaces it.
    const ok = await up.put(good, 'k.bin', body, null);
    expect(ok.resp.statusCode).toBe(200);
    expect(emu.object('bucket', 'k.bin')?.body.toString()).toBe('form body');
  } finally {
    await mount.close();
  }
});
