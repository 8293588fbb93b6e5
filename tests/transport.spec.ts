// CT-TRN: the validating transport refuses malformed requests unless told otherwise, passes byte bodies through as
// streams, names the test in every request, redacts secrets and never waits longer than its deadline.
import { test, expect } from '@playwright/test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Contract } from '../harness/contract/contract.js';
import { validatingFetch, TEST_HEADER } from '../harness/contract/transport.js';
import { CollectingSink, ContractViolationError, toCurl } from '../harness/contract/violations.js';
import { redact, registerSecret } from '../harness/secrets.js';
import { createCloudreveClient } from '../harness/client/index.js';

const contract = Contract.load();
const SITE = 'http://127.0.0.1:5212';
const ok = () => new Response(JSON.stringify({ code: 0, msg: '' }), { headers: { 'content-type': 'application/json' } });

test('CT-TRN-001 a request body that breaks the contract is refused before it is sent', async () => {
  let sent = 0;
  const send = validatingFetch({ contract, sink: new CollectingSink(), fetch: async () => { sent++; return ok(); } });
  const bad = new Request(`${SITE}/api/v4/file/upload`, { method: 'PUT', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ uri: 'cloudreve://my/a.bin', size: 'ten' }) });
  const err = await send(bad).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ContractViolationError);
  const v = (err as ContractViolationError).violations[0]!;
  expect(v).toMatchObject({ check: 'request_body_schema', side: 'request', operationId: 'createUploadSession', pointer: '/size' });
  expect(sent).toBe(0);
});

test('CT-TRN-002 a missing required query parameter is refused', async () => {
  const send = validatingFetch({ contract, sink: new CollectingSink(), fetch: async () => ok() });
  const err = await send(new Request(`${SITE}/api/v4/file/info?extended=maybe`)).catch((e: unknown) => e) as ContractViolationError;
  expect(err).toBeInstanceOf(ContractViolationError);
  expect(err.violations.map((v) => `${v.check} ${v.pointer}`)).toContain('request_parameters /query/extended');
});

test('CT-TRN-003 negative tests send invalid requests through the explicit switch', async () => {
  let sent = 0;
  const send = validatingFetch({ contract, sink: new CollectingSink(), requestValidation: 'off',
    fetch: async () => { sent++; return new Response(JSON.stringify({ code: 40001, msg: 'Size too short' }), { headers: { 'content-type': 'application/json' } }); } });
  const res = await send(new Request(`${SITE}/api/v4/file/upload`, { method: 'PUT', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ uri: 'cloudreve://my/a.bin', size: -1 }) }));
  expect(sent).toBe(1);
  expect(((await res.json()) as { code: number }).code).toBe(40001);
});

test('CT-TRN-004 an undocumented Cloudreve route is refused', async () => {
  const send = validatingFetch({ contract, sink: new CollectingSink(), fetch: async () => ok() });
  const err = await send(new Request(`${SITE}/api/v4/no/such/route`)).catch((e: unknown) => e) as ContractViolationError;
  expect(err.violations[0]!.check).toBe('undocumented_operation');
});

test('CT-TRN-005 requests carry the test step header; byte bodies stream through a real socket', async () => {
  let server: Server | undefined;
  try {
    const seen: { header?: string; bytes: number } = { bytes: 0 };
    server = createServer((req, res) => {
      seen.header = req.headers[TEST_HEADER.toLowerCase()] as string;
      req.on('data', (c: Buffer) => { seen.bytes += c.length; });
      req.on('end', () => { res.setHeader('content-type', 'application/json; charset=utf-8'); res.end('{"code":0,"msg":""}'); });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const site = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const sink = new CollectingSink();
    const send = validatingFetch({ contract, sink, step: () => 'CT-TRN-005 step 1' });
    const size = 3 * 1024 * 1024;
    let produced = 0;
    const stream = new ReadableStream<Uint8Array>({ pull(c) {
      if (produced >= size) { c.close(); return; }
      const n = Math.min(65536, size - produced); produced += n; c.enqueue(new Uint8Array(n));
    } });
    const res = await send(new Request(`${site}/api/v4/file/upload/0b5e6c5e-6f27-4e2b-9f2f-4b4f1d2a7a11/0`,
      { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) }, body: stream, duplex: 'half' } as RequestInit));
    expect(res.status).toBe(200);
    expect(seen).toEqual({ header: 'CT-TRN-005 step 1', bytes: size });
    expect(sink.violations).toEqual([]);
  } finally {
    server?.close();
  }
});

test('CT-TRN-006 a stalled server ends in a timeout error, not a hang', async () => {
  let server: Server | undefined;
  try {
    server = createServer(() => { /* never answers */ });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const site = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const send = validatingFetch({ contract, sink: new CollectingSink(), timeoutMs: 500 });
    const started = Date.now();
    const err = await send(new Request(`${site}/api/v4/site/ping`)).catch((e: unknown) => e) as Error;
    expect(err.name).toMatch(/TimeoutError|AbortError/);
    expect(Date.now() - started).toBeLessThan(5_000);
  } finally {
    server?.closeAllConnections();
    server?.close();
  }
});

test('CT-TRN-007 curl reproductions and reports carry no secret', () => {
  registerSecret('hunter2-password');
  const curl = toCurl({ method: 'POST', url: `${SITE}/api/v4/callback/s3/0b5e6c5e/Zk3JxQm9aB2cD4eF6gH8iJ0kL1mN3oP5?sign=abc123456`,
    headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbg', 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'a@b.c', password: 'hunter2-password', refresh_token: 'r-token-value-123' }) });
  for (const secret of ['hunter2-password', 'eyJhbGciOiJIUzI1NiJ9', 'r-token-value-123', 'Zk3JxQm9aB2cD4eF6gH8iJ0kL1mN3oP5', 'abc123456']) {
    expect(curl).not.toContain(secret);
  }
  expect(curl).toContain('a@b.c');
  expect(redact('Authorization: Bearer Cr c2lnbmF0dXJl:1700000000')).not.toContain('c2lnbmF0dXJl');
});

test('CT-TRN-008 the typed client sends through the transport and reports response violations to the sink', async () => {
  const sink = new CollectingSink();
  const client = createCloudreveClient({ siteUrl: SITE, fetch: validatingFetch({ contract, sink,
    fetch: async (r) => { expect(new URL(r.url).pathname).toBe('/api/v4/site/ping');
      return new Response('{"code":0,"data":4,"msg":""}', { headers: { 'content-type': 'application/json' } }); } }) });
  const res = await client.GET('/site/ping');
  expect(res.response.status).toBe(200);
  expect(sink.violations.map((v) => `${v.check} ${v.pointer}`)).toEqual(['response_schema /data']);
});
