// The S3-family storage policy drivers of the reference target — s3 and ks3 here, obs (obs.ts) on the same core —
// re-implementing what Cloudreve 4.18.0's drivers do on the wire (pkg/filemanager/driver/s3/s3.go, ks3/ks3.go; research
// cloudreve-upload-semantics.md §3.4, §6, §7; cloud-endpoints.md §1, §3):
//
//   Token          HEAD the object key (it exists: 40004), CreateMultipartUpload (Content-Type = the file's type,
//                  Expires = the session's), then one presigned UploadPart PUT URL per chunk (ceil(size/chunk), at
//                  least 1; part number = index + 1) and a presigned CompleteMultipartUpload POST URL, all valid until
//                  the session expires. Answer: upload_id, upload_urls, completeURL (camelCase, as the real server).
//   callback       s3/ks3: HEAD the object; an error or a missing object (the client has not completed the multipart
//                  upload yet) is HTTP 400 with code -1 and an empty msg (as recorded from 4.18.0); a size other than
//                  the declared one is 400/40055 "File size not match, expected: X, actual: Y". obs: nothing to check.
//   CancelToken    AbortMultipartUpload of the session's upload id; 404 NoSuchUpload (completed at the provider, or
//                  aborted already) leaves nothing to abort and the object goes with the entity (the real 4.18.0 fails
//                  the DELETE with -1 there and leaves the object: a listed deviation).
//   relay, blobs   PutObject (streamed), GetObject (with Range), HeadObject, DeleteObject.
//
// Signatures: s3 — AWS SigV4 with @smithy/signature-v4 (the AWS SDK's own signer): header-signed server calls, query
// presigned URLs shaped like aws-sdk-go v1's (UNSIGNED-PAYLOAD; `content-length;host` signed on a part, `host` only on
// an empty part and on the complete URL). ks3 — V2 (KS3's Go SDK default signer): `AWS AK:sig` + Date on server calls,
// AWSAccessKeyId/Expires/Signature on URLs, Content-Type application/octet-stream signed on parts and complete.
// Addressing: path style (http://server/bucket/key) when the policy's `s3_path_style` is on, else virtual-hosted
// (http://bucket.server/key), as the Go SDKs decide from S3ForcePathStyle.
//
// Every provider request has a deadline (AbortSignal.timeout); a failure becomes an AppError with code -1 naming the
// operation, the provider's HTTP status and its error code/message (never a URL: presigned ones carry signatures).
// Not implemented: sourceUrl (the interface's synchronous signature does not fit an async SigV4 presigner), so
// downloads go through the master's content route, which reads the object with GetObject.
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { XMLParser } from 'fast-xml-parser';
import { AppError, Code, FsErr } from '../envelope.js';
import { mimeOf } from '../routes/content.js';
import type { PolicyRow, UploadSession } from '../state.js';
import { awsUriEncode, EMPTY_SHA256, queryBag, s3CanonicalUri } from '../../harness/cloud/s3-sigv4.js';
import { hmacSha1Base64, presignV2, v2CanonicalHeaders, v2CanonicalResource, v2StringToSign, type V2Flavor } from '../../harness/cloud/s3-v2sign.js';
import { KS3_V2 } from '../../harness/cloud/ks3.js';
import { CallbackRejected, type CloudDriver, type CloudType, type TokenInput, type TokenResult } from './types.js';
import {
  CONTROL_TIMEOUT_MS, deletedOrGone, emptyAsBare, failed, failure, OCTET, partSizes, queryString, rangeHeader, streamBody,
  TRANSFER_TIMEOUT_MS, type ByteRange, type ProviderError,
} from './http.js';

/** SigV4 presigned URLs live at most a week (the signers refuse more); longer sessions get week-long URLs. */
const MAX_SIGV4_EXPIRES = 604_800;
const S3_DEFAULT_CHUNK = 25 * 1024 * 1024;

// ---- addressing ---------------------------------------------------------------------------------------------------

/** Where an object is: the URL requests go to (no query), and "/bucket/key-as-sent", the resource V2 signatures cover. */
export interface ObjectAddress { url: URL; canonicalPath: string }

