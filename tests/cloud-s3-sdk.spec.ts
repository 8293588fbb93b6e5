// CT-S3-SDK: the official AWS SDK (@aws-sdk/client-s3) runs whole multipart uploads against the S3 emulator — on the
// loopback mount (path style) and in-process through the nock mount on the real virtual-hosted host name, binary part
// bodies included — and parses every answer; S3's multipart errors come back as the SDK's named exceptions; the
// Cloudreve web client's flow (presigned part URLs, XML completion with raw or escaped ETags) works end to end; and the
// requests aws-sdk-go v1's s3manager sends when the Cloudreve server itself stores a file (Go's XML escaping included).
import { test, expect } from '@playwright/test';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand, S3Client,
  UploadPartCommand, type S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { mountLoopback, mountNock } from '../harness/cloud/mount.js';
import { S3Emulator } from '../harness/cloud/s3.js';
import { completeXml, parseS3Error, patternBytes } from '../harness/cloud/s3-testkit.js';

const creds = { accessKeyId: 'CRCONFORMANCEAK', secretAccessKey: 'crconformance/secret+key==' };
const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest();
const multipartEtag = (parts: Buffer[]) => `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}"`;

async function sdkError(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> {
  const e = await p.then(() => undefined, (x: unknown) => x as S3ServiceException);
  if (!e) throw new Error('expected the call to fail');
  return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
}

async function withLoopback(fn: (client: S3Client, emu: S3Emulator, url: string) => Promise<void>, opts: ConstructorParameters<typeof S3Emulator>[0] = {}) {
  const emu = new S3Emulator({ credentials: creds, ...opts });
  const m = await mountLoopback(emu);
  const client = new S3Client({ region: 'us-east-1', endpoint: m.url, forcePathStyle: true, credentials: creds, maxAttempts: 1 });
  try { await fn(client, emu, m.url); } finally { client.destroy(); await m.close(); }
}

test('CT-S3-SDK-001 SDK over loopback (path style): create, 3 parts (5 MiB, 5 MiB, 1234 B), list, complete, head, get, range, abort', async () => {
  await withLoopback(async (s3, emu) => {
    const Bucket = 'conf-bucket';
    await s3.send(new CreateBucketCommand({ Bucket }));
    const Key = 'dir/sub dir/ünï code+plus.bin';
    const create = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/x-test', Metadata: { origin: 'ct' } }));
    expect(create).toMatchObject({ Bucket, Key });
    const UploadId = create.UploadId!;
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket }));
    expect(listed.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([[Key, UploadId]]);

    const bodies = [patternBytes(5 * MiB, 1), patternBytes(5 * MiB, 2), patternBytes(1234, 3)];
    const etags: string[] = [];
    for (const [i, Body] of bodies.entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }));
      expect(r.ETag).toBe(`"${md5(Body).toString('hex')}"`);
      etags.push(r.ETag!);
    }
    const parts = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    expect(parts.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual(bodies.map((b, i) => [i + 1, b.length, etags[i]]));
    expect(emu.listUploads(Bucket)[0]!.parts.map((p) => p.size)).toEqual(bodies.map((b) => b.length));

    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId,
      MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
    expect(done.ETag).toBe(multipartEtag(bodies));
    expect(done).toMatchObject({ Bucket, Key });
    expect(done.Location).toContain(`/${Bucket}/`);

    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
    const total = bodies.reduce((n, b) => n + b.length, 0);
    expect(head).toMatchObject({ ContentLength: total, ETag: multipartEtag(bodies), ContentType: 'application/x-test', Metadata: { origin: 'ct' } });
    const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToByteArray());
    expect(got.length).toBe(total);
    expect(got.equals(Buffer.concat(bodies))).toBe(true);
    const range = await s3.send(new GetObjectCommand({ Bucket, Key, Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` }));
    expect(range.ContentRange).toBe(`bytes ${5 * MiB - 10}-${5 * MiB + 9}/${total}`);
    expect(Buffer.from(await range.Body!.transformToByteArray()).equals(Buffer.concat(bodies).subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(true);
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket }))).Uploads ?? []).toEqual([]);
    expect((await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'dir/' }))).Contents?.map((c) => [c.Key, c.Size])).toEqual([[Key, total]]);

    // Abort: the upload disappears from ListMultipartUploads; a second abort is NoSuchUpload.
    const other = (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'aborted.bin' }))).UploadId!;
    await s3.send(new UploadPartCommand({ Bucket, Key: 'aborted.bin', UploadId: other, PartNumber: 1, Body: patternBytes(100, 9) }));
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket }))).Uploads?.map((u) => u.UploadId)).toEqual([other]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'aborted.bin', UploadId: other }));
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket }))).Uploads ?? []).toEqual([]);
    expect(emu.listUploads()).toEqual([]);
    expect(await sdkError(s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'aborted.bin', UploadId: other })))).toMatchObject({ name: 'NoSuchUpload', status: 404 });

    await s3.send(new DeleteObjectCommand({ Bucket, Key }));
    expect(await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key })))).toMatchObject({ name: 'NotFound', status: 404 });
    expect(await sdkError(s3.send(new GetObjectCommand({ Bucket, Key })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect(emu.requests().every((r) => r.auth === 'sigv4-header')).toBe(true);
  });
});

test('CT-S3-SDK-002 multipart errors as the SDK sees them: EntityTooSmall, InvalidPartOrder, InvalidPart, NoSuchUpload, BadDigest, PreconditionFailed', async () => {
  await withLoopback(async (s3, emu) => {
    const Bucket = 'b';
    const Key = 'k.bin';
    const UploadId = (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId!;
    const small = [patternBytes(1024, 1), patternBytes(1024, 2)];
    const etags: string[] = [];
    for (const [i, Body] of small.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }))).ETag!);
    const complete = (Parts: { ETag: string; PartNumber: number }[]) =>
      s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));

    expect(await sdkError(complete([{ ETag: etags[0]!, PartNumber: 1 }, { ETag: etags[1]!, PartNumber: 2 }])))
      .toMatchObject({ name: 'EntityTooSmall', status: 400, message: 'Your proposed upload is smaller than the minimum allowed size' });
    expect(await sdkError(complete([{ ETag: etags[1]!, PartNumber: 2 }, { ETag: etags[0]!, PartNumber: 1 }])))
      .toMatchObject({ name: 'InvalidPartOrder', status: 400 });
    expect(await sdkError(complete([{ ETag: etags[0]!, PartNumber: 1 }, { ETag: etags[0]!, PartNumber: 1 }])))
      .toMatchObject({ name: 'InvalidPartOrder', status: 400 });
    expect(await sdkError(complete([{ ETag: '"0123456789abcdef0123456789abcdef"', PartNumber: 1 }])))
      .toMatchObject({ name: 'InvalidPart', status: 400 });
    expect(await sdkError(complete([{ ETag: etags[0]!, PartNumber: 1 }, { ETag: etags[1]!, PartNumber: 3 }])))
      .toMatchObject({ name: 'InvalidPart', status: 400 });
    // Failed completions leave the upload open (S3 checks at completion, never at part upload).
    expect((await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }))).Parts).toHaveLength(2);
    // A single part of any size completes.
    expect((await complete([{ ETag: etags[0]!, PartNumber: 1 }])).ETag).toBe(multipartEtag([small[0]!]));

    expect(await sdkError(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: small[0] }))))
      .toMatchObject({ name: 'NoSuchUpload', status: 404 });
    expect(await sdkError(s3.send(new UploadPartCommand({ Bucket, Key, UploadId: 'no-such-upload', PartNumber: 1, Body: small[0] }))))
      .toMatchObject({ name: 'NoSuchUpload', status: 404 });
    expect(await sdkError(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: 'no-such-upload',
      MultipartUpload: { Parts: [{ ETag: etags[0]!, PartNumber: 1 }] } })))).toMatchObject({ name: 'NoSuchUpload', status: 404 });
    const second = (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId!;
    expect(await sdkError(s3.send(new UploadPartCommand({ Bucket, Key, UploadId: second, PartNumber: 10001, Body: small[0] }))))
      .toMatchObject({ name: 'InvalidArgument', status: 400 });
    expect(await sdkError(s3.send(new UploadPartCommand({ Bucket, Key, UploadId: second, PartNumber: 1, Body: small[0],
      ContentMD5: md5(small[1]!).toString('base64') })))).toMatchObject({ name: 'BadDigest', status: 400 });
    expect(emu.listParts(second)).toEqual([]);
    expect(await sdkError(s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x', IfNoneMatch: '*' }))))
      .toMatchObject({ name: 'PreconditionFailed', status: 412 });
    expect(await sdkError(s3.send(new HeadObjectCommand({ Bucket: 'no-such-bucket', Key })))).toMatchObject({ status: 404 });
    expect(await sdkError(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key })))).toMatchObject({ name: 'NoSuchBucket', status: 404 });
  }, { buckets: ['b'] });
});

test('CT-S3-SDK-003 nock mount: the SDK against https://<bucket>.s3.us-east-1.amazonaws.com (virtual-hosted), binary parts intercepted in-process', async () => {
  const emu = new S3Emulator({ credentials: creds, buckets: ['conf-bucket'] });
  const unmount = mountNock(emu, ['https://conf-bucket.s3.us-east-1.amazonaws.com']);
  // expectContinueHeader: false — through nock 14 (@mswjs/interceptors) a node:http request never receives "100 Continue",
  // so the SDK would wait its 6 s minimum before sending each part body that carries Expect: 100-continue (> 2 MB).
  const s3 = new S3Client({ region: 'us-east-1', credentials: creds, maxAttempts: 1, expectContinueHeader: false });
  try {
    const Bucket = 'conf-bucket';
    const Key = 'bin/chunk.bin';
    const UploadId = (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId!;
    const bodies = [patternBytes(5 * MiB, 11), Buffer.from([0xff, 0xfe, 0xfd, 0x00, 0xc3, 0x28, ...patternBytes(100 * 1024, 12)])];
    const Parts = [];
    for (const [i, Body] of bodies.entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }));
      expect(r.ETag).toBe(`"${md5(Body).toString('hex')}"`);
      Parts.push({ ETag: r.ETag!, PartNumber: i + 1 });
    }
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
    expect(done.ETag).toBe(multipartEtag(bodies));
    expect(done.Location).toBe(`https://conf-bucket.s3.us-east-1.amazonaws.com/bin/chunk.bin`);
    const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToByteArray());
    expect(got.equals(Buffer.concat(bodies))).toBe(true);
    expect(emu.objectBytes(Bucket, Key)!.equals(Buffer.concat(bodies))).toBe(true);
    const put = emu.requests().filter((r) => r.operation === 'UploadPart');
    expect(put.map((r) => [new URL(r.url).host, r.status, r.auth])).toEqual([
      ['conf-bucket.s3.us-east-1.amazonaws.com', 200, 'sigv4-header'], ['conf-bucket.s3.us-east-1.amazonaws.com', 200, 'sigv4-header']]);
  } finally {
    s3.destroy();
    unmount();
  }
});

