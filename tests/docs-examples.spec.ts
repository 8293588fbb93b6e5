// CT-DOC: the official docs' examples (fixtures/docs-examples.json, exported from the docs per operation) that are
// right validate against the contract; the ones that contradict the real server are caught, with the check id and
// the JSON pointer this file expects.
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { Contract, type Operation } from '../harness/contract/contract.js';
import { validatingFetch } from '../harness/contract/transport.js';
import { CollectingSink, ContractViolationError, describeViolation, type CheckId, type ContractViolation } from '../harness/contract/violations.js';

interface DocsExample {
  /** "<METHOD> <path as in the docs>" */
  operation: string;
  docsFile: string;
  kind: 'request' | 'response';
  status?: string;
  name: string;
  example: unknown;
}

const contract = Contract.load();
const examples: DocsExample[] = JSON.parse(readFileSync(new URL('../fixtures/docs-examples.json', import.meta.url), 'utf8'));
const SITE = 'http://127.0.0.1:5212';

/** Docs paths the contract corrected (contracts/README.md, research/api-operations.md §4.3). */
const PATH_FIXES: [RegExp, string][] = [
  [/^\/file\/source\{id\}$/, '/file/source/{id}'],
  [/^\/workflow\/reloacte$/, '/workflow/relocate'],
  [/\{user-id\}/, '{user_id}'],
  [/^\/workflow\/download\/\{task_id\}$/, '/workflow/download/{id}'],
];

function contractOperation(docsOperation: string): Operation {
  const [method, docsPath] = docsOperation.split(' ') as [string, string];
  let path = docsPath;
  for (const [from, to] of PATH_FIXES) path = path.replace(from, to);
  const op = contract.operations.find((o) => o.method === method.toLowerCase() && o.path === path);
  if (!op) throw new Error(`no contract operation for the docs' ${docsOperation} (looked for ${method} ${path})`);
  return op;
}

/** A value that satisfies a parameter's schema (enough for the request checks). */
function sample(schema: Record<string, any> | undefined): string {
  const s = schema ? contract.resolve(schema) : {};
  if (Array.isArray(s.enum)) return String(s.enum[0]);
  if (s.format === 'uuid') return '9897ebae-7b73-4169-aabc-6396f470e4bb';
  if (s.format === 'email') return 'user@cloudreve.org';
  const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
  if (types.includes('integer') || types.includes('number')) return String(Math.max(Number(s.minimum ?? 1), 1));
  if (types.includes('boolean')) return 'false';
  if (s.pattern === '^[0-9a-f]{32}$') return '0'.repeat(32);
  return 'cloudreve://my/a.txt';
}

/** A Request addressing the operation, with every required parameter filled by a sample value. */
function requestFor(op: Operation, body?: unknown): Request {
  let path = op.path;
  const url = new URL(SITE);
  const headers = new Headers();
  for (const p of op.parameters) {
    if (p.in === 'path') path = path.replace(`{${p.name}}`, encodeURIComponent(sample(p.schema)));
    else if (!p.required) continue;
    else if (p.in === 'query') url.searchParams.set(p.name, sample(p.schema));
    else if (p.in === 'header' && p.name.toLowerCase() !== 'content-length') headers.set(p.name, sample(p.schema));
  }
  url.pathname = `/api/v4${path}`;
  if (body === undefined) return new Request(url, { method: op.method.toUpperCase(), headers });
  headers.set('content-type', 'application/json');
  return new Request(url, { method: op.method.toUpperCase(), headers, body: JSON.stringify(body) });
}

const json = (value: unknown, status = 200) =>
  new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });

/** The violations the validating transport finds in one example. */
async function validate(e: DocsExample): Promise<ContractViolation[]> {
  const op = contractOperation(e.operation);
  const sink = new CollectingSink();
  if (e.kind === 'response') {
    const request = requestFor(op);
    expect(contract.match(request.method, request.url)?.operation.id, `${e.operation} addresses ${op.id}`).toBe(op.id);
    const send = validatingFetch({ contract, sink, requestValidation: 'off', fetch: async () => json(e.example, Number(e.status ?? 200)) });
    await (await send(request)).arrayBuffer();
    return sink.take();
  }
  const request = requestFor(op, e.example);
  expect(contract.match(request.method, request.url)?.operation.id, `${e.operation} addresses ${op.id}`).toBe(op.id);
  const send = validatingFetch({ contract, sink, requestValidation: 'enforce', fetch: async () => json({ code: 0, msg: '' }) });
  try {
    await (await send(request)).arrayBuffer();
  } catch (err) {
    if (err instanceof ContractViolationError) return err.violations;
    throw err;
  }
  return [];
}

