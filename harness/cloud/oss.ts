// Aliyun OSS emulator: the object and multipart API a Cloudreve `oss` policy touches (server-side: initiate, abort,
// HEAD/GET, CORS; client-side: UploadPart and CompleteMultipartUpload on presigned URLs), with V1 and V4 signatures
// in header and query form, OSS's error XML, `x-oss-forbid-overwrite`, `x-oss-complete-all`, the 100 KiB minimum
// part size, and the upload callback OSS sends (RSA-MD5 signed, public key served by the emulator itself).
//
// Buckets are addressed virtual-host style (`<bucket>.<anything>`, which is also what ali-oss sends in its Host
// header when its endpoint is an IP) or path style (`/<bucket>/<key>`, what the OSS Go SDK v2 uses for an IP
// endpoint). The public key is served at `GET /__oss/pubkey.pem` and, for a Cloudreve started with
// `HTTP_PROXY=<this emulator>`, at any `http://gosspublic.alicdn.com/...` URL (Cloudreve only trusts that host).
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { readBody, type EmulatorRequest, type EmulatorResponse, type ProviderEmulator } from './mount.js';
import {
  ossV1CanonicalResource, ossV1Signature, ossV1StringToSign, ossV4CanonicalRequest, ossV4Signature, ossV4StringToSign,
  parseOssV4DateTime, parseRawQuery, ossPresignV1, ossPresignV4, safeDecode, signOssCallback, type QueryPair,
} from './oss-sign.js';

export interface OssEmulatorOptions {
  accessKeyId: string;
  accessKeySecret: string;
  /** Signing region of V4 requests, e.g. `cn-hangzhou` (default). */
  region?: string;
  /** Buckets that exist (default `['bucket']`). */
  buckets?: string[];
  /** Every part but the last must be at least this long at completion (OSS: 100 KiB). 0 turns the check off. */
  minPartSize?: number;
  /** Clock in unix ms (default `Date.now`), for expiry tests. */
  now?: () => number;
  /** How long OSS waits for the callback server (default 5000 ms, as OSS). */
  callbackTimeoutMs?: number;
  /**
   * URL announced in `x-oss-pub-key-url`. Default: `<origin of the complete request>/__oss/pubkey.pem`. For a real
   * Cloudreve use `http://gosspublic.alicdn.com/callback_pub_key_v1.pem` and start it with HTTP_PROXY=<emulator>.
   */
  publicKeyUrl?: string;
  /** RSA key pair for callbacks (PEM, PKCS#8/PKIX); default one generated per process. Pin it across runs of a
   * Cloudreve that cached the key (7 days). */
  callbackPrivateKeyPem?: string;
  /** fetch used for callbacks (default the global one). */
  fetch?: typeof fetch;
  /** Allowed clock skew for header-signed requests (default 15 min, as OSS). */
  maxSkewMs?: number;
}

export interface OssStoredObject {
  bucket: string;
  key: string;
  body: Buffer;
  contentType: string;
  /** With quotes, as OSS sends it. */
  etag: string;
  lastModified: number;
  type: 'Normal' | 'Multipart';
}

export interface OssPartRecord { partNumber: number; size: number; etag: string; body: Buffer; lastModified: number }

export interface OssUploadRecord {
  uploadId: string;
  bucket: string;
  key: string;
  contentType: string;
  initiated: number;
  parts: Map<number, OssPartRecord>;
}

export interface OssCallbackRecord {
  url: string;
  headers: Record<string, string>;
  body: string;
  status?: number;
  responseBody?: string;
  error?: string;
  /** What the emulator answered the client. */
  outcome: 'ok' | 'callback-failed';
}

export type OssAuthKind = 'v1-header' | 'v1-query' | 'v4-header' | 'v4-query' | 'anonymous' | 'none';

export interface OssRequestRecord { method: string; url: string; auth: OssAuthKind; status: number; code?: string }

export interface OssIssuedSession {
  uploadId: string;
  uploadUrls: string[];
  completeUrl: string;
  /** base64 callback policy, as Cloudreve puts it in `callback=`. */
  callback: string;
}

class OssError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly extra: Record<string, string> = {}) {
    super(message);
  }
}

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const MAX_PART = 5 * 1024 * 1024 * 1024;
const EC: Record<string, string> = { FileAlreadyExists: '0042-00000214', 'AccessDenied:expired': '0002-00000069' };

let processKeys: { privateKey: KeyObject; publicPem: string } | undefined;
function defaultKeys(): { privateKey: KeyObject; publicPem: string } {
  if (!processKeys) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    processKeys = { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  }
  return processKeys;
}

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function md5(b: Buffer): Buffer { return createHash('md5').update(b).digest(); }

function httpDate(ms: number): string { return new Date(ms).toUTCString(); }

