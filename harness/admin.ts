// Admin changes the harness makes to a target go through this guard: the original values are written to a journal
// file before anything changes, and restored at the end — also by the next run, if this one was interrupted.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { unwrap, type CloudreveClient, type Schemas } from './client/index.js';
import { reportsDir } from './config.js';

type Policy = Schemas['AdminStoragePolicy'];

interface Journal {
  target: string;
  settings: Record<string, string>;
  policies: Record<string, Policy>;
}

export const journalDir = (): string => `${reportsDir()}/admin-journal`;

export class AdminGuard {
  private journal: Journal;

  constructor(private readonly client: CloudreveClient, target: string, private readonly file: string) {
    this.journal = { target, settings: {}, policies: {} };
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(this.file, JSON.stringify(this.journal, null, 2));
  }

  async getSettings(keys: string[]): Promise<Record<string, string>> {
    return unwrap(await this.client.POST('/admin/settings', { body: { keys } }), 'read admin settings') as Record<string, string>;
  }

  /** Changes site settings, first journaling the values they had. */
  async setSettings(values: Record<string, string>): Promise<void> {
    const unsaved = Object.keys(values).filter((k) => !(k in this.journal.settings));
    if (unsaved.length) {
      const current = await this.getSettings(unsaved);
      for (const k of unsaved) this.journal.settings[k] = current[k] ?? '';
      this.save();
    }
    unwrap(await this.client.PATCH('/admin/settings', { body: { settings: values } }), 'change admin settings');
  }

  async getPolicy(id: number): Promise<Policy> {
    return unwrap(await this.client.GET('/admin/policy/{id}', { params: { path: { id } } }), `read policy ${id}`) as Policy;
  }

  /** Changes a storage policy (e.g. its chunk size), first journaling what it was. */
  async updatePolicy(id: number, change: (policy: Policy) => Policy): Promise<Policy> {
    const current = await this.getPolicy(id);
    if (!(String(id) in this.journal.policies)) {
      this.journal.policies[String(id)] = current;
      this.save();
    }
    const next = change(structuredClone(current));
    return unwrap(await this.client.PUT('/admin/policy/{id}', { params: { path: { id } }, body: { policy: next } }),
      `update policy ${id}`) as Policy;
  }

  /** Puts back everything journaled and removes the journal. */
  async restore(): Promise<void> {
    await restoreJournal(this.client, this.journal);
    this.journal = { ...this.journal, settings: {}, policies: {} };
    rmSync(this.file, { force: true });
  }
}

async function restoreJournal(client: CloudreveClient, journal: Journal): Promise<void> {
  if (Object.keys(journal.settings).length) {
    unwrap(await client.PATCH('/admin/settings', { body: { settings: journal.settings } }), 'restore admin settings');
  }
  for (const [id, policy] of Object.entries(journal.policies)) {
    unwrap(await client.PUT('/admin/policy/{id}', { params: { path: { id: Number(id) } }, body: { policy } }), `restore policy ${id}`);
  }
}

/** Restores what an interrupted earlier run left journaled for this target. Returns how many journals it replayed. */
export async function restoreLeftoverJournals(client: CloudreveClient, target: string, dir = journalDir()): Promise<number> {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const journal = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Journal;
    if (journal.target !== target) continue;
    await restoreJournal(client, journal);
    rmSync(join(dir, f));
    n++;
  }
  return n;
}
