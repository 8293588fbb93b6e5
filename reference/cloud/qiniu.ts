// The `qiniu` policy type (pkg/filemanager/driver/qiniu re-implemented over Qiniu Kodo's wire format).
//
// How a policy points the reference at Qiniu (a real Cloudreve asks uc.qbox.me for the bucket's region hosts; the
// reference takes them from the policy, so the harness can point it at the Qiniu emulator on loopback):
//   server       the upload host (resumable upload v2, `<server>/buckets/<bucket>/objects/<b64 key>/uploads…`), and
//                also the management host (`<server>/stat/…`, `<server>/batch`).
//   settings.proxy_server  the bucket's download domain (Cloudreve's setting of that name); default: `server`.
//   bucket_name  the bucket; access_key / secret_key the AK/SK (upload tokens, QBox signatures).
//
// Token: an upload token (scope `bucket:key`, deadline = the session's expiry, callbackUrl = the session's callback,
// callbackBody `{"size":$(fsize),"pic_info":"$(imageInfo.width),$(imageInfo.height)"}` as JSON, forceSaveKey +
// saveKey = the key, fsizeLimit = the declared size), then InitParts on the server side → `upload_id`,
// `upload_urls: [<server>/buckets/<bucket>/objects/<b64url key>/uploads/<uploadId>]`, `credential` = the token,
// `mime_type`. The client PUTs parts to `upload_urls[0]/<n>` and POSTs the parts list to `upload_urls[0]`; Qiniu then
// POSTs the callback, signed `QBox <AK>:<sign>` (path and query; the JSON body is not signed), and relays Cloudreve's
// answer. A bad or missing signature is refused with HTTP 401 `{"error":"Invalid signature."}` (qbox.Mac.VerifyCallback
// answers false, not an error, for both). Cancel aborts the multipart upload (DELETE upload_urls[0] with the token);
// Cloudreve 4.18.0 means to but never can (its CancelToken reads an upload URL and credential the session never got).
// Relay writes: a resumable upload without callback (scope `bucket`, no overwrite). Reads: a private download URL
// on the download domain (`?e=<deadline>&token=<AK>:<sign of the URL>`); sizes: `GET /stat/<entry>`; deletes:
// `POST /batch op=/delete/<entry>` (QBox-signed, form body signed too).
import { createHmac } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AppError, Code } from '../envelope.js';
import type { PolicyRow, UploadSession } from '../state.js';
import { mimeOf } from '../routes/content.js';
import { b64url, qboxToken, qiniuUploadToken, verifyQiniuCallbackAsCloudreve, type QiniuPutPolicy } from '../../harness/cloud/qiniu-sign.js';
import { CallbackRejected, type CallbackRequest, type CloudDriver, type TokenInput, type TokenResult } from './types.js';
import { call, encodeKey, OCTET, openObject, partsOf, str, TRANSFER_TIMEOUT_MS, type ByteRange } from './http.js';

const DEFAULT_CHUNK = 25 * 1024 * 1024;
const CALLBACK_BODY = '{"size":$(fsize),"pic_info":"$(imageInfo.width),$(imageInfo.height)"}';

const upHost = (policy: PolicyRow) => policy.server.replace(/\/+$/, '');
const rsHost = upHost;
const ioHost = (policy: PolicyRow) => (str(policy.settings.proxy_server) || policy.server).replace(/\/+$/, '');

function uploadsUrl(policy: PolicyRow, key: string): string {
  return `${upHost(policy)}/buckets/${encodeURIComponent(policy.bucketName)}/objects/${b64url(key)}/uploads`;
}

/** `bucket:key`, base64url (Qiniu's EncodedEntryURI). */
const entry = (policy: PolicyRow, key: string) => b64url(`${policy.bucketName}:${key}`);

function qiniuError(what: string, r: { status: number; text: string }): AppError {
  let msg = r.text.slice(0, 200);
  try { msg = String((JSON.parse(r.text) as { error?: unknown }).error ?? msg); } catch { /* not JSON */ }
  return new AppError(Code.NotSet, `qiniu: ${what}: HTTP ${r.status} ${msg}`);
}

