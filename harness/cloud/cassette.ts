// Cassettes: a cloud driver run recorded on the wire (nock's recorder), normalised and redacted, written to
// fixtures/cassettes/<provider>/<scenario>.json — against a live provider account (a maintainer's `npm run
// record-cassette`) or against the loopback emulators (the committed ones, until live ones exist). Replaying a
// cassette sends its provider requests again, offline, to the current emulator (mounted with nock on the recorded
// origins) and compares each answer with the recorded one: HTTP status, the provider's error code, the body's shape
// (XML element paths / JSON key paths), ETag presence and media type. A difference fails: the emulators cannot drift
// away from what a provider answered.
//
// What replay relaxes, and only that: values the recording redacted or that are bound to the recording's moment —
//   * signatures, access keys, credentials, security tokens and signing times of URLs and Authorization headers:
//     replay re-signs each request with the emulator's own keys, with the scheme the recording used (SigV4 query or
//     header, V2 query or header, COS q-sign, OSS V1/V4, Qiniu UpToken, Upyun form signature, Graph bearer);
//   * callback policies (OSS `callback=`, OBS `x-obs-callback=`, Qiniu put policy, Upyun notify-url): kept decoded (and
//     redacted) in the cassette, re-encoded at replay with the callback URL pointing at a local stand-in for Cloudreve;
//   * provider-generated identifiers (multipart upload ids, OneDrive upload URLs): learnt from the replayed initiate
//     answer and substituted in the later requests.
// Everything else — method, path, other query parameters, headers, bodies — is sent as recorded (replay checks it).
//
// Recording: nock.recorder.rec({output_objects, dont_print, enable_reqheaders_recording}) around issueSession (Cloudreve's
// server side: initiate, presign — role "server"), the scenario's driver run (role "client"; its Cloudreve callback,
// role "cloudreve") and scenario extras (S3 abort, "server"). Bodies that are pieces of the run's deterministic payload
// are stored as references to it, not as bytes. Emulator recordings name fixed origins (EMULATOR_ORIGINS,
// CLOUDREVE_ORIGIN) instead of their ephemeral ports. Two nock 14 recorder limits are worked around: server-side calls go
// through node:http (its fetch path rebuilds every answer with `new Response`, which throws for a 204), and answers
// with a status beyond 599 (Qiniu's 612, 614) travel through replay's nock mount as 599 plus a header.
import { createHash, randomUUID } from 'node:crypto';
import http, { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import nock from 'nock';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { registerSecret, redact } from '../secrets.js';
import { createCloudreveClient, type CloudreveClient } from '../client/index.js';
import { validatingFetch } from '../contract/transport.js';
import { CollectingSink } from '../contract/violations.js';
import type { UploadSession } from '../upload/driver.js';
import { Payload } from '../upload/payload.js';
import type { ChunkPlan } from '../upload/plan.js';
import { CLOUD_DRIVERS_VERSION, cloudDriver, readProviderAnswer, timedFetch, uploadWithDriver, type CloudUploadDriver,
  type ProviderFetch } from '../upload/cloud-drivers.js';
import { decodeNockBody, mountLoopback, mountNock, type LoopbackMount, type ProviderEmulator } from './mount.js';
import { S3Emulator } from './s3.js';
import { CosEmulator } from './cos.js';
import { OssEmulator } from './oss.js';
import { ObsEmulator, OBS_SIGNATURE, OBS_V2_SIGNATURE } from './obs.js';
import { QiniuEmulator } from './qiniu.js';
import { UpyunEmulator } from './upyun.js';
import { OneDriveEmulator } from './onedrive.js';
import { awsUriEncode, EMPTY_SHA256, queryBag, s3CanonicalUri, splitRawQuery } from './s3-sigv4.js';
import { hmacSha1Base64, presignV2, v2CanonicalHeaders, v2CanonicalResource, v2StringToSign, type V2Flavor } from './s3-v2sign.js';
import { cosAuthorization, cosPresignUrl } from './cos-sign.js';
import { ossPresignV1, ossPresignV4, ossV1CanonicalResource, ossV1Signature, ossV1StringToSign, parseRawQuery, type QueryPair } from './oss-sign.js';
import { b64url, fromB64url, qiniuUploadToken, type QiniuPutPolicy } from './qiniu-sign.js';
import { upyunFormCredentials } from './upyun-sign.js';

export const CASSETTE_FORMAT = 'cloudreve-conformance/cassette@1';
/** fixtures/cassettes of this checkout, whatever the working directory. */
export const CASSETTE_DIR = relative(process.cwd(), fileURLToPath(new URL('../../fixtures/cassettes', import.meta.url))) || '.';
const REDACTED = '<redacted>';

export type CassetteProvider = 's3' | 'cos' | 'oss' | 'obs' | 'qiniu' | 'upyun' | 'onedrive';
export const CASSETTE_PROVIDERS: readonly CassetteProvider[] = ['s3', 'cos', 'oss', 'obs', 'qiniu', 'upyun', 'onedrive'];
/** Flows in which the provider calls Cloudreve back itself. */
const PROVIDER_CALLBACK_FLOWS: readonly CassetteProvider[] = ['oss', 'obs', 'qiniu', 'upyun'];

// ---- accounts and emulators ----------------------------------------------------------------------------------------------

/** A provider account (live) or an emulator's (loopback). */
export interface ProviderAccount {
  provider: CassetteProvider;
  /**
   * s3, oss, obs: the service endpoint (https://s3.us-east-1.amazonaws.com, https://oss-cn-hangzhou.aliyuncs.com,
   * https://obs.cn-north-4.myhuaweicloud.com, or an IP endpoint: path style); cos: the bucket URL
   * (https://<bucket>-<appid>.cos.<region>.myqcloud.com); qiniu: the upload host; upyun: the form API origin
   * (https://v0.api.upyun.com); onedrive: the drive URL (https://graph.microsoft.com/v1.0/me/drive).
   */
  endpoint: string;
  /** Bucket (onedrive: the root folder uploads go to). */
  bucket: string;
  region?: string;
  /** Access key id (upyun: operator; onedrive: unused). */
  accessKey: string;
  /** Secret key (upyun: operator password; onedrive: a Graph access token). */
  secretKey: string;
  /** s3: path-style addressing on a domain endpoint (IP endpoints always are). */
  pathStyle?: boolean;
}

/** The keys the emulators are started with, for emulator recordings and for every replay. */
export const EMULATOR_ACCOUNTS: Record<CassetteProvider, Omit<ProviderAccount, 'endpoint'>> = {
  s3: { provider: 's3', bucket: 'cr-cassette', region: 'us-east-1', accessKey: 'CRCASSETTES3AK', secretKey: 'cassette/s3+Secret0Key==' },
  cos: { provider: 'cos', bucket: 'crcassette-1250000000', region: 'ap-guangzhou', accessKey: 'AKIDcassetteCosId', secretKey: 'cassette-cos-SecretKey' },
  oss: { provider: 'oss', bucket: 'cr-cassette', region: 'cn-hangzhou', accessKey: 'LTAIcassetteOssAk', secretKey: 'cassette-oss-SecretKey' },
  obs: { provider: 'obs', bucket: 'cr-cassette', region: 'cn-north-4', accessKey: 'CRCASSETTEOBSAK', secretKey: 'cassette-obs-SecretKey' },
  qiniu: { provider: 'qiniu', bucket: 'cr-cassette', accessKey: 'cassette-qiniu-AccessKey', secretKey: 'cassette-qiniu-SecretKey' },
  upyun: { provider: 'upyun', bucket: 'cr-cassette', accessKey: 'cassetteoperator', secretKey: 'cassette-upyun-Password' },
  onedrive: { provider: 'onedrive', bucket: 'Cloudreve', accessKey: '', secretKey: 'cassette-onedrive-AccessToken' },
};

/** The emulator for an account (its keys, bucket and region); a cassette replays against exactly this. */
export function emulatorFor(a: Omit<ProviderAccount, 'endpoint'>): ProviderEmulator & { flush?: () => Promise<void> } {
  switch (a.provider) {
    case 's3': return new S3Emulator({ credentials: { accessKeyId: a.accessKey, secretAccessKey: a.secretKey }, buckets: [a.bucket], region: a.region });
    case 'cos': return new CosEmulator({ secretId: a.accessKey, secretKey: a.secretKey, bucket: a.bucket, region: a.region });
    case 'oss': return new OssEmulator({ accessKeyId: a.accessKey, accessKeySecret: a.secretKey, buckets: [a.bucket], region: a.region });
    case 'obs': return new ObsEmulator({ credentials: { accessKeyId: a.accessKey, secretAccessKey: a.secretKey }, buckets: [a.bucket] });
    case 'qiniu': return new QiniuEmulator({ accessKey: a.accessKey, secretKey: a.secretKey, buckets: [a.bucket] });
    case 'upyun': return new UpyunEmulator({ operator: a.accessKey, password: a.secretKey, buckets: [a.bucket] });
    case 'onedrive': return new OneDriveEmulator({ accessToken: a.secretKey });
  }
}

/** The endpoint an account has when its emulator is mounted at `origin`. */
export function emulatorEndpoint(provider: CassetteProvider, origin: string): string {
  return provider === 'onedrive' ? `${origin}/v1.0/me/drive` : origin;
}

const isIpHost = (host: string) => /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':') || host === 'localhost';
const encodePath = (key: string, enc: (s: string) => string = encodeURIComponent) => key.split('/').map(enc).join('/');

/** Object URL (path style on IP endpoints or when asked, else virtual-hosted). */
function objectUrl(a: ProviderAccount, key: string, enc?: (s: string) => string): { url: string; canonicalPath: string; pathStyle: boolean } {
  const e = new URL(a.endpoint);
  const path = encodePath(key, enc);
  const pathStyle = a.pathStyle || isIpHost(e.hostname);
  const url = pathStyle ? `${e.origin}/${a.bucket}/${path}` : `${e.protocol}//${a.bucket}.${e.host}/${path}`;
  return { url, canonicalPath: `/${a.bucket}/${path}`, pathStyle };
}

// ---- signing (what Cloudreve's policy drivers do server-side, and what replay redoes) ----------------------------------

