// The conformance matrix: requirement × storage policy, each cell pass / fail / deviation / skipped, written as
// Markdown and JSON beside Playwright's own reports. Works in a run and under `playwright merge-reports` (shards).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FullConfig, FullResult, Reporter, Suite, TestCase, TestResult } from '@playwright/test/reporter';

type Cell = 'pass' | 'fail' | 'deviation' | 'skipped';
interface Entry { requirement: string; policy: string; cell: Cell; title: string; note?: string }

const ORDER: Cell[] = ['fail', 'deviation', 'pass', 'skipped'];
const SYMBOL: Record<Cell, string> = { pass: '✅ pass', fail: '❌ fail', deviation: '⚠️ deviation', skipped: '⏭ skipped' };

function requirementOf(title: string): string {
  return /^([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\b/.exec(title)?.[1] ?? title;
}

export default class MatrixReporter implements Reporter {
  private readonly entries: Entry[] = [];
  private target = '';
  constructor(private readonly options: { outputDir?: string } = {}) {}

  onBegin(_config: FullConfig, _suite: Suite): void {
    this.target = process.env.CLOUDREVE_URL ? `${process.env.CLOUDREVE_URL}` : 'embedded reference target';
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    if (result.retry < test.retries && result.status !== 'passed' && result.status !== 'skipped') return;
    const project = test.parent.project();
    const policy = (project?.use as { policy?: string } | undefined)?.policy ?? project?.name ?? '-';
    const outcome = test.outcome();
    const deviation = test.annotations.find((a) => a.type === 'deviation');
    const skip = test.annotations.find((a) => a.type === 'skip');
    let cell: Cell;
    if (outcome === 'skipped') cell = 'skipped';
    else if (outcome === 'expected' || outcome === 'flaky') cell = deviation ? 'deviation' : 'pass';
    else cell = 'fail';
    const note = cell === 'deviation' ? deviation?.description : cell === 'skipped' ? skip?.description
      : cell === 'fail' ? (deviation ? `listed deviation did not fail: ${deviation.description}` : firstLine(result.error?.message)) : undefined;
    this.entries.push({ requirement: requirementOf(test.title), policy: project?.name === 'contract' ? 'contract' : policy, cell, title: test.title, note });
  }

  onEnd(_result: FullResult): void {
    const dir = this.options.outputDir ?? 'reports';
    mkdirSync(dir, { recursive: true });
    const policies = [...new Set(this.entries.map((e) => e.policy))].sort((a, b) => (a === 'contract' ? -1 : b === 'contract' ? 1 : a.localeCompare(b)));
    const requirements = [...new Set(this.entries.map((e) => e.requirement))].sort();
    const cell = (req: string, policy: string): Cell | undefined => {
      const cells = this.entries.filter((e) => e.requirement === req && e.policy === policy).map((e) => e.cell);
      return ORDER.find((c) => cells.includes(c));
    };
    const totals = Object.fromEntries(ORDER.map((c) => [c, this.entries.filter((e) => e.cell === c).length]));
    writeFileSync(join(dir, 'matrix.json'), JSON.stringify({ target: this.target, totals, policies, entries: this.entries }, null, 2));
    const lines = [
      `# Conformance matrix`,
      '',
      `Target: ${this.target}. ${ORDER.map((c) => `${totals[c]} ${c}`).join(', ')}.`,
      '',
      `| requirement | ${policies.join(' | ')} |`,
      `|---|${policies.map(() => '---').join('|')}|`,
      ...requirements.map((r) => `| ${r} | ${policies.map((p) => { const c = cell(r, p); return c ? SYMBOL[c] : ''; }).join(' | ')} |`),
    ];
    const notes = this.entries.filter((e) => e.cell !== 'pass' && e.note);
    if (notes.length) {
      lines.push('', '## Notes', '', '| requirement | policy | result | note |', '|---|---|---|---|');
      for (const e of notes) lines.push(`| ${e.requirement} | ${e.policy} | ${e.cell} | ${e.note!.replaceAll('|', '\\|')} |`);
    }
    writeFileSync(join(dir, 'matrix.md'), `${lines.join('\n')}\n`);
  }

  printsToStdio(): boolean { return false; }
}

function firstLine(s: string | undefined): string | undefined {
  return s?.replace(/\u001b\[[0-9;]*m/g, '').split('\n').find((l) => l.trim())?.slice(0, 200);
}
