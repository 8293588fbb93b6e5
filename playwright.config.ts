// The conformance suite: `npx playwright test` runs specs/ against the target the configuration names (README ›
// Configuration), or, with none, against the embedded reference target, one per worker.
import { defineConfig } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { loadConfig, POLICY_TYPES, type PolicyType } from './harness/config.js';

// One id per run, shared by the workers (they inherit the environment): it names the sandbox folder.
process.env.CONFORMANCE_RUN_ID ??= `${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`;
// A configuration error stops here, once, before any worker starts.
const config = loadConfig();
// Where reports go, and which specs run (defaults: reports/, specs/); the project's own tests use both to run the suite in isolation.
const reports = process.env.CONFORMANCE_REPORTS_DIR ?? 'reports';

export default defineConfig<object, { policy: PolicyType }>({
  testDir: process.env.CONFORMANCE_SPECS_DIR ?? './specs',
  forbidOnly: !!process.env.CI,
  fullyParallel: config.kind === 'embedded',
  // A live deployment is shared state (site settings, quota): one worker, so admin changes never overlap.
  workers: config.kind === 'live' ? 1 : process.env.CI ? 2 : undefined,
  timeout: 60_000,
  globalSetup: './tools/global-setup.ts',
  globalTeardown: './tools/global-teardown.ts',
  reporter: [
    ['list'],
    ['html', { open: 'never', outputFolder: `${reports}/html` }],
    ['junit', { outputFile: `${reports}/suite/junit.xml` }],
    ['json', { outputFile: `${reports}/suite/results.json` }],
    ['./tools/matrix-reporter.ts', { outputDir: reports }],
    ['./tools/summary-reporter.ts', { outputFile: `${reports}/suite/summary.json`, label: 'conformance suite' }],
  ],
  outputDir: 'test-results/suite',
  use: { trace: 'off' },
  // The contract specs once; the behavioural upload suite once per storage policy, each test titled @policy:<type>.
  projects: [
    { name: 'contract', testMatch: 'contract/**/*.spec.ts' },
    ...POLICY_TYPES.map((policy) => ({
      name: `upload-${policy}`,
      testMatch: 'upload/**/*.spec.ts',
      grep: new RegExp(`@policy:${policy}\\b`),
      use: { policy },
    })),
  ],
});