const key = (e: DocsExample) => `${e.operation} ${e.kind}${e.kind === 'response' ? ` ${e.status}` : ''} "${e.name}" (${e.docsFile})`;

interface KnownWrong {
  /** docsFile, kind and example name identify the example. */
  docsFile: string;
  kind: 'request' | 'response';
  name: string;
  /** Every violation the transport must report for it, as "check pointer". */
  caught: `${CheckId} ${string}`[];
  reason: string;
}

/** Docs examples that contradict the real server: each must be caught, exactly where this table says. */
const KNOWN_WRONG: KnownWrong[] = [
  {
    docsFile: 'api_docs/sign-up.md', kind: 'response', name: 'example',
    caught: ['response_schema /data/anonymous'],
    reason: 'docs show "anonymous": null; the server\'s User.Anonymous is a Go bool with omitempty (service/user/response.go:115 '
      + 'at 4.18.0), so it is true or absent, never null (recorded traffic: only "anonymous":true)',
  },
  {
    docsFile: 'api_docs/reset-password-via-temp-link.md', kind: 'response', name: 'example',
    caught: ['response_schema /data/anonymous'],
    reason: 'docs show "anonymous": null; User.Anonymous is a bool with omitempty (service/user/response.go:115), never null',
  },
  {
    docsFile: 'api_docs/get-task-progress.md', kind: 'response', name: 'example',
    caught: ['response_schema /data/upload_count/identifier', 'response_schema /data/upload/identifier'],
    reason: 'docs progress entries lack "identifier"; queue.Progress has Identifier `json:"identifier"` without omitempty '
      + '(pkg/queue/task.go:78-82 at 4.0.0 and 4.18.0), so the server always sends it',
  },
  {
    docsFile: 'api_docs/get-task-progress.md', kind: 'response', name: 'No available progress',
    caught: ['response_schema /data'],
    reason: 'docs show {"code":0,"msg":""} for a task without progress; the server answers '
      + 'Response{Data: queue.Progresses{}}, i.e. "data": {} (routers/controllers/workflow.go:41 at 4.0.0 and 4.18.0)',
  },
];

test('CT-DOC-001 every docs example maps to a contract operation that has a JSON schema for it', () => {
  const problems: string[] = [];
  for (const e of examples) {
    let op: Operation;
    try { op = contractOperation(e.operation); } catch (err) { problems.push((err as Error).message); continue; }
    // Without a schema the transport would pass the example without looking at it.
    const holder = e.kind === 'request' ? op.object.requestBody : op.object.responses?.[e.status ?? ''];
    const content = holder ? contract.resolve(holder).content : undefined;
    if (!content?.['application/json']?.schema) problems.push(`${key(e)}: ${op.id} documents no JSON schema for it`);
  }
  expect(problems).toEqual([]);
  // 88 docs pages; all but get-profile-picture.md (an image, 301 or 404) give at least one JSON example.
  expect(new Set(examples.filter((e) => e.docsFile.startsWith('api_docs/')).map((e) => e.docsFile)).size,
    'docs files with at least one example').toBe(87);
});

test('CT-DOC-002 the docs examples that are right validate; the known-wrong ones are caught at the expected check and pointer', async () => {
  const failures: string[] = [];
  let valid = 0;
  let caught = 0;
  const used = new Set<KnownWrong>();
  for (const e of examples) {
    const violations = await validate(e);
    const wrong = KNOWN_WRONG.find((w) => w.docsFile === e.docsFile && w.kind === e.kind && w.name === e.name);
    const found = violations.map((v) => `${v.check} ${v.pointer}`);
    if (!wrong) {
      if (violations.length) failures.push(`${key(e)} should validate:\n${violations.map(describeViolation).join('\n')}`);
      else valid++;
      continue;
    }
    used.add(wrong);
    const missing = wrong.caught.filter((c) => !found.includes(c));
    const extra = found.filter((f) => !(wrong.caught as string[]).includes(f));
    if (missing.length || extra.length) {
      failures.push(`${key(e)} is known wrong (${wrong.reason}); expected ${JSON.stringify(wrong.caught)}, got ${JSON.stringify(found)}`);
    } else caught++;
  }
  for (const w of KNOWN_WRONG.filter((x) => !used.has(x))) failures.push(`known-wrong entry matches no example: ${w.docsFile} ${w.kind} "${w.name}"`);
  console.log(`docs examples: ${valid} validate, ${caught} known wrong and caught`);
  expect(failures, failures.join('\n\n')).toEqual([]);
});
