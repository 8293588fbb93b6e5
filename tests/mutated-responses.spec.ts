// CT-MUT: a response that breaks the contract is caught, with the check id, the operation and the JSON pointer.
import { test, expect } from '@playwright/test';
import { Contract } from '../harness/contract/contract.js';
import { describeViolation, type CheckId } from '../harness/contract/violations.js';
import { loadExchanges, recordedResponse, replay, type Exchange } from './support/transcripts.js';

const contract = Contract.load();
const exchanges = loadExchanges().filter((e) => e.version === 'cloudreve-4.18.0');
function recorded(step: string, file?: string): Exchange {
  const e = exchanges.find((x) => x.step === step && (!file || x.file.endsWith(file)));
  if (!e) throw new Error(`no recorded step "${step}"`);
  return e;
}
const clone = <T>(v: T): T => structuredClone(v);

async function expectCaught(e: Exchange, answer: () => Response, check: CheckId, pointer: string, operationId: string) {
  const before = await replay(contract, e);
  expect(before.violations, 'the unmutated recording validates').toEqual([]);
  const { violations } = await replay(contract, e, answer);
  const hit = violations.find((v) => v.check === check && v.pointer === pointer);
  expect(hit, `expected [${check}] at ${pointer}; got:\n${violations.map(describeViolation).join('\n')}`).toBeTruthy();
  expect(hit!.operationId).toBe(operationId);
  const text = describeViolation(hit!);
  expect(text).toContain(`[${check}]`);
  expect(text).toContain(operationId);
  expect(text).toContain(pointer);
}

test('CT-MUT-001 a field of the wrong type fails response_schema at its pointer', async () => {
  const e = recorded('size=1 create', 'upload_sizes.jsonl');
  const body = clone(e.response.body) as any;
  body.data.chunk_size = String(body.data.chunk_size);
  await expectCaught(e, () => recordedResponse(e, body), 'response_schema', '/data/chunk_size', 'createUploadSession');
});

test('CT-MUT-002 a missing required field fails response_schema at its pointer', async () => {
  const e = recorded('size=1 create', 'upload_sizes.jsonl');
  const body = clone(e.response.body) as any;
  delete body.data.session_id;
  await expectCaught(e, () => recordedResponse(e, body), 'response_schema', '/data/session_id', 'createUploadSession');
});

test('CT-MUT-003 a nested wrong type in a login answer names the nested pointer', async () => {
  const e = exchanges.find((x) => x.request.path === '/api/v4/session/token' && (x.response.body as any).code === 0)!;
  const body = clone(e.response.body) as any;
  body.data.token.access_expires = 1234;
  await expectCaught(e, () => recordedResponse(e, body), 'response_schema', '/data/token/access_expires', 'passwordSignIn');
});

test('CT-MUT-004 an unknown error code fails error_code_known', async () => {
  const e = recorded('size=1 create', 'upload_sizes.jsonl');
  await expectCaught(e, () => recordedResponse(e, { code: 49999, msg: 'made up' }), 'error_code_known', '/code', 'createUploadSession');
});

test('CT-MUT-005 an undocumented HTTP status fails status_code_documented', async () => {
  const e = recorded('size=1 create', 'upload_sizes.jsonl');
  await expectCaught(e, () => recordedResponse(e, e.response.body, 500), 'status_code_documented', '', 'createUploadSession');
});

test('CT-MUT-006 an envelope without msg fails response_envelope', async () => {
  const e = recorded('size=1 create', 'upload_sizes.jsonl');
  const body = clone(e.response.body) as any;
  delete body.msg;
  await expectCaught(e, () => recordedResponse(e, body), 'response_envelope', '/msg', 'createUploadSession');
});

test('CT-MUT-007 an HTML error page where JSON is documented fails content_type_documented', async () => {
  const e = recorded('size=1 create', 'upload_sizes.jsonl');
  await expectCaught(e, () => new Response('<html><body>502 Bad Gateway</body></html>', { status: 200, headers: { 'content-type': 'text/html' } }),
    'content_type_documented', '', 'createUploadSession');
});

test('CT-MUT-008 a truncated JSON body fails json_body_parse', async () => {
  const e = recorded('size=1 create', 'upload_sizes.jsonl');
  const text = JSON.stringify(e.response.body);
  await expectCaught(e, () => new Response(text.slice(0, text.length / 2), { status: 200, headers: { 'content-type': 'application/json' } }),
    'json_body_parse', '', 'createUploadSession');
});

test('CT-MUT-009 data on a success that has none fails response_schema', async () => {
  const e = recorded('size=1 chunk 0/1', 'upload_sizes.jsonl');
  await expectCaught(e, () => recordedResponse(e, { code: 0, msg: '', data: { done: true } }), 'response_schema', '/data', 'uploadChunk');
});

test('CT-MUT-010 an unexpected envelope key fails response_envelope', async () => {
  const e = recorded('size=1 create', 'upload_sizes.jsonl');
  const body = { ...(e.response.body as object), message: 'extra' };
  await expectCaught(e, () => recordedResponse(e, body), 'response_envelope', '/message', 'createUploadSession');
});