function sigv4(a: Pick<ProviderAccount, 'accessKey' | 'secretKey' | 'region'>): SignatureV4 {
  return new SignatureV4({ service: 's3', region: a.region ?? 'us-east-1', credentials: { accessKeyId: a.accessKey, secretAccessKey: a.secretKey },
    sha256: Sha256, uriEscapePath: false, applyChecksum: false });
}

/**
 * A SigV4 presigned URL as aws-sdk-go v1 makes Cloudreve's: UNSIGNED-PAYLOAD, `content-length;host` signed on parts,
 * `host` on the complete URL, parameters sorted, X-Amz-Signature last.
 */
export async function presignSigV4(a: Pick<ProviderAccount, 'accessKey' | 'secretKey' | 'region'>, method: string, url: string,
  o: { signedHeaders: string[]; headers?: Record<string, string>; expiresIn: number; now?: number }): Promise<string> {
  const u = new URL(url);
  const query = splitRawQuery(u.search).filter(([k]) => !k.startsWith('X-Amz-'));
  const headers: Record<string, string> = { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  for (const h of o.signedHeaders) if (h !== 'host') headers[h] = o.headers?.[h] ?? '';
  const presigned = await sigv4(a).presign({ method, protocol: 'https:', hostname: u.host, path: s3CanonicalUri(u.pathname), query: queryBag(query), headers },
    { signingDate: new Date(Math.floor((o.now ?? Date.now()) / 1000) * 1000), expiresIn: o.expiresIn, signableHeaders: new Set(o.signedHeaders),
      unsignableHeaders: new Set(['x-amz-content-sha256']), unhoistableHeaders: new Set([...o.signedHeaders, 'x-amz-content-sha256']) });
  const amz = Object.entries(presigned.query ?? {}).filter(([k]) => k.startsWith('X-Amz-')).map(([k, v]) => [k, String(v)] as [string, string]);
  const signature = amz.find(([k]) => k === 'X-Amz-Signature');
  const all = [...query, ...amz.filter(([k]) => k !== 'X-Amz-Signature')].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  if (signature) all.push(signature);
  u.search = all.map(([k, v]) => `${awsUriEncode(k, false)}=${awsUriEncode(v, false)}`).join('&');
  return u.toString();
}

/** SigV4 Authorization header (host, x-amz-content-sha256, x-amz-date signed), as the Go SDK signs server calls. */
export async function signSigV4Header(a: Pick<ProviderAccount, 'accessKey' | 'secretKey' | 'region'>, method: string, url: string,
  payloadHash = EMPTY_SHA256, now = Date.now()): Promise<Record<string, string>> {
  const u = new URL(url);
  const signed = await sigv4(a).sign({ method, protocol: 'https:', hostname: u.host, path: s3CanonicalUri(u.pathname),
    query: queryBag(splitRawQuery(u.search)), headers: { host: u.host, 'x-amz-content-sha256': payloadHash } },
  { signingDate: new Date(Math.floor(now / 1000) * 1000) });
  const h = signed.headers as Record<string, string>;
  return { authorization: h.authorization!, 'x-amz-date': h['x-amz-date']!, 'x-amz-content-sha256': payloadHash };
}

/** V2 Authorization header (`<scheme> AK:base64(HMAC-SHA1)`, Date) of KS3 / OBS. */
function v2AuthorizationHeader(a: Pick<ProviderAccount, 'accessKey' | 'secretKey'>, flavor: V2Flavor, method: string, canonicalPath: string,
  query: [string, string][], headers: Record<string, string>, date: string): string {
  const sts = v2StringToSign({ method, contentMd5: headers['content-md5'] ?? '', contentType: headers['content-type'] ?? '', dateOrExpires: date,
    canonicalHeaders: v2CanonicalHeaders(headers, flavor.headerPrefixes), canonicalResource: v2CanonicalResource(canonicalPath, query, flavor.subresourceRules[0]!) });
  return `${flavor.authSchemes[0]} ${a.accessKey}:${hmacSha1Base64(a.secretKey, sts)}`;
}

/** OSS V1 Authorization header (`OSS AK:sig`) with x-oss-date. */
function ossV1Header(a: Pick<ProviderAccount, 'accessKey' | 'secretKey'>, method: string, bucket: string, key: string, query: readonly QueryPair[],
  headers: Record<string, string>, now = Date.now()): Record<string, string> {
  const h: Record<string, string> = { ...headers, 'x-oss-date': new Date(now).toUTCString() };
  const sts = ossV1StringToSign({ method, contentMd5: h['content-md5'], contentType: h['content-type'], date: h['x-oss-date']!, headers: h,
    resource: ossV1CanonicalResource(bucket, key, query) });
  return { ...h, authorization: `OSS ${a.accessKey}:${ossV1Signature(a.secretKey, sts)}` };
}

// ---- issuing sessions (Cloudreve's Token, per policy type) ---------------------------------------------------------------

export interface IssueOptions {
  /** Object key (onedrive: path under the account's root folder). */
  key: string;
  size: number;
  chunkSize: number;
  /** Cloudreve's site URL as the provider should call it back (oss, obs, qiniu, upyun). */
  callbackBase: string;
  sessionId?: string;
  callbackSecret?: string;
  mimeType?: string;
  /** Lifetime of the signed URLs, seconds (default 3600). */
  expiresSeconds?: number;
  fetch?: ProviderFetch;
}

function callbackUrl(base: string, type: string, sid: string, secret: string): string {
  return `${base.replace(/\/+$/, '')}/api/v4/callback/${type}/${sid}/${secret}`;
}

function randomSecret(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(createHash('sha256').update(randomUUID()).digest()).map((b) => alphabet[b % alphabet.length]).join('');
}

async function expectOk(res: Response, what: string): Promise<string> {
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} ${redact(text.slice(0, 300))}`);
  return text;
}

/**
 * Plays Cloudreve's server side of `PUT /file/upload` for a cloud policy against a provider account: the provider
 * calls Cloudreve's policy driver makes (initiate the multipart upload, create the Graph upload session), the URLs and
 * credentials its Token() signs, and the UploadSession the client receives. Shapes: 4.18.0 (the recorded sessions in
 * fixtures/transcripts/cloudreve-4.18.0-policies/, research/cloudreve-client-upload-flows.md §2).
 */
export async function issueSession(a: ProviderAccount, o: IssueOptions): Promise<UploadSession> {
  const f = o.fetch ?? timedFetch(30_000);
  const sid = o.sessionId ?? randomUUID();
  const secret = o.callbackSecret ?? randomSecret();
  registerSecret(secret);
  const now = Date.now();
  const ttl = o.expiresSeconds ?? 3600;
  const mime = o.mimeType ?? 'application/octet-stream';
  const chunk = o.chunkSize > 0 ? o.chunkSize : Math.max(o.size, 1);
  const parts = o.chunkSize > 0 ? Math.max(1, Math.ceil(o.size / o.chunkSize)) : 1;
  const partLength = (i: number) => Math.max(0, Math.min(chunk, o.size - i * chunk));
  const name = o.key.split('/').pop() ?? 'file';
  const base: UploadSession = { session_id: sid, upload_id: '', chunk_size: o.chunkSize, expires: Math.floor(now / 1000) + 86400,
    uri: `cloudreve://my/${encodeURIComponent(name)}`, callback_secret: secret,
    storage_policy: { id: 'cassette', name: `cassette-${a.provider}`, type: a.provider, max_size: 0 } as UploadSession['storage_policy'] };

  switch (a.provider) {
    case 's3': {
      const { url } = objectUrl(a, o.key, (s) => awsUriEncode(s, false));
      const init = await signSigV4Header(a, 'POST', `${url}?uploads`);
      const text = await expectOk(await f(new Request(`${url}?uploads`, { method: 'POST', headers: { ...init, 'content-type': mime } })), 's3 CreateMultipartUpload');
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(text)?.[1];
      if (!uploadId) throw new Error('s3 CreateMultipartUpload: no UploadId');
      const upload_urls = await Promise.all(Array.from({ length: parts }, (_, i) => presignSigV4(a, 'PUT',
        `${url}?partNumber=${i + 1}&uploadId=${encodeURIComponent(uploadId)}`, { signedHeaders: ['content-length', 'host'], headers: { 'content-length': String(partLength(i)) }, expiresIn: ttl })));
      const completeURL = await presignSigV4(a, 'POST', `${url}?uploadId=${encodeURIComponent(uploadId)}`, { signedHeaders: ['host'], expiresIn: ttl });
      return { ...base, upload_id: uploadId, upload_urls, completeURL };
    }
    case 'cos': {
      const objUrl = `${a.endpoint.replace(/\/+$/, '')}/${encodePath(o.key)}`;
      const u = new URL(objUrl);
      const start = Math.floor(now / 1000);
      const cred = { secretId: a.accessKey, secretKey: a.secretKey, start, end: start + ttl };
      const auth = cosAuthorization({ ...cred, method: 'POST', path: decodeURIComponent(u.pathname), params: { uploads: '' }, headers: { host: u.host } });
      const text = await expectOk(await f(new Request(`${objUrl}?uploads`, { method: 'POST', headers: { authorization: auth, 'content-type': mime } })), 'cos InitiateMultipartUpload');
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(text)?.[1];
      if (!uploadId) throw new Error('cos InitiateMultipartUpload: no UploadId');
      const upload_urls = Array.from({ length: parts }, (_, i) => cosPresignUrl(objUrl, { ...cred, method: 'PUT', params: { partNumber: String(i + 1), uploadId },
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(partLength(i)) } }));
      const completeURL = cosPresignUrl(objUrl, { ...cred, method: 'POST', params: { uploadId }, headers: { 'x-cos-forbid-overwrite': 'true' } });
      return { ...base, upload_id: uploadId, upload_urls, completeURL };
    }
    case 'oss': {
      const { url } = objectUrl(a, o.key);
      const region = a.region ?? 'cn-hangzhou';
      const init = ossV1Header(a, 'POST', a.bucket, o.key, [['uploads', undefined]], { 'content-type': mime });
      const text = await expectOk(await f(new Request(`${url}?uploads`, { method: 'POST', headers: init })), 'oss InitiateMultipartUpload');
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(text)?.[1];
      if (!uploadId) throw new Error('oss InitiateMultipartUpload: no UploadId');
      const callback = Buffer.from(JSON.stringify({
        callbackUrl: callbackUrl(o.callbackBase, 'oss', sid, secret),
        callbackBody: '{"name":${x:fname},"source_name":${object},"size":${size},"pic_info":"${imageInfo.width},${imageInfo.height}"}',
        callbackBodyType: 'application/json',
        callbackSNI: true,
      })).toString('base64');
      const sign = (method: string, u: string, headers: Record<string, string>) => ossPresignV4({ accessKeyId: a.accessKey, accessKeySecret: a.secretKey, region,
        method, url: u, bucket: a.bucket, key: o.key, headers, expiresSeconds: ttl, now });
      const upload_urls = Array.from({ length: parts }, (_, i) => sign('PUT', `${url}?partNumber=${i + 1}&uploadId=${uploadId}`, { 'Content-Type': 'application/octet-stream' }));
      const completeURL = sign('POST', `${url}?callback=${encodeURIComponent(callback)}&uploadId=${uploadId}`,
        { 'Content-Type': 'application/octet-stream', 'x-oss-complete-all': 'yes', 'x-oss-forbid-overwrite': 'true' });
      return { ...base, upload_id: uploadId, upload_urls, completeURL };
    }
    case 'obs': {
      const { url, canonicalPath, pathStyle } = objectUrl(a, o.key);
      // The Go SDK downgrades to the V2 (AWS) signature on an IP endpoint; a domain endpoint signs OBS-style.
      const flavor = pathStyle ? OBS_V2_SIGNATURE : OBS_SIGNATURE;
      const date = new Date(now).toUTCString();
      const auth = v2AuthorizationHeader(a, flavor, 'POST', canonicalPath, [['uploads', '']], { 'content-type': mime }, date);
      const text = await expectOk(await f(new Request(`${url}?uploads`, { method: 'POST', headers: { authorization: auth, date, 'content-type': mime } })), 'obs InitiateMultipartUpload');
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(text)?.[1];
      if (!uploadId) throw new Error('obs InitiateMultipartUpload: no UploadId');
      const expires = Math.floor(now / 1000) + ttl;
      const callback = Buffer.from(JSON.stringify({ callbackBody: '{"name":${key},"source_name":${fname},"size":${size}}', callbackBodyType: 'application/json',
        callbackUrl: callbackUrl(o.callbackBase, 'obs', sid, secret) })).toString('base64');
      const sign = (method: string, u: string) => presignV2({ method, url: new URL(u), canonicalPath, accessKeyId: a.accessKey, secretAccessKey: a.secretKey,
        expires, contentType: 'application/octet-stream', flavor });
      const upload_urls = Array.from({ length: parts }, (_, i) => sign('PUT', `${url}?partNumber=${i + 1}&uploadId=${encodeURIComponent(uploadId)}`));
      const completeURL = sign('POST', `${url}?uploadId=${encodeURIComponent(uploadId)}&x-obs-callback=${encodeURIComponent(callback)}`);
      return { ...base, upload_id: uploadId, upload_urls, completeURL };
    }
    case 'qiniu': {
      const policy: QiniuPutPolicy = { scope: `${a.bucket}:${o.key}`, deadline: Math.floor(now / 1000) + ttl,
        callbackUrl: callbackUrl(o.callbackBase, 'qiniu', sid, secret),
        callbackBody: '{"size":$(fsize),"pic_info":"$(imageInfo.width),$(imageInfo.height)"}', callbackBodyType: 'application/json',
        forceSaveKey: true, saveKey: o.key, ...(o.size > 0 ? { fsizeLimit: o.size } : {}) };
      const token = qiniuUploadToken(a.accessKey, a.secretKey, policy);
      registerSecret(token);
      const initUrl = `${a.endpoint.replace(/\/+$/, '')}/buckets/${a.bucket}/objects/${b64url(o.key)}/uploads`;
      const text = await expectOk(await f(new Request(initUrl, { method: 'POST', headers: { authorization: `UpToken ${token}` } })), 'qiniu InitParts');
      const uploadId = (JSON.parse(text) as { uploadId?: string }).uploadId;
      if (!uploadId) throw new Error('qiniu InitParts: no uploadId');
      return { ...base, upload_id: uploadId, upload_urls: [`${initUrl}/${uploadId}`], credential: token, mime_type: mime };
    }
    case 'upyun': {
      const policy = { bucket: a.bucket, 'save-key': `/${o.key}`, expiration: Math.floor(now / 1000) + ttl,
        'notify-url': callbackUrl(o.callbackBase, 'upyun', sid, secret), 'content-length': o.size, 'content-length-range': `0,${o.size}` };
      const form = upyunFormCredentials(a.accessKey, a.secretKey, a.bucket, policy);
      registerSecret(form.policy);
      registerSecret(form.authorization);
      return { ...base, chunk_size: 0, upload_urls: [`${a.endpoint.replace(/\/+$/, '')}/${a.bucket}`], credential: form.authorization,
        upload_policy: form.policy, mime_type: mime };
    }
    case 'onedrive': {
      const path = `${a.bucket}/${o.key}`;
      const url = `${a.endpoint.replace(/\/+$/, '')}/root:/${encodePath(path)}:/createUploadSession`;
      const text = await expectOk(await f(new Request(url, { method: 'POST', headers: { authorization: `Bearer ${a.secretKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ item: { '@microsoft.graph.conflictBehavior': 'fail' } }) })), 'onedrive createUploadSession');
      const uploadUrl = (JSON.parse(text) as { uploadUrl?: string }).uploadUrl;
      if (!uploadUrl) throw new Error('onedrive createUploadSession: no uploadUrl');
      registerSecret(uploadUrl);
      return { ...base, upload_urls: [uploadUrl] };
    }
  }
}

/** Cloudreve's CancelToken for S3: AbortMultipartUpload, header-signed (what DELETE /file/upload makes the server do). */
export async function abortS3Upload(a: ProviderAccount, session: UploadSession, f: ProviderFetch = timedFetch(30_000)): Promise<number> {
  const complete = new URL(session.completeURL ?? '');
  const url = `${complete.origin}${complete.pathname}?uploadId=${encodeURIComponent(session.upload_id)}`;
  const res = await f(new Request(url, { method: 'DELETE', headers: await signSigV4Header(a, 'DELETE', url) }));
  await res.arrayBuffer();
  return res.status;
}

// ---- the cassette format ---------------------------------------------------------------------------------------------------

/** A recorded body: text, base64, or pieces of the run's deterministic payload (never stored, regenerated at replay). */
export type CassetteBody =
  | { text: string }
  | { base64: string }
  | { segments: ({ text: string } | { base64: string } | { payload: { offset: number; length: number } })[] };

/**
 * Who sent the request: `server` — Cloudreve's server side (initiate, abort), played by the recorder; `client` — the
 * driver to the provider; `cloudreve` — the driver to Cloudreve (its finish callback; documented, not replayed).
 */
export type InteractionRole = 'server' | 'client' | 'cloudreve';

export interface Interaction {
  role: InteractionRole;
  /** What the request is: CreateMultipartUpload, UploadPart 2, CompleteMultipartUpload, PUT bytes 0-327679/…, callback s3, … */
  step: string;
  request: {
    method: string;
    /** Redacted: signature parameters and secrets read `<redacted>`. */
    url: string;
    headers: Record<string, string>;
    body?: CassetteBody;
    /** Base64 JSON query parameters (callback policies), decoded and redacted; their raw value reads `<redacted>`. */
    decoded?: Record<string, unknown>;
  };
  response: { status: number; headers: Record<string, string>; body?: CassetteBody };
}

export interface CassetteMeta {
  provider: CassetteProvider;
  scenario: string;
  description: string;
  endpoint: 'emulator' | 'live';
  /** ISO date of the recording. */
  recorded: string;
  driverVersion: string;
  nockVersion: string;
  /** The account, without keys: where requests went. */
  account: { endpoint: string; bucket: string; region?: string; pathStyle?: boolean };
  /** The payload the bodies refer to: `new Payload(seed, size)`. */
  payload: { seed: number; size: number; chunkSize: number };
  /** The session the driver ran with (redacted). */
  session: Record<string, unknown>;
  /** Policies carried inside credentials (Qiniu put policy, Upyun form policy), decoded and redacted. */
  decoded?: Record<string, unknown>;
  /**
   * The provider's own callback to Cloudreve (oss, obs, qiniu, upyun): whether it reached the recorder's stand-in
   * (replay reproduces a reachable or an unreachable Cloudreve); 'none' for flows where the client calls back.
   */
  providerCallback: 'reached' | 'unreachable' | 'none';
  /** What the driver reported for each step (redacted). */
  driver: unknown;
}

export interface Cassette {
  format: typeof CASSETTE_FORMAT;
  meta: CassetteMeta;
  interactions: Interaction[];
}

// ---- stand-ins for Cloudreve ---------------------------------------------------------------------------------------------

export interface StandInRequest { method: string; path: string; query: string; headers: IncomingHttpHeaders; body: Buffer }

export interface StandIn {
  url: string;
  received: StandInRequest[];
  close(): Promise<void>;
}

/**
 * A stand-in for Cloudreve's callback routes on loopback: records each request and answers what `answer` says
 * (default: Cloudreve's success envelope `{"code":0,"msg":""}`, HTTP 200).
 */
export async function startStandIn(answer: (r: StandInRequest) => { status: number; body: string } | Promise<{ status: number; body: string }>
  = () => ({ status: 200, body: '{"code":0,"msg":""}' })): Promise<StandIn> {
  const received: StandInRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://stand-in');
      const r: StandInRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.search, headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      void Promise.resolve(answer(r)).then((a) => {
        res.writeHead(a.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(a.body)) });
        res.end(a.body);
      }, (e: unknown) => { res.writeHead(500); res.end(String(e)); });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

// ---- scenarios ---------------------------------------------------------------------------------------------------------------

export interface ScenarioContext {
  account: ProviderAccount;
  session: UploadSession;
  payload: Payload;
  driver: CloudUploadDriver;
  provider: ProviderFetch;
  /** The fetch Cloudreve's server side uses (abort, …): node:http, as a Go client would not be the browser's fetch. */
  server: ProviderFetch;
  /** Ends the current phase: the requests recorded so far are attributed to `role` (the recorder's own side or the driver's). */
  phase(role: 'server' | 'client'): Promise<void>;
}

export interface Scenario {
  provider: CassetteProvider;
  name: string;
  description: string;
  size: number;
  chunkSize: number;
  seed: number;
  key: string;
  /** Runs the client side; returns what the driver reported. */
  run(ctx: ScenarioContext): Promise<unknown>;
}

const KiB = 1024;
const MiB = 1024 * KiB;

async function fullUpload(ctx: ScenarioContext): Promise<unknown> {
  return uploadWithDriver(ctx.driver, ctx.session, ctx.payload);
}

/**
 * The recorded scenarios. Sizes respect each provider's real part minimum (S3 5 MiB, COS/Qiniu 1 MiB, OSS/OBS 100 KiB,
 * OneDrive 320 KiB fragments), so a live recording of the same scenario is accepted by the provider.
 */
export const SCENARIOS: readonly Scenario[] = [
  { provider: 's3', name: 'multipart-complete', seed: 301, size: 5 * MiB + 1234, chunkSize: 5 * MiB, key: 'cloudreve-conformance/cassettes/s3/complete.bin',
    description: 'CreateMultipartUpload (server), two presigned UploadPart PUTs (5 MiB, the rest), CompleteMultipartUpload XML, then the client callback GET /callback/s3',
    run: fullUpload },
  { provider: 's3', name: 'multipart-abort', seed: 302, size: 5 * MiB + 100, chunkSize: 5 * MiB, key: 'cloudreve-conformance/cassettes/s3/abort.bin',
    description: 'CreateMultipartUpload, part 1, AbortMultipartUpload (server, as DELETE /file/upload makes Cloudreve do), then part 2 and the complete request are refused (NoSuchUpload)',
    run: async (ctx) => {
      const plan: ChunkPlan[] = ctx.driver.plan(ctx.session, ctx.payload.size);
      ctx.driver.begin(ctx.session, { size: ctx.payload.size });
      const first = await ctx.driver.sendChunk(ctx.session, plan[0]!, ctx.payload.stream(plan[0]!.offset, plan[0]!.length));
      await ctx.phase('client');
      const abort = await abortS3Upload(ctx.account, ctx.session, ctx.server);
      await ctx.phase('server');
      const second = await ctx.driver.sendChunk(ctx.session, plan[1]!, ctx.payload.stream(plan[1]!.offset, plan[1]!.length));
      const finish = await ctx.driver.finish(ctx.session, { parts: [{ partNumber: 1, etag: first.etag ?? '' }] });
      return { chunks: [first, second], abort, finish };
    } },
  { provider: 'cos', name: 'multipart-complete', seed: 311, size: 2 * MiB + 333, chunkSize: MiB, key: 'cloudreve-conformance/cassettes/cos/complete.bin',
    description: 'InitiateMultipartUpload (server), three presigned parts (length and type signed), complete with x-cos-forbid-overwrite, client callback GET /callback/cos',
    run: fullUpload },
  { provider: 'oss', name: 'multipart-callback', seed: 321, size: 250 * KiB + 3, chunkSize: 100 * KiB, key: 'cloudreve-conformance/cassettes/oss/complete.bin',
    description: 'InitiateMultipartUpload (server), three V4-presigned parts, empty complete-all POST carrying callback=: OSS calls Cloudreve and relays its answer',
    run: fullUpload },
  { provider: 'obs', name: 'multipart-callback', seed: 331, size: 250 * KiB + 3, chunkSize: 100 * KiB, key: 'cloudreve-conformance/cassettes/obs/complete.bin',
    description: 'InitiateMultipartUpload (server), three V2-presigned parts, complete XML with x-obs-callback: OBS calls Cloudreve and relays its answer',
    run: fullUpload },
  { provider: 'qiniu', name: 'multipart-callback', seed: 341, size: 2 * MiB + 5, chunkSize: MiB, key: 'cloudreve-conformance/cassettes/qiniu/complete.bin',
    description: 'InitParts (server, UpToken), three v2 part PUTs with UpToken, complete JSON: Qiniu calls Cloudreve and relays its answer',
    run: fullUpload },
  { provider: 'upyun', name: 'form-notify', seed: 351, size: 300 * KiB + 5, chunkSize: 0, key: 'cloudreve-conformance/cassettes/upyun/form.bin',
    description: 'one multipart/form-data POST (policy, authorization, content-type, file last); Upyun notifies Cloudreve',
    run: fullUpload },
  { provider: 'onedrive', name: 'ranges-callback', seed: 361, size: 2 * 320 * KiB + 1234, chunkSize: 320 * KiB, key: 'cassettes/ranges.bin',
    description: 'createUploadSession (server, bearer), three Content-Range PUTs to the pre-authorised upload URL (202, 202, 201), client callback POST /callback/onedrive',
    run: fullUpload },
];

export function scenario(provider: string, name?: string): Scenario {
  const list = SCENARIOS.filter((s) => s.provider === provider);
  const s = name ? list.find((x) => x.name === name) : list[0];
  if (!s) throw new Error(`no scenario ${provider}/${name ?? '*'} (known: ${SCENARIOS.map((x) => `${x.provider}/${x.name}`).join(', ')})`);
  return s;
}

// ---- recording ---------------------------------------------------------------------------------------------------------------

/**
 * A Response with any status: the Response constructor refuses statuses outside 200-599 (Qiniu answers 612, 614, 631)
 * and bodies on 204/205/304, so those are built in range and the real status set on the instance.
 */
export function responseWithStatus(status: number, body: Buffer, headers: Headers): Response {
  const nullBody = [204, 205, 304].includes(status);
  const inRange = status >= 200 && status <= 599;
  const res = new Response(nullBody || !body.length ? null : body, { status: inRange ? status : 200, headers });
  if (!inRange) Object.defineProperty(res, 'status', { value: status });
  return res;
}

/**
 * A fetch over node:http(s), for the server-side calls of a recording. (nock 14's recorder rebuilds every fetch answer
 * with `new Response(body, …)`, which throws for a 204 — AbortMultipartUpload's answer; its node:http path does not.)
 */
export const nodeFetch: ProviderFetch = async (req) => {
  const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
  const u = new URL(req.url);
  const headers: Record<string, string> = Object.fromEntries(req.headers.entries());
  if (body) headers['content-length'] = String(body.length);
  return new Promise<Response>((resolve, reject) => {
    // Through the module objects, at call time: the recorder patches their `request` (a named import would not see it).
    const r = (u.protocol === 'https:' ? https.request : http.request)(u, { method: req.method, headers, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        const status = res.statusCode ?? 0;
        resolve(responseWithStatus(status, Buffer.concat(chunks), h));
      });
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end(body);
  });
};

interface NockRecord {
  scope: string;
  method: string;
  path: string;
  body: unknown;
  status: number;
  response: unknown;
  rawHeaders: Record<string, string> | string[];
  reqheaders?: Record<string, string>;
  responseIsBinary?: boolean;
}

/**
 * Waits until nock's recorder holds at least `expected` outputs (the requests this side sent in the phase) and has
 * stopped adding more (its 'response' handlers finish after the caller's await; the provider's own callbacks add some).
 */
async function settle(expected: number): Promise<NockRecord[]> {
  let last = -1;
  let stable = 0;
  for (let i = 0; i < 600 && (stable < 3 || last < expected); i++) {
    await new Promise((r) => setTimeout(r, 10));
    const n = (nock.recorder.play() as unknown[]).length;
    stable = n === last ? stable + 1 : 0;
    last = n;
  }
  if (last < expected) throw new Error(`nock's recorder holds ${last} exchanges, ${expected} were sent`);
  const out = [...(nock.recorder.play() as unknown as NockRecord[])];
  nock.recorder.clear();
  return out;
}

function nockVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../node_modules/nock/package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch { return 'unknown'; }
}

export interface RecordOptions {
  endpoint: 'emulator' | 'live';
  /** Base URL providers call back (default: a local stand-in; a live provider needs a public URL to reach one). */
  callbackUrl?: string;
  /** Recording date (default now). */
  now?: Date;
  /** Waits for the provider's asynchronous notifications (the emulator's flush), before the last phase ends. */
  flush?: () => Promise<void>;
}

/**
 * Runs a scenario against an account inside nock's recorder and returns the normalised, redacted cassette. The
 * account's keys, the session's secrets and every credential derived from them are registered as secrets first.
 */
export async function recordScenario(s: Scenario, account: ProviderAccount, options: RecordOptions): Promise<Cassette> {
  for (const v of [account.secretKey, account.accessKey]) registerSecret(v);
  const site = await startStandIn();
  const hook = options.callbackUrl ? undefined : await startStandIn();
  const callbackBase = options.callbackUrl ?? hook!.url;
  const sink = new CollectingSink();
  // Every request this side sends is counted, so each phase waits for the recorder to hold all of them.
  let sent = 0;
  const counted = <F extends (r: Request) => Promise<Response>>(f: F) => ((r: Request) => { sent++; return f(r); });
  const transport = validatingFetch({ sink });
  const cloudreve: CloudreveClient = createCloudreveClient({ siteUrl: site.url, fetch: counted((r) => transport(r)) });
  const provider = counted(timedFetch(60_000));
  const server = counted(nodeFetch);
  const take = async () => { const n = sent; sent = 0; return settle(n); };
  const payload = new Payload(s.seed, s.size);
  const recorded: { role: 'server' | 'client'; rec: NockRecord }[] = [];
  let session: UploadSession | undefined;
  let result: unknown;
  nock.recorder.rec({ output_objects: true, dont_print: true, enable_reqheaders_recording: true });
  try {
    session = await issueSession(account, { key: s.key, size: s.size, chunkSize: s.chunkSize, callbackBase, fetch: server });
    for (const rec of await take()) recorded.push({ role: 'server', rec });
    const driver = cloudDriver(s.provider, { provider, cloudreve });
    const ctx: ScenarioContext = { account, session, payload, driver, provider, server,
      phase: async (role) => { for (const rec of await take()) recorded.push({ role, rec }); } };
    result = await s.run(ctx);
    await options.flush?.();
    await ctx.phase('client');
  } finally {
    nock.restore();
    nock.recorder.clear();
    await site.close();
    await hook?.close();
  }
  if (sink.violations.length) throw new Error(`the driver's Cloudreve calls broke the contract: ${sink.violations.map((v) => v.check).join(', ')}`);
  const providerCallback = !PROVIDER_CALLBACK_FLOWS.includes(s.provider) ? 'none' : !hook || hook.received.length > 0 ? 'reached' : 'unreachable';
  const cassette = normaliseRecording({ scenario: s, account, session, payload, recorded, siteOrigin: site.url, hookOrigin: hook?.url, result,
    endpoint: options.endpoint, recordedAt: options.now ?? new Date(), providerCallback });
  // The stand-ins and an emulator listen on ephemeral loopback ports: the cassette names fixed origins instead, so a
  // re-recording diffs cleanly and a replay (nock keeps its scopes for the process) never shadows a live loopback port.
  const origins: Record<string, string> = { [site.url]: CLOUDREVE_ORIGIN, ...(hook ? { [hook.url]: CLOUDREVE_ORIGIN } : {}) };
  if (options.endpoint === 'emulator') origins[new URL(account.endpoint).origin] = EMULATOR_ORIGINS[s.provider];
  return renameOrigins(cassette, origins);
}

/** Where emulator cassettes say their emulator was (a loopback port outside the ephemeral range, never listened on). */
export const EMULATOR_ORIGINS: Record<CassetteProvider, string> = { s3: 'http://127.0.0.1:9301', cos: 'http://127.0.0.1:9302',
  oss: 'http://127.0.0.1:9303', obs: 'http://127.0.0.1:9304', qiniu: 'http://127.0.0.1:9305', upyun: 'http://127.0.0.1:9306', onedrive: 'http://127.0.0.1:9307' };
/** Where cassettes say the recording's stand-in for Cloudreve was (never replayed to). */
export const CLOUDREVE_ORIGIN = 'http://127.0.0.1:5212';

function renameOrigins<T>(v: T, origins: Record<string, string>): T {
  if (typeof v === 'string') {
    let out: string = v;
    for (const [from, to] of Object.entries(origins)) out = out.split(from).join(to);
    return out as T;
  }
  if (Array.isArray(v)) return v.map((x) => renameOrigins(x, origins)) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, renameOrigins(x, origins)])) as T;
  return v;
}

/** Records a scenario against its emulator on a loopback port (what `record-cassette --emulator` does). */
export async function recordAgainstEmulator(s: Scenario, now?: Date): Promise<Cassette> {
  const base = EMULATOR_ACCOUNTS[s.provider];
  const emu = emulatorFor(base);
  const mount: LoopbackMount = await mountLoopback(emu);
  const account: ProviderAccount = { ...base, endpoint: emulatorEndpoint(s.provider, mount.url) };
  try {
    return await recordScenario(s, account, { endpoint: 'emulator', ...(now ? { now } : {}), ...(emu.flush ? { flush: () => emu.flush!() } : {}) });
  } finally {
    await mount.close();
  }
}

// ---- normalising and redacting ---------------------------------------------------------------------------------------------

/** Query parameters whose values are secret, whatever the provider (compared case-insensitively). */
export const REDACTED_QUERY_KEYS: ReadonlySet<string> = new Set(['x-amz-signature', 'x-amz-credential', 'x-amz-security-token', 'signature',
  'awsaccesskeyid', 'accesskeyid', 'kssaccesskeyid', 'ossaccesskeyid', 'x-oss-signature', 'x-oss-credential', 'x-oss-security-token',
  'security-token', 'q-ak', 'q-signature', 'x-cos-security-token', 'tempauth', 'token', 'sign', 'uptoken']);
/** Query parameters that carry a base64 JSON callback policy (the callback URL holds the session's secret). */
export const POLICY_QUERY_KEYS: ReadonlySet<string> = new Set(['callback', 'callback-var', 'x-obs-callback']);
/** XML elements of signature-mismatch errors that echo keys and signatures back. */
const SECRET_XML_ELEMENTS = ['SignatureProvided', 'StringToSign', 'StringToSignBytes', 'CanonicalRequest', 'CanonicalRequestBytes', 'AWSAccessKeyId', 'OSSAccessKeyId'];
const KEPT_RESPONSE_HEADERS = ['content-type', 'etag', 'location', 'content-range'];
const DROPPED_REQUEST_HEADERS = new Set(['user-agent', 'accept', 'accept-encoding', 'accept-language', 'sec-fetch-mode', 'host', 'connection', 'x-conformance-test']);

const utf8Representable = (b: Buffer) => Buffer.from(b.toString('utf8'), 'utf8').equals(b);
const originOf = (scope: string) => new URL(scope).origin;

function nockBodyBuffer(body: unknown, contentLength?: number, binary = false): Buffer {
  if (body === undefined || body === null || body === '') return Buffer.alloc(0);
  if (typeof body === 'string') return binary ? Buffer.from(body, 'hex') : decodeNockBody(body, contentLength);
  return Buffer.from(JSON.stringify(body), 'utf8');
}

function splitRaw(url: string): { base: string; pairs: [string, string | undefined][] } {
  const i = url.indexOf('?');
  if (i < 0) return { base: url, pairs: [] };
  const pairs = url.slice(i + 1).split('&').filter(Boolean).map((p): [string, string | undefined] => {
    const j = p.indexOf('=');
    return j < 0 ? [p, undefined] : [p.slice(0, j), p.slice(j + 1)];
  });
  return { base: url.slice(0, i), pairs };
}
const joinRaw = (base: string, pairs: [string, string | undefined][]) => (pairs.length ? `${base}?${pairs.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join('&')}` : base);
const dec = (s: string) => { try { return decodeURIComponent(s); } catch { return s; } };

/** Masks signature query parameters; decodes callback policies into `decoded` and masks their raw value. */
function redactUrl(url: string, decoded?: Record<string, unknown>): string {
  const { base, pairs } = splitRaw(url);
  const out = pairs.map(([k, v]): [string, string | undefined] => {
    const name = dec(k).toLowerCase();
    if (REDACTED_QUERY_KEYS.has(name)) return [k, REDACTED];
    if (POLICY_QUERY_KEYS.has(name) && v !== undefined) {
      if (decoded) {
        try { decoded[dec(k)] = JSON.parse(Buffer.from(dec(v), 'base64').toString('utf8')); } catch { decoded[dec(k)] = REDACTED; }
      }
      return [k, REDACTED];
    }
    return [k, v];
  });
  return joinRaw(base, out);
}

function redactUrls<T>(v: T): T {
  if (typeof v === 'string') return (/^https?:\/\//i.test(v) ? redactUrl(v) : v) as T;
  if (Array.isArray(v)) return v.map((x) => redactUrls(x)) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactUrls(x)])) as T;
  return v;
}

