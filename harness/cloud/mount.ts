// Cloud storage emulators speak a provider's real wire format. Each is a plain request handler, mounted two ways:
// in-process through nock on the provider's host names (the zero-set-up run), or as a loopback HTTP server (for an
// out-of-process Cloudreve — the standalone reference target, or a real server whose policy endpoint points there).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
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
  /** A streamed body instead of `body` (e.g. a large object assembled from parts); both mounts pipe it through. */
  stream?: AsyncIterable<Buffer>;
}

export interface ProviderEmulator {
  /** Provider name, e.g. "s3". */
  readonly provider: string;
  handle(req: EmulatorRequest): Promise<EmulatorResponse>;
}

export async function readBody(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of body) parts.push(Buffer.isBuffer(p) ? p : Buffer.from(p));
  return Buffer.concat(parts);
}

function headersOf(raw: Record<string, string | string[] | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}

export interface LoopbackMount {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  close(): Promise<void>;
}

/** Serves the emulator on a loopback port; bodies stream through untouched. */
export async function mountLoopback(emulator: ProviderEmulator, port = 0): Promise<LoopbackMount> {
  const server: Server = createServer((req: IncomingMessage, res) => {
    const host = req.headers.host ?? '127.0.0.1';
    const request: EmulatorRequest = { method: req.method ?? 'GET', url: new URL(req.url ?? '/', `http://${host}`),
      headers: headersOf(req.headers), body: req };
    emulator.handle(request).then((r) => {
      res.writeHead(r.status, r.headers);
      if (r.stream && req.method !== 'HEAD') {
        const s = Readable.from(r.stream);
        s.on('error', (e) => res.destroy(e));
        s.pipe(res);
      } else {
        res.end(req.method === 'HEAD' ? undefined : r.body);
      }
      // A handler that answered before reading the whole body (an early auth error): drain it so the client sees the
      // answer instead of a reset connection.
      if (!req.readableEnded) req.resume();
    }, (e: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`emulator ${emulator.provider} failed: ${(e as Error).message}`);
      if (!req.readableEnded) req.resume();
    });
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

// ---- nock mount -------------------------------------------------------------------------------------------------
//
// How nock 14 hands a request body to a reply function (lib/intercepted_request_router.js `startPlayback`,
// lib/playback_interceptor.js): every request — node:http and fetch alike, both arrive through @mswjs/interceptors —
// is collected whole into `requestBodyBuffers`, then turned into ONE string: UTF-8 when the bytes survive a UTF-8
// round trip (`common.isUtf8Representable`), otherwise lowercase HEX. Nothing tells the reply function which. When the
// request's content-type is JSON the reply function even gets `JSON.parse` of it (an object, original bytes lost). And
// a fetch() request reaches nock without a Content-Length header, so the length cannot settle the question either: a
// text body "abcd" and the binary body 0xAB 0xCD are both handed over as the string "abcd".
//
// So this mount takes the bytes before nock turns them into a string: it wraps the router's `startPlayback` once per
// process to remember `Buffer.concat(requestBodyBuffers)` (and the request's scheme) for the request object that the
// reply function later sees as `this.req`. If a nock version ever changes that internal, the mount falls back to
// `decodeNockBody` on the string from the scope's 'request' event (emitted before any JSON parsing), which is exact
// whenever a Content-Length is present, and otherwise resolves the one ambiguous case (an even-length lowercase hex
// string whose hex decoding is not valid UTF-8) as hex. `nockBodyCapture()` says which path is active.

interface CapturedRequest { body: Buffer; proto?: string }
const captured = new WeakMap<object, CapturedRequest>();
/** Interceptors created by mountNock: only their requests get the JSON guard below. */
const ownInterceptors = new WeakSet<object>();
const PATCHED = Symbol.for('cloudreve-conformance.nock-body-capture');
let captureMode: 'exact' | 'decoded' | undefined;

// nock JSON.parse()s the body of a request whose content-type is application/json before calling a reply function
// (playback_interceptor.js parseJSONRequestBody) and does so outside any try: a body that is not JSON kills the process
// with an uncaught SyntaxError. Real clients do send that: esdk-obs-nodejs (OBS signature mode) labels binary part
// bodies "application/json". For requests that only this module's interceptors can answer, the raw bytes are kept
// aside and nock is handed the JSON text "null" instead.
function nockWouldFailOnJson(headers: Record<string, unknown>, body: Buffer): boolean {
  const type = String(headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/json') || body.length === 0) return false;
  if (/gzip|deflate/i.test(String(headers['content-encoding'] ?? ''))) return true;
  try {
    JSON.parse(body.toString(utf8Representable(body) ? 'utf8' : 'hex'));
    return false;
  } catch {
    return true;
  }
}

function installBodyCapture(): 'exact' | 'decoded' {
  if (captureMode) return captureMode;
  try {
    const require = createRequire(import.meta.url);
    const mod = require('nock/lib/intercepted_request_router.js') as {
      InterceptedRequestRouter?: { prototype: Record<string | symbol, unknown> } };
    const proto = mod.InterceptedRequestRouter?.prototype;
    const original = proto?.startPlayback;
    if (!proto || typeof original !== 'function') throw new Error('nock internals changed');
    if (!proto[PATCHED]) {
      proto.startPlayback = function patchedStartPlayback(this: { req?: { getHeaders?: () => Record<string, unknown> };
        requestBodyBuffers?: unknown; options?: { proto?: string }; interceptors?: unknown }) {
        if (this.req && Array.isArray(this.requestBodyBuffers)) {
          const bufs = (this.requestBodyBuffers as unknown[]).map((b) => Buffer.isBuffer(b) ? b : Buffer.from(b as ArrayBuffer));
          const body = Buffer.concat(bufs);
          captured.set(this.req, { body, proto: this.options?.proto });
          const interceptors = Array.isArray(this.interceptors) ? this.interceptors as object[] : [];
          const headers = this.req.getHeaders?.() ?? {};
          if (interceptors.length && interceptors.every((i) => ownInterceptors.has(i)) && nockWouldFailOnJson(headers, body)) {
            this.requestBodyBuffers = [Buffer.from('null')];
          }
        }
        return (original as (...a: unknown[]) => unknown).apply(this, arguments as unknown as unknown[]);
      };
      proto[PATCHED] = true;
    }
    captureMode = 'exact';
  } catch {
    captureMode = 'decoded';
  }
  return captureMode;
}

/** Which way the nock mount recovers request bodies: 'exact' (raw bytes captured) or 'decoded' (string heuristics). */
export function nockBodyCapture(): 'exact' | 'decoded' { return installBodyCapture(); }

function utf8Representable(b: Buffer): boolean { return Buffer.from(b.toString('utf8'), 'utf8').equals(b); }

/**
 * Recovers the request bytes from the string nock builds (UTF-8 if the bytes round-trip through UTF-8, else hex).
 * Exact when `contentLength` is known; without it, an even-length lowercase hex string whose decoding is not valid
 * UTF-8 is read as hex (a binary body) — a text body made only of such hex digits would be misread.
 */
export function decodeNockBody(s: string, contentLength?: number): Buffer {
  const asUtf8 = Buffer.from(s, 'utf8');
  if (s.length === 0 || s.length % 2 !== 0 || !/^[0-9a-f]+$/.test(s)) return asUtf8;
  const asHex = Buffer.from(s, 'hex');
  // nock would have handed over a UTF-8-representable buffer as UTF-8, so a hex reading must not be representable.
  if (utf8Representable(asHex)) return asUtf8;
  if (contentLength !== undefined && Number.isFinite(contentLength)) {
    if (contentLength === asHex.length) return asHex;
    if (contentLength === asUtf8.length) return asUtf8;
  }
  return asHex;
}

const NOCK_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'] as const;

// Mounts and nock's interceptors are kept apart. nock keeps one entry per scope origin and, when looking a request
// up, returns the FIRST entry whose origin matches — even one left empty by nock.removeInterceptor(), which then
// shadows every later mount of an overlapping origin (a RegExp and a host it matches, say) with "No match for request".
// So each distinct origin gets one persistent set of interceptors, installed once (again after a nock.cleanAll()),
// that hands each request to the newest active mount whose origins match it; unmounting only deactivates the mount.
interface NockMount { emulator: ProviderEmulator; origins: (string | RegExp)[]; exact: boolean }
const activeMounts: NockMount[] = [];
const installedScopes = new Map<string, nock.Scope>();
const eventBodies = new WeakMap<object, string>();

const originKey = (o: string | RegExp) => (typeof o === 'string' ? `s:${new URL(o).origin}` : `r:${o.source}/${o.flags}`);

function originMatches(o: string | RegExp, url: URL, proto: string): boolean {
  if (typeof o === 'string') return new URL(o).origin === url.origin;
  const port = url.port || (proto === 'https' ? '443' : '80');
  o.lastIndex = 0;
  if (o.test(`${proto}://${url.hostname}:${port}`)) return true;
  o.lastIndex = 0;
  return o.test(url.origin);
}

function installScope(origin: string | RegExp): void {
  const key = originKey(origin);
  const existing = installedScopes.get(key);
  if (existing && existing.activeMocks().length > 0) return;
  const scope = nock(origin).persist();
  scope.on('request', (req: object, _i: unknown, body: unknown) => { if (typeof body === 'string') eventBodies.set(req, body); });
  for (const method of NOCK_METHODS) {
    const interceptor = scope.intercept(/.*/, method);
    ownInterceptors.add(interceptor);
    interceptor.reply(async function (this: nock.ReplyFnContext, uri: string, parsed: nock.Body) {
      const req = this.req;
      const headers = headersOf(req.headers as Record<string, string | string[] | number | undefined>);
      const cap = captured.get(req);
      const hostHeader = headers.host;
      const proto = cap?.proto ?? (typeof origin === 'string' ? new URL(origin).protocol.replace(/:$/, '')
        : hostHeader?.endsWith(':80') ? 'http' : 'https');
      const url = new URL(uri, typeof origin === 'string' ? origin : `${proto}://${hostHeader ?? 'localhost'}`);
      const mount = [...activeMounts].reverse().find((m) => m.origins.some((o) => originMatches(o, url, proto)));
      if (!mount) throw new Error(`no emulator is mounted for ${url.origin} (it was unmounted)`);
      if (!headers.host) headers.host = url.host;
      let buf: Buffer;
      if (cap && mount.exact) buf = cap.body;
      else {
        const s = eventBodies.get(req) ?? (typeof parsed === 'string' ? parsed : JSON.stringify(parsed));
        const cl = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
        buf = decodeNockBody(s, cl);
      }
      // fetch() requests reach nock without the Content-Length they carry on the wire (undici sends one for a body of
      // known length, and 0 for an empty PUT/POST); put it back, since signatures may cover it (S3 part URLs do).
      if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined
        && (buf.length > 0 || method === 'PUT' || method === 'POST' || method === 'PATCH')) headers['content-length'] = String(buf.length);
      const r = await mount.emulator.handle({ method, url, headers, body: (async function* () { if (buf.length) yield buf; })() });
      const body = r.stream && method !== 'HEAD' ? Readable.from(r.stream) : method === 'HEAD' ? '' : (r.body ?? '');
      return [r.status, body, r.headers ?? {}];
    });
  }
  installedScopes.set(key, scope);
}

/**
 * Intercepts every request to `origins` (e.g. https://bucket.s3.us-east-1.amazonaws.com, or a RegExp matched against
 * `scheme://host:port`) in this process with nock and answers it from the emulator. Request bodies reach the emulator
 * byte-exact (see above); nock collects them whole first, so this mount is for the in-process run; the loopback mount
 * streams. The newest mount wins where origins overlap. Returns a function that unmounts this emulator (other mounts
 * stay); afterwards a request to an origin no mount serves fails with an error instead of reaching the network.
 *
 * A node:http client never receives "100 Continue" through nock 14 (@mswjs/interceptors): a client that sends
 * Expect: 100-continue waits for its own timeout first (the AWS SDK v3: 6 s per part > 2 MB — pass
 * `expectContinueHeader: false` to S3Client in nock-mounted runs).
 */
export function mountNock(emulator: ProviderEmulator, origins: (string | RegExp)[],
  options: { /** Test switch: ignore the raw capture and decode nock's string (the fallback path). */ bodyCapture?: 'exact' | 'decoded' } = {}): () => void {
  const exact = installBodyCapture() === 'exact' && options.bodyCapture !== 'decoded';
  if (!nock.isActive()) nock.activate();
  const mount: NockMount = { emulator, origins, exact };
  activeMounts.push(mount);
  for (const origin of origins) installScope(origin);
  return () => {
    const i = activeMounts.indexOf(mount);
    if (i >= 0) activeMounts.splice(i, 1);
  };
}
