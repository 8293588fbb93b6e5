// moto's server (PyPI `moto[server]`), a second, independent S3 implementation the S3 emulator is compared with
// (tests/cloud-s3-moto.spec.ts). Installed into a project-local Python venv, `.cache/moto-venv`, pinned to one exact
// version; started on a free loopback port with a readiness wait, stopped with SIGTERM then SIGKILL. Nothing here
// waits without a time limit.
//
//   tsx tools/moto.ts install   pre-installs (CI's install step); prints the version and the python it runs under
//   tsx tools/moto.ts check     prints where moto is, or why not (exit 1)
//   tsx tools/moto.ts serve     starts a server and prints its URL until Ctrl-C
//
// MOTO_PYTHON=/path/to/python uses an interpreter that already has moto[server] at the pinned version instead of
// the venv (nothing is installed into it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The pinned moto release (newest on PyPI that installs under this machine's python3, 3.11). */
export const MOTO_VERSION = '5.2.5';
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const MOTO_VENV = join(PROJECT_ROOT, '.cache', 'moto-venv');
const LOCK_DIR = `${MOTO_VENV}.lock`;
const venvPython = () => join(MOTO_VENV, process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');

export interface MotoInstallation { python: string; version: string; source: 'venv' | 'MOTO_PYTHON' }

interface RunResult { code: number | null; stdout: string; stderr: string; error?: string }

/** Runs a command with a hard time limit; never rejects. */
function run(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    } catch (e) {
      resolve({ code: null, stdout, stderr, error: (e as Error).message });
      return;
    }
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (e) => { clearTimeout(timer); resolve({ code: null, stdout, stderr, error: e.message }); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, error: timedOut ? `timed out after ${timeoutMs} ms` : undefined });
    });
  });
}

const tail = (s: string, n = 1500) => (s.length > n ? `…${s.slice(-n)}` : s).trim();

/** moto's version under `python` if moto and its server extras (flask, werkzeug) import there, else undefined. */
async function motoVersionOf(python: string): Promise<string | undefined> {
  if (!existsSync(python)) return undefined;
  const r = await run(python, ['-c', 'import moto, moto.server, flask, flask_cors; print(moto.__version__)'], 60_000);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Where a usable moto is (pinned version, server extras importable), or undefined. Installs nothing. */
export async function findMoto(): Promise<MotoInstallation | undefined> {
  const override = process.env.MOTO_PYTHON;
  if (override) {
    const v = await motoVersionOf(override);
    return v === MOTO_VERSION ? { python: override, version: v, source: 'MOTO_PYTHON' } : undefined;
  }
  const v = await motoVersionOf(venvPython());
  return v === MOTO_VERSION ? { python: venvPython(), version: v, source: 'venv' } : undefined;
}

/** A cross-process lock (mkdir is atomic): parallel test workers must not build the venv twice at once. */
async function withLock<T>(fn: () => Promise<T>, waitMs: number): Promise<T> {
  mkdirSync(join(PROJECT_ROOT, '.cache'), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      break;
    } catch {
      // A lock older than the longest install is left over from a killed process.
      try { if (Date.now() - statSync(LOCK_DIR).mtimeMs > 10 * 60_000) { rmSync(LOCK_DIR, { recursive: true, force: true }); continue; } } catch { continue; }
      if (Date.now() > deadline) throw new Error(`moto: waited ${waitMs} ms for another install to finish (${LOCK_DIR})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try { return await fn(); } finally { rmSync(LOCK_DIR, { recursive: true, force: true }); }
}

/**
 * Finds moto or installs it: `python3 -m venv .cache/moto-venv` and `pip install moto[server]==MOTO_VERSION` there.
 * Rejects with a message that says what is missing (no python3, no venv module, pip could not reach the index …).
 */
export async function ensureMoto(opts: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<MotoInstallation> {
  const found = await findMoto();
  if (found) return found;
  if (process.env.MOTO_PYTHON) {
    throw new Error(`moto: MOTO_PYTHON=${process.env.MOTO_PYTHON} has no moto[server]==${MOTO_VERSION} (install it there or unset MOTO_PYTHON)`);
  }
  const timeoutMs = opts.timeoutMs ?? 8 * 60_000;
  const log = opts.log ?? (() => undefined);
  return withLock(async () => {
    const again = await findMoto(); // another process may have installed it while this one waited
    if (again) return again;
    const base = process.env.PYTHON ?? 'python3';
    const probe = await run(base, ['-c', 'import sys, venv; print(sys.version.split()[0])'], 30_000);
    if (probe.code !== 0) {
      throw new Error(`moto: cannot install: \`${base}\` with the venv module is not available (${probe.error ?? tail(probe.stderr)})`);
    }
    log(`moto: creating ${MOTO_VENV} with ${base} ${probe.stdout.trim()}`);
    if (!existsSync(venvPython())) {
      rmSync(MOTO_VENV, { recursive: true, force: true });
      const venv = await run(base, ['-m', 'venv', MOTO_VENV], 120_000);
      if (venv.code !== 0) throw new Error(`moto: \`${base} -m venv\` failed: ${venv.error ?? tail(venv.stderr)}`);
    }
    log(`moto: pip install moto[server]==${MOTO_VERSION}`);
    const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
    const pip = await run(venvPython(), ['-m', 'pip', 'install', '--quiet', '--timeout', '30', '--retries', '2', `moto[server]==${MOTO_VERSION}`],
      timeoutMs, env);
    if (pip.code !== 0) {
      throw new Error(`moto: pip install moto[server]==${MOTO_VERSION} failed (no network to the package index?): ${pip.error ?? ''} ${tail(pip.stderr || pip.stdout)}`);
    }
    const installed = await findMoto();
    if (!installed) throw new Error(`moto: installed, but \`import moto, moto.server\` still fails under ${venvPython()}`);
    return installed;
  }, timeoutMs + 60_000);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface MotoServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  version: string;
  /** What the server printed so far (stdout and stderr, for failure messages). */
  output(): string;
  /** Wipes all of moto's state (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `python -m moto.server` on a free loopback port and waits until it answers HTTP (default limit 30 s). */
