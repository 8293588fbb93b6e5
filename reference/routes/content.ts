// Routes whose request or response body is file content, streamed: the signed download route and
// PUT /file/content (a whole small file in one request, as a new file or a new version).
import type { FastifyInstance } from 'fastify';
import { AppError, Code } from '../envelope.js';
import { Kind } from '../hashid.js';
import { bindQuery, declaredLength, parseRange, RAW, register, type Services } from '../http.js';
import { checkSign } from '../sign.js';
import { requireUri } from '../uri.js';
import { completeUpload, prepareUpload, rollback } from '../uploads.js';

const MIME: Record<string, string> = {
  txt: 'text/plain; charset=utf-8', html: 'text/html; charset=utf-8', htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8', json: 'application/json',
  xml: 'text/xml; charset=utf-8', csv: 'text/csv; charset=utf-8', md: 'text/markdown; charset=utf-8',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', svg: 'image/svg+xml',
  pdf: 'application/pdf', zip: 'application/zip', mp3: 'audio/mpeg', mp4: 'video/mp4', wasm: 'application/wasm',
};

export function mimeOf(name: string): string {
  const ext = name.includes('.') ? name.split('.').pop()!.toLowerCase() : '';
  return MIME[ext] ?? 'application/octet-stream';
}

/** Download route: no body to read, registered with the JSON routes. */
export function downloadRoutes(app: FastifyInstance, svc: Services): void {
  const { st, blobs } = svc;
  for (const method of ['GET', 'HEAD']) {
    register(app, svc, method, '/file/content/:id/:speed/:name', 'optional', async (c) => {
      const url = new URL(c.req.url, 'http://reference.invalid');
      // The signature covers the decoded path only (auth.CheckURI), whatever the query holds besides `sign`.
      checkSign(st, decodePath(url.pathname), url.searchParams.get('sign') ?? '');
      const { id: rawId, speed, name } = c.req.params as { id: string; speed: string; name: string };
      const id = st.hash.decode(Kind.Entity, rawId);
      if (id === undefined) throw new AppError(Code.ParamErr, 'Failed to parse object ID');
      if (!/^\d+$/.test(speed)) throw new AppError(Code.ParamErr, 'Parameter error', { noCorrelation: true });
      const e = st.entities.get(id);
      if (!e) throw new AppError(Code.EntityNotExist, 'Entity not exist');
      const size = await blobs.size(e.source);
      if (size < 0) {
        await c.reply.code(404).type('text/plain').send('404 page not found');
        return RAW;
      }
      const etag = `"${rawId}"`;
      // Entity content is public and cacheable, and sandboxed (manager/entitysource Serve).
      c.reply.header('Cache-Control', `public, max-age=${st.settingInt('public_resource_maxage', 86400)}`)
        .header('Content-Security-Policy', 'sandbox');
      const reply = c.reply.header('Accept-Ranges', 'bytes').header('ETag', etag)
        .header('Last-Modified', e.updatedAt.toUTCString()).type(mimeOf(name));
      if (url.searchParams.get('download') === 'true') {
        reply.header('Content-Disposition', `attachment; filename="${encodeURIComponent(name)}"; filename*=UTF-8''${encodeURIComponent(name)}`);
      }
      if (c.req.headers['if-none-match'] === etag) {
        await reply.code(304).send();
        return RAW;
      }
      const range = parseRange(c.req.headers.range, size);
      if (range) {
        reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end}/${size}`)
          .header('Content-Length', String(range.end - range.start + 1));
      } else reply.code(200).header('Content-Length', String(size));
      if (method === 'HEAD' || size === 0) await reply.send(method === 'HEAD' ? undefined : '');
      else await reply.send(blobs.read(e.source, range));
      return RAW;
    });
  }
}

/** Routes that read their request body as a stream. */
export function contentUploadRoute(app: FastifyInstance, svc: Services): void {
  const { st, views, blobs } = svc;
  register(app, svc, 'PUT', '/file/content', 'optional', async (c) => {
    const q = bindQuery(c, [
      { key: 'uri', name: 'Uri', kind: 'string', required: true },
      { key: 'previous', name: 'Previous', kind: 'string' },
    ]);
    // Size comes from Content-Length (or X-Expected-Entity-Length); a body without either is an empty file.
    const size = declaredLength(c);
    if (size === undefined) throw new AppError(Code.ParamErr, 'invalid content length');
    if (size > st.settingInt('maxEditSize', 52428800)) throw new AppError(Code.FileTooLarge, 'File is too large');
    const uri = requireUri(q.uri);
    const p = prepareUpload(svc, c.caller, uri, { size, entityType: 'version', previous: q.previous });
    st.writing.add(p.file.id);
    try {
      let written = -1;
      try {
        await blobs.create(p.entity.source, 0, false);
        written = await blobs.writeAt(p.entity.source, 0, c.req.raw, size);
      } catch {
        // a failed write is answered below
      }
      if (written !== size) {
        await rollback(svc, p);
        throw new AppError(Code.IOFailed, 'Failed to upload file');
      }
      await completeUpload(svc, p.file, p.entity);
    } finally {
      st.writing.delete(p.file.id);
    }
    return views.file(p.file, c.caller, { metadata: 'lazy' });
  });
}

function decodePath(p: string): string {
  return p.split('/').map((s) => { try { return decodeURIComponent(s); } catch { return s; } }).join('/');
}