test('CT-S3-SDK-004 the Cloudreve web-client flow: presigned part URLs signing content-length, ETag headers, XML completion (raw and escaped ETags), HEAD size check', async () => {
  await withLoopback(async (s3, emu, url) => {
    const Bucket = 'cr';
    // Presign without the SDK's default CRC32 of an empty body (see CT-S3-SIG-004), as aws-sdk-go v1 does.
    const presigner = new S3Client({ region: 'us-east-1', endpoint: url, forcePathStyle: true, credentials: creds, requestChecksumCalculation: 'WHEN_REQUIRED' });
    for (const style of ['frontend', 'sdk'] as const) {
      const Key = `7/probe/${style}.bin`;
      const UploadId = (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/octet-stream' }))).UploadId!;
      const bodies = [patternBytes(5 * MiB, 21), patternBytes(777, 22)];
      const etags: string[] = [];
      for (const [i, body] of bodies.entries()) {
        // As Cloudreve's aws-sdk-go v1 presign: content-length and host signed.
        const url = await getSignedUrl(presigner, new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, ContentLength: body.length }),
          { expiresIn: 3600, signableHeaders: new Set(['content-length']) });
        expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;host');
        const r = await fetch(url, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
        expect(r.status).toBe(200);
        etags.push(r.headers.get('etag')!);
      }
      const completeUrl = await getSignedUrl(presigner, new CompleteMultipartUploadCommand({ Bucket, Key, UploadId }), { expiresIn: 3600 });
      const xml = completeXml(etags.map((etag, i) => ({ partNumber: i + 1, etag })), style);
      expect(xml).toContain(style === 'sdk' ? '&quot;' : '<ETag>"');
      const r = await fetch(completeUrl, { method: 'POST', body: xml, headers: { 'content-type': 'application/octet-stream' } });
      const text = await r.text();
      expect(r.status, text).toBe(200);
      expect(text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<CompleteMultipartUploadResult xmlns="http:\/\/s3.amazonaws.com\/doc\/2006-03-01\/"><Location>/);
      expect(text).toContain(`<ETag>&quot;${multipartEtag(bodies).slice(1, -1)}&quot;</ETag>`);
      // Cloudreve's callback then HEADs the object and compares Content-Length with the declared size.
      expect((await s3.send(new HeadObjectCommand({ Bucket, Key }))).ContentLength).toBe(5 * MiB + 777);
      // Completing again: the upload id is dead.
      const again = await fetch(completeUrl, { method: 'POST', body: xml });
      expect([again.status, parseS3Error(await again.text()).code]).toEqual([404, 'NoSuchUpload']);
    }
    expect(emu.listObjects(Bucket).map((o) => o.key)).toEqual(['7/probe/frontend.bin', '7/probe/sdk.bin']);
  }, { buckets: ['cr'] });
});