export async function startMoto(install: MotoInstallation, opts: { readyTimeoutMs?: number; env?: Record<string, string> } = {}): Promise<MotoServer> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) { // the free port may be taken between probe and bind
    const port = await freePort();
    try {
      return await startOn(install, port, readyTimeoutMs, opts.env ?? {});
    } catch (e) {
      lastError = e as Error;
      if (!/address already in use|Errno 98/i.test(lastError.message)) throw lastError;
    }
  }
  throw lastError!;
}

/**
 * `python -m moto.server`, plus a watchdog thread: the server exits by itself once the process that started it is gone
 * (a test worker killed mid-run leaves no server behind).
 */
const LAUNCHER = [
  'import os, sys, threading, time',
  'parent = os.getppid()',
  'def watch():',
  '    while True:',
  '        if os.getppid() != parent: os._exit(0)',
  '        time.sleep(1)',
  'threading.Thread(target=watch, daemon=True).start()',
  'from moto.server import main',
  'main(sys.argv[1:])',
].join('\n');

async function startOn(install: MotoInstallation, port: number, readyTimeoutMs: number, extraEnv: Record<string, string>): Promise<MotoServer> {
  const env = { ...process.env, PYTHONUNBUFFERED: '1', ...extraEnv };
  const child = spawn(install.python, ['-c', LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-20_000); });
  child.stderr!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-20_000); });
  let exited: { code: number | null; signal: string | null } | undefined;
  const exit = new Promise<void>((r) => child.once('exit', (code, signal) => { exited = { code, signal }; r(); }));
  child.once('error', (e) => { out += `\nspawn error: ${e.message}`; });
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await Promise.race([exit, new Promise((r) => setTimeout(r, 8_000))]);
    clearTimeout(t);
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exited) throw new Error(`moto: server exited (${exited.code ?? exited.signal}) before it was ready: ${tail(out)}`);
    try {
      const r = await fetch(`${url}/moto-api/data.json`, { signal: AbortSignal.timeout(2_000) });
      await r.arrayBuffer();
      if (r.status < 500) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto: server on ${url} not ready after ${readyTimeoutMs} ms: ${tail(out)}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return {
    url, port, version: install.version,
    output: () => out,
    reset: async () => {
      const r = await fetch(`${url}/moto-api/reset`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`moto: reset answered ${r.status}`);
    },
    stop,
  };
}

// ---- command line ------------------------------------------------------------------------------------------------

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const cmd = process.argv[2] ?? 'install';
  try {
    if (cmd === 'install') {
      const m = await ensureMoto({ log: (l) => console.log(l) });
      console.log(`moto ${m.version} ready (${m.source}: ${m.python})`);
    } else if (cmd === 'check') {
      const m = await findMoto();
      if (!m) { console.log(`moto[server]==${MOTO_VERSION} not found (run: tsx tools/moto.ts install)`); process.exit(1); }
      console.log(`moto ${m.version} (${m.source}: ${m.python})`);
    } else if (cmd === 'serve') {
      const m = await ensureMoto({ log: (l) => console.log(l) });
      const s = await startMoto(m);
      console.log(`moto ${s.version} on ${s.url} (Ctrl-C stops it)`);
      const quit = () => void s.stop().then(() => process.exit(0));
      process.on('SIGINT', quit);
      process.on('SIGTERM', quit);
    } else {
      console.error('usage: tsx tools/moto.ts [install|check|serve]');
      process.exit(2);
    }
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
