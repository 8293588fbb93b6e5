// The `onedrive` policy type (pkg/filemanager/driver/onedrive re-implemented over Microsoft Graph's wire format).
//
// How a policy points the reference at Graph (a real Cloudreve always uses Microsoft's hosts; the reference takes
// them from the policy, so the harness can point it at the OneDrive emulator on loopback):
//   server       Graph's API base, e.g. `https://graph.microsoft.com/v1.0` or `http://127.0.0.1:<port>/v1.0`; Graph
//                calls go to `<server>/<drive resource>/…`.
//   settings.od_driver  the drive resource (default `me/drive`, as Cloudreve); a SharePoint site's drive gets the
//                1 MiB size tolerance of the completion check, as in Cloudreve.
//   bucket_name  the OAuth client id; secret_key the client secret (Cloudreve's columns for them).
//   access_key   the OAuth refresh token (Cloudreve keeps it there too). Access tokens are obtained with it from
//                `<origin of server>/common/oauth2/v2.0/token` (login.microsoftonline.com's path, on Graph's origin)
//                and cached until 10 minutes before they expire.
//
// Token: createUploadSession at `root:/<key>:/createUploadSession` (conflictBehavior fail) → `upload_urls:
// [uploadUrl]` (pre-authorised: the client PUTs Content-Range fragments there without Authorization); the chunk size
// is the policy's or 50 MiB. The client then POSTs /callback/onedrive/<sid>/<key>: the item's metadata must exist and
// have the declared size (else 40055, answered with HTTP 200 like every OneDrive completion failure). Cancel deletes
// the upload session; unlike Cloudreve 4.18.0 it does not then write an empty placeholder item at the key (that
// leaves a 0-byte object behind at the provider). Relay writes: simple upload up to 4 MiB, an upload session above.
// Reads go through `root:/<key>:/content`, deletes through the item's DELETE (Cloudreve batches them through
// `$batch`). The HTTP helpers at the end are shared with the qiniu and upyun drivers.
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { AppError, Code } from '../envelope.js';
import type { PolicyRow, UploadSession } from '../state.js';
import { CallbackRejected, type CallbackRequest, type CloudDriver, type TokenInput, type TokenResult } from './types.js';

const MiB = 1024 * 1024;
/** Graph's limit of a simple upload (Cloudreve's SmallFileSize). */
const SMALL_FILE = 4 * MiB;
const DEFAULT_CHUNK = 50 * MiB;

// ---- OAuth access tokens ------------------------------------------------------------------------------------------

interface CachedToken { accessToken: string; refreshToken: string; expiresAt: number }
const tokens = new Map<string, CachedToken>();
const refreshing = new Map<string, Promise<CachedToken>>();

function tokenEndpoint(policy: PolicyRow): string {
  return new URL('/common/oauth2/v2.0/token', policy.server).toString();
}

