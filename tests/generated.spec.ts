// CT-GEN: the committed generated files are what `npm run gen` makes from the current contract.
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { generatedFiles } from '../harness/contract/generate.js';

test('CT-GEN-001 contracts/generated/ is current (run `npm run gen` after editing the contract)', async () => {
  for (const { path, content } of await generatedFiles()) {
    expect(readFileSync(path, 'utf8') === content, `${path} is stale`).toBe(true);
  }
});
