// CT-CLOUD-UPYUN: the Upyun emulator speaks the FORM API Cloudreve's clients use (policy + authorization, file last)
// and the REST API its server uses: the documented signature vectors reproduce, the upyun Node SDK (form upload, REST
// put/get/head/delete, resumable multi-stage upload) works against it, the notify callback passes Cloudreve's
// `ValidateCallback` algorithm, and errors are Upyun's `{"msg","code","id"}`.
import { test, expect } from '@playwright/test';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { mountLoopback, mountNock, type LoopbackMount } from '../harness/cloud/mount.js';
import { UpyunEmulator, UPYUN_PART_SIZE } from '../harness/cloud/upyun.js';
import { upyunFormCredentials, upyunLegacyFormSignature, upyunSignature } from '../harness/cloud/upyun-sign.js';

const require = createRequire(import.meta.url);
interface UpyunClient {
  formPutFile(path: string, file: Buffer, params?: Record<string, unknown>): Promise<Record<string, unknown> | false>;
  putFile(path: string, data: Buffer | string, opts?: Record<string, string>): Promise<boolean | Record<string, unknown>>;
  getFile(path: string): Promise<string | false>;
  headFile(path: string): Promise<Record<string, unknown> | false>;
  deleteFile(path: string): Promise<boolean>;
  initMultipartUpload(path: string, file: Buffer): Promise<{ uuid: string; partCount: number; fileSize: number } | false>;
  multipartUpload(path: string, file: Buffer, uuid: string, partId: number): Promise<boolean>;
  completeMultipartUpload(path: string, uuid: string): Promise<boolean>;
  blockUpload(path: string, localFile: string): Promise<boolean>;
}
const upyun = require('upyun') as { Service: new (bucket: string, operator: string, password: string) => unknown; Client: new (service: unknown, opts: Record<string, string>) => UpyunClient };

const OP = 'operator123';
const PW = 'upyun-test-password';

interface Received { path: string; headers: IncomingHttpHeaders; body: Buffer }

/**
 * Cloudreve 4.18.0 `upyun.ValidateCallback`, re-implemented: `Content-Md5` must equal md5hex(body); `Authorization`
 * must equal `UPYUN ak:` + base64(HMAC-SHA1(md5hex(sk), "POST&" + r.URL.Path + "&" + Date + "&" + Content-Md5)).
 */
function cloudreveUpyunCheck(r: Received): boolean {
  const md5 = createHash('md5').update(r.body).digest('hex');
  if (md5 !== r.headers['content-md5']) return false;
  const key = createHash('md5').update(PW).digest('hex');
  const sig = createHmac('sha1', key).update(['POST', decodeURIComponent(r.path), String(r.headers.date ?? ''), md5].join('&')).digest('base64');
  return r.headers.authorization === `UPYUN ${OP}:${sig}`;
}

