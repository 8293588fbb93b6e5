// Tencent COS request signature (`q-sign-algorithm=sha1&q-ak=…&q-signature=…`), as cos-go-sdk-v5 v0.7.54 (Cloudreve's
// `GetPresignedURL`, `AuthorizationTransport`) and cos-nodejs-sdk-v5 `getAuth` compute it and COS verifies it:
//   SignKey       = hex(HMAC-SHA1(SecretKey, KeyTime))
//   HttpString    = lower(method) \n decodedPath \n HttpParameters \n HttpHeaders \n
//   StringToSign  = "sha1" \n SignTime \n hex(SHA1(HttpString)) \n
//   Signature     = hex(HMAC-SHA1(SignKey, StringToSign))
import { createHash, createHmac } from 'node:crypto';

/** `encodeURIComponent` plus `! ' ( ) *` (COS's `camSafeUrlEncode` / Go's `safeURLEncode`). */
export function cosSafeEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `k=v&…` with lower-cased, encoded keys and encoded values, sorted by key. */
export function cosKeyValueString(pairs: Iterable<readonly [string, string]>): string {
  return [...pairs].map(([k, v]) => [cosSafeEncode(k).toLowerCase(), cosSafeEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('&');
}

export function cosHttpString(method: string, decodedPath: string, params: Iterable<readonly [string, string]>, headers: Iterable<readonly [string, string]>): string {
  return `${method.toLowerCase()}\n${decodedPath}\n${cosKeyValueString(params)}\n${cosKeyValueString(headers)}\n`;
}

export function cosStringToSign(signTime: string, httpString: string): string {
  return `sha1\n${signTime}\n${createHash('sha1').update(httpString, 'utf8').digest('hex')}\n`;
}

export function cosSignature(secretKey: string, keyTime: string, stringToSign: string): string {
  const signKey = createHmac('sha1', secretKey).update(keyTime, 'utf8').digest('hex');
  return createHmac('sha1', signKey).update(stringToSign, 'utf8').digest('hex');
}

export interface CosAuthInput {
  secretId: string;
  secretKey: string;
  method: string;
  /** Decoded path, e.g. `/dir/测试.jpg`. */
  path: string;
  /** Parameters to sign (name → value, decoded). */
  params?: Record<string, string>;
  /** Headers to sign (name → value). */
  headers?: Record<string, string>;
  /** Unix seconds. */
  start: number;
  end: number;
}

/** The authorization string (`q-sign-algorithm=sha1&…`), for an `Authorization` header or a query. */
export function cosAuthorization(i: CosAuthInput): string {
  const time = `${i.start};${i.end}`;
  const params = Object.entries(i.params ?? {});
  const headers = Object.entries(i.headers ?? {});
  const list = (pairs: [string, string][]): string => pairs.map(([k]) => cosSafeEncode(k).toLowerCase()).sort().join(';');
  const signature = cosSignature(i.secretKey, time, cosStringToSign(time, cosHttpString(i.method, i.path, params, headers)));
  return `q-sign-algorithm=sha1&q-ak=${i.secretId}&q-sign-time=${time}&q-key-time=${time}&q-header-list=${list(headers)}`
    + `&q-url-param-list=${list(params)}&q-signature=${signature}`;
}

/**
 * A presigned URL the way cos-go-sdk-v5 `GetPresignedURL` builds it: the normal query, then the authorization string
 * percent-encoded except `&` and `=`. `url` is the object URL without query; `params` become its query and are signed.
 */
export function cosPresignUrl(url: string, i: Omit<CosAuthInput, 'path' | 'params'> & { params?: Record<string, string> }): string {
  const u = new URL(url);
  const path = decodeURIComponent(u.pathname);
  const auth = cosAuthorization({ ...i, path });
  const query = Object.entries(i.params ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const authQuery = auth.split('&').map((kv) => { const j = kv.indexOf('='); return `${kv.slice(0, j)}=${encodeURIComponent(kv.slice(j + 1))}`; }).join('&');
  return `${u.origin}${u.pathname}?${query ? `${query}&` : ''}${authQuery}`;
}
