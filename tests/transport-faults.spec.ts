// CT-TRF: transport faults. A raw node:net server (hand-written, sometimes malformed HTTP) plays each fault; the
// validating transport must end every case in a classified failure — a TransportError kind, or the contract
// violation that names what came back — within its own short timeout, never a hang, with a message that says what
// the server did.
import { test, expect } from '@playwright/test';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Contract } from '../harness/contract/contract.js';
import { validatingFetch, type TransportOptions } from '../harness/contract/transport.js';
import { TransportError, TRANSPORT_ERROR_KINDS } from '../harness/contract/transport-errors.js';
import { CollectingSink, describeViolation, type ContractViolation } from '../harness/contract/violations.js';

const contract = Contract.load();

/** Short limits, so a hang shows in seconds; every case must end within its limit plus MARGIN_MS. */
const LIMITS = { timeoutMs: 1_200, idleTimeoutMs: 600 } satisfies Partial<TransportOptions>;
const MARGIN_MS = 400;
/** For faults that need no timer: they must be classified at once. */
const PROMPT_MS = 1_000;

const SESSION = '0b5e6c5e-6f27-4e2b-9f2f-4b4f1d2a7a11';
const PING = '/api/v4/site/ping';
const DOWNLOAD = '/api/v4/file/content/4niX/0/a.bin?download=true&sign=c2VjcmV0LXNpZ25hdHVyZQ:0';
const ENVELOPE = '{"code":0,"data":"4.18.0","msg":""}';

// ---------------------------------------------------------------- a raw HTTP server

interface Head { method: string; path: string; headers: Record<string, string> }
type Handler = (socket: Socket, head: Head, rest: Buffer) => void;

interface RawServer { site: string; port: number; close(): void }

/** A node:net server: parses the request head, then leaves the socket to the handler (which may write anything). */
async function rawServer(handler: Handler): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => { /* resets are the point */ });
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const [line = '', ...fields] = buf.subarray(0, end).toString('latin1').split('\r\n');
      const [method = '', path = ''] = line.split(' ');
      const headers = Object.fromEntries(fields.map((f) => {
        const i = f.indexOf(':');
        return [f.slice(0, i).trim().toLowerCase(), f.slice(i + 1).trim()];
      }));
      handler(socket, { method, path, headers }, buf.subarray(end + 4));
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    site: `http://127.0.0.1:${port}`, port,
    close() { for (const s of sockets) s.destroy(); server.close(); },
  };
}

