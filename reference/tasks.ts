// Background tasks (pkg/queue, pkg/filemanager/workflows) on the master node: create an archive, extract one, import
// physical files, remote downloads. A task is queued when created and runs shortly after, on its owner's behalf;
// what it does to the file tree is what the real task does, only faster (no 10 s queue polling). While it is not
// finished it is in the task registry, which progress, select and cancel consult.
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { AppError } from './envelope.js';
import { Kind } from './hashid.js';
import type { Services } from './http.js';
import { extrasOf, type Progress, type TaskRow } from './extras.js';
import { escapeSegment, parseUri, validName, type CloudreveUri } from './uri.js';
import { completeUpload, prepareUpload, rollback } from './uploads.js';
import { createZip, formSlash, listZip, readEntry, ZipError } from './zip.js';
import type { FileRow, UserRow } from './state.js';
import { entityBytes } from './routes/file-extra.js';

const TERMINAL = new Set(['completed', 'error', 'canceled']);

export function isLive(t: TaskRow): boolean {
  return !TERMINAL.has(t.status);
}

export function newTask(svc: Services, owner: UserRow, type: TaskRow['type'], props: Record<string, unknown>,
  onMaster = true): TaskRow {
  const now = new Date();
  const t: TaskRow = { id: svc.st.nextId('task'), ownerId: owner.id, type, status: 'queued', phase: '', props, onMaster,
    errorHistory: [], durationMs: 0, resumeTime: 0, progress: {}, createdAt: now, updatedAt: now };
  extrasOf(svc.st).tasks.set(t.id, t);
  return t;
}

/** BuildTaskResponse. */
export function taskView(svc: Services, t: TaskRow): Record<string, unknown> {
  const { st } = svc;
  const out: Record<string, unknown> = {
    created_at: t.createdAt.toISOString(), updated_at: t.updatedAt.toISOString(), id: st.hash.encode(Kind.Task, t.id),
    status: t.status, type: t.type,
  };
  const master = [...st.nodes.values()].find((n) => n.type === 'master');
  // The node is known once the task has run on it (NodeState), and only for tasks that allocate one.
  if (t.onMaster && master && t.status !== 'queued') {
    out.node = { id: st.hash.encode(Kind.Node, master.id), name: master.name, type: master.type, capabilities: master.capabilities };
  }
  out.summary = { ...(t.phase ? { phase: t.phase } : {}), props: t.props };
  if (t.error) out.error = t.error;
  if (t.errorHistory.length) out.error_history = t.errorHistory;
  if (t.durationMs) out.duration = t.durationMs;
  if (t.resumeTime) out.resume_time = t.resumeTime;
  return out;
}

/** Runs the task's work soon (the queue picks it up), recording its outcome. */
export function schedule(svc: Services, t: TaskRow, work: (t: TaskRow) => Promise<void>, delayMs = 50): void {
  setTimeout(() => {
    if (t.status !== 'queued') return;
    const started = Date.now();
    t.status = 'processing';
    t.updatedAt = new Date();
    void work(t).then(() => {
      if (t.status === 'processing') t.status = 'completed';
    }, (e: unknown) => {
      t.status = 'error';
      t.error = e instanceof AppError ? e.msg : (e as Error).message;
    }).finally(() => {
      t.durationMs = Math.max(1, Date.now() - started);
      t.progress = {};
      t.updatedAt = new Date();
    });
  }, delayMs).unref();
}

function progress(t: TaskRow, key: string, total = 0): Progress {
  return (t.progress[key] ??= { total, current: 0, identifier: '' });
}

