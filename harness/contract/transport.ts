// The validating transport: a fetch-compatible function (what openapi-fetch calls) that checks each request against
// its operation before it is sent and each response after it arrives. JSON bodies are buffered (they are small);
// byte bodies — chunks, downloads — pass through as streams and only their status and media type are checked.
// Nothing waits forever: a total deadline and a per-read idle timeout bound every exchange, and each network fault
// becomes a TransportError (transport-errors.ts) whose message says what the server did.
import diagnostics from 'node:diagnostics_channel';
import type { APIRequestContext } from '@playwright/test';
import { redact } from '../secrets.js';
import { Contract } from './contract.js';
import { mediaTypeOf, runRequestChecks, runResponseChecks, type ExchangeInfo } from './checks.js';
import { errorCode, fmt, isNetworkFailure, kindBeforeHeaders, kindDuringBody, messageChain, TransportError,
  type TransportErrorKind, type TransportExchange } from './transport-errors.js';
import { ContractViolationError, toCurl, type CheckId, type ContractViolation, type ViolationSink } from './violations.js';

export { TransportError, isTransportError, type TransportErrorKind } from './transport-errors.js';

export type FetchLike = (input: Request) => Promise<Response>;

export interface TransportOptions {
  /** Where response violations go (the Playwright fixture collects them and fails the test). */
  sink: ViolationSink;
  contract?: Contract;
  /** The HTTP client underneath; global fetch by default, or playwrightFetch(request). */
  fetch?: FetchLike;
  /**
   * 'enforce' (default): a request that breaks the contract is refused before it is sent — the harness must not
   * send malformed requests by accident. 'off': negative tests send deliberately invalid requests.
   */
  requestValidation?: 'enforce' | 'off';
  /**
   * Per-exchange deadline in ms (default 15 s), from the request until the last body byte (of a buffered JSON body,
   * or of a streamed body the caller reads): the harness never hangs on a target. Headers that do not come in time
   * end in TransportError 'timeout_headers', a body that does not complete in 'timeout_body'.
   */
  timeoutMs?: number;
  /**
   * Longest silence while a response body is being read, in ms (default 10 s): a body that sends nothing for that
   * long ends in TransportError 'timeout_body', buffered or streamed.
   */
  idleTimeoutMs?: number;
  /** Names the test and step in the X-Conformance-Test header, so an operator can find the exchange in the server log. */
  step?: () => string | undefined;
}

export const TEST_HEADER = 'X-Conformance-Test';

/** Checks whose message gets the first bytes of the body: what came back instead of the documented answer. */
const SHOWS_BODY = new Set<CheckId>(['status_code_documented', 'content_type_documented', 'json_body_parse']);
const EXCERPT_BYTES = 512;

/**
 * Builds the validating fetch. Requests to paths outside /api/v4 (e.g. a storage provider) are passed through
 * unchecked, under the same deadlines. Network faults reject with a TransportError (see transport-errors.ts); a
 * streamed body that stalls or breaks off errors its stream with one.
 */
