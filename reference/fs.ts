// The file tree of pkg/filemanager/fs/dbfs: each user has a root folder (created on first access); files in the
// trash bin have no parent and a random name, with their restore uri in metadata. Entities are the stored versions
// of a file; every entity's size is charged to its owner's storage from the moment it is created.
import { randomUUID } from 'node:crypto';
import { AppError, Code, FsErr } from './envelope.js';
import { Kind } from './hashid.js';
import { formatUri, parseUri, validName, type CloudreveUri } from './uri.js';
import type { Blobs } from './blobs.js';
import type { EntityRow, FileRow, PolicyRow, State, UserRow } from './state.js';
import { fault } from './faults/index.js';

export const META_UPLOAD_SESSION = 'sys:upload_session_id';
export const META_RESTORE_URI = 'sys:restore_uri';
export const META_COLLECT_TIME = 'sys:expected_collect_time';
export const META_THUMB_DISABLED = 'thumb:disabled';

export class FileSystem {
  /** parent id → child name → file id. */
  private readonly index = new Map<number, Map<string, number>>();

  constructor(readonly st: State, readonly blobs: Blobs) {}

  // ---- tree ----

  root(owner: UserRow): FileRow {
    for (const f of this.st.files.values()) if (f.ownerId === owner.id && f.isRoot) return f;
    return this.insert(owner, null, '', 1, { isRoot: true });
  }

  private insert(owner: UserRow, parent: FileRow | null, name: string, type: 0 | 1,
    extra: Partial<FileRow> = {}): FileRow {
    const now = new Date();
    const f: FileRow = { id: this.st.nextId('file'), ownerId: owner.id, parentId: parent?.id ?? null, name, type,
      size: 0, primaryEntityId: 0, isRoot: false, metadata: new Map(), entityIds: [], createdAt: now, updatedAt: now,
      ...extra };
    this.st.files.set(f.id, f);
    if (parent) this.link(f, parent.id);
    return f;
  }

  private link(f: FileRow, parentId: number): void {
    f.parentId = parentId;
    let m = this.index.get(parentId);
    if (!m) this.index.set(parentId, (m = new Map()));
    m.set(f.name, f.id);
  }

  private unlink(f: FileRow): void {
    if (f.parentId !== null) this.index.get(f.parentId)?.delete(f.name);
    f.parentId = null;
  }

  child(parent: FileRow, name: string): FileRow | undefined {
    const id = this.index.get(parent.id)?.get(name);
    return id === undefined ? undefined : this.st.files.get(id);
  }

  children(parent: FileRow): FileRow[] {
    return [...(this.index.get(parent.id)?.values() ?? [])].map((id) => this.st.files.get(id)!)
      .sort((a, b) => a.id - b.id);
  }

  trashed(owner: UserRow): FileRow[] {
    return [...this.st.files.values()].filter((f) => f.ownerId === owner.id && f.parentId === null && !f.isRoot)
      .sort((a, b) => a.id - b.id);
  }

  inTrash(f: FileRow): boolean {
    let cur: FileRow | undefined = f;
    while (cur && cur.parentId !== null) cur = this.st.files.get(cur.parentId);
    return !!cur && !cur.isRoot;
  }

  /** Path segments below the owner's root (for a file in the trash: below its trashed ancestor). */
  segments(f: FileRow): string[] {
    const out: string[] = [];
    let cur: FileRow | undefined = f;
    while (cur && !cur.isRoot) {
      out.unshift(cur.name);
      cur = cur.parentId === null ? undefined : this.st.files.get(cur.parentId);
    }
    return out;
  }

  uri(f: FileRow): string {
    return this.inTrash(f) ? formatUri('trash', this.segments(f)) : formatUri('my', this.segments(f));
  }

  displayName(f: FileRow): string {
    const restore = f.metadata.get(META_RESTORE_URI);
    if (restore) return parseUri(restore)?.segments.at(-1) ?? f.name;
    return f.name;
  }

  descendants(f: FileRow): FileRow[] {
    const out: FileRow[] = [];
    const walk = (x: FileRow) => { for (const c of this.children(x)) { out.push(c); walk(c); } };
    walk(f);
    return out;
  }

  // ---- navigation ----

  /** The owner of a `my` (or `trash`) uri as seen by the caller: 401 anonymous, 40016 bad user part, 403 another's. */
  owner(caller: UserRow | undefined, uri: CloudreveUri): UserRow {
    if (!caller) throw FsErr.loginRequired();
    // Fault uri-dotdot-escapes: a path that climbed above the root lands in the site's first user's space.
    if (uri.escapes && fault(this.st.faults, 'uri-dotdot-escapes')) return this.st.users.get(1) ?? caller;
    if (uri.user !== undefined) {
      const uid = this.st.hash.decode(Kind.User, uri.user);
      if (uid === undefined) throw FsErr.pathNotExist();
      const other = uid !== caller.id ? this.st.users.get(uid) : undefined;
      if (other && fault(this.st.faults, 'uri-owner-unchecked')) return other;
      if (uid !== caller.id) throw FsErr.permissionDenied();
    }
    return caller;
  }

