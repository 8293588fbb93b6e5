// CT-LINT: the contract is lint-clean with Redocly's linter (its recommended rules, redocly.yaml).
import { test, expect } from '@playwright/test';
import { spawnSync } from 'node:child_process';

test('CT-LINT-001 redocly lint reports 0 errors', () => {
  const res = spawnSync(process.execPath, ['node_modules/@redocly/cli/bin/cli.js', 'lint', 'contracts/cloudreve-v4.openapi.yaml', '--format=json'],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
  const report = JSON.parse(res.stdout.slice(res.stdout.indexOf('{')));
  const errors = report.problems.filter((p: { severity: string }) => p.severity === 'error');
  console.log(`redocly lint: ${errors.length} errors, ${report.totals.warnings} warnings`);
  expect(errors.map((p: any) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`)).toEqual([]);
});
