// The HTTP plumbing the cloud policy drivers share: deadlines and idle watchdogs on provider calls, streamed request
// and answer bodies, a byte range cut out of a whole answer, provider failures as AppErrors, key and query encoding,
// multipart arithmetic. What a provider signs and how its requests are shaped stays in its driver.
//
// Two ways to talk to a provider:
//   send / exchange / download   (oss, cos) a call aborted when nothing moved for NO_PROGRESS_MS (no answer yet, no
//                                body bytes either way); redirects refused; failures read as `<label> failed: …`.
//                                objectCalls: their cancel, put, get and remove, on the driver's signed requests.
//   call / openObject            (onedrive, qiniu, upyun) a call read whole within a deadline, or a download whose
//                                headers must come within CONTROL_TIMEOUT_MS and whose body may stall IDLE_TIMEOUT_MS;
//                                redirects followed; failures read as `<what>: …`.
// The S3 family (s3.ts) sends its own calls (a deadline per call, its own messages) with the pieces below.
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { AppError, Code } from '../envelope.js';
import type { PolicyRow, UploadSession } from '../state.js';
import type { CloudDriver } from './types.js';

export const OCTET = 'application/octet-stream';
/** Deadline of a control call (request and answer read whole). */
export const CONTROL_TIMEOUT_MS = 30_000;
/** Deadline of a call that sends or reads object data. */
export const TRANSFER_TIMEOUT_MS = 10 * 60_000;
/** A download (openObject) is given up when no byte arrived for this long. */
const IDLE_TIMEOUT_MS = 60_000;
/** A watched call (send) is aborted when nothing moved (no answer, no body bytes) for this long. */
const NO_PROGRESS_MS = 30_000;

export type ByteRange = { start: number; end: number };

export const str = (v: unknown): string => (typeof v === 'string' ? v : '');

// ---- encoding ---------------------------------------------------------------------------------------------------------

/** A key's segments, each encoded with `encode`, joined with `/`. */
export function encodeKey(key: string, encode: (s: string) => string = encodeURIComponent): string {
  return key.split('/').map((s) => encode(s)).join('/');
}

/** Query pairs (decoded); a value of undefined is a bare `name`. */
export type QueryPair = readonly [string, string | undefined];

/** `name=value&…`, names and values encoded with `encode`. */
export function queryString(pairs: readonly QueryPair[], encode: (s: string) => string): string {
  return pairs.map(([n, v]) => (v === undefined ? encode(n) : `${encode(n)}=${encode(v)}`)).join('&');
}

/** Pairs whose empty values stand for bare names (how S3 and COS callers write `?uploads`), as queryString takes them. */
export function emptyAsBare(pairs: Iterable<readonly [string, string]>): QueryPair[] {
  return [...pairs].map(([n, v]) => [n, v === '' ? undefined : v]);
}

export const rangeHeader = (range?: ByteRange): Record<string, string> => (range ? { range: `bytes=${range.start}-${range.end}` } : {});

/** The response-content-disposition of a download URL, as Cloudreve's drivers write it. */
export function attachment(fileName: string): string {
  const name = encodeURIComponent(fileName);
  return `attachment; filename="${name}"; filename*=UTF-8''${name}`;
}

/** A DELETE that removed the thing, or found it gone already (404). */
export const deletedOrGone = (status: number): boolean => status === 204 || status === 200 || status === 404;

// ---- multipart uploads ------------------------------------------------------------------------------------------------

/** The lengths of the parts of a `size`-byte upload in `chunkSize` chunks: at least one part; one part when 0. */
export function partSizes(size: number, chunkSize: number): number[] {
  const count = chunkSize > 0 ? Math.max(1, Math.ceil(size / chunkSize)) : 1;
  return Array.from({ length: count }, (_, i) => (chunkSize > 0 ? Math.min(chunkSize, size - i * chunkSize) : size));
}

// ---- failures ---------------------------------------------------------------------------------------------------------

/** `<label> failed: <why>`, code -1. `label` names provider and operation (`OSS GetObject`). */
export function failed(label: string, why: string): AppError {
  return new AppError(Code.NotSet, `${label} failed: ${why}`);
}

export interface ProviderError { code?: string; message?: string }

export function xmlField(text: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(text);
  return m?.[1]?.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, '\'').replace(/&amp;/g, '&');
}

/** The <Code> and <Message> of an XML error body. */
const xmlError = (text: string): ProviderError => ({ code: xmlField(text, 'Code'), message: xmlField(text, 'Message') });

/** A provider's refusal (reads the answer's body): `<label> failed: HTTP <status>[ <code>][: <message>]`. */
export async function failure(res: Response, label: string, parse: (text: string) => ProviderError = xmlError): Promise<AppError> {
  const e = parse(await res.text().catch(() => ''));
  return failed(label, `HTTP ${res.status}${e.code ? ` ${e.code}` : ''}${e.message ? `: ${e.message}` : ''}`);
}

