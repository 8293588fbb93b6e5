// The `cos` policy type (Tencent COS), as Cloudreve 4.18 drives it through cos-go-sdk-v5: the policy's `server` is the
// bucket URL (objects at <origin>/<key>; a path in it is dropped, as the SDK resolves "/<key>" against it); calls are
// signed with COS's q-sign-* HMAC-SHA1 signature — server-side calls in the Authorization header (host not signed),
// the URLs handed to the client presigned in the query. Talks plain HTTP to that URL (the harness points it at a COS
// emulator).
//
//   token           InitiateMultipartUpload (Content-Type, x-cos-forbid-overwrite: true), one presigned UploadPart URL
//                   per chunk (ceil(size / chunk), at least 1) signing that chunk's Content-Length and
//                   `Content-Type: application/octet-stream`, and a presigned CompleteMultipartUpload URL signing
//                   `x-cos-forbid-overwrite: true`; all valid until the session expires. Answer: upload_id,
//                   upload_urls, completeURL. The client completes there, then calls GET /callback/cos/<sid>/<key>.
//   verifyCallback  HEAD the object: an error or a missing object → HTTP 400 code -1; a size other than the session's →
//                   HTTP 400 code 40055 "File size not match, expected: X, actual: Y". The session is kept either way.
//   cancel          AbortMultipartUpload.
//   put/get/head/remove, sourceUrl   PutObject (streamed), GetObject (Range), HeadObject, DeleteObject, presigned GET
//                   (a plain URL on a public bucket).
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { AppError, Code } from '../envelope.js';
import type { PolicyRow, UploadSession } from '../state.js';
import { cosAuthorization, cosPresignUrl } from '../../harness/cloud/cos-sign.js';
import { CallbackRejected, type CallbackRequest, type CloudDriver, type TokenInput, type TokenResult } from './types.js';

const OCTET = 'application/octet-stream';
/** A provider call is aborted when nothing moved (no answer, no body bytes) for this long. */
const IDLE_MS = 30_000;
/** Lifetime of a server-side call's signature. */
const CALL_SIGNATURE_S = 3600;

// ------------------------------------------------------------------------------------------------------- addressing

function bucketOrigin(policy: PolicyRow): string {
  try {
    const u = new URL(policy.server);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    return u.origin;
  } catch {
    throw new AppError(Code.NotSet, `COS policy ${policy.id}: failed to parse COS bucket server url "${policy.server}"`);
  }
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function objectUrl(policy: PolicyRow, key: string): string {
  return `${bucketOrigin(policy)}/${encodeKey(key)}`;
}

// ------------------------------------------------------------------------------------------------------------ HTTP

/** Aborts a request when nothing moved for `ms` (no answer yet, no body bytes either way). */
class Watchdog {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly ms: number, private readonly what: string) { this.kick(); }
  kick(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.controller.abort(new Error(`${this.what}: no progress for ${this.ms} ms`)), this.ms);
    this.timer.unref();
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

interface CosCall {
  policy: PolicyRow;
  method: string;
  key: string;
  /** Query parameters, all signed; '' renders a bare `?name`. */
  params?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Readable;
  length?: number;
  what: string;
}

function queryString(params: Record<string, string>): string {
  return Object.entries(params).map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&');
}

/** Headers the SDK signs: Content-Type, Content-MD5, Content-Length of a body and every x-cos-* (never Host). */
function signable(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const n = k.toLowerCase();
    if (n === 'content-type' || n === 'content-md5' || n === 'content-length' || n.startsWith('x-cos-')) out[n] = v;
  }
  return out;
}

function xmlField(text: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(text);
  return m?.[1]?.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, '\'').replace(/&amp;/g, '&');
}

async function failure(res: Response, what: string): Promise<AppError> {
  const text = await res.text().catch(() => '');
  const code = xmlField(text, 'Code');
  const msg = xmlField(text, 'Message');
  return new AppError(Code.NotSet, `COS ${what} failed: HTTP ${res.status}${code ? ` ${code}` : ''}${msg ? `: ${msg}` : ''}`);
}

function networkError(e: unknown, what: string): AppError {
  if (e instanceof AppError) return e;
  const err = e as Error & { cause?: Error };
  const cause = err.cause?.message ? ` (${err.cause.message})` : '';
  return new AppError(Code.NotSet, `COS ${what} failed: ${err.message}${cause}`);
}

async function send(c: CosCall): Promise<{ res: Response; wd: Watchdog }> {
  const params = c.params ?? {};
  const url = `${objectUrl(c.policy, c.key)}${Object.keys(params).length ? `?${queryString(params)}` : ''}`;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.headers ?? {})) headers[k.toLowerCase()] = v;
  if (c.body) headers['content-length'] = String(c.length ?? 0);
  const now = Math.floor(Date.now() / 1000);
  headers.authorization = cosAuthorization({ secretId: c.policy.accessKey, secretKey: c.policy.secretKey, method: c.method,
    path: `/${c.key}`, params, headers: signable(headers), start: now, end: now + CALL_SIGNATURE_S });
  const wd = new Watchdog(IDLE_MS, `COS ${c.what}`);
  const init: RequestInit & { duplex?: 'half' } = { method: c.method, headers, redirect: 'error', signal: wd.controller.signal };
  if (c.body) {
    init.body = Readable.toWeb(watched(c.body, wd, false)) as unknown as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  try {
    const res = await fetch(url, init);
    wd.kick();
    return { res, wd };
  } catch (e) {
    wd.stop();
    throw networkError(e, c.what);
  }
}

