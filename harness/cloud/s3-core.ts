// The S3-family core shared by the S3, KS3 and OBS emulators: buckets and objects in memory, the multipart upload
// state machine (Create / UploadPart / ListParts / Complete / Abort / ListMultipartUploads), plain object calls (Put,
// Get with Range, Head, Delete, DeleteObjects, ListObjects v1/v2), S3's XML answers and <Error> envelope with the
// right HTTP statuses, and an inspection API for tests. Each provider subclass supplies its authentication
// (SigV4, V2 query/header), its header dialect (x-amz- / x-obs-, request-id names, XML namespace) and extras
// (OBS's completion callback). Rules and messages: cloud-endpoints.md §0.3, §1.3-§1.5, §3.3.
import { createHash, randomBytes } from 'node:crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { readBody, type EmulatorRequest, type EmulatorResponse, type ProviderEmulator } from './mount.js';
import { checkBody, CHECKSUM_ALGORITHMS, ALG_LABEL, type ChecksumAlgorithm } from './s3-body.js';
import { safeDecode, splitRawQuery, type AwsCredential, type ChunkSigning, type S3ErrorSpec } from './s3-sigv4.js';

export type { AwsCredential, S3ErrorSpec } from './s3-sigv4.js';

export const MiB = 1024 * 1024;

export interface S3Faults {
  /** CompleteMultipartUpload answers 200 with an embedded <Error> (AWS's "200 with error"); the upload stays open. */
  completeEmbeddedError?: boolean;
  /** UploadPart answers 200 without an ETag header. */
  omitPartEtag?: boolean;
  /** A repeated CompleteMultipartUpload of a completed upload answers 200 with the same result (else NoSuchUpload). */
  repeatCompleteSucceeds?: boolean;
}

export interface S3FamilyOptions {
  /** Keys the emulator knows. Default: one pair, see DEFAULT_CREDENTIAL. */
  credentials?: AwsCredential | AwsCredential[];
  /** Region for SigV4; undefined accepts whatever region the credential scope names. */
  region?: string;
  /** Buckets that exist from the start. */
  buckets?: string[];
  /** Create a bucket on first use instead of answering NoSuchBucket. Default false. */
  autoCreateBuckets?: boolean;
  /** Clock, milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  /** Minimum size of every part but the last, checked at completion. Default: the provider's (S3/KS3 5 MiB, OBS 100 KiB). */
  minPartSize?: number;
  /** Enforce minPartSize (default true); tests that shrink Cloudreve's chunk size must opt out explicitly. */
  enforceMinPartSize?: boolean;
  /** RegExps matched against the host name (no port); group 1 is the bucket of a virtual-hosted request. */
  virtualHosts?: RegExp[];
  /** Accept unsigned requests (default false: 403 AccessDenied). */
  allowAnonymous?: boolean;
  faults?: S3Faults;
  /** Called after authentication with the operation name; a response returned here is sent instead. */
  intercept?: (operation: string, req: EmulatorRequest) => EmulatorResponse | undefined | Promise<EmulatorResponse | undefined>;
}

export const DEFAULT_CREDENTIAL: AwsCredential = { accessKeyId: 'CRCONFORMANCEAK', secretAccessKey: 'crconformance/secret+key==' };

export interface PartInfo { partNumber: number; size: number; etag: string; lastModified: Date; checksums: Partial<Record<ChecksumAlgorithm, string>> }
export interface UploadInfo { bucket: string; key: string; uploadId: string; initiated: Date; contentType: string; parts: PartInfo[] }
export interface ObjectInfo { bucket: string; key: string; size: number; etag: string; contentType: string; lastModified: Date; partCount?: number;
  metadata: Record<string, string> }
export interface RequestRecord { method: string; url: string; operation: string; status: number; code?: string; auth?: string; flavor?: string }

interface StoredPart extends PartInfo { md5: Buffer; data: Buffer }
interface StoredUpload { bucket: string; key: string; uploadId: string; initiated: Date; contentType: string; metadata: Record<string, string>;
  checksumAlgorithm?: string; parts: Map<number, StoredPart> }
interface StoredObject extends ObjectInfo { chunks: Buffer[] }
interface Bucket { name: string; created: Date; objects: Map<string, StoredObject>; cors?: string }

/** Authentication outcome of a provider subclass. `flavor` selects the response dialect (e.g. "obs" vs "obs-v2"). */
export type AuthOutcome =
  | { ok: true; anonymous?: boolean; accessKeyId?: string; kind: string; flavor?: string; payloadHash?: string; chunkSigning?: ChunkSigning }
  | { ok: false; error: S3ErrorSpec; flavor?: string };

export interface Dialect {
  xmlns: string;
  requestIdHeader: string;
  id2Header: string;
  server: string;
  /** Prefix of user metadata headers, e.g. "x-amz-meta-". */
  metaPrefix: string;
  /** Bodies sent with `Transfer-Encoding: chunked` and no Content-Length are taken (AWS answers 411). */
  acceptsChunkedBodies?: boolean;
}

export const S3_DIALECT: Dialect = { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/', requestIdHeader: 'x-amz-request-id',
  id2Header: 'x-amz-id-2', server: 'AmazonS3', metaPrefix: 'x-amz-meta-' };

/** Everything a handler needs to know about one request. */
export interface S3Context {
  req: EmulatorRequest;
  method: string;
  host: string;
  hostname: string;
  bucket?: string;
  key?: string;
  virtualHosted: boolean;
  /** Raw (percent-encoded) path as received. */
  rawPath: string;
  /** "/bucket/key-as-sent": the canonical path of V2 signatures. */
  v2Path: string;
  query: [string, string][];
  requestId: string;
  auth?: Extract<AuthOutcome, { ok: true }>;
  flavor?: string;
  operation: string;
}

