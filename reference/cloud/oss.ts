// The `oss` policy type (Aliyun OSS), as Cloudreve 4.18 drives it through the OSS Go SDK v2: every call to OSS is
// signed with signature V4 (OSS4-HMAC-SHA256) — server-side calls in the Authorization header, the URLs handed to the
// client as V4 presigned URLs. Talks plain HTTP to the policy's endpoint (the harness points it at an OSS emulator).
//
//   token           InitiateMultipartUpload (Content-Type, x-oss-forbid-overwrite: true, Expires = the session's end),
//                   one presigned UploadPart URL per chunk (ceil(size / chunk), at least 1; Content-Type
//                   application/octet-stream signed), and a presigned CompleteMultipartUpload URL carrying the
//                   `callback` policy and signing `x-oss-complete-all: yes` + `x-oss-forbid-overwrite: true`; all of
//                   them expire with the session (V4 allows at most 7 days, so a longer session cannot be created,
//                   as on Cloudreve ≥ 4.10). Answer: upload_id, upload_urls, completeURL.
//   verifyCallback  OSS itself posts the callback after the client's complete: RSA (PKCS#1 v1.5, MD5) signature in
//                   `authorization` over `urlPathUnescaped + "\n" + body`, with the public key from base64
//                   `x-oss-pub-key-url` (trust rule below); then the body must bind and its `size` equal the session's.
//   cancel          AbortMultipartUpload.
//   put/get/head/remove, sourceUrl   PutObject (streamed), GetObject (Range), HeadObject, DeleteObject, presigned GET.
//
// Endpoint and bucket addressing as the SDK does it: `server` (or `settings.server_side_endpoint` for server-side calls
// other than the token's) gets https:// when it has no scheme; a bucket is addressed path-style on an IP endpoint
// (/<bucket>/<key>), virtual-hosted otherwise (<bucket>.<endpoint host>), and not at all with `settings.use_cname`
// (the endpoint is the bucket's own domain). Signing region: `settings.region`, else the one in an
// `oss-<region>.aliyuncs.com` endpoint.
//
// Callback policy: exactly Cloudreve's (`callbackUrl`, the JSON `callbackBody` template, `callbackBodyType`,
// `callbackSNI`), and like Cloudreve no `callback-var`: `${x:fname}` is never supplied, so OSS renders `name` as "".
import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { AppError, Code } from '../envelope.js';
import type { PolicyRow, UploadSession } from '../state.js';
import {
  ossPresignV4, ossV4CanonicalRequest, ossV4DateTime, ossV4Scope, ossV4Signature, ossV4StringToSign, parseRawQuery,
  rfc3986, verifyOssCallbackAsCloudreve, type QueryPair,
} from '../../harness/cloud/oss-sign.js';
import { CallbackRejected, type CallbackRequest, type CloudDriver, type TokenInput, type TokenResult } from './types.js';
import {
  attachment, encodeKey, exchange, failed, objectCalls, OCTET, partSizes, queryString, xmlField, type ObjectCall,
  type ProviderRequest,
} from './http.js';

/** The public key fetch of a callback: OSS waits 5 s for the whole callback, so the key must come quicker. */
const KEY_FETCH_MS = 4_000;
const KEY_MAX_BYTES = 16 * 1024;
/** How long a fetched callback key is reused (Cloudreve: 7 days, one key for everything; here per URL, and refetched
 * once when a signature does not verify with a cached key). */
const KEY_CACHE_MS = 10 * 60_000;
/** Longest lifetime of a V4 presigned URL (OSS and its SDK refuse more). */
const MAX_PRESIGN_S = 7 * 24 * 3600;
const CALLBACK_BODY = '{"name":${x:fname},"source_name":${object},"size":${size},"pic_info":"${imageInfo.width},${imageInfo.height}"}';
const VERIFY_FAILED = 'Failed to verify callback request.';

// ------------------------------------------------------------------------------------------------------- addressing

function setting(policy: PolicyRow, name: string): string {
  const v = policy.settings[name];
  return typeof v === 'string' ? v.trim() : '';
}

