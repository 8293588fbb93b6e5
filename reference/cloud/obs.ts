// The Huawei OBS storage policy driver of the reference target (Cloudreve 4.18.0 pkg/filemanager/driver/obs/obs.go
// re-implemented on the S3-family core of s3.ts; research cloud-endpoints.md §3, cloudreve-upload-semantics.md §7).
//
// What differs from s3: the Go OBS SDK signs with the OBS signature (AccessKeyId/Expires/Signature, `OBS AK:sig`) on a
// domain endpoint, virtual-hosted; given an IP endpoint it goes path style and falls back to the AWS-compatible V2
// signature (AWSAccessKeyId/Expires/Signature, `AWS AK:sig`) — what the recorded 4.18.0 session against a loopback
// endpoint shows. Part and complete URLs sign Content-Type application/octet-stream. The complete URL carries the
// callback policy in its `x-obs-callback` query parameter (base64 of {callbackUrl, callbackBody, callbackBodyType}):
// OBS posts `{"name":<key>,"source_name":<file name>,"size":<size>}` to Cloudreve's /callback/obs/<sid>/<secret> once
// the multipart upload is complete and relays Cloudreve's answer to the client. The callback route checks nothing
// beyond the session and the secret (no signature, no HEAD, no size).
import type { PolicyRow } from '../state.js';
import { OBS_SIGNATURE, OBS_V2_SIGNATURE } from '../../harness/cloud/obs.js';
import { isIpEndpoint, pathStyleAddress, s3FamilyDriver, v2Auth, virtualHostedAddress } from './s3.js';
import { OCTET } from './http.js';
import type { CloudDriver } from './types.js';

const OBS_AUTH = v2Auth(OBS_SIGNATURE);
const OBS_V2_AUTH = v2Auth(OBS_V2_SIGNATURE);

/** Cloudreve's OBS callback body template (OBS renders ${key}, ${fname}, ${size}; strings as JSON strings). */
export const OBS_CALLBACK_BODY = '{"name":${key},"source_name":${fname},"size":${size}}';

/** The `x-obs-callback` value: base64 of the JSON policy, keys in the order Go's json.Marshal writes them. */
export function obsCallbackParam(callbackUrl: string): string {
  const policy = { callbackUrl, callbackBody: OBS_CALLBACK_BODY, callbackBodyType: 'application/json' };
  // Go's encoding/json escapes <, > and & in strings; JSON.stringify does not.
  const json = JSON.stringify(policy).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  return Buffer.from(json, 'utf8').toString('base64');
}

export const obsDriver: CloudDriver = s3FamilyDriver({
  type: 'obs', name: 'OBS',
  address: (policy: PolicyRow, key: string) => (isIpEndpoint(policy) ? pathStyleAddress(policy, key) : virtualHostedAddress(policy, key)),
  auth: (policy: PolicyRow) => (isIpEndpoint(policy) ? OBS_V2_AUTH : OBS_AUTH),
  partHeaders: () => ({ 'content-type': OCTET }),
  completeHeaders: { 'content-type': OCTET },
  completeQuery: (input) => [['x-obs-callback', obsCallbackParam(input.callbackUrl)]],
  callbackChecksSize: false,
});
