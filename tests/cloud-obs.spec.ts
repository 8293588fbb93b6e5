// CT-OBS: the OBS emulator verifies the signatures Cloudreve's OBS policy puts on its URLs (huaweicloud-sdk-go-obs
// v3.24.6: OBS signature on a domain endpoint, V2 on an IP endpoint), serves Huawei's own Node SDK (esdk-obs-nodejs)
// on the loopback mount and in-process through nock, and after a completed multipart upload POSTs the x-obs-callback
// policy's body to the Cloudreve server, answering the client with the callback's answer.
import { test, expect } from '@playwright/test';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountLoopback, mountNock, readBody } from '../harness/cloud/mount.js';
import { ObsEmulator, renderObsCallbackBody } from '../harness/cloud/obs.js';
import { completeXml, parseS3Error, patternBytes } from '../harness/cloud/s3-testkit.js';

const AK = 'CRCONFORMANCEAK';
const SK = 'crconformance/secret+key==';
const creds = { accessKeyId: AK, secretAccessKey: SK };
const KEY = '7/probe/dir/7_AbCd_hello world 中.bin';
const UPLOAD_ID = 'UPLOADID-abc_123.XYZ';
const OCTET = { 'content-type': 'application/octet-stream' };

// esdk-obs-nodejs ships no type declarations: the handful of calls used here.
interface ObsResult { CommonMsg: { Status: number; Code: string; Message: string }; InterfaceResult?: Record<string, unknown> & {
  UploadId?: string; ETag?: string; ContentLength?: string; Content?: NodeJS.ReadableStream; Uploads?: { UploadId: string }[] } }
interface ObsClientLike {
  initiateMultipartUpload(p: object): Promise<ObsResult>; uploadPart(p: object): Promise<ObsResult>; completeMultipartUpload(p: object): Promise<ObsResult>;
  abortMultipartUpload(p: object): Promise<ObsResult>; listMultipartUploads(p: object): Promise<ObsResult>; getObjectMetadata(p: object): Promise<ObsResult>;
  getObject(p: object): Promise<ObsResult>; createSignedUrlSync(p: object): { SignedUrl: string; ActualSignedRequestHeaders: Record<string, string> };
}
const ObsClient = createRequire(import.meta.url)('esdk-obs-nodejs') as new (o: object) => ObsClientLike;
async function obsClient(server: string): Promise<ObsClientLike> {
  const c = new ObsClient({ access_key_id: AK, secret_access_key: SK, server, max_retry_count: 0, timeout: 10 });
  await new Promise((r) => setTimeout(r, 0)); // the constructor finishes its set-up asynchronously
  return c;
}

// Produced by huaweicloud-sdk-go-obs v3.24.6 exactly as Cloudreve 4.18.0 pkg/filemanager/driver/obs/obs.go Token() calls
// it: obs.New(AK, SK, endpoint, WithSignature(SignatureObs)).CreateSignedUrl{PUT, partNumber/uploadId, Expires 3600,
// Headers {Content-Length, Content-Type: application/octet-stream}} and {POST, uploadId + x-obs-callback=<base64 policy>}
// at unix time SIGNED_AT. With the IP endpoint the SDK goes path style and downgrades to the V2 signature (AWSAccessKeyId,
// as in the recorded Cloudreve session, cloud_sessions.jsonl); with the domain endpoint it signs OBS-style (AccessKeyId).
const SIGNED_AT = 1795593717;
const CALLBACK = 'eyJjYWxsYmFja0JvZHkiOiJ7XCJuYW1lXCI6JHtrZXl9LFwic291cmNlX25hbWVcIjoke2ZuYW1lfSxcInNpemVcIjoke3NpemV9fSIsImNhbGxiYWNrQm9keVR5cGUiOiJhcHBsaWNhdGlvbi9qc29uIiwiY2FsbGJhY2tVcmwiOiJodHRwOi8vMTI3LjAuMC4xOjUyMTIvYXBpL3Y0L2NhbGxiYWNrL29icy9zaWQtMS9zZWNyZXQtMSJ9';
const GO = {
  ipPart: 'http://127.0.0.1:9000/cr-bucket/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?partNumber=1&uploadId=UPLOADID-abc_123.XYZ&AWSAccessKeyId=CRCONFORMANCEAK&Expires=1795597317&Signature=UD%2FZb%2BE7w4IPtzYTz7rRoe76ls0%3D',
  ipComplete: `http://127.0.0.1:9000/cr-bucket/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?uploadId=UPLOADID-abc_123.XYZ&x-obs-callback=${CALLBACK}&AWSAccessKeyId=CRCONFORMANCEAK&Expires=1795597317&Signature=jfZaVJntfRTJV%2Bt%2B0wkfVoGgm6I%3D`,
  domainPart: 'https://cr-bucket.obs.cn-north-4.myhuaweicloud.com:443/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?partNumber=1&uploadId=UPLOADID-abc_123.XYZ&AccessKeyId=CRCONFORMANCEAK&Expires=1795597317&Signature=UD%2FZb%2BE7w4IPtzYTz7rRoe76ls0%3D',
  domainComplete: `https://cr-bucket.obs.cn-north-4.myhuaweicloud.com:443/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?uploadId=UPLOADID-abc_123.XYZ&x-obs-callback=${CALLBACK}&AccessKeyId=CRCONFORMANCEAK&Expires=1795597317&Signature=jgrRqLv1r%2FaGRqTOdYbs3%2BORDpk%3D`,
};