async function initParts(policy: PolicyRow, key: string, token: string): Promise<string> {
  const r = await call('qiniu: initiate the multipart upload', uploadsUrl(policy, key), { method: 'POST',
    headers: { authorization: `UpToken ${token}`, 'content-length': '0' } });
  if (r.status !== 200) throw qiniuError('initiate the multipart upload', r);
  const uploadId = (JSON.parse(r.text) as { uploadId?: unknown }).uploadId;
  if (typeof uploadId !== 'string' || !uploadId) throw new AppError(Code.NotSet, 'qiniu: the multipart upload has no uploadId');
  return uploadId;
}

/** QBox management Authorization over path, query and (form bodies only) the body. */
function qbox(policy: PolicyRow, url: string, contentType?: string, body = ''): string {
  const u = new URL(url);
  return `QBox ${qboxToken(policy.accessKey, policy.secretKey, u.pathname, u.search, contentType, body)}`;
}

export const qiniuDriver: CloudDriver = {
  type: 'qiniu',
  defaultChunkSize: DEFAULT_CHUNK,

  async token(input: TokenInput): Promise<TokenResult> {
    const { policy, key } = input;
    const putPolicy: QiniuPutPolicy = {
      scope: `${policy.bucketName}:${key}`,
      deadline: input.expires,
      callbackUrl: input.callbackUrl,
      callbackBody: CALLBACK_BODY,
      callbackBodyType: 'application/json',
      forceSaveKey: true,
      saveKey: key,
      ...(input.size > 0 ? { fsizeLimit: input.size } : {}),
    };
    const token = qiniuUploadToken(policy.accessKey, policy.secretKey, putPolicy);
    const uploadId = await initParts(policy, key, token);
    const uploadUrl = `${uploadsUrl(policy, key)}/${uploadId}`;
    return {
      answer: { upload_id: uploadId, upload_urls: [uploadUrl], credential: token, mime_type: input.mimeType || mimeOf(input.fileName) },
      state: { uploadId, uploadUrl, credential: token },
    };
  },

  async verifyCallback(policy: PolicyRow, _session: UploadSession, req: CallbackRequest): Promise<void> {
    const q = req.rawUrl.indexOf('?');
    const header = (name: string) => { const v = req.headers[name]; return Array.isArray(v) ? v[0] : v; };
    const ok = verifyQiniuCallbackAsCloudreve(policy.accessKey, policy.secretKey, {
      path: q < 0 ? req.rawUrl : req.rawUrl.slice(0, q), rawQuery: q < 0 ? '' : req.rawUrl.slice(q + 1),
      contentType: header('content-type'), body: req.body, authorization: header('authorization') });
    if (!ok) throw new CallbackRejected(401, Code.CredentialInvalid, 'Invalid signature.', true);
  },

  async cancel(policy: PolicyRow, session: UploadSession): Promise<void> {
    const { uploadUrl } = session.provider ?? {};
    if (!uploadUrl || !session.key) return;
    // A fresh token: the session's own expired with the session, and a cancel may come after that.
    const token = qiniuUploadToken(policy.accessKey, policy.secretKey, { scope: `${policy.bucketName}:${session.key}`,
      deadline: Math.floor(Date.now() / 1000) + 3600 });
    const r = await call('qiniu: abort the multipart upload', uploadUrl, { method: 'DELETE', headers: { authorization: `UpToken ${token}` } });
    // 612: no such upload (completed, aborted or expired meanwhile).
    if (r.status !== 200 && r.status !== 612) throw qiniuError('abort the multipart upload', r);
  },

  async put(policy: PolicyRow, key: string, body: Readable, length: number, mimeType?: string): Promise<void> {
    if (length === 0) {
      // Qiniu refuses an empty part, so an empty object goes up as a form upload: POST <server>/ multipart/form-data
      // with `token` (scope `bucket:key`), `key` and an empty `file`.
      const token = qiniuUploadToken(policy.accessKey, policy.secretKey, { scope: `${policy.bucketName}:${key}`,
        deadline: Math.floor(Date.now() / 1000) + 86400 });
      const form = new FormData();
      form.append('token', token);
      form.append('key', key);
      form.append('file', new Blob([], { type: mimeType || mimeOf(key) }), key.slice(key.lastIndexOf('/') + 1) || 'file');
      const r = await call('qiniu: form upload', `${upHost(policy)}/`, { method: 'POST', body: form });
      if (r.status !== 200) throw qiniuError('form upload', r);
      return;
    }
    const token = qiniuUploadToken(policy.accessKey, policy.secretKey, { scope: policy.bucketName, saveKey: key, forceSaveKey: true,
      ...(length > 0 ? { fsizeLimit: length } : {}), deadline: Math.floor(Date.now() / 1000) + 86400 });
    const uploadId = await initParts(policy, key, token);
    const base = `${uploadsUrl(policy, key)}/${uploadId}`;
    const auth = { authorization: `UpToken ${token}` };
    const chunk = Number(policy.settings.chunk_size ?? 0) || DEFAULT_CHUNK;
    const take = partsOf(body);
    const parts: { etag: string; partNumber: number }[] = [];
    try {
      // As Cloudreve's chunk group: at least one part, also for an empty object.
      for (let offset = 0, n = 1; offset < length || n === 1; offset += chunk, n++) {
        const size = Math.min(chunk, length - offset);
        const r = await call(`qiniu: upload part ${n}`, `${base}/${n}`, { method: 'PUT',
          headers: { ...auth, 'content-type': OCTET, 'content-length': String(size) }, body: take(size), duplex: 'half' },
        TRANSFER_TIMEOUT_MS);
        const etag = r.status === 200 ? (JSON.parse(r.text) as { etag?: unknown }).etag : undefined;
        if (typeof etag !== 'string') throw qiniuError(`upload part ${n}`, r);
        parts.push({ etag, partNumber: n });
      }
      const r = await call('qiniu: complete the multipart upload', base, { method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ parts, mimeType: mimeType || mimeOf(key) }) });
      if (r.status !== 200) throw qiniuError('complete the multipart upload', r);
    } catch (e) {
      await call('qiniu: abort the multipart upload', base, { method: 'DELETE', headers: auth }).catch(() => undefined);
      throw e;
    }
  },

  async get(policy: PolicyRow, key: string, range?: ByteRange): Promise<Readable | undefined> {
    // A private download URL (storage.MakePrivateURLv2): the token signs the URL including `?e=`.
    const unsigned = `${ioHost(policy)}/${encodeKey(key)}?e=${Math.floor(Date.now() / 1000) + 3600}`;
    const sign = createHmac('sha1', policy.secretKey).update(unsigned).digest('base64').replace(/\+/g, '-').replace(/\//g, '_');
    const url = `${unsigned}&token=${policy.accessKey}:${sign}`;
    return openObject('qiniu: download', url, {}, range, (r) => qiniuError('download', r), [404, 612]);
  },

  async head(policy: PolicyRow, key: string): Promise<number | undefined> {
    const url = `${rsHost(policy)}/stat/${entry(policy, key)}`;
    const r = await call('qiniu: stat', url, { method: 'GET', headers: { authorization: qbox(policy, url) } });
    if (r.status === 612 || r.status === 404) return undefined;
    if (r.status !== 200) throw qiniuError('stat', r);
    const fsize = (JSON.parse(r.text) as { fsize?: unknown }).fsize;
    if (typeof fsize !== 'number') throw new AppError(Code.NotSet, 'qiniu: stat has no fsize');
    return fsize;
  },

  async remove(policy: PolicyRow, key: string): Promise<void> {
    const url = `${rsHost(policy)}/batch`;
    const type = 'application/x-www-form-urlencoded';
    const body = `op=${encodeURIComponent(`/delete/${entry(policy, key)}`)}`;
    const r = await call('qiniu: delete', url, { method: 'POST', headers: { authorization: qbox(policy, url, type, body), 'content-type': type }, body });
    if (r.status !== 200 && r.status !== 298) throw qiniuError('delete', r);
    // 298: partly failed; each operation's code says which. 612: already gone.
    const results = JSON.parse(r.text) as { code?: number; data?: { error?: string } }[];
    const failed = Array.isArray(results) ? results.find((x) => x.code !== 200 && x.code !== 612) : undefined;
    if (failed) throw new AppError(Code.NotSet, `qiniu: delete: ${failed.code ?? '?'} ${failed.data?.error ?? ''}`);
  },
};
