// CT-S3-SDK: the official AWS SDK (@aws-sdk/client-s3) runs whole multipart uploads against the S3 emulator — on the
// loopback mount (path style) and in-process through the nock mount on the real virtual-hosted host name, binary part
// bodies included — and parses every answer; S3's multipart errors come back as the SDK's named exceptions; the
// Cloudreve web client's flow (presigned part URLs, XML completion with raw or escaped ETags) works end to end.
import { test, expect } from '@playwright/test';
import { createHash } from 'node:crypto';
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
