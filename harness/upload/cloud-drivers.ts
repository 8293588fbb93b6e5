// Cloud upload drivers: what Cloudreve's official web client (and its SDK, where they agree) does on the wire for each
// cloud storage policy, given the session `PUT /file/upload` answered. Sources: research/cloudreve-client-upload-flows.md
// §2.3-§2.11 (per policy), research/cloudreve-upload-semantics.md §7 (who finishes an upload, and how).
//
//   s3, ks3, cos   PUT each part to upload_urls[N] (presigned), keep the ETag header; finish = POST completeURL with
//                  the CompleteMultipartUpload XML (cos: + x-cos-forbid-overwrite), then GET /callback/<type>/<sid>/<key>
//                  on Cloudreve.
//   obs            parts as above; finish = POST completeURL (it carries x-obs-callback: OBS calls Cloudreve and relays
//                  Cloudreve's answer).
//   oss            parts as above (ETag not needed); finish = empty POST completeURL with x-oss-complete-all: yes and
//                  x-oss-forbid-overwrite: true (the URL carries callback=: OSS calls Cloudreve, relays its answer).
//   qiniu          PUT upload_urls[0]/<N+1> with `Authorization: UpToken <credential>`, keep the JSON etag; finish =
//                  POST upload_urls[0] with the parts JSON (Qiniu calls Cloudreve, relays its answer).
//   onedrive       PUT byte ranges to upload_urls[0] with Content-Range (pre-authorised URL, no Authorization);
//                  finish = POST /callback/onedrive/<sid>/<key> on Cloudreve.
//   upyun          one multipart/form-data POST to upload_urls[0]: policy, authorization, [content-type], file last;
//                  nothing to finish (Upyun notifies Cloudreve).
//   relay          chunk 0 = the whole file to the master: LocalDriver (cloudDriverFor picks it).
//
// `UploadDriver` (driver.ts) has no finish step; cloud flows need one, so CloudUploadDriver extends it here with
// `begin` (the file's size and name, which the session does not carry: OneDrive's Content-Range total, Upyun's file
// name) and `finish`. No driver retries anything. Providers are reached through a plain fetch passed in (timedFetch:
// a deadline, no redirects, no credentials) that never carries the user's token; Cloudreve's callback routes through
// the validating client passed in. Every step answers with what it got: HTTP status, the provider's error code, the
// Cloudreve envelope code.
import type { CloudreveClient } from '../client/index.js';
import { redact } from '../secrets.js';
import { LocalDriver, type ChunkAttempt, type ChunkOptions, type UploadDriver, type UploadSession } from './driver.js';
import type { Payload } from './payload.js';
import { planChunks, type ChunkPlan } from './plan.js';

/** Bumped when what a driver sends changes; cassettes record it. */
export const CLOUD_DRIVERS_VERSION = '1.0.0';

export type CloudFlow = 's3' | 'ks3' | 'cos' | 'oss' | 'obs' | 'qiniu' | 'upyun' | 'onedrive';
export const CLOUD_FLOWS: readonly CloudFlow[] = ['s3', 'ks3', 'cos', 'oss', 'obs', 'qiniu', 'upyun', 'onedrive'];

/** The plain fetch providers are reached through. */
export type ProviderFetch = (input: Request) => Promise<Response>;

/**
 * A provider fetch with a deadline per exchange (headers and body), redirects refused and no credentials, as the SDK's
 * storage requests (`redirect: "error"`, `credentials: "omit"`).
 */
