// The master's side of the remote storage policy (pkg/filemanager/driver/remote, re-implemented): where an entity of
// a remote policy is stored on its node (the policy's dir/file name rules), the master→slave RPC (signed with the
// node's `slave_key`, TTL `slave_api_timeout`, the X-Cr-* master headers), the upload credential handed to clients,
// signed slave content URLs, and a Blobs that sends every operation on such an entity to the node over HTTP.
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, Code } from '../envelope.js';
import { Blobs } from '../blobs.js';
import { Kind } from '../hashid.js';
import { escapeSegment } from '../uri.js';
import { VERSION, type EntityRow, type NodeRow, type PolicyRow, type State, type UploadSession } from '../state.js';
import type { Services } from '../http.js';
import { renderSavePath } from '../save-path.js';
import { bodyUnsigned, decodedPath, requestCredential, signedHeaders, signUrl } from './hmac.js';
import { fault } from '../faults/index.js';

/** Where a request goes: a node's server URL and key (a registered node, or the one POST /admin/node/test names). */
export interface NodeAddress { id: number; server: string; key: string }

export interface SlaveAnswer { code: number; msg: string; data?: unknown }



export class RemoteStorage {
  /** Source of every entity stored on a node → its policy id. */
  readonly sources = new Map<string, number>();

  constructor(readonly st: State) {}

  nodeOf(policy: PolicyRow | undefined): NodeAddress | undefined {
    const n: NodeRow | undefined = policy?.nodeId ? this.st.nodes.get(policy.nodeId) : undefined;
    return n && n.type === 'slave' ? { id: n.id, server: n.server, key: n.slaveKey } : undefined;
  }

  policyOfSource(source: string): PolicyRow | undefined {
    const id = this.sources.get(source);
    return id === undefined ? undefined : this.st.policies.get(id);
  }

  /** Gives a new entity of a remote policy its path on the node (the policy's name rules), and remembers it. */
  adopt(entity: EntityRow, policy: PolicyRow, uid: number, segments: string[]): void {
    if (policy.type !== 'remote') return;
    let path = '';
    for (let i = 0; i < 8 && (path === '' || this.sources.has(path)); i++) path = this.savePath(policy, uid, segments);
    entity.source = path;
    this.sources.set(path, policy.id);
  }

  /** path.Join(dir rule, file rule), both rendered (the real server's placeholders). */
  savePath(policy: PolicyRow, uid: number, segments: string[]): string {
    return renderSavePath(policy, uid, segments);
  }

  // ---- master → slave RPC ----