export function validatingFetch(options: TransportOptions): (input: Request | string | URL, init?: RequestInit) => Promise<Response> {
  const contract = options.contract ?? Contract.load();
  const send: FetchLike = options.fetch ?? ((r) => fetch(r));
  const limits: Limits = {
    timeoutMs: options.timeoutMs ?? 15_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 10_000,
    // Only the global fetch (undici) reports, through diagnostics_channel, that request headers went out.
    observable: !options.fetch,
  };

  return async (input, init) => {
    let request = input instanceof Request && !init ? input : new Request(input, init);
    const step = options.step?.();
    if (step && !request.headers.has(TEST_HEADER)) {
      const headers = new Headers(request.headers);
      headers.set(TEST_HEADER, step.replace(/[^\x20-\x7e]/g, '?').slice(0, 200));
      request = new Request(request, { headers });
    }
    const url = new URL(request.url);
    const matched = contract.match(request.method, url);
    const contentType = request.headers.get('content-type');
    const isJson = !!mediaTypeOf(contentType)?.endsWith('json');
    const bodyText = isJson && request.body ? await request.clone().text() : undefined;
    const info: ExchangeInfo = {
      curl: toCurl({ method: request.method, url: request.url, headers: request.headers,
        body: bodyText ?? (request.body ? { bytes: Number(request.headers.get('content-length') ?? NaN) } : undefined) }),
      testStep: step,
    };
    const exchange: TransportExchange = { method: request.method, url: redact(request.url),
      operationId: matched?.operation.id, testStep: step === undefined ? undefined : redact(step), curl: info.curl };

    if (!matched) {
      if (url.pathname.includes('/api/v4/')) {
        const v: ContractViolation = { check: 'undocumented_operation', side: 'request', operationId: '(none)',
          method: request.method.toLowerCase(), path: url.pathname, pointer: '', expected: 'an operation of the contract',
          actual: `${request.method} ${url.pathname}`, message: 'no operation of the contract matches this request', ...info };
        if ((options.requestValidation ?? 'enforce') === 'enforce') throw new ContractViolationError([v]);
      }
      const ex = new GuardedExchange(exchange, limits, url);
      const response = await ex.send(send, request, request.redirect, bodyText);
      return ex.streamed(response);
    }
    const { operation, pathParams } = matched;

    if ((options.requestValidation ?? 'enforce') === 'enforce') {
      let body: unknown;
      if (bodyText !== undefined) {
        try { body = bodyText.length ? JSON.parse(bodyText) : undefined; } catch { body = bodyText; }
      } else if (request.body) body = 'binary';
      const violations = runRequestChecks({ contract, operation, url, pathParams, headers: request.headers, body,
        bodyPresent: !!request.body, contentType, ...info });
      if (violations.length) throw new ContractViolationError(violations);
    }

    const ex = new GuardedExchange(exchange, limits, url);
    const response = await ex.send(send, request, 'manual', bodyText);

    const resType = response.headers.get('content-type');
    const resMedia = mediaTypeOf(resType);
    let text: string | undefined;
    let json: unknown;
    let parseError: string | undefined;
    // Bodies documented or labelled as JSON are buffered; a JSON-looking body under another label is read too, so
    // that a wrong Content-Type on an envelope is reported with its content.
    const documented = documentedMedia(operation.object, response.status);
    const documentsJson = documented.some((k) => k.endsWith('json'));
    const covered = !!resMedia && documented.some((k) => k === resMedia || k === '*/*' || (k.endsWith('/*') && resMedia.startsWith(k.slice(0, -1))));
    // A text body is read as a suspected envelope only where its media type is not documented for the status: a text
    // file served by a download route is the file, not an envelope.
    if (resMedia?.endsWith('json') || (documentsJson && (!resMedia || (resMedia.startsWith('text/') && !covered)))) {
      text = await ex.text(response);
      try { json = JSON.parse(text); } catch (e) { parseError = (e as Error).message; }
      // Routes that serve files (documented with byte media types too) may serve a JSON file: only an object with a
      // numeric code is their error envelope.
      const servesFiles = documented.some((k) => !k.endsWith('json'));
      if (servesFiles && !(json && typeof json === 'object' && typeof (json as { code?: unknown }).code === 'number')) {
        return rebuilt(response, nullBodyStatus(response.status) ? null : text);
      }
    }
    const correlationId = typeof (json as any)?.correlation_id === 'string' ? (json as any).correlation_id : undefined;
    const violations = runResponseChecks({ contract, operation, status: response.status, contentType: resType, text, json,
      parseError, ...info, correlationId });

    // What came back instead of the documented answer: the first bytes of the body, in the message.
    let excerpt = text === undefined ? undefined : { text, complete: true };
    let peekFailure: unknown;
    if (excerpt === undefined && violations.some((v) => SHOWS_BODY.has(v.check)) && response.body) {
      try { excerpt = await ex.peek(response, EXCERPT_BYTES); } catch (e) { peekFailure = e; }
    }
    try {
      for (const v of violations) options.sink.report(SHOWS_BODY.has(v.check) && excerpt ? withBody(v, excerpt) : v);
    } catch (e) {
      ex.cancel();
      throw e;
    }
    if (peekFailure !== undefined) throw peekFailure;

    if (text !== undefined) {
      return rebuilt(response, nullBodyStatus(response.status) ? null : text);
    }
    return ex.streamed(response);
  };
}

