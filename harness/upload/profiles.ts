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
  /** How an upload finishes: with the last chunk (local, remote, relay, upyun), or the client's complete then
   * Cloudreve's callback (s3, ks3, cos, onedrive), or the provider's own callback (oss, obs, qiniu). */
  finish: 'last-chunk' | 'client-complete-callback' | 'provider-callback';
  /** Chunks may arrive in any order; the upload finishes when all have (4.18.0 master rule). */
  outOfOrderChunks: boolean;
  /** Whether the server checks each chunk's length and index itself (the provider does for cloud flows). */
  serverChecksChunks: boolean;
  /** What DELETE /file/upload must undo. */
  cancelUndoes: ('session' | 'placeholder' | 'quota' | 'provider-upload')[];
  /** Smallest chunk size the policy accepts (S3's 5 MiB part minimum); the suite's small chunk otherwise. */
  minChunkSize: number;
  /** The session carries upload_urls (remote, cloud). */
  hasUploadUrls: boolean;
  /** Available in the embedded reference target today. */
  emulated: boolean;
  /** How to make the target offer this policy, for the skip reason. */
  howToEnable: string;
}

const SMALL = 1024;
const S3_MIN = 5 * 1024 * 1024;

export const PROFILES: Record<PolicyType, CapabilityProfile> = {
  local: { policy: 'local', policyType: 'local', chunkEndpoint: 'master', finish: 'last-chunk', outOfOrderChunks: true,
    serverChecksChunks: true, cancelUndoes: ['session', 'placeholder', 'quota'], minChunkSize: SMALL, hasUploadUrls: false,
    emulated: true, howToEnable: 'every Cloudreve has the default local policy' },
  remote: { policy: 'remote', policyType: 'remote', chunkEndpoint: 'slave', finish: 'last-chunk', outOfOrderChunks: true,
    serverChecksChunks: true, cancelUndoes: ['session', 'placeholder', 'quota'], minChunkSize: SMALL, hasUploadUrls: true,
    emulated: true, howToEnable: 'run a Cloudreve slave node and give an admin identity (the harness registers the node and a remote policy)' },
  relay: { policy: 'relay', policyType: 's3', chunkEndpoint: 'master', finish: 'last-chunk', outOfOrderChunks: false,
    serverChecksChunks: true, cancelUndoes: ['session', 'placeholder', 'quota'], minChunkSize: 0, hasUploadUrls: false,
    emulated: false, howToEnable: 'an S3 endpoint and an admin identity (the harness creates an S3 policy with relay on)' },
  s3: { policy: 's3', policyType: 's3', chunkEndpoint: 'provider', finish: 'client-complete-callback', outOfOrderChunks: true,
    serverChecksChunks: false, cancelUndoes: ['session', 'placeholder', 'quota', 'provider-upload'], minChunkSize: S3_MIN,
    hasUploadUrls: true, emulated: false, howToEnable: 'an S3 endpoint and an admin identity' },
  ks3: { policy: 'ks3', policyType: 'ks3', chunkEndpoint: 'provider', finish: 'client-complete-callback', outOfOrderChunks: true,
    serverChecksChunks: false, cancelUndoes: ['session', 'placeholder', 'quota', 'provider-upload'], minChunkSize: S3_MIN,
    hasUploadUrls: true, emulated: false, howToEnable: 'a KS3 (or S3-compatible) endpoint and an admin identity' },
  oss: { policy: 'oss', policyType: 'oss', chunkEndpoint: 'provider', finish: 'provider-callback', outOfOrderChunks: true,
    serverChecksChunks: false, cancelUndoes: ['session', 'placeholder', 'quota', 'provider-upload'], minChunkSize: 100 * 1024,
    hasUploadUrls: true, emulated: false, howToEnable: 'an OSS endpoint and an admin identity' },
  cos: { policy: 'cos', policyType: 'cos', chunkEndpoint: 'provider', finish: 'client-complete-callback', outOfOrderChunks: true,
    serverChecksChunks: false, cancelUndoes: ['session', 'placeholder', 'quota', 'provider-upload'], minChunkSize: 1024 * 1024,
    hasUploadUrls: true, emulated: false, howToEnable: 'a COS endpoint and an admin identity' },
  obs: { policy: 'obs', policyType: 'obs', chunkEndpoint: 'provider', finish: 'provider-callback', outOfOrderChunks: true,
    serverChecksChunks: false, cancelUndoes: ['session', 'placeholder', 'quota', 'provider-upload'], minChunkSize: 100 * 1024,
    hasUploadUrls: true, emulated: false, howToEnable: 'an OBS (or S3-compatible) endpoint and an admin identity' },
  onedrive: { policy: 'onedrive', policyType: 'onedrive', chunkEndpoint: 'provider', finish: 'client-complete-callback',
    outOfOrderChunks: false, serverChecksChunks: false, cancelUndoes: ['session', 'placeholder', 'quota', 'provider-upload'],
    minChunkSize: 320 * 1024, hasUploadUrls: true, emulated: false, howToEnable: 'a OneDrive account and an admin identity' },
  qiniu: { policy: 'qiniu', policyType: 'qiniu', chunkEndpoint: 'provider', finish: 'provider-callback', outOfOrderChunks: true,
    serverChecksChunks: false, cancelUndoes: ['session', 'placeholder', 'quota', 'provider-upload'], minChunkSize: 1024 * 1024,
    hasUploadUrls: true, emulated: false, howToEnable: 'a Qiniu account and an admin identity' },
  upyun: { policy: 'upyun', policyType: 'upyun', chunkEndpoint: 'provider', finish: 'last-chunk', outOfOrderChunks: false,
    serverChecksChunks: false, cancelUndoes: ['session', 'placeholder', 'quota'], minChunkSize: 1024 * 1024,
    hasUploadUrls: true, emulated: false, howToEnable: 'an Upyun account and an admin identity' },
};