function head(status: string, headers: Record<string, string | number>): string {
  return `HTTP/1.1 ${status}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** A complete, well-framed answer (the server then closes). */
function answer(status: string, contentType: string, body: string): Handler {
  return (socket) => {
    socket.end(head(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), Connection: 'close' }) + body);
  };
}

// ---------------------------------------------------------------- one exchange, measured

interface Outcome {
  /** A TransportError kind, the check ids of the violations, or 'ok'. */
  outcome: string;
  message: string;
  elapsedMs: number;
  error?: TransportError;
  violations: ContractViolation[];
}

async function exchange(site: string, request: (site: string) => Request, limits: Partial<TransportOptions> = LIMITS): Promise<Outcome> {
  const o = await measure(site, request, limits);
  test.info().annotations.push({ type: 'outcome', description: `${o.outcome} after ${Math.round(o.elapsedMs)} ms` });
  return o;
}

async function measure(site: string, request: (site: string) => Request, limits: Partial<TransportOptions>): Promise<Outcome> {
  const sink = new CollectingSink();
  const send = validatingFetch({ contract, sink, ...limits, step: () => 'CT-TRF fault case' });
  const started = performance.now();
  try {
    const res = await send(request(site));
    await res.arrayBuffer(); // a streamed body is read to its end (or its fault) too
    const violations = sink.take();
    return { outcome: violations.map((v) => v.check).join(',') || 'ok', message: violations.map(describeViolation).join('\n'),
      elapsedMs: performance.now() - started, violations };
  } catch (e) {
    if (!(e instanceof TransportError)) throw e;
    return { outcome: e.kind, message: e.message, elapsedMs: performance.now() - started, error: e, violations: sink.take() };
  }
}

const ping = (site: string) => new Request(`${site}${PING}`);
const download = (site: string) => new Request(`${site}${DOWNLOAD}`);

/** A chunk upload whose body stream yields `first` bytes, then waits for `gate` before yielding the rest. */
function chunkUpload(size: number, first: number, gate: Promise<unknown>, fail?: Error) {
  return (site: string) => {
    let produced = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (produced >= first) {
          await gate;
          if (fail) { c.error(fail); return; }
        }
        if (produced >= size) { c.close(); return; }
        const n = Math.min(65_536, size - produced);
        produced += n;
        c.enqueue(new Uint8Array(n).fill(0x61));
      },
    }, { highWaterMark: 0 });
    return new Request(`${site}/api/v4/file/upload/${SESSION}/0`, { method: 'POST', body, duplex: 'half',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) } } as RequestInit);
  };
}

async function withServer<T>(handler: Handler, run: (s: RawServer) => Promise<T>): Promise<T> {
  const s = await rawServer(handler);
  try { return await run(s); } finally { s.close(); }
}

function expectTransport(o: Outcome, kind: string, what: RegExp, withinMs: number) {
  expect(o.outcome, o.message).toBe(kind);
  expect(o.error!.what).toMatch(what);
  expect(o.message).toContain(`[${kind}]`);
  expect(o.message).toContain('CT-TRF fault case');
  expect(o.error!.elapsedMs).toBeLessThan(withinMs);
  expect(o.elapsedMs).toBeLessThan(withinMs);
}

function expectViolation(o: Outcome, check: string, shows: string) {
  expect(o.outcome, o.message).toBe(check);
  expect(o.violations).toHaveLength(1);
  expect(o.violations[0]!.message).toContain(shows);
  expect(o.message).toContain(shows);
  expect(o.elapsedMs).toBeLessThan(PROMPT_MS);
}

// ---------------------------------------------------------------- the cases

test.describe.configure({ mode: 'parallel' });

test('CT-TRF-001 a body shorter than its Content-Length is truncated_body, with the byte counts', async () => {
  const body = `{"code":0,"data":"${'4'.repeat(1_234 - 18)}`;
  const o = await withServer((socket) => {
    socket.write(head('200 OK', { 'Content-Type': 'application/json', 'Content-Length': 10_000 }) + body);
    setTimeout(() => socket.end(), 50);
  }, (s) => exchange(s.site, ping));
  expectTransport(o, 'truncated_body', /^the server closed the connection after 1,234 of 10,000 body bytes \(Content-Length 10,000\)$/, PROMPT_MS);
  expect(o.error).toMatchObject({ phase: 'response_body', status: 200, bytesReceived: 1_234, contentLength: 10_000 });
});

test('CT-TRF-002 a chunked body cut off mid-chunk is truncated_body; so is a streamed download', async () => {
  const chunked = await withServer((socket) => {
    socket.write(head('200 OK', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }) + '40\r\n{"code":0,"data":"4.18');
    setTimeout(() => socket.end(), 50);
  }, (s) => exchange(s.site, ping));
  expectTransport(chunked, 'truncated_body', /^the server closed the connection in the middle of a chunked body, after 22 body bytes \(no terminating zero-length chunk\)$/, PROMPT_MS);

  const streamed = await withServer((socket) => {
    socket.write(head('200 OK', { 'Content-Type': 'application/octet-stream', 'Content-Length': 100_000 }));
    socket.write(Buffer.alloc(40_000, 0x62));
    setTimeout(() => socket.end(), 50);
  }, (s) => exchange(s.site, download));
  expectTransport(streamed, 'truncated_body', /^the server closed the connection after 40,000 of 100,000 body bytes \(Content-Length 100,000\)$/, PROMPT_MS);
  expect(streamed.message).not.toContain('c2VjcmV0LXNpZ25hdHVyZQ'); // the signed URL is redacted
  expect(streamed.message).toContain('sign=<redacted>');
});

test('CT-TRF-003 a non-JSON body labelled JSON is json_body_parse, showing the body', async () => {
  const o = await withServer(answer('200 OK', 'application/json; charset=utf-8', 'Service temporarily unavailable, try later'),
    (s) => exchange(s.site, ping));
  expectViolation(o, 'json_body_parse', 'Service temporarily unavailable, try later');
  expect(o.violations[0]!.actual).toBe('Service temporarily unavailable, try later');
});