function withBody(v: ContractViolation, excerpt: { text: string; complete: boolean }): ContractViolation {
  const bytes = Buffer.byteLength(excerpt.text);
  const shown = excerpt.text.length > 200 ? `${excerpt.text.slice(0, 200)}…` : excerpt.text;
  const what = !excerpt.text.length ? 'the body was empty'
    : excerpt.complete ? `the body (${fmt(bytes)} bytes) was: ${JSON.stringify(shown)}`
      : `the body began: ${JSON.stringify(shown)}`;
  return { ...v, message: `${v.message}; ${what}` };
}

function rebuilt(response: Response, body: ConstructorParameters<typeof Response>[0]): Response {
  const out = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  if (response.url) Object.defineProperty(out, 'url', { value: response.url });
  return out;
}

// ---------------------------------------------------------------- one guarded exchange

type ReadResult = { done: true; value?: Uint8Array } | { done: false; value: Uint8Array };

interface Limits { timeoutMs: number; idleTimeoutMs: number; observable: boolean }

interface Upload {
  /** Whether the bytes handed to the connection are counted (a stream body with a Content-Length). */
  counted: boolean;
  sent: number;
  declared?: number;
  done: boolean;
  error?: unknown;
}

/**
 * One request/response under the deadlines: the total deadline (headers and body), the idle timeout of body reads,
 * and the caller's own signal. Every fault of the HTTP stack becomes a TransportError that says what the server did;
 * a caller's abort passes through unchanged.
 */
class GuardedExchange {
  private readonly started = performance.now();
  private readonly ctl = new AbortController();
  private readonly upload: Upload = { counted: false, sent: 0, done: false };
  private interrupt?: (e: unknown) => void;
  private deadline?: ReturnType<typeof setTimeout>;
  private callerSignal?: AbortSignal;
  private readonly onCallerAbort = () => this.fail(this.callerSignal?.reason, true);
  private sent?: SentMarker;
  private response?: Response;
  private reader?: ReadableStreamDefaultReader<Uint8Array>;
  private received = 0;
  private failure?: { error: unknown; caller: boolean };
  private finished = false;

  constructor(private readonly exchange: TransportExchange, private readonly limits: Limits, private readonly url: URL) {}

  /** Sends the request; resolves at the response headers, or rejects with a TransportError. */
  async send(send: FetchLike, request: Request, redirect: RequestInit['redirect'], bufferedBody?: string): Promise<Response> {
    if (request.signal?.aborted) throw request.signal.reason;
    this.callerSignal = request.signal ?? undefined;
    this.callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
    this.deadline = setTimeout(() => this.fail(this.deadlineError()), this.limits.timeoutMs);
    this.deadline.unref?.();
    if (this.limits.observable) this.sent = watchSent(request.method, this.url);

    let outgoing: Request;
    const declared = Number(request.headers.get('content-length') ?? NaN);
    if (request.body && bufferedBody === undefined && Number.isSafeInteger(declared) && declared >= 0) {
      // A stream body with a Content-Length: count what the connection takes, and tell a failing upload stream
      // from a failing server. (Without a Content-Length the body is left alone: re-wrapping a body of known length
      // would turn it into a chunked upload.)
      this.upload.counted = true;
      this.upload.declared = declared;
      outgoing = new Request(request.url, { method: request.method, headers: request.headers,
        body: this.countedBody(request.body), duplex: 'half', signal: this.ctl.signal, redirect } as RequestInit);
    } else {
      if (request.body && bufferedBody !== undefined) this.upload.declared = Buffer.byteLength(bufferedBody);
      outgoing = new Request(request, { signal: this.ctl.signal, redirect });
    }

    try {
      this.response = await this.interruptible(send(outgoing));
    } catch (e) {
      throw this.settle(e, () => this.beforeHeadersError(e));
    } finally {
      this.sent?.done();
    }
    if (!this.response.body) this.finish();
    return this.response;
  }

