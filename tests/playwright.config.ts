// The project's own tests (contract, harness, tooling): `npm test` runs them with the suite.
import { defineConfig } from '@playwright/test';
import { fileURLToPath } from 'node:url';

// Custom reporters get paths as given: make them absolute (relative to the project root).
const fromRoot = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));

export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  forbidOnly: !!process.env.CI,
  fullyParallel: true,
  workers: process.env.CI ? 2 : undefined,
  timeout: 60_000,
  reporter: [
    ['list'],
    ['junit', { outputFile: '../reports/own/junit.xml' }],
    ['../tools/summary-reporter.ts', { outputFile: fromRoot('reports/own/summary.json'), label: 'own tests' }],
  ],
  outputDir: '../test-results/own',
});