/**
 * esdk-obs-nodejs sends a non-stream `Body` as String(body) — UTF-8 text, so binary Buffers arrive mangled (and in OBS
 * mode labelled application/json); a stream `Body` goes chunked without Content-Length. Its binary path is
 * SourceFile + Offset + PartSize, used here: the parts are written to a temporary file.
 */
function partsFile(bodies: Buffer[]): { file: string; parts: { Offset: number; PartSize: number }[]; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ct-obs-'));
  const file = join(dir, 'payload.bin');
  writeFileSync(file, Buffer.concat(bodies));
  let offset = 0;
  const parts = bodies.map((b) => { const p = { Offset: offset, PartSize: b.length }; offset += b.length; return p; });
  return { file, parts, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const bodyOf = (b: Buffer) => (async function* () { if (b.length) yield b; })();
async function send(emu: ObsEmulator, method: string, url: string, body: Buffer = Buffer.alloc(0), headers: Record<string, string> = OCTET) {
  const u = new URL(url);
  const r = await emu.handle({ method, url: u, headers: { host: u.host, 'content-length': String(body.length), ...headers }, body: bodyOf(body) });
  const text = r.body === undefined ? '' : r.body.toString();
  return { status: r.status, headers: r.headers ?? {}, text, error: parseS3Error(text) };
}
function goEmulator(now = SIGNED_AT * 1000 + 1000) {
  const emu = new ObsEmulator({ credentials: creds, buckets: ['cr-bucket'], now: () => now });
  emu.createUploadDirect('cr-bucket', KEY, { uploadId: UPLOAD_ID });
  return emu;
}

/** A stand-in Cloudreve callback endpoint on loopback. */
async function callbackServer(answer: (req: IncomingMessage, body: string) => [number, string]) {
  const hits: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const server: Server = createServer(async (req, res) => {
    const body = (await readBody(req)).toString('utf8');
    hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const [status, text] = answer(req, body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

test('CT-OBS-001 URLs signed by huaweicloud-sdk-go-obs as Cloudreve does (V2 on an IP endpoint, OBS on a domain): accepted; tampered or expired refused', async () => {
  const part = patternBytes(5000, 1);
  for (const [url, flavor, idHeader] of [[GO.ipPart, 'obs-v2', 'x-amz-request-id'], [GO.domainPart, 'obs', 'x-obs-request-id']] as const) {
    const emu = goEmulator();
    const r = await send(emu, 'PUT', url, part);
    expect(r.status, url).toBe(200);
    expect(r.headers.etag).toBe(`"${createHash('md5').update(part).digest('hex')}"`);
    expect(r.headers[idHeader]).toMatch(/^[0-9A-F]{16}$/);
    expect(emu.requests()[0]).toMatchObject({ operation: 'UploadPart', auth: 'v2-query', flavor });
    for (const [name, bad, headers] of [['signature', url.replace('UD%2FZb', 'UD%2FZc'), OCTET], ['partNumber', url.replace('partNumber=1', 'partNumber=2'), OCTET],
      ['uploadId', url.replace('uploadId=UPLOADID', 'uploadId=UPLOADIE'), OCTET], ['content-type', url, { 'content-type': 'application/json' }]] as const) {
      const t = await send(emu, 'PUT', bad, part, headers);
      expect([t.status, t.error.code], `${flavor} ${name}`).toEqual([403, 'SignatureDoesNotMatch']);
    }
    const expired = await send(goEmulator((SIGNED_AT + 3601) * 1000), 'PUT', url, part);
    expect([expired.status, expired.error.code, expired.error.message]).toEqual([403, 'AccessDenied', 'Request has expired']);
  }
  // The complete URLs authenticate (an empty part list is then MalformedXML).
  for (const url of [GO.ipComplete, GO.domainComplete]) expect((await send(goEmulator(), 'POST', url, Buffer.from('<CompleteMultipartUpload/>'))).error.code).toBe('MalformedXML');
  // OBS signature: the x-obs-callback query parameter is signed. V2 (IP endpoint): it is not — a client could swap it.
  const other = Buffer.from(JSON.stringify({ callbackUrl: 'http://evil.example/', callbackBody: 'x' })).toString('base64');
  expect((await send(goEmulator(), 'POST', GO.domainComplete.replace(CALLBACK, other), Buffer.from('<CompleteMultipartUpload/>'))).error.code).toBe('SignatureDoesNotMatch');
  expect((await send(goEmulator(), 'POST', GO.ipComplete.replace(CALLBACK, other), Buffer.from('<CompleteMultipartUpload/>'))).error.code).toBe('MalformedXML');
});

test('CT-OBS-002 esdk-obs-nodejs over loopback (path style, V2 signature): multipart upload, metadata, download, abort, errors', async () => {
  const emu = new ObsEmulator({ credentials: creds, buckets: ['cr'] });
  const m = await mountLoopback(emu);
  try {
    const obs = await obsClient(m.url);
    const Key = 'dir/a b.bin';
    const init = await obs.initiateMultipartUpload({ Bucket: 'cr', Key, ContentType: 'video/mp4' });
    expect(init.CommonMsg.Status).toBe(200);
    const UploadId = init.InterfaceResult!.UploadId!;
    const bodies = [patternBytes(200 * 1024, 1), patternBytes(1000, 2)];
    const src = partsFile(bodies);
    const Parts = [];
    try {
      for (const [i, Body] of bodies.entries()) {
        const r = await obs.uploadPart({ Bucket: 'cr', Key, UploadId, PartNumber: i + 1, SourceFile: src.file, ...src.parts[i] });
        expect(r.InterfaceResult!.ETag).toBe(`"${createHash('md5').update(Body).digest('hex')}"`);
        Parts.push({ PartNumber: i + 1, ETag: r.InterfaceResult!.ETag });
      }
    } finally {
      src.cleanup();
    }
    const done = await obs.completeMultipartUpload({ Bucket: 'cr', Key, UploadId, Parts });
    expect(done.CommonMsg.Status).toBe(200);
    expect(done.InterfaceResult).toMatchObject({ Bucket: 'cr', Key });
    expect(String(done.InterfaceResult!.ETag)).toMatch(/^"[0-9a-f]{32}-2"$/);
    const head = await obs.getObjectMetadata({ Bucket: 'cr', Key });
    expect([head.CommonMsg.Status, Number(head.InterfaceResult!.ContentLength), head.InterfaceResult!.ContentType]).toEqual([200, 205800, 'video/mp4']);
    const got = await obs.getObject({ Bucket: 'cr', Key, SaveAsStream: true });
    expect((await readBody(got.InterfaceResult!.Content as AsyncIterable<Buffer>)).equals(Buffer.concat(bodies))).toBe(true);

    const second = (await obs.initiateMultipartUpload({ Bucket: 'cr', Key: 'x.bin' })).InterfaceResult!.UploadId!;
    const small = [];
    for (const n of [1, 2]) small.push({ PartNumber: n, ETag: (await obs.uploadPart({ Bucket: 'cr', Key: 'x.bin', UploadId: second, PartNumber: n, Body: patternBytes(50 * 1024, n) })).InterfaceResult!.ETag });
    const tooSmall = await obs.completeMultipartUpload({ Bucket: 'cr', Key: 'x.bin', UploadId: second, Parts: small });
    expect([tooSmall.CommonMsg.Status, tooSmall.CommonMsg.Code]).toEqual([400, 'EntityTooSmall']);
    const order = await obs.completeMultipartUpload({ Bucket: 'cr', Key: 'x.bin', UploadId: second, Parts: [...small].reverse() });
    expect([order.CommonMsg.Status, order.CommonMsg.Code]).toEqual([400, 'InvalidPartOrder']);
    expect((await obs.listMultipartUploads({ Bucket: 'cr' })).InterfaceResult!.Uploads!.map((u) => u.UploadId)).toEqual([second]);
    expect((await obs.abortMultipartUpload({ Bucket: 'cr', Key: 'x.bin', UploadId: second })).CommonMsg.Status).toBe(204);
    expect((await obs.listMultipartUploads({ Bucket: 'cr' })).InterfaceResult!.Uploads ?? []).toEqual([]);
    const gone = await obs.uploadPart({ Bucket: 'cr', Key: 'x.bin', UploadId: second, PartNumber: 1, Body: Buffer.from('x') });
    expect([gone.CommonMsg.Status, gone.CommonMsg.Code]).toEqual([404, 'NoSuchUpload']);
    expect(emu.requests().filter((r) => r.operation === 'UploadPart').every((r) => r.auth === 'v2-header' && r.flavor === 'obs-v2')).toBe(true);
  } finally {
    await m.close();
  }
});

test('CT-OBS-003 nock mount: esdk-obs-nodejs against https://obs.cn-north-4.myhuaweicloud.com negotiates the OBS signature; binary parts intercepted in-process', async () => {
  const emu = new ObsEmulator({ credentials: creds, buckets: ['cr'] });
  const unmount = mountNock(emu, [/^https:\/\/([a-z0-9-]+\.)?obs\.cn-north-4\.myhuaweicloud\.com(:443)?$/]);
  try {
    const obs = await obsClient('https://obs.cn-north-4.myhuaweicloud.com');
    const Key = 'bin/part.bin';
    const UploadId = (await obs.initiateMultipartUpload({ Bucket: 'cr', Key })).InterfaceResult!.UploadId!;
    const bodies = [Buffer.concat([Buffer.from([0xff, 0x00, 0xfe, 0xc3, 0x28]), patternBytes(150 * 1024, 5)]), patternBytes(333, 6)];
    const src = partsFile(bodies);
    const Parts = [];
    try {
      for (const [i, Body] of bodies.entries()) {
        const r = await obs.uploadPart({ Bucket: 'cr', Key, UploadId, PartNumber: i + 1, SourceFile: src.file, ...src.parts[i] });
        expect(r.InterfaceResult!.ETag).toBe(`"${createHash('md5').update(Body).digest('hex')}"`);
        Parts.push({ PartNumber: i + 1, ETag: r.InterfaceResult!.ETag });
      }
    } finally {
      src.cleanup();
    }
    expect((await obs.completeMultipartUpload({ Bucket: 'cr', Key, UploadId, Parts })).CommonMsg.Status).toBe(200);
    expect(emu.objectBytes('cr', Key)!.equals(Buffer.concat(bodies))).toBe(true);
    const log = emu.requests();
    expect(log[0]).toMatchObject({ method: 'HEAD', operation: 'HeadApiVersion', status: 200 });
    expect(log.filter((r) => r.operation === 'UploadPart').map((r) => [new URL(r.url).host, r.status, r.flavor]))
      .toEqual([['cr.obs.cn-north-4.myhuaweicloud.com', 200, 'obs'], ['cr.obs.cn-north-4.myhuaweicloud.com', 200, 'obs']]);
    // The Node SDK's own OBS-signed URL (an independent implementation of the query signature) is accepted too.
    const signed = obs.createSignedUrlSync({ Method: 'PUT', Bucket: 'cr', Key: 'signed.bin', Expires: 600, Headers: OCTET,
      QueryParams: { partNumber: '1', uploadId: emu.createUploadDirect('cr', 'signed.bin') } });
    expect(signed.SignedUrl).toContain('AccessKeyId=');
    const r = await fetch(signed.SignedUrl, { method: 'PUT', body: Buffer.from([1, 2, 3]), headers: OCTET });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-obs-request-id')).toMatch(/^[0-9A-F]{16}$/);
  } finally {
    unmount();
  }
});

test('CT-OBS-004 completion callback: OBS POSTs the policy body to Cloudreve and relays the answer (200), or 203 when the callback fails', async () => {
  let answer: [number, string] = [200, '{"code":0,"msg":""}'];
  const cb = await callbackServer(() => answer);
  const emu = new ObsEmulator({ credentials: creds, buckets: ['cr'], callbackTimeoutMs: 2000 });
  const m = await mountLoopback(emu);
  try {
    const signer = await obsClient(m.url);
    const policy = (url: string) => Buffer.from(JSON.stringify({ callbackUrl: url,
      callbackBody: '{"name":${key},"source_name":${fname},"size":${size}}', callbackBodyType: 'application/json' })).toString('base64');
    /** One Cloudreve-shaped upload: signed part URLs, parts PUT, complete POST carrying the callback. */
    const upload = async (key: string, callback: string | undefined, where: 'query' | 'header' = 'query') => {
      const UploadId = emu.createUploadDirect('cr', key, { contentType: 'application/octet-stream' });
      const body = patternBytes(2048, key.length);
      const part = signer.createSignedUrlSync({ Method: 'PUT', Bucket: 'cr', Key: key, Expires: 600, Headers: OCTET, QueryParams: { partNumber: '1', uploadId: UploadId } });
      const etag = (await fetch(part.SignedUrl, { method: 'PUT', body, headers: OCTET })).headers.get('etag')!;
      const query: Record<string, string> = { uploadId: UploadId };
      if (callback && where === 'query') query['x-obs-callback'] = callback;
      const complete = signer.createSignedUrlSync({ Method: 'POST', Bucket: 'cr', Key: key, Expires: 600, Headers: OCTET, QueryParams: query });
      expect(complete.SignedUrl).toContain('AWSAccessKeyId=');
      const headers: Record<string, string> = { ...OCTET, ...(callback && where === 'header' ? { 'x-obs-callback': callback } : {}) };
      const r = await fetch(complete.SignedUrl, { method: 'POST', headers, body: completeXml([{ partNumber: 1, etag }]) });
      return { status: r.status, text: await r.text(), type: r.headers.get('content-type'), etag: r.headers.get('etag'), size: body.length };
    };

    const key = '7/probe/obs/7_x1_photo.jpg';
    const ok = await upload(key, policy(`${cb.url}/api/v4/callback/obs/sid-1/secret-1`));
    expect([ok.status, ok.text]).toEqual([200, '{"code":0,"msg":""}']);
    expect(ok.type).toContain('application/json');
    expect(ok.etag).toMatch(/^"[0-9a-f]{32}-1"$/);
    expect(cb.hits).toHaveLength(1);
    expect(cb.hits[0]).toMatchObject({ method: 'POST', url: '/api/v4/callback/obs/sid-1/secret-1' });
    expect(cb.hits[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(cb.hits[0]!.body)).toEqual({ name: key, source_name: '7_x1_photo.jpg', size: ok.size });
    expect(emu.callbacks()[0]).toMatchObject({ url: `${cb.url}/api/v4/callback/obs/sid-1/secret-1`, status: 200 });

    // Cloudreve refuses (e.g. wrong secret, 401 40020): OBS stores the object and answers 203 with a JSON error.
    answer = [401, '{"code":40020,"msg":"Invalid callback secret"}'];
    const refused = await upload('7/probe/obs/refused.bin', policy(`${cb.url}/api/v4/callback/obs/sid-2/wrong`));
    expect(refused.status).toBe(203);
    expect(JSON.parse(refused.text)).toMatchObject({ code: 'CallbackFailed' });
    expect(JSON.parse(refused.text).message).toContain('401');
    expect(emu.objectBytes('cr', '7/probe/obs/refused.bin')).toBeDefined();
    // Unreachable callback server.
    answer = [200, '{"code":0,"msg":""}'];
    const dead = await upload('7/probe/obs/dead.bin', policy('http://127.0.0.1:1/api/v4/callback/obs/x/y'));
    expect(dead.status).toBe(203);
    // The header form of x-obs-callback (OBS's documented carrier) works too.
    const viaHeader = await upload('7/probe/obs/header.bin', policy(`${cb.url}/cb/header`), 'header');
    expect(viaHeader.status).toBe(200);
    expect(cb.hits.at(-1)!.url).toBe('/cb/header');
    // A malformed policy is refused before completing; the upload stays open. No callback → the S3-style XML answer.
    const bad = await upload('7/probe/obs/bad.bin', Buffer.from('not json').toString('base64'));
    expect([bad.status, parseS3Error(bad.text).code]).toEqual([400, 'InvalidArgument']);
    expect(emu.listUploads().map((u) => u.key)).toEqual(['7/probe/obs/bad.bin']);
    const plain = await upload('7/probe/obs/plain.bin', undefined);
    expect([plain.status, plain.text.includes('<CompleteMultipartUploadResult')]).toEqual([200, true]);
    expect(renderObsCallbackBody('a=$(key)&s=${size}', 'application/x-www-form-urlencoded', { key: 'a b/c', size: 3 })).toBe('a=a%20b%2Fc&s=3');
  } finally {
    await m.close();
    await cb.close();
  }
});

test('CT-OBS-005 x-obs-forbid-overwrite refuses to replace an object (PutObject and CompleteMultipartUpload)', async () => {
  const emu = new ObsEmulator({ credentials: creds, buckets: ['cr'], enforceMinPartSize: false });
  const m = await mountLoopback(emu);
  try {
    const signer = await obsClient(m.url);
    emu.putObjectDirect('cr', 'exists.bin', 'old');
    const put = signer.createSignedUrlSync({ Method: 'PUT', Bucket: 'cr', Key: 'exists.bin', Expires: 600, Headers: OCTET });
    const refused = await fetch(put.SignedUrl, { method: 'PUT', body: 'new', headers: { ...OCTET, 'x-obs-forbid-overwrite': 'true' } });
    expect([refused.status, parseS3Error(await refused.text()).code]).toEqual([409, 'FileAlreadyExists']);
    expect(emu.objectBytes('cr', 'exists.bin')!.toString()).toBe('old');
    const uploadId = emu.createUploadDirect('cr', 'exists.bin');
    const part = signer.createSignedUrlSync({ Method: 'PUT', Bucket: 'cr', Key: 'exists.bin', Expires: 600, Headers: OCTET, QueryParams: { partNumber: '1', uploadId } });
    const etag = (await fetch(part.SignedUrl, { method: 'PUT', body: 'newer', headers: OCTET })).headers.get('etag')!;
    const complete = signer.createSignedUrlSync({ Method: 'POST', Bucket: 'cr', Key: 'exists.bin', Expires: 600, Headers: OCTET, QueryParams: { uploadId } });
    const xml = completeXml([{ partNumber: 1, etag }]);
    const c1 = await fetch(complete.SignedUrl, { method: 'POST', body: xml, headers: { ...OCTET, 'x-obs-forbid-overwrite': 'true' } });
    expect([c1.status, parseS3Error(await c1.text()).code]).toEqual([409, 'FileAlreadyExists']);
    const c2 = await fetch(complete.SignedUrl, { method: 'POST', body: xml, headers: OCTET });
    expect(c2.status).toBe(200);
    expect(emu.objectBytes('cr', 'exists.bin')!.toString()).toBe('newer');
  } finally {
    await m.close();
  }
});

// Produced by huaweicloud-sdk-go-obs v3.24.6 as Cloudreve 4.18.0 obs.go Source() calls it for a download:
// CreateSignedUrl{GET, Expires 3600, QueryParams {response-content-disposition: `attachment; filename="<name>";
// filename*=UTF-8''<url.PathEscape(name)>`}} at unix time GET_SIGNED_AT, on the IP endpoint (path style, V2) and the
// domain endpoint (OBS signature). The SDK writes values with url.QueryEscape (space → `+`) and signs them raw
// (`attachment; filename="hello world 中 (1)'s.bin"; …`); response-content-disposition is a signed sub-resource.
const GET_SIGNED_AT = 1795604879;
const GET_QUERY = 'response-content-disposition=attachment%3B+filename%3D%22hello+world+%E4%B8%AD+%281%29%27s.bin%22%3B+filename%2A%3DUTF-8%27%27hello%2520world%2520%25E4%25B8%25AD%2520%25281%2529%2527s.bin';
const GET_DISPOSITION = "attachment; filename=\"hello world 中 (1)'s.bin\"; filename*=UTF-8''hello%20world%20%E4%B8%AD%20%281%29%27s.bin";
/** A header value as sent on the wire (UTF-8 bytes), read back as text. */
const utf8Header = (v: string | null | undefined) => (v == null ? v : Buffer.from(v, 'latin1').toString('utf8'));
const GO_GET = {
  ip: `http://127.0.0.1:9000/cr-bucket/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?${GET_QUERY}&AWSAccessKeyId=CRCONFORMANCEAK&Expires=1795608479&Signature=bbnwg7zjxVuClGKKl7xEHN3La9c%3D`,
  domain: `https://cr-bucket.obs.cn-north-4.myhuaweicloud.com:443/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?${GET_QUERY}&AccessKeyId=CRCONFORMANCEAK&Expires=1795608479&Signature=bbnwg7zjxVuClGKKl7xEHN3La9c%3D`,
};

test('CT-OBS-006 download URLs signed by huaweicloud-sdk-go-obs as Cloudreve does (+ for spaces, response-content-disposition signed): accepted; a literal + or another value refused', async () => {
  const data = patternBytes(4000, 3);
  const emulator = (now = (GET_SIGNED_AT + 5) * 1000) => {
    const emu = new ObsEmulator({ credentials: creds, buckets: ['cr-bucket'], now: () => now });
    emu.putObjectDirect('cr-bucket', KEY, data);
    return emu;
  };
  for (const [url, flavor] of [[GO_GET.ip, 'obs-v2'], [GO_GET.domain, 'obs']] as const) {
    const emu = emulator();
    const r = await emu.handle({ method: 'GET', url: new URL(url), headers: { host: new URL(url).host }, body: bodyOf(Buffer.alloc(0)) });
    expect(r.status, url).toBe(200);
    expect(Buffer.compare(r.stream ? await readBody(r.stream) : Buffer.from(r.body ?? ''), data)).toBe(0);
    expect(utf8Header(r.headers?.['content-disposition'])).toBe(GET_DISPOSITION);
    expect(emu.requests()[0]).toMatchObject({ operation: 'GetObject', auth: 'v2-query', flavor });
    // The signed value is the decoded one: %20 for + is the same request; %2B (a literal +) or another value is not.
    expect((await send(emu, 'GET', url.replace(/\+/g, '%20'), undefined, {})).status).toBe(200);
    for (const bad of [url.replace('attachment%3B+filename', 'attachment%3B%2Bfilename'), url.replace('attachment%3B', 'inline%3B'),
      url.replace(GET_QUERY, GET_QUERY.replace('hello+world', 'hello+World'))]) {
      const t = await send(emu, 'GET', bad, undefined, {});
      expect([t.status, t.error.code], bad).toEqual([403, 'SignatureDoesNotMatch']);
    }
    const late = await send(emulator((GET_SIGNED_AT + 3601) * 1000), 'GET', url, undefined, {});
    expect([late.status, late.error.code, late.error.message]).toEqual([403, 'AccessDenied', 'Request has expired']);
  }
  // esdk-obs-nodejs, an independent signer, writes the same download URL with %20; it is served as well.
  const emu = new ObsEmulator({ credentials: creds, buckets: ['cr-bucket'] });
  emu.putObjectDirect('cr-bucket', KEY, data);
  const m = await mountLoopback(emu);
  try {
    const signer = await obsClient(m.url);
    const signed = signer.createSignedUrlSync({ Method: 'GET', Bucket: 'cr-bucket', Key: KEY, Expires: 600, QueryParams: { 'response-content-disposition': GET_DISPOSITION } });
    const res = await fetch(signed.SignedUrl);
    expect(res.status, signed.SignedUrl).toBe(200);
    expect(utf8Header(res.headers.get('content-disposition'))).toBe(GET_DISPOSITION);
    expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), data)).toBe(0);
  } finally {
    await m.close();
  }
});
