// The HMAC scheme of master↔slave traffic (research §1.4; pkg/auth/hmac.go, pkg/auth/auth.go, re-implemented):
// sign(content, expires) = base64url-with-padding(HMAC-SHA256(key, content + ":" + expires)) + ":" + expires. A request
// signs the Go-JSON of {"Path","Header","Body"} (Go's encoding/json: HTML characters and U+2028/U+2029 escaped);
// a URL signs its decoded path only, in the `sign` query parameter.
//
// Checking is stricter than the real server's (the contract, not its weaknesses): the `Bearer Cr ` prefix is required
// and an expiry of 0 (or any expiry in the past) is expired — a credential that never expires is not accepted.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError, Code } from '../envelope.js';

export const CR_PREFIX = 'Bearer Cr ';

/** HMACAuth.Sign. */
export function hmacSign(key: string, content: string, expires: number): string {
  const mac = createHmac('sha256', key).update(`${content}:${expires}`).digest('base64url');
  return `${mac}${'='.repeat((4 - (mac.length % 4)) % 4)}:${expires}`;
}

/** A string as Go's json.Marshal writes it (HTML-escaped, \b and \f short, other controls \u00xx). */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Bytes as a Go string marshals them: each byte of an invalid UTF-8 sequence becomes U+FFFD. */
export function goDecode(buf: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    let out = '';
    let i = 0;
    while (i < buf.length) {
      const n = runeLength(buf, i);
      if (n === 0) {
        out += '\ufffd';
        i++;
      } else {
        out += buf.subarray(i, i + n).toString('utf8');
        i += n;
      }
    }
    return out;
  }
}

/** Length of the valid UTF-8 sequence at i (Go's rules: no overlongs, no surrogates, ≤ U+10FFFF), 0 if invalid. */
function runeLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** serializer.NewRequestSignString: the Go-JSON of {Path, Header, Body}, in that order. */
export function requestSignContent(path: string, header: string, body: string): string {
  return `{"Path":${goJsonString(path || '/')},"Header":${goJsonString(header)},"Body":${goJsonString(body)}}`;
}

/** textproto.CanonicalMIMEHeaderKey for token names (x-cr-node-id → X-Cr-Node-Id). */
export function canonicalHeaderKey(name: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
}

/**
 * The signed header list: every `X-Cr-*` header but `X-Cr-Filename`, as `Name=FirstValue`, sorted and joined with `&`.
 * `raw` is a flat [name, value, name, value…] list in wire order (IncomingMessage.rawHeaders) or a plain record.
 */
export function signedHeaders(raw: string[] | Record<string, string>): string {
  const first = new Map<string, string>();
  const pairs: [string, string][] = Array.isArray(raw)
    ? Array.from({ length: raw.length / 2 }, (_, i) => [raw[2 * i]!, raw[2 * i + 1]!])
    : Object.entries(raw);
  for (const [name, value] of pairs) {
    const key = canonicalHeaderKey(name);
    if (!key.startsWith('X-Cr-') || key === 'X-Cr-Filename' || first.has(key)) continue;
    first.set(key, value);
  }
  return [...first].map(([k, v]) => `${k}=${v}`).sort().join('&');
}

/** Whether a request's body is left out of its signature: chunk data to the slave (auth.go isUploadDataRequest). */
export function bodyUnsigned(path: string, method: string): boolean {
  return path.includes('/api/v4/slave/upload/') && method.toUpperCase() !== 'PUT';
}

/** A URL path as Go's URL.Path holds it: percent-decoded. */
export function decodedPath(pathname: string): string {
  return pathname.split('/').map((s) => { try { return decodeURIComponent(s); } catch { return s; } }).join('/');
}

/**
 * HMACAuth.Check with the contract's rules: empty expiry → 403, non-numeric → 40071 "sign expired", expired (0
 * included) → 40005, wrong signature → 40071 "invalid sign".
 */
export function checkSignature(key: string, content: string, signature: string, now = Date.now()): void {
  const last = signature.split(':').at(-1)!;
  if (last === '') throw new AppError(Code.NoPermissionErr, 'expire timestamp is missing');
  if (!/^[+-]?\d+$/.test(last) || !Number.isSafeInteger(Number(last))) throw new AppError(Code.InvalidSign, 'sign expired');
  const expires = Number(last);
  if (expires <= 0 || expires < Math.floor(now / 1000)) throw new AppError(Code.SignExpired, 'signature expired');
  const want = Buffer.from(hmacSign(key, content, expires));
  const got = Buffer.from(signature);
  if (want.length !== got.length || !timingSafeEqual(want, got)) throw new AppError(Code.InvalidSign, 'invalid sign');
}

/** auth.CheckRequest with the `Bearer Cr ` prefix required. */
export function checkRequestCredential(key: string, authorization: string | undefined, content: string): void {
  if (authorization === undefined) throw new AppError(Code.NoPermissionErr, 'authorization header is missing');
  if (!authorization.startsWith(CR_PREFIX)) throw new AppError(Code.InvalidSign, 'invalid sign');
  checkSignature(key, content, authorization.slice(CR_PREFIX.length));
}

/** The Authorization value of a signed request (auth.SignRequest). */
export function requestCredential(key: string, path: string, header: string, body: string, expires: number): string {
  return CR_PREFIX + hmacSign(key, requestSignContent(path, header, body), expires);
}

/** auth.SignURI: the URL with `sign` over its decoded path added to the query. */
export function signUrl(key: string, url: URL, expires: number): URL {
  const out = new URL(url);
  out.searchParams.delete('sign');
  out.searchParams.set('sign', hmacSign(key, decodedPath(out.pathname) || '/', expires));
  out.searchParams.sort(); // url.Values.Encode sorts by key
  return out;
}
