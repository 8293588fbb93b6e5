// Tencent COS emulator: the object and multipart API a Cloudreve `cos` policy touches (server-side initiate, HEAD,
// abort, DELETE Multiple Objects; client-side UploadPart and CompleteMultipartUpload on presigned URLs; presigned GET
// downloads with their response-* overrides), with the COS `q-sign-*` signature in query or `Authorization` header form,
// COS error XML, `x-cos-forbid-overwrite`, COS's stricter completion rules (consecutive part numbers) and its 1 MB
// minimum part size. A URL query is read as a form (`+` is a space), as COS reads the Go SDK's presigned URLs. Uploads
// and downloads carry `x-cos-hash-crc64ecma` (cos-go-sdk-v5 refuses a PUT Object answer without it).
//
// The bucket is the host's first label for `<bucket>-<appid>.cos.<region>.myqcloud.com`; any other host (a loopback
// mount, which is what a policy `server` pointing at the emulator gives) addresses the default bucket and the whole
// path is the key — COS uses the policy server as the bucket URL.
import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { readBody, type EmulatorRequest, type EmulatorResponse, type ProviderEmulator } from './mount.js';
import { cosHttpString, cosPresignUrl, cosSafeEncode, cosSignature, cosStringToSign } from './cos-sign.js';

export interface CosEmulatorOptions {
  secretId: string;
  secretKey: string;
  /** Bucket served on non-COS host names (default `examplebucket-1250000000`). */
  bucket?: string;
  region?: string;
  /** Every part but the last must be at least this long at completion (default 1 MiB). 0 turns the check off. */
  minPartSize?: number;
  now?: () => number;
  /** How far in the future a signature's start time may lie (clock skew; default 15 min). */
  maxSkewMs?: number;
}

export interface CosStoredObject { bucket: string; key: string; body: Buffer; contentType: string; etag: string; lastModified: number; crc64: string }
export interface CosPartRecord { partNumber: number; size: number; etag: string; body: Buffer; lastModified: number; crc64: string }
export interface CosUploadRecord { uploadId: string; bucket: string; key: string; contentType: string; initiated: number; parts: Map<number, CosPartRecord> }
export type CosAuthKind = 'query' | 'header' | 'none';
export interface CosRequestRecord { method: string; url: string; auth: CosAuthKind; status: number; code?: string }

export interface CosIssuedSession { uploadId: string; uploadUrls: string[]; completeUrl: string }

class CosError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

const XML_HEAD = '<?xml version=\'1.0\' encoding=\'utf-8\' ?>\n';
const RESPONSE_OVERRIDES: [string, string][] = [['response-content-type', 'content-type'], ['response-content-language', 'content-language'],
  ['response-expires', 'expires'], ['response-cache-control', 'cache-control'], ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding']];
const AUTH_FIELDS = ['q-sign-algorithm', 'q-ak', 'q-sign-time', 'q-key-time', 'q-header-list', 'q-url-param-list', 'q-signature'];

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
function md5(b: Buffer): Buffer { return createHash('md5').update(b).digest(); }

// CRC-64 over the ECMA-182 polynomial, reflected, initial and final value all ones (Go's crc64.Checksum(b,
// crc64.MakeTable(crc64.ECMA)), i.e. CRC-64/XZ: "123456789" → 0x995DC9BBDF1939FA), as unsigned 64-bit halves.
const CRC64_LO = new Uint32Array(256);
const CRC64_HI = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let lo = i >>> 0;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    const odd = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (odd) { lo = (lo ^ 0xD7870F42) >>> 0; hi = (hi ^ 0xC96C5795) >>> 0; }
  }
  CRC64_LO[i] = lo;
  CRC64_HI[i] = hi;
}

