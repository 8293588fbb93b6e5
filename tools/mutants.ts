// `npm run mutants`: proves the suite catches what it claims. The embedded reference target has fault profiles
// (reference/faults/): named defects a real server could have. This runs the suite once with no fault (the baseline:
// it must pass, or "killed" means nothing), then once per profile — only the spec files and projects the profile names,
// with CONFORMANCE_REFERENCE_FAULTS=<id> — and prints a table: the profile, killed or survived, and the tests that
// failed (requirement ids; `!` marks a failure the profile does not list as a catcher). Exits non-zero when the
// baseline fails, a run breaks, or a profile survives.
//
// Every run works on a snapshot of the project taken at the start (node_modules linked), so edits made meanwhile cannot
// break runs half-way (a failure from a half-written file would count as a kill).
//
// Profiles run in parallel, one Playwright process each (--jobs, default: the machine's cores), with --workers each
// (default 1); every run stops at --max-failures failures (default 4: one is enough to kill, a few say where). Tests
// that fail in the baseline are left out of the profile runs (--test-list-invert) and cannot kill a profile.
//
//   npm run mutants [-- --only id,id] [--jobs N] [--workers N] [--max-failures N] [--timeout SECONDS] [--keep]
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FAULTS, type FaultProfile } from '../reference/faults/index.js';
import { loadConfig, reportsDir } from '../harness/config.js';

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    jobs: { type: 'string' },
    workers: { type: 'string' },
    'max-failures': { type: 'string' },
    timeout: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const cores = availableParallelism();
const int = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Math.max(1, Number.parseInt(v, 10) || fallback));
const JOBS = int(opts.jobs ?? process.env.MUTANTS_JOBS, cores);
const WORKERS = int(opts.workers ?? process.env.MUTANTS_WORKERS, 1);
const MAX_FAILURES = int(opts['max-failures'] ?? process.env.MUTANTS_MAX_FAILURES, 4);
const RUN_TIMEOUT_MS = int(opts.timeout, 300) * 1000;
const CLI = createRequire(import.meta.url).resolve('@playwright/test/cli');

// ---- what runs --------------------------------------------------------------------------------------------------

if (loadConfig().kind !== 'embedded') {
  console.error('npm run mutants switches faults on in the embedded reference target: unset CLOUDREVE_URL (and the other target keys).');
  process.exit(2);
}
const selected: readonly FaultProfile[] = opts.only
  ? opts.only.split(',').map((id) => {
    const f = FAULTS.find((p) => p.id === id.trim());
    if (!f) { console.error(`unknown fault profile "${id}"; known: ${FAULTS.map((p) => p.id).join(', ')}`); process.exit(2); }
    return f;
  })
  : FAULTS;

interface TestOutcome {
  /** `[project] › file › describe › title`, as --test-list files take it. */
  key: string;
  project: string;
  /** The requirement id: the first word of the title. */
  id: string;
  title: string;
  failed: boolean;
  skipped: boolean;
  message: string;
}

interface RunResult {
  ok: boolean;
  /** Why the run itself broke (no results, timeout), when it did. */
  broken?: string;
  tests: TestOutcome[];
  ms: number;
  stderrTail: string;
}

/** Spawns one Playwright run; its JSON report lands in `dir`. */
function runPlaywright(dir: string, args: string[], faults: string | undefined, workers: number): Promise<RunResult> {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'results.json');
  const env: NodeJS.ProcessEnv = { ...process.env, PLAYWRIGHT_JSON_OUTPUT_NAME: json, PLAYWRIGHT_JSON_OUTPUT_FILE: json,
    CONFORMANCE_REPORTS_DIR: join(dir, 'reports'), FORCE_COLOR: '0' };
  delete env.CONFORMANCE_RUN_ID; // each run its own sandbox folder names
  delete env.NODE_V8_COVERAGE;
  if (faults) env.CONFORMANCE_REFERENCE_FAULTS = faults;
  else delete env.CONFORMANCE_REFERENCE_FAULTS;
  const full = [CLI, 'test', ...args, '--reporter=json', `--workers=${workers}`, `--output=${join(dir, 'test-results')}`];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, full, { cwd: tree, env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }, RUN_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      const stderrTail = stderr.trim().split('\n').slice(-5).join('\n');
      if (timedOut) { resolve({ ok: false, broken: `timed out after ${RUN_TIMEOUT_MS / 1000} s`, tests: [], ms, stderrTail }); return; }
      if (!existsSync(json)) { resolve({ ok: false, broken: `no report (exit ${code})`, tests: [], ms, stderrTail }); return; }
      const report = JSON.parse(readFileSync(json, 'utf8')) as JsonReport;
      const tests = outcomes(report);
      const errors = (report.errors ?? []).map((e) => e.message ?? '').filter(Boolean);
      resolve({ ok: code === 0, broken: errors.length && !tests.some((t) => t.failed) ? `errors: ${errors[0]!.split('\n')[0]}` : undefined,
        tests, ms, stderrTail });
    });
  });
}