test('CT-TRF-004 an HTML error page (text/html 502) is status_code_documented, showing the page', async () => {
  const page = '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>';
  const o = await withServer(answer('502 Bad Gateway', 'text/html', page), (s) => exchange(s.site, ping));
  expectViolation(o, 'status_code_documented', '<title>502 Bad Gateway</title>');
  expect(o.violations[0]).toMatchObject({ status: 502, actual: 502, operationId: 'ping' });
  expect(o.violations[0]!.message).toContain(`the body (${page.length} bytes) was:`);
});

test('CT-TRF-005 a valid envelope under a wrong Content-Type is content_type_documented, showing the body', async () => {
  const o = await withServer(answer('200 OK', 'text/plain; charset=utf-8', ENVELOPE), (s) => exchange(s.site, ping));
  expectViolation(o, 'content_type_documented', JSON.stringify(ENVELOPE));
  expect(o.violations[0]!.actual).toBe('text/plain; charset=utf-8');

  // The same on a byte route, where the body is streamed: its first bytes are peeked for the message, and the caller
  // still reads the whole body.
  const html = `<html><body>${'Not found. '.repeat(100)}</body></html>`;
  const sink = new CollectingSink();
  const dl = await withServer(answer('404 Not Found', 'text/html', html), async (s) => {
    const res = await validatingFetch({ contract, sink, ...LIMITS })(download(s.site));
    return { res, text: await res.text() };
  });
  expect(dl.text).toBe(html);
  expect(sink.violations.map((v) => v.check)).toEqual(['content_type_documented']);
  expect(sink.violations[0]!.message).toContain('the body began: "<html><body>Not found. Not found.');
});

test('CT-TRF-006 a 500 with a JSON envelope is status_code_documented, showing the envelope', async () => {
  const body = '{"code":50001,"msg":"Database is locked","correlation_id":"4f1c2b9e-aaaa-bbbb-cccc-123456789abc"}';
  const o = await withServer(answer('500 Internal Server Error', 'application/json; charset=utf-8', body), (s) => exchange(s.site, ping));
  expectViolation(o, 'status_code_documented', 'Database is locked');
  expect(o.violations[0]).toMatchObject({ status: 500, correlationId: '4f1c2b9e-aaaa-bbbb-cccc-123456789abc' });
});

test('CT-TRF-007 a connection reset in the middle of a chunk upload is connection_reset, with the bytes sent', async () => {
  let resetDone!: () => void;
  const gate = new Promise<void>((r) => { resetDone = r; });
  let read = 0;
  const o = await withServer((socket, _head, rest) => {
    read = rest.length;
    socket.on('data', (d: Buffer) => {
      read += d.length;
      if (read >= 128 * 1024 && !socket.destroyed) { socket.resetAndDestroy(); setTimeout(resetDone, 20); }
    });
  }, (s) => exchange(s.site, chunkUpload(1024 * 1024, 256 * 1024, gate)));
  expectTransport(o, 'connection_reset',
    /^the server reset the connection \((ECONNRESET|EPIPE)\) before sending response headers, after [\d,]+ of 1,048,576 request body bytes had been sent$/, PROMPT_MS);
  expect(o.error!.bytesSent).toBeGreaterThanOrEqual(256 * 1024);
  expect(o.error!.bytesSent).toBeLessThan(1024 * 1024);
  expect(o.error).toMatchObject({ phase: 'request', requestLength: 1024 * 1024, status: undefined });
});

test('CT-TRF-008 a stall before the headers is timeout_headers at the deadline', async () => {
  const o = await withServer(() => { /* reads the request, never answers */ }, (s) => exchange(s.site, ping));
  expectTransport(o, 'timeout_headers', /^the server accepted the connection but sent no response headers within 1,200 ms$/,
    LIMITS.timeoutMs + MARGIN_MS);
  expect(o.elapsedMs).toBeGreaterThanOrEqual(LIMITS.timeoutMs - 50);
  expect(o.error!.name).toBe('TimeoutError');
});