async function exchange(c: CosCall, ok: (status: number) => boolean): Promise<{ status: number; text: string; headers: Headers }> {
  const { res, wd } = await send(c);
  try {
    if (!ok(res.status)) throw await failure(res, c.what);
    return { status: res.status, text: await res.text(), headers: res.headers };
  } catch (e) {
    throw networkError(e, c.what);
  } finally {
    wd.stop();
  }
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

function presign(policy: PolicyRow, method: string, key: string, params: Record<string, string>, headers: Record<string, string>, end: number): string {
  return cosPresignUrl(objectUrl(policy, key), { secretId: policy.accessKey, secretKey: policy.secretKey, method, params, headers,
    start: Math.floor(Date.now() / 1000), end });
}

// ----------------------------------------------------------------------------------------------------------- driver

function uploadIdOf(session: UploadSession): string {
  const id = session.provider?.uploadId;
  if (!id || !session.key) throw new AppError(Code.NotSet, `upload session ${session.id} has no COS multipart upload`);
  return id;
}

export const cosDriver: CloudDriver = {
  type: 'cos',
  defaultChunkSize: 25 * 1024 * 1024,

  async token(input: TokenInput): Promise<TokenResult> {
    const { policy, key } = input;
    const init = await exchange({ policy, method: 'POST', key, params: { uploads: '' }, what: 'InitiateMultipartUpload',
      headers: { 'Content-Type': input.mimeType || OCTET, 'x-cos-forbid-overwrite': 'true' } }, (s) => s === 200);
    const uploadId = xmlField(init.text, 'UploadId');
    if (!uploadId) throw new AppError(Code.NotSet, 'COS InitiateMultipartUpload failed: the answer has no UploadId');

    const chunk = input.chunkSize > 0 ? input.chunkSize : Math.max(1, input.size);
    const parts = Math.max(1, Math.ceil(input.size / chunk));
    const uploadUrls = Array.from({ length: parts }, (_, i) => presign(policy, 'PUT', key,
      { partNumber: String(i + 1), uploadId },
      { 'Content-Type': OCTET, 'Content-Length': String(Math.max(0, Math.min(chunk, input.size - i * chunk))) }, input.expires));
    const completeURL = presign(policy, 'POST', key, { uploadId }, { 'x-cos-forbid-overwrite': 'true' }, input.expires);
    return { answer: { upload_id: uploadId, upload_urls: uploadUrls, completeURL }, state: { uploadId } };
  },

  async verifyCallback(policy: PolicyRow, session: UploadSession, _req: CallbackRequest): Promise<void> {
    // CompleteUpload's sentinel check: the object's size at COS must be the declared one.
    let size: number | undefined;
    try {
      size = await cosDriver.head(policy, session.key ?? '');
    } catch (e) {
      throw new CallbackRejected(400, Code.NotSet, `failed to get uploaded file size: ${(e as AppError).msg ?? (e as Error).message}`);
    }
    if (size === undefined) throw new CallbackRejected(400, Code.NotSet, 'failed to get uploaded file size: COS HeadObject failed: HTTP 404 (the object does not exist)');
    if (size !== session.size) {
      throw new CallbackRejected(400, Code.MetaMismatch, `File size not match, expected: ${session.size}, actual: ${size}`);
    }
  },

  async cancel(policy: PolicyRow, session: UploadSession): Promise<void> {
    const uploadId = uploadIdOf(session);
    await exchange({ policy, method: 'DELETE', key: session.key!, params: { uploadId }, what: 'AbortMultipartUpload' },
      // 404 NoSuchUpload: nothing left to abort (completed at the provider, or aborted already); the object goes with the entity.
      (s) => s === 204 || s === 200 || s === 404);
  },

  async put(policy: PolicyRow, key: string, body: Readable, length: number, mimeType?: string): Promise<void> {
    await exchange({ policy, method: 'PUT', key, body, length, what: 'PutObject', headers: { 'Content-Type': mimeType || OCTET } },
      (s) => s === 200);
  },

  async get(policy: PolicyRow, key: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    const headers: Record<string, string> = range ? { Range: `bytes=${range.start}-${range.end}` } : {};
    const { res, wd } = await send({ policy, method: 'GET', key, headers, what: 'GetObject' });
    try {
      if (res.status === 404) { await res.body?.cancel(); wd.stop(); return undefined; }
      if (res.status !== 200 && res.status !== 206) throw await failure(res, 'GetObject');
    } catch (e) {
      wd.stop();
      throw networkError(e, 'GetObject');
    }
    if (!res.body) { wd.stop(); return Readable.from([]); }
    const body = watched(Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>), wd, true);
    return range && res.status === 200 ? slice(body, range.start, range.end - range.start + 1) : body;
  },

  async head(policy: PolicyRow, key: string): Promise<number | undefined> {
    const r = await exchange({ policy, method: 'HEAD', key, what: 'HeadObject' }, (s) => s === 200 || s === 404);
    if (r.status === 404) return undefined;
    const n = Number(r.headers.get('content-length'));
    if (r.headers.get('content-length') === null || !Number.isSafeInteger(n) || n < 0) {
      throw new AppError(Code.NotSet, 'COS HeadObject failed: the answer has no Content-Length');
    }
    return n;
  },

  async remove(policy: PolicyRow, key: string): Promise<void> {
    await exchange({ policy, method: 'DELETE', key, what: 'DeleteObject' }, (s) => s === 204 || s === 200 || s === 404);
  },

  sourceUrl(policy: PolicyRow, key: string, o: { name: string; download: boolean; expires: number }): string {
    // A public bucket needs no signature, and takes no response header override.
    if (!policy.isPrivate) return objectUrl(policy, key);
    const params: Record<string, string> = {};
    if (o.download) {
      const name = encodeURIComponent(o.name);
      params['response-content-disposition'] = `attachment; filename="${name}"; filename*=UTF-8''${name}`;
    }
    return presign(policy, 'GET', key, params, {}, o.expires);
  },
};