/** A call that did not get through (or an AppError, passed on). */
function networkError(e: unknown, label: string): AppError {
  if (e instanceof AppError) return e;
  const err = e as Error & { cause?: Error };
  const cause = err.cause?.message ? ` (${err.cause.message})` : '';
  return failed(label, `${err.message}${cause}`);
}

// ---- streams ----------------------------------------------------------------------------------------------------------

/** Aborts a request when nothing moved for `ms` (no answer yet, no body bytes either way). */
class Watchdog {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  constructor(private ms: number, private reason: string) { this.kick(); }
  get signal(): AbortSignal { return this.controller.signal; }
  kick(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.controller.abort(new Error(this.reason)), this.ms);
    this.timer.unref();
  }
  /** Waits `ms` from now on instead, then aborts with `reason`. */
  arm(ms: number, reason: string): void {
    this.ms = ms;
    this.reason = reason;
    this.kick();
  }
  stop(): void { clearTimeout(this.timer); }
}

/** `src` passed through, kicking the watchdog on every piece. `owned`: destroying the result destroys `src` (a provider's
 * answer; never the client's request, whose connection must survive to carry the error envelope). */
function watched(src: Readable, wd: Watchdog, owned: boolean): Readable {
  const out = new Transform({ transform(chunk, _enc, cb) { wd.kick(); cb(null, chunk); } });
  src.on('error', (e) => out.destroy(e));
  out.on('close', () => { wd.stop(); if (owned && !src.destroyed) src.destroy(); });
  return src.pipe(out);
}

/** `body` from byte `skip` on, at most `take` bytes (a provider that answered a ranged GET with the whole object). */
function slice(body: Readable, skip: number, take: number): Readable {
  let pos = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const from = Math.max(0, skip - pos);
      const to = Math.min(chunk.length, skip + take - pos);
      pos += chunk.length;
      cb(null, to > from ? chunk.subarray(from, to) : undefined);
    },
  });
  body.on('error', (e) => out.destroy(e));
  out.on('close', () => { if (!body.destroyed) body.destroy(); });
  return body.pipe(out);
}

/** A provider's answer body as a Node stream under `wd`; a range asked for and answered 200 (the whole object) is cut out. */
function answerBody(res: Response, wd: Watchdog, range?: ByteRange): Readable {
  if (!res.body) { wd.stop(); return Readable.from([]); }
  const body = watched(Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>), wd, true);
  return range && res.status === 200 ? slice(body, range.start, range.end - range.start + 1) : body;
}

/** A Node stream as a fetch body (send it with `duplex: 'half'`). */
export function streamBody(body: Readable): ReadableStream<Uint8Array> {
  return Readable.toWeb(body) as unknown as ReadableStream<Uint8Array>;
}

/** Cuts a stream into consecutive parts: each call gives the next `n` bytes as a fetch body (consume one before the next). */
export function partsOf(body: Readable): (n: number) => AsyncIterable<Uint8Array> {
  const it = (body as AsyncIterable<Buffer | Uint8Array | string>)[Symbol.asyncIterator]();
  let pending: Buffer | undefined;
  return (n: number) => (async function* () {
    let left = n;
    while (left > 0) {
      let b = pending;
      pending = undefined;
      if (!b) {
        const r = await it.next();
        if (r.done) throw new Error(`the body ended ${left} bytes early`);
        b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
      }
      if (b.length > left) { pending = b.subarray(left); b = b.subarray(0, left); }
      left -= b.length;
      if (b.length) yield b;
    }
  })();
}

// ---- watched calls (oss, cos) -----------------------------------------------------------------------------------------

/** A request as the driver signed it. */
export interface ProviderRequest {
  /** Provider and operation, for messages: `OSS GetObject`. */
  label: string;
  method: string;
  url: string;
  /** Every header sent (the driver sets Content-Length of a body). */
  headers: Record<string, string>;
  body?: Readable;
}

/** Sends a call; the answer's body is left unread (the watchdog keeps running until it is read or cancelled). */
async function send(r: ProviderRequest): Promise<{ res: Response; wd: Watchdog }> {
  const wd = new Watchdog(NO_PROGRESS_MS, `${r.label}: no progress for ${NO_PROGRESS_MS} ms`);
  const init: RequestInit & { duplex?: 'half' } = { method: r.method, headers: r.headers, redirect: 'error', signal: wd.signal };
  if (r.body) {
    init.body = streamBody(watched(r.body, wd, false));
    init.duplex = 'half';
  }
  try {
    const res = await fetch(r.url, init);
    wd.kick();
    return { res, wd };
  } catch (e) {
    wd.stop();
    throw networkError(e, r.label);
  }
}

/** A call whose answer is read whole (small XML or nothing); a status `ok` refuses is the provider's failure. */
export async function exchange(r: ProviderRequest, ok: (status: number) => boolean): Promise<{ status: number; text: string; headers: Headers }> {
  const { res, wd } = await send(r);
  try {
    if (!ok(res.status)) throw await failure(res, r.label);
    return { status: res.status, text: await res.text(), headers: res.headers };
  } catch (e) {
    throw networkError(e, r.label);
  } finally {
    wd.stop();
  }
}

