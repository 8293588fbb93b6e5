// Aliyun OSS signature algorithms, as the OSS server checks them and as the SDKs Cloudreve uses compute them:
// V1 (aliyun-oss-go-sdk v3 `SignURL`, ali-oss `authorization`) and V4 (alibabacloud-oss-go-sdk-v2 `signer/v4.go`,
// ali-oss `authorizationV4`/`signatureUrlV4`), plus the RSA-MD5 signature OSS puts on its upload callbacks
// (verified by Cloudreve's `pkg/filemanager/driver/oss/callback.go`). Pure functions; the emulator and the tests
// share them.
import { createHash, createHmac, createPublicKey, sign as rsaSign, verify as rsaVerify, type KeyObject } from 'node:crypto';

/** Query parameters that are sub-resources in the V1 canonical resource (OSS Go SDK v1 `signKeyList`, abridged to
 * what an upload can carry plus the common read ones). Any other query parameter is not signed by V1. */
export const OSS_V1_SUBRESOURCES: ReadonlySet<string> = new Set([
  'acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle', 'delete', 'append', 'tagging',
  'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'img', 'style', 'styleName', 'replication',
  'replicationProgress', 'replicationLocation', 'cname', 'bucketInfo', 'comp', 'qos', 'live', 'status', 'vod',
  'startTime', 'endTime', 'symlink', 'x-oss-process', 'response-content-type', 'x-oss-traffic-limit',
  'response-content-language', 'response-expires', 'response-cache-control', 'response-content-disposition',
  'response-content-encoding', 'udf', 'udfName', 'udfImage', 'udfId', 'udfImageDesc', 'udfApplication',
  'udfApplicationLog', 'restore', 'callback', 'callback-var', 'qosInfo', 'policy', 'stat', 'encryption', 'versions',
  'versioning', 'versionId', 'requestPayment', 'x-oss-request-payer', 'sequential', 'inventory', 'inventoryId',
  'continuation-token', 'asyncFetch', 'worm', 'wormId', 'wormExtend', 'withHashContext', 'x-oss-enable-md5',
  'x-oss-enable-sha1', 'x-oss-enable-sha256', 'x-oss-hash-ctx', 'x-oss-md5-ctx', 'transferAcceleration', 'regionList',
  'cloudboxes', 'x-oss-ac-source-ip', 'x-oss-ac-subnet-mask', 'x-oss-ac-vpc-id', 'x-oss-ac-forward-allow',
  'metaQuery', 'resourceGroup', 'rtc', 'x-oss-async-process', 'responseHeader',
]);

/** One query parameter, decoded; `value` is `undefined` for a bare `?name`. */
export type QueryPair = readonly [name: string, value: string | undefined];

/** Splits a raw query string without turning `+` into a space (OSS and COS decode `%XX` only). */
export function parseRawQuery(raw: string): QueryPair[] {
  const q = raw.startsWith('?') ? raw.slice(1) : raw;
  if (!q) return [];
  return q.split('&').filter((s) => s !== '').map((part) => {
    const i = part.indexOf('=');
    return i < 0 ? [safeDecode(part), undefined] as const : [safeDecode(part.slice(0, i)), safeDecode(part.slice(i + 1))] as const;
  });
}

export function safeDecode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

/** RFC 3986 encoding (`encodeURIComponent` plus `!'()*`), the encoder of both V4 signers. */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// ---------------------------------------------------------------------------------------------------------------- V1

/** `/bucket/key` + `?` + the sub-resources present, sorted, `name` or `name=value` (decoded values). */
export function ossV1CanonicalResource(bucket: string | undefined, key: string, query: readonly QueryPair[]): string {
  let resource = bucket === undefined ? '/' : `/${bucket}/${key}`;
  const subs = query.filter(([n]) => OSS_V1_SUBRESOURCES.has(n)).map(([n, v]) => (v === undefined || v === '' ? n : `${n}=${v}`));
  subs.sort();
  if (subs.length) resource += `?${subs.join('&')}`;
  return resource;
}

