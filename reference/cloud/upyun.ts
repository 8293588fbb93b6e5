// The `upyun` policy type (pkg/filemanager/driver/upyun re-implemented over Upyun USS's wire format).
//
// How a policy points the reference at Upyun (a real Cloudreve hard-codes https://v0.api.upyun.com; the reference
// takes the API host from the policy, so the harness can point it at the Upyun emulator on loopback):
//   server       the API host: form uploads go to `<server>/<bucket>`, REST calls to `<server>/<bucket>/<key>`.
//   bucket_name  the service (bucket); access_key / secret_key the operator and its password.
//
// Token: HEAD the key first (an existing object → 40004, as Cloudreve), then the form-API policy
// `{"bucket","save-key":<key>,"expiration":<session expiry>,"notify-url":<callback>,"content-length":<size>,
// "content-length-range":"0,<size>"}` (base64) signed `UPYUN <operator>:<sign of POST&/<bucket>&<policy>>` →
// `upload_urls: [<server>/<bucket>]`, `credential`, `upload_policy`, `mime_type`, `chunk_size: 0` (one form POST,
// whatever the policy's chunk size). Upyun then notifies the callback asynchronously, signed over
// `POST&<path>&<Date>&<Content-MD5>` with Content-MD5 = md5hex(body). A failed check is refused with HTTP 401
// `{"error":"Failed to verify callback request."}` and completes nothing (Cloudreve 4.18.0 writes that answer but
// goes on and completes the upload anyway — a bug the reference does not copy). Cancel has nothing to undo at Upyun.
// Relay writes: REST PUT (after the same existence check). Reads, sizes and deletes: REST GET / HEAD / DELETE (async
// delete, as Cloudreve), signed `UPYUN <operator>:<sign of METHOD&/<bucket>/<key>&<Date>>` (Cloudreve's downloads
// use the bucket's CDN domain instead).
import type { Readable } from 'node:stream';
import { AppError, Code, FsErr } from '../envelope.js';
import type { PolicyRow, UploadSession } from '../state.js';
import { mimeOf } from '../routes/content.js';
import { upyunAuthorization, upyunFormCredentials, verifyUpyunNotifyAsCloudreve } from '../../harness/cloud/upyun-sign.js';
import { CallbackRejected, type CallbackRequest, type CloudDriver, type TokenInput, type TokenResult } from './types.js';
import { call, encodeKey, openObject, streamBody, TRANSFER_TIMEOUT_MS, type ByteRange, type ProviderInit } from './http.js';

const api = (policy: PolicyRow) => policy.server.replace(/\/+$/, '');

/** The REST URI of a key (what the signature covers) and its URL. */
function rest(policy: PolicyRow, key: string): { uri: string; url: string } {
  const uri = `/${encodeURIComponent(policy.bucketName)}/${encodeKey(key.replace(/^\/+/, ''))}`;
  return { uri, url: `${api(policy)}${uri}` };
}

/** Headers of a signed REST call: Date and Authorization (Content-MD5 not used). */
function signed(policy: PolicyRow, method: string, uri: string, extra: Record<string, string> = {}): Record<string, string> {
  const date = new Date().toUTCString();
  return { date, authorization: upyunAuthorization(policy.accessKey, policy.secretKey, [method, uri, date]), ...extra };
}

function upyunError(what: string, r: { status: number; text: string }): AppError {
  let msg = r.text.slice(0, 200);
  try { const e = JSON.parse(r.text) as { code?: number; msg?: string }; if (e.msg) msg = `${e.code ?? ''} ${e.msg}`; } catch { /* not JSON */ }
  return new AppError(Code.NotSet, `upyun: ${what}: HTTP ${r.status} ${msg}`);
}

async function restCall(what: string, policy: PolicyRow, method: string, key: string, init: ProviderInit = {}, timeoutMs?: number) {
  const { uri, url } = rest(policy, key);
  return call(`upyun: ${what}`, url, { ...init, method, headers: signed(policy, method, uri, (init.headers ?? {}) as Record<string, string>) }, timeoutMs);
}

/** The object's size (HEAD), undefined when it does not exist. */
async function info(policy: PolicyRow, key: string): Promise<number | undefined> {
  const r = await restCall('read the object info', policy, 'HEAD', key);
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw upyunError('read the object info', r);
  const size = Number(r.headers.get('x-upyun-file-size') ?? r.headers.get('content-length'));
  if (!Number.isFinite(size)) throw new AppError(Code.NotSet, 'upyun: the object info has no size');
  return size;
}

function header(req: CallbackRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export const upyunDriver: CloudDriver = {
  type: 'upyun',
  defaultChunkSize: 0,

  async token(input: TokenInput): Promise<TokenResult> {
    const { policy, key } = input;
    if (await info(policy, key) !== undefined) throw FsErr.existed();
    const { policy: uploadPolicy, authorization } = upyunFormCredentials(policy.accessKey, policy.secretKey, policy.bucketName, {
      bucket: policy.bucketName, 'save-key': key, expiration: input.expires, 'notify-url': input.callbackUrl,
      'content-length': input.size, 'content-length-range': `0,${input.size}`,
    });
    return {
      answer: { chunk_size: 0, upload_urls: [`${api(policy)}/${policy.bucketName}`], credential: authorization, upload_policy: uploadPolicy,
        mime_type: input.mimeType || mimeOf(input.fileName) },
    };
  },

  async verifyCallback(policy: PolicyRow, _session: UploadSession, req: CallbackRequest): Promise<void> {
    const q = req.rawUrl.indexOf('?');
    const ok = verifyUpyunNotifyAsCloudreve(policy.accessKey, policy.secretKey, {
      path: q < 0 ? req.rawUrl : req.rawUrl.slice(0, q), date: header(req, 'date'), contentMd5: header(req, 'content-md5'),
      authorization: header(req, 'authorization'), body: req.body });
    if (!ok) throw new CallbackRejected(401, Code.CredentialInvalid, 'Failed to verify callback request.', true);
  },

  async cancel(): Promise<void> {
    // A form upload has no provider-side state to abort.
  },

  async put(policy: PolicyRow, key: string, body: Readable, length: number, mimeType?: string): Promise<void> {
    if (await info(policy, key) !== undefined) throw FsErr.existed();
    const r = await restCall('upload', policy, 'PUT', key, { headers: { 'content-type': mimeType || mimeOf(key), 'content-length': String(length) },
      body: streamBody(body), duplex: 'half' }, TRANSFER_TIMEOUT_MS);
    if (r.status !== 200 && r.status !== 201 && r.status !== 204) throw upyunError('upload', r);
  },

  async get(policy: PolicyRow, key: string, range?: ByteRange): Promise<Readable | undefined> {
    const { uri, url } = rest(policy, key);
    return openObject('upyun: download', url, signed(policy, 'GET', uri), range, (r) => upyunError('download', r));
  },

  async head(policy: PolicyRow, key: string): Promise<number | undefined> {
    return info(policy, key);
  },

  async remove(policy: PolicyRow, key: string): Promise<void> {
    const r = await restCall('delete', policy, 'DELETE', key, { headers: { 'x-upyun-async': 'true' } });
    if (r.status !== 200 && r.status !== 404) throw upyunError('delete', r);
  },
};
