// File routes over the `my` and `trash` file systems (service/explorer/file.go): list, info, create, rename,
// move/copy, delete (soft into the trash bin, or hard), restore, download URLs and version management.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError, Code, FsErr } from '../envelope.js';
import { Kind } from '../hashid.js';
import { META_RESTORE_URI, META_UPLOAD_SESSION } from '../fs.js';
import { bind, bindQuery, jsonBody, RAW, register, type Ctx, type Services } from '../http.js';
import { signUrlPath } from '../sign.js';
import { escapeSegment, requireUri, validName } from '../uri.js';
import { lockConflict } from '../uploads.js';
import { MY_CAPABILITY } from '../views.js';
import { hasBit, Perm, type FileRow, type UserRow } from '../state.js';
import { fault } from '../faults/index.js';
import { extrasOf } from '../extras.js';

const ORDER_BY = ['name', 'size', 'updated_at', 'created_at'];
const ZERO_TIME = '0001-01-01T00:00:00Z';

export function fileRoutes(app: FastifyInstance, svc: Services): void {
  const { st, fs, views } = svc;

  /** Runs `op` for each uri; failures are collected into 40081 with aggregated_error (serializer.AggregateError). */
  async function batch(c: Ctx, uris: string[], op: (uri: string) => Promise<void> | void): Promise<void> {
    const failed = new Map<string, AppError>();
    for (const u of uris) {
      try {
        await op(u);
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        failed.set(u, e);
      }
    }
    if (!failed.size) return;
    const aggregated = Object.fromEntries([...failed].map(([u, e]) => [u, { code: e.code, msg: e.msg,
      correlation_id: c.correlationId }]));
    const msg = failed.size === 1 ? [...failed.values()][0]!.msg : 'One or more operation failed';
    throw new AppError(Code.BatchOperationNotFullyCompleted, msg, { aggregated });
  }

  function checkBatchSize(uris: string[]): void {
    if (uris.length > st.settingInt('max_batched_file', 3000)) throw new AppError(Code.TooManyUris, 'Too many uris');
  }

  /** A live upload session on the file or below it holds a lock. */
  function checkUnlocked(f: FileRow, caller: UserRow | undefined): void {
    for (const x of [f, ...fs.descendants(f)]) if (st.sessionLocking(x.id)) throw lockConflict(svc, x, caller);
  }

  register(app, svc, 'GET', '/file', 'optional', async (c) => {
    const q = bindQuery(c, [
      { key: 'uri', name: 'Uri', kind: 'string', required: true },
      { key: 'page', name: 'Page', kind: 'int', min: 0 },
      { key: 'page_size', name: 'PageSize', kind: 'int', min: 0 },
      { key: 'order_by', name: 'OrderBy', kind: 'string' },
      { key: 'order_direction', name: 'OrderDirection', kind: 'string' },
      { key: 'next_page_token', name: 'NextPageToken', kind: 'string' },
    ]);
    const uri = requireUri(q.uri);
    fs.checkFs(uri, ['my', 'trash']);
    const owner = fs.owner(c.caller, uri);
    const maxPage = st.settingInt('max_page_size', 2000);
    const pageSize = Math.min(q.page_size || 100, maxPage);
    let parent: FileRow | undefined;
    let items: FileRow[];
    let single = false;
    if (uri.fs === 'trash') {
      if (uri.segments.length) throw FsErr.pathNotExist();
      items = fs.trashed(owner);
    } else {
      const { target } = fs.walk(owner, uri.segments);
      if (!target) throw FsErr.pathNotExist();
      if (target.type === 0) {
        single = true;
        items = [target];
        parent = target.parentId === null ? undefined : st.files.get(target.parentId);
      } else {
        parent = target;
        items = fs.children(target);
      }
    }
    items = sortFiles(items, q.order_by, q.order_direction === 'desc');
    let offset = 0;
    if (q.next_page_token) {
      const n = Number(Buffer.from(q.next_page_token, 'base64url').toString());
      if (!Number.isInteger(n) || n < 0) throw new AppError(Code.ParamErr, 'Invalid page token');
      offset = n;
    }
    const page = items.slice(offset, offset + pageSize);
    const pagination: Record<string, unknown> = { page: 0, page_size: pageSize };
    if (offset + pageSize < items.length) pagination.next_token = Buffer.from(String(offset + pageSize)).toString('base64url');
    pagination.is_cursor = true;
    const trash = uri.fs === 'trash';
    const out: Record<string, unknown> = {
      files: page.map((f) => {
        const v = views.file(f, c.caller, { metadata: 'loaded' });
        if (f.type === 0 && fault(st.faults, 'listing-wrong-size')) v.size = f.size + 1;
        return v;
      }),
      parent: parent ? views.file(parent, c.caller, { metadata: 'lazy' })
        : { type: 0, id: '', name: '', created_at: ZERO_TIME, updated_at: ZERO_TIME, size: 0, metadata: null },
      pagination,
      props: { capability: trash ? '' : MY_CAPABILITY, max_page_size: maxPage, order_by_options: ORDER_BY,
        order_direction_options: ['asc', 'desc'] },
      context_hint: randomUUID(),
      mixed_type: false,
    };
    if (single) out.single_file_view = true;
    if (!trash) {
      out.storage_policy = views.policy(st.policyOf(owner));
      out.view = parent?.view ?? { page_size: 100, view: 'grid', thumbnail: true };
    }
    return out;
  });

  register(app, svc, 'GET', '/file/info', 'optional', async (c) => {
    const q = bindQuery(c, [
      { key: 'uri', name: 'Uri', kind: 'string' },
      { key: 'id', name: 'ID', kind: 'string' },
      { key: 'extended', name: 'Extended', kind: 'bool' },
      { key: 'folder_summary', name: 'FolderSummary', kind: 'bool' },
    ]);
    let f: FileRow;
    if (q.uri) {
      f = fs.get(c.caller, requireUri(q.uri));
    } else if (q.id) {
      if (!c.caller) throw FsErr.loginRequired();
      const id = st.hash.decode(Kind.File, q.id);
      const found = id === undefined ? undefined : st.files.get(id);
      if (!found || (found.ownerId !== c.caller.id && !st.isAdmin(c.caller))) throw FsErr.pathNotExist();
      f = found;
    } else {
      throw new AppError(Code.ParamErr, 'Either uri or id is required');
    }
    if (f.isRoot) throw FsErr.notSupported();
    const out = views.file(f, c.caller, { metadata: 'loaded', extended: q.extended === true });
    // The owner also sees the file's direct links (ExtendedInfo.DirectLinks).
    if (q.extended && c.caller?.id === f.ownerId) {
      const links = [...extrasOf(st).directLinks.values()].filter((l) => l.fileId === f.id).map((l) => {
        const id = st.hash.encode(Kind.SourceLink, l.id);
        return { id, url: `${st.setting('siteURL').replace(/\/+$/, '')}/f/${id}/${escapeSegment(l.name)}`, downloaded: l.downloads,
          created_at: l.createdAt.toISOString() };
      });
      if (links.length) (out.extended_info as Record<string, unknown>).direct_links = links;
    }
    if (q.folder_summary && f.type === 1) {
      const all = fs.descendants(f);
      out.folder_summary = { size: all.reduce((n, x) => n + x.size, 0), files: all.filter((x) => x.type === 0).length,
        folders: all.filter((x) => x.type === 1).length, completed: true, calculated_at: new Date().toISOString() };
    }
    return out;
  });

  register(app, svc, 'POST', '/file/create', 'optional', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'uri', name: 'Uri', kind: 'string', required: true },
      { key: 'type', name: 'Type', kind: 'string', required: true, check: (v) => v === 'file' || v === 'folder' },
      { key: 'metadata', name: 'Metadata', kind: 'map' },
      { key: 'err_on_conflict', name: 'ErrOnConflict', kind: 'bool' },
    ]);
    const uri = requireUri(b.uri);
    fs.checkFs(uri, ['my']);
    const owner = fs.owner(c.caller, uri);
    const { target, deepest, missing } = fs.walk(owner, uri.segments);
    const type = b.type === 'folder' ? 1 : 0;
    if (target) {
      if (target.isRoot) throw FsErr.notSupported();
      if (b.err_on_conflict || target.type !== type) throw FsErr.existed();
      return views.file(target, c.caller, { metadata: 'lazy' });
    }
    const f = fs.createChain(owner, deepest, missing, type);
    for (const [k, v] of Object.entries((b.metadata ?? {}) as Record<string, string>)) f.metadata.set(k, v);
    return views.file(f, c.caller, { metadata: 'lazy' });
  });

  register(app, svc, 'POST', '/file/rename', 'optional', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'uri', name: 'Uri', kind: 'string', required: true },
      { key: 'new_name', name: 'NewName', kind: 'string', required: true, min: 1, max: 255 },
    ]);
    const uri = requireUri(b.uri);
    fs.checkFs(uri, ['my']);
    const f = fs.get(c.caller, uri, ['my']);
    if (f.isRoot) throw FsErr.notSupported();
    if (!validName(b.new_name)) throw FsErr.illegalName();
    checkUnlocked(f, c.caller);
    fs.rename(f, b.new_name);
    return views.file(f, c.caller, { metadata: 'lazy' });
  });

  register(app, svc, 'POST', '/file/move', 'optional', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'uris', name: 'Uris', kind: 'strings', required: true },
      { key: 'dst', name: 'Dst', kind: 'string', required: true },
      { key: 'copy', name: 'Copy', kind: 'bool' },
    ]);
    checkBatchSize(b.uris);
    const uris = b.uris.map((u: string) => requireUri(u));
    const dstUri = requireUri(b.dst, 'unknown destination uri');
    fs.checkFs(dstUri, ['my']);
    const dst = fs.get(c.caller, dstUri, ['my']);
    if (dst.type !== 1) throw FsErr.notSupported();
    const owner = c.caller!;
    const sources = uris.map((u: ReturnType<typeof requireUri>) => {
      const f = fs.get(c.caller, u);
      if (f.isRoot) throw FsErr.notSupported();
      return f;
    });
    if (b.copy) {
      const total = sources.reduce((n: number, f: FileRow) => n + fs.treeSize(f), 0);
      if (!fs.fitsQuota(owner, total)) throw FsErr.capacity();
    }
    for (const f of sources) {
      if (b.copy) fs.copy(f, dst, owner);
      else {
        checkUnlocked(f, c.caller);
        fs.move(f, dst);
      }
    }
    return undefined;
  });

  register(app, svc, 'DELETE', '/file', 'optional', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'uris', name: 'Uris', kind: 'strings', required: true },
      { key: 'unlink', name: 'UnlinkOnly', kind: 'bool' },
      { key: 'skip_soft_delete', name: 'SkipSoftDelete', kind: 'bool' },
    ]);
    checkBatchSize(b.uris);
    const uris = b.uris.map((u: string) => requireUri(u));
    if (b.unlink && !(c.caller && hasBit(st.groupOf(c.caller).permissions, Perm.AdvanceDelete))) {
      throw new AppError(Code.NoPermissionErr, 'Advance delete permission is required');
    }
    await batch(c, b.uris, async (raw) => {
      const u = uris[b.uris.indexOf(raw)]!;
      const f = fs.get(c.caller, u);
      if (f.isRoot) throw FsErr.notSupported();
      if (f.ownerId !== c.caller!.id) throw FsErr.ownerOnly();
      checkUnlocked(f, c.caller);
      if (b.skip_soft_delete || fs.inTrash(f)) {
        const kept = fault(st.faults, 'hard-delete-keeps-quota') ? fs.treeSize(f) : 0;
        await fs.hardDelete(f);
        fs.charge(f.ownerId, kept);
      } else fs.softDelete(f, c.caller!);
    });
    return undefined;
  });

  register(app, svc, 'DELETE', '/file/trash', 'user', async (c) => {
    for (const f of fs.trashed(c.caller!)) await fs.hardDelete(f);
    return undefined;
  });

  register(app, svc, 'POST', '/file/restore', 'user', async (c) => {
    const b = bind(jsonBody(c), [{ key: 'uris', name: 'Uris', kind: 'strings', required: true }]);
    checkBatchSize(b.uris);
    const uris = b.uris.map((u: string) => requireUri(u));
    await batch(c, b.uris, (raw) => {
      const u = uris[b.uris.indexOf(raw)]!;
      fs.checkFs(u, ['trash']);
      const f = fs.get(c.caller, u, ['trash']);
      if (!f.metadata.has(META_RESTORE_URI)) throw FsErr.notSupported();
      fs.restore(f, c.caller!);
    });
    return undefined;
  });

  register(app, svc, 'POST', '/file/url', 'optional', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'uris', name: 'Uris', kind: 'strings', required: true },
      { key: 'download', name: 'Download', kind: 'bool' },
      { key: 'redirect', name: 'Redirect', kind: 'bool' },
      { key: 'entity', name: 'Entity', kind: 'string' },
      { key: 'use_primary_site_url', name: 'UsePrimarySiteURL', kind: 'bool' },
      { key: 'skip_error', name: 'SkipError', kind: 'bool' },
      { key: 'archive', name: 'Archive', kind: 'bool' },
      { key: 'no_cache', name: 'NoCache', kind: 'bool' },
    ]);
    checkBatchSize(b.uris);
    if (b.archive) throw new AppError(Code.GroupNotAllowed, 'Group not allowed to download archive');
    const uris = b.uris.map((u: string) => requireUri(u));
    const ttl = st.settingInt('entity_url_default_ttl', 3600);
    const expires = Math.floor(Date.now() / 1000) + ttl;
    const urls: { url: string }[] = [];
    const op = (raw: string) => {
      const f = fs.get(c.caller, uris[b.uris.indexOf(raw)]!);
      if (f.type !== 0) throw FsErr.notSupported();
      let eid = f.primaryEntityId;
      if (b.entity) {
        const wanted = st.hash.decode(Kind.Entity, b.entity);
        if (wanted === undefined || !f.entityIds.includes(wanted)) throw new AppError(Code.EntityNotExist, 'Entity not exist');
        eid = wanted;
      }
      if (!eid || !st.entities.has(eid)) throw new AppError(Code.EntityNotExist, 'Entity not exist');
      urls.push({ url: contentUrl(svc, eid, fs.displayName(f), !!b.download, expires) });
    };
    if (b.skip_error) for (const u of b.uris) { try { op(u); } catch (e) { if (!(e instanceof AppError)) throw e; } }
    else await batch(c, b.uris, op);
    if (b.redirect && urls.length === 1) {
      await c.reply.code(302).header('Location', urls[0]!.url).send();
      return RAW;
    }
    return { urls, expires: new Date(expires * 1000).toISOString() };
  });

  register(app, svc, 'POST', '/file/version/current', 'optional', async (c) => {
    const { file, entityId } = versionTarget(svc, c);
    if (entityId === file.primaryEntityId) return undefined;
    const e = st.entities.get(entityId);
    if (!e || !file.entityIds.includes(entityId) || e.type !== 0 || e.uploadSessionId) {
      throw new AppError(Code.EntityNotExist, 'Entity not exist');
    }
    file.primaryEntityId = entityId;
    file.size = e.size;
    // Thumbnails belong to the old current version (CapEntities of type thumbnail).
    for (const id of [...file.entityIds]) if (st.entities.get(id)?.type === 1) await fs.dropEntity(file, id);
    return undefined;
  });

  register(app, svc, 'DELETE', '/file/version', 'optional', async (c) => {
    const { file, entityId } = versionTarget(svc, c);
    if (entityId === file.primaryEntityId) throw FsErr.notSupported(); // the current version stays
    const e = st.entities.get(entityId);
    if (!e || !file.entityIds.includes(entityId)) throw new AppError(Code.EntityNotExist, 'Entity not exist');
    if (e.uploadSessionId) file.metadata.delete(META_UPLOAD_SESSION);
    await fs.dropEntity(file, entityId);
    return undefined;
  });
}

