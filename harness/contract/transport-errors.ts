// Transport faults: what went wrong below HTTP semantics — the connection, the headers that never came, the body that
// stalled or broke off, the upload stream that failed. Each one is a TransportError with a stable `kind` and a
// message that says in plain words what the server did (or what the harness's own upload stream did), with the
// exchange (method, redacted URL, operation, test step) and the elapsed time. An answer that arrived but is wrong
// (a 5xx, HTML, a wrong Content-Type, non-JSON) is not a transport fault: it is a contract violation.
import { redact } from '../secrets.js';

export type TransportErrorKind =
  /** Nothing listens on the port (ECONNREFUSED). */
  | 'connection_refused'
  /** The host name does not resolve (ENOTFOUND, EAI_AGAIN). */
  | 'dns'
  /** The server reset or closed the connection — before the response headers or in the middle of the body. */
  | 'connection_reset'
  /** No response headers within the deadline. */
  | 'timeout_headers'
  /** The body stalled: no bytes for idleTimeoutMs, or the response was not complete by the total deadline. */
  | 'timeout_body'
  /** Fewer body bytes than Content-Length, or the connection closed in the middle of a chunked body. */
  | 'truncated_body'
  /** The harness's own request body stream failed, or produced a length other than its Content-Length. */
  | 'request_body_failed'
  /** Another connect-level failure: host or network unreachable, TLS handshake, certificate. */
  | 'connection_failed'
  /** The server's bytes are not valid HTTP/1.1 (a parser error). */
  | 'protocol_error'
  /** A network error the classifier does not know; the message carries the HTTP stack's own words. */
  | 'network_error';

export const TRANSPORT_ERROR_KINDS: readonly TransportErrorKind[] = ['connection_refused', 'dns', 'connection_reset',
  'timeout_headers', 'timeout_body', 'truncated_body', 'request_body_failed', 'connection_failed', 'protocol_error',
  'network_error'];

/** The exchange a fault happened in. The URL and the curl line are redacted. */
export interface TransportExchange {
  method: string;
  url: string;
  operationId?: string;
  testStep?: string;
  curl?: string;
}

/** Where in the exchange the fault happened. */
export type TransportPhase = 'request' | 'response_headers' | 'response_body';

export interface TransportErrorInit {
  kind: TransportErrorKind;
  /** Plain words: what the server (or the upload stream) did. */
  what: string;
  exchange: TransportExchange;
  elapsedMs: number;
  phase: TransportPhase;
  /** The HTTP status, when the headers had arrived. */
  status?: number;
  /** Response body bytes received before the fault (decoded bytes when the body is content-encoded). */
  bytesReceived?: number;
  /** The response's Content-Length, when it declared one. */
  contentLength?: number;
  /** Request body bytes handed to the connection before the fault (counted for bodies with a Content-Length). */
  bytesSent?: number;
  /** The request's Content-Length. */
  requestLength?: number;
  /** The deadline that expired, for the timeout kinds. */
  timeoutMs?: number;
  /** The system or HTTP-stack error code underneath (ECONNRESET, UND_ERR_SOCKET, HPE_…). */
  code?: string;
  cause?: unknown;
}

export class TransportError extends Error {
  readonly kind: TransportErrorKind;
  /** The plain description alone, without the exchange. */
  readonly what: string;
  readonly exchange: TransportExchange;
  readonly elapsedMs: number;
  readonly phase: TransportPhase;
  readonly status?: number;
  readonly bytesReceived?: number;
  readonly contentLength?: number;
  readonly bytesSent?: number;
  readonly requestLength?: number;
  readonly timeoutMs?: number;
  readonly code?: string;

  constructor(init: TransportErrorInit) {
    super(describe(init), init.cause === undefined ? undefined : { cause: init.cause });
    // A timeout keeps the name fetch gives it (DOMException "TimeoutError"), so code written against fetch —
    // `err.name === 'TimeoutError'` — still recognises it; instanceof TransportError and `kind` tell the rest.
    this.name = init.kind === 'timeout_headers' || init.kind === 'timeout_body' ? 'TimeoutError' : 'TransportError';
    this.kind = init.kind;
    this.what = init.what;
    this.exchange = init.exchange;
    this.elapsedMs = Math.round(init.elapsedMs);
    this.phase = init.phase;
    this.status = init.status;
    this.bytesReceived = init.bytesReceived;
    this.contentLength = init.contentLength;
    this.bytesSent = init.bytesSent;
    this.requestLength = init.requestLength;
    this.timeoutMs = init.timeoutMs;
    this.code = init.code;
  }

