// Typed contract failures. Each carries a stable check id (harness/contract/checks.ts registers them), the operation,
// a JSON pointer into the message, what the contract expected and what the target did, the target's correlation_id
// and a curl line (secrets redacted) so an operator can replay the exchange and find the server's log lines.
import { redact } from '../secrets.js';

export type CheckId =
  | 'undocumented_operation'
  | 'request_parameters'
  | 'request_body_schema'
  | 'status_code_documented'
  | 'content_type_documented'
  | 'json_body_parse'
  | 'response_envelope'
  | 'error_code_known'
  | 'response_schema';

export interface ContractViolation {
  check: CheckId;
  /** 'request' when what the harness was about to send is wrong, 'response' when the target's answer is. */
  side: 'request' | 'response';
  operationId: string;
  method: string;
  path: string;
  /** JSON pointer into the validated value ('' is the whole value); for parameters, '/query/name'. */
  pointer: string;
  expected: string;
  actual: unknown;
  message: string;
  status?: number;
  correlationId?: string;
  curl: string;
  /** The test step that sent the request (the X-Conformance-Test header). */
  testStep?: string;
}

export function describeViolation(v: ContractViolation): string {
  const where = `${v.operationId} (${v.method.toUpperCase()} ${v.path}${v.status !== undefined ? ` → ${v.status}` : ''})`;
  const actual = v.actual === undefined ? 'absent' : JSON.stringify(v.actual);
  const lines = [
    `[${v.check}] ${where}: ${v.pointer || '/'} ${v.message}`,
    `  expected: ${v.expected}`,
    `  actual:   ${truncate(actual, 300)}`,
  ];
  if (v.correlationId) lines.push(`  correlation_id: ${v.correlationId}`);
  if (v.testStep) lines.push(`  step: ${v.testStep}`);
  lines.push(`  reproduce: ${v.curl}`);
  return redact(lines.join('\n'));
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s;
}

export class ContractViolationError extends Error {
  readonly violations: ContractViolation[];
  constructor(violations: ContractViolation[]) {
    super(`${violations.length} contract violation${violations.length === 1 ? '' : 's'}:\n${violations.map(describeViolation).join('\n')}`);
    this.name = 'ContractViolationError';
    this.violations = violations;
  }
}

/** Where a transport reports violations of responses. */
export interface ViolationSink {
  report(v: ContractViolation): void;
}

/** Throws at the first violation: for scripts and tools. */
export const throwingSink: ViolationSink = {
  report(v) { throw new ContractViolationError([v]); },
};

/** Collects violations; the Playwright fixture attaches them and fails the test at its end. */
export class CollectingSink implements ViolationSink {
  readonly violations: ContractViolation[] = [];
  report(v: ContractViolation): void { this.violations.push(v); }
  /** Returns and forgets what was collected (for tests that expect a violation on purpose). */
  take(): ContractViolation[] { return this.violations.splice(0); }
}

interface CurlInput { method: string; url: string; headers: Headers | Record<string, string>; body?: string | { bytes: number } }

/** A curl line that replays the request, with secrets redacted and binary bodies described, not inlined. */
export function toCurl({ method, url, headers, body }: CurlInput): string {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const parts = ['curl', '-sS', '-X', method.toUpperCase(), q(url)];
  const entries = headers instanceof Headers ? [...headers.entries()] : Object.entries(headers);
  for (const [k, v] of entries) {
    if (k.toLowerCase() === 'content-length') continue;
    parts.push('-H', q(`${k}: ${v}`));
  }
  if (typeof body === 'string' && body.length) parts.push('--data-raw', q(body.length > 2000 ? `${body.slice(0, 2000)}…` : body));
  else if (body && typeof body === 'object') parts.push('--data-binary', `@<${body.bytes} bytes>`);
  return redact(parts.join(' '));
}
