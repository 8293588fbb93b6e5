// Target configuration: environment variables (a .env file is read), or the same keys in conformance.config.json.
// No configuration at all means the embedded reference target. Errors are ConfigError with one clear message.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';

export const CONFIG_KEYS = ['CLOUDREVE_URL', 'CLOUDREVE_ADMIN_EMAIL', 'CLOUDREVE_ADMIN_PASSWORD', 'CLOUDREVE_EMAIL',
  'CLOUDREVE_PASSWORD', 'CLOUDREVE_EMAIL_2', 'CLOUDREVE_PASSWORD_2', 'CLOUDREVE_POLICIES', 'CLOUDREVE_SLAVE_URL',
  'CLOUDREVE_SLAVE_SECRET'] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

export const POLICY_TYPES = ['local', 'remote', 'relay', 's3', 'ks3', 'oss', 'cos', 'obs', 'onedrive', 'qiniu', 'upyun'] as const;
export type PolicyType = (typeof POLICY_TYPES)[number];

export interface Credentials { email: string; password: string }

export interface TargetConfig {
  /** 'embedded': no configuration, the reference target runs in-process; 'live': CLOUDREVE_URL names a deployment. */
  kind: 'embedded' | 'live';
  url?: string;
  admin?: Credentials;
  user?: Credentials;
  user2?: Credentials;
  policies?: PolicyType[];
  /** A slave node for the remote policy (registered by the harness with the admin identity). */
  slave?: { url: string; secret: string };
  /** Where each key came from, for messages (never the values). */
  sources: Partial<Record<ConfigKey, string>>;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(`Configuration error: ${message}\n(See README.md › Configuration. With no configuration at all the suite runs against the embedded reference target.)`);
    this.name = 'ConfigError';
    this.stack = `${this.name}: ${this.message}`; // the message is the whole story; no code frame
  }
}

export interface ConfigSources { env?: NodeJS.ProcessEnv; cwd?: string }

