// CT-DEV: the known-deviation lists are well-formed: each entry names a requirement the suite has, policies the
// harness knows, what the server does and where in its source or recorded traffic.
import { test, expect } from '@playwright/test';
import { readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { POLICY_TYPES } from '../harness/config.js';
import { deviationFiles, requirementId, type Deviation } from '../harness/deviations.js';

function requirementIdsInSpecs(): Set<string> {
  const ids = new Set<string>();
  const dir = new URL('../specs/', import.meta.url);
  for (const f of readdirSync(dir, { recursive: true }).map(String).filter((n) => n.endsWith('.spec.ts'))) {
    for (const m of readFileSync(new URL(f, dir), 'utf8').matchAll(/test\(\s*[`'"]([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\b/g)) ids.add(m[1]!);
  }
  return ids;
}

test('CT-DEV-001 every deviation names an existing requirement, known policies, a behaviour and a source', () => {
  const files = deviationFiles();
  expect(files.length, 'lists for 4.18.x and 4.0.x at least').toBeGreaterThanOrEqual(2);
  const known = requirementIdsInSpecs();
  const problems: string[] = [];
  for (const f of files) {
    const doc = parse(readFileSync(new URL(`../contracts/deviations/${f}`, import.meta.url), 'utf8')) as { deviations: Deviation[] };
    const seen = new Set<string>();
    for (const d of doc.deviations) {
      const where = `${f} ${d.id}`;
      if (requirementId(d.id) !== d.id || !known.has(d.id)) problems.push(`${where}: no test of the suite has this requirement id`);
      for (const p of d.policies ?? []) if (!(POLICY_TYPES as readonly string[]).includes(p)) problems.push(`${where}: unknown policy ${p}`);
      for (const p of d.policies ?? ['*']) {
        if (seen.has(`${d.id}@${p}`)) problems.push(`${where}: listed twice for ${p}`);
        seen.add(`${d.id}@${p}`);
      }
      if (!d.behaviour || d.behaviour.length < 20) problems.push(`${where}: the behaviour is not described`);
      if (!/\d+\.\d+\.\d+:[\w/.-]+(:\d+)?|fixtures\/transcripts\//.test(d.source ?? '')) problems.push(`${where}: the source names no tag:path or transcript`);
    }
  }
  expect(problems).toEqual([]);
});
