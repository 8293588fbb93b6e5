// TOTP as github.com/pquerna/otp does it for Cloudreve: a 20-byte random secret in unpadded base32, RFC 6238 codes
// (SHA-1, 30 s, 6 digits), validated with a skew of one period either side.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function newTotpSecret(): string {
  const bytes = randomBytes(20);
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i + 5 <= bits.length; i += 5) out += ALPHABET[Number.parseInt(bits.slice(i, i + 5), 2)];
  return out;
}

function decodeBase32(secret: string): Buffer | undefined {
  let bits = '';
  for (const ch of secret.replace(/=+$/, '').toUpperCase()) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return undefined;
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) key[i] = Number.parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  return key;
}

export function totpCode(secret: string, counter: number): string | undefined {
  const key = decodeBase32(secret);
  if (!key) return undefined;
  const c = Buffer.alloc(8);
  c.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(c).digest();
  const o = mac[mac.length - 1]! & 0x0f;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** totp.Validate: a 6-digit code of the current period or the one before or after. */
export function validateTotp(code: unknown, secret: string, at = Date.now()): boolean {
  if (typeof code !== 'string' || !/^\d{6}$/.test(code.trim())) return false;
  const now = Math.floor(at / 1000 / 30);
  for (const counter of [now - 1, now, now + 1]) {
    const want = totpCode(secret, counter);
    if (want && timingSafeEqual(Buffer.from(want), Buffer.from(code.trim()))) return true;
  }
  return false;
}
