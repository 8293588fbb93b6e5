// CT-KS3: the KS3 emulator verifies the V2 query signature Cloudreve's KS3 policy puts on part and complete URLs
// (ks3sdklib/aws-sdk-go v1.6.2, signer V2) — AWS's published V2 examples reproduce, URLs produced by the real KS3 SDK
// are accepted and tampered or expired ones refused with S3-style errors — and runs the S3 multipart core behind it.
import { test, expect } from '@playwright/test';
import { createHash } from 'node:crypto';
import { mountLoopback } from '../harness/cloud/mount.js';
import { Ks3Emulator, KS3_V2 } from '../harness/cloud/ks3.js';
import { hmacSha1Base64, presignV2, v2CanonicalHeaders, v2CanonicalResource, v2StringToSign, verifyV2Header, verifyV2Query } from '../harness/cloud/s3-v2sign.js';
import { completeXml, parseS3Error, patternBytes } from '../harness/cloud/s3-testkit.js';

const AK = 'CRCONFORMANCEAK';
const SK = 'crconformance/secret+key==';
const creds = { accessKeyId: AK, secretAccessKey: SK };
const KEY = '7/probe/dir/7_AbCd_hello world 中.bin';
const UPLOAD_ID = 'UPLOADID-abc_123.XYZ';
const MiB = 1024 * 1024;

// Produced by ks3sdklib/aws-sdk-go v1.6.2 exactly as Cloudreve 4.18.0 pkg/filemanager/driver/ks3/ks3.go Token() calls it:
// GeneratePresignedUrl{HTTPMethod PUT|POST, Bucket, Key, Expires 3600, Parameters {partNumber, uploadId} | {uploadId},
// ContentType "application/octet-stream"}, endpoint http://127.0.0.1:9000 with S3ForcePathStyle, or the virtual-hosted
// https://ks3-cn-beijing.ksyuncs.com, at unix time SIGNED_AT (Expires = SIGNED_AT + 3600). Same shape as the recorded
// Cloudreve session (fixtures/transcripts/cloudreve-4.18.0-policies/cloud_sessions.jsonl): Expires, partNumber, uploadId,
// AWSAccessKeyId, Signature.
const SIGNED_AT = 1795593717;
const GO = {
  pathPart: 'http://127.0.0.1:9000/cr-bucket/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?Expires=1795597317&partNumber=2&uploadId=UPLOADID-abc_123.XYZ&AWSAccessKeyId=CRCONFORMANCEAK&Signature=FL08apdHOxdu%2F5hYRKLEd5bPOsE%3D',
  pathComplete: 'http://127.0.0.1:9000/cr-bucket/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?Expires=1795597317&uploadId=UPLOADID-abc_123.XYZ&AWSAccessKeyId=CRCONFORMANCEAK&Signature=jfZaVJntfRTJV%2Bt%2B0wkfVoGgm6I%3D',
  vhostPart: 'https://cr-bucket.ks3-cn-beijing.ksyuncs.com/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?Expires=1795597317&partNumber=2&uploadId=UPLOADID-abc_123.XYZ&AWSAccessKeyId=CRCONFORMANCEAK&Signature=FL08apdHOxdu%2F5hYRKLEd5bPOsE%3D',
  vhostComplete: 'https://cr-bucket.ks3-cn-beijing.ksyuncs.com/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?Expires=1795597317&uploadId=UPLOADID-abc_123.XYZ&AWSAccessKeyId=CRCONFORMANCEAK&Signature=jfZaVJntfRTJV%2Bt%2B0wkfVoGgm6I%3D',
};
const OCTET = { 'content-type': 'application/octet-stream' };

const bodyOf = (b: Buffer) => (async function* () { if (b.length) yield b; })();
async function send(emu: Ks3Emulator, method: string, url: string, body: Buffer = Buffer.alloc(0), headers: Record<string, string> = {}) {
  const u = new URL(url);
  const r = await emu.handle({ method, url: u, headers: { host: u.host, 'content-length': String(body.length), ...headers }, body: bodyOf(body) });
  const text = r.body === undefined ? '' : r.body.toString();
  return { status: r.status, headers: r.headers ?? {}, text, error: parseS3Error(text) };
}
function goEmulator(now = SIGNED_AT * 1000 + 1000) {
  const emu = new Ks3Emulator({ credentials: creds, buckets: ['cr-bucket'], now: () => now });
  emu.createUploadDirect('cr-bucket', KEY, { uploadId: UPLOAD_ID });
  return emu;
}

