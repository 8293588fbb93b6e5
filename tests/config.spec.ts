// CT-CFG: configuration errors are one clear message; an unreachable target, a web server that is not Cloudreve and a
// wrong password are each reported once, within 10 s, before any test runs.
import { test, expect } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError, loadConfig } from '../harness/config.js';
import { PreflightError, preflight } from '../harness/preflight.js';

const dir = () => mkdtempSync(join(tmpdir(), 'crc-config-'));

test.describe('loadConfig', () => {
  test('CT-CFG-001 no configuration means the embedded target', () => {
    expect(loadConfig({ env: {}, cwd: dir() })).toMatchObject({ kind: 'embedded' });
  });

  test('CT-CFG-002 the environment, then .env, then conformance.config.json', () => {
    const cwd = dir();
    writeFileSync(join(cwd, '.env'), 'CLOUDREVE_URL=http://from-dotenv:5212\nCLOUDREVE_EMAIL=dot@x.test\nCLOUDREVE_PASSWORD=dotpass\n');
    writeFileSync(join(cwd, 'conformance.config.json'), JSON.stringify({ CLOUDREVE_URL: 'http://from-file:5212', CLOUDREVE_EMAIL_2: 'two@x.test', CLOUDREVE_PASSWORD_2: 'twopass' }));
    const c = loadConfig({ env: { CLOUDREVE_URL: 'http://from-env:5212/' }, cwd });
    expect(c).toMatchObject({ kind: 'live', url: 'http://from-env:5212', user: { email: 'dot@x.test' }, user2: { email: 'two@x.test' } });
    expect(c.sources).toMatchObject({ CLOUDREVE_URL: 'the environment', CLOUDREVE_EMAIL: '.env', CLOUDREVE_EMAIL_2: 'conformance.config.json' });
  });

  const bad: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['a URL that is not one', { CLOUDREVE_URL: 'not a url', CLOUDREVE_EMAIL: 'a@b.c', CLOUDREVE_PASSWORD: 'pw-Secret-1234' }, /CLOUDREVE_URL .* is not a URL/],
    ['the API URL instead of the site URL', { CLOUDREVE_URL: 'http://h/api/v4', CLOUDREVE_EMAIL: 'a@b.c', CLOUDREVE_PASSWORD: 'pw-Secret-1234' }, /without \/api\/v4/],
    ['a password without its email', { CLOUDREVE_URL: 'http://h', CLOUDREVE_PASSWORD: 'pw-Secret-1234' }, /CLOUDREVE_PASSWORD is set .* but CLOUDREVE_EMAIL is not/],
    ['identities without a URL', { CLOUDREVE_EMAIL: 'a@b.c', CLOUDREVE_PASSWORD: 'pw-Secret-1234' }, /but CLOUDREVE_URL is not/],
    ['a live URL without any identity', { CLOUDREVE_URL: 'http://h' }, /needs CLOUDREVE_ADMIN_EMAIL/],
    ['an unknown policy type', { CLOUDREVE_POLICIES: 'local,dropbox' }, /unknown policy type\(s\) dropbox/],
  ];
  for (const [what, env, message] of bad) {
    test(`CT-CFG-003 ${what} is a ConfigError`, () => {
      const err = (() => { try { loadConfig({ env, cwd: dir() }); } catch (e) { return e; } })() as Error;
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain('pw-Secret-1234'); // never echoes a password value
    });
  }

  test('CT-CFG-004 a misspelt key in conformance.config.json is refused', () => {
    const cwd = dir();
    writeFileSync(join(cwd, 'conformance.config.json'), JSON.stringify({ CLOUDREVE_URL: 'http://h', CLOUDREVE_EMIAL: 'a@b.c' }));
    expect(() => loadConfig({ env: {}, cwd })).toThrow(/unknown key\(s\) CLOUDREVE_EMIAL/);
  });
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function closedPort(): Promise<string> {
  const { url, server } = await listen(() => {});
  await new Promise((r) => server.close(r));
  return url;
}

async function preflightError(url: string, password = 'pw'): Promise<{ message: string; ms: number }> {
  const started = Date.now();
  const err = await preflight({ kind: 'live', url, user: { email: 'a@conformance.test', password }, sources: {} }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PreflightError);
  return { message: (err as Error).message, ms: Date.now() - started };
}

test.describe('preflight', () => {
  test('CT-CFG-010 a closed port: connection refused, within 10 s', async () => {
    const url = await closedPort();
    const { message, ms } = await preflightError(url);
    expect(message).toContain(`cannot reach ${url}/api/v4/site/ping: connection refused`);
    expect(ms).toBeLessThan(10_000);
  });

  test('CT-CFG-011 a web server that is not Cloudreve: says what it answered, within 10 s', async () => {
    const { url, server } = await listen((_req, res) => { res.setHeader('content-type', 'text/html'); res.end('<html><h1>Welcome to nginx!</h1></html>'); });
    try {
      const { message, ms } = await preflightError(url);
      expect(message).toContain(`${url} does not look like a Cloudreve server: GET /api/v4/site/ping answered HTTP 200 text/html: <html><h1>Welcome to nginx!`);
      expect(ms).toBeLessThan(10_000);
    } finally { server.close(); }
  });

  test('CT-CFG-012 a server that never answers: a timeout message within 10 s', async () => {
    const { url, server } = await listen(() => { /* stall */ });
    try {
      const { message, ms } = await preflightError(url);
      expect(message).toMatch(/no answer from .* within/);
      expect(ms).toBeLessThan(10_000);
    } finally { server.closeAllConnections(); server.close(); }
  });

  test('CT-CFG-013 a wrong password: sign-in refused, naming the key, never the password', async () => {
    const { startReference } = await import('../reference/index.js');
    const ref = await startReference({ port: 0 });
    try {
      const { message, ms } = await preflightError(ref.url, 'definitely-not-the-password');
      expect(message).toContain('sign-in of CLOUDREVE_EMAIL (a@conformance.test) failed: wrong email or password');
      expect(message).not.toContain('definitely-not-the-password');
      expect(ms).toBeLessThan(10_000);
    } finally { await ref.close(); }
  });

  test('CT-CFG-014 a Cloudreve that is not v4 is refused', async () => {
    const { url, server } = await listen((_req, res) => { res.setHeader('content-type', 'application/json'); res.end('{"code":0,"data":"3.8.3","msg":""}'); });
    try {
      expect((await preflightError(url)).message).toContain('is Cloudreve "3.8.3", not v4');
    } finally { server.close(); }
  });
});

test('CT-CFG-020 `npx playwright test` against a closed port prints one clear message and runs no test', async () => {
  test.setTimeout(60_000);
  const url = await closedPort();
  const started = Date.now();
  const res = spawnSync(process.execPath, ['node_modules/@playwright/test/cli.js', 'test', '--reporter=line'], {
    encoding: 'utf8', timeout: 50_000,
    env: { ...process.env, CLOUDREVE_URL: url, CLOUDREVE_EMAIL: 'a@conformance.test', CLOUDREVE_PASSWORD: 'pw', CI: '' },
  });
  const out = res.stdout + res.stderr;
  expect(res.status).not.toBe(0);
  expect(out).toContain('connection refused');
  expect(out.match(/connection refused/g)!.length).toBe(1);
  expect(out).not.toMatch(/\d+ passed|\d+ failed/);
  console.log(`closed port: whole run ended in ${Date.now() - started} ms`);
});