function redactAuthorization(v: string): string {
  if (v.startsWith('q-sign-algorithm=')) return `q-sign-algorithm=sha1&${REDACTED}`;
  const m = /^([A-Za-z][A-Za-z0-9-]*)\s/.exec(v);
  return m ? `${m[1]} ${REDACTED}` : REDACTED;
}

/**
 * The run's own secrets, longest first (an access key inside a signed credential such as `UPYUN op:sig` or a Qiniu
 * token must not be masked alone, which would leave the rest readable), then harness/secrets.ts `redact`.
 */
let runSecrets: string[] = [];
function redactText(text: string): string {
  let out = text;
  for (const s of runSecrets) out = out.split(s).join(REDACTED);
  return redact(out);
}

function deepRedact<T>(v: T): T {
  if (typeof v === 'string') return redactText(v) as T;
  if (Array.isArray(v)) return v.map((x) => deepRedact(x)) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepRedact(x)])) as T;
  return v;
}

function redactXmlText(text: string): string {
  let out = text;
  for (const el of SECRET_XML_ELEMENTS) out = out.replace(new RegExp(`(<${el}>)[^<]*(</${el}>)`, 'g'), '$1[redacted]$2');
  // A <redacted> marker inside XML text would read as an element: keep the document's shape.
  return out.split(REDACTED).join('[redacted]');
}

