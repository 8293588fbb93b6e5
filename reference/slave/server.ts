// The reference's slave node (remote storage policy): a second fastify listener with its own secret and its own
// storage directory, serving the routes a Cloudreve 4.18.0 slave serves under /api/v4/slave (routers/router.go):
// ping, upload session create/delete, chunk upload, file delete and signed file content. Every route is
// authenticated with the HMAC scheme of hmac.ts (header-signed for PUT/POST/PATCH, URL-signed otherwise).
//
// Where the real slave is weak the contract is followed (slaveUploadChunk): the `Bearer Cr ` prefix is required, an
// expiry of 0 is expired, the `chunk` index must be a non-negative integer (40001), an index past the end is 40012
// (never a completion), and a session cancelled after it expired still has its partial file removed.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { resolve, sep } from 'node:path';
import { parseRange, sniffLength } from '../http.js';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AppError, Code, failure, paramError, success } from '../envelope.js';
import { Blobs } from '../blobs.js';
import { VERSION } from '../state.js';
import { mimeOf } from '../routes/content.js';
import { bodyUnsigned, checkRequestCredential, checkSignature, decodedPath, requestCredential, requestSignContent,
  signedHeaders } from './hmac.js';
import { fault } from '../faults/index.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** [Slave] SignatureTTL and CallbackTimeout (pkg/conf/types.go defaults). */
const CALLBACK_SIGN_TTL = 600;
const CALLBACK_TIMEOUT_MS = 20_000;
const JSON_LIMIT = 4 * 1024 * 1024;

export interface SlaveSession {
  id: string;
  size: number;
  chunkSize: number;
  /** Unix seconds (the master's ExpireAt); the session is live through that second. */
  expires: number;
  savePath: string;
  /** The master's completion callback; '' for the master's own uploads (PUT /file/content), which need none. */
  callback: string;
  /** The node key the session's policy carries (Policy.edges.node.slave_key): signs the callback. */
  nodeKey: string;
  received: Set<number>;
  completing: boolean;
}

export interface SlaveNode {
  url: string;
  secret: string;
  /** The slave's storage directory (savePaths are relative to it). */
  dir: string;
  sessions: Map<string, SlaveSession>;
  close(): Promise<void>;
}

export function slaveSecret(): string {
  return [...randomBytes(64)].map((b) => ALNUM[b % ALNUM.length]).join('');
}