export const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
const el = (name: string, text: string | number | boolean) => `<${name}>${xmlEscape(String(text))}</${name}>`;
const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
const isoMs = (d: Date) => d.toISOString();
const quote = (hex: string) => `"${hex}"`;
const unquote = (s: string) => s.trim().replace(/^"+|"+$/g, '').replace(/^&quot;|&quot;$/g, '');
const isIp = (h: string) => /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(':') || h === 'localhost';

const XML_NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * Replaces XML's references in one pass (XML 1.0 §4.1, §4.6): the five predefined entities and the character
 * references &#N; / &#xH;. Clients escape text differently: Go's encoding/xml (aws-sdk-go v1's CompleteMultipartUpload
 * and DeleteObjects bodies) writes `"` as &#34;, `'` as &#39; and newlines as &#xA;, so an ETag arrives as
 * &#34;<md5>&#34;. A reference to a code point XML does not allow is left as written.
 */
export function decodeXmlText(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);/g, (ref, body: string) => {
    if (body[0] !== '#') return XML_NAMED[body] ?? ref;
    const cp = body[1] === 'x' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    const allowed = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd)
      || (cp >= 0x10000 && cp <= 0x10ffff);
    return allowed ? String.fromCodePoint(cp) : ref;
  });
}

// fast-xml-parser's own entity processing leaves character references (&#34;) undecoded unless its HTML entity table is
// switched on too; decoding is done here instead, once, by decodeXmlText.
const xmlParser = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: true,
  processEntities: false, tagValueProcessor: (_name, value) => decodeXmlText(value),
  isArray: (name) => name === 'Part' || name === 'Object' });

export abstract class S3FamilyEmulator implements ProviderEmulator {
  abstract readonly provider: string;
  protected readonly opts: S3FamilyOptions;
  protected readonly credentials: AwsCredential[];
  protected readonly buckets = new Map<string, Bucket>();
  protected readonly uploads = new Map<string, StoredUpload>();
  private readonly completed = new Map<string, { bucket: string; key: string; body: string; headers: Record<string, string> }>();
  private readonly log: RequestRecord[] = [];
  protected readonly owner = { id: createHash('sha256').update('cloudreve-conformance').digest('hex'), displayName: 'conformance' };

  protected constructor(opts: S3FamilyOptions, protected readonly defaults: { minPartSize: number; virtualHosts: RegExp[] }) {
    this.opts = opts;
    const c = opts.credentials ?? DEFAULT_CREDENTIAL;
    this.credentials = Array.isArray(c) ? c : [c];
    for (const b of opts.buckets ?? []) this.createBucket(b);
  }

  // ---- provider hooks ----------------------------------------------------------------------------------------------

  /** Authenticates the request (before its body is read). */
  protected abstract authenticate(ctx: S3Context): Promise<AuthOutcome>;

  /** Header/XML dialect of the answer. */
  protected dialect(_ctx: S3Context): Dialect { return S3_DIALECT; }

  /** A provider-specific request handled before routing (e.g. OBS's HEAD ?apiversion), unauthenticated. */
  protected async preRoute(_ctx: S3Context): Promise<EmulatorResponse | undefined> { return undefined; }

  /** Whether this write must not replace an existing object (S3: If-None-Match: *). */
  protected forbidsOverwrite(ctx: S3Context): { forbid: boolean; error?: S3ErrorSpec } {
    if ((ctx.req.headers['if-none-match'] ?? '').trim() === '*') {
      return { forbid: true, error: { status: 412, code: 'PreconditionFailed', message: 'At least one of the pre-conditions you specified did not hold',
        extra: [['Condition', 'If-None-Match']] } };
    }
    return { forbid: false };
  }

  /** Checks a CompleteMultipartUpload request once its parts are validated, before the object is assembled. */
  protected validateComplete(_ctx: S3Context): S3ErrorSpec | undefined { return undefined; }

  /** Runs after a successful CompleteMultipartUpload; may replace the answer (OBS callback). */
  protected async afterComplete(_ctx: S3Context, _obj: ObjectInfo, response: EmulatorResponse): Promise<EmulatorResponse> { return response; }

  // ---- helpers for subclasses ----------------------------------------------------------------------------------------

  protected now(): number { return this.opts.now?.() ?? Date.now(); }

  protected lookup = (accessKeyId: string): AwsCredential | undefined => this.credentials.find((c) => c.accessKeyId === accessKeyId);

  protected get minPartSize(): number { return this.opts.minPartSize ?? this.defaults.minPartSize; }

  protected baseHeaders(ctx: S3Context, extra?: Record<string, string>): Record<string, string> {
    const d = this.dialect(ctx);
    const h: Record<string, string> = { [d.requestIdHeader]: ctx.requestId, [d.id2Header]: randomBytes(24).toString('base64'),
      date: new Date(this.now()).toUTCString(), server: d.server };
    const origin = ctx.req.headers.origin;
    if (origin) {
      h['access-control-allow-origin'] = origin;
      h['access-control-expose-headers'] = 'ETag';
      h.vary = 'Origin';
    }
    return { ...h, ...extra };
  }

  protected xmlResponse(ctx: S3Context, status: number, xml: string, extra?: Record<string, string>): EmulatorResponse {
    const body = Buffer.from(XML_DECL + xml, 'utf8');
    return { status, headers: this.baseHeaders(ctx, { 'content-type': 'application/xml', 'content-length': String(body.length), ...extra }),
      body: ctx.method === 'HEAD' ? undefined : body };
  }

  protected empty(ctx: S3Context, status: number, extra?: Record<string, string>): EmulatorResponse {
    return { status, headers: this.baseHeaders(ctx, { 'content-length': '0', ...extra }) };
  }