function withScheme(endpoint: string): string {
  return /^https?:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`;
}

/** The endpoint a call goes to: the token's calls and the URLs handed out use `server`; the other server-side calls
 * prefer `server_side_endpoint` (InitOSSClient(forceUsePublicEndpoint)). */
function endpointOf(policy: PolicyRow, publicEndpoint: boolean): { url: URL; cname: boolean } {
  const inner = setting(policy, 'server_side_endpoint');
  const useInner = !publicEndpoint && inner !== '';
  let url: URL;
  try {
    url = new URL(withScheme(useInner ? inner : policy.server));
  } catch {
    throw new AppError(Code.NotSet, `OSS policy ${policy.id}: invalid endpoint "${useInner ? inner : policy.server}"`);
  }
  return { url, cname: !useInner && policy.settings.use_cname === true };
}

/** The SDK addresses the bucket path-style on an IP endpoint only (net.ParseIP), virtual-hosted on any name. */
function pathStyle(host: string): boolean {
  return isIP(host.replace(/^\[|\]$/g, '')) !== 0;
}

/** URL of an object (no query) on the policy's endpoint. */
function objectUrl(policy: PolicyRow, key: string, publicEndpoint: boolean): string {
  const { url, cname } = endpointOf(policy, publicEndpoint);
  const bucket = policy.bucketName;
  if (cname) return `${url.origin}/${encodeKey(key, rfc3986)}`;
  if (pathStyle(url.hostname)) return `${url.origin}/${rfc3986(bucket)}/${encodeKey(key, rfc3986)}`;
  return `${url.protocol}//${bucket}.${url.host}/${encodeKey(key, rfc3986)}`;
}

function regionOf(policy: PolicyRow): string {
  const r = setting(policy, 'region');
  if (r) return r;
  const m = /^oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$/i.exec(endpointOf(policy, true).url.hostname);
  if (m?.[1]) return m[1];
  throw new AppError(Code.NotSet, `OSS policy ${policy.id} has no region (settings.region): V4 signatures need it`);
}

// ------------------------------------------------------------------------------------------------------------ HTTP

/** `query`: pairs (decoded), a value of undefined is a bare `?name`. */
interface OssCall extends ObjectCall<QueryPair[]> {
  publicEndpoint?: boolean;
}

/** Signs a server-side request in the Authorization header, as the Go SDK v2 does (V4, unsigned payload). */
function signedHeaders(c: OssCall, region: string): Record<string, string> {
  const dateTime = ossV4DateTime(Date.now());
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.headers ?? {})) headers[k.toLowerCase()] = v;
  headers['x-oss-date'] = dateTime;
  headers['x-oss-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const canonical = ossV4CanonicalRequest({ method: c.method, bucket: c.policy.bucketName, key: c.key, query: c.query ?? [], headers });
  const signature = ossV4Signature(c.policy.secretKey, dateTime, region, ossV4StringToSign(dateTime, region, canonical));
  headers.authorization = `OSS4-HMAC-SHA256 Credential=${c.policy.accessKey}/${ossV4Scope(dateTime.slice(0, 8), region)},Signature=${signature}`;
  return headers;
}

/** The call as sent: its URL and signed headers (Content-Length of a body is not signed). */
function request(c: OssCall): ProviderRequest {
  const region = regionOf(c.policy);
  const url = `${objectUrl(c.policy, c.key, c.publicEndpoint ?? false)}${c.query?.length ? `?${queryString(c.query, rfc3986)}` : ''}`;
  const headers = signedHeaders(c, region);
  if (c.body) headers['content-length'] = String(c.length ?? 0);
  return { label: `OSS ${c.what}`, method: c.method, url, headers, body: c.body };
}

// ------------------------------------------------------------------------------------------------------- presigning

function presign(policy: PolicyRow, method: string, key: string, query: QueryPair[], headers: Record<string, string>, seconds: number): string {
  const base = objectUrl(policy, key, true);
  return ossPresignV4({ accessKeyId: policy.accessKey, accessKeySecret: policy.secretKey, region: regionOf(policy), method,
    url: query.length ? `${base}?${queryString(query, rfc3986)}` : base, bucket: policy.bucketName, key, headers, expiresSeconds: seconds });
}

