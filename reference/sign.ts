// HMAC signatures of pkg/auth/hmac.go: base64url(HMAC-SHA256(secret_key, content + ":" + expires)) + ":" + expires,
// where a URL's content is its path only; expires 0 never expires.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError, Code } from './envelope.js';
import type { State } from './state.js';

export function sign(st: State, content: string, expires: number): string {
  const mac = createHmac('sha256', st.setting('secret_key')).update(`${content}:${expires}`).digest('base64url');
  // Go's base64.URLEncoding keeps the padding.
  return `${mac}${'='.repeat((4 - (mac.length % 4)) % 4)}:${expires}`;
}

export function signUrlPath(st: State, path: string, expires: number): string {
  return sign(st, path, expires);
}

/** HMACAuth.Check, with the errors SignRequired answers (the inner code wins: 403, 40071 or 40005). */
export function checkSign(st: State, content: string, signature: string): void {
  const parts = signature.split(':');
  const last = parts[parts.length - 1]!;
  if (last === '') throw new AppError(Code.NoPermissionErr, 'expire timestamp is missing');
  if (!/^[+-]?\d+$/.test(last)) throw new AppError(Code.InvalidSign, 'sign expired');
  const expires = Number(last);
  if (expires !== 0 && expires < Math.floor(Date.now() / 1000)) throw new AppError(Code.SignExpired, 'signature expired');
  const want = Buffer.from(sign(st, content, expires));
  const got = Buffer.from(signature);
  if (want.length !== got.length || !timingSafeEqual(want, got)) throw new AppError(Code.InvalidSign, 'invalid sign');
}
