// startReference: builds the state, serves the API with fastify on loopback and (by default) registers the three
// identities through its own HTTP API, as a client would (the first registered user becomes the admin).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { REFERENCE_HEADER } from '../harness/config.js';
import { Tokens } from './auth.js';
import { FileSystem } from './fs.js';
import { type Services } from './http.js';
import { State, VERSION } from './state.js';
import { Views } from './views.js';
import { adminRoutes } from './routes/admin.js';
import { adminEntityRoutes } from './routes/admin-entity.js';
import { contentUploadRoute, downloadRoutes } from './routes/content.js';
import { davRoutes } from './routes/dav.js';
import { fileRoutes } from './routes/file.js';
import { fileMetaRoutes } from './routes/file-meta.js';
import { fileExtraRoutes } from './routes/file-extra.js';
import { workflowRoutes } from './routes/workflow.js';
import { sessionRoutes } from './routes/session.js';
import { shareRoutes } from './routes/share.js';
import { siteRoutes } from './routes/site.js';
import { chunkRoute, uploadRoutes } from './routes/upload.js';
import { userRoutes } from './routes/user.js';
import { remoteCallbackRoute } from './routes/callback-remote.js';
import { remoteUrlHook } from './slave/master.js';
import { StorageBlobs } from './cloud/storage.js';
import { cloudCallbackRoutes } from './routes/callback-cloud.js';
import { startSlave, type SlaveNode } from './slave/server.js';
import { checkedFaults } from './faults/index.js';
import type { Credentials, ReferenceOptions, ReferenceTarget } from './index.js';

export async function startReference(options: ReferenceOptions = {}): Promise<ReferenceTarget> {
  const host = options.host ?? '127.0.0.1';
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), 'cloudreve-reference-'));
  const st = new State(dataDir, checkedFaults(options.faults));
  const blobs = new StorageBlobs(dataDir, st);
  const fs = new FileSystem(st, blobs);
  const svc: Services = { st, fs, blobs, views: new Views(st, fs), tokens: new Tokens(st) };

  let app: FastifyInstance | undefined;
  let url: string;
  let slave: SlaveNode | undefined;
  try {
    app = buildApp(svc);
    await app.listen({ port: options.port ?? 0, host });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : options.port;
    url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    // Download URLs are built from siteURL; point it at where this target really listens.
    st.settings.set('siteURL', url);
    // The slave node of the remote policy: its own listener, secret and storage (<dataDir>/slave); the harness
    // registers it through the admin API.
    slave = await startSlave({ host, dir: join(dataDir, 'slave'), faults: st.faults });
  } catch (e) {
    await app?.close();
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  const server = app;
  const node = slave;

  const identities = {
    admin: credentials('admin'),
    user: credentials('user'),
    user2: credentials('user2'),
  };
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.close();
    await node.close();
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
  };
  if (options.createIdentities ?? true) {
    try {
      for (const who of [identities.admin, identities.user, identities.user2]) await registerThroughApi(url, who);
    } catch (e) {
      await close();
      throw e;
    }
  }
  return { url, version: VERSION, identities, slave: { url: node.url, secret: node.secret }, close };
}

function buildApp(svc: Services): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024, forceCloseConnections: true, exposeHeadRoutes: false });
  // JSON bodies are kept as text: the routes bind them the way gin does, with the same error envelopes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, { raw: body }));
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  siteRoutes(app, svc);
  sessionRoutes(app, svc);
  userRoutes(app, svc);
  fileRoutes(app, svc);
  fileMetaRoutes(app, svc);
  fileExtraRoutes(app, svc);
  workflowRoutes(app, svc);
  uploadRoutes(app, svc);
  downloadRoutes(app, svc);
  shareRoutes(app, svc);
  davRoutes(app, svc);
  adminRoutes(app, svc);
  adminEntityRoutes(app, svc);
  // Downloads of entities stored on a slave node point at the node (remote.Driver.Source).
  app.addHook('onSend', remoteUrlHook(svc));
  // The reference says what it is, so the harness does not hold it to a real version's deviation list.
  app.addHook('onSend', async (_req, reply, payload) => { void reply.header(REFERENCE_HEADER, 'cloudreve-conformance'); return payload; });
  // Chunks and file content are streamed to disk: in this scope no body is ever parsed, whatever its type.
  void app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    chunkRoute(raw, svc);
    contentUploadRoute(raw, svc);
    // The slave's completion callback: its body is part of what the node signed.
    remoteCallbackRoute(raw, svc);
    // The cloud providers' callbacks: OSS, Qiniu and Upyun sign the raw body.
    cloudCallbackRoutes(raw, svc);
  });

  // gin's answer to an unknown route: plain text, not an envelope.
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).type('text/plain').send('404 page not found');
  });
  app.setErrorHandler((err, _req, reply) => {
    // Anything unexpected is gin Recovery's bare 500.
    void reply.code(500).type('text/plain').send(`500 internal server error: ${(err as Error).message}`);
  });
  return app;
}

function credentials(role: string): Credentials {
  const tag = randomBytes(4).toString('hex');
  return { email: `${role}-${tag}@reference.test`, password: randomBytes(12).toString('base64url') };
}

async function registerThroughApi(url: string, who: Credentials): Promise<void> {
  const res = await fetch(`${url}/api/v4/user`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: who.email, password: who.password, language: 'en-US' }),
  });
  const body = await res.json() as { code: number; msg: string };
  if (body.code !== 0) throw new Error(`reference: registering ${who.email} failed: ${body.code} ${body.msg}`);
}
