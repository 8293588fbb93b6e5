// Share links (service/share): create, edit, info, list (own and on a profile), delete.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError, Code, FsErr } from '../envelope.js';
import { Kind } from '../hashid.js';
import { bind, bindQuery, jsonBody, register, type Ctx, type Services } from '../http.js';
import { hasBit, Perm, type FileRow, type ShareRow } from '../state.js';
import { requireUri } from '../uri.js';
import { userFromParam } from './user.js';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';

export function shareRoutes(app: FastifyInstance, svc: Services): void {
  const { st, fs, views } = svc;

  const shareFields = [
    { key: 'uri', name: 'Uri', kind: 'string' as const, required: true },
    { key: 'is_private', name: 'IsPrivate', kind: 'bool' as const },
    { key: 'password', name: 'Password', kind: 'string' as const, max: 32, check: (v: unknown) => /^[a-zA-Z0-9]*$/.test(v as string) },
    { key: 'downloads', name: 'RemainDownloads', kind: 'int' as const },
    { key: 'expire', name: 'Expire', kind: 'int' as const },
    { key: 'share_view', name: 'ShareView', kind: 'bool' as const },
    { key: 'show_readme', name: 'ShowReadMe', kind: 'bool' as const },
  ];

  /** The file to share: the caller's own, not the root (errors keep their code, msg "src file not found"). */
  function shareSource(c: Ctx, rawUri: string): FileRow {
    if (!hasBit(st.groupOf(c.caller!).permissions, Perm.Share)) {
      throw new AppError(Code.GroupNotAllowed, 'Group permission denied');
    }
    const uri = requireUri(rawUri);
    try {
      fs.checkFs(uri, ['my']);
      const f = fs.get(c.caller, uri, ['my']);
      if (f.isRoot) throw FsErr.notSupported();
      return f;
    } catch (e) {
      if (e instanceof AppError) throw new AppError(e.code, 'src file not found');
      throw e;
    }
  }

  function apply(s: ShareRow, b: Record<string, any>): void {
    s.remainDownloads = b.downloads > 0 ? b.downloads : null;
    s.expires = b.expire > 0 ? new Date(Date.now() + b.expire * 1000) : null;
    s.shareView = !!b.share_view;
    s.showReadme = !!b.show_readme;
  }

  register(app, svc, 'PUT', '/share', 'user', async (c) => {
    const b = bind(jsonBody(c), shareFields);
    const f = shareSource(c, b.uri);
    const password = b.is_private ? (b.password?.trim() ? b.password : randomString(8)) : '';
    const id = st.nextId('share');
    const s: ShareRow = { id, ownerId: c.caller!.id, fileId: f.id, password, views: 0, downloads: 0,
      remainDownloads: null, expires: null, shareView: false, showReadme: false, createdAt: new Date() };
    apply(s, b);
    st.shares.set(id, s);
    return views.shareUrl(s, true);
  });

  register(app, svc, 'POST', '/share/:id', 'user', async (c) => {
    const id = shareIdParam(c);
    const b = bind(jsonBody(c), shareFields);
    const f = shareSource(c, b.uri);
    const s = st.shares.get(id);
    if (!s) throw new AppError(Code.NotFound, 'failed to get existed share');
    if (s.fileId !== f.id) throw new AppError(Code.NotFound, 'share link not found');
    apply(s, b);
    return views.shareUrl(s, true);
  });

  register(app, svc, 'GET', '/share/info/:id', 'optional', async (c) => {
    const id = shareIdParam(c);
    const q = bindQuery(c, [
      { key: 'password', name: 'Password', kind: 'string' },
      { key: 'count_views', name: 'CountViews', kind: 'bool' },
      { key: 'owner_extended', name: 'OwnerExtended', kind: 'bool' },
    ]);
    const s = st.shares.get(id);
    const f = s ? st.files.get(s.fileId) : undefined;
    if (!s || !f) throw new AppError(Code.NotFound, 'Share not found');
    if (views.shareExpired(s) || fs.inTrash(f)) throw new AppError(Code.NotFound, 'Share link expired');
    if (q.count_views) s.views++;
    const isOwner = c.caller?.id === s.ownerId;
    const unlocked = s.password === '' || q.password === s.password || isOwner;
    const out = views.share(s, c.caller, unlocked);
    if (q.owner_extended && isOwner) out.source_uri = fs.uri(f);
    return out;
  });

  register(app, svc, 'GET', '/share', 'user', async (c) => {
    const q = listQuery(c);
    const mine = [...st.shares.values()].filter((s) => s.ownerId === c.caller!.id);
    return page(c, mine, q, true);
  });

  register(app, svc, 'GET', '/user/shares/:user_id', 'optional', async (c) => {
    const target = userFromParam(svc, (c.req.params as { user_id: string }).user_id);
    const q = listQuery(c);
    const level = target.settings.share_links_in_profile;
    if (level === 'hide_share') throw new AppError(Code.ParamErr, 'User has disabled share links in profile');
    const shares = [...st.shares.values()].filter((s) => s.ownerId === target.id && (level === 'all_share' || s.password === ''));
    return page(c, shares, q, false);
  });

  register(app, svc, 'DELETE', '/share/:id', 'user', async (c) => {
    const id = shareIdParam(c);
    const s = st.shares.get(id);
    if (!s || (s.ownerId !== c.caller!.id && !st.isAdmin(c.caller))) throw new AppError(Code.NotFound, 'share not found');
    st.shares.delete(id);
    return undefined;
  });

  function listQuery(c: Ctx): Record<string, any> {
    return bindQuery(c, [
      { key: 'page_size', name: 'PageSize', kind: 'int', required: true, min: 10, max: 100 },
      { key: 'order_by', name: 'OrderBy', kind: 'string' },
      { key: 'order_direction', name: 'OrderDirection', kind: 'string' },
      { key: 'next_page_token', name: 'NextPageToken', kind: 'string' },
    ]);
  }

  /** One cursor page of shares, ordered by views, downloads or remaining downloads, else by id. */
  function page(c: Ctx, shares: ShareRow[], q: Record<string, any>, unlocked: boolean): Record<string, unknown> {
    const key = (s: ShareRow): number => q.order_by === 'views' ? s.views : q.order_by === 'downloads' ? s.downloads
      : q.order_by === 'remain_downloads' ? (s.remainDownloads ?? 0) : s.id;
    const desc = q.order_direction === 'desc';
    const sorted = shares.sort((a, b) => ((key(a) - key(b)) || (a.id - b.id)) * (desc ? -1 : 1));
    const offset = q.next_page_token ? Number(Buffer.from(q.next_page_token, 'base64url').toString()) || 0 : 0;
    const slice = sorted.slice(offset, offset + q.page_size);
    const pagination: Record<string, unknown> = { page: 0, page_size: q.page_size };
    if (offset + q.page_size < sorted.length) pagination.next_token = Buffer.from(String(offset + q.page_size)).toString('base64url');
    pagination.is_cursor = true;
    return { shares: slice.length ? slice.map((s) => views.share(s, c.caller, unlocked)) : null, pagination };
  }

  function shareIdParam(c: Ctx): number {
    const id = st.hash.decode(Kind.Share, (c.req.params as { id: string }).id);
    if (id === undefined) throw new AppError(Code.ParamErr, 'Failed to parse object ID');
    return id;
  }
}

function randomString(n: number): string {
  return [...randomBytes(n)].map((b) => LOWER[b % LOWER.length]).join('');
}
