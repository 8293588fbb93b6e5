// File routes around the tree rather than in it: sidebar pins, metadata patches, folder view settings and force
// unlocking an upload lock (service/explorer/pin.go, file.go PatchMetadata/PatchView, Unlock).
import type { FastifyInstance } from 'fastify';
import { AppError, Code, FsErr } from '../envelope.js';
import { bind, jsonBody, register, type Services } from '../http.js';
import { requireUri } from '../uri.js';
import { validMetadataKey } from '../uploads.js';

export function fileMetaRoutes(app: FastifyInstance, svc: Services): void {
  const { st, fs } = svc;

  register(app, svc, 'PUT', '/file/pin', 'user', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'uri', name: 'Uri', kind: 'string', required: true },
      { key: 'name', name: 'Name', kind: 'string' },
    ]);
    requireUri(b.uri);
    const s = c.caller!.settings;
    const pins = (s.pined as { uri: string; name?: string }[] | undefined) ?? [];
    const existing = pins.find((p) => p.uri === b.uri);
    if (existing) {
      if ((existing.name ?? '') !== (b.name ?? '')) throw FsErr.existed();
      return undefined;
    }
    s.pined = [...pins, b.name ? { uri: b.uri, name: b.name } : { uri: b.uri }];
    return undefined;
  });

  register(app, svc, 'DELETE', '/file/pin', 'user', async (c) => {
    const b = bind(jsonBody(c), [{ key: 'uri', name: 'Uri', kind: 'string', required: true }]);
    const s = c.caller!.settings;
    const pins = ((s.pined as { uri: string }[] | undefined) ?? []).filter((p) => p.uri !== b.uri);
    if (pins.length) s.pined = pins;
    else delete s.pined;
    return undefined;
  });

  register(app, svc, 'PATCH', '/file/metadata', 'optional', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'uris', name: 'Uris', kind: 'strings', required: true },
      { key: 'patches', name: 'Patches', kind: 'any', required: true },
    ]);
    const patches = b.patches as { key?: unknown; value?: unknown; remove?: unknown; private?: unknown }[];
    if (!Array.isArray(patches) || patches.some((p) => !p || typeof p.key !== 'string')) throw new AppError(Code.ParamErr, 'JSON marshall error', { noCorrelation: true });
    if (patches.some((p) => p.private === true)) throw new AppError(Code.ParamErr, 'Private metadata is not allowed');
    if (patches.some((p) => !validMetadataKey(p.key as string))) throw new AppError(Code.ParamErr, 'Invalid metadata key');
    const files = (b.uris as string[]).map((u) => {
      const f = fs.get(c.caller, requireUri(u), ['my']);
      if (f.ownerId !== c.caller!.id) throw FsErr.ownerOnly();
      return f;
    });
    for (const f of files) {
      for (const p of patches) {
        if (p.remove === true) f.metadata.delete(p.key as string);
        else f.metadata.set(p.key as string, typeof p.value === 'string' ? p.value : '');
      }
    }
    return undefined;
  });

  register(app, svc, 'PATCH', '/file/view', 'optional', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'uri', name: 'Uri', kind: 'string', required: true },
      { key: 'view', name: 'View', kind: 'object' },
    ]);
    const f = fs.get(c.caller, requireUri(b.uri), ['my']);
    if (f.type !== 1) throw FsErr.notSupported();
    if (f.ownerId !== c.caller!.id) throw FsErr.ownerOnly();
    if (b.view === undefined) delete f.view;
    else f.view = b.view as Record<string, unknown>;
    return undefined;
  });

  register(app, svc, 'DELETE', '/file/lock', 'none', async (c) => {
    const b = bind(jsonBody(c), [{ key: 'tokens', name: 'Tokens', kind: 'strings', required: true, max: 16384 }]);
    const sessions = (b.tokens as string[]).map((t) => [...st.sessions.values()].find((s) => s.lockToken === t && !s.unlocked));
    if (sessions.some((s) => !s)) throw new AppError(Code.ParamErr, 'Lock not found');
    for (const s of sessions) s!.unlocked = true;
    return undefined;
  });
}