/** Seconds from now until `expires` (unix seconds), at least 1; more than 7 days cannot be presigned. */
function lifetime(expires: number): number {
  const ttl = Math.floor(expires - Date.now() / 1000);
  if (ttl > MAX_PRESIGN_S) {
    throw new AppError(Code.NotSet, `OSS presigned URLs live at most 7 days: expires should be not greater than ${MAX_PRESIGN_S}(seven days), the upload session lasts ${ttl} s`);
  }
  return Math.max(1, ttl);
}

/** RFC 3339 in seconds, as Go's time.RFC3339. */
function rfc3339(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// --------------------------------------------------------------------------------------------------------- callback

// Trusted public-key URLs. Cloudreve only accepts keys from http(s)://gosspublic.alicdn.com/ (where Aliyun publishes
// them). The reference also trusts a key served from the OSS endpoint the policy itself names — `server`,
// `server_side_endpoint`, and the bucket's virtual-hosted origin on either — because that is where an emulated OSS
// (which signs the callbacks it sends with its own key) lives: whoever controls that endpoint already controls the
// stored objects, so trusting it grants nothing more. Any other origin (a URL an arbitrary caller of the callback route
// names) is refused without being fetched, and nothing but http(s) is ever fetched; redirects are refused.
const OSS_KEY_PREFIXES = ['http://gosspublic.alicdn.com/', 'https://gosspublic.alicdn.com/'];

function trustedKeyUrl(policy: PolicyRow, raw: string): URL | undefined {
  let u: URL;
  try { u = new URL(raw); } catch { return undefined; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  if (OSS_KEY_PREFIXES.some((p) => raw.startsWith(p))) return u;
  const origins = new Set<string>();
  for (const ep of [policy.server, setting(policy, 'server_side_endpoint')]) {
    if (!ep) continue;
    try {
      const e = new URL(withScheme(ep));
      origins.add(e.origin);
      if (!pathStyle(e.hostname)) origins.add(`${e.protocol}//${policy.bucketName}.${e.host}`);
    } catch { /* not an endpoint */ }
  }
  return origins.has(u.origin) ? u : undefined;
}

const keyCache = new Map<string, { pem: string; at: number }>();

async function fetchKey(url: URL): Promise<string> {
  const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(KEY_FETCH_MS) });
  if (res.status !== 200) { await res.body?.cancel(); throw new Error(`public key ${url.href}: HTTP ${res.status}`); }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > KEY_MAX_BYTES) { await res.body?.cancel(); throw new Error(`public key ${url.href}: too large`); }
  const text = await res.text();
  if (text.length > KEY_MAX_BYTES) throw new Error(`public key ${url.href}: too large`);
  // PKIX RSA, as Cloudreve parses it (x509.ParsePKIXPublicKey, then *rsa.PublicKey).
  const key = createPublicKey(text);
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`public key ${url.href}: not an RSA key`);
  keyCache.set(url.href, { pem: text, at: Date.now() });
  return text;
}

function header(req: CallbackRequest, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v ?? '';
}

async function verifySignature(policy: PolicyRow, req: CallbackRequest): Promise<boolean> {
  const authorization = header(req, 'authorization');
  const encoded = header(req, 'x-oss-pub-key-url');
  if (!authorization || !encoded) return false;
  const url = trustedKeyUrl(policy, Buffer.from(encoded, 'base64').toString('utf8'));
  if (!url) return false;
  const path = req.rawUrl.split('?')[0] ?? '';
  const cached = keyCache.get(url.href);
  if (cached && Date.now() - cached.at < KEY_CACHE_MS) {
    if (verifyOssCallbackAsCloudreve(cached.pem, path, req.body, authorization)) return true;
  }
  try {
    return verifyOssCallbackAsCloudreve(await fetchKey(url), path, req.body, authorization);
  } catch {
    return false;
  }
}

