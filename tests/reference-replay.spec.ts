// REF-REPLAY: the reference target answers the traffic recorded from a real Cloudreve 4.18.0 (local policy) as the
// real server did: the same HTTP status, code, msg, envelope keys and shape of `data` for every exchange, downloads
// byte-identical to what was uploaded, and every answer valid against the contract.
import { test, expect } from '@playwright/test';
import { startReference } from '../reference/index.js';
import { loadScenario, replayAll, SCENARIOS, shapeDiff, SKIPPED, valueDiff } from '../reference/replay.js';
import { validatingFetch } from '../harness/contract/transport.js';
import { CollectingSink, describeViolation } from '../harness/contract/violations.js';

test('REF-REPLAY-001 every recorded exchange of the 4.18.0 local flow, replayed in order on a fresh target', async () => {
  test.setTimeout(120_000);
  const target = await startReference({ createIdentities: false });
  const sink = new CollectingSink();
  try {
    const result = await replayAll(target.url, validatingFetch({ sink, requestValidation: 'off' }));
    const recorded = SCENARIOS.flatMap(loadScenario).filter((l) => l.request).length;
    console.log(`replayed ${SCENARIOS.length} scenarios: ${result.compared} of ${recorded} recorded exchanges compared, ` +
      `${result.skipped.length} skipped${result.skipped.map((s) => `\n  skipped ${s.scenario} / ${s.step}: ${s.reason}`).join('')}, ` +
      `${result.notesChecked} note(s) checked, ${result.mismatches.length} mismatches`);
    expect(result.mismatches).toEqual([]);
    expect(result.compared + result.skipped.length).toBe(recorded);
    expect(result.skipped.map((s) => s.step)).toEqual(Object.keys(SKIPPED));
    expect(sink.violations.map(describeViolation)).toEqual([]);
  } finally {
    await target.close();
  }
});

test('REF-REPLAY-002 the comparison sees types, key sets, array lengths and stable values, not ids or times', () => {
  const diff = (a: unknown, b: unknown) => { const out: string[] = []; shapeDiff(a, b, 'data', out); valueDiff(a, b, 'data', out); return out; };
  expect(diff({ id: 'VLi5', n: 1, m: null, created_at: 'a' }, { id: 'x9Qa', n: 2, m: null, created_at: 'b' })).toEqual([]);
  expect(diff({ files: [{ size: 1023, name: 'a' }] }, { files: [{ size: 1024, name: 'a' }] })).toEqual(['data.files[0].size: 1024, recorded 1023']);
  expect(diff({ m: null }, { m: {} })).toEqual(['data.m: object, recorded null']);
  expect(diff({ a: { b: 1 } }, { a: { c: 1 } })).toEqual(['data.a: missing b', 'data.a: extra c']);
  expect(diff([{ a: 1 }], [{ a: 1 }, { a: 2 }])).toEqual(['data: 2 items, recorded 1']);
});
