// The typed Cloudreve client: openapi-fetch over the validating transport, one client per identity. Every call it
// makes is checked against the contract on the way out and on the way back.
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from '../../contracts/generated/api.js';
import { Code, codeName } from '../../contracts/generated/error-codes.js';
import { registerSecret } from '../secrets.js';

export type CloudreveClient = Client<paths>;
export type Schemas = components['schemas'];
type Envelope = { code: number; msg: string; data?: unknown; correlation_id?: string; error?: string };

export interface ClientOptions {
  /** The site URL, e.g. http://127.0.0.1:5212 (the client adds /api/v4). */
  siteUrl: string;
  /** The transport: validatingFetch(...) in the harness. */
  fetch: (input: Request) => Promise<Response>;
}

export function apiBase(siteUrl: string): string {
  return `${siteUrl.replace(/\/+$/, '')}/api/v4`;
}

export function createCloudreveClient({ siteUrl, fetch }: ClientOptions): CloudreveClient {
  return createClient<paths>({ baseUrl: apiBase(siteUrl), fetch });
}

/** A failed API call: the envelope's code (named from the catalog), msg and correlation_id. */
export class CloudreveError extends Error {
  readonly code: number;
  readonly correlationId?: string;
  readonly status: number;
  constructor(operation: string, status: number, body: Envelope | undefined) {
    const code = body?.code ?? -1;
    const name = codeName[code] ?? 'unknown code';
    super(`${operation}: HTTP ${status}, code ${code} (${name})${body?.msg ? ` "${body.msg}"` : ''}` +
      `${body?.correlation_id ? ` correlation_id=${body.correlation_id}` : ''}`);
    this.name = 'CloudreveError';
    this.code = code;
    this.status = status;
    this.correlationId = body?.correlation_id;
  }
}

/** The `data` of a successful envelope; throws CloudreveError for any other answer. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }, operation: string):
  Extract<T, { code: 0 }> extends { data: infer D } ? D : never {
  const body = (result.data ?? result.error) as Envelope | undefined;
  if (!result.response.ok || !body || body.code !== Code.Success) throw new CloudreveError(operation, result.response.status, body);
  return body.data as any;
}

export interface Credentials {
  email: string;
  password: string;
}

type Token = Schemas['Token'];

/**
 * A signed-in identity: logs in with a password, adds the access token to every request of its client, refreshes it
 * shortly before it expires, and signs out.
 */
export class AuthSession {
  private token: Token | undefined;
  private refreshing: Promise<Token> | undefined;
  user: Schemas['User'] | undefined;
  /** Refresh when the access token has less than this left (ms). */
  static refreshMargin = 60_000;

  constructor(readonly client: CloudreveClient, readonly credentials: Credentials) {
    registerSecret(credentials.password);
    this.attach(client);
  }

  /** Makes `other` send this identity's access token (refreshed through this session's own client when due). */
  attach(other: CloudreveClient): void {
    const middleware: Middleware = {
      onRequest: async ({ request, schemaPath }) => {
        if (!this.token || schemaPath.startsWith('/session/token')) return request;
        if (Date.parse(this.token.access_expires) - Date.now() < AuthSession.refreshMargin) await this.refresh();
        request.headers.set('Authorization', `Bearer ${this.token.access_token}`);
        return request;
      },
    };
    other.use(middleware);
  }

  get accessToken(): string | undefined { return this.token?.access_token; }
  get refreshToken(): string | undefined { return this.token?.refresh_token; }

  async login(): Promise<Schemas['LoginResponse']> {
    const res = await this.client.POST('/session/token', { body: { email: this.credentials.email, password: this.credentials.password } });
    const data = unwrap(res, 'login') as Schemas['LoginResponse'];
    this.adopt(data.token);
    this.user = data.user;
    return data;
  }

  async refresh(): Promise<Token> {
    if (!this.token) throw new Error('refresh before login');
    // Concurrent requests near expiry share one refresh: a second one would spend an already used refresh token.
    this.refreshing ??= (async () => {
      try {
        const res = await this.client.POST('/session/token/refresh', { body: { refresh_token: this.token!.refresh_token } });
        this.adopt(unwrap(res, 'refresh token') as Token);
        return this.token!;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  async logout(): Promise<void> {
    if (!this.token) return;
    const res = await this.client.DELETE('/session/token', { body: { refresh_token: this.token.refresh_token } });
    unwrap(res, 'logout');
    this.token = undefined;
  }

  private adopt(token: Token): void {
    registerSecret(token.access_token);
    registerSecret(token.refresh_token);
    this.token = token;
  }
}

/** Registers an account (POST /user). On a fresh server the first account becomes the admin. */
export async function register(client: CloudreveClient, credentials: Credentials): Promise<Schemas['User']> {
  registerSecret(credentials.password);
  const res = await client.POST('/user', { body: { email: credentials.email, password: credentials.password } });
  return unwrap(res, 'register') as Schemas['User'];
}