/** Binds the body as Go's encoding/json binds UploadCallbackService ({name, source_name, pic_info: string, size: int64}). */
function bindBody(body: Buffer): { size: number } {
  const bad = (msg: string) => new AppError(Code.ParamErr, msg, { status: 401, noCorrelation: true });
  let v: unknown;
  try { v = JSON.parse(body.toString('utf8')); } catch { throw bad('Parameter error'); }
  if (v === null) return { size: 0 };
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('JSON marshall error');
  const o = v as Record<string, unknown>;
  for (const f of ['name', 'source_name', 'pic_info']) if (o[f] !== undefined && o[f] !== null && typeof o[f] !== 'string') throw bad('JSON marshall error');
  const size = o.size;
  if (size === undefined || size === null) return { size: 0 };
  if (typeof size !== 'number' || !Number.isSafeInteger(size)) throw bad('JSON marshall error');
  return { size };
}

// ----------------------------------------------------------------------------------------------------------- driver

export const ossDriver: CloudDriver = {
  type: 'oss',
  defaultChunkSize: 25 * 1024 * 1024,

  async token(input: TokenInput): Promise<TokenResult> {
    const { policy, key } = input;
    const seconds = lifetime(input.expires);
    const init = await exchange(request({ policy, method: 'POST', key, query: [['uploads', undefined]], publicEndpoint: true,
      what: 'InitiateMultipartUpload', headers: { 'Content-Type': input.mimeType || OCTET, 'x-oss-forbid-overwrite': 'true',
        Expires: rfc3339(input.expires) } }), (s) => s === 200);
    const uploadId = xmlField(init.text, 'UploadId');
    if (!uploadId) throw failed('OSS InitiateMultipartUpload', 'the answer has no UploadId');

    const uploadUrls = partSizes(input.size, input.chunkSize).map((_, i) => presign(policy, 'PUT', key,
      [['partNumber', String(i + 1)], ['uploadId', uploadId]], { 'Content-Type': OCTET }, seconds));
    const callback = Buffer.from(JSON.stringify({ callbackUrl: input.callbackUrl, callbackBody: CALLBACK_BODY,
      callbackBodyType: 'application/json', callbackSNI: true })).toString('base64');
    const completeURL = presign(policy, 'POST', key, [['callback', callback], ['uploadId', uploadId]],
      { 'Content-Type': OCTET, 'x-oss-complete-all': 'yes', 'x-oss-forbid-overwrite': 'true' }, seconds);
    return { answer: { upload_id: uploadId, upload_urls: uploadUrls, completeURL }, state: { uploadId } };
  },

  async verifyCallback(policy: PolicyRow, session: UploadSession, req: CallbackRequest): Promise<void> {
    // OSSCallbackAuth, then OSSCallbackValidate (body binding, size).
    if (!(await verifySignature(policy, req))) throw new CallbackRejected(401, Code.CredentialInvalid, VERIFY_FAILED, true);
    const { size } = bindBody(req.body);
    if (size !== session.size) throw new CallbackRejected(401, Code.MetaMismatch, 'size mismatch', true);
  },

  ...objectCalls('OSS', request, (uploadId): QueryPair[] => [['uploadId', uploadId]]),

  async head(policy: PolicyRow, key: string): Promise<number | undefined> {
    const r = await exchange(request({ policy, method: 'HEAD', key, what: 'HeadObject' }), (s) => s === 200 || s === 404);
    if (r.status === 404) return undefined;
    const n = Number(r.headers.get('content-length'));
    if (!Number.isSafeInteger(n) || n < 0) throw failed('OSS HeadObject', 'the answer has no Content-Length');
    return n;
  },

  sourceUrl(policy: PolicyRow, key: string, o: { name: string; download: boolean; expires: number }): string {
    const query: QueryPair[] = [];
    if (o.download) query.push(['response-content-disposition', attachment(o.name)]);
    const seconds = Math.max(1, Math.min(MAX_PRESIGN_S, Math.floor(o.expires - Date.now() / 1000)));
    const signed = presign(policy, 'GET', key, query, {}, seconds);
    if (policy.isPrivate) return signed;
    // A public bucket: the signature parameters (and the response header override) go.
    const u = new URL(signed);
    const drop = new Set(['x-oss-credential', 'x-oss-date', 'x-oss-expires', 'x-oss-signature', 'x-oss-signature-version', 'response-content-disposition']);
    const kept = parseRawQuery(u.search).filter(([n]) => !drop.has(n));
    u.search = kept.length ? queryString(kept, rfc3986) : '';
    return u.toString();
  },
};