function endpoint(policy: PolicyRow): URL {
  const server = policy.server.trim();
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `https://${server}`);
  } catch {
    throw new AppError(Code.NotSet, `the storage policy's server "${policy.server}" is not a URL`);
  }
}

/** An IP (or localhost) endpoint: no virtual-hosted buckets there. */
export function isIpEndpoint(policy: PolicyRow): boolean {
  const h = endpoint(policy).hostname;
  return /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.startsWith('[') || h === 'localhost';
}

/** The key as it goes into the path: AWS URI encoding, "/" kept (nothing left for URL parsing to normalise). */
const keyPath = (key: string) => awsUriEncode(key, true);

/** http://server/bucket/key */
export function pathStyleAddress(policy: PolicyRow, key: string): ObjectAddress {
  const path = `/${policy.bucketName}/${keyPath(key)}`;
  return { url: new URL(path, endpoint(policy).origin), canonicalPath: path };
}

/** http://bucket.server/key */
export function virtualHostedAddress(policy: PolicyRow, key: string): ObjectAddress {
  const e = endpoint(policy);
  const path = `/${keyPath(key)}`;
  return { url: new URL(`${e.protocol}//${policy.bucketName}.${e.host}${path}`), canonicalPath: `/${policy.bucketName}${path}` };
}

/** The address with a query, from decoded pairs (a pair with an empty value is written as the bare name). */
function withQuery(url: URL, query: readonly [string, string][]): URL {
  const u = new URL(url);
  u.search = queryString(emptyAsBare(query), (s) => awsUriEncode(s, false));
  return u;
}

// ---- authentication -------------------------------------------------------------------------------------------------

/** A request to sign: the URL as it will be sent (query included) and its decoded query. */
export interface SignTarget { method: string; url: URL; canonicalPath: string; query: [string, string][] }

/** How a provider authenticates server-side requests (headers) and the URLs handed to clients (query). */
export interface S3Auth {
  /** The request's headers with its authentication added; `payload`: empty body, or a streamed unhashed one. */
  sign(policy: PolicyRow, t: SignTarget, headers: Record<string, string>, payload: 'empty' | 'unsigned'): Promise<Record<string, string>>;
  /** A presigned URL valid until `expires` (Unix seconds); `headers` are those the client sends that it covers. */
  presign(policy: PolicyRow, t: SignTarget, headers: Record<string, string>, expires: number): Promise<string>;
}

function regionOf(policy: PolicyRow): string {
  const r = policy.settings.region;
  return typeof r === 'string' && r ? r : 'us-east-1';
}

function sigv4(policy: PolicyRow): SignatureV4 {
  return new SignatureV4({ service: 's3', region: regionOf(policy), sha256: Sha256, uriEscapePath: false, applyChecksum: false,
    credentials: { accessKeyId: policy.accessKey, secretAccessKey: policy.secretKey } });
}

const signingDate = () => new Date(Math.floor(Date.now() / 1000) * 1000);

/** AWS Signature Version 4 (s3). */
export const SIGV4_AUTH: S3Auth = {
  async sign(policy, t, headers, payload) {
    const hash = payload === 'unsigned' ? 'UNSIGNED-PAYLOAD' : EMPTY_SHA256;
    const signed = await sigv4(policy).sign({ method: t.method, protocol: t.url.protocol, hostname: t.url.host,
      path: s3CanonicalUri(t.url.pathname), query: queryBag(t.query), headers: { host: t.url.host, 'x-amz-content-sha256': hash } },
    { signingDate: signingDate() });
    const h = signed.headers as Record<string, string>;
    return { ...headers, authorization: h.authorization!, 'x-amz-date': h['x-amz-date']!, 'x-amz-content-sha256': hash };
  },
  async presign(policy, t, headers, expires) {
    const names = ['host', ...Object.keys(headers)];
    const expiresIn = Math.min(MAX_SIGV4_EXPIRES, Math.max(1, expires - Math.floor(Date.now() / 1000)));
    const presigned = await sigv4(policy).presign({ method: t.method, protocol: t.url.protocol, hostname: t.url.host,
      path: s3CanonicalUri(t.url.pathname), query: queryBag(t.query),
      headers: { host: t.url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers } },
    { signingDate: signingDate(), expiresIn, signableHeaders: new Set(names), unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set([...names, 'x-amz-content-sha256']) });
    // aws-sdk-go v1's shape: every parameter sorted, X-Amz-Signature last.
    const amz = Object.entries(presigned.query ?? {}).filter(([k]) => k.startsWith('X-Amz-')).map(([k, v]) => [k, String(v)] as [string, string]);
    const signature = amz.find(([k]) => k === 'X-Amz-Signature');
    const all = [...t.query, ...amz.filter(([k]) => k !== 'X-Amz-Signature')].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    if (signature) all.push(signature);
    return withQuery(t.url, all).toString();
  },
};

