// What the provider worlds have in common: the emulator mounted on a loopback port and described as a ProviderWorld
// (the policy's `server` is the mount), bucket names derived from the run tag, the objects listing, and whether a
// multipart upload is still open at the emulator. Each worlds/<provider>.ts keeps its credentials, bucket rules and
// emulator options.
import { mountLoopback, type ProviderEmulator } from '../../cloud/mount.js';
import type { UploadSession } from '../driver.js';
import type { ProviderPolicyFields, ProviderWorld, StoredObject } from '../provider-world.js';

/** A world before its emulator is mounted: the policy fields but `server` (the mount's URL, or `server(url)`). */
export type WorldSpec<E extends ProviderEmulator> = Omit<ProviderWorld, 'url' | 'policyFields' | 'close'> & {
  emulator: E;
  fields: Omit<ProviderPolicyFields, 'server'>;
  server?: (url: string) => string;
  /** Runs before the mount closes (wait for what the emulator still sends). */
  beforeClose?: () => Promise<void>;
};

/** Mounts the emulator on a loopback port and describes the policy pointing at it. */
export async function mountWorld<E extends ProviderEmulator>(w: WorldSpec<E>): Promise<ProviderWorld & { emulator: E }> {
  const { fields, server, beforeClose, ...world } = w;
  const mount = await mountLoopback(w.emulator);
  return { ...world, url: mount.url, policyFields: { server: server ? server(mount.url) : mount.url, ...fields },
    close: async () => { await beforeClose?.(); await mount.close(); } };
}

/**
 * `cr-<run tag>` as a bucket name: a-z, 0-9 and '-', at most `max` characters, not ending in '-'; `-<short>` appended
 * when that leaves fewer than 3 characters (without `short`, the caller completes the name).
 */
export function runBucketName(runTag: string, o: { max: number; short?: string }): string {
  const name = `cr-${runTag.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`.slice(0, o.max).replace(/-+$/, '');
  return o.short === undefined || name.length >= 3 ? name : `${name}-${o.short}`;
}

/** Key and size of each stored object (its `key`, or its `path` without the leading '/'), sorted by key. */
export function storedObjects(items: readonly (({ key: string } | { path: string }) & { body: Buffer })[]): StoredObject[] {
  return items.map((x) => ({ key: 'key' in x ? x.key : x.path.replace(/^\/+/, ''), size: x.body.length }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** uploadOpen of a multipart upload the emulator finds by id (undefined: unknown, or no longer open), in `bucket`. */
export function uploadInBucket(bucket: string, find: (uploadId: string) => { bucket: string } | undefined): (session: UploadSession) => boolean {
  return (session) => {
    const u = session.upload_id ? find(session.upload_id) : undefined;
    return u !== undefined && u.bucket === bucket;
  };
}
