// CT-S3-SIG: the S3 emulator verifies AWS Signature Version 4 the way S3 does — published AWS vectors reproduce, URLs
// presigned by the real SDKs (aws-sdk-go v1.34.0 as Cloudreve 4.18.0 calls it, and @aws-sdk/s3-request-presigner) are
// accepted, and a changed signature byte, an altered signed parameter, a different part length or an expired URL is
// refused with S3's error code and status.
import { test, expect } from '@playwright/test';
import { S3Client, UploadPartCommand, CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { mountLoopback, type EmulatorRequest } from '../harness/cloud/mount.js';
import { S3Emulator } from '../harness/cloud/s3.js';
import { verifySigV4Header } from '../harness/cloud/s3-sigv4.js';
import { parseS3Error, patternBytes } from '../harness/cloud/s3-testkit.js';

const AK = 'CRCONFORMANCEAK';
const SK = 'crconformance/secret+key==';
const creds = { accessKeyId: AK, secretAccessKey: SK };
const KEY = '7/probe/dir/7_AbCd_hello world 中.bin';
const UPLOAD_ID = 'UPLOADID-abc_123.XYZ';

// Produced by aws-sdk-go v1.34.0 (Cloudreve 4.18.0's pin) exactly as pkg/filemanager/driver/s3/s3.go Token() calls it:
// session with Endpoint http://127.0.0.1:9000 + S3ForcePathStyle (or the default virtual-hosted endpoint),
// UploadPartRequest{Bucket, Key, PartNumber 1, UploadId, ContentLength}.Presign(1h) and
// CompleteMultipartUploadRequest{…}.Presign(1h), at unix time SIGNED_AT. (A throw-away Go program, go run.)
const SIGNED_AT = 1795593717;
const GO = {
  pathPart5MiB: 'http://127.0.0.1:9000/cr-bucket/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=CRCONFORMANCEAK%2F20261125%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261125T080157Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=content-length%3Bhost&partNumber=1&uploadId=UPLOADID-abc_123.XYZ&X-Amz-Signature=8d6578827ac8db5582decec347eb7340f41d8ed16ac5f747c2747941d4fb2887',
  pathPart0: 'http://127.0.0.1:9000/cr-bucket/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=CRCONFORMANCEAK%2F20261125%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261125T080157Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&partNumber=1&uploadId=UPLOADID-abc_123.XYZ&X-Amz-Signature=7fcefccb3400f569b74a334afcb1cf2c90c0a8eb38eb513d0680b9475333c7e7',
  pathComplete: 'http://127.0.0.1:9000/cr-bucket/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=CRCONFORMANCEAK%2F20261125%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261125T080157Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&uploadId=UPLOADID-abc_123.XYZ&X-Amz-Signature=e91c9cdf39122c4045cf51be47cb68f5b2bb9e5b4cdf745ffebd2d93de7d2827',
  vhostPart5MiB: 'https://cr-bucket.s3.us-east-1.amazonaws.com/7/probe/dir/7_AbCd_hello%20world%20%E4%B8%AD.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=CRCONFORMANCEAK%2F20261125%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261125T080157Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=content-length%3Bhost&partNumber=1&uploadId=UPLOADID-abc_123.XYZ&X-Amz-Signature=a46ccf5227fab77710bd08fd6bb7311ca3e81095b849fbf2bca257de58787b9b',
};

const bodyOf = (b: Buffer) => (async function* () { if (b.length) yield b; })();

/** One request straight into the emulator (no mount): the Host is the URL's, as a client would send it. */
async function send(emu: S3Emulator, method: string, url: string, body: Buffer = Buffer.alloc(0), headers: Record<string, string> = {}, contentLength = true) {
  const u = new URL(url);
  const h: Record<string, string> = { host: u.host, ...headers };
  if (contentLength && (body.length || method === 'PUT' || method === 'POST')) h['content-length'] ??= String(body.length);
  const req: EmulatorRequest = { method, url: u, headers: h, body: bodyOf(body) };
  const r = await emu.handle(req);
  const text = r.body === undefined ? '' : r.body.toString();
  return { status: r.status, headers: r.headers ?? {}, text, error: parseS3Error(text) };
}

function goEmulator(now = SIGNED_AT * 1000 + 1000) {
  const emu = new S3Emulator({ credentials: creds, buckets: ['cr-bucket'], now: () => now });
  emu.createUploadDirect('cr-bucket', KEY, { uploadId: UPLOAD_ID });
  return emu;
}

test('CT-S3-SIG-001 AWS published vectors: the S3 query-auth example and the SigV4 test suite (get-vanilla, get-vanilla-query-order-key-case)', async () => {
  // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (cloud-endpoints.md §1.2).
  const url = 'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
  const emu = new S3Emulator({ credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    buckets: ['examplebucket'], now: () => Date.UTC(2013, 4, 24, 12) });
  emu.putObjectDirect('examplebucket', 'test.txt', 'Welcome to Amazon S3.');
  const ok = await send(emu, 'GET', url);
  expect(ok.status).toBe(200);
  const flipped = await send(emu, 'GET', url.replace('aeeed9bb', 'aeeed9bc'));
  expect(flipped.status).toBe(403);
  expect(flipped.error.code).toBe('SignatureDoesNotMatch');

  // AWS SigV4 test suite (service "service", AKIDEXAMPLE), header auth.
  const suite = { lookup: (k: string) => (k === 'AKIDEXAMPLE' ? { accessKeyId: k, secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' } : undefined),
    service: 'service', region: 'us-east-1', now: Date.UTC(2015, 7, 30, 12, 36) };
  const vanilla = (query: [string, string][], sig: string) => verifySigV4Header({ method: 'GET', rawPath: '/', query,
    headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z',
      authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${sig}` } }, suite);
  expect(await vanilla([], '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31')).toMatchObject({ ok: true });
  expect(await vanilla([['Param2', 'value2'], ['Param1', 'value1']], 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500')).toMatchObject({ ok: true });
  const bad = await vanilla([['Param2', 'value2'], ['Param1', 'value3']], 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500');
  expect(bad).toMatchObject({ ok: false, error: { status: 403, code: 'SignatureDoesNotMatch' } });
});

test('CT-S3-SIG-002 URLs presigned by aws-sdk-go v1 as Cloudreve does: accepted with the signed part length, refused otherwise', async () => {
  const part = patternBytes(5 * 1024 * 1024, 7);
  let emu = goEmulator();
  const ok = await send(emu, 'PUT', GO.pathPart5MiB, part);
  expect(ok.status).toBe(200);
  expect(ok.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
  expect(emu.listParts(UPLOAD_ID)!.map((p) => p.size)).toEqual([part.length]);

  // content-length is signed: one byte short is a different canonical request.
  const short = await send(emu, 'PUT', GO.pathPart5MiB, part.subarray(1));
  expect(short.status).toBe(403);
  expect(short.error.code).toBe('SignatureDoesNotMatch');
  expect(short.error.fields.CanonicalRequest).toContain('content-length:5242879');

  // A 0-byte part: aws-sdk-go v1 drops Content-Length 0 and signs only host.
  emu = goEmulator();
  expect((await send(emu, 'PUT', GO.pathPart0, Buffer.alloc(0))).status).toBe(200);
  // Virtual-hosted addressing (bucket in the host name).
  expect((await send(goEmulator(), 'PUT', GO.vhostPart5MiB, part)).status).toBe(200);
  // The complete URL (signs host only); the emulator gets past auth to the XML check.
  const complete = await send(goEmulator(), 'POST', GO.pathComplete, Buffer.from('<CompleteMultipartUpload/>'));
  expect(complete.error.code).toBe('MalformedXML');

  // Altered signed parameter / signature byte / host.
  emu = goEmulator();
  expect((await send(emu, 'PUT', GO.pathPart5MiB.replace('partNumber=1', 'partNumber=2'), part)).error.code).toBe('SignatureDoesNotMatch');
  expect((await send(emu, 'PUT', GO.pathPart5MiB.replace('X-Amz-Signature=8', 'X-Amz-Signature=9'), part)).error.code).toBe('SignatureDoesNotMatch');
  expect((await send(emu, 'PUT', GO.pathPart5MiB, part, { host: '127.0.0.1:9001' })).error.code).toBe('SignatureDoesNotMatch');

  // Expired: X-Amz-Date + X-Amz-Expires (3600 s) in the past.
  const expired = await send(goEmulator(SIGNED_AT * 1000 + 3601_000), 'PUT', GO.pathPart5MiB, part);
  expect(expired.status).toBe(403);
  expect(expired.error).toMatchObject({ code: 'AccessDenied', message: 'Request has expired' });
  expect(expired.error.fields).toMatchObject({ 'X-Amz-Expires': '3600', Expires: '2026-11-25T09:01:57Z', ServerTime: '2026-11-25T09:01:58Z' });
  expect(expired.text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>AccessDenied<\/Code><Message>Request has expired<\/Message><X-Amz-Expires>3600<\/X-Amz-Expires><Expires>/);
  expect(expired.text).toMatch(/<RequestId>[0-9A-F]{16}<\/RequestId><HostId>[^<]+<\/HostId><\/Error>$/);
});

test('CT-S3-SIG-003 a URL from @aws-sdk/s3-request-presigner (UploadPartCommand) over loopback: accepted; tampered, expired, foreign-key and malformed ones refused', async () => {
  // The header-signed CreateMultipartUpload carries the real time: the emulator's clock starts there.
  const signingDate = new Date(Math.floor(Date.now() / 1000) * 1000);
  let now = signingDate.getTime() + 5_000;
  const emu = new S3Emulator({ credentials: creds, buckets: ['b'], region: 'us-east-1', now: () => now });
  const m = await mountLoopback(emu);
  try {
    const client = new S3Client({ region: 'us-east-1', endpoint: m.url, forcePathStyle: true, credentials: creds, maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED' });
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'b', Key: 'dir/a b+c.bin' }), {});
    expect(UploadId).toBeTruthy();
    const url = await getSignedUrl(client, new UploadPartCommand({ Bucket: 'b', Key: 'dir/a b+c.bin', UploadId, PartNumber: 1 }),
      { expiresIn: 900, signingDate });
    const body = patternBytes(4096, 3);
    const put = (u: string, b: Buffer = body) => fetch(u, { method: 'PUT', body: b, headers: { 'content-type': 'application/octet-stream' } });

    const ok = await put(url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);

    const sig = new URL(url).searchParams.get('X-Amz-Signature')!;
    const flippedSig = sig.slice(0, 10) + (sig[10] === '0' ? '1' : '0') + sig.slice(11);
    for (const [name, u] of [['signature byte', url.replace(sig, flippedSig)], ['partNumber', url.replace('partNumber=1', 'partNumber=2')],
      ['uploadId', url.replace(`uploadId=${UploadId}`, `uploadId=${UploadId}x`)], ['X-Amz-Expires', url.replace('X-Amz-Expires=900', 'X-Amz-Expires=901')]] as const) {
      const r = await put(u);
      const e = parseS3Error(await r.text());
      expect([r.status, e.code], name).toEqual([403, 'SignatureDoesNotMatch']);
      expect(e.fields.SignatureProvided, name).toBeTruthy();
    }

    const noAlg = await put(url.replace(/X-Amz-Algorithm=[^&]+&/, ''));
    expect([noAlg.status, parseS3Error(await noAlg.text()).code]).toEqual([400, 'AuthorizationQueryParametersError']);
    const tooLong = await put(url.replace('X-Amz-Expires=900', 'X-Amz-Expires=604801'));
    expect([tooLong.status, parseS3Error(await tooLong.text()).code]).toEqual([400, 'AuthorizationQueryParametersError']);
    const foreign = await put(url.replace(`X-Amz-Credential=${AK}`, 'X-Amz-Credential=SOMEONEELSE'));
    expect([foreign.status, parseS3Error(await foreign.text()).code]).toEqual([403, 'InvalidAccessKeyId']);
    const region = await put(url.replace('%2Fus-east-1%2F', '%2Feu-west-1%2F'));
    expect([region.status, parseS3Error(await region.text()).code]).toEqual([400, 'AuthorizationQueryParametersError']);

    now = signingDate.getTime() + 901_000;
    const expired = await put(url);
    const e = parseS3Error(await expired.text());
    expect([expired.status, e.code, e.message]).toEqual([403, 'AccessDenied', 'Request has expired']);
    expect(e.fields['X-Amz-Expires']).toBe('900');
    expect(emu.listParts(UploadId!)!.map((p) => p.partNumber)).toEqual([1]);
  } finally {
    await m.close();
  }
});

test('CT-S3-SIG-004 the SDK\'s default presigned UploadPart URL pins the CRC32 of an empty body: S3 refuses a non-empty part (BadDigest)', async () => {
  const signingDate = new Date(Date.UTC(2026, 10, 25, 8, 0, 0));
  const emu = new S3Emulator({ credentials: creds, buckets: ['b'], now: () => signingDate.getTime() + 1000 });
  const uploadId = emu.createUploadDirect('b', 'k');
  const m = await mountLoopback(emu);
  try {
    const client = new S3Client({ region: 'us-east-1', endpoint: m.url, forcePathStyle: true, credentials: creds });
    const url = await getSignedUrl(client, new UploadPartCommand({ Bucket: 'b', Key: 'k', UploadId: uploadId, PartNumber: 1 }), { signingDate });
    expect(url).toContain('x-amz-checksum-crc32=AAAAAA%3D%3D');
    const r = await fetch(url, { method: 'PUT', body: Buffer.from('not empty') });
    expect([r.status, parseS3Error(await r.text()).code]).toEqual([400, 'BadDigest']);
    expect((await fetch(url, { method: 'PUT', body: Buffer.alloc(0) })).status).toBe(200);
  } finally {
    await m.close();
  }
});

test('CT-S3-SIG-005 header-signed requests: a changed signed header, clock skew, a wrong payload hash and no signature at all are refused', async () => {
  const now = Date.UTC(2026, 10, 25, 8, 0, 0);
  const emu = new S3Emulator({ credentials: creds, buckets: ['b'], now: () => now });
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: creds, sha256: Sha256, uriEscapePath: false });
  const body = Buffer.from('hello world');
  const signed = async (date: Date, payloadHash?: string) => {
    const req = { method: 'PUT', protocol: 'https:', hostname: 'b.s3.us-east-1.amazonaws.com', path: '/obj.txt', query: {},
      headers: { host: 'b.s3.us-east-1.amazonaws.com', 'content-type': 'text/plain', 'content-length': String(body.length),
        ...(payloadHash ? { 'x-amz-content-sha256': payloadHash } : {}) }, body };
    const s = await signer.sign(req, { signingDate: date });
    return s.headers as Record<string, string>;
  };
  const go = (headers: Record<string, string>) => send(emu, 'PUT', 'https://b.s3.us-east-1.amazonaws.com/obj.txt', body,
    Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])));

  const good = await signed(new Date(now));
  expect((await go(good)).status).toBe(200);
  expect(emu.objectBytes('b', 'obj.txt')!.toString()).toBe('hello world');
  const changed = await go({ ...good, 'content-type': 'text/html' });
  expect([changed.status, changed.error.code]).toEqual([403, 'SignatureDoesNotMatch']);
  const skewed = await go(await signed(new Date(now - 16 * 60_000)));
  expect([skewed.status, skewed.error.code]).toEqual([403, 'RequestTimeTooSkewed']);
  const wrongHash = await go(await signed(new Date(now), 'f'.repeat(64)));
  expect([wrongHash.status, wrongHash.error.code]).toEqual([400, 'XAmzContentSHA256Mismatch']);
  const anonymous = await send(emu, 'PUT', 'https://b.s3.us-east-1.amazonaws.com/obj.txt', body);
  expect([anonymous.status, anonymous.error.code]).toEqual([403, 'AccessDenied']);
});

test('CT-S3-SIG-006 aws-chunked bodies: the SDK\'s streaming upload (unsigned payload + CRC32 trailer), and signed chunks verified one by one', async () => {
  const { createHash, createHmac } = await import('node:crypto');
  const { Readable } = await import('node:stream');
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const seen: Record<string, string>[] = [];
  const emu = new S3Emulator({ credentials: creds, buckets: ['b'], intercept: (_op, req) => { seen.push(req.headers); return undefined; } });
  const m = await mountLoopback(emu);
  try {
    const client = new S3Client({ region: 'us-east-1', endpoint: m.url, forcePathStyle: true, credentials: creds, maxAttempts: 1 });
    const data = patternBytes(300_000, 8);
    await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'streamed.bin', Body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), ContentLength: data.length }));
    expect(emu.objectBytes('b', 'streamed.bin')!.equals(data)).toBe(true);
    expect(seen[0]).toMatchObject({ 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-decoded-content-length': String(data.length) });

    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD, signed by hand (independently of the emulator's code) on top of a smithy seed.
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: creds, sha256: Sha256, uriEscapePath: false });
    const chunks = [patternBytes(70_000, 1), patternBytes(1000, 2)];
    const decoded = chunks.reduce((n, c) => n + c.length, 0);
    const host = new URL(m.url).host;
    const headers: Record<string, string> = { host, 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'x-amz-decoded-content-length': String(decoded) };
    const seeded = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', path: '/b/chunked.bin', query: {}, headers }, { signingDate: now });
    const auth = String(seeded.headers.authorization);
    const seed = /Signature=([0-9a-f]{64})/.exec(auth)![1]!;
    const longDate = String(seeded.headers['x-amz-date']);
    const scope = `${longDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
    const hmac = (k: Buffer | string, s: string) => createHmac('sha256', k).update(s).digest();
    let key = hmac(`AWS4${SK}`, longDate.slice(0, 8));
    for (const part of ['us-east-1', 's3', 'aws4_request']) key = hmac(key, part);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const encode = (tamper: boolean) => {
      let prev = seed;
      const out: Buffer[] = [];
      for (const c of [...chunks, Buffer.alloc(0)]) {
        const sig = createHmac('sha256', key).update(`AWS4-HMAC-SHA256-PAYLOAD\n${longDate}\n${scope}\n${prev}\n${sha(Buffer.alloc(0))}\n${sha(c)}`).digest('hex');
        prev = sig;
        const body = tamper && c.length === 1000 ? Buffer.from(c.map((b) => b ^ 1)) : c;
        out.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${sig}\r\n`), body, Buffer.from('\r\n'));
      }
      return Buffer.concat(out);
    };
    const put = (body: Buffer) => fetch(`${m.url}/b/chunked.bin`, { method: 'PUT', body, headers: { ...seeded.headers as Record<string, string>, host } });
    const ok = await put(encode(false));
    expect(ok.status, await ok.text()).toBe(200);
    expect(emu.objectBytes('b', 'chunked.bin')!.equals(Buffer.concat(chunks))).toBe(true);
    const bad = await put(encode(true));
    expect([bad.status, parseS3Error(await bad.text()).code]).toEqual([403, 'SignatureDoesNotMatch']);
  } finally {
    await m.close();
  }
});