  /** Checks the file system of a uri: `my` and (where allowed) `trash`; other known ones are not supported here. */
  checkFs(uri: CloudreveUri, allowed: string[]): void {
    if (allowed.includes(uri.fs)) return;
    if (['my', 'trash', 'share', 'shared_with_me'].includes(uri.fs)) throw FsErr.notSupported();
    throw new AppError(Code.NotSet, ''); // unknown fs host: a plain error in the real server
  }

  /** Walks a `my` path: the target when it exists, else its deepest existing ancestor and what is missing. */
  walk(owner: UserRow, segments: string[]): { target?: FileRow; deepest: FileRow; missing: string[] } {
    let cur = this.root(owner);
    for (let i = 0; i < segments.length; i++) {
      const next = cur.type === 1 ? this.child(cur, segments[i]!) : undefined;
      if (!next) return { deepest: cur, missing: segments.slice(i) };
      cur = next;
    }
    return { target: cur, deepest: cur, missing: [] };
  }

  /** The file a `my` or `trash` uri names (40016 when missing). */
  get(caller: UserRow | undefined, uri: CloudreveUri, fsAllowed = ['my', 'trash']): FileRow {
    this.checkFs(uri, fsAllowed);
    const owner = this.owner(caller, uri);
    if (uri.fs === 'trash') {
      if (uri.segments.length === 0) throw FsErr.notSupported();
      const top = this.trashed(owner).find((f) => f.name === uri.segments[0]);
      if (!top) throw FsErr.pathNotExist();
      let cur = top;
      for (const s of uri.segments.slice(1)) {
        const next = this.child(cur, s);
        if (!next) throw FsErr.pathNotExist();
        cur = next;
      }
      return cur;
    }
    const { target } = this.walk(owner, uri.segments);
    if (!target) throw FsErr.pathNotExist();
    return target;
  }

  /** Creates the missing folders of `missing` under `deepest`; the last one is made with `lastType`. */
  createChain(owner: UserRow, deepest: FileRow, missing: string[], lastType: 0 | 1): FileRow {
    if (deepest.type !== 1) throw FsErr.notSupported(); // "parent must be a valid folder"
    for (const name of missing) if (!validName(name)) throw FsErr.illegalName();
    let cur = deepest;
    missing.forEach((name, i) => {
      cur = this.insert(owner, cur, name, i === missing.length - 1 ? lastType : 1);
    });
    return cur;
  }

  // ---- entities and storage ----

  charge(uid: number, delta: number): void {
    const u = this.st.users.get(uid);
    if (u) u.storage = Math.max(0, u.storage + delta);
  }

  fitsQuota(owner: UserRow, size: number): boolean {
    return owner.storage + size <= this.st.groupOf(owner).maxStorage;
  }

  newEntity(owner: UserRow, policy: PolicyRow, size: number, uploadSessionId?: string): EntityRow {
    const now = new Date();
    const id = this.st.nextId('entity');
    const e: EntityRow = { id, type: 0, size, source: this.blobs.newSource(owner.id, id), policyId: policy.id,
      createdBy: owner.id, uploadSessionId, createdAt: now, updatedAt: now };
    this.st.entities.set(id, e);
    if (!(uploadSessionId && fault(this.st.faults, 'create-quota-not-charged'))) this.charge(owner.id, size);
    return e;
  }

  private references(entityId: number): number {
    let n = 0;
    for (const f of this.st.files.values()) if (f.entityIds.includes(entityId)) n++;
    return n;
  }

  /** Removes an entity from a file, credits its size to the file's owner and drops the blob when unreferenced. */
  async dropEntity(f: FileRow, entityId: number): Promise<void> {
    const e = this.st.entities.get(entityId);
    f.entityIds = f.entityIds.filter((id) => id !== entityId);
    if (!e) return;
    this.charge(f.ownerId, -e.size);
    if (this.references(entityId) === 0) {
      this.st.entities.delete(entityId);
      await this.blobs.remove(e.source);
    }
  }

  /** Hard delete of a file or folder and everything below it; storage is credited at once. */
  async hardDelete(f: FileRow): Promise<void> {
    for (const d of [f, ...this.descendants(f)].reverse()) {
      for (const eid of [...d.entityIds]) await this.dropEntity(d, eid);
      for (const s of [...this.st.sessions.values()]) if (s.fileId === d.id) this.st.sessions.delete(s.id);
      for (const sh of [...this.st.shares.values()]) if (sh.fileId === d.id) this.st.shares.delete(sh.id);
      this.unlink(d);
      this.st.files.delete(d.id);
    }
  }

