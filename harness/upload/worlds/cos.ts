// The `cos` provider world: a Tencent COS emulator (harness/cloud/cos.ts) on a loopback port, with fresh keys and a
// bucket `<name>-1250000000` named after the run, and the admin-API fields of a `cos` policy pointing at it as
// Cloudreve 4.18 reads them (pkg/filemanager/driver/cos/cos.go New): `server` is the bucket URL the SDK sends every
// call to (objects at <server origin>/<key>). On a host that is not `<bucket>-<appid>.cos.<region>.myqcloud.com` —
// the loopback mount — the emulator serves this world's bucket, so `server` is just the mount URL. `bucket_name` is
// informational for Cloudreve (the URL names the bucket); no settings are needed (COS has no signing region).
//
// Parts: 64 KiB chunks, and the emulator refuses a non-last part below 64 KiB at completion (real COS: 1 MB), so a
// short part still fails as on COS while the suite's files stay small. COS's completion is the client's own callback
// (GET /callback/cos/<sid>/<key>), so the emulator never calls the target.
import { randomBytes } from 'node:crypto';
import { CosEmulator } from '../../cloud/cos.js';
import type { ProviderWorld, ProviderWorldFactory, WorldOptions } from '../provider-world.js';
import { mountWorld, runBucketName, storedObjects, uploadInBucket } from './common.js';

export const COS_CHUNK_SIZE = 64 * 1024;
export const COS_REGION = 'ap-guangzhou';
export const COS_APPID = '1250000000';

export interface CosWorld extends ProviderWorld {
  emulator: CosEmulator;
  bucket: string;
}

/** COS bucket names: a-z, 0-9 and '-', `<name>-<appid>` at most 50 characters. */
export function cosBucketName(runTag: string): string {
  return `${runBucketName(runTag, { max: 50 - COS_APPID.length - 1 })}-${COS_APPID}`;
}

export async function openCosWorld(o: WorldOptions): Promise<CosWorld> {
  const partSize = o.partSize ?? COS_CHUNK_SIZE;
  const secretId = `AKID${randomBytes(16).toString('hex')}`;
  const secretKey = randomBytes(24).toString('base64url');
  const bucket = cosBucketName(o.runTag);
  const emulator = new CosEmulator({ secretId, secretKey, bucket, region: COS_REGION, minPartSize: partSize });
  const world = await mountWorld({ policy: 'cos', emulator,
    fields: { bucket_name: bucket, access_key: secretId, secret_key: secretKey, settings: {} },
    chunkSize: partSize,
    uploadOpen: uploadInBucket(bucket, (id) => emulator.upload(id)),
    objects: () => storedObjects(emulator.listObjects(bucket)),
    secrets: [secretKey] });
  return { ...world, bucket };
}

export const cosWorld: ProviderWorldFactory = (o) => openCosWorld(o);
