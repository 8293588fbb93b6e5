// AWS Signature Version 4 as S3 verifies it, for the S3-family emulators: presigned URLs (query auth, what Cloudreve's
// S3 policy hands to clients) and header-signed requests (Authorization: AWS4-HMAC-SHA256 …, what the SDKs and the
// Cloudreve server send). The signature is recomputed with @smithy/signature-v4 (the AWS SDK's own signer) from the
// emulator's key table and compared in constant time; the emulator only supplies what S3 canonicalises on its side:
// the URI (decoded once, re-encoded with S3's rules, never double-encoded), the decoded query and the signed headers.
// Validation order and messages follow cloud-endpoints.md §1.2.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

export interface AwsCredential { accessKeyId: string; secretAccessKey: string }

/** An S3-style error to answer with: HTTP status, Code, Message and extra elements (in order). */
export interface S3ErrorSpec {
  status: number;
  code: string;
  message: string;
  extra?: [string, string][];
}

export type SigV4Auth =
  | { ok: true; kind: 'sigv4-query' | 'sigv4-header'; accessKeyId: string; region: string; payloadHash: string;
      /** For aws-chunked signed payloads: the seed signature and what is needed to verify each chunk. */
      chunkSigning?: ChunkSigning }
  | { ok: false; error: S3ErrorSpec };

export interface ChunkSigning {
  seedSignature: string;
  longDate: string;
  scope: string;
  /** HMAC-SHA256 of a string with the request's signing key, lowercase hex. */
  sign(stringToSign: string): Promise<string>;
}

export interface SigV4VerifyOptions {
  lookup(accessKeyId: string): AwsCredential | undefined;
  /** The region the emulator is in; undefined accepts whatever region the credential scope names. */
  region?: string;
  service?: string;
  /** Milliseconds since the epoch. */
  now: number;
  /** Allowed clock skew for header auth and for presigned URLs dated in the future (S3: 15 min). */
  maxSkewMs?: number;
}

export interface SigV4Request {
  method: string;
  /** Raw path as received (percent-encoded). */
  rawPath: string;
  /** Decoded query parameters in order of appearance. */
  query: [string, string][];
  headers: Record<string, string>;
}

const QUERY_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'];
const MAX_EXPIRES = 604800;

/** Whether the request carries SigV4 query auth (any X-Amz-* auth parameter present), as S3 decides it. */
export function isSigV4Query(query: [string, string][]): boolean {
  return query.some(([k]) => QUERY_PARAMS.includes(k));
}

export function isSigV4Header(headers: Record<string, string>): boolean {
  return /^AWS4-HMAC-SHA256\s/.test(headers.authorization ?? '');
}

/**
 * Splits a raw query string (without "?") into decoded pairs. Uses decodeURIComponent, which leaves "+" alone (SigV4
 * clients encode spaces as %20); an undecodable component is kept raw.
 */
export function splitRawQuery(search: string): [string, string][] {
  const s = search.startsWith('?') ? search.slice(1) : search;
  if (!s) return [];
  return s.split('&').filter((p) => p.length > 0).map((p) => {
    const i = p.indexOf('=');
    const k = i < 0 ? p : p.slice(0, i);
    const v = i < 0 ? '' : p.slice(i + 1);
    return [safeDecode(k), safeDecode(v)];
  });
}

export function safeDecode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

/** URI-encodes every byte except A-Z a-z 0-9 - _ . ~ (and "/" when keepSlash), uppercase hex — AWS's UriEncode. */
export function awsUriEncode(s: string, keepSlash: boolean): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** S3's canonical URI: the raw path decoded once and re-encoded with AWS's rules, "/" kept (no double encoding). */
export function s3CanonicalUri(rawPath: string): string {
  return awsUriEncode(safeDecode(rawPath || '/'), true) || '/';
}