/** Reads and checks the configuration. Precedence: process environment, then .env, then conformance.config.json. */
export function loadConfig({ env = process.env, cwd = process.cwd() }: ConfigSources = {}): TargetConfig {
  const values: Partial<Record<ConfigKey, string>> = {};
  const sources: Partial<Record<ConfigKey, string>> = {};
  const take = (from: Record<string, unknown>, label: string) => {
    for (const key of CONFIG_KEYS) {
      const v = from[key];
      if (values[key] !== undefined || v === undefined || v === '') continue;
      if (typeof v !== 'string') throw new ConfigError(`${key} in ${label} must be a string, got ${typeof v}`);
      values[key] = v.trim();
      sources[key] = label;
    }
  };
  take(env as Record<string, unknown>, 'the environment');
  const dotenv = join(cwd, '.env');
  if (existsSync(dotenv)) take(parseEnv(readFileSync(dotenv, 'utf8')), '.env');
  const file = join(cwd, 'conformance.config.json');
  if (existsSync(file)) {
    let parsed: unknown;
    try { parsed = JSON.parse(readFileSync(file, 'utf8')); } catch (e) {
      throw new ConfigError(`conformance.config.json is not valid JSON: ${(e as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('conformance.config.json must hold one JSON object');
    const unknown = Object.keys(parsed).filter((k) => !(CONFIG_KEYS as readonly string[]).includes(k));
    if (unknown.length) throw new ConfigError(`conformance.config.json has unknown key(s) ${unknown.join(', ')}; known keys: ${CONFIG_KEYS.join(', ')}`);
    take(parsed as Record<string, unknown>, 'conformance.config.json');
  }

  const pair = (emailKey: ConfigKey, passwordKey: ConfigKey): Credentials | undefined => {
    const email = values[emailKey];
    const password = values[passwordKey];
    if (!email && !password) return undefined;
    if (!email) throw new ConfigError(`${passwordKey} is set (${sources[passwordKey]}) but ${emailKey} is not`);
    if (!password) throw new ConfigError(`${emailKey} is set (${sources[emailKey]}) but ${passwordKey} is not`);
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new ConfigError(`${emailKey} (${sources[emailKey]}) is not an email address`);
    return { email, password };
  };
  const admin = pair('CLOUDREVE_ADMIN_EMAIL', 'CLOUDREVE_ADMIN_PASSWORD');
  const user = pair('CLOUDREVE_EMAIL', 'CLOUDREVE_PASSWORD');
  const user2 = pair('CLOUDREVE_EMAIL_2', 'CLOUDREVE_PASSWORD_2');
  let policies: PolicyType[] | undefined;
  if (values.CLOUDREVE_POLICIES) {
    const list = values.CLOUDREVE_POLICIES.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const bad = list.filter((p) => !(POLICY_TYPES as readonly string[]).includes(p));
    if (bad.length) throw new ConfigError(`CLOUDREVE_POLICIES names unknown policy type(s) ${bad.join(', ')}; known: ${POLICY_TYPES.join(', ')}`);
    policies = list as PolicyType[];
  }

  let slave: TargetConfig['slave'];
  if (values.CLOUDREVE_SLAVE_URL || values.CLOUDREVE_SLAVE_SECRET) {
    if (!values.CLOUDREVE_SLAVE_URL || !values.CLOUDREVE_SLAVE_SECRET) throw new ConfigError('CLOUDREVE_SLAVE_URL and CLOUDREVE_SLAVE_SECRET go together');
    try { new URL(values.CLOUDREVE_SLAVE_URL); } catch { throw new ConfigError(`CLOUDREVE_SLAVE_URL is not a URL: "${values.CLOUDREVE_SLAVE_URL}"`); }
    slave = { url: values.CLOUDREVE_SLAVE_URL.replace(/\/+$/, ''), secret: values.CLOUDREVE_SLAVE_SECRET };
  }

  if (!values.CLOUDREVE_URL) {
    const stray = CONFIG_KEYS.filter((k) => k !== 'CLOUDREVE_POLICIES' && values[k] !== undefined);
    if (stray.length) throw new ConfigError(`${stray.join(', ')} set (${stray.map((k) => sources[k]).join(', ')}) but CLOUDREVE_URL is not: name the deployment to test`);
    return { kind: 'embedded', policies, sources };
  }
  let url: URL;
  try { url = new URL(values.CLOUDREVE_URL); } catch {
    throw new ConfigError(`CLOUDREVE_URL (${sources.CLOUDREVE_URL}) is not a URL: "${values.CLOUDREVE_URL}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`CLOUDREVE_URL must be http(s), got ${url.protocol}`);
  if (url.search || url.hash) throw new ConfigError('CLOUDREVE_URL must be the site URL without query or fragment');
  if (url.pathname.replace(/\/+$/, '').endsWith('/api/v4')) throw new ConfigError('CLOUDREVE_URL is the site URL, without /api/v4');
  if (!user && !admin) {
    throw new ConfigError('a live run needs CLOUDREVE_ADMIN_EMAIL/CLOUDREVE_ADMIN_PASSWORD (the harness then creates its own users) ' +
      'or CLOUDREVE_EMAIL/CLOUDREVE_PASSWORD (and _2 for cross-user checks)');
  }
  return { kind: 'live', url: url.toString().replace(/\/+$/, ''), admin, user, user2, policies, slave, sources };
}

/** Where the suite writes its reports, leak audits and admin journals (CONFORMANCE_REPORTS_DIR, default reports/). */
export function reportsDir(): string {
  return process.env.CONFORMANCE_REPORTS_DIR ?? 'reports';
}

/**
 * Response header by which the embedded reference target says what it is (also over a socket, `npm run reference`):
 * it answers as the contract says, so no real version's deviation list applies to it.
 */
export const REFERENCE_HEADER = 'x-cloudreve-conformance-reference';
