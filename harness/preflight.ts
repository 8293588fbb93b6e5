// Before any test runs against a live target: is it reachable, is it Cloudreve v4, do the configured identities sign
// in? Each failure is one clear message, within a 10 s budget, instead of a cascade of failed tests.
import type { TargetConfig, Credentials } from './config.js';
import { apiBase } from './client/index.js';
import { redact } from './secrets.js';
import { Code } from '../contracts/generated/error-codes.js';

export class PreflightError extends Error {
  constructor(message: string) {
    super(redact(message));
    this.name = 'PreflightError';
    this.stack = `${this.name}: ${this.message}`; // the message is the whole story; no code frame

  }
}

export interface PreflightResult { version: string; edition: 'community' | 'pro' }

const PER_REQUEST_MS = 5_000;

async function call(url: string, init: RequestInit, what: string, deadline: number): Promise<{ status: number; type: string; text: string }> {
  const left = Math.max(500, Math.min(PER_REQUEST_MS, deadline - Date.now()));
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(left) });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError') throw new PreflightError(`${what}: no answer from ${url} within ${(left / 1000).toFixed(1)} s (is the server up and not blocked by a firewall?)`);
    const code = err.cause?.code;
    const reason = code === 'ECONNREFUSED' ? 'connection refused (nothing listens there: is Cloudreve running, and is CLOUDREVE_URL right?)'
      : code === 'ENOTFOUND' ? 'host name not found (check CLOUDREVE_URL)'
      : code === 'ECONNRESET' ? 'connection reset by the server'
      : `${err.cause?.message ?? err.message}`;
    throw new PreflightError(`${what}: cannot reach ${url}: ${reason}`);
  }
  let text: string;
  try { text = await res.text(); } catch (e) { throw new PreflightError(`${what}: ${url} broke off its answer: ${(e as Error).message}`); }
  return { status: res.status, type: res.headers.get('content-type') ?? '', text };
}

function envelope(r: { status: number; type: string; text: string }): { code?: unknown; data?: unknown; msg?: unknown } | undefined {
  try {
    const v = JSON.parse(r.text);
    return v && typeof v === 'object' && 'code' in v ? v : undefined;
  } catch { return undefined; }
}

function snippet(text: string): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > 120 ? `${s.slice(0, 120)}…` : s || '(empty body)';
}

/** Pings the target and signs every configured identity in; throws PreflightError with one clear message. */
export async function preflight(config: TargetConfig, budgetMs = 10_000): Promise<PreflightResult> {
  if (!config.url) throw new PreflightError('preflight needs a live target (CLOUDREVE_URL)');
  const deadline = Date.now() + budgetMs;
  const base = apiBase(config.url);
  const ping = await call(`${base}/site/ping`, {}, 'GET /api/v4/site/ping', deadline);
  const body = envelope(ping);
  if (!body || body.code !== Code.Success || typeof body.data !== 'string') {
    throw new PreflightError(`${config.url} does not look like a Cloudreve server: GET /api/v4/site/ping answered HTTP ${ping.status} ` +
      `${ping.type || 'without Content-Type'}: ${snippet(ping.text)}`);
  }
  const version = body.data;
  if (!/^4\.\d+\.\d+/.test(version)) {
    throw new PreflightError(`${config.url} is Cloudreve "${version}", not v4: this suite tests Cloudreve v4 (4.0.0 and later)`);
  }
  const identities: [string, Credentials | undefined][] = [
    ['CLOUDREVE_ADMIN_EMAIL', config.admin], ['CLOUDREVE_EMAIL', config.user], ['CLOUDREVE_EMAIL_2', config.user2]];
  for (const [key, cred] of identities) {
    if (!cred) continue;
    const r = await call(`${base}/session/token`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: cred.email, password: cred.password }) }, `sign-in of ${key}`, deadline);
    const login = envelope(r);
    if (!login) throw new PreflightError(`sign-in of ${key} (${cred.email}): not a Cloudreve answer: HTTP ${r.status} ${snippet(r.text)}`);
    if (login.code !== Code.Success) {
      const why = login.code === Code.InvalidPassword ? 'wrong email or password' : login.code === Code.NotFullySuccess ? 'the account has two-factor authentication on (not supported)'
        : login.code === Code.CaptchaError || login.code === Code.CaptchaRefreshNeeded ? 'the site asks for a captcha at sign-in (turn login_captcha off for the test run)'
        : `code ${String(login.code)} "${String(login.msg ?? '')}"`;
      throw new PreflightError(`sign-in of ${key} (${cred.email}) failed: ${why}`);
    }
    if (key === 'CLOUDREVE_ADMIN_EMAIL') {
      // Admin rights are what the admin API grants, whatever the group is called.
      const token = (login.data as { token?: { access_token?: string } }).token?.access_token ?? '';
      const probe = envelope(await call(`${base}/admin/settings`, { method: 'POST', headers: { 'content-type': 'application/json',
        authorization: `Bearer ${token}` }, body: JSON.stringify({ keys: ['siteName'] }) }, 'admin check of CLOUDREVE_ADMIN_EMAIL', deadline));
      if (probe?.code !== Code.Success) {
        throw new PreflightError(`CLOUDREVE_ADMIN_EMAIL (${cred.email}) signed in but the admin API refused it (code ${String(probe?.code)}): is it in the Admin group?`);
      }
    }
  }
  return { version, edition: version.endsWith('-pro') ? 'pro' : 'community' };
}