function redactBody(b: CassetteBody | undefined): CassetteBody | undefined {
  if (!b) return b;
  const fix = (t: string) => { const r = redactText(t); return r.trimStart().startsWith('<') ? redactXmlText(r) : r; };
  if ('text' in b) return { text: fix(b.text) };
  if ('segments' in b) return { segments: b.segments.map((s) => ('text' in s ? { text: redactText(s.text) } : s)) };
  return b;
}

/**
 * Redacts a cassette of its secrets: signatures, keys, tokens, credentials, callback secrets, Authorization headers,
 * and `secrets` (the run's keys and the session's credentials) wherever they appear.
 */
export function redactCassette(c: Cassette, secrets: (string | undefined)[] = []): Cassette {
  runSecrets = [...new Set(secrets.filter((x): x is string => !!x && x.length >= 6))].sort((a, b) => b.length - a.length);
  try {
    return redactCassetteWith(c);
  } finally {
    runSecrets = [];
  }
}

function redactCassetteWith(c: Cassette): Cassette {
  const interactions = c.interactions.map((i): Interaction => {
    const decoded: Record<string, unknown> = {};
    const url = i.request.url === REDACTED ? REDACTED : redactUrl(i.request.url, decoded);
    const headers = Object.fromEntries(Object.entries(i.request.headers).map(([k, v]) => [k,
      k === 'authorization' ? redactAuthorization(v) : /security-token$/.test(k) ? REDACTED : v]));
    const request: Interaction['request'] = { method: i.request.method, url, headers };
    const body = redactBody(i.request.body);
    if (body) request.body = body;
    if (Object.keys(decoded).length || i.request.decoded) request.decoded = { ...(i.request.decoded ?? {}), ...decoded };
    const response: Interaction['response'] = { status: i.response.status, headers: { ...i.response.headers } };
    const rbody = redactBody(i.response.body);
    if (rbody) response.body = rbody;
    return deepRedact({ role: i.role, step: i.step, request, response });
  });
  const session = { ...c.meta.session };
  for (const k of ['credential', 'upload_policy', 'callback_secret']) if (typeof session[k] === 'string' && session[k]) session[k] = REDACTED;
  // URLs anywhere in the meta (the session's, the driver's step reports) lose their signatures and callback policies.
  return { format: c.format, meta: deepRedact(redactUrls({ ...c.meta, session })), interactions };
}

