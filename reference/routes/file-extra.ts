// File routes around a file's content: direct links and their /f/ redirect (service/explorer/file.go GetDirectLink,
// DeleteDirectLink, RedirectDirectLink), thumbnails (manager/thumbnail.go with the built-in generator), archive
// listing (manager/archive.go) and viewer sessions (manager/viewer.go).
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError, Code, FsErr, failure } from '../envelope.js';
import { Kind } from '../hashid.js';
import { META_THUMB_DISABLED } from '../fs.js';
import { bind, bindQuery, jsonBody, register, type Services } from '../http.js';
import { escapeSegment, requireUri } from '../uri.js';
import { hasBit, Perm, type EntityRow, type FileRow, type UserRow } from '../state.js';
import { extrasOf, type DirectLinkRow } from '../extras.js';
import { decodeImage, encodePng, ImageError, sniff, thumbnail } from '../image.js';
import { formSlash, listZip, ZipError } from '../zip.js';
import { contentUrl } from './file.js';
import { VIEWERS } from './site.js';
import { randomRunes } from './user-extra.js';

/** The whole stored content of an entity. */
export async function entityBytes(svc: Services, e: EntityRow): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of svc.blobs.read(e.source) as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

function ext(name: string): string {
  const i = name.lastIndexOf('.');
  return i > 0 ? name.slice(i + 1).toLowerCase() : '';
}

/** fs.FindDesiredEntity: the current version for '', else the named entity of the file (of `type` when given). */
function desiredEntity(svc: Services, f: FileRow, raw: string | undefined, type?: number): EntityRow | undefined | null {
  if (!raw) return f.primaryEntityId ? svc.st.entities.get(f.primaryEntityId) : null;
  const id = svc.st.hash.decode(Kind.Entity, raw);
  const e = id === undefined || !f.entityIds.includes(id) ? undefined : svc.st.entities.get(id);
  return e && (type === undefined || e.type === type) ? e : undefined;
}

