// Qiniu credentials as qiniu/go-sdk v7.19.0 (`storage/token.go`, `auth/credentials.go`) computes and checks them:
//   upload token  = AK ":" base64url(HMAC-SHA1(SK, encodedPolicy)) ":" encodedPolicy,  encodedPolicy = base64url(JSON)
//   QBox token    = AK ":" base64url(HMAC-SHA1(SK, path ["?" query] "\n" [body if form-urlencoded]))
// base64url here is Go's `base64.URLEncoding`: `-`/`_` and `=` padding kept.
import { createHash, createHmac } from 'node:crypto';

export function b64url(data: Buffer | string): string {
  return (Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8')).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

export function fromB64url(s: string): Buffer {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

export function qiniuSign(secretKey: string, data: Buffer | string): string {
  return b64url(createHmac('sha1', secretKey).update(data).digest());
}

/** Put policy fields Cloudreve and the SDKs use (any other field is kept as is). */
export interface QiniuPutPolicy {
  scope: string;
  deadline: number;
  isPrefixalScope?: number;
  insertOnly?: number;
  saveKey?: string;
  forceSaveKey?: boolean;
  fsizeLimit?: number;
  fsizeMin?: number;
  mimeLimit?: string;
  returnBody?: string;
  callbackUrl?: string;
  callbackHost?: string;
  callbackBody?: string;
  callbackBodyType?: string;
  [k: string]: unknown;
}

export function qiniuUploadToken(accessKey: string, secretKey: string, policy: QiniuPutPolicy | string): string {
  const encoded = b64url(typeof policy === 'string' ? policy : JSON.stringify(policy));
  return `${accessKey}:${qiniuSign(secretKey, encoded)}:${encoded}`;
}

export interface ParsedUploadToken { accessKey: string; signature: string; encodedPolicy: string; policy?: QiniuPutPolicy }

export function parseUploadToken(token: string): ParsedUploadToken | undefined {
  const parts = token.split(':');
  if (parts.length !== 3 || parts.some((p) => !p)) return undefined;
  const [accessKey = '', signature = '', encodedPolicy = ''] = parts;
  let policy: QiniuPutPolicy | undefined;
  try { policy = JSON.parse(fromB64url(encodedPolicy).toString('utf8')) as QiniuPutPolicy; } catch { policy = undefined; }
  return { accessKey, signature, encodedPolicy, ...(policy ? { policy } : {}) };
}

/** The bytes a QBox signature covers. */
export function qboxSignedData(path: string, rawQuery: string, contentType: string | undefined, body: Buffer | string): Buffer {
  const q = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  const head = Buffer.from(`${path}${q ? `?${q}` : ''}\n`, 'utf8');
  if (contentType !== 'application/x-www-form-urlencoded') return head;
  return Buffer.concat([head, Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]);
}

/** `AK:sign` over path/query (+ form body), what follows `QBox ` in a management or callback Authorization. */
export function qboxToken(accessKey: string, secretKey: string, path: string, rawQuery = '', contentType?: string, body: Buffer | string = ''): string {
  return `${accessKey}:${qiniuSign(secretKey, qboxSignedData(path, rawQuery, contentType, body))}`;
}

/**
 * Cloudreve's check (`qbox.Mac.VerifyCallback`): `Authorization` must equal `QBox ` + the token over the decoded URL
 * path, the raw query and — only for `application/x-www-form-urlencoded` — the body.
 */
export function verifyQiniuCallbackAsCloudreve(accessKey: string, secretKey: string, r: {
  path: string; rawQuery?: string; contentType?: string; body: Buffer | string; authorization?: string;
}): boolean {
  if (!r.authorization?.startsWith('QBox ')) return false;
  let path = r.path;
  try { path = decodeURIComponent(r.path); } catch { /* keep */ }
  return r.authorization === `QBox ${qboxToken(accessKey, secretKey, path, r.rawQuery ?? '', r.contentType, r.body)}`;
}

/** Qiniu's `hash` (qetag): 4 MiB blocks, SHA-1 of the data (one block) or of the blocks' SHA-1s, prefixed 0x16/0x96. */
export function qetag(data: Buffer): string {
  const block = 4 * 1024 * 1024;
  if (data.length <= block) return b64url(Buffer.concat([Buffer.from([0x16]), createHash('sha1').update(data).digest()]));
  const sums: Buffer[] = [];
  for (let i = 0; i < data.length; i += block) sums.push(createHash('sha1').update(data.subarray(i, i + block)).digest());
  return b64url(Buffer.concat([Buffer.from([0x96]), createHash('sha1').update(Buffer.concat(sums)).digest()]));
}

// ---- management (rs) credentials, "Qiniu" (V2) flavour, and private download URLs --------------------------------

/** Go's `textproto.CanonicalMIMEHeaderKey` for plain ASCII names: `x-qiniu-date` → `X-Qiniu-Date`. */
export function canonicalMimeHeaderKey(name: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(name)) return name;
  return name.split('-').map((p) => (p ? p[0]!.toUpperCase() + p.slice(1).toLowerCase() : p)).join('-');
}

export interface QiniuV2Request {
  method: string;
  /** URL path as sent (`/stat/<entry>`). */
  path: string;
  /** Raw query, with or without the leading `?`. */
  rawQuery?: string;
  /** What goes after `Host: ` — the request's Host (host[:port]). */
  host: string;
  contentType?: string;
  /** Header name → value; only `X-Qiniu-*` ones are signed. */
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/**
 * The bytes a `Qiniu` (V2) management signature covers, as qiniu/go-sdk v7.19.0 `auth/credentials.go` `collectDataV2`
 * builds them: `METHOD path[?query]\nHost: host\nContent-Type: type\n` + the sorted `X-Qiniu-*` headers (`Name: value\n`)
 * + `\n` + the body when the type is form-urlencoded or JSON. A missing type counts as form-urlencoded.
 * (The Node SDK, `util.generateAccessTokenV2`, signs the body for any type but octet-stream: `bodyForAnyType`.)
 */
export function qiniuV2SignedData(r: QiniuV2Request, opts: { bodyForAnyType?: boolean } = {}): Buffer {
  const q = (r.rawQuery ?? '').replace(/^\?/, '');
  const type = r.contentType || 'application/x-www-form-urlencoded';
  let s = `${r.method.toUpperCase()} ${r.path}${q ? `?${q}` : ''}\nHost: ${r.host}\nContent-Type: ${type}\n`;
  const x = Object.entries(r.headers ?? {}).map(([k, v]) => [canonicalMimeHeaderKey(k), v] as const)
    .filter(([k]) => k.length > 'X-Qiniu-'.length && k.startsWith('X-Qiniu-'))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  for (const [k, v] of x) s += `${k}: ${v}\n`;
  s += '\n';
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8');
  const signsBody = opts.bodyForAnyType ? type !== 'application/octet-stream'
    : type === 'application/x-www-form-urlencoded' || type === 'application/json';
  return body.length > 0 && signsBody ? Buffer.concat([Buffer.from(s, 'utf8'), body]) : Buffer.from(s, 'utf8');
}

/** `AK:sign` that follows `Qiniu ` in a V2 management Authorization. */
export function qiniuTokenV2(accessKey: string, secretKey: string, r: QiniuV2Request): string {
  return `${accessKey}:${qiniuSign(secretKey, qiniuV2SignedData(r))}`;
}

/** An encoded entry: base64url(`bucket:key`) (`bucket` alone when no key). */
export function encodedEntry(bucket: string, key?: string): string {
  return b64url(key === undefined ? bucket : `${bucket}:${key}`);
}

/** Go's `storage.urlEncodeQuery`: `url.QueryEscape`, then `%2F`→`/`, `%7C`→`|`, `+`→`%20`. */
export function goUrlEncodeQuery(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, '/').replace(/%7C/g, '|');
}

/**
 * A private download URL as qiniu/go-sdk v7.19.0 `makePrivateURLv2WithRawQuery` (Cloudreve's `signSourceURL`) builds it:
 * `<domain>/<escaped key>[?rawQuery]` + `?e=` / `&e=` + deadline, signed whole (scheme and host included), then
 * `&token=AK:base64url(HMAC-SHA1(SK, that URL))`.
 */
export function qiniuPrivateDownloadUrl(accessKey: string, secretKey: string, domain: string, key: string, deadline: number, rawQuery = ''): string {
  let url = `${domain.replace(/\/+$/, '')}/${goUrlEncodeQuery(key)}${rawQuery ? `?${rawQuery}` : ''}`;
  url += `${url.includes('?') ? '&' : '?'}e=${deadline}`;
  return `${url}&token=${accessKey}:${qiniuSign(secretKey, url)}`;
}