function stepLabel(provider: CassetteProvider, role: InteractionRole, method: string, url: string, headers: Record<string, string>): string {
  let u: URL;
  try { u = new URL(url); } catch { return `${method} upload URL`; }
  if (role === 'cloudreve') {
    const m = /\/api\/v4\/callback\/([a-z0-9]+)\//.exec(u.pathname);
    return m ? `callback ${m[1]}` : `${method} ${u.pathname}`;
  }
  const q = splitRawQuery(u.search);
  const has = (k: string) => q.some(([n]) => n === k);
  const get = (k: string) => q.find(([n]) => n === k)?.[1];
  switch (provider) {
    case 's3': case 'cos': case 'oss': case 'obs': {
      const initiate = provider === 's3' ? 'CreateMultipartUpload' : 'InitiateMultipartUpload';
      if (method === 'POST' && has('uploads')) return initiate;
      if (method === 'PUT' && has('partNumber')) return `UploadPart ${get('partNumber')}`;
      if (method === 'POST' && has('uploadId')) return 'CompleteMultipartUpload';
      if (method === 'DELETE' && has('uploadId')) return 'AbortMultipartUpload';
      if (method === 'GET' && has('uploadId')) return 'ListParts';
      break;
    }
    case 'qiniu': {
      if (/\/uploads$/.test(u.pathname) && method === 'POST') return 'InitParts';
      const part = /\/uploads\/[^/]+\/(\d+)$/.exec(u.pathname);
      if (part && method === 'PUT') return `UploadPart ${part[1]}`;
      if (/\/uploads\/[^/]+$/.test(u.pathname)) return method === 'POST' ? 'CompleteParts' : method === 'DELETE' ? 'AbortParts' : 'ListParts';
      break;
    }
    case 'onedrive':
      if (u.pathname.endsWith(':/createUploadSession')) return 'createUploadSession';
      if (method === 'PUT' && headers['content-range']) return `PUT ${headers['content-range']}`;
      break;
    case 'upyun':
      if (method === 'POST' && (headers['content-type'] ?? '').startsWith('multipart/form-data')) return 'FormUpload';
      break;
  }
  return `${method} ${u.pathname}`;
}