test('CT-KS3-001 AWS\'s published V2 examples reproduce (query string and header forms)', () => {
  const aws = { lookup: (k: string) => (k === 'AKIAIOSFODNN7EXAMPLE' ? { accessKeyId: k, secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' } : undefined) };
  // docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html, "Query string request authentication".
  expect(hmacSha1Base64('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg')).toBe('NpgCjnDzrM+WFzoENXmpNDUsSn8=');
  const query = (sig: string, path = '/johnsmith/photos/puppy.jpg') => verifyV2Query({ method: 'GET', canonicalPath: path,
    query: [['AWSAccessKeyId', 'AKIAIOSFODNN7EXAMPLE'], ['Expires', '1175139620'], ['Signature', sig]], headers: { host: 'johnsmith.s3.amazonaws.com' } },
  KS3_V2, { ...aws, now: 1175139000_000 });
  expect(query('NpgCjnDzrM+WFzoENXmpNDUsSn8=')).toMatchObject({ ok: true, kind: 'v2-query', accessKeyId: 'AKIAIOSFODNN7EXAMPLE' });
  expect(query('NpgCjnDzrM+WFzoENXmpNDUsSn9=')).toMatchObject({ ok: false, error: { status: 403, code: 'SignatureDoesNotMatch' } });
  expect(query('NpgCjnDzrM+WFzoENXmpNDUsSn8=', '/johnsmith/photos/kitten.jpg')).toMatchObject({ ok: false, error: { code: 'SignatureDoesNotMatch' } });
  // Same page, header form: GET and PUT examples.
  const header = (method: string, date: string, sig: string, contentType?: string) => verifyV2Header({ method, canonicalPath: '/johnsmith/photos/puppy.jpg',
    query: [], headers: { host: 'johnsmith.s3.amazonaws.com', date, authorization: `AWS AKIAIOSFODNN7EXAMPLE:${sig}`, ...(contentType ? { 'content-type': contentType } : {}) } },
  KS3_V2, { ...aws, now: Date.parse(date) + 1000 });
  expect(header('GET', 'Tue, 27 Mar 2007 19:36:42 +0000', 'bWq2s1WEIj+Ydj0vQ697zp+IXMU=')).toMatchObject({ ok: true, kind: 'v2-header' });
  expect(header('PUT', 'Tue, 27 Mar 2007 21:15:45 +0000', 'MyyxeRY7whkBe+bq8fHCL/2kKUg=', 'image/jpeg')).toMatchObject({ ok: true });
  expect(header('PUT', 'Tue, 27 Mar 2007 21:15:45 +0000', 'MyyxeRY7whkBe+bq8fHCL/2kKUg=', 'image/png')).toMatchObject({ ok: false, error: { code: 'SignatureDoesNotMatch' } });
});

test('CT-KS3-002 URLs signed by ks3sdklib/aws-sdk-go as Cloudreve does: accepted; tampered, re-typed, expired or foreign ones refused', async () => {
  const part = patternBytes(5 * MiB, 5);
  for (const url of [GO.pathPart, GO.vhostPart]) {
    const emu = goEmulator();
    const ok = await send(emu, 'PUT', url, part, OCTET);
    expect(ok.status, url).toBe(200);
    expect(ok.headers.etag).toBe(`"${createHash('md5').update(part).digest('hex')}"`);
    expect(emu.listParts(UPLOAD_ID)!.map((p) => p.partNumber)).toEqual([2]);
  }
  for (const url of [GO.pathComplete, GO.vhostComplete]) {
    const r = await send(goEmulator(), 'POST', url, Buffer.from('<CompleteMultipartUpload></CompleteMultipartUpload>'), OCTET);
    expect(r.error.code, url).toBe('MalformedXML'); // authenticated; no <Part>
  }
  const emu = goEmulator();
  const refused = async (name: string, url: string, headers: Record<string, string> = OCTET) => {
    const r = await send(emu, 'PUT', url, part, headers);
    expect([r.status, r.error.code], name).toEqual([403, 'SignatureDoesNotMatch']);
    return r;
  };
  const r = await refused('signature', GO.pathPart.replace('FL08apdH', 'FL08apdI'));
  expect(r.error.fields.StringToSign).toBe(`PUT\n\napplication/octet-stream\n1795597317\n/cr-bucket/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?partNumber=2&uploadId=${UPLOAD_ID}`);
  await refused('partNumber', GO.pathPart.replace('partNumber=2', 'partNumber=3'));
  await refused('Expires', GO.pathPart.replace('Expires=1795597317', 'Expires=1795597318'));
  await refused('content-type', GO.pathPart, { 'content-type': 'text/plain' });
  await refused('no content-type', GO.pathPart, {});
  await refused('key', GO.pathPart.replace('hello%20world', 'hello%20there'));
  expect((await send(emu, 'PUT', GO.pathPart.replace('AWSAccessKeyId=CRCONFORMANCEAK', 'AWSAccessKeyId=OTHER'), part, OCTET)).error.code).toBe('InvalidAccessKeyId');
  const expired = await send(goEmulator((SIGNED_AT + 3601) * 1000), 'PUT', GO.pathPart, part, OCTET);
  expect([expired.status, expired.error.code, expired.error.message]).toEqual([403, 'AccessDenied', 'Request has expired']);
  expect(expired.error.fields).toMatchObject({ Expires: '2026-11-25T09:01:57Z', ServerTime: '2026-11-25T09:01:58Z' });
  expect(expired.error.fields['X-Amz-Expires']).toBeUndefined();
});

/** Header auth as the KS3 Go SDK sends it for the server-side calls (Authorization: AWS AK:sig, Date). */
function signedHeaders(method: string, canonicalPath: string, query: [string, string][], headers: Record<string, string> = {}): Record<string, string> {
  const date = new Date().toUTCString();
  const sts = v2StringToSign({ method, contentMd5: headers['content-md5'] ?? '', contentType: headers['content-type'] ?? '', dateOrExpires: date,
    canonicalHeaders: v2CanonicalHeaders(headers, KS3_V2.headerPrefixes), canonicalResource: v2CanonicalResource(canonicalPath, query, KS3_V2.subresourceRules[0]!) });
  return { ...headers, date, authorization: `AWS ${AK}:${hmacSha1Base64(SK, sts)}` };
}

test('CT-KS3-003 a whole KS3 multipart upload over loopback the Cloudreve way, with S3\'s multipart errors', async () => {
  const emu = new Ks3Emulator({ credentials: creds, buckets: ['cr'] });
  const m = await mountLoopback(emu);
  try {
    const key = '7/probe/ks3/ok.bin';
    const path = `/cr/${key}`;
    const base = `${m.url}${path}`;
    const create = await fetch(`${base}?uploads`, { method: 'POST', headers: signedHeaders('POST', path, [['uploads', '']], { 'content-type': 'application/zip' }) });
    const createText = await create.text();
    expect(create.status, createText).toBe(200);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(createText)![1]!;
    expect(create.headers.get('x-kss-request-id')).toMatch(/^[0-9A-F]{16}$/);

    const expires = Math.floor(Date.now() / 1000) + 3600;
    const partUrl = (n: number) => presignV2({ method: 'PUT', url: new URL(`${base}?partNumber=${n}&uploadId=${uploadId}`), canonicalPath: path,
      accessKeyId: AK, secretAccessKey: SK, expires, contentType: 'application/octet-stream', flavor: KS3_V2 });
    const bodies = [patternBytes(5 * MiB, 31), patternBytes(4321, 32)];
    const etags: string[] = [];
    for (const [i, body] of bodies.entries()) {
      const r = await fetch(partUrl(i + 1), { method: 'PUT', body, headers: OCTET });
      expect(r.status).toBe(200);
      etags.push(r.headers.get('etag')!);
    }
    const completeUrl = presignV2({ method: 'POST', url: new URL(`${base}?uploadId=${uploadId}`), canonicalPath: path, accessKeyId: AK, secretAccessKey: SK,
      expires, contentType: 'application/octet-stream', flavor: KS3_V2 });
    // Out of order, unknown ETag: refused, upload kept.
    const order = await fetch(completeUrl, { method: 'POST', headers: OCTET, body: completeXml([{ partNumber: 2, etag: etags[1]! }, { partNumber: 1, etag: etags[0]! }]) });
    expect([order.status, parseS3Error(await order.text()).code]).toEqual([400, 'InvalidPartOrder']);
    const unknown = await fetch(completeUrl, { method: 'POST', headers: OCTET, body: completeXml([{ partNumber: 1, etag: '"00000000000000000000000000000000"' }]) });
    expect([unknown.status, parseS3Error(await unknown.text()).code]).toEqual([400, 'InvalidPart']);
    const done = await fetch(completeUrl, { method: 'POST', headers: OCTET, body: completeXml(etags.map((etag, i) => ({ partNumber: i + 1, etag }))) });
    const doneText = await done.text();
    expect(done.status, doneText).toBe(200);
    expect(doneText).toContain('<CompleteMultipartUploadResult');
    // Cloudreve's ks3 callback HEADs the object.
    const head = await fetch(base, { method: 'HEAD', headers: signedHeaders('HEAD', path, []) });
    expect([head.status, head.headers.get('content-length'), head.headers.get('content-type')]).toEqual([200, String(5 * MiB + 4321), 'application/zip']);
    expect(emu.objectBytes('cr', key)!.equals(Buffer.concat(bodies))).toBe(true);
    const again = await fetch(partUrl(1), { method: 'PUT', body: bodies[0], headers: OCTET });
    expect([again.status, parseS3Error(await again.text()).code]).toEqual([404, 'NoSuchUpload']);

    // Too-small parts, then abort (Cloudreve's cancel) and ListMultipartUploads.
    const c2 = await fetch(`${base}2?uploads`, { method: 'POST', headers: signedHeaders('POST', `${path}2`, [['uploads', '']]) });
    const id2 = /<UploadId>([^<]+)<\/UploadId>/.exec(await c2.text())![1]!;
    const put2 = (n: number) => presignV2({ method: 'PUT', url: new URL(`${base}2?partNumber=${n}&uploadId=${id2}`), canonicalPath: `${path}2`,
      accessKeyId: AK, secretAccessKey: SK, expires, contentType: 'application/octet-stream', flavor: KS3_V2 });
    const e2: string[] = [];
    for (const n of [1, 2]) e2.push((await fetch(put2(n), { method: 'PUT', body: patternBytes(1000, n), headers: OCTET })).headers.get('etag')!);
    const c2url = presignV2({ method: 'POST', url: new URL(`${base}2?uploadId=${id2}`), canonicalPath: `${path}2`, accessKeyId: AK, secretAccessKey: SK,
      expires, contentType: 'application/octet-stream', flavor: KS3_V2 });
    const small = await fetch(c2url, { method: 'POST', headers: OCTET, body: completeXml(e2.map((etag, i) => ({ partNumber: i + 1, etag }))) });
    const smallErr = parseS3Error(await small.text());
    expect([small.status, smallErr.code, smallErr.fields.MinSizeAllowed, smallErr.fields.ProposedSize]).toEqual([400, 'EntityTooSmall', String(5 * MiB), '1000']);
    const list = async () => (await (await fetch(`${m.url}/cr?uploads`, { headers: signedHeaders('GET', '/cr', [['uploads', '']]) })).text());
    expect(await list()).toContain(`<UploadId>${id2}</UploadId>`);
    const abort = await fetch(`${base}2?uploadId=${id2}`, { method: 'DELETE', headers: signedHeaders('DELETE', `${path}2`, [['uploadId', id2]]) });
    expect(abort.status).toBe(204);
    expect(await list()).not.toContain('<Upload>');
    const gone = await fetch(`${base}2?uploadId=${id2}`, { method: 'DELETE', headers: signedHeaders('DELETE', `${path}2`, [['uploadId', id2]]) });
    expect([gone.status, parseS3Error(await gone.text()).code]).toEqual([404, 'NoSuchUpload']);
    const badHeader = await fetch(base, { method: 'HEAD', headers: { ...signedHeaders('HEAD', path, []), authorization: `AWS ${AK}:AAAAAAAAAAAAAAAAAAAAAAAAAAA=` } });
    expect(badHeader.status).toBe(403);
  } finally {
    await m.close();
  }
});