/** COS's `x-cos-hash-crc64ecma`: the CRC-64/ECMA-182 of the bytes as an unsigned decimal (COS doc 436/43320). */
export function cosCrc64(b: Buffer): string {
  let lo = 0xffffffff;
  let hi = 0xffffffff;
  for (let i = 0; i < b.length; i++) {
    const idx = (lo ^ (b[i] ?? 0)) & 0xff;
    lo = (((lo >>> 8) | ((hi & 0xff) << 24)) ^ (CRC64_LO[idx] ?? 0)) >>> 0;
    hi = ((hi >>> 8) ^ (CRC64_HI[idx] ?? 0)) >>> 0;
  }
  return ((BigInt((~hi) >>> 0) << 32n) | BigInt((~lo) >>> 0)).toString();
}
function safeDecode(s: string): string { try { return decodeURIComponent(s); } catch { return s; } }

/**
 * `k=v&…` split, names and values percent-decoded. `form` (a URL's query) also reads `+` as a space, as COS does: the
 * Go SDK (Cloudreve's) writes its query with Go's `url.Values.Encode` (space → `+`) and signs the decoded value, e.g.
 * `response-content-disposition=attachment%3B+filename%3D…` signed as `attachment%3B%20filename%3D…`, and COS accepts
 * those URLs. A literal `+` must arrive as `%2B`. The `Authorization` header form is not URL-encoded (`form` false).
 */
function queryPairs(search: string, form: boolean): [string, string][] {
  const q = search.startsWith('?') ? search.slice(1) : search;
  if (!q) return [];
  const dec = (s: string): string => safeDecode(form ? s.replace(/\+/g, ' ') : s);
  return q.split('&').filter(Boolean).map((p) => { const i = p.indexOf('='); return i < 0 ? [dec(p), ''] : [dec(p.slice(0, i)), dec(p.slice(i + 1))]; });
}