async function refreshAccessToken(policy: PolicyRow, cacheKey: string): Promise<CachedToken> {
  const refreshToken = tokens.get(cacheKey)?.refreshToken ?? policy.accessKey;
  if (!refreshToken) throw new AppError(Code.NotSet, 'no valid refresh token in this policy');
  const form = new URLSearchParams({ client_id: policy.bucketName, redirect_uri: str(policy.settings.od_redirect),
    client_secret: policy.secretKey, grant_type: 'refresh_token', refresh_token: refreshToken });
  const r = await call('onedrive: refresh the access token', tokenEndpoint(policy), { method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
  let answer: { access_token?: string; refresh_token?: string; expires_in?: number; error_description?: string; error?: string } = {};
  try { answer = JSON.parse(r.text) as typeof answer; } catch { /* below */ }
  if (r.status !== 200 || !answer.access_token) {
    const why = answer.error ? `${answer.error}: ${answer.error_description ?? ''}` : r.text.slice(0, 200);
    throw new AppError(Code.NotSet, `onedrive: refresh the access token: HTTP ${r.status} ${why}`);
  }
  const lifetime = Math.max(0, (answer.expires_in ?? 0) - 600) * 1000;
  const t = { accessToken: answer.access_token, refreshToken: answer.refresh_token || refreshToken, expiresAt: Date.now() + lifetime };
  tokens.set(cacheKey, t);
  return t;
}

async function accessToken(policy: PolicyRow): Promise<string> {
  const cacheKey = [policy.server, policy.bucketName, policy.secretKey, policy.accessKey].join('\n');
  const cached = tokens.get(cacheKey);
  if (cached && cached.expiresAt > Date.now()) return cached.accessToken;
  let p = refreshing.get(cacheKey);
  if (!p) {
    p = refreshAccessToken(policy, cacheKey).finally(() => refreshing.delete(cacheKey));
    refreshing.set(cacheKey, p);
  }
  return (await p).accessToken;
}

// ---- Graph ----------------------------------------------------------------------------------------------------------

/** `<server>/<drive resource>/root:/<key>` with every segment of the key percent-encoded. */
function itemUrl(policy: PolicyRow, key: string, action = ''): string {
  const base = policy.server.replace(/\/+$/, '');
  const drive = (str(policy.settings.od_driver) || 'me/drive').replace(/^\/+|\/+$/g, '');
  return `${base}/${drive}/root:/${encodeKey(key)}${action ? `:/${action}` : ''}`;
}

async function graphHeaders(policy: PolicyRow, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await accessToken(policy)}`, ...extra };
}

function graphMessage(text: string): string {
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    if (e) return `${e.code ?? ''}: ${e.message ?? ''}`;
  } catch { /* not JSON */ }
  return text.slice(0, 200);
}

function graphError(what: string, r: { status: number; text: string }): AppError {
  return new AppError(Code.NotSet, `onedrive: ${what}: HTTP ${r.status} ${graphMessage(r.text)}`);
}

async function createUploadSession(policy: PolicyRow, key: string, conflictBehavior: 'fail' | 'replace'): Promise<string> {
  const r = await call('onedrive: create the upload session', itemUrl(policy, key, 'createUploadSession'), { method: 'POST',
    headers: await graphHeaders(policy, { 'content-type': 'application/json' }),
    body: JSON.stringify({ item: { '@microsoft.graph.conflictBehavior': conflictBehavior } }) });
  if (r.status !== 200) throw graphError('create the upload session', r);
  const uploadUrl = (JSON.parse(r.text) as { uploadUrl?: unknown }).uploadUrl;
  if (typeof uploadUrl !== 'string' || !uploadUrl) throw new AppError(Code.NotSet, 'onedrive: the upload session has no uploadUrl');
  return uploadUrl;
}

/** The item's size, or undefined when Graph says itemNotFound. */
async function itemSize(policy: PolicyRow, key: string): Promise<number | undefined> {
  const r = await call('onedrive: read the item', `${itemUrl(policy, key)}?expand=thumbnails`, { method: 'GET', headers: await graphHeaders(policy) });
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw graphError('read the item', r);
  const size = (JSON.parse(r.text) as { size?: unknown }).size;
  if (typeof size !== 'number') throw new AppError(Code.NotSet, 'onedrive: the item has no size');
  return size;
}

function isSharePoint(policy: PolicyRow): boolean {
  const drive = str(policy.settings.od_driver);
  return drive.includes('sharepoint.com') || drive.includes('sharepoint.cn');
}

export const onedriveDriver: CloudDriver = {
  type: 'onedrive',
  defaultChunkSize: DEFAULT_CHUNK,

  async token(input: TokenInput): Promise<TokenResult> {
    const uploadUrl = await createUploadSession(input.policy, input.key, 'fail');
    return { answer: { upload_urls: [uploadUrl] }, state: { uploadUrl } };
  },

  async verifyCallback(policy: PolicyRow, session: UploadSession, _req: CallbackRequest): Promise<void> {
    let actual: number | undefined;
    try {
      actual = await itemSize(policy, session.key ?? '');
    } catch (e) {
      throw new CallbackRejected(200, Code.NotSet, `failed to get uploaded file size: ${(e as Error).message}`);
    }
    if (actual === undefined) throw new CallbackRejected(200, Code.NotSet, 'failed to get uploaded file size: itemNotFound');
    let mismatch = actual !== session.size;
    // SharePoint adds metadata to Office documents: up to 1 MiB more is tolerated.
    if (mismatch && isSharePoint(policy) && actual > session.size && actual - session.size <= MiB) mismatch = false;
    if (mismatch) throw new CallbackRejected(200, Code.MetaMismatch, `File size not match, expected: ${session.size}, actual: ${actual}`);
  },

  async cancel(_policy: PolicyRow, session: UploadSession): Promise<void> {
    const uploadUrl = session.provider?.uploadUrl;
    if (!uploadUrl) return;
    // The upload URL is pre-authorised: no Authorization header. 404: expired, completed or already deleted.
    const r = await call('onedrive: delete the upload session', uploadUrl, { method: 'DELETE' });
    if (r.status !== 204 && r.status !== 200 && r.status !== 404) throw graphError('delete the upload session', r);
  },

  async put(policy: PolicyRow, key: string, body: Readable, length: number): Promise<void> {
    if (length <= SMALL_FILE) {
      const r = await call('onedrive: upload', `${itemUrl(policy, key, 'content')}?@microsoft.graph.conflictBehavior=fail`, {
        method: 'PUT', headers: await graphHeaders(policy, { 'content-length': String(length), 'content-type': 'application/octet-stream' }),
        body: streamBody(body), duplex: 'half' }, TRANSFER_TIMEOUT_MS);
      if (r.status !== 200 && r.status !== 201) throw graphError('upload', r);
      return;
    }
    const uploadUrl = await createUploadSession(policy, key, 'fail');
    const chunk = Number(policy.settings.chunk_size ?? 0) || DEFAULT_CHUNK;
    const take = partsOf(body);
    try {
      for (let offset = 0; offset < length; offset += chunk) {
        const n = Math.min(chunk, length - offset);
        const r = await call(`onedrive: upload bytes ${offset}-${offset + n - 1}`, uploadUrl, { method: 'PUT',
          headers: { 'content-length': String(n), 'content-range': `bytes ${offset}-${offset + n - 1}/${length}` },
          body: take(n), duplex: 'half' }, TRANSFER_TIMEOUT_MS);
        if (r.status !== 200 && r.status !== 201 && r.status !== 202) throw graphError(`upload bytes ${offset}-${offset + n - 1}`, r);
      }
    } catch (e) {
      await call('onedrive: delete the upload session', uploadUrl, { method: 'DELETE' }).catch(() => undefined);
      throw e;
    }
  },

  async get(policy: PolicyRow, key: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    const headers = await graphHeaders(policy, range ? { range: `bytes=${range.start}-${range.end}` } : {});
    const r = await open('onedrive: download', itemUrl(policy, key, 'content'), { method: 'GET', headers });
    if (r.res.status === 404) { await r.res.body?.cancel(); return undefined; }
    if (r.res.status !== 200 && r.res.status !== 206) throw graphError('download', { status: r.res.status, text: await r.res.text() });
    return r.body(range);
  },

  async head(policy: PolicyRow, key: string): Promise<number | undefined> {
    return itemSize(policy, key);
  },

  async remove(policy: PolicyRow, key: string): Promise<void> {
    const r = await call('onedrive: delete', itemUrl(policy, key), { method: 'DELETE', headers: await graphHeaders(policy) });
    if (r.status !== 204 && r.status !== 200 && r.status !== 404) throw graphError('delete', r);
  },
};

// ---- HTTP helpers (shared with qiniu.ts and upyun.ts) -------------------------------------------------------------

/** Deadline of a control call (request and answer read whole). */
export const CONTROL_TIMEOUT_MS = 30_000;
/** Deadline of a call that sends object data. */
export const TRANSFER_TIMEOUT_MS = 10 * 60_000;
/** A download is given up when no byte arrived for this long. */
export const IDLE_TIMEOUT_MS = 60_000;

export type ProviderInit = Omit<RequestInit, 'body' | 'signal'> & { body?: RequestInit['body'] | AsyncIterable<Uint8Array>; duplex?: 'half' };

export const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** A key's segments, each percent-encoded, joined with `/`. */
export function encodeKey(key: string): string {
  return key.split('/').map((s) => encodeURIComponent(s)).join('/');
}

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
 * A provider call whose answer body is streamed: the headers must arrive within the control deadline, then the body
 * is abandoned when it stalls for IDLE_TIMEOUT_MS. `body(range)` gives the answer as a Node stream; when a range was
 * asked for and the provider answered 200 with the whole object, the range is cut out here.
 */
export async function open(what: string, url: string, init: ProviderInit):
  Promise<{ res: Response; body(range?: { start: number; end: number }): Readable }> {
  const ac = new AbortController();
  let timer = setTimeout(() => ac.abort(new Error(`${what}: no answer within ${CONTROL_TIMEOUT_MS} ms`)), CONTROL_TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'follow', signal: ac.signal } as RequestInit);
  } catch (e) {
    clearTimeout(timer);
    throw new AppError(Code.NotSet, `${what}: ${(e as Error).message}`);
  }
  clearTimeout(timer);
  return {
    res,
    body(range) {
      const whole = res.status === 200;
      let skip = range && whole ? range.start : 0;
      let left = range && whole ? range.end - range.start + 1 : Number.POSITIVE_INFINITY;
      timer = setTimeout(() => ac.abort(new Error(`${what}: the body stalled for ${IDLE_TIMEOUT_MS} ms`)), IDLE_TIMEOUT_MS);
      const cut = new Transform({
        transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
          timer.refresh();
          let b = chunk;
          if (skip > 0) { const n = Math.min(skip, b.length); skip -= n; b = b.subarray(n); }
          if (b.length > left) b = b.subarray(0, left);
          if (left !== Number.POSITIVE_INFINITY) left -= b.length;
          cb(null, b.length ? b : undefined);
        },
        flush(cb: TransformCallback) { clearTimeout(timer); cb(); },
      });
      cut.on('close', () => clearTimeout(timer));
      if (!res.body) { cut.end(); return cut; }
      const source = Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]);
      source.on('error', (e) => cut.destroy(e));
      cut.on('close', () => { if (!source.destroyed) source.destroy(); });
      return source.pipe(cut);
    },
  };
}

/** A Node stream as a fetch body. */
export function streamBody(body: Readable): AsyncIterable<Uint8Array> {
  return body as AsyncIterable<Uint8Array>;
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
