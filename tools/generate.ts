// Generates contracts/generated/ from the contract: openapi-typescript types and the error-code map.
// `npm run gen` writes them; `--check` only compares and exits 1 when a generated file is stale.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { generatedFiles } from '../harness/contract/generate.js';

const check = process.argv.includes('--check');
let stale = 0;
for (const { path, content } of await generatedFiles()) {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
  if (current === content) continue;
  if (check) {
    console.error(`stale: ${path} differs from what \`npm run gen\` makes from the contract`);
    stale++;
  } else {
    writeFileSync(path, content);
    console.log(`wrote ${path}`);
  }
}
process.exitCode = stale ? 1 : 0;
