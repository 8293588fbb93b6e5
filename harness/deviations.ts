// Known deviations: where a real Cloudreve version departs from the contract, by requirement id, with the source
// reference (contracts/deviations/<major.minor>.x.yaml). Tests of a listed deviation are expected to fail on that
// version; one that passes fails the run, so the list stays true.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';

export interface Deviation {
  /** Requirement id, as at the start of the test title (e.g. UPL-CHUNK-003). */
  id: string;
  /** Storage policies it applies to (default: every one, and the contract specs). */
  policies?: string[];
  /** What the server does instead of what the contract says. */
  behaviour: string;
  /** Where in the server's source (tag:path:line) or recorded traffic it shows. */
  source: string;
}

const dir = new URL('../contracts/deviations/', import.meta.url);

/** The deviation list that applies to a server version ("4.18.0" → 4.18.x.yaml), or none. */
export function deviationsFor(version: string): Deviation[] {
  const m = /^(\d+)\.(\d+)\./.exec(version);
  if (!m) return [];
  const file = new URL(`${m[1]}.${m[2]}.x.yaml`, dir);
  if (!existsSync(file)) return [];
  const doc = parse(readFileSync(file, 'utf8')) as { deviations?: Deviation[] } | null;
  return doc?.deviations ?? [];
}

export function deviationFiles(): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')) : [];
}

/** The requirement id a test title starts with. */
export function requirementId(title: string): string | undefined {
  return /^([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\b/.exec(title)?.[1];
}

export function findDeviation(list: Deviation[], title: string, policy?: string): Deviation | undefined {
  const id = requirementId(title);
  if (!id) return undefined;
  return list.find((d) => d.id === id && (!d.policies || (policy !== undefined && d.policies.includes(policy))));
}