async function notifyServer() {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { path: new URL(req.url ?? '/', 'http://cb').pathname, headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      const ok = cloudreveUpyunCheck(r);
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? '{"code":0,"msg":""}' : '{"error":"Failed to verify callback request."}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function payload(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 11 + seed * 19 + (i >> 10)) & 0xff;
  return b;
}

async function setup(opts: Partial<ConstructorParameters<typeof UpyunEmulator>[0]> = {}): Promise<{ emu: UpyunEmulator; mount: LoopbackMount; client: UpyunClient }> {
  const emu = new UpyunEmulator({ operator: OP, password: PW, buckets: ['bucket'], ...opts });
  const mount = await mountLoopback(emu);
  const client = new upyun.Client(new upyun.Service('bucket', OP, PW), { domain: mount.url.replace('http://', ''), protocol: 'http' });
  return { emu, mount, client };
}

/** The form POST Cloudreve's web client makes (`upyunFormUploadChunk`): policy, authorization, content-type, file last. */
function formPost(url: string, policy: string, authorization: string, data: Buffer, contentType?: string, filename = 'report.pdf'): Promise<Response> {
  const form = new FormData();
  form.append('policy', policy);
  form.append('authorization', authorization);
  if (contentType) form.append('content-type', contentType);
  form.append('file', new Blob([data]), filename);
  return fetch(url, { method: 'POST', body: form });
}

test('CT-CLOUD-UPYUN-001 Upyun\'s documented signature vectors reproduce (REST, form, notify, legacy form signature)', () => {
  expect(createHash('md5').update('password123').digest('hex')).toBe('482c811da5d5b4bc6d497ffa98491e38');
  expect(upyunSignature('password123', ['PUT', '/upyun-temp/demo.jpg', 'Wed, 09 Nov 2016 14:26:58 GMT', '7ac66c0f148de9519b8bd264312c4d64'])).toBe('YUaAZX+WNAcJdNGHS5SBlITME5A=');
  const policy = 'eyJidWNrZXQiOiAidXB5dW4tdGVtcCIsICJzYXZlLWtleSI6ICIvZGVtby5qcGciLCAiZXhwaXJhdGlvbiI6ICIxNDc4Njc0NjE4IiwgImRhdGUiOiAiV2VkLCA5IE5vdiAyMDE2IDE0OjI2OjU4IEdNVCIsICJjb250ZW50LW1kNSI6ICI3YWM2NmMwZjE0OGRlOTUxOWI4YmQyNjQzMTJjNGQ2NCJ9';
  expect(upyunSignature('password123', ['POST', '/upyun-temp', 'Wed, 09 Nov 2016 14:26:58 GMT', policy, '7ac66c0f148de9519b8bd264312c4d64'])).toBe('DTGOeaCa1yk1JWG4G3DH+u5sI5M=');
  expect(upyunSignature('password123', ['POST', '/upyun_notify_url', 'Wed, 09 Nov 2016 14:26:58 GMT', 'ed091459198a814d549701dab1dc4880'])).toBe('3x6z6M9U2Ugi1FxLPhQldiXFzAc=');
  expect(upyunLegacyFormSignature('eyJidWNrZXQiOiJkZW1vYnVja2V0IiwiZXhwaXJhdGlvbiI6MTQwOTIwMDc1OCwic2F2ZS1rZXkiOiIvaW1nLmpwZyJ9', 'cAnyet74l9hdUag34h2dZu8z7gU=')).toBe('646a6a629c344ce0e6a10cadd49756d4');
});

test('CT-CLOUD-UPYUN-002 Cloudreve\'s flow: form upload with its policy, 200 result, notify signed as Cloudreve verifies it', async () => {
  const { emu, mount } = await setup();
  const cb = await notifyServer();
  try {
    const data = payload(300 * 1024 + 5);
    const s = emu.issueSession({ bucket: 'bucket', saveKey: 'upyun/7/docs/7_abc_report.pdf', size: data.length, notifyUrl: `${cb.url}/api/v4/callback/upyun/sid/secret` });
    expect(s.authorization).toMatch(new RegExp(`^UPYUN ${OP}:[A-Za-z0-9+/]+=*$`));
    const res = await formPost(`${mount.url}/bucket`, s.policy, s.authorization, data, 'application/pdf');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ code: 200, message: 'ok', url: '/upyun/7/docs/7_abc_report.pdf' });
    await emu.flush();
    expect(cb.received).toHaveLength(1);
    const n = cb.received[0] as Received;
    expect(n.path).toBe('/api/v4/callback/upyun/sid/secret');
    expect(n.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(n.body.toString()).toMatch(/^code=200&message=ok&url=%2Fupyun%2F7%2Fdocs%2F7_abc_report.pdf&time=\d+$/);
    expect(cloudreveUpyunCheck(n)).toBe(true);
    expect(emu.notifications[0]?.status).toBe(200);
    const f = emu.file('bucket', 'upyun/7/docs/7_abc_report.pdf');
    expect(f?.contentType).toBe('application/pdf');
    expect(Buffer.compare(f?.body ?? Buffer.alloc(0), data)).toBe(0);
  } finally {
    await cb.close();
    await mount.close();
  }
});

test('CT-CLOUD-UPYUN-003 the upyun Node SDK: form upload (its policy, notify), REST put/get/head/delete, resumable multi-stage upload; bytes equal', async () => {
  const { emu, mount, client } = await setup();
  const cb = await notifyServer();
  const dir = mkdtempSync(join(tmpdir(), 'upyun-'));
  try {
    const data = payload(2 * UPYUN_PART_SIZE + 999, 3);
    // (the SDK's base-64 package cannot encode a non-Latin1 policy, so the key stays ASCII here)
    const form = await client.formPutFile('/dir/form a+b.bin', data, { 'notify-url': `${cb.url}/api/v4/callback/upyun/s/k`, 'content-length-range': `0,${data.length}`, 'ext-param': 'x=1' });
    expect(form).toMatchObject({ code: 200, message: 'ok', url: '/dir/form a+b.bin', 'ext-param': 'x=1' });
    await emu.flush();
    expect(cloudreveUpyunCheck(cb.received[0] as Received)).toBe(true);
    expect(Buffer.compare(emu.file('bucket', '/dir/form a+b.bin')?.body ?? Buffer.alloc(0), data)).toBe(0);

    expect(await client.putFile('/dir/b.txt', 'hello')).toBe(true);
    expect(await client.getFile('/dir/b.txt')).toBe('hello');
    expect(await client.headFile('/dir/b.txt')).toMatchObject({ type: 'file', size: 5 });
    expect(await client.deleteFile('/dir/b.txt')).toBe(true);
    expect(await client.headFile('/dir/b.txt')).toBe(false);

    const init = await client.initMultipartUpload('/dir/multi.bin', data);
    if (!init) throw new Error('initiate failed');
    expect(init.partCount).toBe(3);
    for (let i = 0; i < init.partCount; i++) expect(await client.multipartUpload('/dir/multi.bin', data, init.uuid, i)).toBe(true);
    expect(await client.completeMultipartUpload('/dir/multi.bin', init.uuid)).toBe(true);
    expect(Buffer.compare(emu.file('bucket', '/dir/multi.bin')?.body ?? Buffer.alloc(0), data)).toBe(0);
    const file = join(dir, 'block.bin');
    writeFileSync(file, data);
    expect(await client.blockUpload('/dir/block.bin', file)).toBe(true);
    expect(Buffer.compare(emu.file('bucket', '/dir/block.bin')?.body ?? Buffer.alloc(0), data)).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await cb.close();
    await mount.close();
  }
});

