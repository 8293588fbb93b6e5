// The run's own namespace on the target: cloudreve://my/.conformance-<run-id>/ in each identity's space. Everything
// the suite creates lives there; it is swept before and after, and the harness refuses to delete anywhere else.
import { createHash } from 'node:crypto';
import { Code } from '../contracts/generated/error-codes.js';
import { unwrap, type CloudreveClient } from './client/index.js';

export const SANDBOX_PREFIX = '.conformance-';

export function sandboxRoot(runId: string): string {
  return `cloudreve://my/${SANDBOX_PREFIX}${runId}`;
}

/** A folder name for a test: readable, unique per title and retry, within Cloudreve's name limits. */
export function slugFor(title: string, retry = 0): string {
  const readable = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48);
  const hash = createHash('sha256').update(`${title}#${retry}`).digest('hex').slice(0, 8);
  return `${readable}-${hash}`;
}

export interface LeakReport { worker: number; identity: string; filesLeft: number; quotaDelta: number }

export class Sandbox {
  readonly root: string;
  private baseline = 0;

  constructor(private readonly client: CloudreveClient, readonly runId: string, readonly worker: number, readonly identity: string) {
    this.root = `${sandboxRoot(runId)}/w${worker}`;
  }

  isInside(uri: string): boolean {
    const u = decodeURI(uri);
    return (u === this.root || u.startsWith(`${this.root}/`)) && !u.split('/').includes('..');
  }

  /** Deletes uris for good; refuses anything outside the sandbox. */
  async remove(uris: string[]): Promise<void> {
    const outside = uris.filter((u) => !this.isInside(u));
    if (outside.length) throw new Error(`refusing to delete outside the sandbox ${this.root}: ${outside.join(', ')}`);
    const res = await this.client.DELETE('/file', { body: { uris, skip_soft_delete: true } });
    const body = res.data as { code: number } | undefined;
    // A folder that is already gone is what a sweep wants.
    if (body && (body.code === Code.ParentNotExist || body.code === Code.BatchOperationNotFullyCompleted)) return;
    unwrap(res, `sweep ${uris.join(', ')}`);
  }

  async exists(uri: string): Promise<boolean> {
    const res = await this.client.GET('/file/info', { params: { query: { uri } } });
    return (res.data as { code: number } | undefined)?.code === Code.Success;
  }

  async used(): Promise<number> {
    return (unwrap(await this.client.GET('/user/capacity'), 'capacity') as { used: number }).used;
  }

  /** Sweeps what an earlier attempt left, creates the folder and notes the quota used as the baseline. */
  async prepare(): Promise<void> {
    if (await this.exists(this.root)) await this.remove([this.root]);
    unwrap(await this.client.POST('/file/create', { body: { uri: this.root, type: 'folder' } }), `create sandbox ${this.root}`);
    this.baseline = await this.used();
  }

  async folder(name: string): Promise<string> {
    const uri = `${this.root}/${name}`;
    unwrap(await this.client.POST('/file/create', { body: { uri, type: 'folder', err_on_conflict: false } }), `create ${uri}`);
    return uri;
  }

  /** Sweeps the sandbox and reports what is left: files still there, quota above the baseline. */
  async sweepAndAudit(): Promise<LeakReport> {
    await this.remove([this.root]);
    const filesLeft = (await this.exists(this.root)) ? 1 : 0;
    return { worker: this.worker, identity: this.identity, filesLeft, quotaDelta: (await this.used()) - this.baseline };
  }
}
