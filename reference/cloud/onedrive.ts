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
// `$batch`).
import type { Readable } from 'node:stream';
import { AppError, Code } from '../envelope.js';
import type { PolicyRow, UploadSession } from '../state.js';
import { CallbackRejected, type CallbackRequest, type CloudDriver, type TokenInput, type TokenResult } from './types.js';
import { call, deletedOrGone, encodeKey, OCTET, openObject, partsOf, str, streamBody, TRANSFER_TIMEOUT_MS, type ByteRange } from './http.js';

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
    if (!deletedOrGone(r.status)) throw graphError('delete the upload session', r);
  },

  async put(policy: PolicyRow, key: string, body: Readable, length: number): Promise<void> {
    if (length <= SMALL_FILE) {
      const r = await call('onedrive: upload', `${itemUrl(policy, key, 'content')}?@microsoft.graph.conflictBehavior=fail`, {
        method: 'PUT', headers: await graphHeaders(policy, { 'content-length': String(length), 'content-type': OCTET }),
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

  async get(policy: PolicyRow, key: string, range?: ByteRange): Promise<Readable | undefined> {
    return openObject('onedrive: download', itemUrl(policy, key, 'content'), await graphHeaders(policy), range, (r) => graphError('download', r));
  },

  async head(policy: PolicyRow, key: string): Promise<number | undefined> {
    return itemSize(policy, key);
  },

  async remove(policy: PolicyRow, key: string): Promise<void> {
    const r = await call('onedrive: delete', itemUrl(policy, key), { method: 'DELETE', headers: await graphHeaders(policy) });
    if (!deletedOrGone(r.status)) throw graphError('delete', r);
  },
};
