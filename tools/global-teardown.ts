// After the suite: the leak audit — what the workers' sandboxes still held after their sweep.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import type { LeakReport } from '../harness/sandbox.js';
import { reportsDir } from '../harness/config.js';

export default async function globalTeardown(): Promise<void> {
  const run = process.env.CONFORMANCE_RUN_ID ?? 'local';
  const dir = `${reportsDir()}/leaks`;
  if (!existsSync(dir)) return;
  const reports: LeakReport[] = readdirSync(dir).filter((f) => f.startsWith(`${run}-`))
    .flatMap((f) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as LeakReport[]);
  const files = reports.reduce((n, r) => n + r.filesLeft, 0);
  const quota = reports.reduce((n, r) => n + r.quotaDelta, 0);
  writeFileSync(`${reportsDir()}/leak-audit.json`, JSON.stringify({ run, files, quotaDelta: quota, reports }, null, 2));
  console.log(`leak audit: ${files} sandbox folder(s) left, ${quota} bytes of quota above the baseline (${reports.length} sandboxes)`);
}
