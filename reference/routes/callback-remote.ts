// completeRemoteUpload: the slave node's completion callback, POST /callback/remote/<sid>/<key> (middleware/auth.go
// UseUploadSession + RemoteCallbackAuth, service/callback/upload.go). Checks in order, each answered with HTTP 401:
// live session (40011), callback secret (40020), remote policy (40006), active owner (50001), the policy's node
// (40020 "Node not found"), then the request's HMAC signature made with the node's slave_key over
// {Path, X-Cr-* headers, Body} (403 / 40005 / 40071, with the contract's stricter credential rules). Success finishes
// the upload: the placeholder gets its size and its entity becomes the current version. Registered where request
// bodies are left unread: the body is part of what is signed.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError, Code, FsErr } from '../envelope.js';
import { register, type Services } from '../http.js';
import { completeUpload } from '../uploads.js';
import { checkRequestCredential, decodedPath, goDecode, requestSignContent, signedHeaders } from '../slave/hmac.js';
import { readAll } from '../slave/server.js';
import { fault } from '../faults/index.js';
import type { State, UploadSession } from '../state.js';

type Reject = (code: number, msg: string) => AppError;

/** UseUploadSession's secret check (since 4.18.0): the path's key against the session's secret, in constant time. */
export function checkCallbackSecret(st: State, session: UploadSession, key: string, reject: Reject): void {
  const a = Buffer.from(session.callbackSecret);
  const b = Buffer.from(key);
  if ((a.length !== b.length || !timingSafeEqual(a, b)) && !fault(st.faults, 'callback-secret-unchecked')) {
    throw reject(Code.CredentialInvalid, fault(st.faults, 'secret-echoed-in-error')
      ? `Invalid callback secret, expected ${session.callbackSecret}` : 'Invalid callback secret');
  }
}

/** UseUploadSession's last check: the session's owner loads as an active user. */
export function checkCallbackOwner(st: State, session: UploadSession, reject: Reject): void {
  const owner = st.users.get(session.uid);
  if (!owner || owner.status !== 'active') throw reject(Code.DBError, 'failed to get upload session owner');
}

/** Fault callback-replay-accepted: the sessions a callback finished, with their secrets. */
const finishedByCallback = new WeakMap<State, Map<string, string>>();

export function remoteCallbackRoute(app: FastifyInstance, svc: Services): void {
  const { st } = svc;
  register(app, svc, 'POST', '/callback/remote/:session_id/:key', 'none', async (c) => {
    const { session_id: sid, key } = c.req.params as { session_id: string; key: string };
    const reject = (code: number, msg: string) => new AppError(code, msg, { status: fault(st.faults, 'callback-status-200') ? 200 : 401 });
    const body = await readAll(c.req.raw, 1024 * 1024);

    const session = st.liveSession(sid);
    if (!session && fault(st.faults, 'callback-replay-accepted') && finishedByCallback.get(st)?.get(sid) === key) return undefined;
    if (!session) throw reject(Code.UploadSessionExpired, 'Upload session does not exist or expired');
    checkCallbackSecret(st, session, key, reject);
    const policy = st.policies.get(session.policyId);
    if (policy?.type !== 'remote') throw reject(Code.PolicyNotAllowed, '');
    checkCallbackOwner(st, session, reject);
    const node = policy.nodeId ? st.nodes.get(policy.nodeId) : undefined;
    if (!node) throw reject(Code.CredentialInvalid, 'Node not found');
    const path = decodedPath(new URL(c.req.url, 'http://master.invalid').pathname);
    if (!fault(st.faults, 'callback-signature-unchecked')) try {
      checkRequestCredential(node.slaveKey, c.req.headers.authorization,
        requestSignContent(path, signedHeaders(c.req.raw.rawHeaders), goDecode(body)));
    } catch (e) {
      if (e instanceof AppError) throw reject(e.code, e.msg);
      throw e;
    }

    // A completion that fails is answered with HTTP 200 and keeps the session.
    const file = st.files.get(session.fileId);
    const entity = st.entities.get(session.entityId);
    if (!file || !entity || !file.entityIds.includes(entity.id)) throw FsErr.pathNotExist();
    st.sessions.delete(sid);
    if (fault(st.faults, 'callback-replay-accepted')) {
      if (!finishedByCallback.has(st)) finishedByCallback.set(st, new Map());
      finishedByCallback.get(st)!.set(sid, key);
    }
    await completeUpload(svc, file, entity, { lastModified: session.lastModified, metadata: session.metadata });
    return undefined;
  });
}