/** The body {uri, version} of the version routes: the caller's file (not a folder, not locked) and a version id. */
function versionTarget(svc: Services, c: Ctx): { file: FileRow; entityId: number } {
  const b = bind(jsonBody(c), [
    { key: 'uri', name: 'Uri', kind: 'string', required: true },
    { key: 'version', name: 'Version', kind: 'string', required: true },
  ]);
  const entityId = svc.st.hash.decode(Kind.Entity, b.version);
  if (entityId === undefined) throw new AppError(Code.ParamErr, 'Invalid version');
  const file = svc.fs.get(c.caller, requireUri(b.uri), ['my']);
  if (file.ownerId !== c.caller!.id) throw FsErr.ownerOnly();
  if (file.type !== 0) throw FsErr.notSupported();
  if (svc.st.sessionLocking(file.id)) throw lockConflict(svc, file, c.caller);
  return { file, entityId };
}

/** `<site>/api/v4/file/content/<entity>/<speed>/<name>?[download=true&]sign=...` (routes.MasterFileContentUrl). */
export function contentUrl(svc: Services, entityId: number, name: string, download: boolean, expires: number): string {
  const id = svc.st.hash.encode(Kind.Entity, entityId);
  const path = `/api/v4/file/content/${id}/0/${name}`;
  const q = new URLSearchParams();
  if (download) q.set('download', 'true');
  q.set('sign', signUrlPath(svc.st, path, expires));
  const base = svc.st.setting('siteURL').replace(/\/+$/, '');
  return `${base}/api/v4/file/content/${id}/0/${escapeSegment(name)}?${q}`;
}

function sortFiles(items: FileRow[], orderBy: string | undefined, desc: boolean): FileRow[] {
  const key = (f: FileRow): string | number => {
    switch (orderBy) {
      case 'name': return f.name;
      case 'size': return f.size;
      case 'created_at': return f.createdAt.getTime();
      case 'updated_at': return f.updatedAt.getTime();
      default: return f.id;
    }
  };
  const cmp = (a: FileRow, b: FileRow) => {
    const x = key(a);
    const y = key(b);
    const r = x < y ? -1 : x > y ? 1 : a.id - b.id;
    return desc ? -r : r;
  };
  // Folders first, then files, each ordered (inventory cursorPagination).
  return [...items.filter((f) => f.type === 1).sort(cmp), ...items.filter((f) => f.type === 0).sort(cmp)];
}
