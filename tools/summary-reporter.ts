// Prints the plain closing line CI reads (`N passed, N failed, N skipped`) and leaves the counts in a JSON file, so
// the test runner wrapper can sum several Playwright runs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

export default class SummaryReporter implements Reporter {
  private counts = { passed: 0, failed: 0, skipped: 0 };
  constructor(private readonly options: { outputFile?: string; label?: string } = {}) {}

  onTestEnd(test: TestCase, result: TestResult): void {
    if (result.retry < test.retries && result.status !== 'passed' && result.status !== 'skipped') return; // retried later
    const outcome = test.outcome();
    if (outcome === 'skipped') this.counts.skipped++;
    else if (outcome === 'expected' || outcome === 'flaky') this.counts.passed++;
    else this.counts.failed++;
  }

  onEnd(result: FullResult): void {
    const { passed, failed, skipped } = this.counts;
    if (this.options.outputFile) {
      mkdirSync(dirname(this.options.outputFile), { recursive: true });
      writeFileSync(this.options.outputFile, JSON.stringify({ ...this.counts, status: result.status }));
    }
    console.log(`${this.options.label ? `${this.options.label}: ` : ''}${passed} passed, ${failed} failed, ${skipped} skipped`);
  }

  printsToStdio(): boolean { return true; }
}
