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