  /**
   * A request to `<server>/api/v4/slave/<rel>` as request.Client makes it: master headers (all X-Cr-*, so signed),
   * then the header credential for PUT/POST/PATCH or a URL signature otherwise. Answers the node's envelope; a
   * transport failure or a status other than 200 is code -1.
   */
  async request(node: NodeAddress, method: string, rel: string, opts: { body?: string | Readable; contentLength?: number;
    headers?: Record<string, string>; correlationId?: string; timeoutMs?: number } = {}): Promise<SlaveAnswer> {
    let url: URL;
    try { url = new URL(`/api/v4/slave/${rel}`, node.server); } catch { throw new AppError(Code.NotSet, `Invalid node URL "${node.server}"`); }
    const headers: Record<string, string> = { 'User-Agent': `Cloudreve/${VERSION}`,
      'X-Cr-Correlation-Id': opts.correlationId ?? randomUUID(), 'X-Cr-Site-Url': this.st.setting('siteURL'),
      'X-Cr-Site-Id': this.st.setting('siteID'), 'X-Cr-Version': VERSION, ...opts.headers };
    if (node.id > 0) headers['X-Cr-Node-Id'] = String(node.id);
    if (typeof opts.body === 'string') headers['Content-Type'] = 'application/json';
    if (opts.contentLength !== undefined) headers['Content-Length'] = String(opts.contentLength);
    const expires = Math.floor(Date.now() / 1000) + this.st.settingInt('slave_api_timeout', 60);
    if (['PUT', 'POST', 'PATCH'].includes(method)) {
      const path = decodedPath(url.pathname);
      const body = typeof opts.body === 'string' && !bodyUnsigned(path, method) ? opts.body : '';
      headers.Authorization = requestCredential(node.key, path, signedHeaders(headers), body, expires);
    } else {
      url = signUrl(node.key, url, expires);
    }
    const init: RequestInit & { duplex?: string } = { method, headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) };
    if (typeof opts.body === 'string') init.body = opts.body;
    else if (opts.body) {
      init.body = Readable.toWeb(opts.body) as unknown as ReadableStream<Uint8Array>;
      init.duplex = 'half';
    }
    let res: Response;
    try {
      res = await fetch(url, init);
    } catch (e) {
      throw new AppError(Code.NotSet, `Failed to reach node: ${(e as Error).message}`);
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new AppError(Code.NotSet, `Remote returns unexpected status code: ${res.status}`);
    }
    try {
      const out = await res.json() as SlaveAnswer;
      if (typeof out.code !== 'number') throw new Error('not an envelope');
      return out;
    } catch (e) {
      throw new AppError(Code.NotSet, `Failed to parse node response: ${(e as Error).message}`);
    }
  }

  /** The node's answer, or its error as the master passes it on (serializer.NewErrorFromResponse). */
  private async call(node: NodeAddress, method: string, rel: string, opts: Parameters<RemoteStorage['request']>[3] = {}): Promise<void> {
    const r = await this.request(node, method, rel, opts);
    if (r.code !== 0) throw new AppError(r.code, r.msg ?? '');
  }

  private node(policy: PolicyRow): NodeAddress {
    const node = this.nodeOf(policy);
    if (!node) throw new AppError(Code.NotSet, `remote storage policy ${policy.id} has no node`);
    return node;
  }

  /** PUT /slave/upload: the slave-side session, `{session: <fs.UploadSession>, overwrite}` with Go's field names. */
  async createSession(policy: PolicyRow, s: UploadSession, savePath: string, opts: { callback: string; overwrite?: boolean;
    correlationId?: string }): Promise<void> {
    const node = this.node(policy);
    const row = this.st.nodes.get(node.id);
    // The policy as ent marshals it, with its node (whose slave_key signs the slave's completion callback).
    const policyJson = { id: policy.id, name: policy.name, type: policy.type, max_size: policy.maxSize,
      dir_name_rule: policy.dirNameRule, file_name_rule: policy.fileNameRule, settings: policy.settings, node_id: policy.nodeId,
      edges: row ? { node: { id: row.id, status: row.status, name: row.name, type: row.type, server: row.server,
        slave_key: row.slaveKey, weight: row.weight, edges: {} } } : {} };
    const session = {
      UID: s.uid, Policy: policyJson, FileID: s.fileId, EntityID: s.entityId, Callback: opts.callback,
      CallbackSecret: s.callbackSecret, UploadID: '', UploadURL: '', Credential: '', ChunkSize: s.chunkSize, SentinelTaskID: 0,
      NewFileCreated: false, Importing: false, EncryptMetadata: null, LockToken: s.lockToken,
      Props: { Uri: s.uri, Size: s.size, UploadSessionID: s.id, PreferredStoragePolicy: 0, SavePath: savePath,
        LastModified: s.lastModified?.toISOString() ?? null, MimeType: '', Metadata: s.metadata ?? null, PreviousVersion: '',
        EntityType: null, ExpireAt: new Date(s.expires * 1000).toISOString(), EncryptionSupported: null, ClientSideEncrypted: false },
      ChunksReceived: null,
    };
    await this.call(node, 'PUT', 'upload', { body: JSON.stringify({ session, overwrite: opts.overwrite ?? false }),
      correlationId: opts.correlationId });
  }

  /** GetUploadURL: the slave chunk URL and the Authorization value a client sends with every chunk. */
  uploadCredential(policy: PolicyRow, sessionId: string, expires: number): { url: string; credential: string } {
    const node = this.node(policy);
    const url = new URL(node.server);
    url.pathname = posix.join(url.pathname, '/api/v4/slave/upload', sessionId);
    url.search = '';
    url.hash = '';
    return { url: url.toString(), credential: requestCredential(node.key, decodedPath(url.pathname), '', '', expires) };
  }

  /** CancelToken: DELETE /slave/upload/<id> (URL-signed). */
  async cancelSession(policy: PolicyRow, sessionId: string, correlationId?: string): Promise<void> {
    await this.call(this.node(policy), 'DELETE', `upload/${encodeURIComponent(sessionId)}`, { correlationId });
  }

  /** DeleteFiles: DELETE /slave/file {files} (URL-signed). */
  async deleteFiles(policy: PolicyRow, files: string[]): Promise<void> {
    await this.call(this.node(policy), 'DELETE', 'file', { body: JSON.stringify({ files }) });
  }

  /** The master's own upload to a node (remoteClient.Upload): a session without callback, then the body as chunk 0. */
  async put(policy: PolicyRow, source: string, body: Readable, length: number): Promise<number> {
    const ttl = this.st.settingInt('upload_session_timeout', 86400);
    const id = randomUUID();
    const s: UploadSession = { id, uid: 0, fileId: 0, entityId: 0, uri: '', size: length, chunkSize: 0,
      expires: Math.floor(Date.now() / 1000 + ttl), callbackSecret: '', policyId: policy.id, received: new Set(), lockToken: '' };
    await this.createSession(policy, s, source, { callback: '', overwrite: true });
    const limited = body.pipe(limit(length));
    try {
      await this.call(this.node(policy), 'POST', `upload/${id}?chunk=0`, { body: length ? limited : '', contentLength: length,
        headers: { 'X-Cr-Overwrite': 'true' }, timeoutMs: 600_000 });
    } catch (e) {
      await this.cancelSession(policy, id).catch(() => undefined);
      throw e;
    }
    return length;
  }

  /** routes.SlaveFileContentUrl, URL-signed with the node key until `expires`. */
  contentUrl(policy: PolicyRow, source: string, name: string, download: boolean, speed: number, expires: number): string {
    const node = this.node(policy);
    // base64.URLEncoding keeps the padding.
    const src = Buffer.from(source).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    const url = new URL(`/api/v4/slave/file/content/0/${src}/${speed}/${escapeSegment(name)}`, node.server);
    if (download) url.searchParams.set('download', 'true');
    return signUrl(node.key, url, expires).toString();
  }

  /** POST /slave/ping {callback: siteURL} (POST /admin/node/test). */
  async ping(node: NodeAddress, correlationId: string): Promise<SlaveAnswer> {
    return this.request(node, 'POST', 'ping', { body: JSON.stringify({ callback: this.st.setting('siteURL') }), correlationId,
      timeoutMs: 10_000 });
  }

  /** Reads a stored entity back from its node through a signed content URL (the master serving a remote entity). */
  async fetchContent(source: string, range?: { start: number; end: number }): Promise<Response | undefined> {
    const policy = this.policyOfSource(source);
    if (!policy || !this.nodeOf(policy)) return undefined;
    const url = this.contentUrl(policy, source, posix.basename(source) || 'file', false, 0, Math.floor(Date.now() / 1000) + 300);
    const headers: Record<string, string> = range ? { Range: `bytes=${range.start}-${range.end}` } : {};
    try {
      const res = await fetch(url, { headers });
      if (res.status === 200 || res.status === 206) return res;
      await res.body?.cancel();
    } catch {
      // unreachable node: no content
    }
    return undefined;
  }
}

