// JWT token pairs as pkg/auth/jwt.go issues them: HS256 with the site's secret_key, `token_type` access/refresh,
// `sub` = the user's hashid; a refresh token also carries `root_token_id` (its family, revoked at sign-out) and
// `state_hash` (changes with the password). A bad or expired bearer token makes the caller anonymous, not an error.
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import { AppError, Code } from './envelope.js';
import { Kind } from './hashid.js';
import type { State, UserRow } from './state.js';
import { fault } from './faults/index.js';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  access_expires: string;
  refresh_expires: string;
}

interface Claims extends JWTPayload {
  token_type?: string;
  state_hash?: string;
  root_token_id?: string;
}

export class Tokens {
  constructor(private readonly st: State) {}

  private get key(): Uint8Array {
    return new TextEncoder().encode(this.st.setting('secret_key'));
  }

  private stateHash(u: UserRow): string {
    return createHash('sha256').update(`${u.email}/${u.passwordDigest}/${this.st.setting('siteID')}`).digest('base64');
  }

  async issue(u: UserRow, rootTokenId: string = randomUUID()): Promise<TokenPair> {
    const now = Date.now();
    const accessExp = new Date(now + this.st.settingInt('access_token_ttl', 3600) * 1000);
    const refreshExp = new Date(now + this.st.settingInt('refresh_token_ttl', 1209600) * 1000);
    const sub = this.st.hash.encode(Kind.User, u.id);
    const sign = (claims: Claims, exp: Date) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub).setNotBefore(Math.floor(now / 1000)).setExpirationTime(Math.floor(exp.getTime() / 1000))
      .sign(this.key);
    return {
      access_token: await sign({ token_type: 'access' }, accessExp),
      refresh_token: await sign({ token_type: 'refresh', root_token_id: rootTokenId, state_hash: this.stateHash(u) },
        refreshExp),
      access_expires: accessExp.toISOString(),
      refresh_expires: refreshExp.toISOString(),
    };
  }

  private async verify(token: string): Promise<Claims | undefined> {
    try {
      return (await jwtVerify<Claims>(token, this.key, { algorithms: ['HS256'] })).payload;
    } catch {
      return undefined;
    }
  }

  /**
   * The caller named by an Authorization header: undefined (anonymous) for none, an HMAC "Bearer Cr" credential or
   * an invalid token; 40020 for a valid token that is not an access token; 404 for an undecodable subject; 50001 for
   * a user that is gone or not active.
   */
  async caller(header: string | undefined): Promise<UserRow | undefined> {
    if (!header || header.startsWith('Bearer Cr ')) return undefined;
    const token = header.startsWith('Bearer ') ? header.slice(7) : header;
    if (!token) return undefined;
    const claims = await this.verify(token);
    if (!claims) return undefined;
    const refreshAsAccess = claims.token_type === 'refresh' && fault(this.st.faults, 'refresh-token-as-access');
    if (claims.token_type !== 'access' && !refreshAsAccess) throw new AppError(Code.CredentialInvalid, 'Invalid token type');
    const uid = this.st.hash.decode(Kind.User, claims.sub ?? '');
    if (uid === undefined) throw new AppError(Code.NotFound, 'User not found');
    const u = this.st.users.get(uid);
    if (!u || u.status !== 'active') throw new AppError(Code.DBError, 'failed to get login user');
    return u;
  }

  /** A new pair for a valid refresh token of a live family; anything else is 40020 "Failed to issue token pair". */
  async refresh(refreshToken: unknown): Promise<TokenPair> {
    const fail = new AppError(Code.CredentialInvalid, 'Failed to issue token pair');
    const claims = typeof refreshToken === 'string' ? await this.verify(refreshToken) : undefined;
    if (!claims || claims.token_type !== 'refresh' || !claims.root_token_id) throw fail;
    const uid = this.st.hash.decode(Kind.User, claims.sub ?? '');
    const u = uid === undefined ? undefined : this.st.users.get(uid);
    if (!u || u.status !== 'active' || claims.state_hash !== this.stateHash(u)) throw fail;
    if (this.st.revokedRoots.has(claims.root_token_id)) throw fail;
    return this.issue(u, claims.root_token_id);
  }

  /** Sign-out: revokes the refresh token's whole family. */
  async revoke(refreshToken: unknown): Promise<void> {
    const claims = typeof refreshToken === 'string' ? await this.verify(refreshToken) : undefined;
    if (!claims || claims.token_type !== 'refresh' || !claims.root_token_id) {
      throw new AppError(Code.CredentialInvalid, 'Invalid refresh token');
    }
    if (!fault(this.st.faults, 'signout-keeps-refresh')) this.st.revokedRoots.add(claims.root_token_id);
  }
}