export interface OssV1Input {
  method: string;
  contentMd5?: string;
  contentType?: string;
  /** The Date header, or the `Expires` unix time for a signed URL. */
  date: string;
  /** Request headers, lower-case names; the `x-oss-*` ones are signed. */
  headers: Record<string, string>;
  resource: string;
}

export function ossV1StringToSign(i: OssV1Input): string {
  const ossHeaders = Object.keys(i.headers).filter((h) => h.startsWith('x-oss-')).sort()
    .map((h) => `${h}:${String(i.headers[h]).trim()}\n`).join('');
  return `${i.method.toUpperCase()}\n${i.contentMd5 ?? ''}\n${i.contentType ?? ''}\n${i.date}\n${ossHeaders}${i.resource}`;
}

export function ossV1Signature(secret: string, stringToSign: string): string {
  return createHmac('sha1', secret).update(stringToSign, 'utf8').digest('base64');
}

// ---------------------------------------------------------------------------------------------------------------- V4

export interface OssV4Input {
  method: string;
  bucket?: string;
  key?: string;
  /** Every query parameter except `x-oss-signature` (the V4 query auth parameters included). */
  query: readonly QueryPair[];
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  /** Lower-case names from `AdditionalHeaders=` / `x-oss-additional-headers`. */
  additionalHeaders?: readonly string[];
}

export function ossV4CanonicalUri(bucket: string | undefined, key: string | undefined): string {
  const raw = `/${bucket ? `${bucket}/` : ''}${key ?? ''}`;
  return rfc3986(raw).replace(/%2F/g, '/');
}