  /** Reads the whole body as text (JSON answers are small), under the idle timeout and the deadline. */
  async text(response: Response): Promise<string> {
    if (!response.body) return '';
    const reader = this.readerOf(response);
    const decoder = new TextDecoder();
    let out = '';
    for (;;) {
      const r = await this.read(reader);
      if (r.done) break;
      out += decoder.decode(r.value, { stream: true });
    }
    return out + decoder.decode();
  }

  private peeked: Uint8Array[] = [];
  private peekedDone = false;

  /** Reads at least n bytes (or the whole body if shorter) and keeps them for streamed(). */
  async peek(response: Response, n: number): Promise<{ text: string; complete: boolean }> {
    const reader = this.readerOf(response);
    let have = 0;
    while (have < n) {
      const r = await this.read(reader);
      if (r.done) { this.peekedDone = true; break; }
      this.peeked.push(r.value);
      have += r.value.byteLength;
    }
    const all = Buffer.concat(this.peeked.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
    return { text: new TextDecoder().decode(all.subarray(0, n)), complete: this.peekedDone && all.length <= n };
  }

  /** The response with its body stream guarded: a stall or a broken-off body errors the stream with a TransportError. */
  streamed(response: Response): Response {
    if (!response.body || response.status < 200 || response.status > 599) { this.finish(); return response; }
    const reader = this.readerOf(response);
    const body = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const next = this.peeked.shift();
        if (next) { controller.enqueue(next); return; }
        if (this.peekedDone) { this.finish(); controller.close(); return; }
        try {
          const r = await this.read(reader);
          if (r.done) controller.close();
          else controller.enqueue(r.value);
        } catch (e) {
          controller.error(e);
        }
      },
      cancel: (reason) => {
        this.finish();
        return reader.cancel(reason).catch(() => undefined);
      },
    }, { highWaterMark: 0 });
    return rebuilt(response, body);
  }

  /** Ends the exchange without a fault (e.g. the caller will not read the body). */
  cancel(): void {
    if (this.finished) return;
    this.finish();
    this.ctl.abort();
    void this.reader?.cancel().catch(() => undefined);
  }

  // ------------------------------------------------------------ internals

  private readerOf(response: Response): ReadableStreamDefaultReader<Uint8Array> {
    if (!this.reader) this.reader = response.body!.getReader();
    return this.reader;
  }

  /** One body read under the idle timeout. */
  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<ReadResult> {
    if (this.failure) throw this.failure.error;
    let idle: ReturnType<typeof setTimeout> | undefined;
    try {
      const r = await this.interruptible<ReadResult>(reader.read(), (reject) => {
        idle = setTimeout(() => {
          const err = this.bodyTimeoutError('idle');
          this.fail(err);
          reject(err);
        }, this.limits.idleTimeoutMs);
      });
      if (r.done) {
        const cl = this.comparableLength();
        if (cl !== undefined && this.received < cl) {
          const err = this.error('truncated_body', 'response_body', `the server ended the body after ${fmt(this.received)} of ${fmt(cl)} body bytes (Content-Length ${fmt(cl)})`);
          this.fail(err);
          throw err;
        }
        this.finish();
      } else {
        this.received += r.value.byteLength;
      }
      return r;
    } catch (e) {
      throw this.settle(e, () => this.duringBodyError(e));
    } finally {
      clearTimeout(idle);
    }
  }

  /**
   * Waits for p, unless the exchange fails first (deadline, idle timeout, caller's abort): then rejects with that
   * failure even if p never settles (a custom fetch that ignores its signal). One waiter at a time, so nothing
   * accumulates over the reads of a long body.
   */
  private interruptible<T>(p: Promise<T>, arm?: (reject: (e: unknown) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.interrupt = reject;
      arm?.(reject);
      p.then(resolve, reject);
    }).finally(() => { this.interrupt = undefined; });
  }

  /** The error an exchange ends with: its first failure (a deadline, a caller's abort), else the classified one. */
  private settle(e: unknown, classify: () => unknown): unknown {
    if (this.failure) return this.failure.error;
    const err = classify();
    this.fail(err);
    return err;
  }

  private fail(error: unknown, caller = false): void {
    if (this.failure || this.finished) return;
    this.failure = { error, caller };
    this.finish();
    this.ctl.abort(error);
    this.interrupt?.(error);
    void this.reader?.cancel(error).catch(() => undefined);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadline);
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
    this.sent?.done();
  }

  private countedBody(source: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const reader = source.getReader();
    const upload = this.upload;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const r = await reader.read();
          if (r.done) { upload.done = true; controller.close(); return; }
          upload.sent += r.value.byteLength;
          controller.enqueue(r.value);
        } catch (e) {
          upload.error = e;
          controller.error(e);
        }
      },
      cancel(reason) { return reader.cancel(reason).catch(() => undefined); },
    }, { highWaterMark: 0 });
  }

  private elapsed(): number { return performance.now() - this.started; }

  private error(kind: TransportErrorKind, phase: TransportError['phase'], what: string, extra: { code?: string; cause?: unknown; timeoutMs?: number } = {}): TransportError {
    const res = this.response;
    return new TransportError({ kind, what, phase, exchange: this.exchange, elapsedMs: this.elapsed(),
      status: res?.status, bytesReceived: res ? this.received : undefined, contentLength: this.contentLength(),
      bytesSent: this.upload.counted ? this.upload.sent : undefined, requestLength: this.upload.declared, ...extra });
  }

  private contentLength(): number | undefined {
    const raw = this.response?.headers.get('content-length');
    const n = raw === null || raw === undefined ? NaN : Number(raw);
    return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  }

  /** Content-Length counts the bytes on the wire; once a Content-Encoding is decoded they cannot be compared. */
  private comparableLength(): number | undefined {
    const enc = this.response?.headers.get('content-encoding');
    return enc && enc.toLowerCase() !== 'identity' ? undefined : this.contentLength();
  }

  private uploadPart(): string {
    const u = this.upload;
    if (!u.counted) return '';
    if (u.done) return `, after the whole request body (${fmt(u.sent)} bytes) had been sent`;
    return `, after ${fmt(u.sent)} of ${fmt(u.declared ?? NaN)} request body bytes had been sent`;
  }

  private headersPart(): string {
    const res = this.response!;
    const cl = this.contentLength();
    const enc = res.headers.get('content-encoding');
    const framing = cl !== undefined ? `, Content-Length ${fmt(cl)}` : isChunked(res) ? ', chunked' : '';
    return `the server sent the response headers (HTTP ${res.status}${framing}${enc ? `, Content-Encoding ${enc}` : ''})`;
  }

  private bodyPart(): string {
    const cl = this.comparableLength();
    if (cl !== undefined) return `${fmt(this.received)} of ${fmt(cl)} body bytes`;
    return `${fmt(this.received)} body ${this.response?.headers.get('content-encoding') ? 'bytes (decoded)' : 'bytes'}`;
  }

  private deadlineError(): TransportError {
    const t = this.limits.timeoutMs;
    if (this.response) return this.bodyTimeoutError('deadline');
    const sent = this.sent?.state();
    const what = sent === 'sent'
      ? `the server accepted the connection but sent no response headers within ${fmt(t)} ms${this.uploadPart()}`
      : sent === 'not_sent'
        ? `the connection to ${this.url.host} was not established within ${fmt(t)} ms, so no response headers arrived (no answer to the connection attempt)`
        : `no response headers arrived within ${fmt(t)} ms${this.uploadPart()}`;
    return this.error('timeout_headers', 'response_headers', what, { timeoutMs: t });
  }

  private bodyTimeoutError(which: 'idle' | 'deadline'): TransportError {
    const what = which === 'idle'
      ? `${this.headersPart()} and ${this.bodyPart()}, then nothing for ${fmt(this.limits.idleTimeoutMs)} ms`
      : `${this.headersPart()} and ${this.bodyPart()}, but the body was not complete within the ${fmt(this.limits.timeoutMs)} ms deadline`;
    return this.error('timeout_body', 'response_body', what,
      { timeoutMs: which === 'idle' ? this.limits.idleTimeoutMs : this.limits.timeoutMs });
  }

  private beforeHeadersError(e: unknown): unknown {
    const u = this.upload;
    if (u.error !== undefined) {
      return this.error('request_body_failed', 'request',
        `the request body stream (the harness's own upload, not the server) failed after ${fmt(u.sent)}${u.declared !== undefined ? ` of ${fmt(u.declared)}` : ''} bytes had been sent: ${messageChain(u.error)}`,
        { cause: e });
    }
    if (!isNetworkFailure(e)) return e;
    const code = errorCode(e);
    const kind = kindBeforeHeaders(code);
    const c = code ? ` (${code})` : '';
    let what: string;
    switch (kind) {
      case 'connection_refused':
        what = `the server refused the connection${c}: nothing listens on ${this.url.host}`; break;
      case 'dns':
        what = `the host name "${this.url.hostname}" could not be resolved${c}`; break;
      case 'connection_reset': {
        const closed = code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED';
        what = `the server ${closed ? 'closed' : 'reset'} the connection${c} before sending response headers${this.uploadPart()}`;
        break;
      }
      case 'timeout_headers':
        what = code === 'UND_ERR_CONNECT_TIMEOUT'
          ? `the connection to ${this.url.host} could not be established${c}`
          : `no response headers arrived before the HTTP client's own timeout${c}`;
        break;
      case 'request_body_failed':
        what = u.counted
          ? `the request body stream produced ${fmt(u.sent)} bytes but its Content-Length header declared ${fmt(u.declared ?? NaN)}${c}: the harness's upload, not the server, was at fault`
          : `the request body did not match its Content-Length header${c}: the harness's upload, not the server, was at fault`;
        break;
      case 'protocol_error':
        what = `the server answered with bytes that are not valid HTTP/1.1${c}: ${innermost(e)}`; break;
      case 'connection_failed':
        what = `the connection to ${this.url.host} could not be established${c}: ${innermost(e)}`; break;
      default:
        what = `the request failed below HTTP${c}: ${messageChain(e)}`;
    }
    const phase = kind === 'request_body_failed' || (u.counted && !u.done && kind === 'connection_reset') ? 'request' : 'response_headers';
    return this.error(kind, phase, what, { code, cause: e });
  }

  private duringBodyError(e: unknown): unknown {
    if (e instanceof TransportError || !isNetworkFailure(e)) return e;
    const code = errorCode(e);
    const kind = kindDuringBody(code);
    const c = code ? ` (${code})` : '';
    const cl = this.comparableLength();
    let what: string;
    switch (kind) {
      case 'truncated_body':
        what = cl !== undefined
          ? `the server closed the connection after ${fmt(this.received)} of ${fmt(cl)} body bytes (Content-Length ${fmt(cl)})`
          : isChunked(this.response!)
            ? `the server closed the connection in the middle of a chunked body, after ${fmt(this.received)} body bytes (no terminating zero-length chunk)`
            : `the server closed the connection after ${fmt(this.received)} body bytes, before the body was complete${c}`;
        break;
      case 'connection_reset':
        what = `${this.headersPart()} and ${this.bodyPart()}, then reset the connection${c}`; break;
      case 'timeout_body':
        what = `${this.headersPart()} and ${this.bodyPart()}, then stalled past the HTTP client's own body timeout${c}`; break;
      case 'protocol_error':
        what = `${this.headersPart()}, then body bytes that are not valid HTTP/1.1 framing${c}: ${innermost(e)}`; break;
      default:
        what = `${this.headersPart()} and ${this.bodyPart()}, then the body failed${c}: ${messageChain(e)}`;
    }
    return this.error(kind, 'response_body', what, { code, cause: e });
  }
}