export class OssEmulator implements ProviderEmulator {
  readonly provider = 'oss';
  readonly region: string;
  readonly buckets: Set<string>;
  readonly publicKeyPem: string;
  readonly callbacks: OssCallbackRecord[] = [];
  readonly requests: OssRequestRecord[] = [];
  minPartSize: number;
  /** See {@link OssEmulatorOptions.publicKeyUrl}; settable once the mount's URL is known. */
  publicKeyUrl: string | undefined;
  private readonly privateKey: KeyObject;
  private readonly objects = new Map<string, OssStoredObject>();
  private readonly uploadsById = new Map<string, OssUploadRecord>();
  private readonly now: () => number;
  private seq = 0;
  private readonly parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (n) => n === 'Part' });

  constructor(private readonly opts: OssEmulatorOptions) {
    this.region = opts.region ?? 'cn-hangzhou';
    this.buckets = new Set(opts.buckets ?? ['bucket']);
    this.minPartSize = opts.minPartSize ?? 100 * 1024;
    this.now = opts.now ?? Date.now;
    this.publicKeyUrl = opts.publicKeyUrl;
    if (opts.callbackPrivateKeyPem) {
      this.privateKey = createPrivateKey(opts.callbackPrivateKeyPem);
      this.publicKeyPem = createPublicKey(this.privateKey).export({ type: 'spki', format: 'pem' }).toString();
    } else {
      const k = defaultKeys();
      this.privateKey = k.privateKey;
      this.publicKeyPem = k.publicPem;
    }
  }

  // ------------------------------------------------------------------------------------------------ inspection API

  object(bucket: string, key: string): OssStoredObject | undefined { return this.objects.get(`${bucket}/${key}`); }

  listObjects(bucket?: string): OssStoredObject[] {
    return [...this.objects.values()].filter((o) => bucket === undefined || o.bucket === bucket);
  }

  /** Seeds an object (e.g. to provoke `x-oss-forbid-overwrite`). */
  putObject(bucket: string, key: string, body: Buffer | string, contentType = 'application/octet-stream'): OssStoredObject {
    const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const o: OssStoredObject = { bucket, key, body: b, contentType, etag: `"${md5(b).toString('hex').toUpperCase()}"`, lastModified: this.now(), type: 'Normal' };
    this.objects.set(`${bucket}/${key}`, o);
    return o;
  }

  uploads(): OssUploadRecord[] { return [...this.uploadsById.values()]; }

  upload(uploadId: string): OssUploadRecord | undefined { return this.uploadsById.get(uploadId); }

  reset(): void {
    this.objects.clear(); this.uploadsById.clear(); this.callbacks.length = 0; this.requests.length = 0;
  }

  /**
   * What Cloudreve's `Token` does for an `oss` policy, without Cloudreve: initiates a multipart upload and signs one
   * part URL per chunk (`Content-Type: application/octet-stream`) and a complete URL carrying `callback=` and signing
   * `x-oss-complete-all: yes` and `x-oss-forbid-overwrite: true`. `signing` picks the generation: `v4` (Cloudreve ≥
   * 4.10) or `v1` (≤ 4.9).
   */
  issueSession(o: {
    baseUrl: string; bucket: string; key: string; size: number; chunkSize: number; callbackUrl: string;
    contentType?: string; expiresSeconds?: number; signing?: 'v4' | 'v1'; pathStyle?: boolean;
  }): OssIssuedSession {
    const uploadId = this.newUploadId(o.bucket, o.key, o.contentType ?? 'application/octet-stream');
    const chunks = o.chunkSize > 0 ? Math.max(1, Math.ceil(o.size / o.chunkSize)) : 1;
    const base = new URL(o.baseUrl);
    const pathStyle = o.pathStyle ?? (isIP(base.hostname) !== 0 || base.hostname === 'localhost');
    const objectUrl = pathStyle
      ? `${base.origin}/${encodeURIComponent(o.bucket)}/${o.key.split('/').map(encodeURIComponent).join('/')}`
      : `${base.protocol}//${o.bucket}.${base.host}/${o.key.split('/').map(encodeURIComponent).join('/')}`;
    const expires = o.expiresSeconds ?? 3600;
    const callback = Buffer.from(JSON.stringify({
      callbackUrl: o.callbackUrl,
      callbackBody: '{"name":${x:fname},"source_name":${object},"size":${size},"pic_info":"${imageInfo.width},${imageInfo.height}"}',
      callbackBodyType: 'application/json',
      callbackSNI: true,
    })).toString('base64');
    const sign = (method: string, url: string, headers: Record<string, string>): string => (o.signing === 'v1'
      ? ossPresignV1({ accessKeyId: this.opts.accessKeyId, accessKeySecret: this.opts.accessKeySecret, method, url, bucket: o.bucket, key: o.key, headers, expires: Math.floor(this.now() / 1000) + expires })
      : ossPresignV4({ accessKeyId: this.opts.accessKeyId, accessKeySecret: this.opts.accessKeySecret, region: this.region, method, url, bucket: o.bucket, key: o.key, headers, expiresSeconds: expires, now: this.now() }));
    const uploadUrls = Array.from({ length: chunks }, (_, i) =>
      sign('PUT', `${objectUrl}?partNumber=${i + 1}&uploadId=${uploadId}`, { 'Content-Type': 'application/octet-stream' }));
    const completeUrl = sign('POST', `${objectUrl}?callback=${encodeURIComponent(callback)}&uploadId=${uploadId}`,
      { 'Content-Type': 'application/octet-stream', 'x-oss-complete-all': 'yes', 'x-oss-forbid-overwrite': 'true' });
    return { uploadId, uploadUrls, completeUrl, callback };
  }

  // ------------------------------------------------------------------------------------------------------- handler

  async handle(req: EmulatorRequest): Promise<EmulatorResponse> {
    const record: OssRequestRecord = { method: req.method, url: req.url.toString(), auth: 'none', status: 0 };
    this.requests.push(record);
    const requestId = this.requestId();
    let res: EmulatorResponse;
    try {
      res = await this.route(req, record, requestId);
    } catch (e) {
      if (!(e instanceof OssError)) throw e;
      record.code = e.code;
      res = this.errorResponse(e, req, requestId);
    }
    record.status = res.status;
    res.headers = { 'x-oss-request-id': requestId, date: httpDate(this.now()), server: 'AliyunOSS', ...res.headers };
    if (req.method === 'HEAD') res.body = undefined;
    return res;
  }

  private async route(req: EmulatorRequest, record: OssRequestRecord, requestId: string): Promise<EmulatorResponse> {
    const url = req.url;
    if (req.method === 'OPTIONS') return this.preflight(req);
    if ((req.method === 'GET' || req.method === 'HEAD') && (url.hostname === 'gosspublic.alicdn.com' || url.pathname === '/__oss/pubkey.pem')) {
      return { status: 200, headers: { 'content-type': 'application/x-pem-file', 'content-length': String(Buffer.byteLength(this.publicKeyPem)) }, body: this.publicKeyPem };
    }
    const { bucket, key } = this.resolve(url);
    if (bucket === undefined) throw new OssError(400, 'InvalidArgument', 'A bucket is required (service-level operations are not emulated).');
    if (!this.buckets.has(bucket)) throw new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: bucket });
    const query = parseRawQuery(url.search);
    const q = new Map<string, string | undefined>();
    for (const [n, v] of query) if (!q.has(n)) q.set(n, v);
    record.auth = this.authenticate(req, bucket, key, query, q);

    const m = req.method;
    if (key === '') {
      if (m === 'GET' && q.has('uploads')) return this.listUploads(bucket);
      if (m === 'PUT' && q.has('cors')) { await readBody(req.body); return { status: 200, headers: { 'content-length': '0' } }; }
      if (m === 'GET') return this.listObjectsXml(bucket, q);
      throw new OssError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
    if (m === 'POST' && q.has('uploads')) return this.initiate(req, bucket, key);
    if (m === 'PUT' && q.has('uploadId') && q.has('partNumber')) return this.uploadPart(req, bucket, key, q);
    if (m === 'POST' && q.has('uploadId')) return this.complete(req, bucket, key, q, requestId);
    if (m === 'DELETE' && q.has('uploadId')) return this.abort(bucket, key, q);
    if (m === 'GET' && q.has('uploadId')) return this.listParts(bucket, key, q);
    if (m === 'PUT') return this.put(req, bucket, key, q, requestId);
    if (m === 'GET' || m === 'HEAD') return this.get(req, bucket, key);
    if (m === 'DELETE') { this.objects.delete(`${bucket}/${key}`); return { status: 204 }; }
    throw new OssError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }

  private resolve(url: URL): { bucket?: string; key: string } {
    const host = url.hostname;
    const first = host.split('.')[0] ?? '';
    const decodePath = (p: string): string => safeDecode(p);
    if (isIP(host) === 0 && host.includes('.') && this.buckets.has(first)) return { bucket: first, key: decodePath(url.pathname.slice(1)) };
    const path = url.pathname.slice(1);
    if (path === '') return { key: '' };
    const i = path.indexOf('/');
    if (i < 0) return { bucket: decodePath(path), key: '' };
    return { bucket: decodePath(path.slice(0, i)), key: decodePath(path.slice(i + 1)) };
  }

  // -------------------------------------------------------------------------------------------------------- auth

  private authenticate(req: EmulatorRequest, bucket: string, key: string, query: QueryPair[], q: Map<string, string | undefined>): OssAuthKind {
    const h = req.headers;
    const auth = h.authorization ?? '';
    const now = this.now();
    if (q.has('x-oss-signature-version')) {
      if (q.get('x-oss-signature-version') !== 'OSS4-HMAC-SHA256') throw new OssError(400, 'InvalidArgument', 'Invalid signature version.');
      const cred = q.get('x-oss-credential') ?? '';
      const [ak, day, region] = cred.split('/');
      this.checkAccessKey(ak);
      const dateTime = q.get('x-oss-date') ?? '';
      const t = parseOssV4DateTime(dateTime);
      const expires = Number(q.get('x-oss-expires'));
      if (t === undefined || !Number.isInteger(expires) || expires <= 0) throw new OssError(400, 'InvalidArgument', 'Invalid x-oss-date or x-oss-expires.');
      if (expires > 604800) throw new OssError(400, 'InvalidArgument', 'x-oss-expires should be not greater than 604800 (seven days).');
      if (now > t + expires * 1000) throw this.expired(new Date(t + expires * 1000).toISOString());
      const additional = (q.get('x-oss-additional-headers') ?? '').split(';').filter(Boolean);
      const canonical = ossV4CanonicalRequest({ method: req.method, bucket, key, query, headers: h, additionalHeaders: additional });
      const sts = ossV4StringToSign(dateTime, this.region, canonical);
      const expected = ossV4Signature(this.opts.accessKeySecret, dateTime, this.region, sts);
      if (day !== dateTime.slice(0, 8) || region !== this.region || expected !== q.get('x-oss-signature')) throw this.mismatch(sts, q.get('x-oss-signature') ?? '', canonical);
      return 'v4-query';
    }
    if (q.has('OSSAccessKeyId') || q.has('Signature')) {
      this.checkAccessKey(q.get('OSSAccessKeyId'));
      const expires = q.get('Expires') ?? '';
      if (!/^\d+$/.test(expires)) throw new OssError(403, 'AccessDenied', 'Invalid Expires.');
      if (now > Number(expires) * 1000) throw this.expired(new Date(Number(expires) * 1000).toUTCString());
      const sts = ossV1StringToSign({ method: req.method, contentMd5: h['content-md5'], contentType: h['content-type'], date: expires, headers: h,
        resource: ossV1CanonicalResource(bucket, key, query) });
      if (ossV1Signature(this.opts.accessKeySecret, sts) !== q.get('Signature')) throw this.mismatch(sts, q.get('Signature') ?? '');
      return 'v1-query';
    }
    if (auth.startsWith('OSS4-HMAC-SHA256')) {
      const fields = new Map(auth.slice('OSS4-HMAC-SHA256'.length).split(',').map((s) => s.trim()).filter(Boolean)
        .map((s) => { const i = s.indexOf('='); return [s.slice(0, i), s.slice(i + 1)] as const; }));
      const [ak, day, region] = (fields.get('Credential') ?? '').split('/');
      this.checkAccessKey(ak);
      const dateTime = h['x-oss-date'] ?? '';
      const t = parseOssV4DateTime(dateTime);
      if (t === undefined) throw new OssError(403, 'AccessDenied', 'Invalid x-oss-date.');
      this.checkSkew(t);
      const additional = (fields.get('AdditionalHeaders') ?? '').split(';').filter(Boolean);
      const canonical = ossV4CanonicalRequest({ method: req.method, bucket, key, query, headers: h, additionalHeaders: additional });
      const sts = ossV4StringToSign(dateTime, this.region, canonical);
      const expected = ossV4Signature(this.opts.accessKeySecret, dateTime, this.region, sts);
      if (day !== dateTime.slice(0, 8) || region !== this.region || expected !== fields.get('Signature')) throw this.mismatch(sts, fields.get('Signature') ?? '', canonical);
      return 'v4-header';
    }
    if (auth.startsWith('OSS ')) {
      const [ak, sig] = auth.slice(4).split(':');
      this.checkAccessKey(ak);
      const candidates = [h['x-oss-date'], h.date].filter((d): d is string => !!d);
      if (!candidates.length) throw new OssError(403, 'AccessDenied', 'Date header is required.');
      const t = Date.parse(candidates[0] ?? '');
      if (Number.isNaN(t)) throw new OssError(403, 'AccessDenied', 'Invalid Date header.');
      this.checkSkew(t);
      const resource = ossV1CanonicalResource(bucket, key, query);
      let firstSts = '';
      for (const date of candidates) {
        const sts = ossV1StringToSign({ method: req.method, contentMd5: h['content-md5'], contentType: h['content-type'], date, headers: h, resource });
        firstSts ||= sts;
        if (ossV1Signature(this.opts.accessKeySecret, sts) === sig) return 'v1-header';
      }
      throw this.mismatch(firstSts, sig ?? '');
    }
    throw new OssError(403, 'AccessDenied', 'You have no right to access this object because of bucket acl.');
  }

  private checkAccessKey(ak: string | undefined): void {
    if (ak !== this.opts.accessKeyId) throw new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', { OSSAccessKeyId: ak ?? '' });
  }

  private checkSkew(t: number): void {
    const now = this.now();
    if (Math.abs(now - t) > (this.opts.maxSkewMs ?? 15 * 60_000)) {
      throw new OssError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.',
        { RequestTime: new Date(t).toUTCString(), ServerTime: new Date(now).toUTCString() });
    }
  }

  private expired(expires: string): OssError {
    return new OssError(403, 'AccessDenied', 'Request has expired.', { Expires: expires, ServerTime: new Date(this.now()).toISOString(), EC: EC['AccessDenied:expired'] ?? '' });
  }

  private mismatch(stringToSign: string, provided: string, canonicalRequest?: string): OssError {
    const extra: Record<string, string> = { StringToSign: stringToSign, SignatureProvided: provided, OSSAccessKeyId: this.opts.accessKeyId };
    if (canonicalRequest !== undefined) extra.CanonicalRequest = canonicalRequest;
    return new OssError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', extra);
  }

  // -------------------------------------------------------------------------------------------------- operations

  private async put(req: EmulatorRequest, bucket: string, key: string, q: Map<string, string | undefined>, requestId: string): Promise<EmulatorResponse> {
    const body = await readBody(req.body);
    this.checkMd5(req, body);
    const callback = this.parseCallback(req, q);
    if (req.headers['x-oss-forbid-overwrite'] === 'true' && this.objects.has(`${bucket}/${key}`)) throw this.exists();
    const obj = this.putObject(bucket, key, body, req.headers['content-type'] ?? 'application/octet-stream');
    const headers = { etag: obj.etag, 'content-md5': md5(body).toString('base64'), 'content-length': '0' };
    if (callback) return this.runCallback(req, obj, callback, 'PutObject', requestId, headers);
    return { status: 200, headers };
  }

  private get(req: EmulatorRequest, bucket: string, key: string): EmulatorResponse {
    const obj = this.objects.get(`${bucket}/${key}`);
    if (!obj) throw new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
    const headers: Record<string, string> = { 'content-type': obj.contentType, etag: obj.etag, 'last-modified': httpDate(obj.lastModified),
      'x-oss-object-type': obj.type, 'accept-ranges': 'bytes' };
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && (range[1] || range[2])) {
      const size = obj.body.length;
      let start = range[1] ? Number(range[1]) : size - Number(range[2]);
      const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start < 0) start = 0;
      if (start < size && start <= end) {
        const part = obj.body.subarray(start, end + 1);
        return { status: 206, headers: { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(part.length) }, body: part };
      }
    }
    return { status: 200, headers: { ...headers, 'content-length': String(obj.body.length) }, body: obj.body };
  }

  private async initiate(req: EmulatorRequest, bucket: string, key: string): Promise<EmulatorResponse> {
    await readBody(req.body);
    if (req.headers['x-oss-forbid-overwrite'] === 'true' && this.objects.has(`${bucket}/${key}`)) throw this.exists();
    const uploadId = this.newUploadId(bucket, key, req.headers['content-type'] ?? 'application/octet-stream');
    return this.xml(200, `<InitiateMultipartUploadResult><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`);
  }

  private newUploadId(bucket: string, key: string, contentType: string): string {
    const uploadId = createHash('md5').update(`oss-upload-${++this.seq}-${bucket}/${key}-${this.now()}`).digest('hex').toUpperCase();
    this.uploadsById.set(uploadId, { uploadId, bucket, key, contentType, initiated: this.now(), parts: new Map() });
    return uploadId;
  }

  private findUpload(bucket: string, key: string, q: Map<string, string | undefined>): OssUploadRecord {
    const u = this.uploadsById.get(q.get('uploadId') ?? '');
    if (!u || u.bucket !== bucket || u.key !== key) {
      throw new OssError(404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: q.get('uploadId') ?? '' });
    }
    return u;
  }

  private async uploadPart(req: EmulatorRequest, bucket: string, key: string, q: Map<string, string | undefined>): Promise<EmulatorResponse> {
    const u = this.findUpload(bucket, key, q);
    const pn = q.get('partNumber') ?? '';
    if (!/^\d+$/.test(pn) || Number(pn) < 1 || Number(pn) > 10000) {
      throw new OssError(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.', { ArgumentName: 'partNumber', ArgumentValue: pn });
    }
    const body = await readBody(req.body);
    if (body.length > MAX_PART) throw new OssError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.');
    this.checkMd5(req, body);
    const digest = md5(body);
    const part: OssPartRecord = { partNumber: Number(pn), size: body.length, etag: `"${digest.toString('hex').toUpperCase()}"`, body, lastModified: this.now() };
    u.parts.set(part.partNumber, part);
    return { status: 200, headers: { etag: part.etag, 'content-md5': digest.toString('base64'), 'content-length': '0' } };
  }

  private async complete(req: EmulatorRequest, bucket: string, key: string, q: Map<string, string | undefined>, requestId: string): Promise<EmulatorResponse> {
    const u = this.findUpload(bucket, key, q);
    const body = await readBody(req.body);
    const callback = this.parseCallback(req, q);
    let parts: OssPartRecord[];
    if ((req.headers['x-oss-complete-all'] ?? '').toLowerCase() === 'yes') {
      if (body.length > 0) throw new OssError(400, 'InvalidArgument', 'Should not specify both complete all header and http body.', { ArgumentName: 'x-oss-complete-all', ArgumentValue: 'yes' });
      parts = [...u.parts.values()].sort((a, b) => a.partNumber - b.partNumber);
      if (!parts.length) throw new OssError(400, 'InvalidPart', 'One or more of the specified parts could not be found or the specified entity tag might not have matched the part\'s entity tag.');
    } else {
      parts = this.partsFromXml(u, body);
    }
    if (this.minPartSize > 0) {
      for (const p of parts.slice(0, -1)) {
        if (p.size < this.minPartSize) {
          throw new OssError(400, 'EntityTooSmall', 'Your proposed upload smaller than the minimum allowed size.',
            { MinSizeAllowed: String(this.minPartSize), ProposedSize: String(p.size), PartNumber: String(p.partNumber) });
        }
      }
    }
    if (req.headers['x-oss-forbid-overwrite'] === 'true' && this.objects.has(`${bucket}/${key}`)) throw this.exists();
    const whole = Buffer.concat(parts.map((p) => p.body));
    const etagHex = md5(Buffer.concat(parts.map((p) => Buffer.from(p.etag.replace(/"/g, ''), 'hex')))).toString('hex').toUpperCase();
    const obj: OssStoredObject = { bucket, key, body: whole, contentType: u.contentType, etag: `"${etagHex}-${parts.length}"`, lastModified: this.now(), type: 'Multipart' };
    this.objects.set(`${bucket}/${key}`, obj);
    this.uploadsById.delete(u.uploadId);
    if (callback) return this.runCallback(req, obj, callback, 'CompleteMultipartUpload', requestId, { etag: obj.etag });
    const location = `${req.url.protocol}//${req.url.host}${req.url.pathname}`;
    return this.xml(200, `<CompleteMultipartUploadResult><Location>${xmlEscape(location)}</Location><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(obj.etag)}</ETag></CompleteMultipartUploadResult>`, { etag: obj.etag });
  }

  private partsFromXml(u: OssUploadRecord, body: Buffer): OssPartRecord[] {
    const malformed = new OssError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    let doc: unknown;
    try { doc = this.parser.parse(body.toString('utf8'), true); } catch { throw malformed; }
    const root = (doc as { CompleteMultipartUpload?: { Part?: { PartNumber?: string; ETag?: string }[] } }).CompleteMultipartUpload;
    const list = root?.Part;
    if (!list || !list.length) throw malformed;
    const out: OssPartRecord[] = [];
    let last = 0;
    for (const p of list) {
      const n = Number(p.PartNumber);
      if (!Number.isInteger(n)) throw malformed;
      if (n <= last) throw new OssError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts list must specified in order by part number.');
      last = n;
      const stored = u.parts.get(n);
      const etag = String(p.ETag ?? '').replace(/"/g, '').toUpperCase();
      if (!stored || stored.etag.replace(/"/g, '') !== etag) {
        throw new OssError(400, 'InvalidPart', 'One or more of the specified parts could not be found or the specified entity tag might not have matched the part\'s entity tag.',
          { UploadId: u.uploadId, PartNumber: String(n), ETag: String(p.ETag ?? '') });
      }
      out.push(stored);
    }
    return out;
  }

  private abort(bucket: string, key: string, q: Map<string, string | undefined>): EmulatorResponse {
    const u = this.findUpload(bucket, key, q);
    this.uploadsById.delete(u.uploadId);
    return { status: 204 };
  }

  private listParts(bucket: string, key: string, q: Map<string, string | undefined>): EmulatorResponse {
    const u = this.findUpload(bucket, key, q);
    const max = Math.min(Number(q.get('max-parts') ?? 1000) || 1000, 1000);
    const marker = Number(q.get('part-number-marker') ?? 0) || 0;
    const all = [...u.parts.values()].sort((a, b) => a.partNumber - b.partNumber).filter((p) => p.partNumber > marker);
    const page = all.slice(0, max);
    const truncated = all.length > page.length;
    const next = page.length ? page[page.length - 1]?.partNumber ?? 0 : 0;
    return this.xml(200, `<ListPartsResult><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${u.uploadId}</UploadId>`
      + `<PartNumberMarker>${marker}</PartNumberMarker><NextPartNumberMarker>${next}</NextPartNumberMarker><MaxParts>${max}</MaxParts>`
      + `<IsTruncated>${truncated}</IsTruncated>${page.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><LastModified>${new Date(p.lastModified).toISOString()}</LastModified>`
      + `<ETag>${xmlEscape(p.etag)}</ETag><HashCrc64ecma></HashCrc64ecma><Size>${p.size}</Size></Part>`).join('')}</ListPartsResult>`);
  }

  private listUploads(bucket: string): EmulatorResponse {
    const ups = this.uploads().filter((u) => u.bucket === bucket);
    return this.xml(200, `<ListMultipartUploadsResult><Bucket>${xmlEscape(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>`
      + `<NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker><Delimiter></Delimiter><Prefix></Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>`
      + `${ups.map((u) => `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.uploadId}</UploadId><Initiated>${new Date(u.initiated).toISOString()}</Initiated></Upload>`).join('')}</ListMultipartUploadsResult>`);
  }

  private listObjectsXml(bucket: string, q: Map<string, string | undefined>): EmulatorResponse {
    const prefix = q.get('prefix') ?? '';
    const objs = this.listObjects(bucket).filter((o) => o.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : 1));
    return this.xml(200, `<ListBucketResult><Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><Delimiter></Delimiter><IsTruncated>false</IsTruncated>`
      + `${objs.map((o) => `<Contents><Key>${xmlEscape(o.key)}</Key><LastModified>${new Date(o.lastModified).toISOString()}</LastModified><ETag>${xmlEscape(o.etag)}</ETag><Type>${o.type}</Type><Size>${o.body.length}</Size><StorageClass>Standard</StorageClass></Contents>`).join('')}</ListBucketResult>`);
  }

  // ----------------------------------------------------------------------------------------------------- callback

  private parseCallback(req: EmulatorRequest, q: Map<string, string | undefined>): { policy: Record<string, unknown>; vars: Record<string, string> } | undefined {
    const raw = req.headers['x-oss-callback'] ?? q.get('callback');
    if (raw === undefined || raw === '') return undefined;
    const bad = (m: string): OssError => new OssError(400, 'InvalidArgument', m, { ArgumentName: 'callback', ArgumentValue: raw });
    let policy: Record<string, unknown>;
    try { policy = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as Record<string, unknown>; } catch { throw bad('The callback configuration is not json format.'); }
    if (typeof policy !== 'object' || policy === null) throw bad('The callback configuration is not json format.');
    if (typeof policy.callbackUrl !== 'string' || !policy.callbackUrl) throw bad('The callbackUrl is not specified.');
    if (typeof policy.callbackBody !== 'string' || !policy.callbackBody) throw bad('The callbackBody is not specified.');
    let vars: Record<string, string> = {};
    const rawVars = req.headers['x-oss-callback-var'] ?? q.get('callback-var');
    if (rawVars) {
      try { vars = JSON.parse(Buffer.from(rawVars, 'base64').toString('utf8')) as Record<string, string>; } catch {
        throw new OssError(400, 'InvalidArgument', 'The callback-var configuration is not json format.');
      }
    }
    return { policy, vars };
  }

  private async runCallback(req: EmulatorRequest, obj: OssStoredObject, cb: { policy: Record<string, unknown>; vars: Record<string, string> },
    operation: string, requestId: string, okHeaders: Record<string, string>): Promise<EmulatorResponse> {
    const url = String(cb.policy.callbackUrl).split(';')[0] ?? '';
    const type = typeof cb.policy.callbackBodyType === 'string' && cb.policy.callbackBodyType ? cb.policy.callbackBodyType : 'application/x-www-form-urlencoded';
    const values = new Map<string, string | number>([
      ['bucket', obj.bucket], ['object', obj.key], ['etag', obj.etag.replace(/"/g, '')], ['size', obj.body.length],
      ['mimeType', obj.contentType], ['imageInfo.height', ''], ['imageInfo.width', ''], ['imageInfo.format', ''],
      ['crc64', ''], ['contentMd5', obj.type === 'Normal' ? md5(obj.body).toString('base64') : ''],
      ['clientIp', (req.headers['x-forwarded-for'] ?? '127.0.0.1').split(',')[0]?.trim() ?? ''], ['reqId', requestId], ['operation', operation],
    ]);
    for (const [k, v] of Object.entries(cb.vars)) if (k.startsWith('x:')) values.set(k, String(v));
    const body = renderOssCallbackBody(String(cb.policy.callbackBody), type, values);
    const rec: OssCallbackRecord = { url, headers: {}, body, outcome: 'callback-failed' };
    this.callbacks.push(rec);
    const fail = (message: string): EmulatorResponse => {
      rec.outcome = 'callback-failed';
      return this.errorResponse(new OssError(203, 'CallbackFailed', message), req, requestId);
    };
    let target: URL;
    try { target = new URL(url); } catch { return fail('Error status : -1.OSS can not connect to your callbackUrl, please check it'); }
    const pubKeyUrl = this.publicKeyUrl ?? `${req.url.protocol}//${req.url.host}/__oss/pubkey.pem`;
    const headers: Record<string, string> = {
      'content-type': type,
      date: httpDate(this.now()),
      'user-agent': 'aliyun-oss-callback',
      'x-oss-pub-key-url': Buffer.from(pubKeyUrl).toString('base64'),
      'x-oss-requester': this.opts.accessKeyId,
      authorization: signOssCallback(this.privateKey, target.pathname, target.search, body),
    };
    rec.headers = headers;
    let status: number;
    let text: string;
    try {
      const res = await (this.opts.fetch ?? fetch)(target, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.opts.callbackTimeoutMs ?? 5000) });
      status = res.status;
      text = await res.text();
    } catch (e) {
      rec.error = (e as Error).message;
      return fail((e as Error).name === 'TimeoutError' ? 'Error status : -1.Cost too long time' : 'Error status : -1.OSS can not connect to your callbackUrl, please check it');
    }
    rec.status = status;
    rec.responseBody = text;
    if (status !== 200) return fail(`Error status : ${status}.`);
    try { JSON.parse(text); } catch { return fail('Error status : 200.Response body is not valid json format.'); }
    rec.outcome = 'ok';
    return { status: 200, headers: { ...okHeaders, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }, body: text };
  }

  // ------------------------------------------------------------------------------------------------------ helpers

  private checkMd5(req: EmulatorRequest, body: Buffer): void {
    const given = req.headers['content-md5'];
    if (given === undefined) return;
    if (Buffer.from(given, 'base64').length !== 16) throw new OssError(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.');
    if (md5(body).toString('base64') !== given) throw new OssError(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }

  private exists(): OssError {
    return new OssError(409, 'FileAlreadyExists', 'The object you specified already exists and can not be overwritten.', { EC: EC.FileAlreadyExists ?? '' });
  }

  private preflight(req: EmulatorRequest): EmulatorResponse {
    return { status: 200, headers: {
      'access-control-allow-origin': req.headers.origin ?? '*',
      'access-control-allow-methods': 'GET, POST, PUT, DELETE, HEAD',
      'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*',
      'access-control-max-age': '3600',
      'content-length': '0',
    } };
  }

  private xml(status: number, inner: string, headers: Record<string, string> = {}): EmulatorResponse {
    const body = XML_HEAD + inner;
    return { status, headers: { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)), ...headers }, body };
  }

  private errorResponse(e: OssError, req: EmulatorRequest, requestId: string): EmulatorResponse {
    const extra = Object.entries(e.extra).filter(([k]) => k !== 'EC').map(([k, v]) => `  <${k}>${xmlEscape(v)}</${k}>\n`).join('');
    const ec = e.extra.EC ? `  <EC>${e.extra.EC}</EC>\n` : '';
    const body = `${XML_HEAD}<Error>\n  <Code>${e.code}</Code>\n  <Message>${xmlEscape(e.message)}</Message>\n  <RequestId>${requestId}</RequestId>\n`
      + `  <HostId>${xmlEscape(req.url.host)}</HostId>\n${extra}${ec}</Error>\n`;
    return { status: e.status, headers: { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)), ...(e.extra.EC ? { 'x-oss-ec': e.extra.EC } : {}) }, body };
  }

  private requestId(): string {
    return createHash('sha1').update(`oss-req-${++this.seq}`).digest('hex').slice(0, 24).toUpperCase();
  }
}

/**
 * Renders an OSS `callbackBody`. For a JSON body type a variable outside a string literal becomes a JSON value (a
 * quoted string, or a bare number for `${size}`), one inside a string literal is inserted JSON-escaped; for the form
 * type values are URL-encoded. Unknown variables render empty.
 */
export function renderOssCallbackBody(template: string, bodyType: string, values: ReadonlyMap<string, string | number>): string {
  const json = bodyType.toLowerCase().includes('json');
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '$' && template[i + 1] === '{') {
      const end = template.indexOf('}', i + 2);
      if (end > 0) {
        const v = values.get(template.slice(i + 2, end));
        if (!json) out += encodeURIComponent(String(v ?? ''));
        else if (inString) out += JSON.stringify(String(v ?? '')).slice(1, -1);
        else out += typeof v === 'number' ? String(v) : JSON.stringify(String(v ?? ''));
        i = end;
        continue;
      }
    }
    if (json && inString && c === '\\') { out += c + (template[i + 1] ?? ''); i++; continue; }
    if (json && c === '"') inString = !inString;
    out += c;
  }
  return out;
}
