// WebDAV accounts (service/setting/webdav.go): list, create and update (need the group's WebDAV permission), delete.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError, Code } from '../envelope.js';
import { Kind } from '../hashid.js';
import { bind, bindQuery, jsonBody, register, type Ctx, type Services } from '../http.js';
import { bitset, hasBit, Perm, type DavRow } from '../state.js';
import { parseUri } from '../uri.js';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
/** types.DavAccountOption bits. */
const Opt = { ReadOnly: 0, Proxy: 1, DisableSysFiles: 2 };

export function davRoutes(app: FastifyInstance, svc: Services): void {
  const { st, views } = svc;

  /** validateAndGetBs: WebDAV permission, a `my` or `share` uri without search, the option bits. */
  function options(c: Ctx): { name: string; uri: string; options: Buffer } {
    const b = bind(jsonBody(c), [
      { key: 'uri', name: 'Uri', kind: 'string', required: true },
      { key: 'name', name: 'Name', kind: 'string', required: true, min: 1, max: 255 },
      { key: 'readonly', name: 'Readonly', kind: 'bool' },
      { key: 'proxy', name: 'Proxy', kind: 'bool' },
      { key: 'disable_sys_files', name: 'DisableSysFiles', kind: 'bool' },
    ]);
    const perms = st.groupOf(c.caller!).permissions;
    if (!hasBit(perms, Perm.WebDAV)) throw new AppError(Code.GroupNotAllowed, 'WebDAV is not enabled for this user group');
    const uri = parseUri(b.uri);
    if (!uri || (uri.fs !== 'my' && uri.fs !== 'share') || [...uri.query.keys()].length) {
      throw new AppError(Code.ParamErr, 'Invalid URI');
    }
    const bits: number[] = [];
    if (b.readonly) bits.push(Opt.ReadOnly);
    if (b.disable_sys_files) bits.push(Opt.DisableSysFiles);
    if (b.proxy && hasBit(perms, Perm.WebDAVProxy)) bits.push(Opt.Proxy);
    return { name: b.name, uri: b.uri, options: bitset(...bits) };
  }

  function own(c: Ctx): DavRow {
    const id = st.hash.decode(Kind.DavAccount, (c.req.params as { id: string }).id);
    if (id === undefined) throw new AppError(Code.ParamErr, 'Failed to parse object ID');
    const d = st.davAccounts.get(id);
    if (!d || d.ownerId !== c.caller!.id) throw new AppError(Code.NotFound, 'Account not exist');
    return d;
  }

  register(app, svc, 'GET', '/devices/dav', 'user', async (c) => {
    const q = bindQuery(c, [
      { key: 'page_size', name: 'PageSize', kind: 'int', required: true, min: 10, max: 100 },
      { key: 'next_page_token', name: 'NextPageToken', kind: 'string' },
    ]);
    const all = [...st.davAccounts.values()].filter((d) => d.ownerId === c.caller!.id).sort((a, b) => a.id - b.id);
    const offset = q.next_page_token ? Number(Buffer.from(q.next_page_token, 'base64url').toString()) || 0 : 0;
    const slice = all.slice(offset, offset + q.page_size);
    const pagination: Record<string, unknown> = { page: 0, page_size: q.page_size };
    if (offset + q.page_size < all.length) pagination.next_token = Buffer.from(String(offset + q.page_size)).toString('base64url');
    pagination.is_cursor = true;
    return { accounts: slice.map((d) => views.dav(d)), pagination };
  });

  register(app, svc, 'PUT', '/devices/dav', 'user', async (c) => {
    const o = options(c);
    const id = st.nextId('dav');
    const d: DavRow = { id, ownerId: c.caller!.id, ...o, createdAt: new Date(),
      password: [...randomBytes(32)].map((b) => LOWER[b % LOWER.length]).join('') };
    st.davAccounts.set(id, d);
    return views.dav(d);
  });

  register(app, svc, 'PATCH', '/devices/dav/:id', 'user', async (c) => {
    const d = own(c);
    Object.assign(d, options(c));
    return views.dav(d);
  });

  register(app, svc, 'DELETE', '/devices/dav/:id', 'user', async (c) => {
    st.davAccounts.delete(own(c).id);
    return undefined;
  });
}