  /** Soft delete: into the trash bin under a random name, remembering where it came from. */
  softDelete(f: FileRow, owner: UserRow): void {
    const restore = this.uri(f);
    this.unlink(f);
    f.name = randomUUID();
    const retention = Number(this.st.groupOf(owner).settings.trash_retention ?? 0);
    f.metadata.set(META_RESTORE_URI, restore);
    f.metadata.set(META_COLLECT_TIME, String(Math.floor(Date.now() / 1000) + retention));
  }

  /** Back from the trash bin to its restore uri (missing parents are created; a name clash is 40004). */
  restore(f: FileRow, owner: UserRow): void {
    const restore = parseUri(f.metadata.get(META_RESTORE_URI));
    if (!restore || restore.segments.length === 0) throw FsErr.pathNotExist();
    const name = restore.segments.at(-1)!;
    const { target, deepest, missing } = this.walk(owner, restore.segments.slice(0, -1));
    const parent = target ?? this.createChain(owner, deepest, missing, 1);
    if (parent.type !== 1) throw FsErr.notSupported();
    if (this.child(parent, name)) throw FsErr.existed();
    f.name = name;
    f.metadata.delete(META_RESTORE_URI);
    f.metadata.delete(META_COLLECT_TIME);
    this.link(f, parent.id);
  }

  rename(f: FileRow, newName: string): void {
    if (!validName(newName)) throw FsErr.illegalName();
    const parent = f.parentId === null ? undefined : this.st.files.get(f.parentId);
    if (!parent) throw FsErr.notSupported();
    if (newName === f.name) return;
    if (this.child(parent, newName)) throw FsErr.existed();
    this.unlink(f);
    f.name = newName;
    f.updatedAt = new Date();
    this.link(f, parent.id);
  }

  /** Moves into `dst`; a file from the trash bin gets its original name back. */
  move(f: FileRow, dst: FileRow): void {
    const name = f.metadata.has(META_RESTORE_URI) ? this.displayName(f) : f.name;
    if (dst.id === f.id || this.descendants(f).some((d) => d.id === dst.id)) throw FsErr.notSupported();
    if (f.parentId === dst.id && name === f.name) return;
    if (this.child(dst, name)) throw FsErr.existed();
    this.unlink(f);
    f.name = name;
    f.metadata.delete(META_RESTORE_URI);
    f.metadata.delete(META_COLLECT_TIME);
    this.link(f, dst.id);
  }

  /** Copies into `dst`: the copies share the entities, whose sizes are charged to the owner again. */
  copy(f: FileRow, dst: FileRow, owner: UserRow): FileRow {
    if (dst.id === f.id || this.descendants(f).some((d) => d.id === dst.id)) throw FsErr.notSupported();
    if (this.child(dst, f.name)) throw FsErr.existed();
    const clone = (src: FileRow, parent: FileRow): FileRow => {
      const c = this.insert(owner, parent, src.name, src.type, {
        size: src.size, primaryEntityId: src.primaryEntityId, entityIds: [...src.entityIds],
        metadata: new Map([...src.metadata].filter(([k]) => k !== META_UPLOAD_SESSION)),
      });
      for (const eid of c.entityIds) this.charge(owner.id, this.st.entities.get(eid)?.size ?? 0);
      for (const ch of this.children(src)) clone(ch, c);
      return c;
    };
    return clone(f, dst);
  }

  /** Total size of a tree's entities (what a copy would charge). */
  treeSize(f: FileRow): number {
    let n = 0;
    for (const d of [f, ...this.descendants(f)]) for (const eid of d.entityIds) n += this.st.entities.get(eid)?.size ?? 0;
    return n;
  }

  /** Keeps at most `max` version entities (0 = no limit), dropping the oldest that are not current. */
  async capVersions(f: FileRow, max: number): Promise<void> {
    if (max <= 0) return;
    const versions = f.entityIds.map((id) => this.st.entities.get(id)!).filter((e) => e && e.type === 0 && !e.uploadSessionId)
      .sort((a, b) => a.id - b.id);
    while (versions.length > max) {
      const victim = versions.find((e) => e.id !== f.primaryEntityId);
      if (!victim) break;
      versions.splice(versions.indexOf(victim), 1);
      await this.dropEntity(f, victim.id);
    }
  }

  /** How many versions the owner keeps: types.UserSetting version retention (off → 1). */
  maxVersions(owner: UserRow, f: FileRow): number {
    const s = owner.settings;
    if (!s.version_retention) return 1;
    const exts = s.version_retention_ext as string[] | undefined;
    if (exts?.length) {
      const ext = f.name.includes('.') ? f.name.split('.').pop()!.toLowerCase() : '';
      if (!exts.map((x) => x.toLowerCase()).includes(ext)) return 1;
    }
    return Number(s.version_retention_max ?? 0);
  }
}
