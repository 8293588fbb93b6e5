// The `upyun` provider world: an Upyun USS emulator (harness/cloud/upyun.ts) on a loopback port, with a fresh operator
// and password and a bucket (service) named after the run, and the admin-API fields of an `upyun` policy as the
// embedded reference target reads them (reference/cloud/upyun.ts; a real Cloudreve hard-codes v0.api.upyun.com, so
// this policy only runs against the reference): `server` is the API host (form uploads to `<server>/<bucket>`, REST
// calls), `bucket_name` the service, `access_key`/`secret_key` the operator and its password.
//
// No chunks: the client sends the whole file in one form POST (chunk size 0). The emulator notifies the callback URL of
// the form policy asynchronously, after answering the client, as Upyun does: `emulator.flush()` waits for the notifies
// sent so far; a test without the emulator polls the file instead.
import { randomBytes } from 'node:crypto';
import { UpyunEmulator } from '../../cloud/upyun.js';
import type { ProviderWorld, ProviderWorldFactory, WorldOptions } from '../provider-world.js';
import { mountWorld, runBucketName, storedObjects } from './common.js';

/** The world plus its emulator, for tests that look closer (notifications, files, requests). */
export interface UpyunWorld extends ProviderWorld {
  emulator: UpyunEmulator;
  bucket: string;
}

/** Upyun service names: a-z, 0-9 and '-', starting and ending with a letter or digit (at most 63 kept). */
export function upyunBucketName(runTag: string): string {
  return runBucketName(runTag, { max: 63, short: 'up' });
}

export async function openUpyunWorld(o: WorldOptions): Promise<UpyunWorld> {
  const operator = `op${randomBytes(6).toString('hex')}`;
  const password = randomBytes(24).toString('base64url');
  const bucket = upyunBucketName(o.runTag);
  const emulator = new UpyunEmulator({ operator, password, buckets: [bucket] });
  const world = await mountWorld({ policy: 'upyun', emulator,
    fields: { bucket_name: bucket, access_key: operator, secret_key: password, settings: {} },
    chunkSize: 0,
    uploadOpen: () => undefined,
    objects: () => storedObjects(emulator.listFiles(bucket)),
    secrets: [password],
    beforeClose: () => emulator.flush() });
  return { ...world, bucket };
}

export const upyunWorld: ProviderWorldFactory = (o) => openUpyunWorld(o);