export function timedFetch(timeoutMs = 60_000, base: ProviderFetch = (r) => fetch(r)): ProviderFetch {
  return (req) => base(new Request(req, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', credentials: 'omit' }));
}

/** What one request of a cloud flow got back. */
export interface StepResult {
  step: 'part' | 'complete' | 'callback' | 'form';
  /** Chunk index (part, form). */
  index?: number;
  method: string;
  /** The URL addressed, redacted. */
  url: string;
  /** HTTP status; 0 when the exchange failed on the network (see `error`). */
  status: number;
  /** The step succeeded the way the client requires (FE/SDK checks: 2xx, ETag present, no embedded error, code 0). */
  ok: boolean;
  /** The provider's error code: S3-family <Code>, Graph error / innererror code, Qiniu `error`, Upyun `code`. */
  providerCode?: string;
  providerMessage?: string;
  /** Cloudreve's envelope code, when the answer is one (the callback, or a provider relaying Cloudreve's answer). */
  code?: number;
  msg?: string;
  correlationId?: string;
  /** The part's ETag (header for S3-family, JSON for Qiniu). */
  etag?: string;
  /** Why the step failed when no status says it: network failure, missing ETag, … */
  error?: string;
}

export interface CloudChunkAttempt extends ChunkAttempt {
  ok: boolean;
  url: string;
  providerCode?: string;
  providerMessage?: string;
  etag?: string;
  error?: string;
}

export interface FinishResult {
  ok: boolean;
  /** Who tells Cloudreve the upload is complete. */
  by: 'client-callback' | 'provider-callback' | 'provider-notify';
  /** The provider's complete request (s3, ks3, cos, oss, obs, qiniu). */
  complete?: StepResult;
  /** The client's callback to Cloudreve (s3, ks3, cos, onedrive). */
  callback?: StepResult;
  steps: StepResult[];
}

export interface FileInfo {
  size: number;
  /** File name for the Upyun form (default: the last segment of the session URI). */
  name?: string;
}

export interface CloudChunkOptions extends ChunkOptions {
  /** OneDrive: the total size to declare in Content-Range instead of the one given to begin(). */
  totalSize?: number;
}

export interface FinishOptions {
  /** Parts to list in the complete request instead of the acknowledged ones (negative tests). */
  parts?: { partNumber: number; etag: string }[];
  /** ETag rendering in the complete XML: raw (web client, default) or XML-escaped (SDK). */
  xmlStyle?: 'frontend' | 'sdk';
  /** Skip the provider's complete request and only call Cloudreve back (negative tests: callback before complete). */
  skipComplete?: boolean;
}

/** A cloud policy's driver: UploadDriver plus the two steps a cloud flow needs. */
export interface CloudUploadDriver extends UploadDriver {
  readonly flow: CloudFlow;
  /** Tells the driver the file it uploads (the session carries neither size nor name). Call before the first chunk. */
  begin(session: UploadSession, file: FileInfo): void;
  sendChunk(session: UploadSession, chunk: ChunkPlan, body: ReadableStream<Uint8Array> | Uint8Array, options?: CloudChunkOptions): Promise<CloudChunkAttempt>;
  /** Completes the upload the way the client does for this policy (see the table at the top of this file). */
  finish(session: UploadSession, options?: FinishOptions): Promise<FinishResult>;
  /** Chunks the client sends for this session: Cloudreve's split, or one request for the whole file (upyun). */
  plan(session: UploadSession, size: number): ChunkPlan[];
}

export interface CloudDriverDeps {
  /** Plain fetch to the provider (timedFetch()). */
  provider: ProviderFetch;
  /** The uploader's validating Cloudreve client (callbacks, and the relay flow's chunks). */
  cloudreve: CloudreveClient;
}

// ---- answers ---------------------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  text: string;
  headers: Headers;
  error?: string;
  providerCode?: string;
  providerMessage?: string;
  envelope?: { code: number; msg?: string; correlation_id?: string };
  json?: unknown;
}

const XML_ERROR = /<(?:\w+:)?Error(?:\s|>)/i;

function xmlText(text: string, name: string): string | undefined {
  const m = new RegExp(`<(?:\\w+:)?${name}>([^<]*)</(?:\\w+:)?${name}>`).exec(text);
  return m?.[1];
}

/** The provider's error code and message in an answer body (any flow), and a Cloudreve envelope if it is one. */
export function readProviderAnswer(status: number, text: string): Pick<Answer, 'providerCode' | 'providerMessage' | 'envelope' | 'json'> {
  const out: Pick<Answer, 'providerCode' | 'providerMessage' | 'envelope' | 'json'> = {};
  const trimmed = text.trim();
  if (trimmed.startsWith('<')) {
    if (XML_ERROR.test(trimmed)) {
      out.providerCode = xmlText(trimmed, 'Code');
      out.providerMessage = xmlText(trimmed, 'Message');
    }
    return out;
  }
  if (!trimmed.startsWith('{')) return out;
  let json: unknown;
  try { json = JSON.parse(trimmed); } catch { return out; }
  out.json = json;
  if (!json || typeof json !== 'object' || Array.isArray(json)) return out;
  const o = json as Record<string, unknown>;
  if (o.error && typeof o.error === 'object') {
    // Microsoft Graph: {error: {code, message, innererror: {code}}}.
    const e = o.error as Record<string, unknown>;
    const inner = e.innererror && typeof e.innererror === 'object' ? (e.innererror as Record<string, unknown>).code : undefined;
    out.providerCode = String(inner ?? e.code ?? '');
    out.providerMessage = typeof e.message === 'string' ? e.message : undefined;
  } else if (typeof o.error === 'string') {
    // Qiniu {error}, and Cloudreve's own non-envelope callback failures ({"error": "..."}).
    out.providerCode = o.error;
  } else if (typeof o.code === 'number' && typeof o.msg === 'string' && typeof o.id === 'string') {
    // Upyun {msg, code, id}.
    out.providerCode = String(o.code);
    out.providerMessage = o.msg;
  } else if (typeof o.code === 'string' && status >= 300) {
    // OBS callback failure {code: "CallbackFailed", message}.
    out.providerCode = o.code;
    out.providerMessage = typeof o.message === 'string' ? o.message : undefined;
  } else if (typeof o.code === 'number' && ('msg' in o || 'data' in o)) {
    out.envelope = { code: o.code, msg: typeof o.msg === 'string' ? o.msg : undefined,
      correlation_id: typeof o.correlation_id === 'string' ? o.correlation_id : undefined };
  }
  return out;
}

async function exchange(fetchFn: ProviderFetch, request: Request): Promise<Answer> {
  let res: Response;
  try {
    res = await fetchFn(request);
  } catch (e) {
    const err = e as Error & { cause?: Error };
    return { status: 0, text: '', headers: new Headers(), error: `${err.name}: ${err.message}${err.cause ? ` (${err.cause.message})` : ''}` };
  }
  let text = '';
  try { text = await res.text(); } catch (e) {
    return { status: res.status, text, headers: res.headers, error: `body: ${(e as Error).message}` };
  }
  return { status: res.status, text, headers: res.headers, ...readProviderAnswer(res.status, text) };
}

function step(kind: StepResult['step'], method: string, url: string, a: Answer, index?: number): StepResult {
  const s: StepResult = { step: kind, method, url: redact(url), status: a.status, ok: false };
  if (index !== undefined) s.index = index;
  if (a.providerCode !== undefined) s.providerCode = a.providerCode;
  if (a.providerMessage !== undefined) s.providerMessage = a.providerMessage;
  if (a.envelope) {
    s.code = a.envelope.code;
    if (a.envelope.msg !== undefined) s.msg = a.envelope.msg;
    if (a.envelope.correlation_id !== undefined) s.correlationId = a.envelope.correlation_id;
  }
  if (a.error) s.error = a.error;
  return s;
}

function attemptOf(s: StepResult, index: number): CloudChunkAttempt {
  const a: CloudChunkAttempt = { index, status: s.status, ok: s.ok, url: s.url };
  for (const k of ['code', 'msg', 'correlationId', 'providerCode', 'providerMessage', 'etag', 'error'] as const) {
    if (s[k] !== undefined) (a as unknown as Record<string, unknown>)[k] = s[k];
  }
  return a;
}

function lengthHeader(chunk: ChunkPlan, options: ChunkOptions): Record<string, string> {
  const n = options.contentLength === undefined ? chunk.length : options.contentLength;
  return n === null ? {} : { 'Content-Length': String(n) };
}

function request(url: string, method: string, headers: Record<string, string>, body?: ReadableStream<Uint8Array> | Uint8Array | string): Request {
  const init: RequestInit & { duplex?: 'half' } = { method, headers, redirect: 'error', credentials: 'omit' };
  if (body !== undefined) { init.body = body as RequestInit['body']; init.duplex = 'half'; }
  return new Request(url, init);
}

/** The Cloudreve callback of a client-finished flow, through the validating client. */
async function callCloudreve(client: CloudreveClient, type: 's3' | 'ks3' | 'cos' | 'onedrive', session: UploadSession): Promise<StepResult> {
  const params = { params: { path: { session_id: session.session_id, key: session.callback_secret } } };
  const res = type === 's3' ? await client.GET('/callback/s3/{session_id}/{key}', params)
    : type === 'ks3' ? await client.GET('/callback/ks3/{session_id}/{key}', params)
      : type === 'cos' ? await client.GET('/callback/cos/{session_id}/{key}', params)
        : await client.POST('/callback/onedrive/{session_id}/{key}', params);
  const body = (res.data ?? res.error) as { code?: number; msg?: string; correlation_id?: string } | undefined;
  const s: StepResult = { step: 'callback', method: type === 'onedrive' ? 'POST' : 'GET', url: redact(res.response.url), status: res.response.status, ok: false };
  if (body && typeof body.code === 'number') {
    s.code = body.code;
    if (body.msg !== undefined) s.msg = body.msg;
    if (body.correlation_id !== undefined) s.correlationId = body.correlation_id;
  }
  s.ok = s.status === 200 && s.code === 0;
  return s;
}

interface SessionState { file?: FileInfo; etags: Map<number, string> }

abstract class CloudDriverBase implements CloudUploadDriver {
  abstract readonly flow: CloudFlow;
  private readonly states = new Map<string, SessionState>();
  constructor(protected readonly deps: CloudDriverDeps) {}

  begin(session: UploadSession, file: FileInfo): void {
    this.state(session).file = file;
  }

  plan(session: UploadSession, size: number): ChunkPlan[] {
    return planChunks(size, session.chunk_size);
  }

  protected state(session: UploadSession): SessionState {
    let s = this.states.get(session.session_id);
    if (!s) { s = { etags: new Map() }; this.states.set(session.session_id, s); }
    return s;
  }

  /** Acknowledged parts, in part-number order. */
  protected parts(session: UploadSession): { partNumber: number; etag: string }[] {
    return [...this.state(session).etags.entries()].sort((a, b) => a[0] - b[0]).map(([i, etag]) => ({ partNumber: i + 1, etag }));
  }

  abstract sendChunk(session: UploadSession, chunk: ChunkPlan, body: ReadableStream<Uint8Array> | Uint8Array, options?: CloudChunkOptions): Promise<CloudChunkAttempt>;
  abstract finish(session: UploadSession, options?: FinishOptions): Promise<FinishResult>;
}

// ---- S3 family: s3, ks3, cos, obs, oss ------------------------------------------------------------------------------------

interface S3LikeFlavor {
  completeHeaders: Record<string, string>;
  /** The complete request's body: the parts XML, or nothing (OSS complete-all). */
  completeBody: 'xml' | 'empty';
  /** The client refuses a part answer without an ETag (SDK; the FE does not read it for OSS). */
  requireEtag: boolean;
  /** The client's Cloudreve callback after completing; undefined when the provider calls Cloudreve. */
  callback?: 's3' | 'ks3' | 'cos';
}

const OCTET = 'application/octet-stream';
const S3_LIKE: Record<'s3' | 'ks3' | 'cos' | 'obs' | 'oss', S3LikeFlavor> = {
  s3: { completeHeaders: { 'Content-Type': OCTET }, completeBody: 'xml', requireEtag: true, callback: 's3' },
  ks3: { completeHeaders: { 'Content-Type': OCTET }, completeBody: 'xml', requireEtag: true, callback: 'ks3' },
  cos: { completeHeaders: { 'Content-Type': OCTET, 'x-cos-forbid-overwrite': 'true' }, completeBody: 'xml', requireEtag: true, callback: 'cos' },
  obs: { completeHeaders: { 'Content-Type': OCTET }, completeBody: 'xml', requireEtag: true },
  oss: { completeHeaders: { 'Content-Type': OCTET, 'x-oss-forbid-overwrite': 'true', 'x-oss-complete-all': 'yes' }, completeBody: 'empty', requireEtag: false },
};

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The CompleteMultipartUpload body of the clients: no declaration, no namespace, parts in order (FE raw ETags). */
export function completeMultipartXml(parts: { partNumber: number; etag: string }[], style: 'frontend' | 'sdk' = 'frontend'): string {
  return `<CompleteMultipartUpload>${parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${style === 'sdk' ? xmlEscape(p.etag) : p.etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
}

export class S3LikeDriver extends CloudDriverBase {
  private readonly flavor: S3LikeFlavor;
  constructor(readonly flow: 's3' | 'ks3' | 'cos' | 'obs' | 'oss', deps: CloudDriverDeps) {
    super(deps);
    this.flavor = S3_LIKE[flow];
  }

  async sendChunk(session: UploadSession, chunk: ChunkPlan, body: ReadableStream<Uint8Array> | Uint8Array, options: CloudChunkOptions = {}): Promise<CloudChunkAttempt> {
    const index = options.index ?? chunk.index;
    const url = session.upload_urls?.[Number(index)];
    if (!url) throw new Error(`${this.flow} session ${session.session_id} has no upload URL for part ${String(index)} (${session.upload_urls?.length ?? 0} URLs)`);
    const a = await exchange(this.deps.provider, request(url, 'PUT', { 'Content-Type': OCTET, ...lengthHeader(chunk, options) }, body));
    const s = step('part', 'PUT', url, a, chunk.index);
    const etag = a.headers.get('etag') ?? undefined;
    if (etag) s.etag = etag;
    s.ok = a.status === 200 && !a.providerCode && !a.error;
    if (s.ok && !etag && this.flavor.requireEtag) { s.ok = false; s.error = 'the part answer has no ETag header'; }
    if (s.ok) this.state(session).etags.set(chunk.index, etag ?? '');
    return attemptOf(s, chunk.index);
  }

  async finish(session: UploadSession, options: FinishOptions = {}): Promise<FinishResult> {
    const steps: StepResult[] = [];
    const by = this.flavor.callback ? 'client-callback' : 'provider-callback';
    let complete: StepResult | undefined;
    if (!options.skipComplete) {
      const url = session.completeURL;
      if (!url) throw new Error(`${this.flow} session ${session.session_id} has no completeURL`);
      const body = this.flavor.completeBody === 'xml' ? completeMultipartXml(options.parts ?? this.parts(session), options.xmlStyle) : undefined;
      const a = await exchange(this.deps.provider, request(url, 'POST', this.flavor.completeHeaders, body));
      complete = step('complete', 'POST', url, a);
      // 200 only (FE validateStatus); an <Error> in a 200 body is a failure (SDK); a relayed Cloudreve answer must be code 0.
      complete.ok = a.status === 200 && !a.providerCode && !a.error && (!a.envelope || a.envelope.code === 0);
      steps.push(complete);
      if (!complete.ok) return { ok: false, by, complete, steps };
    }
    if (!this.flavor.callback) return { ok: complete?.ok ?? false, by, ...(complete ? { complete } : {}), steps };
    const callback = await callCloudreve(this.deps.cloudreve, this.flavor.callback, session);
    steps.push(callback);
    return { ok: callback.ok && (complete?.ok ?? true), by, ...(complete ? { complete } : {}), callback, steps };
  }
}

// ---- Qiniu -----------------------------------------------------------------------------------------------------------

export class QiniuDriver extends CloudDriverBase {
  readonly flow = 'qiniu';

  private base(session: UploadSession): string {
    const url = session.upload_urls?.[0];
    if (!url) throw new Error(`qiniu session ${session.session_id} has no upload_urls`);
    return url.replace(/\/+$/, '');
  }

  private auth(session: UploadSession): Record<string, string> {
    return session.credential ? { authorization: `UpToken ${session.credential}` } : {};
  }

  async sendChunk(session: UploadSession, chunk: ChunkPlan, body: ReadableStream<Uint8Array> | Uint8Array, options: CloudChunkOptions = {}): Promise<CloudChunkAttempt> {
    const index = options.index ?? chunk.index;
    const url = `${this.base(session)}/${typeof index === 'number' ? index + 1 : index}`;
    const a = await exchange(this.deps.provider, request(url, 'PUT', { ...this.auth(session), 'Content-Type': OCTET, ...lengthHeader(chunk, options) }, body));
    const s = step('part', 'PUT', url, a, chunk.index);
    const etag = a.json && typeof a.json === 'object' ? (a.json as { etag?: unknown }).etag : undefined;
    if (typeof etag === 'string' && etag) s.etag = etag;
    s.ok = a.status === 200 && !a.providerCode && !a.error && !!s.etag;
    if (a.status === 200 && !s.etag && !a.error) s.error = 'the part answer has no etag';
    if (s.ok) this.state(session).etags.set(chunk.index, s.etag!);
    return attemptOf(s, chunk.index);
  }

  async finish(session: UploadSession, options: FinishOptions = {}): Promise<FinishResult> {
    const url = this.base(session);
    const payload: { mimeType?: string; parts: { etag: string; partNumber: number }[] } = {
      parts: (options.parts ?? this.parts(session)).map((p) => ({ etag: p.etag, partNumber: p.partNumber })) };
    if (session.mime_type) payload.mimeType = session.mime_type;
    const a = await exchange(this.deps.provider, request(url, 'POST', { ...this.auth(session), 'Content-Type': 'application/json' }, JSON.stringify(payload)));
    const complete = step('complete', 'POST', url, a);
    // Qiniu relays Cloudreve's answer; the SDK rejects one whose code is not 0.
    complete.ok = a.status === 200 && !a.providerCode && !a.error && (!a.envelope || a.envelope.code === 0);
    return { ok: complete.ok, by: 'provider-callback', complete, steps: [complete] };
  }
}

// ---- OneDrive --------------------------------------------------------------------------------------------------------

export class OneDriveDriver extends CloudDriverBase {
  readonly flow = 'onedrive';

  async sendChunk(session: UploadSession, chunk: ChunkPlan, body: ReadableStream<Uint8Array> | Uint8Array, options: CloudChunkOptions = {}): Promise<CloudChunkAttempt> {
    const url = session.upload_urls?.[0];
    if (!url) throw new Error(`onedrive session ${session.session_id} has no upload_urls`);
    const total = options.totalSize ?? this.state(session).file?.size;
    if (total === undefined) throw new Error('onedrive: call begin(session, { size }) first — Content-Range declares the file size');
    if (total === 0) throw new Error('onedrive: empty files cannot be uploaded (the web client raises OneDriveEmptyFileSelected)');
    const range = `bytes ${chunk.offset}-${chunk.offset + chunk.length - 1}/${total}`;
    const a = await exchange(this.deps.provider, request(url, 'PUT', { 'Content-Type': OCTET, 'Content-Range': range, ...lengthHeader(chunk, options) }, body));
    const s = step('part', 'PUT', url, a, chunk.index);
    s.ok = (a.status === 200 || a.status === 201 || a.status === 202) && !a.error;
    return attemptOf(s, chunk.index);
  }

  async finish(session: UploadSession): Promise<FinishResult> {
    const callback = await callCloudreve(this.deps.cloudreve, 'onedrive', session);
    return { ok: callback.ok, by: 'client-callback', callback, steps: [callback] };
  }
}

// ---- Upyun -----------------------------------------------------------------------------------------------------------

/** The file name the clients give the form's file part: the URI's last segment, decoded, or "upload". */
export function uploadFileName(session: UploadSession): string {
  const last = session.uri.split('/').filter(Boolean).pop() ?? '';
  try { return decodeURIComponent(last) || 'upload'; } catch { return last || 'upload'; }
}

function concatStream(prefix: Uint8Array, body: ReadableStream<Uint8Array> | Uint8Array, suffix: Uint8Array): ReadableStream<Uint8Array> {
  let stage = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (stage === 0) { controller.enqueue(prefix); stage = 1; return; }
      if (stage === 1) {
        if (body instanceof Uint8Array) { if (body.length) controller.enqueue(body); stage = 2; return; }
        reader ??= body.getReader();
        const next = await reader.read();
        if (!next.done) { controller.enqueue(next.value); return; }
        stage = 2;
        return;
      }
      controller.enqueue(suffix);
      controller.close();
    },
    cancel(reason) { return reader?.cancel(reason); },
  });
}

export class UpyunDriver extends CloudDriverBase {
  readonly flow = 'upyun';

  /** The form upload has no chunks: one request for the whole file. */
  override plan(_session: UploadSession, size: number): ChunkPlan[] {
    return planChunks(size, 0);
  }

  async sendChunk(session: UploadSession, chunk: ChunkPlan, body: ReadableStream<Uint8Array> | Uint8Array, options: CloudChunkOptions = {}): Promise<CloudChunkAttempt> {
    const url = session.upload_urls?.[0];
    if (!url) throw new Error(`upyun session ${session.session_id} has no upload_urls`);
    // A boundary derived from the session, so a recording is stable; browsers pick a random one.
    const boundary = `----CloudreveConformance${session.session_id.replace(/[^A-Za-z0-9]/g, '').slice(0, 24)}`;
    const field = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    let head = field('policy', session.upload_policy ?? '') + field('authorization', session.credential ?? '');
    if (session.mime_type) head += field('content-type', session.mime_type);
    const name = (this.state(session).file?.name ?? uploadFileName(session)).replace(/["\r\n]/g, '_');
    head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${session.mime_type || OCTET}\r\n\r\n`;
    const prefix = new TextEncoder().encode(head);
    const suffix = new TextEncoder().encode(`\r\n--${boundary}--\r\n`);
    const length = options.contentLength === undefined ? prefix.length + chunk.length + suffix.length : options.contentLength;
    const headers: Record<string, string> = { 'Content-Type': `multipart/form-data; boundary=${boundary}` };
    if (length !== null) headers['Content-Length'] = String(length);
    const a = await exchange(this.deps.provider, request(url, 'POST', headers, concatStream(prefix, body, suffix)));
    const s = step('form', 'POST', url, a, chunk.index);
    s.ok = a.status === 200 && !a.providerCode && !a.error;
    return attemptOf(s, chunk.index);
  }

  async finish(): Promise<FinishResult> {
    return { ok: true, by: 'provider-notify', steps: [] };
  }
}