  /** S3's error envelope: <Error><Code/><Message/>[extra]<RequestId/><HostId/></Error>; HEAD answers carry no body. */
  protected errorResponse(ctx: S3Context, e: S3ErrorSpec): EmulatorResponse {
    const extra = (e.extra ?? []).map(([k, v]) => el(k, v)).join('');
    const xml = `<Error>${el('Code', e.code)}${el('Message', e.message)}${extra}${el('RequestId', ctx.requestId)}${el('HostId', randomBytes(24).toString('base64'))}</Error>`;
    const r = this.xmlResponse(ctx, e.status, xml);
    (r as { code?: string }).code = e.code;
    if (ctx.method === 'HEAD') r.headers!['content-length'] = '0';
    return r;
  }

  protected error(ctx: S3Context, status: number, code: string, message: string, extra?: [string, string][]): EmulatorResponse {
    return this.errorResponse(ctx, { status, code, message, extra });
  }

  // ---- inspection API (tests) ---------------------------------------------------------------------------------------

  createBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, { name, created: new Date(this.now()), objects: new Map() });
  }

  bucketNames(): string[] { return [...this.buckets.keys()]; }

  /** Open multipart uploads (optionally of one bucket), oldest first. */
  listUploads(bucket?: string): UploadInfo[] {
    return [...this.uploads.values()].filter((u) => !bucket || u.bucket === bucket).map((u) => ({ bucket: u.bucket, key: u.key,
      uploadId: u.uploadId, initiated: u.initiated, contentType: u.contentType, parts: this.partInfos(u) }));
  }

  /** Parts uploaded so far to an open upload (undefined if the upload is not open). */
  listParts(uploadId: string): PartInfo[] | undefined {
    const u = this.uploads.get(uploadId);
    return u ? this.partInfos(u) : undefined;
  }

  listObjects(bucket?: string): ObjectInfo[] {
    const out: ObjectInfo[] = [];
    for (const b of this.buckets.values()) {
      if (bucket && b.name !== bucket) continue;
      for (const o of [...b.objects.values()].sort((x, y) => (x.key < y.key ? -1 : 1))) out.push(this.objectInfo(o));
    }
    return out;
  }

  /** The bytes of an object (concatenated here, for tests), or undefined. */
  objectBytes(bucket: string, key: string): Buffer | undefined {
    const o = this.buckets.get(bucket)?.objects.get(key);
    return o ? Buffer.concat(o.chunks) : undefined;
  }

  /** Seeds an object directly (no HTTP). */
  putObjectDirect(bucket: string, key: string, data: Buffer | string, contentType = 'application/octet-stream'): ObjectInfo {
    this.createBucket(bucket);
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const o: StoredObject = { bucket, key, size: buf.length, etag: quote(createHash('md5').update(buf).digest('hex')), contentType,
      lastModified: new Date(this.now()), metadata: {}, chunks: [buf] };
    this.buckets.get(bucket)!.objects.set(key, o);
    return this.objectInfo(o);
  }

  /** Opens a multipart upload directly (no HTTP), e.g. to replay URLs signed elsewhere for a known upload id. */
  createUploadDirect(bucket: string, key: string, o: { uploadId?: string; contentType?: string } = {}): string {
    this.createBucket(bucket);
    const uploadId = o.uploadId ?? randomBytes(30).toString('base64url');
    this.uploads.set(uploadId, { bucket, key, uploadId, initiated: new Date(this.now()), contentType: o.contentType ?? 'binary/octet-stream',
      metadata: {}, parts: new Map() });
    return uploadId;
  }

  /** Every request handled so far: method, URL, operation, status and error code. */
  requests(): RequestRecord[] { return [...this.log]; }

  /** Drops all objects, uploads and the request log (buckets stay). */
  reset(): void {
    for (const b of this.buckets.values()) b.objects.clear();
    this.uploads.clear();
    this.completed.clear();
    this.log.length = 0;
  }

  private partInfos(u: StoredUpload): PartInfo[] {
    return [...u.parts.values()].sort((a, b) => a.partNumber - b.partNumber)
      .map(({ partNumber, size, etag, lastModified, checksums }) => ({ partNumber, size, etag, lastModified, checksums }));
  }

  private objectInfo(o: StoredObject): ObjectInfo {
    const { bucket, key, size, etag, contentType, lastModified, partCount, metadata } = o;
    return { bucket, key, size, etag, contentType, lastModified, partCount, metadata: { ...metadata } };
  }

  // ---- request handling -----------------------------------------------------------------------------------------------

  async handle(req: EmulatorRequest): Promise<EmulatorResponse> {
    const ctx = this.context(req);
    let res: EmulatorResponse;
    try {
      res = await this.dispatch(ctx);
    } catch (e) {
      res = this.error(ctx, 500, 'InternalError', `We encountered an internal error. Please try again. (${(e as Error).message})`);
    }
    this.log.push({ method: ctx.method, url: req.url.toString(), operation: ctx.operation, status: res.status,
      code: (res as { code?: string }).code, auth: ctx.auth?.kind, flavor: ctx.flavor });
    delete (res as { code?: string }).code;
    return res;
  }

  private context(req: EmulatorRequest): S3Context {
    const host = req.headers.host ?? req.url.host;
    const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
    const rawPath = req.url.pathname || '/';
    const query = splitRawQuery(req.url.search);
    let bucket: string | undefined;
    let rawKey = '';
    let virtualHosted = false;
    if (!isIp(hostname)) {
      for (const re of this.opts.virtualHosts ?? this.defaults.virtualHosts) {
        const m = re.exec(hostname);
        if (m?.[1]) { bucket = m[1]; break; }
      }
      if (!bucket) for (const b of this.buckets.keys()) if (hostname.startsWith(b + '.')) { bucket = b; break; }
      if (bucket) { virtualHosted = true; rawKey = rawPath.replace(/^\//, ''); }
    }
    if (!virtualHosted) {
      const m = /^\/([^/]+)(?:\/(.*))?$/s.exec(rawPath);
      if (m) { bucket = safeDecode(m[1]!); rawKey = m[2] ?? ''; }
    }
    const key = rawKey ? safeDecode(rawKey) : undefined;
    const v2Path = virtualHosted ? `/${bucket}${rawPath}` : rawPath;
    return { req, method: req.method.toUpperCase(), host, hostname, bucket, key, virtualHosted, rawPath, v2Path, query,
      requestId: randomBytes(8).toString('hex').toUpperCase(), operation: 'Unknown' };
  }

  protected q(ctx: S3Context, name: string): string | undefined { return ctx.query.find(([k]) => k === name)?.[1]; }
  protected has(ctx: S3Context, name: string): boolean { return ctx.query.some(([k]) => k === name); }

  private operationOf(ctx: S3Context): string {
    const { method, bucket, key } = ctx;
    const has = (n: string) => this.has(ctx, n);
    if (method === 'OPTIONS') return 'PreflightRequest';
    if (!bucket) return method === 'GET' ? 'ListBuckets' : 'Unsupported';
    if (key === undefined) {
      switch (method) {
        case 'PUT': return has('cors') ? 'PutBucketCors' : ctx.query.length === 0 ? 'CreateBucket' : 'Unsupported';
        case 'GET': return has('uploads') ? 'ListMultipartUploads' : has('location') ? 'GetBucketLocation' : has('cors') ? 'GetBucketCors'
          : this.q(ctx, 'list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
        case 'HEAD': return 'HeadBucket';
        case 'DELETE': return has('cors') ? 'DeleteBucketCors' : 'DeleteBucket';
        case 'POST': return has('delete') ? 'DeleteObjects' : 'Unsupported';
        default: return 'Unsupported';
      }
    }
    switch (method) {
      case 'PUT':
        if (ctx.req.headers['x-amz-copy-source'] || ctx.req.headers['x-obs-copy-source']) return has('uploadId') ? 'UploadPartCopy' : 'CopyObject';
        return has('uploadId') || has('partNumber') ? 'UploadPart' : 'PutObject';
      case 'GET': return has('uploadId') ? 'ListParts' : 'GetObject';
      case 'HEAD': return 'HeadObject';
      case 'DELETE': return has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
      case 'POST': return has('uploads') ? 'CreateMultipartUpload' : has('uploadId') ? 'CompleteMultipartUpload' : 'Unsupported';
      default: return 'Unsupported';
    }
  }

  private async dispatch(ctx: S3Context): Promise<EmulatorResponse> {
    ctx.operation = this.operationOf(ctx);
    if (ctx.operation === 'PreflightRequest') return this.preflight(ctx);
    const pre = await this.preRoute(ctx);
    if (pre) return pre;
    const auth = await this.authenticate(ctx);
    ctx.flavor = auth.flavor;
    if (!auth.ok) return this.errorResponse(ctx, auth.error);
    if (auth.anonymous && !this.opts.allowAnonymous) return this.error(ctx, 403, 'AccessDenied', 'Access Denied');
    ctx.auth = auth;
    const intercepted = await this.opts.intercept?.(ctx.operation, ctx.req);
    if (intercepted) return intercepted;
    if (ctx.operation === 'ListBuckets') return this.listBuckets(ctx);
    if (ctx.operation === 'Unsupported' || ctx.operation === 'CopyObject' || ctx.operation === 'UploadPartCopy') {
      return this.error(ctx, 501, 'NotImplemented', 'A header you provided implies functionality that is not implemented');
    }
    const bucketName = ctx.bucket!;
    if (ctx.operation === 'CreateBucket') return this.createBucketOp(ctx, bucketName);
    let bucket = this.buckets.get(bucketName);
    if (!bucket && this.opts.autoCreateBuckets) { this.createBucket(bucketName); bucket = this.buckets.get(bucketName); }
    if (!bucket) return this.error(ctx, 404, 'NoSuchBucket', 'The specified bucket does not exist', [['BucketName', bucketName]]);
    switch (ctx.operation) {
      case 'HeadBucket': return this.empty(ctx, 200, { 'x-amz-bucket-region': this.opts.region ?? 'us-east-1' });
      case 'DeleteBucket':
        if (bucket.objects.size || [...this.uploads.values()].some((u) => u.bucket === bucket!.name)) {
          return this.error(ctx, 409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', [['BucketName', bucket.name]]);
        }
        this.buckets.delete(bucket.name);
        return this.empty(ctx, 204);
      case 'GetBucketLocation': return this.xmlResponse(ctx, 200, `<LocationConstraint xmlns="${this.dialect(ctx).xmlns}">${xmlEscape(this.opts.region ?? '')}</LocationConstraint>`);
      case 'PutBucketCors': bucket.cors = (await readBody(ctx.req.body)).toString('utf8'); return this.empty(ctx, 200);
      case 'GetBucketCors':
        if (!bucket.cors) return this.error(ctx, 404, 'NoSuchCORSConfiguration', 'The CORS configuration does not exist', [['BucketName', bucket.name]]);
        return { status: 200, headers: this.baseHeaders(ctx, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(bucket.cors)) }), body: bucket.cors };
      case 'DeleteBucketCors': delete bucket.cors; return this.empty(ctx, 204);
      case 'ListMultipartUploads': return this.listMultipartUploads(ctx, bucket);
      case 'ListObjects': case 'ListObjectsV2': return this.listObjectsOp(ctx, bucket, ctx.operation === 'ListObjectsV2');
      case 'DeleteObjects': return this.deleteObjects(ctx, bucket);
      case 'PutObject': return this.putObject(ctx, bucket);
      case 'GetObject': case 'HeadObject': return this.getObject(ctx, bucket);
      case 'DeleteObject': bucket.objects.delete(ctx.key!); return this.empty(ctx, 204);
      case 'CreateMultipartUpload': return this.createUpload(ctx, bucket);
      case 'UploadPart': return this.uploadPart(ctx, bucket);
      case 'ListParts': return this.listPartsOp(ctx, bucket);
      case 'CompleteMultipartUpload': return this.completeUpload(ctx, bucket);
      case 'AbortMultipartUpload': return this.abortUpload(ctx, bucket);
      default: return this.error(ctx, 501, 'NotImplemented', 'A header you provided implies functionality that is not implemented');
    }
  }

  private preflight(ctx: S3Context): EmulatorResponse {
    const origin = ctx.req.headers.origin;
    const method = ctx.req.headers['access-control-request-method'];
    if (!origin || !method) return this.error(ctx, 400, 'BadRequest', 'Insufficient information. Origin request header needed.');
    return this.empty(ctx, 200, { 'access-control-allow-origin': origin, 'access-control-allow-methods': 'GET, POST, PUT, DELETE, HEAD',
      'access-control-allow-headers': ctx.req.headers['access-control-request-headers'] ?? '*', 'access-control-max-age': '3600',
      'access-control-expose-headers': 'ETag', vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method' });
  }

  private listBuckets(ctx: S3Context): EmulatorResponse {
    const items = [...this.buckets.values()].map((b) => `<Bucket>${el('Name', b.name)}${el('CreationDate', isoMs(b.created))}</Bucket>`).join('');
    return this.xmlResponse(ctx, 200, `<ListAllMyBucketsResult xmlns="${this.dialect(ctx).xmlns}"><Owner>${el('ID', this.owner.id)}${el('DisplayName', this.owner.displayName)}</Owner><Buckets>${items}</Buckets></ListAllMyBucketsResult>`);
  }

  private createBucketOp(ctx: S3Context, name: string): EmulatorResponse {
    if (this.buckets.has(name)) {
      return this.error(ctx, 409, 'BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', [['BucketName', name]]);
    }
    this.createBucket(name);
    return this.empty(ctx, 200, { location: `/${name}` });
  }

  private metadataOf(ctx: S3Context): Record<string, string> {
    const prefix = this.dialect(ctx).metaPrefix;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.req.headers)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
    return out;
  }

  private metaHeaders(ctx: S3Context, meta: Record<string, string>): Record<string, string> {
    const prefix = this.dialect(ctx).metaPrefix;
    return Object.fromEntries(Object.entries(meta).map(([k, v]) => [prefix + k, v]));
  }

  private async readChecked(ctx: S3Context): Promise<{ ok: true; data: Buffer; checksums: Partial<Record<ChecksumAlgorithm, string>> } | { ok: false; res: EmulatorResponse }> {
    const h = ctx.req.headers;
    const chunked = (h['content-encoding'] ?? '').includes('aws-chunked') || (h['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
    if (h['content-length'] === undefined && !chunked && (h['transfer-encoding'] ?? '').includes('chunked') && !this.dialect(ctx).acceptsChunkedBodies) {
      return { ok: false, res: this.error(ctx, 411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.') };
    }
    const raw = await readBody(ctx.req.body);
    const r = await checkBody(raw, { headers: h, query: ctx.query, payloadHash: ctx.auth?.payloadHash, chunkSigning: ctx.auth?.chunkSigning });
    if (!r.ok) return { ok: false, res: this.errorResponse(ctx, r.error) };
    return { ok: true, data: r.body.data, checksums: r.body.checksums };
  }

  private checksumHeaders(checksums: Partial<Record<ChecksumAlgorithm, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(checksums).map(([a, v]) => [`x-amz-checksum-${a}`, v!]));
  }

  // ---- objects ------------------------------------------------------------------------------------------------------

  private async putObject(ctx: S3Context, bucket: Bucket): Promise<EmulatorResponse> {
    const body = await this.readChecked(ctx);
    if (!body.ok) return body.res;
    const fo = this.forbidsOverwrite(ctx);
    if (fo.forbid && bucket.objects.has(ctx.key!)) return this.errorResponse(ctx, fo.error!);
    const etag = quote(createHash('md5').update(body.data).digest('hex'));
    bucket.objects.set(ctx.key!, { bucket: bucket.name, key: ctx.key!, size: body.data.length, etag,
      contentType: ctx.req.headers['content-type'] ?? 'binary/octet-stream', lastModified: new Date(this.now()),
      metadata: this.metadataOf(ctx), chunks: [body.data] });
    return this.empty(ctx, 200, { etag, ...this.checksumHeaders(body.checksums) });
  }

  private getObject(ctx: S3Context, bucket: Bucket): EmulatorResponse {
    const o = bucket.objects.get(ctx.key!);
    if (!o) return this.error(ctx, 404, 'NoSuchKey', 'The specified key does not exist.', [['Key', ctx.key!]]);
    const h = ctx.req.headers;
    const etagHex = unquote(o.etag);
    const matches = (v: string) => v.split(',').map((s) => unquote(s)).some((s) => s === '*' || s === etagHex);
    if (h['if-match'] !== undefined && !matches(h['if-match'])) {
      return this.error(ctx, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', [['Condition', 'If-Match']]);
    }
    if (h['if-none-match'] !== undefined && matches(h['if-none-match'])) {
      return { status: 304, headers: this.baseHeaders(ctx, { etag: o.etag, 'last-modified': o.lastModified.toUTCString() }) };
    }
    const headers: Record<string, string> = { etag: o.etag, 'last-modified': o.lastModified.toUTCString(), 'content-type': o.contentType,
      'accept-ranges': 'bytes', ...this.metaHeaders(ctx, o.metadata) };
    // Only answered to a request naming a partNumber (HeadObject/GetObject API reference: PartsCount).
    if (o.partCount && this.q(ctx, 'partNumber') !== undefined) headers['x-amz-mp-parts-count'] = String(o.partCount);
    const overrides: Record<string, string> = { 'response-content-type': 'content-type', 'response-content-language': 'content-language',
      'response-expires': 'expires', 'response-cache-control': 'cache-control', 'response-content-disposition': 'content-disposition',
      'response-content-encoding': 'content-encoding' };
    for (const [param, header] of Object.entries(overrides)) { const v = this.q(ctx, param); if (v !== undefined) headers[header] = v; }
    let start = 0;
    let end = o.size - 1;
    let status = 200;
    const range = h.range;
    if (range && o.size >= 0) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (m && (m[1] !== '' || m[2] !== '')) {
        if (m[1] === '') { const n = Number(m[2]); start = Math.max(0, o.size - n); }
        else { start = Number(m[1]); if (m[2] !== '') end = Math.min(Number(m[2]), o.size - 1); }
        if (start >= o.size || (m[1] === '' && Number(m[2]) === 0) || start > end) {
          return this.error(ctx, 416, 'InvalidRange', 'The requested range is not satisfiable', [['RangeRequested', range], ['ActualObjectSize', String(o.size)]]);
        }
        status = 206;
        headers['content-range'] = `bytes ${start}-${end}/${o.size}`;
      }
    }
    const length = Math.max(0, end - start + 1);
    headers['content-length'] = String(o.size === 0 ? 0 : length);
    const res: EmulatorResponse = { status, headers: this.baseHeaders(ctx, headers) };
    if (ctx.method === 'HEAD' || o.size === 0) return res;
    const chunks = o.chunks;
    res.stream = (async function* () {
      let offset = 0;
      for (const c of chunks) {
        const cStart = offset;
        const cEnd = offset + c.length - 1;
        offset += c.length;
        if (cEnd < start || cStart > end) continue;
        yield c.subarray(Math.max(0, start - cStart), Math.min(c.length, end - cStart + 1));
      }
    })();
    return res;
  }

  private async deleteObjects(ctx: S3Context, bucket: Bucket): Promise<EmulatorResponse> {
    const text = (await readBody(ctx.req.body)).toString('utf8');
    if (XMLValidator.validate(text) !== true) return this.malformed(ctx);
    const doc = xmlParser.parse(text) as { Delete?: { Quiet?: string; Object?: { Key?: string }[] } };
    const objects = doc.Delete?.Object ?? [];
    if (!doc.Delete || !objects.length) return this.malformed(ctx);
    const quiet = doc.Delete.Quiet === 'true';
    const deleted = objects.map((o) => String(o.Key ?? '')).map((k) => { bucket.objects.delete(k); return k; });
    const items = quiet ? '' : deleted.map((k) => `<Deleted>${el('Key', k)}</Deleted>`).join('');
    return this.xmlResponse(ctx, 200, `<DeleteResult xmlns="${this.dialect(ctx).xmlns}">${items}</DeleteResult>`);
  }

  private listObjectsOp(ctx: S3Context, bucket: Bucket, v2: boolean): EmulatorResponse {
    const prefix = this.q(ctx, 'prefix') ?? '';
    const delimiter = this.q(ctx, 'delimiter') ?? '';
    const maxKeysRaw = this.q(ctx, 'max-keys');
    const maxKeys = maxKeysRaw === undefined ? 1000 : Number(maxKeysRaw);
    if (!Number.isInteger(maxKeys) || maxKeys < 0) return this.error(ctx, 400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range', [['ArgumentName', 'max-keys'], ['ArgumentValue', String(maxKeysRaw)]]);
    const token = this.q(ctx, 'continuation-token');
    const marker = v2 ? (token ? Buffer.from(token, 'base64url').toString('utf8') : this.q(ctx, 'start-after') ?? '') : this.q(ctx, 'marker') ?? '';
    const urlEncode = this.q(ctx, 'encoding-type') === 'url';
    const enc = (s: string) => (urlEncode ? encodeURIComponent(s) : s);
    const keys = [...bucket.objects.keys()].filter((k) => k.startsWith(prefix) && k > marker).sort();
    const contents: StoredObject[] = [];
    const prefixes: string[] = [];
    let truncated = false;
    let last = '';
    for (const k of keys) {
      let entry: { prefix?: string; obj?: StoredObject };
      if (delimiter) {
        const i = k.indexOf(delimiter, prefix.length);
        entry = i >= 0 ? { prefix: k.slice(0, i + delimiter.length) } : { obj: bucket.objects.get(k)! };
      } else entry = { obj: bucket.objects.get(k)! };
      if (entry.prefix !== undefined && prefixes.includes(entry.prefix)) continue;
      if (entry.prefix !== undefined && marker.startsWith(entry.prefix)) continue;
      if (contents.length + prefixes.length >= maxKeys) { truncated = true; break; }
      if (entry.prefix !== undefined) { prefixes.push(entry.prefix); last = entry.prefix; } else { contents.push(entry.obj!); last = k; }
    }
    const c = contents.map((o) => `<Contents>${el('Key', enc(o.key))}${el('LastModified', isoMs(o.lastModified))}${el('ETag', o.etag)}${el('Size', o.size)}${el('StorageClass', 'STANDARD')}${v2 && this.q(ctx, 'fetch-owner') !== 'true' ? '' : `<Owner>${el('ID', this.owner.id)}${el('DisplayName', this.owner.displayName)}</Owner>`}</Contents>`).join('');
    const p = prefixes.map((x) => `<CommonPrefixes>${el('Prefix', enc(x))}</CommonPrefixes>`).join('');
    const common = `${el('Name', bucket.name)}${el('Prefix', enc(prefix))}${delimiter ? el('Delimiter', enc(delimiter)) : ''}${el('MaxKeys', maxKeys)}${urlEncode ? el('EncodingType', 'url') : ''}${el('IsTruncated', truncated)}`;
    if (v2) {
      const next = truncated ? el('NextContinuationToken', Buffer.from(last).toString('base64url')) : '';
      const tok = token !== undefined ? el('ContinuationToken', token) : '';
      const sa = this.q(ctx, 'start-after') !== undefined ? el('StartAfter', enc(this.q(ctx, 'start-after')!)) : '';
      return this.xmlResponse(ctx, 200, `<ListBucketResult xmlns="${this.dialect(ctx).xmlns}">${common}${el('KeyCount', contents.length + prefixes.length)}${tok}${next}${sa}${c}${p}</ListBucketResult>`);
    }
    const next = truncated && delimiter ? el('NextMarker', enc(last)) : '';
    return this.xmlResponse(ctx, 200, `<ListBucketResult xmlns="${this.dialect(ctx).xmlns}">${common.replace(el('MaxKeys', maxKeys), `${el('Marker', enc(marker))}${el('MaxKeys', maxKeys)}`)}${next}${c}${p}</ListBucketResult>`);
  }

  // ---- multipart ------------------------------------------------------------------------------------------------------

  private noSuchUpload(ctx: S3Context, uploadId: string): EmulatorResponse {
    return this.error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      [['UploadId', uploadId]]);
  }

  private malformed(ctx: S3Context): EmulatorResponse {
    return this.error(ctx, 400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  }

  private openUpload(ctx: S3Context, bucket: Bucket): StoredUpload | undefined {
    const u = this.uploads.get(this.q(ctx, 'uploadId') ?? '');
    return u && u.bucket === bucket.name && u.key === ctx.key ? u : undefined;
  }

  private createUpload(ctx: S3Context, bucket: Bucket): EmulatorResponse {
    const uploadId = randomBytes(30).toString('base64url');
    const alg = ctx.req.headers['x-amz-checksum-algorithm']?.toLowerCase();
    this.uploads.set(uploadId, { bucket: bucket.name, key: ctx.key!, uploadId, initiated: new Date(this.now()),
      contentType: ctx.req.headers['content-type'] ?? 'binary/octet-stream', metadata: this.metadataOf(ctx), checksumAlgorithm: alg, parts: new Map() });
    return this.xmlResponse(ctx, 200, `<InitiateMultipartUploadResult xmlns="${this.dialect(ctx).xmlns}">${el('Bucket', bucket.name)}${el('Key', ctx.key!)}${el('UploadId', uploadId)}</InitiateMultipartUploadResult>`,
      alg ? { 'x-amz-checksum-algorithm': alg.toUpperCase() } : undefined);
  }

  private async uploadPart(ctx: S3Context, bucket: Bucket): Promise<EmulatorResponse> {
    const uploadId = this.q(ctx, 'uploadId') ?? '';
    const u = this.openUpload(ctx, bucket);
    if (!u) return this.noSuchUpload(ctx, uploadId);
    const pnRaw = this.q(ctx, 'partNumber') ?? '';
    const pn = /^\d+$/.test(pnRaw) ? Number(pnRaw) : NaN;
    if (!(pn >= 1 && pn <= 10000)) {
      return this.error(ctx, 400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive',
        [['ArgumentName', 'partNumber'], ['ArgumentValue', pnRaw]]);
    }
    const body = await this.readChecked(ctx);
    if (!body.ok) return body.res;
    if (body.data.length > 5 * 1024 * MiB) {
      return this.error(ctx, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', [['MaxSizeAllowed', String(5 * 1024 * MiB)]]);
    }
    if (!this.uploads.has(uploadId)) return this.noSuchUpload(ctx, uploadId); // aborted while the body was in flight
    const md5 = createHash('md5').update(body.data).digest();
    const etag = quote(md5.toString('hex'));
    u.parts.set(pn, { partNumber: pn, size: body.data.length, etag, md5, data: body.data, lastModified: new Date(this.now()), checksums: body.checksums });
    const extra: Record<string, string> = this.checksumHeaders(body.checksums);
    if (!this.opts.faults?.omitPartEtag) extra.etag = etag;
    return this.empty(ctx, 200, extra);
  }

  private listPartsOp(ctx: S3Context, bucket: Bucket): EmulatorResponse {
    const uploadId = this.q(ctx, 'uploadId') ?? '';
    const u = this.openUpload(ctx, bucket);
    if (!u) return this.noSuchUpload(ctx, uploadId);
    const maxParts = Math.min(1000, Number(this.q(ctx, 'max-parts') ?? 1000) || 1000);
    const marker = Number(this.q(ctx, 'part-number-marker') ?? 0) || 0;
    const all = this.partInfos(u).filter((p) => p.partNumber > marker);
    const page = all.slice(0, maxParts);
    const truncated = all.length > page.length;
    const parts = page.map((p) => `<Part>${el('PartNumber', p.partNumber)}${el('LastModified', isoMs(p.lastModified))}${el('ETag', p.etag)}${el('Size', p.size)}${Object.entries(p.checksums).map(([a, v]) => el(`Checksum${ALG_LABEL[a as ChecksumAlgorithm]}`, v!)).join('')}</Part>`).join('');
    const who = `${el('ID', this.owner.id)}${el('DisplayName', this.owner.displayName)}`;
    return this.xmlResponse(ctx, 200, `<ListPartsResult xmlns="${this.dialect(ctx).xmlns}">${el('Bucket', bucket.name)}${el('Key', u.key)}${el('UploadId', u.uploadId)}<Initiator>${who}</Initiator><Owner>${who}</Owner>${el('StorageClass', 'STANDARD')}${el('PartNumberMarker', marker)}${el('NextPartNumberMarker', page.at(-1)?.partNumber ?? 0)}${el('MaxParts', maxParts)}${el('IsTruncated', truncated)}${parts}</ListPartsResult>`);
  }

  private listMultipartUploads(ctx: S3Context, bucket: Bucket): EmulatorResponse {
    const prefix = this.q(ctx, 'prefix') ?? '';
    const list = [...this.uploads.values()].filter((u) => u.bucket === bucket.name && u.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated.getTime() - b.initiated.getTime()));
    const who = `${el('ID', this.owner.id)}${el('DisplayName', this.owner.displayName)}`;
    const items = list.map((u) => `<Upload>${el('Key', u.key)}${el('UploadId', u.uploadId)}<Initiator>${who}</Initiator><Owner>${who}</Owner>${el('StorageClass', 'STANDARD')}${el('Initiated', isoMs(u.initiated))}</Upload>`).join('');
    return this.xmlResponse(ctx, 200, `<ListMultipartUploadsResult xmlns="${this.dialect(ctx).xmlns}">${el('Bucket', bucket.name)}<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>${el('Prefix', prefix)}${el('MaxUploads', 1000)}${el('IsTruncated', false)}${items}</ListMultipartUploadsResult>`);
  }

  private abortUpload(ctx: S3Context, bucket: Bucket): EmulatorResponse {
    const uploadId = this.q(ctx, 'uploadId') ?? '';
    const u = this.openUpload(ctx, bucket);
    if (!u) return this.noSuchUpload(ctx, uploadId);
    this.uploads.delete(uploadId);
    return this.empty(ctx, 204);
  }

  private async completeUpload(ctx: S3Context, bucket: Bucket): Promise<EmulatorResponse> {
    const uploadId = this.q(ctx, 'uploadId') ?? '';
    const u = this.openUpload(ctx, bucket);
    if (!u) {
      const done = this.completed.get(uploadId);
      if (done && this.opts.faults?.repeatCompleteSucceeds && done.bucket === bucket.name && done.key === ctx.key) {
        return { status: 200, headers: this.baseHeaders(ctx, done.headers), body: done.body };
      }
      await readBody(ctx.req.body);
      return this.noSuchUpload(ctx, uploadId);
    }
    const text = (await readBody(ctx.req.body)).toString('utf8');
    if (!text.trim() || XMLValidator.validate(text) !== true) return this.malformed(ctx);
    const doc = xmlParser.parse(text) as { CompleteMultipartUpload?: { Part?: Record<string, unknown>[] } | string };
    const root = doc.CompleteMultipartUpload;
    const listed = typeof root === 'object' && root ? root.Part ?? [] : [];
    if (!listed.length) return this.malformed(ctx);
    const parts: { partNumber: number; etag: string; raw: Record<string, unknown> }[] = [];
    for (const p of listed) {
      const pn = String(p.PartNumber ?? '');
      if (!/^\d+$/.test(pn) || p.ETag === undefined) return this.malformed(ctx);
      parts.push({ partNumber: Number(pn), etag: String(p.ETag), raw: p });
    }
    for (let i = 1; i < parts.length; i++) {
      if (parts[i]!.partNumber <= parts[i - 1]!.partNumber) {
        return this.error(ctx, 400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.', [['UploadId', uploadId]]);
      }
    }
    const chosen: StoredPart[] = [];
    for (const p of parts) {
      const stored = u.parts.get(p.partNumber);
      let ok = stored !== undefined && unquote(stored.etag) === unquote(p.etag);
      if (ok && stored) {
        for (const alg of CHECKSUM_ALGORITHMS) {
          const given = p.raw[`Checksum${ALG_LABEL[alg]}`];
          if (given !== undefined && stored.checksums[alg] !== undefined && String(given) !== stored.checksums[alg]) ok = false;
        }
      }
      if (!ok) {
        return this.error(ctx, 400, 'InvalidPart', 'One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.',
          [['UploadId', uploadId], ['PartNumber', String(p.partNumber)], ['ETag', p.etag]]);
      }
      chosen.push(stored!);
    }
    if (this.opts.enforceMinPartSize !== false) {
      for (let i = 0; i < chosen.length - 1; i++) {
        const p = chosen[i]!;
        if (p.size < this.minPartSize) {
          return this.error(ctx, 400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size',
            [['ProposedSize', String(p.size)], ['MinSizeAllowed', String(this.minPartSize)], ['PartNumber', String(p.partNumber)], ['ETag', unquote(p.etag)]]);
        }
      }
    }
    const fo = this.forbidsOverwrite(ctx);
    if (fo.forbid && bucket.objects.has(u.key)) return this.errorResponse(ctx, fo.error!);
    const invalid = this.validateComplete(ctx);
    if (invalid) return this.errorResponse(ctx, invalid);
    if (this.opts.faults?.completeEmbeddedError) {
      const body = `${XML_DECL}<Error>${el('Code', 'InternalError')}${el('Message', 'We encountered an internal error. Please try again.')}${el('RequestId', ctx.requestId)}${el('HostId', randomBytes(24).toString('base64'))}</Error>`;
      return { status: 200, headers: this.baseHeaders(ctx, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) }), body };
    }
    // S3's multipart ETag: md5 over the concatenated binary md5s of the parts, "-" part count. No object concatenation.
    const etag = quote(`${createHash('md5').update(Buffer.concat(chosen.map((p) => p.md5))).digest('hex')}-${chosen.length}`);
    const size = chosen.reduce((n, p) => n + p.size, 0);
    const obj: StoredObject = { bucket: bucket.name, key: u.key, size, etag, contentType: u.contentType, lastModified: new Date(this.now()),
      partCount: chosen.length, metadata: u.metadata, chunks: chosen.map((p) => p.data) };
    bucket.objects.set(u.key, obj);
    this.uploads.delete(uploadId);
    const scheme = ctx.req.url.protocol.replace(/:$/, '') || 'https';
    const keyPath = u.key.split('/').map(encodeURIComponent).join('/');
    const location = ctx.virtualHosted ? `${scheme}://${ctx.host}/${keyPath}` : `${scheme}://${ctx.host}/${encodeURIComponent(bucket.name)}/${keyPath}`;
    const xml = `<CompleteMultipartUploadResult xmlns="${this.dialect(ctx).xmlns}">${el('Location', location)}${el('Bucket', bucket.name)}${el('Key', u.key)}${el('ETag', etag)}</CompleteMultipartUploadResult>`;
    const res = this.xmlResponse(ctx, 200, xml);
    this.completed.set(uploadId, { bucket: bucket.name, key: u.key, body: XML_DECL + xml, headers: { 'content-type': 'application/xml' } });
    return this.afterComplete(ctx, this.objectInfo(obj), res);
  }
}
