// CT-CLOUD-QINIU: the Qiniu emulator speaks resumable upload v2: the documented token vectors reproduce, the qiniu
// Node SDK uploads through it (its tokens, its part/complete JSON), Cloudreve's flow runs to the callback — signed
// `QBox` and accepted by Cloudreve's `VerifyCallback` algorithm — and errors come back as Qiniu's JSON and statuses.
import { test, expect } from '@playwright/test';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import qiniu from 'qiniu';
import { mountLoopback, mountNock, type LoopbackMount } from '../harness/cloud/mount.js';
import { QiniuEmulator } from '../harness/cloud/qiniu.js';
import { b64url, qboxToken, qiniuUploadToken } from '../harness/cloud/qiniu-sign.js';

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
