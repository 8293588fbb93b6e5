// CT-CAT: the error-code catalog is complete, and the contract's ErrorCode enum is exactly the catalog.
import { test, expect } from '@playwright/test';
import { existsSync, readFileSync } from 'node:fs';
import { Contract } from '../harness/contract/contract.js';
import { readCatalog } from '../harness/contract/generate.js';
import { Code } from '../contracts/generated/error-codes.js';
import { loadExchanges, isRecordedBytes } from './support/transcripts.js';

const catalog = readCatalog();
const codes = new Set(catalog.map((e) => e.code));

test('CT-CAT-001 catalog entries are unique, named and explained', () => {
  expect(codes.size).toBe(catalog.length);
  expect(new Set(catalog.map((e) => e.name)).size).toBe(catalog.length);
  for (const e of catalog) {
    expect(e.name, String(e.code)).toMatch(/^[A-Z][A-Za-z0-9]*$/);
    expect(e.meaning.length, e.name).toBeGreaterThan(3);
  }
  expect(Code.UploadSessionExpired).toBe(40011);
  console.log(`error catalog: ${catalog.length} codes`);
});

test('CT-CAT-002 the contract\'s ErrorCode enum is the catalog without 0', () => {
  const enumValues: number[] = Contract.load().doc.components.schemas.ErrorCode.enum;
  expect([...enumValues].sort((a, b) => a - b)).toEqual([...codes].filter((c) => c !== 0).sort((a, b) => a - b));
});

test('CT-CAT-003 every code a real server answered in the transcripts is in the catalog', () => {
  const seen = new Set<number>();
  const collect = (b: any) => {
    if (!b || typeof b !== 'object' || isRecordedBytes(b)) return;
    if (typeof b.code === 'number') seen.add(b.code);
    for (const inner of Object.values(b.aggregated_error ?? {})) collect(inner);
  };
  for (const e of loadExchanges()) collect(e.response.body);
  console.log(`codes seen in transcripts: ${[...seen].sort((a, b) => a - b).join(', ')}`);
  expect([...seen].filter((c) => !codes.has(c))).toEqual([]);
});

const notes = new URL('../../shared/research/cloudreve-upload-semantics.md', import.meta.url);
test('CT-CAT-004 every code the research notes name is in the catalog', () => {
  test.skip(!existsSync(notes), 'the research notes (../shared/research) are not beside this checkout');
  const text = readFileSync(notes, 'utf8');
  const named = new Set<number>();
  for (const m of text.matchAll(/\|\s*Code\w+\s*\|\s*(-?\d+)\s*\|/g)) named.add(Number(m[1]));
  for (const m of text.matchAll(/\b(4\d{4}|5\d{4})\b/g)) named.add(Number(m[1]));
  expect(named.size).toBeGreaterThan(20);
  expect([...named].filter((c) => !codes.has(c))).toEqual([]);
});