function limit(length: number): Transform {
  let left = length;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (left <= 0) return done();
      const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= part.length;
      done(null, part);
    },
  });
}

/**
 * The master's Blobs: local entities in its data directory, entities of a remote policy on their node — written with
 * the node's upload routes, read through its signed content route, removed with DELETE /slave/file.
 */
export class RemoteAwareBlobs extends Blobs {
  readonly remote: RemoteStorage;

  constructor(dataDir: string, st: State) {
    super(dataDir);
    this.remote = new RemoteStorage(st);
  }

  private remotePolicy(source: string): PolicyRow | undefined {
    return this.remote.policyOfSource(source);
  }

  override async create(source: string, size: number, preallocate: boolean): Promise<void> {
    // A remote entity's file is made on the node with its upload session (see writeAt).
    if (!this.remotePolicy(source)) await super.create(source, size, preallocate);
  }

  override async writeAt(source: string, offset: number, body: Readable, length: number): Promise<number> {
    const policy = this.remotePolicy(source);
    if (!policy) return super.writeAt(source, offset, body, length);
    if (offset !== 0) throw new Error('a remote entity is written whole');
    return this.remote.put(policy, source, body, length);
  }

  override read(source: string, range?: { start: number; end: number }): Readable {
    if (!this.remotePolicy(source)) return super.read(source, range);
    const out = new PassThrough();
    void this.remote.fetchContent(source, range).then((res) => {
      if (!res?.body) return out.destroy(new Error('remote content unavailable'));
      Readable.fromWeb(res.body as import('node:stream/web').ReadableStream).on('error', (e) => out.destroy(e)).pipe(out);
    });
    return out;
  }