test('CT-TRF-009 a stall mid-body is timeout_body after the idle timeout, buffered or streamed', async () => {
  const json = await withServer((socket) => {
    socket.write(head('200 OK', { 'Content-Type': 'application/json', 'Content-Length': 100 }) + `{"code":0,"data":"${'4'.repeat(50 - 18)}`);
  }, (s) => exchange(s.site, ping));
  expectTransport(json, 'timeout_body',
    /^the server sent the response headers \(HTTP 200, Content-Length 100\) and 50 of 100 body bytes, then nothing for 600 ms$/,
    LIMITS.idleTimeoutMs + MARGIN_MS);
  expect(json.elapsedMs).toBeGreaterThanOrEqual(LIMITS.idleTimeoutMs - 50);

  const streamed = await withServer((socket) => {
    socket.write(head('200 OK', { 'Content-Type': 'application/octet-stream', 'Content-Length': 100_000 }));
    socket.write(Buffer.alloc(50_000, 0x62));
  }, (s) => exchange(s.site, download));
  expectTransport(streamed, 'timeout_body',
    /^the server sent the response headers \(HTTP 200, Content-Length 100,000\) and 50,000 of 100,000 body bytes, then nothing for 600 ms$/,
    LIMITS.idleTimeoutMs + MARGIN_MS);
});

test('CT-TRF-010 a body that trickles past the total deadline is timeout_body at the deadline', async () => {
  const o = await withServer((socket) => {
    socket.write(head('200 OK', { 'Content-Type': 'application/octet-stream', 'Content-Length': 100_000 }));
    const t = setInterval(() => { if (socket.destroyed) clearInterval(t); else socket.write('x'); }, 100);
    socket.on('close', () => clearInterval(t));
  }, (s) => exchange(s.site, download));
  expectTransport(o, 'timeout_body',
    /^the server sent the response headers \(HTTP 200, Content-Length 100,000\) and \d+ of 100,000 body bytes, but the body was not complete within the 1,200 ms deadline$/,
    LIMITS.timeoutMs + MARGIN_MS);
});

test('CT-TRF-011 a closed port is connection_refused', async () => {
  const s = await rawServer(() => undefined);
  const port = s.port;
  s.close();
  await new Promise((r) => setTimeout(r, 20));
  const o = await exchange(`http://127.0.0.1:${port}`, ping);
  expectTransport(o, 'connection_refused', new RegExp(`^the server refused the connection \\(ECONNREFUSED\\): nothing listens on 127\\.0\\.0\\.1:${port}$`), PROMPT_MS);
});

test('CT-TRF-012 a reset after the headers, mid-download, is connection_reset with the bytes received', async () => {
  const o = await withServer((socket) => {
    socket.write(head('200 OK', { 'Content-Type': 'application/octet-stream', 'Content-Length': 10_000 }));
    socket.write(Buffer.alloc(1_234, 0x62), () => setTimeout(() => socket.resetAndDestroy(), 50));
  }, (s) => exchange(s.site, download));
  expectTransport(o, 'connection_reset',
    /^the server sent the response headers \(HTTP 200, Content-Length 10,000\) and 1,234 of 10,000 body bytes, then reset the connection \(ECONNRESET\)$/, PROMPT_MS);
});