function isChunked(res: Response): boolean {
  return /\bchunked\b/i.test(res.headers.get('transfer-encoding') ?? '');
}

function innermost(e: unknown): string {
  let cur: any = e;
  while (cur?.cause && typeof cur.cause === 'object') cur = cur.cause;
  return String(cur?.message ?? cur);
}

// ---------------------------------------------------------------- did the request leave? (undici diagnostics)

/**
 * Whether undici wrote the request headers to a socket — i.e. the server accepted the connection — so that a
 * headers timeout can say which side of the connection it stalled on. Matched by method, origin and path, first come
 * first served (two identical requests in flight may swap markers; both were then sent or both were not).
 */
interface SentMarker { state(): 'sent' | 'not_sent' | 'unknown'; done(): void }
interface Watch { key: string; created: boolean; sent: boolean }

const watching = new Map<string, Watch[]>();
let subscribed = false;

function keyOf(method: unknown, origin: unknown, path: unknown): string {
  return `${String(method).toUpperCase()} ${String(origin).replace(/\/$/, '')}${String(path)}`;
}

function subscribe(): void {
  if (subscribed) return;
  subscribed = true;
  const find = (m: unknown, pick: (w: Watch) => boolean): Watch | undefined => {
    const r = (m as { request?: { method?: unknown; origin?: unknown; path?: unknown } } | undefined)?.request;
    return r ? watching.get(keyOf(r.method, r.origin, r.path))?.find(pick) : undefined;
  };
  diagnostics.subscribe('undici:request:create', (m) => { const w = find(m, (x) => !x.created); if (w) w.created = true; });
  diagnostics.subscribe('undici:client:sendHeaders', (m) => { const w = find(m, (x) => x.created && !x.sent); if (w) w.sent = true; });
}