/** Writes `bytes` to `uri` as the owner would upload it: a new file, or (version) a new version of an existing one. */
async function writeFileAt(svc: Services, owner: UserRow, uri: CloudreveUri, bytes: Buffer, entityType: '' | 'version',
  lastModified?: Date): Promise<FileRow> {
  const p = prepareUpload(svc, owner, uri, { size: bytes.length, entityType });
  try {
    await svc.blobs.create(p.entity.source, 0, false);
    const written = await svc.blobs.writeAt(p.entity.source, 0, Readable.from([bytes]), bytes.length);
    if (written !== bytes.length) throw new Error('failed to write file content');
  } catch (e) {
    await rollback(svc, p);
    throw e;
  }
  await completeUpload(svc, p.file, p.entity, lastModified ? { lastModified } : {});
  return p.file;
}

function describe(e: unknown): string {
  return e instanceof AppError ? e.msg : (e as Error).message;
}

// ---- create archive ----

export async function runCreateArchive(svc: Services, owner: UserRow, t: TaskRow, srcs: string[], dst: string): Promise<void> {
  const { fs } = svc;
  t.phase = 'compress_files';
  const files: FileRow[] = [];
  for (const raw of srcs) {
    const uri = parseUri(raw);
    if (!uri) throw new Error(`failed to create uri from strings: invalid uri ${raw}`);
    try {
      const f = fs.get(owner, uri);
      if (f.isRoot) throw new AppError(403, 'Not supported action');
      files.push(f);
    } catch (e) {
      throw new Error(`failed to compress files: failed to get file ${raw}: ${describe(e)}`);
    }
  }
  const entries: { name: string; data: Buffer; modified: Date }[] = [];
  let failed = 0;
  const count = progress(t, 'archive_count');
  const size = progress(t, 'archive_size');
  const add = async (parent: string, f: FileRow) => {
    const e = f.primaryEntityId ? svc.st.entities.get(f.primaryEntityId) : undefined;
    if (!e) { failed++; return; }
    try {
      entries.push({ name: join('/', parent, fs.displayName(f)).replaceAll('\\', '/'), data: await entityBytes(svc, e), modified: f.updatedAt });
    } catch {
      failed++;
    }
    count.current++;
    size.current += f.size;
  };
  for (const f of files) {
    if (f.type === 0) await add('/', f);
    else {
      // Below a folder: the path from the folder's parent (the folder's own name first).
      const base = fs.segments(f).slice(0, -1).length;
      for (const d of fs.descendants(f)) if (d.type === 0) await add(`/${fs.segments(d).slice(base, -1).join('/')}`, d);
    }
  }
  t.props.failed = failed;
  t.progress = {};
  t.phase = 'upload_archive';
  const zip = createZip(entries);
  const upload = progress(t, 'upload', zip.length);
  const uri = parseUri(dst);
  if (!uri) throw new Error(`failed to parse dst uri "${dst}"`);
  try {
    await writeFileAt(svc, owner, uri, zip, 'version');
  } catch (e) {
    throw new Error(`failed to upload archive file: ${describe(e)}`);
  }
  upload.current = zip.length;
}

// ---- extract archive ----

