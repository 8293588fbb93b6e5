// Passkeys as service/user/passkey.go drives go-webauthn: the relying party is the site (name = site name, id = the
// site URL's host), challenges are 32 random bytes (base64url), sessions live 300 s. The reference registers no
// passkey (it verifies no attestation), so a well-formed response always fails validation (40025); a malformed one
// is the parser's 40001, as in the real server.
import { randomBytes } from 'node:crypto';
import { AppError, Code } from './envelope.js';
import { Kind } from './hashid.js';
import type { State, UserRow } from './state.js';

const PUB_KEY_ALGS = [-7, -35, -36, -257, -258, -259, -37, -38, -39, -8];

function rpId(st: State): string {
  try {
    return new URL(st.setting('siteURL')).hostname;
  } catch {
    return '';
  }
}

export function newChallenge(): string {
  return randomBytes(32).toString('base64url');
}

/** webauthn.BeginDiscoverableLogin's CredentialAssertion. */
export function loginOptions(st: State, challenge: string): Record<string, unknown> {
  return { publicKey: { challenge, timeout: 300000, rpId: rpId(st) } };
}

/** webauthn.BeginRegistration's CredentialCreation (resident key required, user verification preferred). */
export function registrationOptions(st: State, u: UserRow, challenge: string): Record<string, unknown> {
  return {
    publicKey: {
      rp: { name: st.setting('siteName'), id: rpId(st) },
      user: { name: u.email, displayName: u.nick, id: Buffer.from(st.hash.encode(Kind.User, u.id)).toString('base64url') },
      challenge,
      pubKeyCredParams: PUB_KEY_ALGS.map((alg) => ({ type: 'public-key', alg })),
      timeout: 300000,
      authenticatorSelection: { requireResidentKey: true, userVerification: 'preferred' },
    },
  };
}

function b64(v: unknown): Buffer | undefined {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_\-+/]*={0,2}$/.test(v)) return undefined;
  return Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** protocol.Parse{CredentialRequest,CredentialCreation}ResponseBody: 40001 "Failed to parse request" on bad input. */
export function parseCredentialResponse(raw: string, kind: 'assertion' | 'attestation'): void {
  const fail = () => new AppError(Code.ParamErr, 'Failed to parse request');
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw fail();
  }
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw fail();
  if (typeof o.id !== 'string' || !o.id || o.type !== 'public-key') throw fail();
  const id = b64(o.id);
  const rawId = b64(o.rawId);
  if (!id?.length || !rawId?.equals(id)) throw fail();
  const r = o.response as Record<string, unknown> | undefined;
  if (!r || typeof r !== 'object') throw fail();
  const clientData = b64(r.clientDataJSON);
  try {
    const cd = JSON.parse(clientData?.toString('utf8') ?? '') as Record<string, unknown>;
    if (typeof cd.type !== 'string' || typeof cd.challenge !== 'string') throw new Error();
  } catch {
    throw fail();
  }
  if (kind === 'assertion') {
    if ((b64(r.authenticatorData)?.length ?? 0) < 37 || !b64(r.signature)?.length) throw fail();
  } else if (!b64(r.attestationObject)?.length) throw fail();
}