export function ossV4CanonicalQuery(query: readonly QueryPair[]): string {
  return query.filter(([n]) => n !== 'x-oss-signature')
    .map(([n, v]) => [rfc3986(n), v === undefined || v === '' ? '' : rfc3986(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([n, v]) => (v === '' ? n : `${n}=${v}`)).join('&');
}

export function ossV4CanonicalRequest(i: OssV4Input): string {
  const additional = [...new Set((i.additionalHeaders ?? []).map((h) => h.toLowerCase()))]
    .filter((h) => h !== 'content-type' && h !== 'content-md5' && !h.startsWith('x-oss-') && h in i.headers).sort();
  const signed = new Set(additional);
  for (const h of Object.keys(i.headers)) if (h === 'content-type' || h === 'content-md5' || h.startsWith('x-oss-')) signed.add(h);
  const canonicalHeaders = [...signed].sort().map((h) => `${h}:${String(i.headers[h]).trim()}\n`).join('');
  return [
    i.method.toUpperCase(),
    ossV4CanonicalUri(i.bucket, i.key),
    ossV4CanonicalQuery(i.query),
    canonicalHeaders,
    additional.join(';'),
    i.headers['x-oss-content-sha256'] ?? 'UNSIGNED-PAYLOAD',
  ].join('\n');
}

export function ossV4Scope(day: string, region: string, product = 'oss'): string {
  return `${day}/${region}/${product}/aliyun_v4_request`;
}

export function ossV4StringToSign(dateTime: string, region: string, canonicalRequest: string, product = 'oss'): string {
  return ['OSS4-HMAC-SHA256', dateTime, ossV4Scope(dateTime.slice(0, 8), region, product),
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')].join('\n');
}

export function ossV4SigningKey(secret: string, day: string, region: string, product = 'oss'): Buffer {
  const kDate = createHmac('sha256', `aliyun_v4${secret}`).update(day).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kProduct = createHmac('sha256', kRegion).update(product).digest();
  return createHmac('sha256', kProduct).update('aliyun_v4_request').digest();
}

export function ossV4Signature(secret: string, dateTime: string, region: string, stringToSign: string, product = 'oss'): string {
  return createHmac('sha256', ossV4SigningKey(secret, dateTime.slice(0, 8), region, product)).update(stringToSign, 'utf8').digest('hex');
}

/** `yyyymmddTHHMMSSZ` for a unix-ms instant. */
export function ossV4DateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export function parseOssV4DateTime(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

export interface OssPresignV4Options {
  accessKeyId: string;
  accessKeySecret: string;
  region: string;
  method: string;
  /** URL without the signature parameters; path-style or virtual-hosted, `bucket` and `key` say which is which. */
  url: string;
  bucket: string;
  key: string;
  headers?: Record<string, string>;
  expiresSeconds: number;
  now?: number;
}

/** Builds a V4 presigned URL the way the Go SDK v2 `Presign` does (used by tests to play Cloudreve ≥ 4.10). */
export function ossPresignV4(o: OssPresignV4Options): string {
  const u = new URL(o.url);
  const dateTime = ossV4DateTime(o.now ?? Date.now());
  const extra: [string, string][] = [
    ['x-oss-credential', `${o.accessKeyId}/${ossV4Scope(dateTime.slice(0, 8), o.region)}`],
    ['x-oss-date', dateTime],
    ['x-oss-expires', String(o.expiresSeconds)],
    ['x-oss-signature-version', 'OSS4-HMAC-SHA256'],
  ];
  const query: QueryPair[] = [...parseRawQuery(u.search), ...extra];
  const headers = Object.fromEntries(Object.entries(o.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const canonical = ossV4CanonicalRequest({ method: o.method, bucket: o.bucket, key: o.key, query, headers });
  const signature = ossV4Signature(o.accessKeySecret, dateTime, o.region, ossV4StringToSign(dateTime, o.region, canonical));
  const all = [...query, ['x-oss-signature', signature] as const];
  u.search = all.map(([n, v]) => (v === undefined ? rfc3986(n) : `${rfc3986(n)}=${rfc3986(v)}`)).join('&');
  return u.toString();
}

export interface OssPresignV1Options {
  accessKeyId: string;
  accessKeySecret: string;
  method: string;
  url: string;
  bucket: string;
  key: string;
  headers?: Record<string, string>;
  /** Unix seconds. */
  expires: number;
}

/** Builds a V1 signed URL the way the Go SDK v1 `SignURL` does (Cloudreve ≤ 4.9). */
export function ossPresignV1(o: OssPresignV1Options): string {
  const u = new URL(o.url);
  const query = parseRawQuery(u.search);
  const headers = Object.fromEntries(Object.entries(o.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const sts = ossV1StringToSign({ method: o.method, contentMd5: headers['content-md5'], contentType: headers['content-type'],
    date: String(o.expires), headers, resource: ossV1CanonicalResource(o.bucket, o.key, query) });
  const sig = ossV1Signature(o.accessKeySecret, sts);
  const all: QueryPair[] = [...query, ['OSSAccessKeyId', o.accessKeyId], ['Expires', String(o.expires)], ['Signature', sig]];
  u.search = all.map(([n, v]) => (v === undefined ? rfc3986(n) : `${rfc3986(n)}=${rfc3986(v)}`)).join('&');
  return u.toString();
}

// ---------------------------------------------------------------------------------------------------------- callback

/** What OSS signs on a callback: `urlDecode(path) + ("?" + query if any) + "\n" + body`. */
export function ossCallbackSignedBytes(rawPath: string, rawQuery: string, body: Buffer | string): Buffer {
  const q = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  return Buffer.concat([Buffer.from(`${safeDecode(rawPath)}${q ? `?${q}` : ''}\n`, 'utf8'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]);
}

/** base64(RSA PKCS#1 v1.5 over MD5) of the signed bytes: the `authorization` header of an OSS callback. */
export function signOssCallback(privateKey: KeyObject | string, rawPath: string, rawQuery: string, body: Buffer | string): string {
  return rsaSign('md5', ossCallbackSignedBytes(rawPath, rawQuery, body), privateKey).toString('base64');
}

/**
 * Cloudreve's check (4.18.0 `VerifyCallbackSignature`): MD5 over `url.PathUnescape(r.URL.Path) + "\n" + body` — the
 * query is ignored — verified with the PKIX RSA key from the public-key URL.
 */
export function verifyOssCallbackAsCloudreve(publicKeyPem: string, rawPath: string, body: Buffer | string, authorization: string): boolean {
  const data = Buffer.concat([Buffer.from(`${safeDecode(rawPath)}\n`, 'utf8'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]);
  try {
    return rsaVerify('md5', data, createPublicKey(publicKeyPem), Buffer.from(authorization, 'base64'));
  } catch {
    return false;
  }
}