function watchSent(method: string, url: URL): SentMarker {
  subscribe();
  const w: Watch = { key: keyOf(method, url.origin, `${url.pathname}${url.search}`), created: false, sent: false };
  const list = watching.get(w.key) ?? [];
  list.push(w);
  watching.set(w.key, list);
  return {
    state: () => (w.sent ? 'sent' : w.created ? 'not_sent' : 'unknown'),
    done: () => {
      const l = watching.get(w.key);
      const i = l?.indexOf(w) ?? -1;
      if (l && i >= 0) { l.splice(i, 1); if (!l.length) watching.delete(w.key); }
    },
  };
}

function nullBodyStatus(status: number): boolean {
  return status === 101 || status === 204 || status === 205 || status === 304;
}

/** The media types the operation documents for a status (shared $ref responses are envelopes). */
function documentedMedia(op: Record<string, any>, status: number): string[] {
  const r = op.responses?.[String(status)] ?? op.responses?.default;
  if (!r) return [];
  if (r.$ref) return ['application/json'];
  return Object.keys(r.content ?? {}).map((k) => k.toLowerCase());
}

/**
 * A fetch over Playwright's APIRequestContext, so the exchange shows in Playwright's traces. It buffers bodies (the
 * request context does), so use it for JSON operations; byte streams go through the default fetch.
 */
export function playwrightFetch(context: APIRequestContext): FetchLike {
  return async (request) => {
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const res = await context.fetch(request.url, {
      method: request.method, headers: Object.fromEntries(request.headers), data: body,
      failOnStatusCode: false, maxRedirects: 0,
    });
    return new Response(nullBodyStatus(res.status()) ? null : await res.body(),
      { status: res.status(), statusText: res.statusText(), headers: res.headers() });
  };
}
