// The `qiniu` provider world: a Qiniu Kodo emulator (harness/cloud/qiniu.ts) on a loopback port, with fresh AK/SK and a
// bucket named after the run, and the admin-API fields of a `qiniu` policy as the embedded reference target reads them
// (reference/cloud/qiniu.ts; a real Cloudreve asks uc.qbox.me for the bucket's hosts, so this policy only runs against
// the reference): `server` is the upload (and management, and download) host, `bucket_name` the bucket,
// `access_key`/`secret_key` the AK/SK.
//
// Parts: 64 KiB chunks, and the emulator refuses a non-last part below 64 KiB at completion (real Qiniu: 1 MiB), so a
// short part still fails as on Qiniu while the suite's files stay small. The emulator POSTs the upload callback to the
// callback URL of the upload token (the target's siteURL) and relays the target's answer to the client.
import { randomBytes } from 'node:crypto';
import { QiniuEmulator } from '../../cloud/qiniu.js';
import type { ProviderWorld, ProviderWorldFactory, WorldOptions } from '../provider-world.js';
import { mountWorld, runBucketName, storedObjects, uploadInBucket } from './common.js';

export const QINIU_CHUNK_SIZE = 64 * 1024;

/** The world plus its emulator, for tests that look closer (callback records, uploads, requests). */
export interface QiniuWorld extends ProviderWorld {
  emulator: QiniuEmulator;
  bucket: string;
}

/** Qiniu bucket names: 3-63 of a-z, 0-9 and '-', starting and ending with a letter or digit. */
export function qiniuBucketName(runTag: string): string {
  return runBucketName(runTag, { max: 63, short: 'qn' });
}

export async function openQiniuWorld(o: WorldOptions): Promise<QiniuWorld> {
  const accessKey = randomBytes(30).toString('base64url').slice(0, 40);
  const secretKey = randomBytes(30).toString('base64url').slice(0, 40);
  const bucket = qiniuBucketName(o.runTag);
  const emulator = new QiniuEmulator({ accessKey, secretKey, buckets: [bucket], minPartSize: QINIU_CHUNK_SIZE });
  const world = await mountWorld({ policy: 'qiniu', emulator,
    fields: { bucket_name: bucket, access_key: accessKey, secret_key: secretKey, settings: {} },
    chunkSize: QINIU_CHUNK_SIZE,
    // An upload past its expiry is not open any more.
    uploadOpen: uploadInBucket(bucket, (id) => emulator.uploads().find((x) => x.uploadId === id && x.expireAt * 1000 >= Date.now())),
    objects: () => storedObjects(emulator.listObjects(bucket)),
    secrets: [secretKey] });
  return { ...world, bucket };
}

export const qiniuWorld: ProviderWorldFactory = (o) => openQiniuWorld(o);