test('CT-TRF-013 the harness\'s own upload stream failing is request_body_failed, not the server\'s fault', async () => {
  const o = await withServer((socket) => { socket.on('data', () => undefined); },
    (s) => exchange(s.site, chunkUpload(1024 * 1024, 128 * 1024, Promise.resolve(), new Error('payload source: read past end'))));
  expectTransport(o, 'request_body_failed',
    /^the request body stream \(the harness's own upload, not the server\) failed after 131,072 of 1,048,576 bytes had been sent: payload source: read past end$/, PROMPT_MS);
});

test('CT-TRF-014 HTTP-stack errors without a server are classified: DNS, garbage, unknown', async () => {
  const failing = (cause: Error) => validatingFetch({ contract, sink: new CollectingSink(), ...LIMITS,
    fetch: async () => { throw new TypeError('fetch failed', { cause }); } });
  const dns = await failing(Object.assign(new Error('getaddrinfo ENOTFOUND cloud.invalid'), { code: 'ENOTFOUND' }))(
    new Request(`http://cloud.invalid${PING}`)).catch((e: unknown) => e);
  expect(dns).toBeInstanceOf(TransportError);
  expect(dns).toMatchObject({ kind: 'dns', code: 'ENOTFOUND', what: 'the host name "cloud.invalid" could not be resolved (ENOTFOUND)' });

  const garbage = await withServer((socket) => { socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n'); }, (s) => exchange(s.site, ping));
  expectTransport(garbage, 'protocol_error', /^the server answered with bytes that are not valid HTTP\/1\.1 \(HPE_[A-Z_]+\)/, PROMPT_MS);

  // A caller's programming error is not dressed up as a transport fault.
  const bug = await validatingFetch({ contract, sink: new CollectingSink(), fetch: async () => { throw new RangeError('bug'); } })(
    new Request(`http://127.0.0.1:1${PING}`)).catch((e: unknown) => e);
  expect(bug).toBeInstanceOf(RangeError);
  expect(TRANSPORT_ERROR_KINDS).toContain('dns');
});

test('CT-TRF-015 a caller\'s abort passes through as the caller\'s own reason', async () => {
  await withServer(() => undefined, async (s) => {
    const send = validatingFetch({ contract, sink: new CollectingSink(), ...LIMITS });
    const started = performance.now();
    const err = await send(new Request(`${s.site}${PING}`, { signal: AbortSignal.timeout(100) })).catch((e: unknown) => e) as Error;
    expect(err).not.toBeInstanceOf(TransportError);
    expect(err.name).toBe('TimeoutError');
    expect(performance.now() - started).toBeLessThan(100 + MARGIN_MS);
  });
});

test('CT-TRF-016 the Playwright test timeout never ends a fault case: all of them, at once, settle well before it', async ({}, testInfo) => {
  // Every hang-prone case, concurrently, each under a guard of its own limit plus the margin: a case that did not
  // settle by then is reported here by name (not by Playwright's timeout, which is 10× further away at least).
  const budget = LIMITS.timeoutMs + MARGIN_MS;
  expect(testInfo.timeout).toBeGreaterThanOrEqual(10 * budget);
  const stallHeaders: Handler = () => undefined;
  const stallBody: Handler = (socket) => {
    socket.write(head('200 OK', { 'Content-Type': 'application/json', 'Content-Length': 100 }) + '{"code":0');
  };
  const stallDownload: Handler = (socket) => {
    socket.write(head('200 OK', { 'Content-Type': 'application/octet-stream', 'Content-Length': 100 }) + 'xx');
  };
  const stallUpload: Handler = (socket) => { socket.pause(); }; // accepts the connection, stops reading the upload
  const cases: [string, Handler, (site: string) => Request][] = [
    ['stall before headers', stallHeaders, ping],
    ['stall mid JSON body', stallBody, ping],
    ['stall mid download', stallDownload, download],
    ['stall during upload', stallUpload, chunkUpload(64 * 1024 * 1024, 64 * 1024 * 1024, Promise.resolve())],
  ];
  const started = performance.now();
  const results = await Promise.all(cases.map(async ([name, handler, request]) => {
    const s = await rawServer(handler);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const hung = new Promise<'hung'>((r) => { timer = setTimeout(() => r('hung'), budget); });
      const r = await Promise.race([exchange(s.site, request), hung]);
      return { name, outcome: r === 'hung' ? 'hung' : r.outcome, elapsedMs: r === 'hung' ? budget : r.elapsedMs,
        what: r === 'hung' ? 'hung' : r.error?.what ?? r.message };
    } finally {
      clearTimeout(timer);
      s.close();
    }
  }));
  const total = performance.now() - started;
  expect(results.map((r) => `${r.name}: ${r.outcome}`)).toEqual([
    'stall before headers: timeout_headers',
    'stall mid JSON body: timeout_body',
    'stall mid download: timeout_body',
    'stall during upload: timeout_headers',
  ]);
  for (const r of results) expect(r.elapsedMs, r.name).toBeLessThan(budget);
  // The server that stopped reading the upload: the message says how much of it the connection took.
  expect(results[3]!.what).toMatch(/^the server accepted the connection but sent no response headers within 1,200 ms, after [\d,]+ of 67,108,864 request body bytes had been sent$/);
  expect(total).toBeLessThan(testInfo.timeout / 10);
  testInfo.annotations.push({ type: 'elapsed', description: results.map((r) => `${r.name} ${Math.round(r.elapsedMs)} ms`).join('; ') });
});