/** Constant-time comparison of two strings (false when the lengths differ). */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function hexBytes(s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Signer that remembers the canonical request and string to sign it built (for SignatureDoesNotMatch bodies). */
class RecordingSigner extends SignatureV4 {
  canonicalRequest = '';
  stringToSign = '';
  protected override createCanonicalRequest(...args: Parameters<SignatureV4['createCanonicalRequest']>): string {
    this.canonicalRequest = super.createCanonicalRequest(...args);
    return this.canonicalRequest;
  }
  protected override async createStringToSign(...args: Parameters<SignatureV4['createStringToSign']>): Promise<string> {
    this.stringToSign = await super.createStringToSign(...args);
    return this.stringToSign;
  }
  /** HMAC-SHA256 with the signing key for this date/region/service (the derivation is smithy's). */
  hmacHex(stringToSign: string, signingDate: Date, region: string, service: string): Promise<string> {
    return this.sign(stringToSign, { signingDate, signingRegion: region, signingService: service });
  }
}

function newSigner(cred: AwsCredential, region: string, service: string): RecordingSigner {
  return new RecordingSigner({ service, region, credentials: { accessKeyId: cred.accessKeyId, secretAccessKey: cred.secretAccessKey },
    sha256: Sha256, uriEscapePath: false, applyChecksum: false });
}

type SmithyRequest = Parameters<SignatureV4['presign']>[0];

/** Query pairs as @smithy/signature-v4 takes them (a repeated name: every value), without the names `omit` says. */
export function queryBag(query: [string, string][], omit?: (k: string) => boolean): Record<string, string | string[]> {
  const bag: Record<string, string | string[]> = {};
  for (const [k, v] of query) {
    if (omit?.(k)) continue;
    const prev = bag[k];
    bag[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return bag;
}

function authQueryError(message: string): S3ErrorSpec {
  return { status: 400, code: 'AuthorizationQueryParametersError', message };
}

function mismatch(accessKeyId: string, signer: RecordingSigner, provided: string): S3ErrorSpec {
  return { status: 403, code: 'SignatureDoesNotMatch',
    message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    extra: [['AWSAccessKeyId', accessKeyId], ['StringToSign', signer.stringToSign], ['SignatureProvided', provided],
      ['StringToSignBytes', hexBytes(signer.stringToSign)], ['CanonicalRequest', signer.canonicalRequest],
      ['CanonicalRequestBytes', hexBytes(signer.canonicalRequest)]] };
}

interface ParsedCredential { accessKeyId: string; date: string; region: string; service: string }

function parseCredential(s: string): ParsedCredential | undefined {
  const parts = s.split('/');
  if (parts.length < 5 || parts.at(-1) !== 'aws4_request') return undefined;
  const [date, region, service] = parts.slice(-4, -1) as [string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (!accessKeyId || !/^\d{8}$/.test(date)) return undefined;
  return { accessKeyId, date, region, service };
}

/** Verifies a SigV4 presigned URL. */
export async function verifySigV4Query(req: SigV4Request, opts: SigV4VerifyOptions): Promise<SigV4Auth> {
  const get = (k: string) => req.query.find(([n]) => n === k)?.[1];
  if (QUERY_PARAMS.some((k) => get(k) === undefined)) {
    return { ok: false, error: authQueryError('Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.') };
  }
  const algorithm = get('X-Amz-Algorithm')!;
  if (algorithm !== 'AWS4-HMAC-SHA256') {
    return { ok: false, error: authQueryError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256"') };
  }
  const service = opts.service ?? 's3';
  const cred = parseCredential(get('X-Amz-Credential')!);
  if (!cred) {
    return { ok: false, error: authQueryError('Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".') };
  }
  if (opts.region !== undefined && cred.region !== opts.region) {
    return { ok: false, error: authQueryError(`Error parsing the X-Amz-Credential parameter; the region '${cred.region}' is wrong; expecting '${opts.region}'`) };
  }
  if (cred.service !== service) {
    return { ok: false, error: authQueryError(`Error parsing the X-Amz-Credential parameter; incorrect service "${cred.service}". This endpoint belongs to "${service}".`) };
  }
  const amzDate = get('X-Amz-Date')!;
  const date = parseAmzDate(amzDate);
  if (!date) {
    return { ok: false, error: authQueryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"") };
  }
  if (amzDate.slice(0, 8) !== cred.date) {
    return { ok: false, error: authQueryError(`Error parsing the X-Amz-Credential parameter; incorrect date format "${cred.date}". This date in the credential must be in the format "yyyyMMdd".`) };
  }
  const expiresRaw = get('X-Amz-Expires')!;
  if (!/^\d+$/.test(expiresRaw)) {
    return { ok: false, error: authQueryError('X-Amz-Expires should be a number') };
  }
  const expires = Number(expiresRaw);
  if (expires > MAX_EXPIRES) {
    return { ok: false, error: authQueryError('X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds') };
  }
  const skew = opts.maxSkewMs ?? 15 * 60_000;
  if (date.getTime() - skew > opts.now) {
    return { ok: false, error: { status: 403, code: 'AccessDenied', message: 'Request is not valid yet' } };
  }
  if (date.getTime() + expires * 1000 < opts.now) {
    return { ok: false, error: { status: 403, code: 'AccessDenied', message: 'Request has expired',
      extra: [['X-Amz-Expires', expiresRaw], ['Expires', iso(date.getTime() + expires * 1000)], ['ServerTime', iso(opts.now)]] } };
  }
  const secret = opts.lookup(cred.accessKeyId);
  if (!secret) {
    return { ok: false, error: { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.',
      extra: [['AWSAccessKeyId', cred.accessKeyId]] } };
  }
  const signedHeaders = get('X-Amz-SignedHeaders')!.split(';').map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (!signedHeaders.includes('host')) {
    return { ok: false, error: authQueryError('Query-string authentication requires the host header to be signed.') };
  }
  const headers: Record<string, string> = {};
  for (const h of signedHeaders) {
    const v = req.headers[h];
    // A signed header the request lacks canonicalises as empty, so the signature will not match.
    headers[h] = v ?? '';
  }
  const payloadHash = get('X-Amz-Content-Sha256') ?? (signedHeaders.includes('x-amz-content-sha256') ? req.headers['x-amz-content-sha256'] : undefined)
    ?? 'UNSIGNED-PAYLOAD';
  const unsignable = new Set<string>();
  if (!('x-amz-content-sha256' in headers)) {
    headers['x-amz-content-sha256'] = payloadHash;
    unsignable.add('x-amz-content-sha256');
  }
  const signer = newSigner(secret, cred.region, service);
  const request: SmithyRequest = { method: req.method, protocol: 'https:', hostname: req.headers.host ?? 'localhost',
    path: s3CanonicalUri(req.rawPath), query: queryBag(req.query, (k) => k === 'X-Amz-Signature'), headers };
  let presigned: SmithyRequest;
  try {
    presigned = await signer.presign(request, { signingDate: date, expiresIn: expires, signingRegion: cred.region,
      signingService: service, signableHeaders: new Set(signedHeaders), unsignableHeaders: unsignable,
      unhoistableHeaders: new Set([...signedHeaders, 'x-amz-content-sha256']) });
  } catch (e) {
    return { ok: false, error: authQueryError(String((e as Error)?.message ?? e)) };
  }
  const expected = String(presigned.query?.['X-Amz-Signature'] ?? '');
  const provided = get('X-Amz-Signature')!;
  if (!constantTimeEqual(expected, provided)) {
    return { ok: false, error: mismatch(cred.accessKeyId, signer, provided) };
  }
  return { ok: true, kind: 'sigv4-query', accessKeyId: cred.accessKeyId, region: cred.region, payloadHash };
}

/** Parses "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…". */
export function parseSigV4Authorization(value: string): { credential: string; signedHeaders: string; signature: string } | undefined {
  const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(value.trim());
  if (!m) return undefined;
  const fields: Record<string, string> = {};
  for (const part of m[1]!.split(',')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  const { Credential: credential, SignedHeaders: signedHeaders, Signature: signature } = fields;
  if (!credential || !signedHeaders || !signature) return undefined;
  return { credential, signedHeaders, signature };
}

/** Verifies a request signed in the Authorization header. */
export async function verifySigV4Header(req: SigV4Request, opts: SigV4VerifyOptions): Promise<SigV4Auth> {
  const service = opts.service ?? 's3';
  const parsed = parseSigV4Authorization(req.headers.authorization ?? '');
  const malformed = (why: string): SigV4Auth => ({ ok: false, error: { status: 400, code: 'AuthorizationHeaderMalformed',
    message: `The authorization header is malformed; ${why}` } });
  if (!parsed) return malformed('the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  const cred = parseCredential(parsed.credential);
  if (!cred) return malformed(`the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  if (opts.region !== undefined && cred.region !== opts.region) {
    return { ok: false, error: { status: 400, code: 'AuthorizationHeaderMalformed',
      message: `The authorization header is malformed; the region '${cred.region}' is wrong; expecting '${opts.region}'`,
      extra: [['Region', opts.region]] } };
  }
  if (cred.service !== service) return malformed(`incorrect service "${cred.service}". This endpoint belongs to "${service}".`);
  const amzDate = req.headers['x-amz-date'];
  const date = amzDate ? parseAmzDate(amzDate) : req.headers.date ? new Date(req.headers.date) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    return { ok: false, error: { status: 403, code: 'AccessDenied', message: 'AWS authentication requires a valid Date or x-amz-date header' } };
  }
  const skew = opts.maxSkewMs ?? 15 * 60_000;
  if (Math.abs(date.getTime() - opts.now) > skew) {
    return { ok: false, error: { status: 403, code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the current time is too large.',
      extra: [['RequestTime', amzDate ?? req.headers.date ?? ''], ['ServerTime', iso(opts.now)], ['MaxAllowedSkewMilliseconds', String(skew)]] } };
  }
  const secret = opts.lookup(cred.accessKeyId);
  if (!secret) {
    return { ok: false, error: { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.',
      extra: [['AWSAccessKeyId', cred.accessKeyId]] } };
  }
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (service === 's3' && payloadHash === undefined) {
    return { ok: false, error: { status: 400, code: 'InvalidRequest', message: 'Missing required header for this request: x-amz-content-sha256' } };
  }
  const signedHeaders = parsed.signedHeaders.split(';').map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (!signedHeaders.includes('host')) return malformed('the host header must be signed.');
  const headers: Record<string, string> = {};
  for (const h of signedHeaders) headers[h] = req.headers[h] ?? '';
  const unsignable = new Set<string>();
  if (payloadHash !== undefined && !('x-amz-content-sha256' in headers)) {
    headers['x-amz-content-sha256'] = payloadHash;
    unsignable.add('x-amz-content-sha256');
  }
  const signer = newSigner(secret, cred.region, service);
  const request: SmithyRequest = { method: req.method, protocol: 'https:', hostname: req.headers.host ?? 'localhost',
    path: s3CanonicalUri(req.rawPath), query: queryBag(req.query), headers };
  let signed: SmithyRequest;
  try {
    signed = await signer.sign(request, { signingDate: date, signingRegion: cred.region, signingService: service,
      signableHeaders: new Set(signedHeaders), unsignableHeaders: unsignable }) as SmithyRequest;
  } catch (e) {
    return malformed(String((e as Error)?.message ?? e));
  }
  const expected = /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
  if (!constantTimeEqual(expected, parsed.signature)) {
    return { ok: false, error: mismatch(cred.accessKeyId, signer, parsed.signature) };
  }
  const ph = payloadHash ?? 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const out: SigV4Auth = { ok: true, kind: 'sigv4-header', accessKeyId: cred.accessKeyId, region: cred.region, payloadHash: ph };
  if (ph.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')) {
    const longDate = amzDate ?? '';
    out.chunkSigning = { seedSignature: parsed.signature, longDate, scope: `${cred.date}/${cred.region}/${service}/aws4_request`,
      sign: (sts) => signer.hmacHex(sts, date, cred.region, service) };
  }
  return out;
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
