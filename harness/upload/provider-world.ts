// The provider side of a cloud policy project: the harness starts the provider's emulator on a loopback port in the
// worker, provisions a storage policy of that type pointing at it (through the admin API, so a real Cloudreve can be
// pointed there as well as the embedded reference target), and looks into the emulator to check what the target did
// at the provider (a multipart upload aborted by a cancel, an object left behind). Each provider's world is in
// worlds/<provider>.ts.
import type { UploadSession } from './driver.js';

export type CloudPolicy = 's3' | 'ks3' | 'obs' | 'oss' | 'cos' | 'onedrive' | 'qiniu' | 'upyun' | 'relay';

/** Fields of `PUT /admin/policy` that point a policy at the emulator (the provisioner adds name, type, rules, chunk size). */
export interface ProviderPolicyFields {
  server: string;
  bucket_name: string;
  access_key: string;
  secret_key: string;
  /** Policy settings (region, s3_path_style, relay, …); chunk_size is set by the provisioner. */
  settings: Record<string, unknown>;
}

export interface StoredObject { key: string; size: number }

export interface ProviderWorld {
  policy: CloudPolicy;
  /** Base URL of the emulator's loopback mount. */
  url: string;
  policyFields: ProviderPolicyFields;
  /** Chunk (part) size the suite uses with this provider: at least the emulator's enforced part minimum. */
  chunkSize: number;
  /**
   * Whether the provider-side upload of this Cloudreve session (its multipart upload, OneDrive upload session, Qiniu
   * upload) is still open at the provider; undefined where the flow has no provider-side upload state (upyun, relay).
   */
  uploadOpen(session: UploadSession): boolean | undefined;
  /** Every object stored at the provider (in the policy's bucket). */
  objects(): StoredObject[];
  /** Secrets of the world (keys, passwords, tokens), registered for redaction by the caller. */
  secrets: string[];
  close(): Promise<void>;
}

export interface WorldOptions {
  /** Base URL at which the target's callback routes are reachable from the emulator (OSS, OBS, Qiniu, Upyun call it). */
  targetUrl: string;
  /** A name unique to this run and worker (bucket names are derived from it). */
  runTag: string;
  /**
   * Part size instead of the world's small default. The fixture asks 5 MiB of a live target: a real Cloudreve's own
   * uploads to the provider (PUT /file/content, relay) go through its SDK's multipart uploader, which refuses parts
   * under 5 MiB before sending a byte.
   */
  partSize?: number;
}

export type ProviderWorldFactory = (o: WorldOptions) => Promise<ProviderWorld>;