// ---- choosing a driver -----------------------------------------------------------------------------------------------

export function cloudDriver(flow: CloudFlow, deps: CloudDriverDeps): CloudUploadDriver {
  switch (flow) {
    case 's3': case 'ks3': case 'cos': case 'obs': case 'oss': return new S3LikeDriver(flow, deps);
    case 'qiniu': return new QiniuDriver(deps);
    case 'onedrive': return new OneDriveDriver(deps);
    case 'upyun': return new UpyunDriver(deps);
  }
}

/**
 * The driver the client would use for this session: relay → the local driver (chunk 0 = the whole file to the master,
 * whatever the policy type, as the FE and SDK decide); otherwise the policy type's cloud driver.
 */
export function cloudDriverFor(session: UploadSession, deps: CloudDriverDeps): CloudUploadDriver | LocalDriver {
  if (session.storage_policy?.relay) return new LocalDriver(deps.cloudreve);
  const type = session.storage_policy?.type;
  if (!type || !(CLOUD_FLOWS as readonly string[]).includes(type)) throw new Error(`no cloud driver for policy type ${String(type)}`);
  return cloudDriver(type as CloudFlow, deps);
}

export interface UploadRun {
  chunks: CloudChunkAttempt[];
  /** Undefined when a chunk failed (the client stops at the first failure and does not finish). */
  finish?: FinishResult;
  ok: boolean;
}

/**
 * Uploads a payload the way the client does: begin, every chunk in index order (stopping at the first failure, no
 * retry), then finish.
 */
export async function uploadWithDriver(driver: CloudUploadDriver, session: UploadSession, payload: Payload,
  options: { name?: string; finish?: FinishOptions } = {}): Promise<UploadRun> {
  driver.begin(session, { size: payload.size, ...(options.name ? { name: options.name } : {}) });
  const chunks: CloudChunkAttempt[] = [];
  for (const chunk of driver.plan(session, payload.size)) {
    const a = await driver.sendChunk(session, chunk, payload.stream(chunk.offset, chunk.length));
    chunks.push(a);
    if (!a.ok) return { chunks, ok: false };
  }
  const finish = await driver.finish(session, options.finish);
  return { chunks, finish, ok: finish.ok };
}
