// `npm test`: runs every Playwright run of the project (its own tests, then the conformance suite against the
// embedded reference target when specs exist) and ends with one plain line summing them all.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';

// Coverage of harness/ and fixtures/ over every run (.c8rc.json): both runs are Playwright's transform, so their raw
// V8 data merge correctly.
const coverageTmp = 'coverage/tmp';
rmSync('coverage', { recursive: true, force: true });

interface Run { label: string; args: string[]; summary: string; }
const runs: Run[] = [{ label: 'own tests', args: ['-c', 'tests/playwright.config.ts'], summary: 'reports/own/summary.json' }];
const hasSpecs = existsSync('specs') && readdirSync('specs', { recursive: true }).some((f) => String(f).endsWith('.spec.ts'));
if (hasSpecs) runs.push({ label: 'conformance suite', args: [], summary: 'reports/suite/summary.json' });

const total = { passed: 0, failed: 0, skipped: 0 };
let crashed = false;
for (const run of runs) {
  rmSync(run.summary, { force: true });
  const res = spawnSync('npx', ['playwright', 'test', ...run.args, ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, NODE_V8_COVERAGE: coverageTmp } });
  if (!existsSync(run.summary)) {
    console.error(`${run.label}: Playwright ended (exit ${res.status}) without a summary: counted as one failure`);
    total.failed++;
    crashed = true;
    continue;
  }
  const c = JSON.parse(readFileSync(run.summary, 'utf8')) as typeof total & { status: string };
  total.passed += c.passed; total.failed += c.failed; total.skipped += c.skipped;
  if (res.status !== 0 && c.failed === 0) { console.error(`${run.label}: exit ${res.status} (${c.status})`); crashed = true; }
}
// c8 checks the threshold of .c8rc.json (lines ≥ 90 % of harness/ and fixtures/): below it the run fails.
const report = spawnSync('npx', ['c8', 'report'], { stdio: 'inherit' });
if (report.status !== 0) { console.error('coverage below the threshold of .c8rc.json (or the report failed)'); crashed = true; }
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exitCode = total.failed || crashed ? 1 : 0;
