// Benchmark: how long compiling the contract takes and how many response validations per second the checks sustain,
// over every response recorded from real servers (replayed through the same transport the harness uses).
import { performance } from 'node:perf_hooks';
import { Contract } from '../harness/contract/contract.js';
import { loadExchanges, replay, requestUrl } from '../tests/support/transcripts.js';

export async function benchContract(): Promise<string[]> {
  const t0 = performance.now();
  const contract = new Contract(Contract.load().doc); // a fresh compile, not the cached one
  const compileMs = performance.now() - t0;
  const exchanges = loadExchanges().filter((e) => new URL(requestUrl(e)).pathname.includes('/api/v4/'));
  for (const e of exchanges) await replay(contract, e); // warm the lazily compiled validators
  const rounds = 20;
  const t1 = performance.now();
  for (let r = 0; r < rounds; r++) for (const e of exchanges) await replay(contract, e, undefined, 'enforce');
  const seconds = (performance.now() - t1) / 1000;
  const perSecond = Math.round((rounds * exchanges.length) / seconds);
  return [
    `contract compile: ${compileMs.toFixed(0)} ms (OpenAPI document parsed by ajv, strict 2020-12)`,
    `contract validation: ${perSecond} exchanges/s (request + response checks, ${exchanges.length} recorded exchanges × ${rounds})`,
  ];
}
