// HMAC-SHA1 "V2" signatures of the S3 family: the legacy AWS S3 scheme that KS3 (ks3sdklib/aws-sdk-go v1.6.2
// internal/signer/v2) and Huawei OBS (huaweicloud-sdk-go-obs v3.24.6 auth.go/authV2.go, esdk-obs-nodejs doAuth)
// implement, in query form (presigned URLs: <AccessKeyParam>=AK&Expires=<unix>&Signature=<base64>) and header form
// (Authorization: <PREFIX> AK:<base64>, with a Date header).
//
//   StringToSign = METHOD "\n" Content-MD5 "\n" Content-Type "\n" (Expires | Date) "\n"
//                  { lower(name) ":" value "\n" for each header with a canonical prefix, sorted by name }
//                  CanonicalizedResource
//   CanonicalizedResource = "/" bucket "/" key-as-sent  [ "?" sub-resources sorted by name, "k" or "k=v", "&"-joined ]
//   Signature = base64(HMAC-SHA1(secret, StringToSign))
import { createHmac } from 'node:crypto';
import { constantTimeEqual, type AwsCredential, type S3ErrorSpec } from './s3-sigv4.js';

export interface V2Flavor {
  /** Name of the flavour (reported with the auth result), e.g. "ks3-v2", "obs", "obs-v2". */
  name: string;
  /** Query parameter names that carry the access key, e.g. ["AWSAccessKeyId"]. */
  accessKeyParams: string[];
  /** Authorization header schemes, e.g. ["AWS"], ["OBS"]. */
  authSchemes: string[];
  /** Header prefixes that are canonicalised, e.g. ["x-amz-"], ["x-obs-"]. */
  headerPrefixes: string[];
  /** Headers that replace Date (the Date line is then empty), e.g. "x-amz-date". */
  dateHeaders: string[];
  /**
   * Sub-resource rules; each is one way a client may have chosen the signed query parameters (the SDKs' lists
   * differ a little). A signature matching any rule is accepted.
   */
  subresourceRules: ((name: string) => boolean)[];
}

export interface V2Request {
  method: string;
  /** "/bucket/key" exactly as the client encoded the key (path-style raw path, or "/" + bucket + raw path). */
  canonicalPath: string;
  /** Decoded query parameters in order of appearance. */
  query: [string, string][];
  headers: Record<string, string>;
}

export type V2Auth =
  | { ok: true; kind: 'v2-query' | 'v2-header'; flavor: string; accessKeyId: string }
  | { ok: false; error: S3ErrorSpec };

export function hmacSha1Base64(secret: string, data: string): string {
  return createHmac('sha1', secret).update(data, 'utf8').digest('base64');
}

export function v2CanonicalHeaders(headers: Record<string, string>, prefixes: string[]): string {
  const names = Object.keys(headers).map((h) => h.toLowerCase())
    .filter((h) => prefixes.some((p) => h.startsWith(p))).sort();
  return names.map((n) => `${n}:${(headers[n] ?? '').trim()}\n`).join('');
}

export function v2CanonicalResource(canonicalPath: string, query: [string, string][], isSubresource: (name: string) => boolean): string {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of query) {
    if (!isSubresource(k)) continue;
    const list = byKey.get(k) ?? [];
    list.push(v);
    byKey.set(k, list);
  }
  const keys = [...byKey.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (!keys.length) return canonicalPath;
  return canonicalPath + '?' + keys.map((k) => {
    const v = byKey.get(k)!.join(',');
    return v === '' ? k : `${k}=${v}`;
  }).join('&');
}

export function v2StringToSign(p: { method: string; contentMd5: string; contentType: string; dateOrExpires: string;
  canonicalHeaders: string; canonicalResource: string }): string {
  return `${p.method}\n${p.contentMd5}\n${p.contentType}\n${p.dateOrExpires}\n${p.canonicalHeaders}${p.canonicalResource}`;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const hexBytes = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => b.toString(16).padStart(2, '0')).join(' ');

/** Whether the request carries V2 query auth of this flavour. */
export function hasV2Query(query: [string, string][], flavor: V2Flavor): boolean {
  return query.some(([k]) => flavor.accessKeyParams.includes(k) || k === 'Signature');
}

/** The Authorization scheme of a V2 header-signed request, if it is one of the flavour's. */
export function v2HeaderScheme(headers: Record<string, string>, flavor: V2Flavor): string | undefined {
  const m = /^(\w+) ([^:\s]+):(\S+)$/.exec((headers.authorization ?? '').trim());
  return m && flavor.authSchemes.includes(m[1]!) ? m[1] : undefined;
}

export interface V2VerifyOptions {
  lookup(accessKeyId: string): AwsCredential | undefined;
  now: number;
  maxSkewMs?: number;
}

function candidates(req: V2Request, flavor: V2Flavor, dateLines: string[]): string[] {
  const headers = req.headers;
  const ch = v2CanonicalHeaders(headers, flavor.headerPrefixes);
  const out: string[] = [];
  for (const rule of flavor.subresourceRules) {
    const resource = v2CanonicalResource(req.canonicalPath, req.query, rule);
    for (const d of dateLines) {
      const sts = v2StringToSign({ method: req.method, contentMd5: headers['content-md5'] ?? '', contentType: headers['content-type'] ?? '',
        dateOrExpires: d, canonicalHeaders: ch, canonicalResource: resource });
      if (!out.includes(sts)) out.push(sts);
    }
  }
  return out;
}