/** A GET of an object (its Range header signed in `r`): the body streamed, undefined on 404. */
async function download(r: ProviderRequest, range?: ByteRange): Promise<Readable | undefined> {
  const { res, wd } = await send(r);
  try {
    if (res.status === 404) { await res.body?.cancel(); wd.stop(); return undefined; }
    if (res.status !== 200 && res.status !== 206) throw await failure(res, r.label);
  } catch (e) {
    wd.stop();
    throw networkError(e, r.label);
  }
  return answerBody(res, wd, range);
}

/** A call on an object of the policy's bucket, before the driver signs it; `query` in the driver's own form. */
export interface ObjectCall<Q> {
  policy: PolicyRow;
  method: string;
  key: string;
  query?: Q;
  headers?: Record<string, string>;
  body?: Readable;
  length?: number;
  /** Operation name for messages. */
  what: string;
}

/**
 * AbortMultipartUpload, PutObject (streamed), GetObject (Range) and DeleteObject on a provider whose calls `request`
 * signs; `provider` names it in messages, `uploadIdQuery` is the query naming a multipart upload.
 */
export function objectCalls<Q>(provider: string, request: (c: ObjectCall<Q>) => ProviderRequest, uploadIdQuery: (uploadId: string) => Q):
  Pick<CloudDriver, 'cancel' | 'put' | 'get' | 'remove'> {
  return {
    async cancel(policy: PolicyRow, session: UploadSession): Promise<void> {
      const uploadId = session.provider?.uploadId;
      if (!uploadId || !session.key) throw new AppError(Code.NotSet, `upload session ${session.id} has no ${provider} multipart upload`);
      // 404 NoSuchUpload: nothing left to abort (completed at the provider, or aborted already); the object goes with the entity.
      await exchange(request({ policy, method: 'DELETE', key: session.key, query: uploadIdQuery(uploadId), what: 'AbortMultipartUpload' }),
        deletedOrGone);
    },

    async put(policy: PolicyRow, key: string, body: Readable, length: number, mimeType?: string): Promise<void> {
      await exchange(request({ policy, method: 'PUT', key, body, length, what: 'PutObject', headers: { 'Content-Type': mimeType || OCTET } }),
        (s) => s === 200);
    },

    async get(policy: PolicyRow, key: string, range?: ByteRange): Promise<Readable | undefined> {
      return download(request({ policy, method: 'GET', key, headers: rangeHeader(range), what: 'GetObject' }), range);
    },

    async remove(policy: PolicyRow, key: string): Promise<void> {
      await exchange(request({ policy, method: 'DELETE', key, what: 'DeleteObject' }), deletedOrGone);
    },
  };
}

// ---- calls with deadlines (onedrive, qiniu, upyun) --------------------------------------------------------------------

export type ProviderInit = Omit<RequestInit, 'body' | 'signal'> & { body?: RequestInit['body'] | AsyncIterable<Uint8Array>; duplex?: 'half' };

/** A provider call whose answer is read whole; never hangs (a deadline covers the exchange). Network failures are AppErrors. */
export async function call(what: string, url: string, init: ProviderInit, timeoutMs = CONTROL_TIMEOUT_MS):
  Promise<{ status: number; headers: Headers; text: string }> {
  try {
    const res = await fetch(url, { ...init, redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) } as RequestInit);
    return { status: res.status, headers: res.headers, text: await res.text() };
  } catch (e) {
    const err = e as Error & { cause?: Error };
    throw new AppError(Code.NotSet, `${what}: ${err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : err.message}${err.cause ? ` (${err.cause.message})` : ''}`);
  }
}

/**
 * A GET of an object whose answer is streamed (the Range header added here): the headers must arrive within the
 * control deadline, then the body is abandoned when it stalls for IDLE_TIMEOUT_MS. Undefined when the status is one
 * of `missing`; a status other than 200/206 is `refuse`d with the answer read whole.
 */
export async function openObject(what: string, url: string, headers: Record<string, string>, range: ByteRange | undefined,
  refuse: (r: { status: number; text: string }) => AppError, missing: readonly number[] = [404]): Promise<Readable | undefined> {
  const wd = new Watchdog(CONTROL_TIMEOUT_MS, `${what}: no answer within ${CONTROL_TIMEOUT_MS} ms`);
  let res: Response;
  try {
    res = await fetch(url, { method: 'GET', headers: { ...headers, ...rangeHeader(range) }, redirect: 'follow', signal: wd.signal });
  } catch (e) {
    wd.stop();
    throw new AppError(Code.NotSet, `${what}: ${(e as Error).message}`);
  }
  wd.stop();
  if (missing.includes(res.status)) { await res.body?.cancel(); return undefined; }
  if (res.status !== 200 && res.status !== 206) throw refuse({ status: res.status, text: await res.text() });
  wd.arm(IDLE_TIMEOUT_MS, `${what}: the body stalled for ${IDLE_TIMEOUT_MS} ms`);
  return answerBody(res, wd, range);
}
