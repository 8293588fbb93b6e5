// Cloud storage emulators speak a provider's real wire format. Each is a plain request handler, mounted two ways:
// in-process through nock on the provider's host names (the zero-set-up run), or as a loopback HTTP server (for an
// out-of-process Cloudreve — the standalone reference target, or a real server whose policy endpoint points there).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';

export interface EmulatorRequest {
  method: string;
  /** Absolute URL as the client addressed it (scheme, host, path, query). */
  url: URL;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The body, streamed; read it once. */
  body: AsyncIterable<Buffer>;
}

export interface EmulatorResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface ProviderEmulator {
  /** Provider name, e.g. "s3". */
  readonly provider: string;
  handle(req: EmulatorRequest): Promise<EmulatorResponse>;
}

export async function readBody(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of body) parts.push(p);
  return Buffer.concat(parts);
}

function headersOf(raw: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export interface LoopbackMount {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  close(): Promise<void>;
}

/** Serves the emulator on a loopback port; bodies stream through untouched. */
export async function mountLoopback(emulator: ProviderEmulator, port = 0): Promise<LoopbackMount> {
  const server: Server = createServer((req, res) => {
    const host = req.headers.host ?? '127.0.0.1';
    const request: EmulatorRequest = { method: req.method ?? 'GET', url: new URL(req.url ?? '/', `http://${host}`),
      headers: headersOf(req.headers), body: req };
    emulator.handle(request).then((r) => {
      res.writeHead(r.status, r.headers);
      res.end(r.body);
    }, (e: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`emulator ${emulator.provider} failed: ${(e as Error).message}`);
    });
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/**
 * Intercepts every request to `origins` (e.g. https://bucket.s3.us-east-1.amazonaws.com) in this process with nock and
 * answers it from the emulator. nock hands over bodies whole, so this mount is for the in-process run; the loopback
 * mount streams. Returns a function that removes the interceptors.
 */
export function mountNock(emulator: ProviderEmulator, origins: (string | RegExp)[]): () => void {
  const scopes = origins.map((origin) => {
    const scope = nock(origin).persist();
    for (const method of ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'] as const) {
      scope.intercept(/.*/, method).reply(async function (this: nock.ReplyFnContext, uri: string, body: nock.Body) {
        const req = this.req;
        const url = new URL(uri, this.basePath);
        const buf = typeof body === 'string' ? Buffer.from(body, /^[0-9a-f]*$/i.test(body) && body.length % 2 === 0 && req.headers['content-type'] !== 'application/json' && body.length > 0 && isHexBinary(req) ? 'hex' : 'utf8')
          : Buffer.from(JSON.stringify(body));
        const r = await emulator.handle({ method, url, headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), String(v)])),
          body: (async function* () { yield buf; })() });
        return [r.status, r.body ?? '', r.headers ?? {}];
      });
    }
    return scope;
  });
  return () => { for (const s of scopes) s.persist(false); nock.cleanAll(); };
}

// nock encodes non-UTF-8 request bodies as hex; a body it left as text is passed as UTF-8.
function isHexBinary(req: nock.ReplyFnContext['req']): boolean {
  const type = String(req.headers['content-type'] ?? '');
  return !type.startsWith('text/') && !type.includes('json') && !type.includes('xml') && !type.includes('form');
}