interface JsonSuite { title: string; file: string; specs?: JsonSpec[]; suites?: JsonSuite[] }
interface JsonSpec { title: string; file: string; tests: { projectName: string; status: string; results: { status: string; error?: { message?: string } }[] }[] }
interface JsonReport { suites: JsonSuite[]; errors?: { message?: string }[] }

function outcomes(report: JsonReport): TestOutcome[] {
  const out: TestOutcome[] = [];
  const walk = (s: JsonSuite, path: string[]) => {
    for (const spec of s.specs ?? []) {
      for (const t of spec.tests) {
        const title = spec.title;
        const failed = t.status === 'unexpected' || t.status === 'flaky';
        const message = (t.results.find((r) => r.error)?.error?.message ?? '').replace(/\x1b\[[0-9;]*m/g, '').split('\n')[0] ?? '';
        out.push({ key: [`[${t.projectName}]`, spec.file, ...path, title].join(' › '), project: t.projectName,
          id: title.split(/\s/)[0] ?? title, title, failed, skipped: t.status === 'skipped', message });
      }
    }
    for (const c of s.suites ?? []) walk(c, [...path, c.title]);
  };
  // The top-level suites are files (title = file name): their path starts below them.
  for (const s of report.suites) walk(s, []);
  return out;
}

/** Playwright arguments for a set of profiles: their projects and spec files. */
function selection(profiles: readonly FaultProfile[]): string[] {
  const projects = [...new Set(profiles.flatMap((p) => p.projects))].sort();
  const specs = [...new Set(profiles.flatMap((p) => p.specs))].sort();
  return [...projects.map((p) => `--project=${p}`), ...specs.map((s) => `specs/${s}`)];
}

const short = (t: TestOutcome) => t.project.startsWith('upload-') ? `${t.id}@${t.project.slice('upload-'.length)}` : t.id;
const unique = (xs: string[]) => [...new Set(xs)];
const secs = (ms: number) => `${(ms / 1000).toFixed(0)} s`;

// ---- the run ----------------------------------------------------------------------------------------------------

const t0 = Date.now();
const root = mkdtempSync(join(tmpdir(), 'mutants-'));
// The snapshot: everything but what runs produce and the dependencies, which are linked.
const tree = join(root, 'tree');
const PRODUCED = new Set(['node_modules', '.git', 'reports', 'test-results', 'coverage', 'playwright-report']);
const projectRoot = resolve('.');
cpSync(projectRoot, tree, { recursive: true, filter: (src) => resolve(src) === projectRoot || !(resolve(src, '..') === projectRoot && PRODUCED.has(basename(src))) });
symlinkSync(join(projectRoot, 'node_modules'), join(tree, 'node_modules'), 'dir');
console.log(`mutants: ${selected.length} fault profiles, ${JOBS} at a time with ${WORKERS} worker(s) each, stopping each at ` +
  `${MAX_FAILURES} failures (${cores} cores); reports in ${root}`);

const baseline = await runPlaywright(join(root, 'baseline'), selection(selected), undefined, cores);
const baselineFailed = baseline.tests.filter((t) => t.failed);
let header: string;
if (baseline.broken || (!baseline.ok && !baselineFailed.length)) {
  header = `baseline (no fault): BROKEN — ${baseline.broken ?? 'Playwright failed'}\n${baseline.stderrTail}`;
} else if (baselineFailed.length) {
  header = `baseline (no fault): FAILED — ${baselineFailed.length} test(s) fail without any fault; they are left out of the profile runs ` +
    `and kill nothing: ${unique(baselineFailed.map(short)).join(', ')}`;
} else {
  const skipped = baseline.tests.filter((t) => t.skipped).length;
  header = `baseline (no fault): passed — ${baseline.tests.length - skipped} passed, ${skipped} skipped, ${secs(baseline.ms)}`;
}
console.log(header);
const invertList = join(root, 'baseline-failures.txt');
writeFileSync(invertList, baselineFailed.map((t) => t.key).join('\n') + '\n');

interface Verdict {
  profile: FaultProfile;
  status: 'killed' | 'survived' | 'broken';
  caught: string[];
  unexpected: string[];
  ran: number;
  ms: number;
  note?: string;
}

async function runProfile(p: FaultProfile): Promise<Verdict> {
  const args = [...selection([p]), `--max-failures=${MAX_FAILURES}`, '--pass-with-no-tests'];
  if (baselineFailed.length) args.push(`--test-list-invert=${invertList}`);
  const r = await runPlaywright(join(root, p.id), args, p.id, WORKERS);
  const failed = r.tests.filter((t) => t.failed);
  const caught = unique(failed.filter((t) => p.catches.includes(t.id)).map(short));
  const unexpected = unique(failed.filter((t) => !p.catches.includes(t.id)).map(short));
  const ran = r.tests.length;
  if (r.broken && !failed.length) return { profile: p, status: 'broken', caught, unexpected, ran, ms: r.ms, note: `${r.broken} ${r.stderrTail}` };
  return { profile: p, status: failed.length ? 'killed' : 'survived', caught, unexpected, ran, ms: r.ms };
}

// The heaviest runs first, so the parallel slots end together.
const weight = (p: FaultProfile) => p.specs.length * p.projects.length + (p.specs.some((s) => s.includes('expiry')) ? 6 : 0);
const queue = [...selected].sort((a, b) => weight(b) - weight(a));
const verdicts = new Map<string, Verdict>();
await Promise.all(Array.from({ length: Math.min(JOBS, queue.length) }, async () => {
  for (let p = queue.shift(); p; p = queue.shift()) {
    const v = await runProfile(p);
    verdicts.set(p.id, v);
    console.log(`  ${v.status.padEnd(8)} ${p.id} (${secs(v.ms)}, ${v.ran} tests)`);
  }
}));

// ---- the table ----------------------------------------------------------------------------------------------------

const rows = selected.map((p) => verdicts.get(p.id)!);
const idWidth = Math.max(...rows.map((r) => r.profile.id.length), 'profile'.length);
const areaWidth = Math.max(...rows.map((r) => r.profile.area.length), 'area'.length);
const line = (a: string, b: string, c: string, d: string) => `${a.padEnd(idWidth)}  ${b.padEnd(areaWidth)}  ${c.padEnd(8)}  ${d}`;
const out: string[] = [];
out.push('', `mutants — ${header.split('\n')[0]}`, '');
out.push(line('profile', 'area', 'verdict', 'failed tests (requirement ids; ! = not listed as a catcher of the profile)'));
out.push(line('-'.repeat(idWidth), '-'.repeat(areaWidth), '--------', '-'.repeat(40)));
for (const r of rows) {
  const failed = [...r.caught, ...r.unexpected.map((u) => `!${u}`)].join(' ');
  const detail = r.status === 'survived' ? `— (should be caught by ${r.profile.catches.join(', ')})`
    : r.status === 'broken' ? `run broken: ${r.note ?? ''}` : failed;
  out.push(line(r.profile.id, r.profile.area, r.status, detail));
}
const killed = rows.filter((r) => r.status === 'killed');
const byUnexpected = killed.filter((r) => !r.caught.length);
const survived = rows.filter((r) => r.status === 'survived');
const broken = rows.filter((r) => r.status === 'broken');
out.push('');
if (byUnexpected.length) out.push(`killed only by tests not listed as catchers: ${byUnexpected.map((r) => `${r.profile.id} (${r.unexpected.join(', ')})`).join('; ')}`);
out.push(`${killed.length} killed, ${survived.length} survived, ${broken.length} broken of ${rows.length} profiles; ` +
  `baseline ${baselineFailed.length || baseline.broken ? 'FAILED' : 'passed'}; total ${secs(Date.now() - t0)}`);
console.log(out.join('\n'));

const summary = { baseline: { passed: !baselineFailed.length && !baseline.broken, failed: baselineFailed.map((t) => t.key), ms: baseline.ms },
  profiles: rows.map((r) => ({ id: r.profile.id, area: r.profile.area, status: r.status, caught: r.caught, unexpected: r.unexpected,
    ms: r.ms, note: r.note })), totalMs: Date.now() - t0 };
mkdirSync(reportsDir(), { recursive: true });
writeFileSync(join(reportsDir(), 'mutants.json'), JSON.stringify(summary, null, 2));
if (!opts.keep) rmSync(root, { recursive: true, force: true });
process.exitCode = survived.length || broken.length || baselineFailed.length || baseline.broken ? 1 : 0;
