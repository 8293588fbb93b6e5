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
import { AppError, Code } from '../envelope.js';
import type { PolicyRow, UploadSession } from '../state.js';
import { cosAuthorization, cosPresignUrl } from '../../harness/cloud/cos-sign.js';
import { CallbackRejected, type CallbackRequest, type CloudDriver, type TokenInput, type TokenResult } from './types.js';
import {
  attachment, emptyAsBare, encodeKey, exchange, failed, objectCalls, OCTET, partSizes, queryString, xmlField,
  type ObjectCall, type ProviderRequest,
} from './http.js';

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

function objectUrl(policy: PolicyRow, key: string): string {
  return `${bucketOrigin(policy)}/${encodeKey(key)}`;
}

// ------------------------------------------------------------------------------------------------------------ HTTP

/** `query`: parameters, all signed; '' renders a bare `?name`. */
type CosCall = ObjectCall<Record<string, string>>;

/** Headers the SDK signs: Content-Type, Content-MD5, Content-Length of a body and every x-cos-* (never Host). */
function signable(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const n = k.toLowerCase();
    if (n === 'content-type' || n === 'content-md5' || n === 'content-length' || n.startsWith('x-cos-')) out[n] = v;
  }
  return out;
}

/** The call as sent: its URL and signed headers (Content-Length of a body signed too). */
function request(c: CosCall): ProviderRequest {
  const params = c.query ?? {};
  const url = `${objectUrl(c.policy, c.key)}${Object.keys(params).length ? `?${queryString(emptyAsBare(Object.entries(params)), encodeURIComponent)}` : ''}`;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.headers ?? {})) headers[k.toLowerCase()] = v;
  if (c.body) headers['content-length'] = String(c.length ?? 0);
  const now = Math.floor(Date.now() / 1000);
  headers.authorization = cosAuthorization({ secretId: c.policy.accessKey, secretKey: c.policy.secretKey, method: c.method,
    path: `/${c.key}`, params, headers: signable(headers), start: now, end: now + CALL_SIGNATURE_S });
  return { label: `COS ${c.what}`, method: c.method, url, headers, body: c.body };
}

function presign(policy: PolicyRow, method: string, key: string, params: Record<string, string>, headers: Record<string, string>, end: number): string {
  return cosPresignUrl(objectUrl(policy, key), { secretId: policy.accessKey, secretKey: policy.secretKey, method, params, headers,
    start: Math.floor(Date.now() / 1000), end });
}

// ----------------------------------------------------------------------------------------------------------- driver

export const cosDriver: CloudDriver = {
  type: 'cos',
  defaultChunkSize: 25 * 1024 * 1024,

  async token(input: TokenInput): Promise<TokenResult> {
    const { policy, key } = input;
    const init = await exchange(request({ policy, method: 'POST', key, query: { uploads: '' }, what: 'InitiateMultipartUpload',
      headers: { 'Content-Type': input.mimeType || OCTET, 'x-cos-forbid-overwrite': 'true' } }), (s) => s === 200);
    const uploadId = xmlField(init.text, 'UploadId');
    if (!uploadId) throw failed('COS InitiateMultipartUpload', 'the answer has no UploadId');

    const uploadUrls = partSizes(input.size, input.chunkSize).map((length, i) => presign(policy, 'PUT', key,
      { partNumber: String(i + 1), uploadId }, { 'Content-Type': OCTET, 'Content-Length': String(length) }, input.expires));
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

  ...objectCalls('COS', request, (uploadId) => ({ uploadId })),

  async head(policy: PolicyRow, key: string): Promise<number | undefined> {
    const r = await exchange(request({ policy, method: 'HEAD', key, what: 'HeadObject' }), (s) => s === 200 || s === 404);
    if (r.status === 404) return undefined;
    const n = Number(r.headers.get('content-length'));
    if (r.headers.get('content-length') === null || !Number.isSafeInteger(n) || n < 0) {
      throw failed('COS HeadObject', 'the answer has no Content-Length');
    }
    return n;
  },

  sourceUrl(policy: PolicyRow, key: string, o: { name: string; download: boolean; expires: number }): string {
    // A public bucket needs no signature, and takes no response header override.
    if (!policy.isPrivate) return objectUrl(policy, key);
    const params: Record<string, string> = {};
    if (o.download) params['response-content-disposition'] = attachment(o.name);
    return presign(policy, 'GET', key, params, {}, o.expires);
  },
};
