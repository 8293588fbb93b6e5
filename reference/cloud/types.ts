// The reference target's cloud storage policy drivers (pkg/filemanager/driver/{s3,ks3,obs,oss,cos,onedrive,qiniu,upyun}
// re-implemented): each talks to its provider over HTTP on the provider's own wire format, at the policy's `server`
// (the harness points it at a provider emulator on loopback), signing what the provider requires. One driver per
// policy type; the upload routes (routes/upload.ts, routes/callback-cloud.ts) and the blob layer (storage.ts) call them.
import type { Readable } from 'node:stream';
import type { PolicyRow, UploadSession } from '../state.js';

/** Policy types that store on a cloud provider. */
export const CLOUD_TYPES = ['s3', 'ks3', 'obs', 'oss', 'cos', 'onedrive', 'qiniu', 'upyun'] as const;
export type CloudType = (typeof CLOUD_TYPES)[number];

export function isCloudType(t: string): t is CloudType {
  return (CLOUD_TYPES as readonly string[]).includes(t);
}

export interface TokenInput {
  policy: PolicyRow;
  session: UploadSession;
  /** Object key (path inside the bucket) the entity is stored under. */
  key: string;
  /** Declared size, bytes. */
  size: number;
  /** The session's chunk size (the policy's, or the type's default when the policy says 0). */
  chunkSize: number;
  /** Unix seconds the session (and every URL and credential handed out for it) expires. */
  expires: number;
  /** Absolute URL of this session's callback route: `<siteURL>/api/v4/callback/<type>/<sid>/<secret>`. */
  callbackUrl: string;
  mimeType?: string;
  /** File name as uploaded (the last URI segment). */
  fileName: string;
}

/**
 * What a driver's Token adds to the create-session answer (upload_id, upload_urls, completeURL, credential,
 * upload_policy, mime_type, …: the contract's UploadSession fields for that policy type), and the provider-side state the
 * session keeps (upload id, OneDrive upload URL, …) for the callback and the cancel.
 */
export interface TokenResult {
  answer: Record<string, unknown>;
  state?: Record<string, string>;
}

/** What reached the callback route: the raw request, its body read whole (providers sign it). */
export interface CallbackRequest {
  method: string;
  /** Path and query as sent, e.g. /api/v4/callback/oss/<sid>/<key>?x=1 */
  rawUrl: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * A refusal of a callback with the provider-facing answer Cloudreve gives: an envelope (`code`, HTTP status), or a bare
 * `{"error": msg}` object (OSS and Qiniu checks) when `bare` is set.
 */
export class CallbackRejected extends Error {
  constructor(readonly status: number, readonly code: number, msg: string, readonly bare = false) { super(msg); }
}

export interface CloudDriver {
  readonly type: CloudType;
  /** Default chunk size when the policy's is 0 (s3 family 25 MiB, onedrive 50 MiB, upyun 0). */
  readonly defaultChunkSize: number;
  /** Token: sets up the provider side of a new upload session (multipart upload, upload session, token). */
  token(input: TokenInput): Promise<TokenResult>;
  /**
   * The policy-specific checks of the callback route, after the shared ones (session, secret, type, owner):
   * resolves when the upload may complete, throws CallbackRejected (or AppError) when not. The session is kept on
   * failure.
   */
  verifyCallback(policy: PolicyRow, session: UploadSession, req: CallbackRequest): Promise<void>;
  /** CancelToken: DELETE /file/upload of a live session (abort the multipart upload, delete the upload session). */
  cancel(policy: PolicyRow, session: UploadSession): Promise<void>;
  /** Stores a whole object (relay uploads, PUT /file/content), streamed. */
  put(policy: PolicyRow, key: string, body: Readable, length: number, mimeType?: string): Promise<void>;
  /** Reads an object (downloads through the master), optionally a byte range (inclusive end). Undefined: missing. */
  get(policy: PolicyRow, key: string, range?: { start: number; end: number }): Promise<Readable | undefined>;
  /** The object's size, or undefined when it does not exist. */
  head(policy: PolicyRow, key: string): Promise<number | undefined>;
  /** Deletes an object (best effort on the caller's side). */
  remove(policy: PolicyRow, key: string): Promise<void>;
  /**
   * A download URL on the provider itself (a presigned GET), as Cloudreve's driver Source gives; undefined: the file is
   * served through the master's content route.
   */
  sourceUrl?(policy: PolicyRow, key: string, o: { name: string; download: boolean; expires: number }): string | undefined;
}