/** A V2 (HMAC-SHA1) flavour: KS3, OBS (OBS signature or its AWS-compatible V2). */
export function v2Auth(flavor: V2Flavor): S3Auth {
  return {
    async sign(policy, t, headers) {
      const date = new Date().toUTCString();
      const sts = v2StringToSign({ method: t.method, contentMd5: headers['content-md5'] ?? '', contentType: headers['content-type'] ?? '',
        dateOrExpires: date, canonicalHeaders: v2CanonicalHeaders(headers, flavor.headerPrefixes),
        canonicalResource: v2CanonicalResource(t.canonicalPath, t.query, flavor.subresourceRules[0]!) });
      return { ...headers, date, authorization: `${flavor.authSchemes[0]} ${policy.accessKey}:${hmacSha1Base64(policy.secretKey, sts)}` };
    },
    async presign(policy, t, headers, expires) {
      return presignV2({ method: t.method, url: t.url, canonicalPath: t.canonicalPath, accessKeyId: policy.accessKey,
        secretAccessKey: policy.secretKey, expires, contentType: headers['content-type'], headers, flavor });
    },
  };
}

// ---- the driver -----------------------------------------------------------------------------------------------------

/** What sets one S3-family policy type apart. */
export interface S3FamilySpec {
  type: CloudType;
  /** Provider name for messages. */
  name: string;
  address(policy: PolicyRow, key: string): ObjectAddress;
  auth(policy: PolicyRow): S3Auth;
  /** Headers a part URL's signature covers, for a part of `length` bytes. */
  partHeaders(length: number): Record<string, string>;
  /** Headers the complete URL's signature covers. */
  completeHeaders: Record<string, string>;
  /** Extra query parameters of the complete URL (OBS: x-obs-callback). */
  completeQuery?(input: TokenInput, uploadId: string): [string, string][];
  /** The callback HEADs the object and compares its size (s3, ks3); otherwise it checks nothing more (obs). */
  callbackChecksSize: boolean;
}

const xml = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: true });

/** The provider's <Code> and <Message>, when the body is an S3-style error (or OBS's JSON one). */
function providerErrorOf(text: string): ProviderError {
  const t = text.trim();
  if (t.startsWith('<')) {
    try {
      const e = (xml.parse(t) as { Error?: { Code?: unknown; Message?: unknown } }).Error;
      if (e && typeof e === 'object') return { code: e.Code === undefined ? undefined : String(e.Code), message: e.Message === undefined ? undefined : String(e.Message) };
    } catch { /* not XML */ }
  } else if (t.startsWith('{')) {
    try {
      const e = JSON.parse(t) as { code?: unknown; message?: unknown };
      return { code: e.code === undefined ? undefined : String(e.code), message: typeof e.message === 'string' ? e.message : undefined };
    } catch { /* not JSON */ }
  }
  return {};
}

interface Call {
  op: string;
  method: string;
  key: string;
  query?: [string, string][];
  headers?: Record<string, string>;
  /** A streamed body of `length` bytes. */
  body?: Readable;
  length?: number;
  timeoutMs?: number;
}

class S3FamilyDriver implements CloudDriver {
  readonly type: CloudType;
  readonly defaultChunkSize = S3_DEFAULT_CHUNK;

  constructor(private readonly spec: S3FamilySpec) {
    this.type = spec.type;
  }

  /** `S3 HeadObject of "<key>"`: what failed, in messages. */
  private label(op: string, key: string): string {
    return `${this.spec.name} ${op} of "${key}"`;
  }

  /** The provider's error as an AppError (reads the answer's body). */
  private refused(op: string, key: string, res: Response): Promise<AppError> {
    return failure(res, this.label(op, key), providerErrorOf);
  }