export async function startSlave(options: { host: string; dir: string; port?: number; secret?: string;
  faults?: ReadonlySet<string> }): Promise<SlaveNode> {
  const slave = new Slave(options.dir, options.secret ?? slaveSecret(), options.faults);
  const app = slave.build();
  await app.listen({ port: options.port ?? 0, host: options.host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, secret: slave.secret, dir: slave.dir, sessions: slave.sessions, close: () => app.close() };
}

interface Ctx { req: FastifyRequest; reply: FastifyReply; correlationId: string; body: string }
type Handler = (c: Ctx) => Promise<unknown>;
const RAW = Symbol('raw');

class Slave {
  readonly sessions = new Map<string, SlaveSession>();
  readonly blobs: Blobs;
  readonly dir: string;

  constructor(dir: string, readonly secret: string, readonly faults: ReadonlySet<string> = new Set()) {
    this.dir = resolve(dir);
    this.blobs = new Blobs(this.dir);
  }

  build(): FastifyInstance {
    // maxParamLength: a content route's `src` is base64url(savePath), longer than fastify's default of 100.
    const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024, forceCloseConnections: true, exposeHeadRoutes: false,
      routerOptions: { maxParamLength: 4096 } });
    // No body is parsed: signed bodies are read as bytes, chunks are streamed to disk.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

    this.route(app, 'POST', '/ping', (c) => this.ping(c));
    this.route(app, 'PUT', '/upload', (c) => this.createSession(c));
    this.route(app, 'POST', '/upload/:sessionId', (c) => this.chunk(c));
    this.route(app, 'DELETE', '/upload/:sessionId', (c) => this.deleteSession(c));
    this.route(app, 'DELETE', '/file', (c) => this.deleteFiles(c));
    for (const method of ['GET', 'HEAD']) this.route(app, method, '/file/content/:nodeId/:src/:speed/:name', (c) => this.content(c, method));

    app.setNotFoundHandler((_req, reply) => { void reply.code(404).type('text/plain').send('404 page not found'); });
    app.setErrorHandler((err, _req, reply) => {
      void reply.code(500).type('text/plain').send(`500 internal server error: ${(err as Error).message}`);
    });
    return app;
  }

  /** SignRequired around a handler: the header credential for PUT/POST/PATCH, the URL signature otherwise. */
  private route(app: FastifyInstance, method: string, path: string, handler: Handler): void {
    app.route({
      method: method as 'GET',
      url: `/api/v4/slave${path}`,
      handler: async (req, reply) => {
        const hinted = req.headers['x-cr-correlation-id'];
        const correlationId = typeof hinted === 'string' && UUID_RE.test(hinted) ? hinted : randomUUID();
        void reply.header('Cache-Control', 'private, no-cache');
        const c: Ctx = { req, reply, correlationId, body: '' };
        try {
          const url = new URL(req.url, 'http://slave.invalid');
          const path = decodedPath(url.pathname);
          if (['PUT', 'POST', 'PATCH'].includes(method)) {
            if (!bodyUnsigned(path, method)) c.body = (await readAll(req.raw, JSON_LIMIT)).toString('utf8');
            const content = requestSignContent(path, signedHeaders(req.raw.rawHeaders), c.body);
            if (!(bodyUnsigned(path, method) && fault(this.faults, 'slave-credential-unchecked'))) {
              checkRequestCredential(this.secret, req.headers.authorization, content);
            }
          } else {
            checkSignature(this.secret, path || '/', url.searchParams.get('sign') ?? '');
          }
          const data = await handler(c);
          if (data === RAW) return reply;
          return reply.code(200).send(success(data));
        } catch (e) {
          if (!(e instanceof AppError)) throw e;
          if (!req.raw.readableEnded) req.raw.resume();
          return reply.code(e.options.status ?? 200).send(failure(e, correlationId));
        }
      },
    });
  }

  /** A live session (the KV entry lives through the second `expires`). */
  private live(id: string): SlaveSession | undefined {
    const s = this.sessions.get(id);
    return s && (Date.now() < (s.expires + 1) * 1000 || fault(this.faults, 'expiry-never')) ? s : undefined;
  }

  /** A savePath inside the storage directory, or undefined. */
  private inside(savePath: string): string | undefined {
    const p = resolve(this.dir, savePath);
    return p.startsWith(this.dir + sep) ? p.slice(this.dir.length + 1) : undefined;
  }

  // ---- routes ----

  /** SlavePingService: the slave pings the master back and compares versions (40060 unreachable, 40061 mismatch). */
  private async ping(c: Ctx): Promise<unknown> {
    const b = jsonObject(c.body);
    if (typeof b.callback !== 'string' || !b.callback) throw paramError('Callback cannot be empty');
    let master: URL;
    try { master = new URL('/api/v4/site/ping', b.callback); } catch { throw new AppError(Code.ParamErr, 'Failed to parse callback url'); }
    let version: unknown;
    try {
      const res = await fetch(master, { headers: { 'X-Cr-Correlation-Id': c.correlationId, 'User-Agent': `Cloudreve/${VERSION}` },
        signal: AbortSignal.timeout(10_000) });
      version = ((await res.json()) as { data?: unknown }).data;
    } catch (e) {
      throw new AppError(Code.SlavePingMaster, (e as Error).message);
    }
    if (typeof version !== 'string' || version.replace(/-pro$/, '') !== VERSION) {
      throw new AppError(Code.VersionMismatch, `Master: ${String(version)}, Slave: ${VERSION}`);
    }
    return undefined;
  }

  /** SlaveCreateUploadSessionService: the master's fs.UploadSession (Go field names) and `overwrite`. */
  private async createSession(c: Ctx): Promise<unknown> {
    const b = jsonObject(c.body);
    const s = b.session;
    if (!isObj(s)) throw paramError('Session cannot be empty');
    const props = s.Props;
    if (!isObj(props)) throw paramError('Props cannot be empty');
    const id = props.UploadSessionID;
    const size = props.Size;
    const savePath = props.SavePath;
    const expireAt = typeof props.ExpireAt === 'string' ? Date.parse(props.ExpireAt) : NaN;
    const chunkSize = s.ChunkSize ?? 0;
    if (typeof id !== 'string' || !id || typeof savePath !== 'string' || !savePath || !Number.isSafeInteger(size) ||
      (size as number) < 0 || !Number.isSafeInteger(chunkSize) || (chunkSize as number) < 0 || Number.isNaN(expireAt)) {
      throw paramError('Parameter error');
    }
    if (s.Callback !== undefined && typeof s.Callback !== 'string') throw paramError('Parameter error');
    const policy = isObj(s.Policy) ? s.Policy : {};
    const node = isObj(policy.edges) && isObj(policy.edges.node) ? policy.edges.node : {};
    const local = this.inside(savePath);
    const failed = () => new AppError(Code.CacheOperation, 'Failed to create upload session in slave node');
    if (!local) throw failed();
    if (b.overwrite !== true && (await this.blobs.size(local)) >= 0) throw failed();
    const preallocate = isObj(policy.settings) && policy.settings.pre_allocate === true;
    try {
      await this.blobs.create(local, size as number, preallocate);
    } catch {
      throw failed();
    }
    this.sessions.set(id, { id, size: size as number, chunkSize: chunkSize as number, expires: Math.floor(expireAt / 1000),
      savePath: local, callback: (s.Callback as string | undefined) ?? '', nodeKey: typeof node.slave_key === 'string' ? node.slave_key : '',
      received: new Set(), completing: false });
    return undefined;
  }

  /** SlaveUpload, with the contract's index rules. */
  private async chunk(c: Ctx): Promise<unknown> {
    const { sessionId } = c.req.params as { sessionId: string };
    const raw = (c.req.query as Record<string, string | string[] | undefined>).chunk;
    const value = Array.isArray(raw) ? raw[0] : raw;
    const lenient = fault(this.faults, 'chunk-index-lenient');
    if (!lenient && (value === undefined || value === '')) throw paramError('Chunk cannot be empty');
    if (!lenient && (!/^[+-]?\d+$/.test(value!) || !Number.isSafeInteger(Number(value)))) throw paramError('Parameter error');
    const index = lenient ? Math.max(0, Number.parseInt(value ?? '', 10) || 0) : Number(value);
    if (index < 0) throw paramError('Chunk too short');

    const s = this.live(sessionId);
    if (!s && fault(this.faults, 'expiry-wrong-code') && this.sessions.has(sessionId)) throw new AppError(Code.ParentNotExist, 'Path not exist');
    if (!s) throw new AppError(Code.UploadSessionExpired, '');
    const chunk = s.chunkSize;
    const indexChecked = !fault(this.faults, 'chunk-index-unchecked');
    if (indexChecked && chunk === 0 && index > 0) throw new AppError(Code.InvalidChunkIndex, 'Chunk index cannot be greater than 0');
    const beyond = index > 0 && index * chunk >= s.size;
    if (indexChecked && beyond) throw new AppError(Code.InvalidChunkIndex, 'Chunk offset cannot be greater than file size');
    const last = chunk === 0 || (index + 1) * chunk >= s.size;
    const length = sniffLength(c.req.headers);
    // Past the end (only with chunk-index-unchecked): whatever was sent.
    const expected = beyond ? Math.max(0, length ?? 0) : last ? s.size - index * chunk : chunk;
    const lengthUnchecked = fault(this.faults, 'chunk-length-unchecked');
    const take = lengthUnchecked ? Math.max(0, length ?? 0) : expected;
    const offset = fault(this.faults, 'chunk-wrong-offset') && index > 0 ? index * chunk - 1 : index * chunk;
    const receivedBefore = new Set(s.received);
    if (length !== expected && !lengthUnchecked) {
      // Fault rejected-chunk-written: the body is written before its length is checked.
      if (length && fault(this.faults, 'rejected-chunk-written')) await this.blobs.writeAt(s.savePath, offset, c.req.raw, length).catch(() => 0);
      throw new AppError(Code.InvalidContentLength, `Invalid Content-Length (expected: ${expected})`);
    }
    let written: number;
    try {
      written = await this.blobs.writeAt(s.savePath, offset, c.req.raw, take);
    } catch {
      throw new AppError(Code.IOFailed, 'Failed to upload file');
    }
    if (written !== take) throw new AppError(Code.IOFailed, 'Uploaded data does not match purposed size');

    // Cancelled or completed meanwhile: the chunk is accepted without completing anything.
    if (this.sessions.get(s.id) !== s) return undefined;
    if (fault(this.faults, 'chunk-received-lost-update')) s.received = new Set([...receivedBefore, index]);
    else s.received.add(index);
    const count = chunk === 0 || s.size === 0 ? 1 : Math.ceil(s.size / chunk);
    const done = fault(this.faults, 'finish-on-highest-index') ? index === count - 1 : s.received.size >= count;
    if (!done || s.completing) return undefined;
    s.completing = true;
    try {
      if (s.callback) await this.callback(s, c.correlationId);
    } catch (e) {
      // The session stays: any chunk sent again retries the completion.
      s.completing = false;
      throw e;
    }
    // Fault finish-session-kept: the finished session stays; later chunks are written (and complete nothing).
    if (!fault(this.faults, 'finish-session-kept')) this.sessions.delete(s.id);
    return undefined;
  }

  /** local.Driver.CompleteUpload on a slave: POST the master's callback, signed with the node key; its code is passed on. */
  private async callback(s: SlaveSession, correlationId: string): Promise<void> {
    if (!s.nodeKey) throw new AppError(Code.CallbackError, 'Node not found');
    let url: URL;
    try { url = new URL(s.callback); } catch { throw new AppError(Code.CallbackError, 'Slave cannot send callback request'); }
    const headers: Record<string, string> = { 'X-Cr-Correlation-Id': correlationId, 'User-Agent': `Cloudreve/${VERSION}` };
    const expires = Math.floor(Date.now() / 1000) + CALLBACK_SIGN_TTL;
    headers.Authorization = requestCredential(s.nodeKey, decodedPath(url.pathname), signedHeaders(headers), '', expires);
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS) });
    } catch {
      throw new AppError(Code.CallbackError, 'Slave cannot send callback request');
    }
    let body: { code?: unknown; msg?: unknown };
    try {
      body = await res.json() as typeof body;
    } catch {
      throw new AppError(Code.CallbackError, `Slave cannot parse callback response from master (StatusCode=${res.status}).`);
    }
    if (typeof body.code !== 'number') {
      throw new AppError(Code.CallbackError, `Slave cannot parse callback response from master (StatusCode=${res.status}).`);
    }
    if (body.code !== 0) throw new AppError(body.code, typeof body.msg === 'string' ? body.msg : '');
  }

  /** SlaveDeleteUploadSessionService: the session and its partial file go, also after the session expired. */
  private async deleteSession(c: Ctx): Promise<unknown> {
    const { sessionId } = c.req.params as { sessionId: string };
    const s = this.sessions.get(sessionId);
    if (s) {
      this.sessions.delete(sessionId);
      await this.blobs.remove(s.savePath);
    }
    return undefined;
  }

  /** SlaveDeleteFileService {files}: removes the files (and any upload session writing to one of them). */
  private async deleteFiles(c: Ctx): Promise<unknown> {
    const b = jsonObject((await readAll(c.req.raw, JSON_LIMIT)).toString('utf8'));
    if (!Array.isArray(b.files) || !b.files.every((f): f is string => typeof f === 'string')) throw paramError('JSON marshall error');
    if (b.files.length === 0) throw paramError('Files too short');
    for (const f of b.files) {
      const local = this.inside(f);
      if (!local) continue;
      for (const [id, s] of this.sessions) if (s.savePath === local) this.sessions.delete(id);
      await this.blobs.remove(local);
    }
    return undefined;
  }

  /** SlaveServe: a file of the storage directory named by base64url(path), with ranges and conditional requests. */
  private async content(c: Ctx, method: string): Promise<unknown> {
    const p = c.req.params as { nodeId: string; src: string; speed: string; name: string };
    if (!/^\d+$/.test(p.nodeId) || !/^\d+$/.test(p.speed)) throw paramError('Parameter error');
    const bad = (code: number, msg: string) => new AppError(code, msg, { status: 400 });
    if (!/^[A-Za-z0-9_-]*={0,2}$/.test(p.src) || p.src.length % 4 !== 0) throw bad(Code.NotSet, '');
    const local = this.inside(Buffer.from(p.src, 'base64url').toString('utf8'));
    const size = local ? await this.blobs.size(local) : -1;
    if (!local || size < 0) throw bad(Code.ParentNotExist, 'Path not exist');

    const etag = `"${createHash('sha256').update(`${local}:${size}`).digest('base64url').slice(0, 8)}"`;
    const reply = c.reply.header('Accept-Ranges', 'bytes').header('ETag', etag).header('Cache-Control', 'public, max-age=86400')
      .type(mimeOf(p.name));
    if ((c.req.query as Record<string, unknown>).download) {
      reply.header('Content-Disposition', `attachment; filename="${encodeURIComponent(p.name)}"; filename*=UTF-8''${encodeURIComponent(p.name)}`);
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
    else await reply.send(this.blobs.read(local, range));
    return RAW;
  }
}

// ---- helpers ----

type Obj = Record<string, any>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

function jsonObject(text: string): Obj {
  let v: unknown;
  try { v = JSON.parse(text); } catch { throw paramError('Parameter error'); }
  if (!isObj(v)) throw paramError('JSON marshall error');
  return v;
}

export async function readAll(stream: IncomingMessage, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    n += (chunk as Buffer).length;
    if (n > limit) throw paramError('Request body too large');
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}


