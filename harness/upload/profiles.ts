// Capability profiles: what each storage policy flow supports and promises, so ONE behavioural suite runs against
// every policy and each test asks the profile instead of hard-coding a policy (tus-node-server's shared store tests).
// Sources: research/cloudreve-upload-semantics.md §4, §7 (finish per policy) and the recorded 4.18.0 traffic.
import type { PolicyType } from '../config.js';

export interface CapabilityProfile {
  policy: PolicyType;
  /** The Cloudreve policy type the admin API creates for it (relay is an S3 policy with relay on). */
  policyType: string;
  /** Where chunks go. */
  chunkEndpoint: 'master' | 'slave' | 'provider';
  /** How an upload finishes: with the last chunk (local, remote, relay), or the client's complete then Cloudreve's
   * callback (s3, ks3, cos, onedrive), or the provider's own callback (oss, obs, qiniu; upyun's notify). */
  finish: 'last-chunk' | 'client-complete-callback' | 'provider-callback';
  /** Chunks may arrive in any order; the upload finishes when all have (4.18.0 master rule). */
  outOfOrderChunks: boolean;
  /** Whether the server checks each chunk's length and index itself (the provider does for cloud flows). */
  serverChecksChunks: boolean;
  /** What DELETE /file/upload must undo. */
  cancelUndoes: readonly ('session' | 'placeholder' | 'quota' | 'provider-upload')[];
  /** The session carries upload_urls (remote, cloud). */
  hasUploadUrls: boolean;
  /** How many upload URLs a session carries: none (master), one (slave, qiniu base, onedrive session, upyun form),
   * or one presigned URL per part (s3, ks3, oss, cos, obs), plus `completeURL` for those. */
  uploadUrls: 'none' | 'one' | 'per-part';
  /**
   * What a finish of an object of the wrong size answers (research §7): the client's callback with an envelope
   * (`{status, code}`: s3/ks3/cos 400/40055, onedrive 200/40055), `provider` — the provider's callback is refused by
   * Cloudreve and the provider reports the failure to the client (oss) — or `unchecked` (obs, qiniu, upyun, and the
   * master-side flows, where each chunk's length is checked instead).
   */
  sizeMismatch: { status: number; code: number } | 'provider' | 'unchecked';
  /** The whole file is one request whatever its size (relay: chunk 0 to the master; upyun: one form POST). */
  singleChunk: boolean;
  /**
   * Who runs the provider side: `none` (local, remote), `all` — the harness runs the provider's emulator on loopback
   * and points a policy at it, for any target that reaches 127.0.0.1 — or `reference` — the embedded reference target
   * only (a real Cloudreve contacts these providers' fixed hosts when a session is created).
   */
  providerWorld: 'none' | 'all' | 'reference';
  /** How to make the target offer this policy, for the skip reason. */
  howToEnable: string;
}

const MASTER = { chunkEndpoint: 'master', finish: 'last-chunk', serverChecksChunks: true,
  cancelUndoes: ['session', 'placeholder', 'quota'], hasUploadUrls: false, uploadUrls: 'none', sizeMismatch: 'unchecked' } as const;
const PROVIDER = { chunkEndpoint: 'provider', serverChecksChunks: false, hasUploadUrls: true, uploadUrls: 'per-part',
  cancelUndoes: ['session', 'placeholder', 'quota', 'provider-upload'] } as const;
const HEAD_CHECKED = { sizeMismatch: { status: 400, code: 40055 } } as const;
const emulated = (name: string, type: string) =>
  `an admin identity: the harness runs a ${name} emulator on loopback and creates a ${type} policy pointing at it (the target must reach 127.0.0.1)`;
const referenceOnly = (name: string) =>
  `the embedded reference target: a real Cloudreve contacts ${name}'s fixed hosts when a session is created, so it cannot be pointed at the loopback emulator`;

export const PROFILES: Record<PolicyType, CapabilityProfile> = {
  local: { policy: 'local', policyType: 'local', ...MASTER, outOfOrderChunks: true, singleChunk: false, providerWorld: 'none',
    howToEnable: 'every Cloudreve has the default local policy' },
  remote: { policy: 'remote', policyType: 'remote', ...MASTER, chunkEndpoint: 'slave', outOfOrderChunks: true, hasUploadUrls: true, uploadUrls: 'one',
    singleChunk: false, providerWorld: 'none',
    howToEnable: 'run a Cloudreve slave node and give an admin identity (the harness registers the node and a remote policy)' },
  relay: { policy: 'relay', policyType: 's3', ...MASTER, outOfOrderChunks: false, singleChunk: true, providerWorld: 'all',
    howToEnable: emulated('S3', 'S3 (relay on)') },
  s3: { policy: 's3', policyType: 's3', ...PROVIDER, ...HEAD_CHECKED, finish: 'client-complete-callback', outOfOrderChunks: true, singleChunk: false,
    providerWorld: 'all', howToEnable: emulated('S3', 's3') },
  ks3: { policy: 'ks3', policyType: 'ks3', ...PROVIDER, ...HEAD_CHECKED, finish: 'client-complete-callback', outOfOrderChunks: true, singleChunk: false,
    providerWorld: 'all', howToEnable: emulated('KS3', 'ks3') },
  oss: { policy: 'oss', policyType: 'oss', ...PROVIDER, sizeMismatch: 'provider', finish: 'provider-callback', outOfOrderChunks: true, singleChunk: false,
    providerWorld: 'all', howToEnable: emulated('OSS', 'oss') },
  cos: { policy: 'cos', policyType: 'cos', ...PROVIDER, ...HEAD_CHECKED, finish: 'client-complete-callback', outOfOrderChunks: true, singleChunk: false,
    providerWorld: 'all', howToEnable: emulated('COS', 'cos') },
  obs: { policy: 'obs', policyType: 'obs', ...PROVIDER, sizeMismatch: 'unchecked', finish: 'provider-callback', outOfOrderChunks: true, singleChunk: false,
    providerWorld: 'all', howToEnable: emulated('OBS', 'obs') },
  onedrive: { policy: 'onedrive', policyType: 'onedrive', ...PROVIDER, uploadUrls: 'one', sizeMismatch: { status: 200, code: 40055 }, finish: 'client-complete-callback', outOfOrderChunks: false,
    singleChunk: false, providerWorld: 'reference', howToEnable: referenceOnly('OneDrive (Microsoft Graph)') },
  qiniu: { policy: 'qiniu', policyType: 'qiniu', ...PROVIDER, uploadUrls: 'one', sizeMismatch: 'unchecked', finish: 'provider-callback', outOfOrderChunks: true, singleChunk: false,
    providerWorld: 'reference', howToEnable: referenceOnly('Qiniu') },
  upyun: { policy: 'upyun', policyType: 'upyun', ...PROVIDER, uploadUrls: 'one', sizeMismatch: 'unchecked', cancelUndoes: ['session', 'placeholder', 'quota'],
    finish: 'provider-callback', outOfOrderChunks: false, singleChunk: true, providerWorld: 'reference', howToEnable: referenceOnly('Upyun') },
};
