// Callbacks of the cloud policies, `/callback/<type>/<session_id>/<key>` (middleware/auth.go UseUploadSession,
// service/callback/upload.go, controllers/callback.go): the shared checks, each answered with HTTP 401 and an envelope —
// live session (40011), callback secret (40020, constant time), the session's policy is of the route's type (40006),
// active owner (50001) — then the type's own checks (cloud/<type>.ts verifyCallback: HEAD and size for s3/ks3/cos,
// Graph metadata for onedrive, the provider's signature for oss/qiniu/upyun, nothing more for obs). A failed check keeps
// the session, so the callback can be retried until it expires; success completes the upload (the placeholder gets
// its size, its entity becomes the current version) and deletes the session, so a second call gets 40011.
// Registered where request bodies are left unread: providers sign the raw body.
import type { FastifyInstance } from 'fastify';
import { AppError, Code, FsErr } from '../envelope.js';
import { RAW, register, type Services } from '../http.js';
import { completeUpload } from '../uploads.js';
import { readAll } from '../slave/server.js';
import { checkCallbackOwner, checkCallbackSecret } from './callback-remote.js';
import { cloudOf } from '../cloud/storage.js';
import { CallbackRejected, CLOUD_TYPES } from '../cloud/types.js';
import { fault } from '../faults/index.js';

/** The HTTP method each provider's callback arrives with (routers.go). */
const METHODS: Record<(typeof CLOUD_TYPES)[number], string> = {
  s3: 'GET', ks3: 'GET', cos: 'GET', onedrive: 'POST', oss: 'POST', obs: 'POST', qiniu: 'POST', upyun: 'POST',
};

export function cloudCallbackRoutes(app: FastifyInstance, svc: Services): void {
  const { st } = svc;
  for (const type of CLOUD_TYPES) {
    register(app, svc, METHODS[type], `/callback/${type}/:session_id/:key`, 'none', async (c) => {
      const { session_id: sid, key } = c.req.params as { session_id: string; key: string };
      const reject = (code: number, msg: string) => new AppError(code, msg, { status: fault(st.faults, 'callback-status-200') ? 200 : 401 });
      const body = await readAll(c.req.raw, 1024 * 1024);

      const session = st.liveSession(sid);
      if (!session) throw reject(Code.UploadSessionExpired, 'Upload session does not exist or expired');
      checkCallbackSecret(st, session, key, reject);
      const policy = st.policies.get(session.policyId);
      if (policy?.type !== type && !fault(st.faults, 'cloud-callback-type-unchecked')) throw reject(Code.PolicyNotAllowed, '');
      checkCallbackOwner(st, session, reject);
      const driver = cloudOf(svc)?.driverOf(policy);
      if (!driver || !policy) throw reject(Code.PolicyNotAllowed, '');

      if (!fault(st.faults, 'cloud-callback-unverified')) try {
        await driver.verifyCallback(policy!, session, { method: c.req.method, rawUrl: c.req.url, headers: c.req.headers, body });
      } catch (e) {
        if (e instanceof CallbackRejected) {
          if (e.bare) {
            await c.reply.code(e.status).type('application/json').send(JSON.stringify({ error: e.message }));
            return RAW;
          }
          throw new AppError(e.code, e.message, { status: e.status });
        }
        throw e;
      }
      const file = st.files.get(session.fileId);
      const entity = st.entities.get(session.entityId);
      if (!file || !entity || !file.entityIds.includes(entity.id)) throw FsErr.pathNotExist();
      st.sessions.delete(sid);
      await completeUpload(svc, file, entity, { lastModified: session.lastModified, metadata: session.metadata });
      return undefined;
    });
  }
}