test('CT-CLOUD-UPYUN-004 form API refusals: signature, expiry, size (content-length, range), md5, missing fields — Upyun JSON with its status', async () => {
  let clock = Date.now();
  const { emu, mount } = await setup({ now: () => clock });
  try {
    const url = `${mount.url}/bucket`;
    const data = payload(1000);
    const cred = (policy: Record<string, unknown>) => upyunFormCredentials(OP, PW, 'bucket', { bucket: 'bucket', 'save-key': '/x.bin', expiration: Math.floor(clock / 1000) + 60, ...policy });
    const expectError = async (res: Response, status: number, code: number) => {
      expect(res.status).toBe(status);
      const j = await res.json() as { msg: string; code: number; id: string };
      expect(j.code).toBe(code);
      expect(j.id).toMatch(/^[0-9a-f]{32}$/);
      return j.msg;
    };
    const good = cred({ 'content-length': 1000, 'content-length-range': '0,1000' });
    expect(await expectError(await formPost(url, good.policy, good.authorization.replace(/:./, (m) => (m === ':A' ? ':B' : ':A')), data), 401, 40100005)).toBe('signature error');
    expect(await expectError(await formPost(url, good.policy, `UPYUN someone:${good.authorization.split(':')[1]}`, data), 401, 40100006)).toBe('user not exists');
    await expectError(await formPost(url, good.policy, good.authorization, data.subarray(0, 999)), 400, 40000025);
    const ranged = cred({ 'content-length-range': '0,999' });
    expect(await expectError(await formPost(url, ranged.policy, ranged.authorization, data), 403, 40300009)).toBe('file too large');
    const floor = cred({ 'content-length-range': '1001,2000' });
    await expectError(await formPost(url, floor.policy, floor.authorization, data), 403, 40300008);
    const md5 = cred({ 'content-md5': createHash('md5').update('other').digest('hex') });
    await expectError(await formPost(url, md5.policy, md5.authorization, data), 400, 40000006);
    const types = cred({ 'allow-file-type': 'jpg,png' });
    await expectError(await formPost(url, types.policy, types.authorization, data, undefined, 'a.pdf'), 403, 40300010);
    const noKey = upyunFormCredentials(OP, PW, 'bucket', { bucket: 'bucket', expiration: Math.floor(clock / 1000) + 60 });
    await expectError(await formPost(url, noKey.policy, noKey.authorization, data), 400, 40000001);
    const noFile = new FormData();
    noFile.append('policy', good.policy);
    noFile.append('authorization', good.authorization);
    await expectError(await fetch(url, { method: 'POST', body: noFile }), 400, 40000005);
    await expectError(await formPost(url, 'not-base64-json', good.authorization, data), 400, 40000009);
    const other = upyunFormCredentials(OP, PW, 'nobucket', { bucket: 'nobucket', 'save-key': '/x', expiration: Math.floor(clock / 1000) + 60 });
    await expectError(await formPost(`${mount.url}/nobucket`, other.policy, other.authorization, data), 401, 40100012);
    clock += 61_000;
    expect(await expectError(await formPost(url, good.policy, good.authorization, data), 403, 40300028)).toBe('request has expired');
    clock -= 61_000;
    expect((await formPost(url, good.policy, good.authorization, data)).status).toBe(200);
    expect(emu.file('bucket', '/x.bin')?.body.length).toBe(1000);
  } finally {
    await mount.close();
  }
});