test('CT-S3-SDK-005 fault switches: 200 with an embedded <Error> on completion (the SDK rejects it, the upload stays open); minimum part size off', async () => {
  await withLoopback(async (s3, emu) => {
    const UploadId = (await s3.send(new CreateMultipartUploadCommand({ Bucket: 'b', Key: 'k' }))).UploadId!;
    const parts = [];
    for (const n of [1, 2]) parts.push({ PartNumber: n, ETag: (await s3.send(new UploadPartCommand({ Bucket: 'b', Key: 'k', UploadId, PartNumber: n, Body: patternBytes(10, n) }))).ETag! });
    (emu as unknown as { opts: { faults: object } }).opts.faults = { completeEmbeddedError: true };
    expect(await sdkError(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'b', Key: 'k', UploadId, MultipartUpload: { Parts: parts } }))))
      .toMatchObject({ name: 'InternalError' });
    expect(emu.listUploads().map((u) => u.uploadId)).toEqual([UploadId]);
    (emu as unknown as { opts: { faults: object } }).opts.faults = {};
    // enforceMinPartSize: false lets 10-byte parts complete (tests that shrink Cloudreve's chunk size opt out explicitly).
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'b', Key: 'k', UploadId, MultipartUpload: { Parts: parts } }));
    expect(done.ETag).toMatch(/-2"$/);
  }, { buckets: ['b'], enforceMinPartSize: false });
});