  /** One signed request to the provider; network failures and timeouts become AppErrors. */
  private async call(policy: PolicyRow, c: Call): Promise<Response> {
    const address = this.spec.address(policy, c.key);
    const query = c.query ?? [];
    const url = withQuery(address.url, query);
    const streamed = c.body !== undefined && (c.length ?? 0) > 0;
    const headers = { ...(c.headers ?? {}) };
    if (c.body !== undefined) headers['content-length'] = String(c.length ?? 0);
    const signed = await this.spec.auth(policy).sign(policy, { method: c.method, url, canonicalPath: address.canonicalPath, query },
      headers, streamed ? 'unsigned' : 'empty');
    if (c.body !== undefined && !streamed) c.body.resume();
    const init: RequestInit & { duplex?: 'half' } = { method: c.method, headers: signed, redirect: 'manual',
      signal: AbortSignal.timeout(c.timeoutMs ?? CONTROL_TIMEOUT_MS) };
    if (c.body !== undefined) {
      init.body = streamed ? streamBody(c.body) : '';
      if (streamed) init.duplex = 'half';
    }
    try {
      return await fetch(url, init);
    } catch (e) {
      const err = e as Error & { cause?: Error & { code?: string } };
      const why = err.name === 'TimeoutError' ? `no answer from ${url.origin} within ${(c.timeoutMs ?? CONTROL_TIMEOUT_MS) / 1000} s`
        : `cannot reach ${url.origin}: ${err.cause?.code ?? err.cause?.message ?? err.message}`;
      throw failed(this.label(c.op, c.key), why);
    }
  }

  /** HeadObject: the size, undefined when the object does not exist; throws on any other answer. */
  private async headSize(policy: PolicyRow, key: string): Promise<number | undefined> {
    const res = await this.call(policy, { op: 'HeadObject', method: 'HEAD', key });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await this.refused('HeadObject', key, res);
    const length = res.headers.get('content-length');
    // 4.16.0+: an answer without Content-Length is an error.
    if (length === null || !/^\d+$/.test(length)) throw failed(this.label('HeadObject', key), 'the answer has no Content-Length');
    return Number(length);
  }

  private async abort(policy: PolicyRow, key: string, uploadId: string): Promise<void> {
    const res = await this.call(policy, { op: 'AbortMultipartUpload', method: 'DELETE', key, query: [['uploadId', uploadId]] });
    if (!deletedOrGone(res.status)) throw await this.refused('AbortMultipartUpload', key, res);
    await res.body?.cancel();
  }

  async token(input: TokenInput): Promise<TokenResult> {
    const { policy, key, size, chunkSize, expires } = input;
    // Token's duplicate check: an existing object refuses the session (any HEAD failure lets it proceed).
    if (await this.headSize(policy, key).catch(() => undefined) !== undefined) throw FsErr.existed();

    const created = await this.call(policy, { op: 'CreateMultipartUpload', method: 'POST', key, query: [['uploads', '']],
      headers: { 'content-type': input.mimeType || mimeOf(input.fileName), expires: new Date(expires * 1000).toUTCString() } });
    if (created.status !== 200) throw await this.refused('CreateMultipartUpload', key, created);
    const text = await created.text();
    let uploadId: string | undefined;
    try {
      const doc = xml.parse(text) as { InitiateMultipartUploadResult?: { UploadId?: unknown } };
      const id = doc.InitiateMultipartUploadResult?.UploadId;
      if (typeof id === 'string' && id) uploadId = id;
    } catch { /* below */ }
    if (!uploadId) throw failed(this.label('CreateMultipartUpload', key), 'the answer has no UploadId');

    try {
      const address = this.spec.address(policy, key);
      const auth = this.spec.auth(policy);
      const upload_urls: string[] = [];
      for (const [i, length] of partSizes(size, chunkSize).entries()) {
        const query: [string, string][] = [['partNumber', String(i + 1)], ['uploadId', uploadId]];
        upload_urls.push(await auth.presign(policy, { method: 'PUT', url: withQuery(address.url, query), canonicalPath: address.canonicalPath, query },
          this.spec.partHeaders(length), expires));
      }
      const query: [string, string][] = [['uploadId', uploadId], ...(this.spec.completeQuery?.(input, uploadId) ?? [])];
      const completeURL = await auth.presign(policy, { method: 'POST', url: withQuery(address.url, query), canonicalPath: address.canonicalPath, query },
        this.spec.completeHeaders, expires);
      return { answer: { upload_id: uploadId, upload_urls, completeURL }, state: { uploadId, key } };
    } catch (e) {
      await this.abort(policy, key, uploadId).catch(() => undefined);
      throw e;
    }
  }

