// The `oss` provider world: an Aliyun OSS emulator (harness/cloud/oss.ts) on a loopback port, with fresh keys and a
// bucket named after the run, and the admin-API fields of an `oss` policy pointing at it as Cloudreve 4.18 reads them
// (pkg/filemanager/driver/oss/oss.go InitOSSClient): `server` is the OSS endpoint (an IP endpoint, so the OSS Go SDK
// v2 — and the reference target — address the bucket path-style, /<bucket>/<key>), `bucket_name` the bucket,
// `settings.region` the V4 signing region.
//
// Parts: 64 KiB chunks, and the emulator refuses a non-last part below 64 KiB at completion (real OSS: 100 KiB), so a
// short part still fails as on OSS while the suite's files stay small.
//
// The completion callback: the emulator posts it to the callback URL in the complete URL and signs it with its RSA key,
// announcing the key's URL in `x-oss-pub-key-url`. By default that is `<emulator>/__oss/pubkey.pem`, signed with a
// key generated per process, which the embedded reference target trusts (the policy's own endpoint).
//
// A real Cloudreve only fetches callback keys from http(s)://gosspublic.alicdn.com/ (4.18.0
// pkg/filemanager/driver/oss/callback.go GetPublicKey) and caches the first one it gets for 7 days. The explicit switch
// for it is the environment variable
//
//   CONFORMANCE_OSS_PINNED_KEY=1
//
// with which the world announces `http://gosspublic.alicdn.com/callback_pub_key_v1.pem` and signs with the pinned
// PUBLIC TEST key of fixtures/oss-callback-key.pem (the same in every run, so the cached key keeps matching). The
// Cloudreve under test must then be started with `HTTP_PROXY=http://127.0.0.1:5390` while
// `npx tsx tools/oss-key-proxy.ts --port 5390` runs: the proxy answers that URL with the pinned public key and
// refuses everything else; Go's ProxyFromEnvironment never proxies 127.0.0.1/localhost, so the loopback emulator and
// the callbacks stay direct. See docs/real-server.md › "OSS against a real Cloudreve".
import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { OssEmulator } from '../../cloud/oss.js';
import type { ProviderWorld, ProviderWorldFactory, WorldOptions } from '../provider-world.js';
import { mountWorld, runBucketName, storedObjects, uploadInBucket } from './common.js';

export const OSS_CHUNK_SIZE = 64 * 1024;
export const OSS_REGION = 'cn-hangzhou';
/** The key URL a real Cloudreve accepts (served to it by tools/oss-key-proxy.ts, its HTTP proxy). */
export const OSS_PUBLIC_KEY_URL = 'http://gosspublic.alicdn.com/callback_pub_key_v1.pem';
/** The environment variable that switches the world to {@link OSS_PUBLIC_KEY_URL} and the pinned test key. */
export const OSS_PINNED_KEY_ENV = 'CONFORMANCE_OSS_PINNED_KEY';
/** The pinned PUBLIC TEST key pair's private half (PEM with an explanatory preamble; not a secret). */
export const OSS_PINNED_KEY_FILE = new URL('../../../fixtures/oss-callback-key.pem', import.meta.url);

/** The pinned test key pair: the private key PEM (PKCS#8, preamble stripped) and its public key PEM (PKIX). */
export function pinnedOssCallbackKey(): { privateKeyPem: string; publicKeyPem: string } {
  const key = createPrivateKey(readFileSync(OSS_PINNED_KEY_FILE, 'utf8'));
  return { privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString() };
}

/** The world's key options the environment asks for: the pinned key and the gosspublic URL with `CONFORMANCE_OSS_PINNED_KEY=1`. */
export function ossWorldOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): OssWorldOptions {
  const v = env[OSS_PINNED_KEY_ENV];
  if (v === undefined || v === '' || v === '0') return {};
  if (v !== '1') throw new Error(`${OSS_PINNED_KEY_ENV} must be 1 (or 0/unset), not ${JSON.stringify(v)}`);
  return { publicKeyUrl: OSS_PUBLIC_KEY_URL, callbackPrivateKeyPem: pinnedOssCallbackKey().privateKeyPem, pinned: true };
}

export interface OssWorldOptions {
  /** URL announced in `x-oss-pub-key-url` (default: the emulator's own /__oss/pubkey.pem). */
  publicKeyUrl?: string;
  /** RSA private key (PEM) the callbacks are signed with (default: one generated per process). */
  callbackPrivateKeyPem?: string;
  /** The key is the pinned public test key: not registered as a secret (it is published in fixtures/). */
  pinned?: boolean;
}

/** The world plus its emulator, for tests that look closer (callback records, requests). */
export interface OssWorld extends ProviderWorld {
  emulator: OssEmulator;
  bucket: string;
}

/** OSS bucket names: 3-63 of a-z, 0-9 and '-', starting and ending with a letter or digit. */
export function ossBucketName(runTag: string): string {
  return runBucketName(runTag, { max: 63, short: 'oss' });
}

export async function openOssWorld(o: WorldOptions, extra: OssWorldOptions = {}): Promise<OssWorld> {
  const partSize = o.partSize ?? OSS_CHUNK_SIZE;
  const accessKeyId = `LTAI${randomBytes(10).toString('hex')}`;
  const accessKeySecret = randomBytes(22).toString('base64url');
  const bucket = ossBucketName(o.runTag);
  const emulator = new OssEmulator({ accessKeyId, accessKeySecret, region: OSS_REGION, buckets: [bucket], minPartSize: partSize,
    publicKeyUrl: extra.publicKeyUrl, callbackPrivateKeyPem: extra.callbackPrivateKeyPem });
  const world = await mountWorld({ policy: 'oss', emulator,
    fields: { bucket_name: bucket, access_key: accessKeyId, secret_key: accessKeySecret, settings: { region: OSS_REGION } },
    chunkSize: partSize,
    uploadOpen: uploadInBucket(bucket, (id) => emulator.upload(id)),
    objects: () => storedObjects(emulator.listObjects(bucket)),
    secrets: [accessKeySecret, ...(extra.callbackPrivateKeyPem && !extra.pinned ? [extra.callbackPrivateKeyPem] : [])] });
  return { ...world, bucket };
}

export const ossWorld: ProviderWorldFactory = (o) => openOssWorld(o, ossWorldOptionsFromEnv());