export class CosEmulator implements ProviderEmulator {
  readonly provider = 'cos';
  readonly bucket: string;
  readonly region: string;
  readonly requests: CosRequestRecord[] = [];
  minPartSize: number;
  private readonly objects = new Map<string, CosStoredObject>();
  private readonly uploadsById = new Map<string, CosUploadRecord>();
  private readonly now: () => number;
  private seq = 0;
  private readonly parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (n) => n === 'Part' || n === 'Object' || n === 'Deleted' });

  constructor(private readonly opts: CosEmulatorOptions) {
    this.bucket = opts.bucket ?? 'examplebucket-1250000000';
    this.region = opts.region ?? 'ap-guangzhou';
    this.minPartSize = opts.minPartSize ?? 1024 * 1024;
    this.now = opts.now ?? Date.now;
  }

  // ------------------------------------------------------------------------------------------------ inspection API

  object(key: string, bucket = this.bucket): CosStoredObject | undefined { return this.objects.get(`${bucket}/${key}`); }
  listObjects(bucket = this.bucket): CosStoredObject[] { return [...this.objects.values()].filter((o) => o.bucket === bucket); }
  putObject(key: string, body: Buffer | string, contentType = 'application/octet-stream', bucket = this.bucket): CosStoredObject {
    const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const o: CosStoredObject = { bucket, key, body: b, contentType, etag: `"${md5(b).toString('hex')}"`, lastModified: this.now(), crc64: cosCrc64(b) };
    this.objects.set(`${bucket}/${key}`, o);
    return o;
  }
  uploads(): CosUploadRecord[] { return [...this.uploadsById.values()]; }
  upload(uploadId: string): CosUploadRecord | undefined { return this.uploadsById.get(uploadId); }
  reset(): void { this.objects.clear(); this.uploadsById.clear(); this.requests.length = 0; }

  /**
   * What Cloudreve's `Token` does for a `cos` policy: initiates a multipart upload, presigns each part URL (signing
   * `content-length` of that chunk and `content-type: application/octet-stream`, host unsigned) and the complete URL
   * (signing `x-cos-forbid-overwrite: true`). `baseUrl` is the bucket URL (the policy `server`).
   */
  issueSession(o: { baseUrl: string; key: string; size: number; chunkSize: number; contentType?: string; expiresSeconds?: number }): CosIssuedSession {
    const uploadId = this.newUploadId(this.bucketFor(new URL(o.baseUrl)), o.key, o.contentType ?? 'application/octet-stream');
    const start = Math.floor(this.now() / 1000);
    const end = start + (o.expiresSeconds ?? 3600);
    const objectUrl = `${o.baseUrl.replace(/\/$/, '')}/${o.key.split('/').map(encodeURIComponent).join('/')}`;
    const chunk = o.chunkSize > 0 ? o.chunkSize : Math.max(o.size, 1);
    const n = Math.max(1, Math.ceil(o.size / chunk));
    const cred = { secretId: this.opts.secretId, secretKey: this.opts.secretKey, start, end };
    const uploadUrls = Array.from({ length: n }, (_, i) => cosPresignUrl(objectUrl, { ...cred, method: 'PUT',
      params: { partNumber: String(i + 1), uploadId },
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(Math.min(chunk, o.size - i * chunk)) } }));
    const completeUrl = cosPresignUrl(objectUrl, { ...cred, method: 'POST', params: { uploadId }, headers: { 'x-cos-forbid-overwrite': 'true' } });
    return { uploadId, uploadUrls, completeUrl };
  }

  // ------------------------------------------------------------------------------------------------------- handler

  async handle(req: EmulatorRequest): Promise<EmulatorResponse> {
    const record: CosRequestRecord = { method: req.method, url: req.url.toString(), auth: 'none', status: 0 };
    this.requests.push(record);
    const requestId = this.requestId();
    let res: EmulatorResponse;
    try {
      res = await this.route(req, record);
    } catch (e) {
      if (!(e instanceof CosError)) throw e;
      record.code = e.code;
      res = this.errorResponse(e, req, requestId);
    }
    record.status = res.status;
    res.headers = { 'x-cos-request-id': requestId, date: new Date(this.now()).toUTCString(), server: 'tencent-cos', ...res.headers };
    if (req.method === 'HEAD') res.body = undefined;
    return res;
  }

  private bucketFor(url: URL): string {
    const m = /^([a-z0-9-]+-\d+)\.cos\.[^.]+\.myqcloud\.com$/i.exec(url.hostname);
    return m?.[1] ?? this.bucket;
  }

  private async route(req: EmulatorRequest, record: CosRequestRecord): Promise<EmulatorResponse> {
    if (req.method === 'OPTIONS') {
      return { status: 200, headers: { 'access-control-allow-origin': req.headers.origin ?? '*', 'access-control-allow-methods': 'GET, POST, PUT, DELETE, HEAD',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*', 'access-control-expose-headers': 'ETag', 'access-control-max-age': '3600', 'content-length': '0' } };
    }
    const bucket = this.bucketFor(req.url);
    const path = safeDecode(req.url.pathname);
    const key = path.slice(1);
    const query = queryPairs(req.url.search, true);
    const q = new Map<string, string>();
    for (const [n, v] of query) if (!q.has(n)) q.set(n, v);
    record.auth = this.authenticate(req, path, query, q);
    const m = req.method;
    if (key === '') {
      if (m === 'GET' && q.has('uploads')) return this.listUploads(bucket, q.get('prefix') ?? '');
      if (m === 'PUT' && q.has('cors')) { await readBody(req.body); return { status: 200, headers: { 'content-length': '0' } }; }
      if (m === 'POST' && q.has('delete')) return this.deleteMultiple(req, bucket);
      if (m === 'GET' || m === 'HEAD') return this.listObjectsXml(bucket, q.get('prefix') ?? '');
      throw new CosError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
    if (m === 'POST' && q.has('uploads')) return this.initiate(req, bucket, key);
    if (m === 'PUT' && q.has('uploadId') && q.has('partNumber')) return this.uploadPart(req, bucket, key, q);
    if (m === 'POST' && q.has('uploadId')) return this.complete(req, bucket, key, q);
    if (m === 'DELETE' && q.has('uploadId')) { this.findUpload(bucket, key, q); this.uploadsById.delete(q.get('uploadId') ?? ''); return { status: 204 }; }
    if (m === 'GET' && q.has('uploadId')) return this.listParts(bucket, key, q);
    if (m === 'PUT') return this.put(req, bucket, key);
    if (m === 'GET' || m === 'HEAD') return this.get(bucket, key, q);
    if (m === 'DELETE') { this.objects.delete(`${bucket}/${key}`); return { status: 204 }; }
    throw new CosError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }

  // -------------------------------------------------------------------------------------------------------- auth

  private authenticate(req: EmulatorRequest, path: string, query: [string, string][], q: Map<string, string>): CosAuthKind {
    let fields: Map<string, string>;
    let kind: CosAuthKind;
    if (q.has('q-signature') || q.has('q-sign-algorithm')) {
      fields = new Map(query.filter(([n]) => AUTH_FIELDS.includes(n)));
      kind = 'query';
    } else if (req.headers.authorization?.includes('q-signature=')) {
      fields = new Map(queryPairs(req.headers.authorization.trim(), false));
      kind = 'header';
    } else {
      throw new CosError(403, 'AccessDenied', 'Access Denied.');
    }
    if (fields.get('q-sign-algorithm') !== 'sha1') throw new CosError(400, 'InvalidArgument', 'Unsupported q-sign-algorithm.');
    if (fields.get('q-ak') !== this.opts.secretId) throw new CosError(403, 'InvalidAccessKeyId', 'The access key Id format you provided is invalid.');
    const signTime = fields.get('q-sign-time') ?? '';
    const keyTime = fields.get('q-key-time') ?? '';
    const nowS = Math.floor(this.now() / 1000);
    for (const t of [signTime, keyTime]) {
      const m = /^(\d+);(\d+)$/.exec(t);
      if (!m) throw new CosError(403, 'AccessDenied', 'Invalid q-sign-time or q-key-time.');
      if (nowS + Math.floor((this.opts.maxSkewMs ?? 15 * 60_000) / 1000) < Number(m[1])) throw new CosError(403, 'AccessDenied', 'Request has not become valid yet');
      if (nowS > Number(m[2])) throw new CosError(403, 'AccessDenied', 'Request has expired');
    }
    const lowerQuery = new Map<string, string>();
    for (const [n, v] of query) if (!AUTH_FIELDS.includes(n)) { const k = cosSafeEncode(n).toLowerCase(); if (!lowerQuery.has(k)) lowerQuery.set(k, v); }
    const mismatch = (): CosError => new CosError(403, 'SignatureDoesNotMatch', 'The Signature you specified is invalid.');
    const params: [string, string][] = [];
    for (const name of (fields.get('q-url-param-list') ?? '').split(';').filter(Boolean)) {
      const v = lowerQuery.get(name.toLowerCase());
      if (v === undefined) throw mismatch();
      params.push([safeDecode(name), v]);
    }
    const headers: [string, string][] = [];
    for (const name of (fields.get('q-header-list') ?? '').split(';').filter(Boolean)) {
      const v = req.headers[safeDecode(name).toLowerCase()];
      if (v === undefined) throw mismatch();
      headers.push([safeDecode(name), v]);
    }
    const expected = cosSignature(this.opts.secretKey, keyTime, cosStringToSign(signTime, cosHttpString(req.method, path, params, headers)));
    if (expected !== fields.get('q-signature')) throw mismatch();
    return kind;
  }

  // -------------------------------------------------------------------------------------------------- operations

  private async put(req: EmulatorRequest, bucket: string, key: string): Promise<EmulatorResponse> {
    const body = await readBody(req.body);
    this.checkMd5(req, body);
    if (req.headers['x-cos-forbid-overwrite'] === 'true' && this.objects.has(`${bucket}/${key}`)) throw this.exists();
    const o = this.putObject(key, body, req.headers['content-type'] ?? 'application/octet-stream', bucket);
    // cos-go-sdk-v5 (EnableCRC, on by default) fails a PUT whose answer lacks the CRC of a non-empty body.
    return { status: 200, headers: { etag: o.etag, 'x-cos-hash-crc64ecma': o.crc64, 'content-length': '0' } };
  }

  private get(bucket: string, key: string, q: Map<string, string>): EmulatorResponse {
    const o = this.objects.get(`${bucket}/${key}`);
    if (!o) throw new CosError(404, 'NoSuchKey', 'The specified key does not exist.');
    const headers: Record<string, string> = { 'content-type': o.contentType, etag: o.etag, 'last-modified': new Date(o.lastModified).toUTCString(),
      'x-cos-hash-crc64ecma': o.crc64, 'content-length': String(o.body.length) };
    // GET Object's response-* parameters set the answer's headers (COS API 436/7753); Cloudreve's download URLs carry
    // response-content-disposition.
    // Non-Latin-1 text goes out as its raw UTF-8 bytes (what an HTTP server sends; Node refuses such strings).
    for (const [param, header] of RESPONSE_OVERRIDES) { const v = q.get(param); if (v !== undefined) headers[header] = Buffer.from(v, 'utf8').toString('latin1'); }
    return { status: 200, headers, body: o.body };
  }

  /**
   * DELETE Multiple Objects (`POST /?delete`, COS API 436/8289; Cloudreve's `Delete` sends it with `Quiet` true): up to
   * 1000 keys, Content-MD5 required; a missing key counts as deleted; Quiet answers only the failures.
   */
  private async deleteMultiple(req: EmulatorRequest, bucket: string): Promise<EmulatorResponse> {
    const body = await readBody(req.body);
    // ⚑ code: COS documents Content-MD5 as required here but not the error for its absence.
    if (req.headers['content-md5'] === undefined) throw new CosError(400, 'MissingContentMD5', 'Missing required header for this request: Content-MD5.');
    this.checkMd5(req, body);
    const malformed = new CosError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    let doc: unknown;
    try { doc = this.parser.parse(body.toString('utf8'), true); } catch { throw malformed; }
    const del = (doc as { Delete?: { Quiet?: string; Object?: { Key?: string }[] } }).Delete;
    const objects = del?.Object ?? [];
    if (!del || !objects.length || objects.some((o) => typeof o.Key !== 'string' || o.Key === '')) throw malformed;
    if (objects.length > 1000) throw malformed;
    const quiet = String(del.Quiet ?? 'false').trim().toLowerCase() === 'true';
    const deleted: string[] = [];
    for (const o of objects) {
      const key = o.Key as string;
      this.objects.delete(`${bucket}/${key}`);
      deleted.push(key);
    }
    return this.xml(`<DeleteResult>${quiet ? '' : deleted.map((k) => `<Deleted><Key>${xmlEscape(k)}</Key></Deleted>`).join('')}</DeleteResult>`);
  }

  private async initiate(req: EmulatorRequest, bucket: string, key: string): Promise<EmulatorResponse> {
    await readBody(req.body);
    const uploadId = this.newUploadId(bucket, key, req.headers['content-type'] ?? 'application/octet-stream');
    return this.xml(`<InitiateMultipartUploadResult><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`);
  }

  private newUploadId(bucket: string, key: string, contentType: string): string {
    const uploadId = `${Math.floor(this.now() / 1000)}${createHash('sha256').update(`cos-upload-${++this.seq}-${bucket}/${key}`).digest('hex').slice(0, 48)}`;
    this.uploadsById.set(uploadId, { uploadId, bucket, key, contentType, initiated: this.now(), parts: new Map() });
    return uploadId;
  }

  private findUpload(bucket: string, key: string, q: Map<string, string>): CosUploadRecord {
    const u = this.uploadsById.get(q.get('uploadId') ?? '');
    if (!u || u.bucket !== bucket || u.key !== key) throw new CosError(404, 'NoSuchUpload', 'The specified upload does not exist.');
    return u;
  }

  private async uploadPart(req: EmulatorRequest, bucket: string, key: string, q: Map<string, string>): Promise<EmulatorResponse> {
    const u = this.findUpload(bucket, key, q);
    const pn = q.get('partNumber') ?? '';
    if (!/^\d+$/.test(pn) || Number(pn) < 1 || Number(pn) > 10000) throw new CosError(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
    const body = await readBody(req.body);
    this.checkMd5(req, body);
    if (body.length > 5 * 1024 ** 3) throw new CosError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed object size.');
    const part: CosPartRecord = { partNumber: Number(pn), size: body.length, etag: `"${md5(body).toString('hex')}"`, body, lastModified: this.now(), crc64: cosCrc64(body) };
    u.parts.set(part.partNumber, part);
    return { status: 200, headers: { etag: part.etag, 'x-cos-hash-crc64ecma': part.crc64, 'content-length': '0' } };
  }

  private async complete(req: EmulatorRequest, bucket: string, key: string, q: Map<string, string>): Promise<EmulatorResponse> {
    const u = this.findUpload(bucket, key, q);
    const body = await readBody(req.body);
    const malformed = new CosError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    let doc: unknown;
    try { doc = this.parser.parse(body.toString('utf8'), true); } catch { throw malformed; }
    const list = (doc as { CompleteMultipartUpload?: { Part?: { PartNumber?: string; ETag?: string }[] } }).CompleteMultipartUpload?.Part;
    if (!list || !list.length) throw malformed;
    const numbers = list.map((p) => Number(p.PartNumber));
    if (numbers.some((n) => !Number.isInteger(n))) throw malformed;
    if (numbers.some((n, i) => i > 0 && n <= (numbers[i - 1] ?? 0))) {
      throw new CosError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
    }
    // COS (unlike S3) wants the parts consecutive, from 1.
    if (numbers.some((n, i) => n !== i + 1)) throw new CosError(400, 'InvalidPart', 'The part numbers are not consecutive.');
    const parts: CosPartRecord[] = [];
    for (const [i, p] of list.entries()) {
      const n = numbers[i] ?? 0;
      const stored = u.parts.get(n);
      if (!stored || stored.etag.replace(/"/g, '').toLowerCase() !== String(p.ETag ?? '').replace(/"/g, '').toLowerCase()) {
        throw new CosError(400, 'InvalidPart', 'One or more of the specified parts could not be found or the specified entity tag might not have matched the part\'s entity tag.');
      }
      parts.push(stored);
    }
    if (this.minPartSize > 0 && parts.slice(0, -1).some((p) => p.size < this.minPartSize)) {
      throw new CosError(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.');
    }
    if (req.headers['x-cos-forbid-overwrite'] === 'true' && this.objects.has(`${bucket}/${key}`)) throw this.exists();
    const whole = Buffer.concat(parts.map((p) => p.body));
    const etag = `"${md5(Buffer.concat(parts.map((p) => Buffer.from(p.etag.replace(/"/g, ''), 'hex')))).toString('hex')}-${parts.length}"`;
    const crc64 = cosCrc64(whole);
    this.objects.set(`${bucket}/${key}`, { bucket, key, body: whole, contentType: u.contentType, etag, lastModified: this.now(), crc64 });
    this.uploadsById.delete(u.uploadId);
    const location = `${bucket}.cos.${this.region}.myqcloud.com/${key}`;
    return this.xml(crc64, `<CompleteMultipartUploadResult><Location>${xmlEscape(location)}</Location><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(etag)}</ETag></CompleteMultipartUploadResult>`);
  }

  private listParts(bucket: string, key: string, q: Map<string, string>): EmulatorResponse {
    const u = this.findUpload(bucket, key, q);
    const marker = Number(q.get('part-number-marker') ?? 0) || 0;
    const max = Math.min(Number(q.get('max-parts') ?? 1000) || 1000, 1000);
    const all = [...u.parts.values()].sort((a, b) => a.partNumber - b.partNumber).filter((p) => p.partNumber > marker);
    const page = all.slice(0, max);
    return this.xml(`<ListPartsResult><Bucket>${xmlEscape(bucket)}</Bucket><Encoding-type></Encoding-type><Key>${xmlEscape(key)}</Key><UploadId>${u.uploadId}</UploadId>`
      + `<Initiator><ID>qcs::cam::uin/100000000001:uin/100000000001</ID><DisplayName>100000000001</DisplayName></Initiator><Owner><ID>qcs::cam::uin/100000000001:uin/100000000001</ID><DisplayName>100000000001</DisplayName></Owner>`
      + `<PartNumberMarker>${marker}</PartNumberMarker>${page.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><LastModified>${new Date(p.lastModified).toISOString()}</LastModified><ETag>${xmlEscape(p.etag)}</ETag><Size>${p.size}</Size></Part>`).join('')}`
      + `<NextPartNumberMarker>${page.at(-1)?.partNumber ?? 0}</NextPartNumberMarker><StorageClass>STANDARD</StorageClass><MaxParts>${max}</MaxParts><IsTruncated>${all.length > page.length}</IsTruncated></ListPartsResult>`);
  }

  private listUploads(bucket: string, prefix: string): EmulatorResponse {
    const ups = this.uploads().filter((u) => u.bucket === bucket && u.key.startsWith(prefix));
    return this.xml(`<ListMultipartUploadsResult><Bucket>${xmlEscape(bucket)}</Bucket><Encoding-Type></Encoding-Type><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>`
      + `<NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated><Prefix>${xmlEscape(prefix)}</Prefix><Delimiter></Delimiter>`
      + `${ups.map((u) => `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.uploadId}</UploadId><StorageClass>STANDARD</StorageClass><Initiated>${new Date(u.initiated).toISOString()}</Initiated></Upload>`).join('')}</ListMultipartUploadsResult>`);
  }

  private listObjectsXml(bucket: string, prefix: string): EmulatorResponse {
    const objs = this.listObjects(bucket).filter((o) => o.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : 1));
    return this.xml(`<ListBucketResult><Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`
      + `${objs.map((o) => `<Contents><Key>${xmlEscape(o.key)}</Key><LastModified>${new Date(o.lastModified).toISOString()}</LastModified><ETag>${xmlEscape(o.etag)}</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`).join('')}</ListBucketResult>`);
  }

  // ------------------------------------------------------------------------------------------------------ helpers

  private checkMd5(req: EmulatorRequest, body: Buffer): void {
    const given = req.headers['content-md5'];
    if (given === undefined) return;
    if (Buffer.from(given, 'base64').length !== 16) throw new CosError(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.');
    if (md5(body).toString('base64') !== given) throw new CosError(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }

  private exists(): CosError { return new CosError(409, 'FileAlreadyExists', 'The object you specified already exists and can not be overwritten.'); }

  private xml(inner: string): EmulatorResponse;
  private xml(crc64: string, inner: string): EmulatorResponse;
  private xml(a: string, b?: string): EmulatorResponse {
    const body = XML_HEAD + (b ?? a);
    const crc: Record<string, string> = b === undefined ? {} : { 'x-cos-hash-crc64ecma': a };
    return { status: 200, headers: { 'content-type': 'application/xml', ...crc, 'content-length': String(Buffer.byteLength(body)) }, body };
  }

  private errorResponse(e: CosError, req: EmulatorRequest, requestId: string): EmulatorResponse {
    const resource = `${this.bucketFor(req.url)}.cos.${this.region}.myqcloud.com${req.url.pathname}`;
    const body = `${XML_HEAD}<Error>\n\t<Code>${e.code}</Code>\n\t<Message>${xmlEscape(e.message)}</Message>\n\t<Resource>${xmlEscape(resource)}</Resource>\n`
      + `\t<RequestId>${requestId}</RequestId>\n\t<TraceId>${Buffer.from(`trace-${requestId}`).toString('base64')}</TraceId>\n</Error>`;
    return { status: e.status, headers: { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) }, body };
  }

  private requestId(): string {
    return Buffer.from(createHash('sha1').update(`cos-req-${++this.seq}`).digest().subarray(0, 24)).toString('base64').replace(/[+/=]/g, '');
  }
}