  override async size(source: string): Promise<number> {
    if (!this.remotePolicy(source)) return super.size(source);
    const res = await this.remote.fetchContent(source, { start: 0, end: 0 });
    if (!res) return -1;
    await res.body?.cancel();
    const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
    return Number(total ?? res.headers.get('content-length') ?? -1);
  }

  override async remove(source: string): Promise<void> {
    const policy = this.remotePolicy(source);
    if (!policy) return super.remove(source);
    if (fault(this.remote.st.faults, 'cancel-skips-slave')) {
      this.remote.sources.delete(source);
      return;
    }
    // Best effort, as the entity recycler is: a node that cannot be reached keeps the file.
    await this.remote.deleteFiles(policy, [source]).catch(() => undefined);
    this.remote.sources.delete(source);
  }
}

export function remoteOf(svc: Services): RemoteStorage | undefined {
  return svc.blobs instanceof RemoteAwareBlobs ? svc.blobs.remote : undefined;
}

/**
 * POST /file/url hands out, for an entity stored on a node, the node's signed content URL (remote.Driver.Source), as
 * the recorded 4.18.0 traffic shows; the master's own URL is kept for every other entity.
 */
export function remoteUrlHook(svc: Services) {
  const remote = remoteOf(svc);
  return async (req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    if (!remote || remote.sources.size === 0 || req.routeOptions.url !== '/api/v4/file/url') return payload;
    const location = reply.getHeader('location');
    if (reply.statusCode === 302 && typeof location === 'string') {
      reply.header('location', slaveUrlFor(svc, remote, location) ?? location);
      return payload;
    }
    if (typeof payload !== 'string') return payload;
    let body: { code?: number; data?: { urls?: { url: string }[] } };
    try { body = JSON.parse(payload) as typeof body; } catch { return payload; }
    const urls = body.code === 0 ? body.data?.urls : undefined;
    if (!urls) return payload;
    let changed = false;
    for (const u of urls) {
      const to = slaveUrlFor(svc, remote, u.url);
      if (to) { u.url = to; changed = true; }
    }
    return changed ? JSON.stringify(body) : payload;
  };
}

function slaveUrlFor(svc: Services, remote: RemoteStorage, masterUrl: string): string | undefined {
  let url: URL;
  try { url = new URL(masterUrl); } catch { return undefined; }
  const m = /\/api\/v4\/file\/content\/([^/]+)\/(\d+)\/([^/]+)$/.exec(url.pathname);
  if (!m) return undefined;
  const id = svc.st.hash.decode(Kind.Entity, m[1]!);
  const entity = id === undefined ? undefined : svc.st.entities.get(id);
  const policy = entity && remote.policyOfSource(entity.source);
  if (!entity || !policy || !remote.nodeOf(policy)) return undefined;
  const expires = Number(url.searchParams.get('sign')?.split(':').at(-1));
  if (!Number.isSafeInteger(expires)) return undefined;
  let name: string;
  try { name = decodeURIComponent(m[3]!); } catch { name = m[3]!; }
  return remote.contentUrl(policy, entity.source, name, url.searchParams.get('download') === 'true', Number(m[2]), expires);
}
