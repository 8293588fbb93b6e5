// CT-TYP: the whole project type-checks under strict TypeScript, which also proves the @ts-expect-error lines of
// tests/client-types.ts: the generated client refuses wrong parameter types at compile time.
import { test, expect } from '@playwright/test';
import { spawnSync } from 'node:child_process';

test('CT-TYP-001 tsc --noEmit passes (and every @ts-expect-error in tests/client-types.ts is an error)', () => {
  test.setTimeout(120_000);
  const res = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.'], { encoding: 'utf8', timeout: 110_000 });
  expect(res.stdout + res.stderr, 'tsc output').toBe('');
  expect(res.status).toBe(0);
});
