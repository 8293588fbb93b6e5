// What an upload does to the tree, shared by upload sessions and PUT /file/content (pkg/filemanager/fs/dbfs/upload.go
// PrepareUpload / CompleteUpload): resolve and lock-check the target, validate name, size and quota, then create
// the placeholder (a new file with every missing parent, or a new version entity of an existing file) whose entity
// is charged to the owner at once; completion makes the entity the file's current version.
import { AppError, Code, FsErr } from './envelope.js';
import { Kind } from './hashid.js';
import { META_THUMB_DISABLED, META_UPLOAD_SESSION } from './fs.js';
import { validName, type CloudreveUri } from './uri.js';
import { remoteOf } from './slave/master.js';
import { cloudOf } from './cloud/storage.js';
import type { Services } from './http.js';
import type { EntityRow, FileRow, PolicyRow, UserRow } from './state.js';
import { fault } from './faults/index.js';

export interface Prepared {
  owner: UserRow;
  policy: PolicyRow;
  file: FileRow;
  entity: EntityRow;
  newFile: boolean;
}

export interface PrepareArgs {
  size: number;
  /** '' new file only, 'version' new file or new version, 'live_photo' extra entity of an existing file. */
  entityType: '' | 'version' | 'live_photo';
  previous?: string;
  sessionId?: string;
}

/** The 40073 answer: what holds the lock (an upload session); its owner also sees the lock token. */
export function lockConflict(svc: Services, f: FileRow, caller?: UserRow): AppError {
  const s = svc.st.sessionLocking(f.id);
  const token = s && caller && s.uid === caller.id ? { token: s.lockToken } : {};
  return new AppError(Code.LockConflict, 'Lock conflict', {
    data: [{ path: svc.fs.uri(f), ...token, owner: { application: { type: 'upload' } }, type: f.type }],
  });
}

export function prepareUpload(svc: Services, caller: UserRow | undefined, uri: CloudreveUri, a: PrepareArgs): Prepared {
  const { st, fs } = svc;
  fs.checkFs(uri, ['my']);
  const owner = fs.owner(caller, uri);
  const { target, deepest, missing } = fs.walk(owner, uri.segments);
  const overwrite = fault(st.faults, 'create-existing-overwritten') && !!target && target.type === 0;
  if (target && ((a.entityType === '' && !overwrite) || target.type !== 0)) throw FsErr.existed();
  if (!target && a.entityType !== '' && a.entityType !== 'version') throw FsErr.pathNotExist();
  // PUT /file/content (no session id) is what the small-files faults change.
  const content = !a.sessionId;
  if (target && (st.sessionLocking(target.id) || st.writing.has(target.id)) && !(content && fault(st.faults, 'content-ignores-upload-lock'))) {
    throw lockConflict(svc, target, caller);
  }

  const policy = st.policyOf(owner);
  if (!policy) throw new AppError(Code.InternalSetting, 'Unknown policy type');
  validateNewFile(uri.segments.at(-1) ?? '', a.size, policy);
  if (!fs.fitsQuota(owner, a.size) && !fault(st.faults, 'create-quota-unchecked')) throw FsErr.capacity();

  let file: FileRow;
  let newFile = false;
  if (target) {
    file = target;
    if (a.previous) {
      const prev = st.hash.decode(Kind.Entity, a.previous);
      if (prev === undefined) throw new AppError(Code.ParamErr, 'Unknown version ID');
      const stale = file.primaryEntityId === 0 || file.primaryEntityId !== prev;
      if (stale && !(content && fault(st.faults, 'content-stale-previous-accepted'))) throw FsErr.stale();
    }
    // Unfinished uploads of this file (e.g. expired sessions) are dropped first and their size credited back.
    for (const eid of [...file.entityIds]) {
      if (st.entities.get(eid)?.uploadSessionId) void fs.dropEntity(file, eid);
    }
  } else {
    file = fs.createChain(owner, deepest, missing, 0);
    newFile = true;
  }
  const entity = fs.newEntity(owner, policy, a.size, a.sessionId);
  // An entity of a remote policy lives on the policy's node, at the path its name rules give.
  remoteOf(svc)?.adopt(entity, policy, owner.id, uri.segments);
  // An entity of a cloud policy is an object in its bucket, keyed by the same rules.
  cloudOf(svc)?.adopt(entity, policy, owner.id, uri.segments);
  if (a.entityType === 'live_photo') entity.type = 2;
  file.entityIds.push(entity.id);
  if (a.sessionId) file.metadata.set(META_UPLOAD_SESSION, a.sessionId);
  return { owner, policy, file, entity, newFile };
}

