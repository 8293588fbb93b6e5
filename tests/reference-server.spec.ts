// REF-SRV: startReference and close, the identities it registers, per-instance ids, gin's 404, and the standalone
// `npm run reference` command (one JSON line of configuration, a clean exit on SIGINT).
import { test, expect } from '@playwright/test';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReference } from '../reference/index.js';

/** Runs `fn` with os.tmpdir() pointing at `dir` (it reads TMPDIR on each call), to see what the target creates. */
async function withTmpdir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

const post = async (url: string, path: string, body: unknown, token?: string) => {
  const res = await fetch(`${url}/api/v4${path}`, { method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  return res.json() as Promise<any>;
};

test('REF-SRV-001 starts on loopback with three identities: the first registered is the admin', async () => {
  const t = await startReference();
  try {
    expect(t.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(t.version).toBe('4.18.0');
    expect(await (await fetch(`${t.url}/api/v4/site/ping`)).json()).toEqual({ code: 0, data: '4.18.0', msg: '' });
    const groups: string[] = [];
    for (const who of [t.identities.admin, t.identities.user, t.identities.user2]) {
      const r = await post(t.url, '/session/token', who);
      expect(r.code).toBe(0);
      groups.push(r.data.user.group.name);
    }
    expect(groups).toEqual(['Admin', 'User', 'User']);
    expect(new Set([t.identities.admin.password, t.identities.user.password, t.identities.user2.password]).size).toBe(3);
  } finally {
    await t.close();
  }
});

test('REF-SRV-002 close stops serving and removes its temporary data directory; a given dataDir is kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reference-test-'));
  try {
    const t = await withTmpdir(dir, () => startReference({ createIdentities: false }));
    expect(readdirSync(dir).filter((n) => n.startsWith('cloudreve-reference-'))).toHaveLength(1);
    await t.close();
    await t.close(); // idempotent
    expect(readdirSync(dir)).toEqual([]);
    await expect(fetch(`${t.url}/api/v4/site/ping`)).rejects.toThrow();

    const kept = await startReference({ dataDir: dir });
    await kept.close();
    expect(existsSync(dir)).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('REF-SRV-003 ids are hashids salted per instance; unknown routes get gin\'s plain-text 404', async () => {
  const [a, b] = await Promise.all([startReference(), startReference()]);
  try {
    const idA = (await post(a.url, '/session/token', a.identities.admin)).data.user.id;
    const idB = (await post(b.url, '/session/token', b.identities.admin)).data.user.id;
    expect(idA).not.toBe(idB); // both are user 1
    const res = await fetch(`${a.url}/api/v4/no/such/route`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('404 page not found');
    // A body the server cannot bind is a parameter error with no correlation_id; other errors carry one.
    expect(await (await fetch(`${a.url}/api/v4/session/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })).json())
      .toEqual({ code: 40001, msg: 'Parameter error' });
    const hinted = '0d7f6a3e-9a51-4c2b-8f4e-2a1b3c4d5e6f';
    const anon = await (await fetch(`${a.url}/api/v4/user/me`, { headers: { 'X-Cr-Correlation-Id': hinted } })).json();
    expect(anon).toEqual({ code: 401, msg: 'Login required', correlation_id: hinted });
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('REF-SRV-004 an occupied port is an error and leaves nothing behind', async () => {
  const a = await startReference({ createIdentities: false });
  const dir = mkdtempSync(join(tmpdir(), 'reference-test-'));
  try {
    const port = Number(new URL(a.url).port);
    await expect(withTmpdir(dir, () => startReference({ port }))).rejects.toThrow();
    expect(readdirSync(dir)).toEqual([]);
  } finally {
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('REF-SRV-005 the standalone command (tools/reference.ts) prints one JSON line of configuration and exits cleanly on SIGINT', async () => {
  test.setTimeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'reference-test-'));
  // The child's V8 coverage goes to its own temporary folder, not npm test's: tsx compiles the harness files it loads
  // differently from Playwright's transform, and c8 merging both compilations of one file by byte offset reports
  // nonsense for it. (Node copies the parent's NODE_V8_COVERAGE into a child's env unless the env names one.)
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/reference.ts', '--port', '0'],
    { cwd: new URL('..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: dir, NODE_V8_COVERAGE: join(dir, 'v8-coverage') } });
  try {
    await standalone(child, dir);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

async function standalone(child: ReturnType<typeof spawn>, dir: string): Promise<void> {
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  const config = JSON.parse(line);
  expect(Object.keys(config).sort()).toEqual(['CLOUDREVE_ADMIN_EMAIL', 'CLOUDREVE_ADMIN_PASSWORD', 'CLOUDREVE_EMAIL',
    'CLOUDREVE_EMAIL_2', 'CLOUDREVE_PASSWORD', 'CLOUDREVE_PASSWORD_2', 'CLOUDREVE_SLAVE_SECRET', 'CLOUDREVE_SLAVE_URL',
    'CLOUDREVE_URL']);
  const login = await post(config.CLOUDREVE_URL, '/session/token', { email: config.CLOUDREVE_EMAIL, password: config.CLOUDREVE_PASSWORD });
  expect(login.code).toBe(0);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  child.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(out.trim().split('\n')).toHaveLength(1);
  await expect(fetch(`${config.CLOUDREVE_URL}/api/v4/site/ping`)).rejects.toThrow();
  // Its data directory is gone (tsx keeps its own cache there).
  expect(readdirSync(dir).filter((n) => n.startsWith('cloudreve-reference-'))).toEqual([]);
}