// Recorded from aws-sdk-go v1.34.0 (Cloudreve 4.18.0's pin) with s3manager.NewUploader(sess, PartSize 5 MiB).Upload of a
// non-seekable reader, then svc.DeleteObjects — what the server does for PUT /file/content on an S3 policy and for
// relay uploads (pkg/filemanager/driver/s3/s3.go Put, Delete). A throw-away Go program against the loopback emulator:
//  POST /b/<key>?uploads=  SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Content-Length: 0 (unsigned)
//  PUT  /b/<key>?partNumber=N&uploadId=…  SignedHeaders=content-length;content-md5;host;x-amz-content-sha256;x-amz-date,
//       x-amz-content-sha256 the hex digest, Content-MD5, and "Expect: 100-Continue" on parts over 2 MiB
//  POST /b/<key>?uploadId=…  SignedHeaders=content-length;host;x-amz-content-sha256;x-amz-date, body written by Go's
//       encoding/xml: xmlns, the quotes of each ETag as &#34; and <ETag>/<PartNumber> in either order (a Go map);
//  POST /b?delete=  SignedHeaders=content-length;content-md5;host;…, keys escaped the same way (' as &#39;, " as &#34;).
// &#34; is an XML character reference like &quot;: S3 reads both as '"', so the ETags match the parts.
test('CT-S3-SDK-006 aws-sdk-go v1 s3manager as the Cloudreve server sends it: Content-MD5 + Expect: 100-Continue parts, completion and DeleteObjects XML escaped by Go (&#34;, &#39;)', async () => {
  const emu = new S3Emulator({ credentials: creds, buckets: ['b'], region: 'us-east-1' });
  const m = await mountLoopback(emu);
  const host = new URL(m.url).host;
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: creds, sha256: Sha256, uriEscapePath: false });
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const goEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/'/g, '&#39;').replace(/"/g, '&#34;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  /** One request as aws-sdk-go v1 sends it: `signed` headers in the signature, `unsigned` ones added afterwards. */
  const goSend = async (method: string, path: string, query: Record<string, string>, body: Buffer,
    signed: Record<string, string>, unsigned: Record<string, string> = {}) => {
    const s = await signer.sign({ method, protocol: 'http:', hostname: '127.0.0.1', path, query, body,
      headers: { host, 'x-amz-content-sha256': sha256(body), ...signed } }, { signingDate: new Date() });
    const headers: Record<string, string> = { ...s.headers as Record<string, string>, 'user-agent': 'aws-sdk-go/1.34.0 (go1.26.8; linux; amd64) S3Manager',
      'accept-encoding': 'gzip', ...unsigned };
    const qs = Object.entries(query).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string; continued: boolean;
      signedHeaders: string }>((resolve, reject) => {
      let continued = false;
      const req = httpRequest({ host: '127.0.0.1', port: new URL(m.url).port, method, path: `${path}?${qs}`, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), continued,
          signedHeaders: /SignedHeaders=([^,]+)/.exec(String(headers.authorization))![1]! }));
      });
      req.on('error', reject);
      if (/100-continue/i.test(headers.expect ?? '')) {
        req.flushHeaders();
        req.on('continue', () => { continued = true; req.end(body); });
      } else req.end(body);
    });
  };
  try {
    const Key = 'uploads/7/it\'s "q".bin';
    const path = '/b/uploads/7/it%27s%20%22q%22.bin';
    const create = await goSend('POST', path, { uploads: '' }, Buffer.alloc(0), { 'content-type': 'application/octet-stream' }, { 'content-length': '0' });
    expect([create.status, create.signedHeaders]).toEqual([200, 'content-type;host;x-amz-content-sha256;x-amz-date']);
    const UploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create.text)![1]!;
    expect(create.text).toContain('<Key>uploads/7/it&apos;s &quot;q&quot;.bin</Key>');

    const bodies = [patternBytes(5 * MiB, 61), patternBytes(5 * MiB, 62), patternBytes(MiB - 2, 63)];
    const etags: string[] = [];
    for (const [i, body] of bodies.entries()) {
      const r = await goSend('PUT', path, { partNumber: String(i + 1), uploadId: UploadId }, body,
        { 'content-length': String(body.length), 'content-md5': md5(body).toString('base64') },
        body.length > 2 * MiB ? { expect: '100-Continue' } : {});
      expect([r.status, r.signedHeaders, r.continued], r.text)
        .toEqual([200, 'content-length;content-md5;host;x-amz-content-sha256;x-amz-date', body.length > 2 * MiB]);
      expect(r.headers.etag).toBe(`"${md5(body).toString('hex')}"`);
      etags.push(r.headers.etag as string);
    }

    // Go's encoding/xml, ETag and PartNumber in the order a Go map happened to give (both orders seen).
    const xml = Buffer.from(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${etags.map((e, i) => (i === 1
      ? `<Part><PartNumber>${i + 1}</PartNumber><ETag>${goEscape(e)}</ETag></Part>`
      : `<Part><ETag>${goEscape(e)}</ETag><PartNumber>${i + 1}</PartNumber></Part>`)).join('')}</CompleteMultipartUpload>`);
    expect(xml.toString()).toContain(`<ETag>&#34;${md5(bodies[0]!).toString('hex')}&#34;</ETag>`);
    const done = await goSend('POST', path, { uploadId: UploadId }, xml, { 'content-length': String(xml.length) });
    expect([done.status, done.signedHeaders], done.text).toEqual([200, 'content-length;host;x-amz-content-sha256;x-amz-date']);
    expect(done.text).toContain(`<ETag>&quot;${multipartEtag(bodies).slice(1, -1)}&quot;</ETag>`);
    expect(emu.objectBytes('b', Key)!.equals(Buffer.concat(bodies))).toBe(true);
    expect(emu.listUploads()).toEqual([]);

    // A bad ETag is still refused after decoding (&#34; is decoded once: &amp;#34; stays the six characters "&#34;").
    const other = (await goSend('POST', '/b/other.bin', { uploads: '' }, Buffer.alloc(0), { 'content-type': 'application/octet-stream' }, { 'content-length': '0' })).text;
    const otherId = /<UploadId>([^<]+)<\/UploadId>/.exec(other)![1]!;
    const part = patternBytes(1000, 64);
    const pe = (await goSend('PUT', '/b/other.bin', { partNumber: '1', uploadId: otherId }, part,
      { 'content-length': String(part.length), 'content-md5': md5(part).toString('base64') })).headers.etag as string;
    for (const wrong of [`&amp;#34;${pe.slice(1, -1)}&amp;#34;`, `&#34;${'0'.repeat(32)}&#34;`]) {
      const body = Buffer.from(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>${wrong}</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`);
      const r = await goSend('POST', '/b/other.bin', { uploadId: otherId }, body, { 'content-length': String(body.length) });
      expect([r.status, parseS3Error(r.text).code]).toEqual([400, 'InvalidPart']);
    }
    expect(emu.listUploads().map((u) => u.uploadId)).toEqual([otherId]);

    // DeleteObjects (Cloudreve's Delete of more than one file): keys escaped by Go, Content-MD5 signed.
    const literal = 'uploads/7/lit&#34;ref.bin';
    const plain = 'uploads/7/a&b <c>.bin';
    emu.putObjectDirect('b', literal, 'x');
    emu.putObjectDirect('b', plain, 'y');
    emu.putObjectDirect('b', 'uploads/7/lit"ref.bin', 'z');
    const del = Buffer.from(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${[Key, literal, plain].map((k) => `<Object><Key>${goEscape(k)}</Key></Object>`).join('')}</Delete>`);
    expect(del.toString()).toContain('<Key>uploads/7/it&#39;s &#34;q&#34;.bin</Key>');
    const dr = await goSend('POST', '/b', { delete: '' }, del, { 'content-length': String(del.length), 'content-md5': md5(del).toString('base64') });
    expect([dr.status, dr.signedHeaders], dr.text).toEqual([200, 'content-length;content-md5;host;x-amz-content-sha256;x-amz-date']);
    expect(emu.listObjects('b').map((o) => o.key)).toEqual(['uploads/7/lit"ref.bin']);
    expect(emu.requests().filter((r) => r.status >= 300).map((r) => r.code)).toEqual(['InvalidPart', 'InvalidPart']);
    expect(emu.requests().every((r) => r.auth === 'sigv4-header')).toBe(true);
  } finally {
    await m.close();
  }
});