test('CT-CLOUD-UPYUN-005 REST refusals: bad signature, no Date, skewed Date, unknown file; multi-stage part size, order and unfinished complete', async () => {
  const { mount } = await setup();
  try {
    const date = new Date().toUTCString();
    const auth = (method: string, uri: string, d = date) => `UPYUN ${OP}:${upyunSignature(PW, [method, uri, d])}`;
    let res = await fetch(`${mount.url}/bucket/a.txt`, { method: 'PUT', headers: { authorization: auth('PUT', '/bucket/b.txt'), date }, body: 'x' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 40100005, msg: 'signature error' });
    res = await fetch(`${mount.url}/bucket/a.txt`, { method: 'PUT', headers: { authorization: auth('PUT', '/bucket/a.txt') }, body: 'x' });
    expect(await res.json()).toMatchObject({ code: 40100001 });
    const old = new Date(Date.now() - 3_600_000).toUTCString();
    res = await fetch(`${mount.url}/bucket/a.txt`, { method: 'PUT', headers: { authorization: auth('PUT', '/bucket/a.txt', old), date: old }, body: 'x' });
    expect(await res.json()).toMatchObject({ code: 40100002, msg: 'date offset error' });
    res = await fetch(`${mount.url}/bucket/none.txt`, { headers: { authorization: auth('GET', '/bucket/none.txt'), date } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 40400001 });

    const put = (headers: Record<string, string>, body?: Buffer) => fetch(`${mount.url}/bucket/m.bin`, { method: 'PUT', headers: { authorization: auth('PUT', '/bucket/m.bin'), date, ...headers }, body: body ?? Buffer.alloc(0) });
    res = await put({ 'x-upyun-multi-stage': 'initiate', 'x-upyun-multi-length': String(UPYUN_PART_SIZE + 10), 'x-upyun-multi-type': 'application/octet-stream' });
    expect(res.status).toBe(204);
    const uuid = res.headers.get('x-upyun-multi-uuid') ?? '';
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-upyun-next-part-id')).toBe('0');
    res = await put({ 'x-upyun-multi-stage': 'upload', 'x-upyun-multi-uuid': uuid, 'x-upyun-part-id': '1' }, Buffer.alloc(10));
    expect(await res.json()).toMatchObject({ code: 40000026 });
    res = await put({ 'x-upyun-multi-stage': 'upload', 'x-upyun-multi-uuid': uuid, 'x-upyun-part-id': '0' }, Buffer.alloc(1000));
    expect(await res.json()).toMatchObject({ code: 40000025 });
    res = await put({ 'x-upyun-multi-stage': 'upload', 'x-upyun-multi-uuid': uuid, 'x-upyun-part-id': '0' }, Buffer.alloc(UPYUN_PART_SIZE));
    expect(res.status).toBe(204);
    expect(res.headers.get('x-upyun-next-part-id')).toBe('1');
    res = await put({ 'x-upyun-multi-stage': 'complete', 'x-upyun-multi-uuid': uuid });
    expect(await res.json()).toMatchObject({ code: 40000024, msg: 'block not finished' });
    res = await put({ 'x-upyun-multi-stage': 'upload', 'x-upyun-multi-uuid': uuid, 'x-upyun-part-id': '1' }, Buffer.alloc(10));
    expect(res.headers.get('x-upyun-next-part-id')).toBe('-1');
    res = await put({ 'x-upyun-multi-stage': 'complete', 'x-upyun-multi-uuid': uuid });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-upyun-multi-length')).toBe(String(UPYUN_PART_SIZE + 10));
  } finally {
    await mount.close();
  }
});

test('CT-CLOUD-UPYUN-006 in-process through nock on v0.api.upyun.com (the host Cloudreve hard-codes): form upload and REST', async () => {
  const emu = new UpyunEmulator({ operator: OP, password: PW, buckets: ['bucket'] });
  const unmount = mountNock(emu, ['https://v0.api.upyun.com']);
  try {
    const data = payload(200 * 1024, 4);
    const s = emu.issueSession({ bucket: 'bucket', saveKey: 'nock/a.bin', size: data.length, notifyUrl: 'http://127.0.0.1:1/unreachable' });
    const res = await formPost(s.uploadUrl, s.policy, s.authorization, data);
    expect(res.status).toBe(200);
    const client = new upyun.Client(new upyun.Service('bucket', OP, PW), {});
    expect(await client.putFile('/nock/b.bin', data)).toBe(true);
    for (const p of ['/nock/a.bin', '/nock/b.bin']) expect(Buffer.compare(emu.file('bucket', p)?.body ?? Buffer.alloc(0), data)).toBe(0);
    await emu.flush();
    expect(emu.notifications[0]?.error).toBeTruthy();
  } finally {
    unmount();
  }
});