/** validator.go validateNewFile: name, extension list, name regexp (40052), then the policy's max_size (40049). */
export function validateNewFile(name: string, size: number, policy: PolicyRow): void {
  if (!validName(name)) throw FsErr.illegalName();
  const s = policy.settings;
  const types = Array.isArray(s.file_type) ? (s.file_type as string[]).map((t) => t.toLowerCase()) : [];
  if (types.length) {
    const ext = name.includes('.') ? name.split('.').pop()!.toLowerCase() : '';
    const listed = ext !== '' && types.includes(ext);
    if (s.is_file_type_deny_list ? listed : !listed) throw FsErr.illegalName();
  }
  if (typeof s.file_regexp === 'string' && s.file_regexp) {
    let matches: boolean;
    try {
      matches = new RegExp(s.file_regexp).test(name);
    } catch {
      throw FsErr.illegalName(); // an invalid regexp rejects every name
    }
    if (s.is_name_regexp_deny_list ? matches : !matches) throw FsErr.illegalName();
  }
  if (policy.maxSize > 0 && size > policy.maxSize) throw FsErr.tooLarge();
}

/** Undoes a failed preparation (OnUploadFailed): the new file goes, or only the new entity. */
export async function rollback(svc: Services, p: Prepared): Promise<void> {
  if (p.newFile) await svc.fs.hardDelete(p.file);
  else {
    await svc.fs.dropEntity(p.file, p.entity.id);
    p.file.metadata.delete(META_UPLOAD_SESSION);
  }
}

/** CompleteUpload: the entity becomes the current version; old versions are capped by the owner's retention. */
export async function completeUpload(svc: Services, file: FileRow, entity: EntityRow,
  opts: { lastModified?: Date; metadata?: Record<string, string> } = {}): Promise<void> {
  const now = new Date();
  entity.uploadSessionId = undefined;
  entity.updatedAt = opts.lastModified ?? now;
  if (entity.type === 0) {
    file.size = entity.size;
    file.primaryEntityId = entity.id;
    file.updatedAt = opts.lastModified ?? now;
  }
  file.metadata.delete(META_UPLOAD_SESSION);
  file.metadata.delete(META_THUMB_DISABLED);
  const metadata = fault(svc.st.faults, 'finish-metadata-dropped') ? {} : opts.metadata ?? {};
  for (const [k, v] of Object.entries(metadata)) file.metadata.set(k, v);
  const owner = svc.st.users.get(file.ownerId);
  if (owner && entity.type === 0) await svc.fs.capVersions(file, svc.fs.maxVersions(owner, file));
  // A new version drops the thumbnails of the old one (CapEntities of type thumbnail): they are made again on demand.
  if (entity.type === 0) {
    for (const id of [...file.entityIds]) if (svc.st.entities.get(id)?.type === 1) await svc.fs.dropEntity(file, id);
  }
}

/** manager/metadata.go: keys are `<category>:<name>` of a known category. */
export function validMetadataKey(key: string): boolean {
  const m = /^([a-z]+):(.+)$/.exec(key);
  if (!m) return false;
  if (m[1] === 'sys') return key === 'sys:shared_owner' || key === 'sys:shared_redirect';
  return ['dav', 'thumb', 'customize', 'tag', 'props'].includes(m[1]!);
}