export function fileExtraRoutes(app: FastifyInstance, svc: Services): void {
  const { st, fs } = svc;
  const x = extrasOf(st);
  const siteBase = () => st.setting('siteURL').replace(/\/+$/, '');
  const linkUrl = (l: DirectLinkRow) => `${siteBase()}/f/${st.hash.encode(Kind.SourceLink, l.id)}/${escapeSegment(l.name)}`;
  const groupSettings = (u: UserRow | undefined) => (u ? st.groupOf(u) : st.groups.get(3)!).settings;

  // ---- direct links ----

  register(app, svc, 'PUT', '/file/source', 'optional', async (c) => {
    const b = bind(jsonBody(c), [{ key: 'uris', name: 'Uris', kind: 'strings', required: true, min: 1 }]);
    if (b.uris.length > st.settingInt('max_batched_file', 3000)) throw new AppError(Code.TooManyUris, 'Too many uris');
    const batch = Number(groupSettings(c.caller).source_batch ?? 0);
    if (!batch) throw new AppError(Code.GroupNotAllowed, '');
    if (b.uris.length > batch) throw new AppError(Code.BatchSourceSize, '');
    const uris = b.uris.map((u: string) => requireUri(u));
    const redirect = !!groupSettings(c.caller).redirected_source;
    const links: { link: string; file_url: string }[] = [];
    const failed = new Map<string, AppError>();
    uris.forEach((uri: ReturnType<typeof requireUri>, i: number) => {
      try {
        const f = fs.get(c.caller, uri);
        if (f.ownerId !== c.caller!.id && !st.isAdmin(c.caller)) throw FsErr.ownerOnly();
        if (f.type !== 0 || !f.primaryEntityId || !st.entities.has(f.primaryEntityId)) throw new AppError(Code.EntityNotExist, 'Entity not exist');
        const speed = st.groupOf(c.caller!).speedLimit;
        if (redirect) {
          // One link per file, name and speed, reused (the group permission 17 would make each one unique).
          const unique = hasBit(st.groupOf(c.caller!).permissions, 17);
          let link = unique ? undefined : [...x.directLinks.values()].find((l) => l.fileId === f.id && l.name === f.name && l.speed === speed);
          if (!link) {
            link = { id: st.nextId('directLink'), fileId: f.id, name: f.name, speed, downloads: 0, createdAt: new Date() };
            x.directLinks.set(link.id, link);
          }
          links.push({ link: linkUrl(link), file_url: fs.uri(f) });
        } else {
          // A direct source URL of the entity that does not expire.
          links.push({ link: contentUrl(svc, f.primaryEntityId, fs.displayName(f), false, 0), file_url: fs.uri(f) });
        }
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        failed.set(b.uris[i], e);
      }
    });
    if (!failed.size) return links;
    const aggregated = Object.fromEntries([...failed].map(([u, e]) => [u, { code: e.code, msg: e.msg, correlation_id: c.correlationId }]));
    const msg = failed.size === 1 ? [...failed.values()][0]!.msg : 'One or more operation failed';
    throw new AppError(Code.BatchOperationNotFullyCompleted, msg, { aggregated, ...(links.length ? { data: links } : {}) });
  });

  // No login check on this route: an anonymous caller owns no file, so it gets the same 404.
  register(app, svc, 'DELETE', '/file/source/:id', 'optional', async (c) => {
    const id = st.hash.decode(Kind.SourceLink, (c.req.params as { id: string }).id);
    if (id === undefined) throw new AppError(Code.ParamErr, 'Failed to parse object ID');
    const link = x.directLinks.get(id);
    const f = link && st.files.get(link.fileId);
    if (!link || !f || f.ownerId !== c.caller?.id) throw new AppError(Code.NotFound, 'Direct link not found');
    x.directLinks.delete(id);
    return undefined;
  });

  // GET /f/:id/:name and /f/d/:id/:name (outside /api/v4): 302 to a signed URL of the file's current version.
  const redirect = (download: boolean) => async (req: { params: unknown }, reply: FastifyReply) => {
    const { id: raw, name } = req.params as { id: string; name: string };
    const correlationId = randomUUID();
    const id = st.hash.decode(Kind.SourceLink, raw);
    if (id === undefined) {
      return reply.code(200).header('Cache-Control', 'private, no-cache')
        .send(failure(new AppError(Code.ParamErr, 'Failed to parse object ID'), correlationId));
    }
    const notFound = () => reply.code(404).send(failure(new AppError(Code.NotFound, 'direct link not found'), correlationId));
    const link = x.directLinks.get(id);
    if (!link || link.name !== name) return notFound();
    link.downloads++;
    const f = st.files.get(link.fileId);
    const owner = f && st.users.get(f.ownerId);
    if (!f || !owner || owner.status !== 'active' || fs.inTrash(f) || !f.primaryEntityId) return notFound();
    const ttl = st.settingInt('entity_url_default_ttl', 3600);
    const expires = Math.floor(Date.now() / 1000) + ttl;
    const location = contentUrl(svc, f.primaryEntityId, link.name, download, expires);
    // (The real handler sets a Cache-Control header after the redirect is written: it is never sent.)
    return reply.code(302).header('Location', location).type('text/html; charset=utf-8').send(`<a href="${location.replaceAll('&', '&amp;')}">Found</a>.\n\n`);
  };
  app.get('/f/:id/:name', redirect(false));
  app.get('/f/d/:id/:name', redirect(true));

  // ---- thumbnails ----

  register(app, svc, 'GET', '/file/thumb', 'optional', async (c) => {
    const q = bindQuery(c, [{ key: 'uri', name: 'Uri', kind: 'string', required: true }]);
    const f = fs.get(c.caller, requireUri(q.uri));
    if (f.metadata.has(META_THUMB_DISABLED) || f.type !== 0) throw new AppError(Code.EntityNotExist, 'Entity not exist');
    const ttl = st.settingInt('entity_url_default_ttl', 3600);
    const expires = Math.floor(Date.now() / 1000) + ttl;
    const answer = (e: EntityRow, name: string) =>
      ({ url: contentUrl(svc, e.id, name, false, expires), expires: new Date(expires * 1000).toISOString() });
    // 1. A thumbnail made before.
    const existing = f.entityIds.map((id) => st.entities.get(id)).find((e) => e?.type === 1);
    if (existing) return answer(existing, `${fs.displayName(f)}.jpg`);
    const primary = f.primaryEntityId ? st.entities.get(f.primaryEntityId) : undefined;
    if (!primary) throw new AppError(Code.NotSet, '');
    // 2. The built-in generator (jpg, jpeg, png, gif up to thumb_builtin_max_size); any failure disables thumbnails
    // of the file.
    const name = fs.displayName(f);
    let png: Buffer;
    try {
      const e = ext(name);
      if (st.setting('thumb_builtin_enabled') === '0' || !['jpg', 'jpeg', 'png', 'gif'].includes(e)
        || primary.size > st.settingInt('thumb_builtin_max_size', 78643200)) throw new ImageError('no generator');
      const bytes = await entityBytes(svc, primary);
      if (sniff(bytes) !== (e === 'jpg' ? 'jpeg' : e)) throw new ImageError('failed to parse image');
      png = encodePng(thumbnail(decodeImage(bytes), st.settingInt('thumb_width', 400), st.settingInt('thumb_height', 300)));
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      f.metadata.set(META_THUMB_DISABLED, '');
      throw new AppError(Code.NotSet, '');
    }
    // Stored as the file's thumbnail entity ({blob_path}/{blob_name}._thumb), charged to the owner.
    const owner = st.users.get(f.ownerId)!;
    const now = new Date();
    const thumb: EntityRow = { id: st.nextId('entity'), type: 1, size: png.length,
      source: `uploads/${owner.id}/${posix.basename(primary.source)}._thumb`, policyId: primary.policyId, createdBy: owner.id,
      createdAt: now, updatedAt: now };
    await svc.blobs.create(thumb.source, 0, false);
    await svc.blobs.writeAt(thumb.source, 0, Readable.from([png]), png.length);
    st.entities.set(thumb.id, thumb);
    f.entityIds.push(thumb.id);
    fs.charge(owner.id, png.length);
    // The first answer names the blob itself (served as application/octet-stream); later ones `<name>.jpg`.
    return answer(thumb, posix.basename(thumb.source));
  });

  // ---- archive listing ----

  register(app, svc, 'GET', '/file/archive', 'optional', async (c) => {
    const q = bindQuery(c, [
      { key: 'uri', name: 'Uri', kind: 'string', required: true },
      { key: 'entity', name: 'Entity', kind: 'string' },
      { key: 'text_encoding', name: 'TextEncoding', kind: 'string' },
    ]);
    const perms = c.caller ? st.groupOf(c.caller).permissions : st.groups.get(3)!.permissions;
    if (!hasBit(perms, Perm.ArchiveTask)) throw new AppError(Code.GroupNotAllowed, 'Group not allowed to extract archive files');
    const f = fs.get(c.caller, requireUri(q.uri));
    if (f.type !== 0) throw FsErr.notSupported();
    const limit = Number((c.caller ? st.groupOf(c.caller) : st.groups.get(3)!).settings.decompress_size ?? 0);
    if (limit > 0 && f.size > limit) throw FsErr.tooLarge();
    const e = desiredEntity(svc, f, q.entity);
    if (!e) throw new AppError(Code.EntityNotExist, 'Entity not exist');
    if (q.text_encoding && !ZIP_ENCODINGS.has(q.text_encoding.toLowerCase())) throw FsErr.notSupported();
    const kind = ext(fs.displayName(f));
    if (kind !== 'zip' && kind !== '7z') throw FsErr.notSupported();
    const bytes = await entityBytes(svc, e);
    try {
      // 7z archives are not read here (the real server does): they answer like a corrupt archive.
      if (kind === '7z') throw new ZipError('7z: not supported');
      return { files: listZip(bytes).map((z) => ({ name: formSlash(z.name), size: z.size,
        updated_at: z.modified.toISOString().replace(/\.000Z$/, 'Z'), is_directory: z.isDir })) };
    } catch (err) {
      if (err instanceof ZipError) throw new AppError(Code.NotSet, '');
      throw err;
    }
  });

  // ---- viewer sessions ----

  register(app, svc, 'PUT', '/file/viewerSession', 'optional', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'uri', name: 'Uri', kind: 'string', required: true },
      { key: 'version', name: 'Version', kind: 'string' },
      { key: 'viewer_id', name: 'ViewerID', kind: 'string', required: true },
      { key: 'preferred_action', name: 'PreferredAction', kind: 'string', required: true },
    ]);
    const uri = requireUri(b.uri);
    const viewer = VIEWERS.flatMap((g) => g.viewers).find((v) => v.id === b.viewer_id && !v.disabled);
    if (!viewer) throw new AppError(Code.ParamErr, 'unknown viewer id');
    const f = fs.get(c.caller, uri);
    if (f.isRoot) throw FsErr.notSupported();
    const e = desiredEntity(svc, f, b.version, 0);
    if (e === undefined) throw new AppError(Code.EntityNotExist, 'Entity not exist');
    if (e && e.size > st.settingInt('maxEditSize', 52428800)) throw FsErr.tooLarge();
    const id = randomUUID();
    const token = `${id}.${randomRunes(128)}`;
    const ttl = st.settingInt('viewer_session_timeout', 36000);
    x.viewerSessions.set(id, { id, uri: fs.uri(f), userId: c.caller?.id ?? 0, fileId: f.id, viewerId: viewer.id,
      version: b.version ?? '', token }, ttl);
    // Built-in and custom viewers need no WOPI source; no WOPI viewer is configured on a fresh site.
    return { session: { id, access_token: token, expires: Date.now() + (ttl - 10) * 1000 } };
  });

}

/** manager.ZipEncodings' names. */
const ZIP_ENCODINGS = new Set(['ibm866', 'iso8859_2', 'iso8859_3', 'iso8859_4', 'iso8859_5', 'iso8859_6', 'iso8859_7',
  'iso8859_8', 'iso8859_8i', 'iso8859_10', 'iso8859_13', 'iso8859_14', 'iso8859_15', 'iso8859_16', 'koi8r', 'koi8u',
  'macintosh', 'windows874', 'windows1250', 'windows1251', 'windows1252', 'windows1253', 'windows1254', 'windows1255',
  'windows1256', 'windows1257', 'windows1258', 'macintoshcyrillic', 'gbk', 'gb18030', 'big5', 'eucjp', 'iso2022jp',
  'shiftjis', 'euckr', 'utf16be', 'utf16le']);