  async verifyCallback(policy: PolicyRow, session: UploadSession): Promise<void> {
    if (!this.spec.callbackChecksSize) return;
    const key = session.provider?.key ?? session.key ?? '';
    let size: number | undefined;
    try {
      size = await this.headSize(policy, key);
    } catch {
      size = undefined;
    }
    // A HEAD error or a missing object (not completed yet): a plain error, HTTP 400, code -1, empty msg (4.18.0).
    if (size === undefined) throw new CallbackRejected(400, Code.NotSet, '');
    if (size !== session.size) {
      throw new CallbackRejected(400, Code.MetaMismatch, `File size not match, expected: ${session.size}, actual: ${size}`);
    }
  }

  async cancel(policy: PolicyRow, session: UploadSession): Promise<void> {
    const uploadId = session.provider?.uploadId;
    if (!uploadId) return;
    await this.abort(policy, session.provider?.key ?? session.key ?? '', uploadId);
  }

  async put(policy: PolicyRow, key: string, body: Readable, length: number, mimeType?: string): Promise<void> {
    const res = await this.call(policy, { op: 'PutObject', method: 'PUT', key, body, length, timeoutMs: TRANSFER_TIMEOUT_MS,
      headers: { 'content-type': mimeType || mimeOf(key.split('/').pop() ?? '') } });
    if (res.status !== 200) throw await this.refused('PutObject', key, res);
    await res.body?.cancel();
  }

  async get(policy: PolicyRow, key: string, range?: ByteRange): Promise<Readable | undefined> {
    const res = await this.call(policy, { op: 'GetObject', method: 'GET', key, timeoutMs: TRANSFER_TIMEOUT_MS, headers: rangeHeader(range) });
    if (res.status === 404) { await res.body?.cancel(); return undefined; }
    if (res.status !== 200 && res.status !== 206) throw await this.refused('GetObject', key, res);
    return res.body ? Readable.fromWeb(res.body as unknown as NodeReadableStream<Uint8Array>) : Readable.from([]);
  }

  head(policy: PolicyRow, key: string): Promise<number | undefined> {
    return this.headSize(policy, key);
  }

  async remove(policy: PolicyRow, key: string): Promise<void> {
    const res = await this.call(policy, { op: 'DeleteObject', method: 'DELETE', key });
    if (!deletedOrGone(res.status)) throw await this.refused('DeleteObject', key, res);
    await res.body?.cancel();
  }
}

/** A driver of the S3 family from its spec (s3, ks3 here; obs in obs.ts). */
export function s3FamilyDriver(spec: S3FamilySpec): CloudDriver {
  return new S3FamilyDriver(spec);
}

/** Path style when the policy says so (S3ForcePathStyle), else virtual-hosted. */
const byPathStyleSetting = (policy: PolicyRow, key: string) =>
  (policy.settings.s3_path_style === true ? pathStyleAddress(policy, key) : virtualHostedAddress(policy, key));

export const s3Driver: CloudDriver = s3FamilyDriver({
  type: 's3', name: 'S3', address: byPathStyleSetting, auth: () => SIGV4_AUTH,
  // aws-sdk-go v1 signs the part's Content-Length (its build handler drops a zero one, so an empty part signs host only).
  partHeaders: (length): Record<string, string> => (length > 0 ? { 'content-length': String(length) } : {}),
  completeHeaders: {},
  callbackChecksSize: true,
});

const KS3_AUTH = v2Auth(KS3_V2);

export const ks3Driver: CloudDriver = s3FamilyDriver({
  type: 'ks3', name: 'KS3', address: byPathStyleSetting, auth: () => KS3_AUTH,
  partHeaders: () => ({ 'content-type': OCTET }),
  completeHeaders: { 'content-type': OCTET },
  callbackChecksSize: true,
});