interface RawRecording {
  scenario: Scenario;
  account: ProviderAccount;
  session: UploadSession | undefined;
  payload: Payload;
  recorded: { role: 'server' | 'client'; rec: NockRecord }[];
  siteOrigin: string;
  hookOrigin?: string;
  result: unknown;
  endpoint: 'emulator' | 'live';
  recordedAt: Date;
  providerCallback: CassetteMeta['providerCallback'];
}

/** Turns nock's recorded objects into a cassette: roles, step names, payload references for the bytes, then redaction. */
export function normaliseRecording(r: RawRecording): Cassette {
  const { scenario: s, payload } = r;
  const candidates = [...(s.chunkSize > 0 ? Array.from({ length: Math.max(1, Math.ceil(s.size / s.chunkSize)) }, (_, i) => ({ offset: i * s.chunkSize,
    length: Math.min(s.chunkSize, s.size - i * s.chunkSize) })) : []), { offset: 0, length: s.size }].filter((c) => c.length > 0);
  const cache = new Map<number, Buffer>();
  const bytesOf = (c: { offset: number; length: number }) => {
    let b = cache.get(c.offset * 1e9 + c.length);
    if (!b) { b = payload.range(c.offset, c.offset + c.length); cache.set(c.offset * 1e9 + c.length, b); }
    return b;
  };
  const encode = (buf: Buffer): CassetteBody | undefined => {
    if (!buf.length) return undefined;
    for (const c of candidates) {
      if (c.length === buf.length && bytesOf(c).equals(buf)) return { segments: [{ payload: c }] };
    }
    for (const c of candidates) {
      if (c.length >= buf.length) continue;
      const at = buf.indexOf(bytesOf(c));
      if (at < 0) continue;
      const piece = (b: Buffer) => (utf8Representable(b) ? { text: b.toString('utf8') } : { base64: b.toString('base64') });
      const segs: Extract<CassetteBody, { segments: unknown }>['segments'] = [];
      if (at > 0) segs.push(piece(buf.subarray(0, at)));
      segs.push({ payload: c });
      if (at + c.length < buf.length) segs.push(piece(buf.subarray(at + c.length)));
      return { segments: segs };
    }
    return utf8Representable(buf) ? { text: buf.toString('utf8') } : { base64: buf.toString('base64') };
  };
  const interactions: Interaction[] = [];
  for (const { role, rec } of r.recorded) {
    const origin = originOf(rec.scope);
    if (r.hookOrigin && origin === r.hookOrigin) continue; // the provider calling the stand-in: not the provider's answer
    const kind: InteractionRole = origin === r.siteOrigin ? 'cloudreve' : role;
    const url = `${origin}${rec.path}`;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(rec.reqheaders ?? {})) if (!DROPPED_REQUEST_HEADERS.has(k.toLowerCase())) headers[k.toLowerCase()] = String(v);
    const cl = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
    const reqBody = encode(nockBodyBuffer(rec.body, cl));
    const raw = Array.isArray(rec.rawHeaders) ? Object.fromEntries(rec.rawHeaders.reduce<[string, string][]>((acc, x, i, a) => (i % 2 ? acc : [...acc, [String(x), String(a[i + 1])]]), []))
      : rec.rawHeaders;
    const resHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) if (KEPT_RESPONSE_HEADERS.includes(k.toLowerCase())) resHeaders[k.toLowerCase()] = String(v);
    const resBuf = nockBodyBuffer(rec.response, undefined, rec.responseIsBinary === true);
    const resBody = resBuf.length ? (utf8Representable(resBuf) ? { text: resBuf.toString('utf8') } : { base64: resBuf.toString('base64') }) : undefined;
    const isUploadUrl = s.provider === 'onedrive' && r.session?.upload_urls?.[0] === url;
    const interaction: Interaction = { role: kind, step: stepLabel(s.provider, kind, rec.method, url, headers),
      request: { method: rec.method, url: isUploadUrl ? REDACTED : url, headers, ...(reqBody ? { body: reqBody } : {}) },
      response: { status: rec.status, headers: resHeaders, ...(resBody ? { body: resBody } : {}) } };
    interactions.push(interaction);
  }
  const decoded: Record<string, unknown> = {};
  if (r.session?.credential && s.provider === 'qiniu') {
    try { decoded.put_policy = JSON.parse(fromB64url(r.session.credential.split(':')[2] ?? '').toString('utf8')); } catch { /* not a token */ }
  }
  if (r.session?.upload_policy) {
    try { decoded.upload_policy = JSON.parse(Buffer.from(r.session.upload_policy, 'base64').toString('utf8')); } catch { /* not base64 JSON */ }
  }
  const session = { ...(r.session ?? {}) } as Record<string, unknown>;
  if (s.provider === 'onedrive' && Array.isArray(session.upload_urls)) session.upload_urls = (session.upload_urls as string[]).map(() => REDACTED);
  const a = r.account;
  const cassette: Cassette = {
    format: CASSETTE_FORMAT,
    meta: {
      provider: s.provider, scenario: s.name, description: s.description, endpoint: r.endpoint, recorded: r.recordedAt.toISOString(),
      driverVersion: CLOUD_DRIVERS_VERSION, nockVersion: nockVersion(),
      account: { endpoint: a.endpoint, bucket: a.bucket, ...(a.region ? { region: a.region } : {}), ...(a.pathStyle ? { pathStyle: true } : {}) },
      payload: { seed: s.seed, size: s.size, chunkSize: s.chunkSize },
      session, ...(Object.keys(decoded).length ? { decoded } : {}), providerCallback: r.providerCallback, driver: r.result ?? null,
    },
    interactions,
  };
  const sess = r.session;
  return redactCassette(cassette, [a.secretKey, a.accessKey, sess?.callback_secret, sess?.credential, sess?.upload_policy,
    ...(s.provider === 'onedrive' ? sess?.upload_urls ?? [] : [])]);
}

// ---- files ---------------------------------------------------------------------------------------------------------------

export function cassettePath(c: Pick<CassetteMeta, 'provider' | 'scenario'>, dir = CASSETTE_DIR): string {
  return join(dir, c.provider, `${c.scenario}.json`);
}