  /** Same as elapsedMs, under the name the reports use. */
  get elapsed_ms(): number { return this.elapsedMs; }

  /** A plain record for attachments and JSON reports (already redacted). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name, kind: this.kind, message: this.message, what: this.what, phase: this.phase,
      exchange: this.exchange, elapsed_ms: this.elapsedMs, status: this.status, bytes_received: this.bytesReceived,
      content_length: this.contentLength, bytes_sent: this.bytesSent, request_length: this.requestLength,
      timeout_ms: this.timeoutMs, code: this.code,
    };
  }
}

export function isTransportError(e: unknown): e is TransportError {
  return e instanceof TransportError;
}

function describe(init: TransportErrorInit): string {
  const x = init.exchange;
  const op = x.operationId ? ` (${x.operationId})` : '';
  const lines = [`[${init.kind}] ${x.method.toUpperCase()} ${x.url}${op}, after ${fmt(Math.round(init.elapsedMs))} ms: ${init.what}`];
  if (x.testStep) lines.push(`  step: ${x.testStep}`);
  if (x.curl) lines.push(`  reproduce: ${x.curl}`);
  return redact(lines.join('\n'));
}

/** 1234567 → "1,234,567". */
export function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

// ---------------------------------------------------------------- classification of HTTP-stack errors

/** The error code underneath an undici / Node / Playwright error: cause.code, an AggregateError's first, or the message. */
export function errorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  let e: any = err;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    if (typeof e.code === 'string' && e.code) return e.code;
    const nested = Array.isArray(e.errors) ? e.errors.find((x: any) => typeof x?.code === 'string') : undefined;
    if (nested) return nested.code;
    e = e.cause;
  }
  // Playwright's APIRequestContext and some wrappers only put the code into the message.
  const text = messageChain(err);
  const m = /\b(E[A-Z]{4,}|UND_ERR_[A-Z_]+|HPE_[A-Z_]+|ERR_TLS_[A-Z_]+|ERR_SSL_[A-Z_]+)\b/.exec(text);
  if (m) return m[1];
  if (/socket hang up/i.test(text)) return 'ECONNRESET';
  return undefined;
}

/** "outer: inner: innermost" — the messages of an error and its causes. */
export function messageChain(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let e: any = err;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    if (typeof e.message === 'string' && e.message && !parts.includes(e.message)) parts.push(e.message);
    e = e.cause;
  }
  if (!parts.length && err !== undefined) parts.push(String(err));
  return parts.join(': ');
}

const REFUSED = new Set(['ECONNREFUSED']);
const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const HEADERS_TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
const BODY_TIMEOUT = new Set(['UND_ERR_BODY_TIMEOUT']);
const CONNECT = /^(EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENETDOWN|EADDRNOTAVAIL|EPROTO|ERR_TLS_.*|ERR_SSL_.*|CERT_.*|UNABLE_TO_.*|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/** The kind an HTTP-stack error code stands for, before the response headers arrived. */
export function kindBeforeHeaders(code: string | undefined): TransportErrorKind {
  if (!code) return 'network_error';
  if (REFUSED.has(code)) return 'connection_refused';
  if (DNS.has(code)) return 'dns';
  if (RESET.has(code)) return 'connection_reset';
  if (HEADERS_TIMEOUT.has(code)) return 'timeout_headers';
  if (code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') return 'request_body_failed';
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO') return 'protocol_error';
  if (CONNECT.test(code)) return 'connection_failed';
  return 'network_error';
}

/** The kind an HTTP-stack error code stands for while the response body was being read. */
export function kindDuringBody(code: string | undefined): TransportErrorKind {
  if (!code) return 'network_error';
  // A close (FIN) mid-body is a truncated body; a reset (RST) is a reset.
  if (code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'truncated_body';
  if (RESET.has(code)) return 'connection_reset';
  if (BODY_TIMEOUT.has(code) || code === 'ETIMEDOUT') return 'timeout_body';
  if (code.startsWith('HPE_')) return 'protocol_error';
  return 'network_error';
}

/** Is this the rejection of a network-level failure (and not, say, a programming error in the caller)? */
export function isNetworkFailure(err: unknown): boolean {
  if (err instanceof TransportError) return false;
  const e = err as { name?: string; message?: string; cause?: unknown } | undefined;
  if (!e || typeof e !== 'object') return false;
  if (e.name === 'TypeError' && (e.message === 'fetch failed' || e.message === 'terminated')) return true;
  // Playwright's request context, node:http-based clients.
  return errorCode(err) !== undefined && !/^ERR_INVALID_|^ERR_UNESCAPED/.test(errorCode(err)!);
}
