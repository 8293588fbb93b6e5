// CT-REC: every exchange recorded from real Cloudreve 4.18.0 and 4.0.0 servers conforms to the contract.
import { test, expect } from '@playwright/test';
import { Contract } from '../harness/contract/contract.js';
import { describeViolation, type ContractViolationError } from '../harness/contract/violations.js';
import { loadExchanges, replay, requestUrl } from './support/transcripts.js';

const contract = Contract.load();
const all = loadExchanges();
const cloudreve = all.filter((e) => new URL(requestUrl(e)).pathname.includes('/api/v4/'));
const files = [...new Set(cloudreve.map((e) => e.file))];

test('CT-REC-001 every recorded Cloudreve request addresses an operation of the contract', () => {
  const unmatched = cloudreve.filter((e) => !contract.match(e.request.method, requestUrl(e)))
    .map((e) => `${e.file} "${e.step}": ${e.request.method} ${e.request.path}`);
  console.log(`recorded exchanges: ${all.length}, to Cloudreve routes: ${cloudreve.length}, matched: ${cloudreve.length - unmatched.length}`);
  expect(unmatched).toEqual([]);
});

for (const file of files) {
  test(`CT-REC-002 recorded responses validate: ${file}`, async () => {
    const failures: string[] = [];
    const exchanges = cloudreve.filter((e) => e.file === file);
    for (const e of exchanges) {
      const { violations } = await replay(contract, e);
      for (const v of violations) failures.push(`"${e.step}":\n${describeViolation(v)}`);
    }
    expect(failures, `${failures.length} violations in ${exchanges.length} exchanges`).toEqual([]);
  });
}

/**
 * Requests the recording sent on purpose to probe the server's error handling; each must be caught by request
 * validation (with this check and pointer), and every other recorded request must pass it.
 */
const DELIBERATE_PROBES: Record<string, string> = {
  'index -1': 'request_parameters /path/index',
  'index abc': 'request_parameters /path/index',
  'existing file, entity_type bogus': 'request_body_schema /entity_type',
  'negative size': 'request_body_schema /size',
  'index -1, 1024 bytes': 'request_parameters /query/chunk',
  'index abc (-> 0?), chunk 0 bytes': 'request_parameters /query/chunk',
};

test('CT-REC-003 recorded requests pass request validation, except the deliberate probes, which it catches', async () => {
  const failures: string[] = [];
  let probes = 0;
  for (const e of cloudreve) {
    const { requestError } = await replay(contract, e, undefined, 'enforce');
    const found = (requestError as ContractViolationError | undefined)?.violations?.map((v) => `${v.check} ${v.pointer}`) ?? [];
    const expected = DELIBERATE_PROBES[e.step];
    if (expected) {
      probes++;
      if (!found.includes(expected)) failures.push(`${e.file} "${e.step}": expected ${expected}, got ${found.join('; ') || 'no violation'}`);
    } else if (requestError) failures.push(`${e.file} "${e.step}": ${requestError.message}`);
  }
  console.log(`recorded requests validated: ${cloudreve.length - probes} pass, ${probes} deliberate probes caught`);
  expect(failures).toEqual([]);
});