function mismatch(accessKeyId: string, sts: string, provided: string): S3ErrorSpec {
  return { status: 403, code: 'SignatureDoesNotMatch',
    message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    extra: [['AWSAccessKeyId', accessKeyId], ['StringToSign', sts], ['SignatureProvided', provided], ['StringToSignBytes', hexBytes(sts)]] };
}

/** Verifies V2 query auth (presigned URL). */
export function verifyV2Query(req: V2Request, flavor: V2Flavor, opts: V2VerifyOptions): V2Auth {
  const get = (k: string) => req.query.find(([n]) => n === k)?.[1];
  const akParam = flavor.accessKeyParams.find((p) => get(p) !== undefined);
  const accessKeyId = akParam ? get(akParam)! : undefined;
  const expires = get('Expires');
  const signature = get('Signature');
  if (!accessKeyId || expires === undefined || signature === undefined) {
    return { ok: false, error: { status: 403, code: 'AccessDenied',
      message: `Query-string authentication requires the Signature, Expires and ${flavor.accessKeyParams[0]} parameters` } };
  }
  if (!/^\d+$/.test(expires)) {
    return { ok: false, error: { status: 403, code: 'AccessDenied', message: `Invalid date (should be seconds since epoch): ${expires}` } };
  }
  if (Number(expires) * 1000 < opts.now) {
    return { ok: false, error: { status: 403, code: 'AccessDenied', message: 'Request has expired',
      extra: [['Expires', iso(Number(expires) * 1000)], ['ServerTime', iso(opts.now)]] } };
  }
  const cred = opts.lookup(accessKeyId);
  if (!cred) {
    return { ok: false, error: { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.',
      extra: [['AWSAccessKeyId', accessKeyId]] } };
  }
  const stss = candidates(req, flavor, [expires]);
  for (const sts of stss) if (constantTimeEqual(hmacSha1Base64(cred.secretAccessKey, sts), signature)) {
    return { ok: true, kind: 'v2-query', flavor: flavor.name, accessKeyId };
  }
  return { ok: false, error: mismatch(accessKeyId, stss[0]!, signature) };
}

/** Verifies V2 header auth (Authorization: <scheme> AK:signature). */
export function verifyV2Header(req: V2Request, flavor: V2Flavor, opts: V2VerifyOptions): V2Auth {
  const m = /^(\w+) ([^:\s]+):(\S+)$/.exec((req.headers.authorization ?? '').trim());
  if (!m || !flavor.authSchemes.includes(m[1]!)) {
    return { ok: false, error: { status: 400, code: 'InvalidArgument', message: 'Authorization header is invalid -- one and only one \' \' (space) required' } };
  }
  const [, , accessKeyId, signature] = m as unknown as [string, string, string, string];
  const altDate = flavor.dateHeaders.map((h) => req.headers[h]).find((v) => v !== undefined);
  const dateStr = altDate ?? req.headers.date;
  const date = dateStr ? new Date(/^\d{8}T\d{6}Z$/.test(dateStr)
    ? `${dateStr.slice(0, 4)}-${dateStr.slice(4, 6)}-${dateStr.slice(6, 8)}T${dateStr.slice(9, 11)}:${dateStr.slice(11, 13)}:${dateStr.slice(13, 15)}Z` : dateStr) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    return { ok: false, error: { status: 403, code: 'AccessDenied', message: 'AWS authentication requires a valid Date or x-amz-date header' } };
  }
  const skew = opts.maxSkewMs ?? 15 * 60_000;
  if (Math.abs(date.getTime() - opts.now) > skew) {
    return { ok: false, error: { status: 403, code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the current time is too large.',
      extra: [['RequestTime', dateStr!], ['ServerTime', iso(opts.now)], ['MaxAllowedSkewMilliseconds', String(skew)]] } };
  }
  const cred = opts.lookup(accessKeyId);
  if (!cred) {
    return { ok: false, error: { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.',
      extra: [['AWSAccessKeyId', accessKeyId]] } };
  }
  // With an x-amz-date / x-obs-date header the Date line is empty (AWS); some SDKs keep the Date header's value there.
  const dateLines = altDate !== undefined ? ['', req.headers.date ?? ''] : [req.headers.date ?? ''];
  const stss = candidates(req, flavor, dateLines);
  for (const sts of stss) if (constantTimeEqual(hmacSha1Base64(cred.secretAccessKey, sts), signature)) {
    return { ok: true, kind: 'v2-header', flavor: flavor.name, accessKeyId };
  }
  return { ok: false, error: mismatch(accessKeyId, stss[0]!, signature) };
}

/** Signs a V2 presigned URL (for tests and for harness code that needs to forge Cloudreve-shaped URLs). */
export function presignV2(p: { method: string; url: URL; canonicalPath: string; accessKeyId: string; secretAccessKey: string;
  expires: number; contentType?: string; contentMd5?: string; headers?: Record<string, string>; flavor: V2Flavor }): string {
  const query: [string, string][] = [];
  for (const [k, v] of p.url.searchParams) query.push([k, v]);
  const sts = v2StringToSign({ method: p.method, contentMd5: p.contentMd5 ?? '', contentType: p.contentType ?? '', dateOrExpires: String(p.expires),
    canonicalHeaders: v2CanonicalHeaders(p.headers ?? {}, p.flavor.headerPrefixes),
    canonicalResource: v2CanonicalResource(p.canonicalPath, query, p.flavor.subresourceRules[0]!) });
  const u = new URL(p.url);
  u.searchParams.set(p.flavor.accessKeyParams[0]!, p.accessKeyId);
  u.searchParams.set('Expires', String(p.expires));
  u.searchParams.set('Signature', hmacSha1Base64(p.secretAccessKey, sts));
  return u.toString();
}
