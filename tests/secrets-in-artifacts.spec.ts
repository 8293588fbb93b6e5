// CT-SEC: a suite run leaves no secret in any artifact — reports (list, JSON, JUnit, HTML), attachments, traces, leak
// audits, admin journals. The run signs in, changes an admin setting, and fails on purpose with a contract violation
// (so error messages, curl reproductions and attachments are produced); then every file is searched for the
// passwords of the identities and for anything shaped like a JWT.
import { test, expect } from '@playwright/test';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const JWT = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/;

const LEAKY_SPEC = `
import { test, expect } from '${root}/fixtures/target.js';
import { createCloudreveClient } from '${root}/harness/client/index.js';

test('signs in, changes a setting, reads capacity', async ({ user, adminSettings }) => {
  await adminSettings.setSettings({ upload_session_timeout: '3600' });
  const res = await user.GET('/user/capacity');
  expect(res.response.status).toBe(200);
});

test('fails on purpose with a request that breaks the contract', async ({ makeTransport, sessions, target }) => {
  const client = createCloudreveClient({ siteUrl: target.url, fetch: makeTransport() });
  sessions.user!.attach(client);
  console.log('about to send a broken request');
  await client.PUT('/file/upload', { body: { uri: 'cloudreve://my/x.bin', size: 'ten' as unknown as number, policy_id: '' } });
});
`;

function run(cmd: string, args: string[], options: { cwd: string; timeout: number; env: NodeJS.ProcessEnv }):
  Promise<{ stdout: string; stderr: string; status: number | null }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the run did not end within ${options.timeout} ms`)); }, options.timeout);
    child.on('close', (status) => { clearTimeout(timer); resolvePromise({ stdout, stderr, status }); });
  });
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Text of a file as the reader of an artifact would see it: zips (traces, the HTML report's data) unpacked. */
function contents(path: string): string[] {
  const raw = readFileSync(path);
  const out = [raw.toString('utf8')];
  const unzip = (zipPath: string) => {
    const r = spawnSync('unzip', ['-p', zipPath], { maxBuffer: 256 * 1024 * 1024 });
    if (r.error) throw new Error(`unzip is needed to read ${zipPath}: ${r.error.message}`);
    out.push(r.stdout.toString('utf8'));
  };
  if (raw.subarray(0, 2).toString() === 'PK') unzip(path);
  // The HTML report carries its data as a base64 zip inside index.html.
  for (const m of out[0]!.matchAll(/data:application\/zip;base64,([A-Za-z0-9+/=]+)/g)) {
    const tmp = join(mkdtempSync(join(tmpdir(), 'crc-zip-')), 'report.zip');
    writeFileSync(tmp, Buffer.from(m[1]!, 'base64'));
    unzip(tmp);
  }
  // JSON reports carry attachment bodies in base64.
  for (const m of out[0]!.matchAll(/"body":\s*"([A-Za-z0-9+/=]{16,})"/g)) out.push(Buffer.from(m[1]!, 'base64').toString('utf8'));
  return out;
}

test('CT-SEC-001 no password or token in any artifact of a run', async () => {
  test.setTimeout(120_000);
  const { startReference } = await import('../reference/index.js');
  const ref = await startReference({ port: 0 });
  const work = mkdtempSync(join(tmpdir(), 'crc-secrets-'));
  try {
    mkdirSync(join(work, 'specs', 'contract'), { recursive: true });
    writeFileSync(join(work, 'package.json'), '{"type":"module"}'); // load the spec as ESM, like the project's
    writeFileSync(join(work, 'specs', 'contract', 'leaky.spec.ts'), LEAKY_SPEC);
    const { admin, user, user2 } = ref.identities;
    // Asynchronous: the reference target answers from this process's event loop while the run goes on.
    const res = await run(process.execPath, [join(root, 'node_modules/@playwright/test/cli.js'), 'test', '--trace=on',
      `--output=${join(work, 'results')}`, '--reporter=list,json,junit,html', '--workers=1', '--project=contract'], {
      cwd: root, timeout: 110_000,
      env: { ...process.env, CI: '', CONFORMANCE_SPECS_DIR: join(work, 'specs'), CONFORMANCE_REPORTS_DIR: join(work, 'reports'),
        PLAYWRIGHT_JSON_OUTPUT_NAME: join(work, 'reports', 'run.json'), PLAYWRIGHT_JUNIT_OUTPUT_NAME: join(work, 'reports', 'run.xml'),
        PLAYWRIGHT_HTML_OUTPUT_DIR: join(work, 'reports', 'html-cli'),
        CLOUDREVE_URL: ref.url, CLOUDREVE_ADMIN_EMAIL: admin.email, CLOUDREVE_ADMIN_PASSWORD: admin.password,
        CLOUDREVE_EMAIL: user.email, CLOUDREVE_PASSWORD: user.password, CLOUDREVE_EMAIL_2: user2.email, CLOUDREVE_PASSWORD_2: user2.password },
    });
    const console_ = res.stdout + res.stderr;
    writeFileSync(join(work, 'console.txt'), console_);
    expect(console_, 'the run produced its deliberate failure').toContain('1 failed');
    expect(console_).toContain('request_body_schema');
    const secrets = [admin.password, user.password, user2.password];
    const files = walk(work);
    const leaks: string[] = [];
    for (const f of files) {
      for (const text of contents(f)) {
        for (const s of secrets) if (text.includes(s)) leaks.push(`${f}: a password`);
        const jwt = JWT.exec(text);
        if (jwt) leaks.push(`${f}: a JWT (${jwt[0].slice(0, 12)}…)`);
      }
    }
    console.log(`searched ${files.length} artifacts of the run (console, reports, attachments, traces)`);
    expect(files.length).toBeGreaterThan(5);
    expect([...new Set(leaks)]).toEqual([]);
  } finally {
    await ref.close();
  }
});
