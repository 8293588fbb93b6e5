// Provider worlds of the S3 family (see ../provider-world.ts): the S3 and KS3 emulators on a loopback port, each with a
// fresh random key pair and one bucket named after the run, and the relay world (an S3 policy with `relay: true`: the
// client sends the whole file to the target, which stores it with PutObject). The policy fields are those a real
// Cloudreve 4.18 accepts too (recorded: fixtures/transcripts/cloudreve-4.18.0-policies/s3.jsonl, cloud_sessions.jsonl):
// `server` = the loopback URL, `bucket_name`, the keys, `settings.region` us-east-1 and `settings.s3_path_style` on
// (an IP endpoint has no virtual-hosted buckets). Parts are 64 KiB: the emulators' minimum part size is set to that
// and still enforced, so a too-small part that is not the last one is refused at completion, as S3 refuses one under
// 5 MiB. The relay world keeps S3's real 5 MiB: there the target itself uploads, and Cloudreve's S3 driver hands the
// policy's chunk size to aws-sdk-go v1's s3manager as its PartSize, which refuses anything under 5 MiB
// ("part size must be at least 5242880 bytes") before sending a byte — a relay policy with smaller chunks could
// never store a file on a real server. (The same s3manager call stores PUT /file/content files of s3 policies.)
import { createHash, randomBytes } from 'node:crypto';
import { S3Emulator } from '../../cloud/s3.js';
import { Ks3Emulator } from '../../cloud/ks3.js';
import type { S3FamilyEmulator, S3FamilyOptions } from '../../cloud/s3-core.js';
import type { CloudPolicy, ProviderWorld, ProviderWorldFactory, WorldOptions } from '../provider-world.js';
import { mountWorld } from './common.js';

/** Part size of the S3-family worlds (the emulators' enforced minimum part size). */
export const WORLD_CHUNK_SIZE = 64 * 1024;
/** Chunk size of the relay world: S3's minimum part size, the least aws-sdk-go v1's s3manager accepts as PartSize. */
export const RELAY_CHUNK_SIZE = 5 * 1024 * 1024;
export const WORLD_REGION = 'us-east-1';

/** An S3-valid bucket name from the run tag: lowercase letters, digits and hyphens, 3-63 characters. */
export function bucketFor(runTag: string): string {
  let name = `cr-${runTag}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/-$/, '');
  if (name.length > 63) name = `${name.slice(0, 50).replace(/-+$/, '')}-${createHash('sha256').update(runTag).digest('hex').slice(0, 12)}`;
  return name.length >= 3 ? name : `${name}-bucket`;
}

/** A fresh key pair shaped like AWS's: a 20-character access key id and a 40-character secret ('+' and '/' included). */
export function freshCredential(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: `CR${randomBytes(9).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64') };
}

/** A world of the S3 family, with its emulator and bucket for the project's own tests. */
export interface S3FamilyWorld<E extends S3FamilyEmulator = S3FamilyEmulator> extends ProviderWorld {
  emulator: E;
  bucket: string;
}

/**
 * Starts `make`'s emulator with a fresh key pair and the run's bucket on loopback and describes the policy pointing at
 * it. `relay`: the provider keeps no upload state of a session (uploadOpen is undefined).
 */
export async function startS3FamilyWorld<E extends S3FamilyEmulator>(policy: CloudPolicy, o: WorldOptions,
  make: (opts: S3FamilyOptions) => E,
  extra: { settings?: Record<string, unknown>; relay?: boolean; chunkSize?: number } = {}): Promise<S3FamilyWorld<E>> {
  const credential = freshCredential();
  const bucket = bucketFor(o.runTag);
  const chunkSize = extra.chunkSize ?? o.partSize ?? WORLD_CHUNK_SIZE;
  const emulator = make({ credentials: credential, buckets: [bucket], region: WORLD_REGION, minPartSize: chunkSize,
    enforceMinPartSize: true });
  const world = await mountWorld({ policy, emulator,
    fields: { bucket_name: bucket, access_key: credential.accessKeyId, secret_key: credential.secretAccessKey,
      settings: { region: WORLD_REGION, s3_path_style: true, ...extra.settings } },
    chunkSize,
    uploadOpen: (session) => (extra.relay ? undefined
      : !!session.upload_id && emulator.listUploads(bucket).some((u) => u.uploadId === session.upload_id)),
    objects: () => emulator.listObjects(bucket).map(({ key, size }) => ({ key, size })),
    secrets: [credential.secretAccessKey, credential.accessKeyId] });
  return { ...world, bucket };
}

export const startS3World = (o: WorldOptions) => startS3FamilyWorld('s3', o, (opts) => new S3Emulator(opts));
export const startKs3World = (o: WorldOptions) => startS3FamilyWorld('ks3', o, (opts) => new Ks3Emulator(opts));
export const startRelayWorld = (o: WorldOptions) =>
  startS3FamilyWorld('relay', o, (opts) => new S3Emulator(opts), { settings: { relay: true }, relay: true, chunkSize: RELAY_CHUNK_SIZE });

export const s3World: ProviderWorldFactory = startS3World;
export const ks3World: ProviderWorldFactory = startKs3World;
export const relayWorld: ProviderWorldFactory = startRelayWorld;