export function writeCassette(c: Cassette, dir = CASSETTE_DIR): string {
  const path = cassettePath(c.meta, dir);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(c, null, 2)}\n`);
  return path;
}

/** Every cassette under `dir`, with its path. */
export function loadCassettes(dir = CASSETTE_DIR): { path: string; cassette: Cassette }[] {
  const out: { path: string; cassette: Cassette }[] = [];
  let entries: string[];
  try { entries = readdirSync(dir, { recursive: true }).map(String); } catch { return out; }
  for (const f of entries.filter((x) => x.endsWith('.json')).sort()) {
    const path = join(dir, f);
    const cassette = JSON.parse(readFileSync(path, 'utf8')) as Cassette;
    if (cassette.format !== CASSETTE_FORMAT) throw new Error(`${path}: not a cassette (${String(cassette.format)})`);
    out.push({ path, cassette });
  }
  return out;
}

// ---- comparing answers -------------------------------------------------------------------------------------------------------

/** What replay compares of an answer. */
export interface Observed {
  status: number;
  /** The provider's error code (S3-family <Code>, Graph error code, Qiniu error, Upyun code). */
  providerCode?: string;
  bodyKind: 'empty' | 'xml' | 'json' | 'text';
  /** XML element paths (namespace prefixes dropped) or JSON key paths (`[]` for array items), sorted. */
  shape: string[];
  mediaType?: string;
  etag: boolean;
}

function xmlShape(text: string): string[] {
  const stack: string[] = [];
  const paths = new Set<string>();
  const re = /<(\/?)([A-Za-z_][\w.:-]*)(?:\s[^>]*?)?(\/?)>/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = m[2]!.replace(/^[\w.-]+:/, '');
    if (m[1]) {
      const at = stack.lastIndexOf(name);
      if (at >= 0) stack.length = at;
      continue;
    }
    paths.add([...stack, name].join('/'));
    if (!m[3]) stack.push(name);
  }
  return [...paths].sort();
}

function jsonShape(v: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) {
    const p = `${prefix}[]`;
    if (v.length) out.add(p);
    for (const x of v) jsonShape(x, p, out);
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const p = prefix ? `${prefix}.${k}` : k;
      out.add(p);
      jsonShape(x, p, out);
    }
  }
  return out;
}

export function observe(status: number, headers: Record<string, string>, body: Buffer | undefined): Observed {
  const text = body?.length ? body.toString('utf8') : '';
  const trimmed = text.trim();
  const o: Observed = { status, bodyKind: 'empty', shape: [], etag: headers.etag !== undefined && headers.etag !== '' };
  const code = readProviderAnswer(status, text).providerCode;
  if (code !== undefined) o.providerCode = code;
  if (trimmed) {
    const mt = headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (mt) o.mediaType = mt;
    if (trimmed.startsWith('<')) { o.bodyKind = 'xml'; o.shape = xmlShape(trimmed); } else {
      try { o.shape = [...jsonShape(JSON.parse(trimmed))].sort(); o.bodyKind = 'json'; } catch { o.bodyKind = 'text'; }
    }
  }
  return o;
}

/** Differences between a recorded answer and the emulator's (empty when they agree). */
export function compareObserved(recorded: Observed, replayed: Observed): string[] {
  const d: string[] = [];
  if (recorded.status !== replayed.status) d.push(`status: recorded ${recorded.status}, emulator ${replayed.status}`);
  if (recorded.providerCode !== replayed.providerCode) d.push(`provider error code: recorded ${recorded.providerCode ?? '(none)'}, emulator ${replayed.providerCode ?? '(none)'}`);
  if (recorded.bodyKind !== replayed.bodyKind) d.push(`body: recorded ${recorded.bodyKind}, emulator ${replayed.bodyKind}`);
  const missing = recorded.shape.filter((p) => !replayed.shape.includes(p));
  const extra = replayed.shape.filter((p) => !recorded.shape.includes(p));
  if (missing.length || extra.length) d.push(`body shape: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `extra ${extra.join(', ')}` : ''}`);
  if (recorded.etag !== replayed.etag) d.push(`ETag header: recorded ${recorded.etag ? 'present' : 'absent'}, emulator ${replayed.etag ? 'present' : 'absent'}`);
  if (recorded.bodyKind !== 'empty' && recorded.mediaType !== replayed.mediaType) d.push(`media type: recorded ${recorded.mediaType ?? '(none)'}, emulator ${replayed.mediaType ?? '(none)'}`);
  return d;
}

function bodyBytes(b: CassetteBody | undefined, payload: Payload): Buffer | undefined {
  if (!b) return undefined;
  if ('text' in b) return Buffer.from(b.text, 'utf8');
  if ('base64' in b) return Buffer.from(b.base64, 'base64');
  return Buffer.concat(b.segments.map((s) => ('text' in s ? Buffer.from(s.text, 'utf8') : 'base64' in s ? Buffer.from(s.base64, 'base64')
    : payload.range(s.payload.offset, s.payload.offset + s.payload.length))));
}

// ---- replay ------------------------------------------------------------------------------------------------------------------

export interface ReplayExchange {
  step: string;
  role: InteractionRole;
  method: string;
  /** The URL sent (re-signed), redacted. */
  url?: string;
  recorded: Observed;
  replayed?: Observed;
  differences: string[];
  /** Why the interaction was not replayed (the driver's Cloudreve callbacks: not a provider answer). */
  skipped?: string;
}

export interface ReplayReport {
  provider: CassetteProvider;
  scenario: string;
  exchanges: ReplayExchange[];
  /** Every difference, prefixed by its step. */
  differences: string[];
}

const REPLAY_SECRET = 'ReplayCallbackSecret0000000000000';
const STATUS_HEADER = 'x-cassette-replay-status';

/**
 * nock builds a fetch Response from the emulator's answer, and the Response constructor refuses statuses outside
 * 200-599 (Qiniu's 612 "no such uploadId", 614, 631): such an answer travels as 599 with its real status in a header
 * that replay reads back.
 */
function nockSafe(emu: ProviderEmulator): ProviderEmulator {
  return { provider: emu.provider, handle: async (req) => {
    const r = await emu.handle(req);
    if (r.status >= 200 && r.status <= 599) return r;
    return { ...r, status: 599, headers: { ...(r.headers ?? {}), [STATUS_HEADER]: String(r.status) } };
  } };
}

/** Mappings learnt from replayed answers: provider-generated ids and URLs. */
class IdMap {
  readonly ids = new Map<string, string>();
  readonly urls = new Map<string, string>();
  learn(recorded: string, replayed: string): void {
    for (const el of ['UploadId']) {
      const a = xmlTextOf(recorded, el);
      const b = xmlTextOf(replayed, el);
      if (a && b && a !== b) this.ids.set(a, b);
    }
    const ra = safeJson(recorded);
    const rb = safeJson(replayed);
    if (ra && rb) {
      if (typeof ra.uploadId === 'string' && typeof rb.uploadId === 'string' && ra.uploadId !== rb.uploadId) this.ids.set(ra.uploadId, rb.uploadId);
      if (typeof ra.uploadUrl === 'string' && typeof rb.uploadUrl === 'string') this.urls.set(ra.uploadUrl, rb.uploadUrl);
    }
  }
  apply(s: string): string {
    let out = this.urls.get(s) ?? s;
    for (const [a, b] of this.ids) {
      out = out.split(a).join(b);
      const ea = encodeURIComponent(a);
      if (ea !== a) out = out.split(ea).join(encodeURIComponent(b));
    }
    return out;
  }
}

function xmlTextOf(text: string, el: string): string | undefined {
  return new RegExp(`<${el}>([^<]+)</${el}>`).exec(text)?.[1];
}
function safeJson(text: string): Record<string, unknown> | undefined {
  try { const v = JSON.parse(text) as unknown; return v && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined; } catch { return undefined; }
}

/** The callback URL a replayed policy carries: the recorded path on the replay's stand-in, with the replay's secret. */
function rehook(recorded: unknown, hookBase: string): string {
  const s = String(recorded ?? '');
  const path = s.replace(/^https?:\/\/[^/]+/i, '').split(REDACTED).join(REPLAY_SECRET).split('[redacted]').join(REPLAY_SECRET);
  return `${hookBase}${path.startsWith('/') ? path : `/${path}`}`;
}

interface ReplayContext { c: Cassette; account: ProviderAccount; hookBase: string; now: number }

/** Bucket and key of an S3-family URL (virtual-hosted when the host starts with the bucket). */
function bucketKey(ctx: ReplayContext, u: URL): { bucket: string; key: string; canonicalPath: string } {
  const b = ctx.account.bucket;
  if (u.hostname.startsWith(`${b}.`)) return { bucket: b, key: dec(u.pathname.slice(1)), canonicalPath: `/${b}${u.pathname}` };
  const m = /^\/([^/]+)\/?(.*)$/.exec(u.pathname);
  return { bucket: dec(m?.[1] ?? b), key: dec(m?.[2] ?? ''), canonicalPath: u.pathname };
}

/** Re-signs one request with the replay account, in the scheme the recording used. */
async function resign(ctx: ReplayContext, method: string, url: string, headers: Record<string, string>): Promise<{ url: string; headers: Record<string, string> }> {
  const a = ctx.account;
  const { base, pairs } = splitRaw(url);
  const names = pairs.map(([k]) => dec(k));
  const get = (n: string) => { const p = pairs.find(([k]) => dec(k) === n); return p?.[1] === undefined ? undefined : dec(p[1]); };
  const without = (pred: (n: string) => boolean) => joinRaw(base, pairs.filter(([k]) => !pred(dec(k))));
  const h = { ...headers };
  const u = new URL(url);
  switch (ctx.c.meta.provider) {
    case 's3': {
      if (names.includes('X-Amz-Algorithm')) {
        const signedHeaders = (get('X-Amz-SignedHeaders') ?? 'host').split(';').filter(Boolean);
        url = await presignSigV4(a, method, without((n) => n.startsWith('X-Amz-')), { signedHeaders, headers: h,
          expiresIn: Number(get('X-Amz-Expires') ?? 3600), now: ctx.now });
      }
      if (h.authorization) {
        delete h.authorization; delete h['x-amz-date'];
        Object.assign(h, await signSigV4Header(a, method, url, h['x-amz-content-sha256'] ?? EMPTY_SHA256, ctx.now));
      }
      break;
    }
    case 'cos': {
      const start = Math.floor(ctx.now / 1000);
      const sign = (paramNames: string[], headerNames: string[], query: [string, string][]) => {
        const params: Record<string, string> = {};
        for (const n of paramNames) { const v = query.find(([k]) => k.toLowerCase() === n.toLowerCase()); if (v) params[n] = v[1]; }
        const hs: Record<string, string> = {};
        for (const n of headerNames) hs[n] = n.toLowerCase() === 'host' ? u.host : h[n.toLowerCase()] ?? '';
        return cosAuthorization({ secretId: a.accessKey, secretKey: a.secretKey, method, path: dec(u.pathname), params, headers: hs, start, end: start + 3600 });
      };
      if (names.includes('q-sign-algorithm')) {
        const rest = splitRawQuery(new URL(without((n) => n.startsWith('q-'))).search);
        const auth = sign((get('q-url-param-list') ?? '').split(';').filter(Boolean), (get('q-header-list') ?? '').split(';').filter(Boolean), rest);
        const authQuery = auth.split('&').map((kv) => { const j = kv.indexOf('='); return `${kv.slice(0, j)}=${encodeURIComponent(kv.slice(j + 1))}`; }).join('&');
        const stripped = without((n) => n.startsWith('q-'));
        url = `${stripped}${stripped.includes('?') ? '&' : '?'}${authQuery}`;
      }
      if (h.authorization) h.authorization = sign(names, ['host'], splitRawQuery(u.search));
      break;
    }
    case 'oss': {
      const { bucket, key } = bucketKey(ctx, u);
      const lower = Object.fromEntries(Object.entries(h).filter(([k]) => k === 'content-type' || k === 'content-md5' || k.startsWith('x-oss-')));
      if (names.includes('x-oss-signature-version')) {
        url = ossPresignV4({ accessKeyId: a.accessKey, accessKeySecret: a.secretKey, region: a.region ?? 'cn-hangzhou', method, bucket, key, headers: lower,
          url: without((n) => ['x-oss-credential', 'x-oss-date', 'x-oss-expires', 'x-oss-signature-version', 'x-oss-signature', 'x-oss-additional-headers'].includes(n)),
          expiresSeconds: Number(get('x-oss-expires') ?? 3600), now: ctx.now });
      } else if (names.includes('OSSAccessKeyId')) {
        url = ossPresignV1({ accessKeyId: a.accessKey, accessKeySecret: a.secretKey, method, bucket, key, headers: lower,
          url: without((n) => ['OSSAccessKeyId', 'Expires', 'Signature'].includes(n)), expires: Math.floor(ctx.now / 1000) + 3600 });
      }
      if (h.authorization) {
        delete h.authorization; delete h.date; delete h['x-oss-date'];
        const signed = ossV1Header(a, method, bucket, key, parseRawQuery(new URL(url).search), h, ctx.now);
        Object.assign(h, signed);
      }
      break;
    }
    case 'obs': {
      const { canonicalPath } = bucketKey(ctx, u);
      const prefixed = Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith('x-obs-') || k.startsWith('x-amz-')));
      if (names.includes('AccessKeyId') || names.includes('AWSAccessKeyId')) {
        const flavor = names.includes('AccessKeyId') ? OBS_SIGNATURE : OBS_V2_SIGNATURE;
        url = presignV2({ method, url: new URL(without((n) => ['AccessKeyId', 'AWSAccessKeyId', 'Expires', 'Signature'].includes(n))), canonicalPath,
          accessKeyId: a.accessKey, secretAccessKey: a.secretKey, expires: Math.floor(ctx.now / 1000) + 3600, contentType: h['content-type'] ?? '',
          ...(h['content-md5'] ? { contentMd5: h['content-md5'] } : {}), headers: prefixed, flavor });
      }
      if (h.authorization) {
        const flavor = h.authorization.startsWith('OBS') ? OBS_SIGNATURE : OBS_V2_SIGNATURE;
        h.date = new Date(ctx.now).toUTCString();
        h.authorization = v2AuthorizationHeader(a, flavor, method, canonicalPath, splitRawQuery(u.search), h, h.date);
      }
      break;
    }
    case 'qiniu': {
      if (h.authorization) {
        const recorded = (ctx.c.meta.decoded?.put_policy ?? {}) as QiniuPutPolicy;
        const policy: QiniuPutPolicy = { ...recorded, deadline: Math.floor(ctx.now / 1000) + 3600,
          ...(recorded.callbackUrl ? { callbackUrl: rehook(recorded.callbackUrl, ctx.hookBase) } : {}) };
        h.authorization = `UpToken ${qiniuUploadToken(a.accessKey, a.secretKey, policy)}`;
      }
      break;
    }
    case 'onedrive':
      if (h.authorization) h.authorization = `Bearer ${a.secretKey}`;
      break;
    case 'upyun':
      break;
  }
  return { url, headers: h };
}

/** Query parameters bound to the signing moment: re-made by replay like the signatures. */
const TIME_QUERY_KEYS: ReadonlySet<string> = new Set(['x-amz-date', 'expires', 'x-oss-date', 'q-sign-time', 'q-key-time']);

/**
 * How the request replay sends differs from the recorded one beyond what replay relaxes (signatures, keys, signing
 * times, callback policies; ids already mapped): a replay fault, reported like a difference.
 */
function requestDrift(recordedUrl: string, sentUrl: string): string[] {
  if (recordedUrl === REDACTED) return [];
  const a = splitRaw(recordedUrl);
  const b = splitRaw(sentUrl);
  const out: string[] = [];
  if (dec(a.base) !== dec(b.base)) out.push(`request: sent to ${b.base}, recorded ${a.base}`);
  const kept = (pairs: [string, string | undefined][]) => pairs.map(([k, v]) => [dec(k), v === undefined ? '' : dec(v)] as const)
    .filter(([k]) => { const n = k.toLowerCase(); return !REDACTED_QUERY_KEYS.has(n) && !POLICY_QUERY_KEYS.has(n) && !TIME_QUERY_KEYS.has(n); })
    .map(([k, v]) => `${k}=${v}`).sort();
  const ka = kept(a.pairs);
  const kb = kept(b.pairs);
  if (JSON.stringify(ka) !== JSON.stringify(kb)) out.push(`request: query ${kb.join('&')}, recorded ${ka.join('&')}`);
  return out;
}

/** Re-encodes the callback policies a URL carries (decoded in the cassette) with the replay's callback URL. */
function restorePolicies(url: string, decoded: Record<string, unknown> | undefined, hookBase: string): string {
  if (!decoded) return url;
  const { base, pairs } = splitRaw(url);
  return joinRaw(base, pairs.map(([k, v]): [string, string | undefined] => {
    const p = decoded[dec(k)];
    if (!p || typeof p !== 'object') return [k, v];
    const policy = { ...(p as Record<string, unknown>) };
    if (typeof policy.callbackUrl === 'string') policy.callbackUrl = rehook(policy.callbackUrl, hookBase);
    return [k, encodeURIComponent(Buffer.from(JSON.stringify(policy)).toString('base64'))];
  }));
}

/** The Upyun form with the policy and signature the replay account makes (notify-url to the replay's stand-in). */
function restoreUpyunForm(ctx: ReplayContext, body: Buffer): Buffer {
  const p = (ctx.c.meta.decoded?.upload_policy ?? {}) as Record<string, unknown>;
  const policy = { ...p, expiration: Math.floor(ctx.now / 1000) + 3600, ...(typeof p['notify-url'] === 'string' ? { 'notify-url': rehook(p['notify-url'], ctx.hookBase) } : {}) };
  const form = upyunFormCredentials(ctx.account.accessKey, ctx.account.secretKey, ctx.account.bucket, policy);
  const text = body.toString('latin1');
  return Buffer.from(text.replace(`name="policy"\r\n\r\n${REDACTED}`, `name="policy"\r\n\r\n${form.policy}`)
    .replace(`name="authorization"\r\n\r\n${REDACTED}`, `name="authorization"\r\n\r\n${form.authorization}`), 'latin1');
}

/**
 * Replays a cassette's provider requests (server and client roles, in order) against the current emulator, offline:
 * the emulator is mounted with nock on the recorded origins, each request re-signed with the emulator's keys (see the
 * top of this file for what is relaxed), and each answer compared with the recorded one (compareObserved).
 */
export async function replayCassette(c: Cassette, options: {
  timeoutMs?: number;
  /** Wraps the emulator (tests: an emulator made to drift must fail the replay). */
  wrap?: (emu: ProviderEmulator) => ProviderEmulator;
} = {}): Promise<ReplayReport> {
  const provider = c.meta.provider;
  const account: ProviderAccount = { ...EMULATOR_ACCOUNTS[provider], endpoint: c.meta.account.endpoint, bucket: c.meta.account.bucket,
    ...(c.meta.account.region ? { region: c.meta.account.region } : {}), ...(c.meta.account.pathStyle ? { pathStyle: true } : {}) };
  const emu = emulatorFor(account);
  const origins = [...new Set(c.interactions.filter((i) => i.role !== 'cloudreve' && i.request.url !== REDACTED).map((i) => new URL(i.request.url).origin))];
  let hook = await startStandIn();
  for (let tries = 0; origins.includes(hook.url) && tries < 5; tries++) { await hook.close(); hook = await startStandIn(); }
  const unmount = mountNock(nockSafe(options.wrap ? options.wrap(emu) : emu), origins);
  const ctx: ReplayContext = { c, account, hookBase: c.meta.providerCallback === 'unreachable' ? 'http://127.0.0.1:1' : hook.url, now: Date.now() };
  const payload = new Payload(c.meta.payload.seed, c.meta.payload.size);
  const ids = new IdMap();
  const exchanges: ReplayExchange[] = [];
  try {
    for (const i of c.interactions) {
      const recorded = observe(i.response.status, i.response.headers, bodyBytes(i.response.body, payload));
      if (i.role === 'cloudreve') {
        exchanges.push({ step: i.step, role: i.role, method: i.request.method, recorded, differences: [], skipped: 'the driver calling Cloudreve, not a provider answer' });
        continue;
      }
      let url = ids.apply(i.request.url);
      url = restorePolicies(url, i.request.decoded, ctx.hookBase);
      let body = bodyBytes(i.request.body, payload);
      const headers: Record<string, string> = { ...i.request.headers };
      if (body && provider === 'upyun' && (headers['content-type'] ?? '').startsWith('multipart/form-data')) {
        body = restoreUpyunForm(ctx, body);
        if (headers['content-length'] !== undefined) headers['content-length'] = String(body.length);
      }
      const signed = await resign(ctx, i.request.method, url, headers);
      let replayed: Observed;
      let replayedText = '';
      try {
        const res = await fetch(new Request(signed.url, { method: i.request.method, headers: signed.headers, redirect: 'manual',
          signal: AbortSignal.timeout(options.timeoutMs ?? 30_000), ...(body && body.length ? { body } : {}) }));
        const buf = Buffer.from(await res.arrayBuffer());
        replayedText = buf.toString('utf8');
        const resHeaders = Object.fromEntries(res.headers.entries());
        replayed = observe(Number(resHeaders[STATUS_HEADER] ?? res.status), resHeaders, buf);
      } catch (e) {
        replayed = { status: 0, bodyKind: 'text', shape: [], etag: false, providerCode: `network: ${(e as Error).message}` };
      }
      if (i.role === 'server' || i.step === 'createUploadSession') ids.learn(bodyBytes(i.response.body, payload)?.toString('utf8') ?? '', replayedText);
      exchanges.push({ step: i.step, role: i.role, method: i.request.method, url: redactUrl(signed.url), recorded, replayed,
        differences: [...requestDrift(ids.apply(i.request.url), signed.url), ...compareObserved(recorded, replayed)] });
    }
    await emu.flush?.();
  } finally {
    unmount();
    await hook.close();
  }
  return { provider, scenario: c.meta.scenario, exchanges,
    differences: exchanges.flatMap((x) => x.differences.map((d) => `${x.step}: ${d}`)) };
}