export async function runExtract(svc: Services, owner: UserRow, t: TaskRow, src: string, dst: string): Promise<void> {
  const { fs, st } = svc;
  const srcUri = parseUri(src);
  const dstUri = parseUri(dst);
  if (!srcUri) throw new Error(`failed to parse src uri: invalid uri ${src}`);
  if (!dstUri) throw new Error(`failed to parse dst uri: invalid uri ${dst}`);
  let archive: FileRow;
  try {
    archive = fs.get(owner, srcUri);
    if (archive.isRoot) throw new AppError(403, 'Not supported action');
  } catch (e) {
    throw new Error(`failed to get archive file: ${describe(e)}`);
  }
  const limit = Number(st.groupOf(owner).settings.decompress_size ?? 0);
  if (limit > 0 && archive.size > limit) throw new Error(`file size ${archive.size} exceeds the limit ${limit}`);
  const e = archive.primaryEntityId ? st.entities.get(archive.primaryEntityId) : undefined;
  if (!e) throw new Error('failed to get entity source: entity not exist');
  const bytes = await entityBytes(svc, e);
  let list;
  try {
    list = listZip(bytes);
  } catch {
    throw new Error('failed to identify archive format: no formats matched');
  }
  const count = progress(t, 'extract_count');
  const size = progress(t, 'extract_size');
  for (const entry of list) {
    const rawPath = formSlash(entry.name);
    const segments = [...dstUri.segments, ...rawPath.split('/').filter((s) => s !== '' && s !== '.')];
    // A path that leaves the destination ("..") is skipped.
    if (rawPath.split('/').includes('..')) { count.current++; size.current += entry.size; continue; }
    const target: CloudreveUri = { ...dstUri, segments };
    if (entry.isDir) {
      try {
        const { target: existing, deepest, missing } = fs.walk(owner, segments);
        if (!existing) fs.createChain(owner, deepest, missing, 1);
      } catch {
        // "Failed to create directory ..., skipping"
      }
      count.current++;
      continue;
    }
    let data: Buffer;
    try {
      data = readEntry(bytes, entry);
    } catch (err) {
      if (err instanceof ZipError) throw new Error(`failed to upload file "${rawPath}" in archive file: ${err.message}`);
      throw err;
    }
    try {
      await writeFileAt(svc, owner, target, data, '', entry.modified);
    } catch (err) {
      throw new Error(`failed to upload file "${rawPath}" in archive file: ${describe(err)}`);
    }
    count.current++;
    size.current += entry.size;
  }
}

// ---- import ----

export async function runImport(svc: Services, owner: UserRow, t: TaskRow, src: string, dst: string, policyId: number,
  recursive: boolean): Promise<void> {
  const { st, fs } = svc;
  const policy = st.policies.get(policyId);
  if (!policy) throw new Error('failed to list physical files: get storage policy: ent: storage_policy not found');
  progress(t, 'indexed');
  // The local driver lists below the server's working directory; here, below the data directory.
  const base = resolve(st.dataDir);
  const root = resolve(base, `.${isAbsolute(src) ? src : `/${src}`}`);
  const found: { rel: string; dir: boolean; size: number; path: string }[] = [];
  if (policy.type === 'local' && (root === base || root.startsWith(`${base}/`))) {
    const walk = async (dir: string) => {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return; // a missing folder lists nothing
      }
      for (const name of names.sort()) {
        const p = join(dir, name);
        const s = await stat(p).catch(() => undefined);
        if (!s) continue;
        found.push({ rel: relative(root, p), dir: s.isDirectory(), size: s.size, path: p });
        if (s.isDirectory() && recursive) await walk(p);
      }
    };
    await walk(root);
  }
  t.progress = {};
  const imported = progress(t, 'imported', found.length);
  const dstUri = parseUri(dst);
  let failed = 0;
  for (const item of found) {
    imported.current++;
    try {
      if (!dstUri) throw new Error('bad destination');
      const segments = [...dstUri.segments, ...item.rel.split('/')];
      if (!segments.every(validName)) throw new Error('invalid name');
      const { target, deepest, missing } = fs.walk(owner, segments);
      if (item.dir) {
        if (!target) fs.createChain(owner, deepest, missing, 1);
        continue;
      }
      if (target) continue; // already imported: skipped
      // The file keeps its physical blob: the new entity points at it.
      const f = fs.createChain(owner, deepest, missing, 0);
      const e = fs.newEntity(owner, policy, item.size);
      e.source = relative(st.dataDir, item.path);
      f.entityIds.push(e.id);
      f.primaryEntityId = e.id;
      f.size = item.size;
    } catch {
      failed++;
    }
  }
  t.props.failed = failed;
}

/** The `dst` an import task records: the target user's `my` root joined with the request's dst as one segment. */
export function importDst(userHash: string, dst: string): string {
  return `cloudreve://${userHash}@my/${escapeSegment(dst).replaceAll(':', '%3A').replaceAll('/', '%2F')}`;
}
