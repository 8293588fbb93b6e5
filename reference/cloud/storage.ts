// Entities of cloud policies: which policy stores each (by its object key), the driver of each cloud policy type, and
// the master's Blobs for them (reads, relay writes, sizes and removals go to the provider through the driver).
import { PassThrough, type Readable } from 'node:stream';
import { RemoteAwareBlobs } from '../slave/master.js';
import { renderSavePath } from '../save-path.js';
import type { EntityRow, PolicyRow, State } from '../state.js';
import type { Services } from '../http.js';
import { isCloudType, type CloudDriver, type CloudType } from './types.js';
import { CLOUD_DRIVERS } from './index.js';

export class CloudStorage {
  /** Object key of every entity stored on a cloud policy → its policy id. */
  readonly sources = new Map<string, number>();

  constructor(readonly st: State) {}

  /** The driver of a cloud policy (relay or not); undefined for local and remote policies. */
  driverOf(policy: PolicyRow | undefined): CloudDriver | undefined {
    if (!policy || !isCloudType(policy.type)) return undefined;
    return CLOUD_DRIVERS[policy.type as CloudType];
  }

  policyOfSource(source: string): PolicyRow | undefined {
    const id = this.sources.get(source);
    return id === undefined ? undefined : this.st.policies.get(id);
  }

  /** Gives a new entity of a cloud policy its object key (the policy's name rules), and remembers it. */
  adopt(entity: EntityRow, policy: PolicyRow, uid: number, segments: string[]): void {
    if (!isCloudType(policy.type)) return;
    let key = '';
    for (let i = 0; i < 8 && (key === '' || this.sources.has(key)); i++) key = renderSavePath(policy, uid, segments);
    entity.source = key;
    this.sources.set(key, policy.id);
  }
}

/** The master's Blobs: local files, slave-node files (RemoteAwareBlobs), and objects of cloud policies. */
export class StorageBlobs extends RemoteAwareBlobs {
  readonly cloud: CloudStorage;

  constructor(dataDir: string, st: State) {
    super(dataDir, st);
    this.cloud = new CloudStorage(st);
  }

  private cloudOf(source: string): { policy: PolicyRow; driver: CloudDriver } | undefined {
    const policy = this.cloud.policyOfSource(source);
    const driver = this.cloud.driverOf(policy);
    return policy && driver ? { policy, driver } : undefined;
  }

  override async create(source: string, size: number, preallocate: boolean): Promise<void> {
    // A cloud object is created by its upload (multipart session or relay put).
    if (!this.cloudOf(source)) await super.create(source, size, preallocate);
  }

  override async writeAt(source: string, offset: number, body: Readable, length: number): Promise<number> {
    const c = this.cloudOf(source);
    if (!c) return super.writeAt(source, offset, body, length);
    if (offset !== 0) throw new Error('a cloud object is written whole');
    await c.driver.put(c.policy, source, body, length);
    return length;
  }

  override read(source: string, range?: { start: number; end: number }): Readable {
    const c = this.cloudOf(source);
    if (!c) return super.read(source, range);
    const out = new PassThrough();
    c.driver.get(c.policy, source, range).then((r) => {
      if (!r) return out.destroy(new Error(`object ${source} not found on the provider`));
      r.on('error', (e) => out.destroy(e)).pipe(out);
    }, (e: unknown) => out.destroy(e as Error));
    return out;
  }

  override async size(source: string): Promise<number> {
    const c = this.cloudOf(source);
    if (!c) return super.size(source);
    return (await c.driver.head(c.policy, source).catch(() => undefined)) ?? -1;
  }

  override async remove(source: string): Promise<void> {
    const c = this.cloudOf(source);
    if (!c) return super.remove(source);
    // Best effort, as the entity recycler is.
    await c.driver.remove(c.policy, source).catch(() => undefined);
    this.cloud.sources.delete(source);
  }
}

export function cloudOf(svc: Services): CloudStorage | undefined {
  return svc.blobs instanceof StorageBlobs ? svc.blobs.cloud : undefined;
}
