// Upload sessions of the local and remote policies (service/explorer/upload.go, pkg/filemanager/manager/upload.go):
// create a session (placeholder + charged quota + lock; for a remote policy also the slave-side session, with the
// slave's chunk URL and a signed credential), receive chunks at their offsets in any order (the request that brings
// the last missing index completes the upload; remote chunks go to the slave, see slave/server.ts), cancel; plus the
// provider callbacks' session checks.
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError, Code, FsErr, paramError } from '../envelope.js';
import { Kind } from '../hashid.js';
import { META_THUMB_DISABLED, META_UPLOAD_SESSION } from '../fs.js';
import { bind, declaredLength, jsonBody, register, type Services } from '../http.js';
import { requireUri } from '../uri.js';
import { completeUpload, prepareUpload, rollback, validMetadataKey } from '../uploads.js';
import type { UploadSession } from '../state.js';
import { remoteOf } from '../slave/master.js';
import { cloudOf } from '../cloud/storage.js';
import type { TokenResult } from '../cloud/types.js';
import { fault } from '../faults/index.js';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function callbackSecret(): string {
  return [...randomBytes(32)].map((b) => ALNUM[b % ALNUM.length]).join('');
}

/** Routes that take JSON bodies. */
export function uploadRoutes(app: FastifyInstance, svc: Services): void {
  const { st, fs, views } = svc;

  register(app, svc, 'PUT', '/file/upload', 'optional', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'uri', name: 'Uri', kind: 'string', required: true },
      { key: 'size', name: 'Size', kind: 'int', min: 0 },
      { key: 'last_modified', name: 'LastModified', kind: 'int' },
      { key: 'mime_type', name: 'MimeType', kind: 'string' },
      { key: 'policy_id', name: 'PolicyID', kind: 'string' },
      { key: 'metadata', name: 'Metadata', kind: 'map', max: 256 },
      { key: 'entity_type', name: 'EntityType', kind: 'string', check: (v) => ['', 'live_photo', 'version'].includes(v as string) },
      { key: 'encryption_supported', name: 'EncryptionSupported', kind: 'strings' },
      { key: 'previous', name: 'Previous', kind: 'string' },
    ]);
    const uri = requireUri(b.uri);
    if (b.policy_id && st.hash.decode(Kind.Policy, b.policy_id) === undefined) {
      throw new AppError(Code.ParamErr, 'unknown policy id');
    }
    const metadata = (b.metadata ?? {}) as Record<string, string>;
    if (Object.keys(metadata).some((k) => !validMetadataKey(k))) throw new AppError(Code.ParamErr, 'Invalid metadata key');

    const id = randomUUID();
    const ttl = st.settingInt('upload_session_timeout', 86400);
    const expires = fault(st.faults, 'expiry-immediate') ? Math.floor(Date.now() / 1000) - 1 : Math.floor(Date.now() / 1000 + ttl);
    // What the answer says (faults create-chunk-size-mismatch, expiry-ms); the session keeps the real values.
    const answeredExpires = fault(st.faults, 'expiry-ms') ? expires * 1000 : expires;
    const size = (b.size as number | undefined) ?? 0;
    const p = prepareUpload(svc, c.caller, uri, { size, entityType: b.entity_type ?? '', previous: b.previous, sessionId: id });
    const remote = remoteOf(svc);
    const cloud = cloudOf(svc);
    const driver = cloud?.driverOf(p.policy);
    const relay = !!driver && p.policy.settings.relay === true;
    if (p.policy.type !== 'local' && !(p.policy.type === 'remote' && remote) && !driver) {
      await rollback(svc, p);
      throw new AppError(Code.NotSet, 'Unknown policy type');
    }
    // A relay upload is one chunk, the whole file, to the master; a cloud policy without a chunk size uses its type's.
    const chunkSize = relay ? 0 : Number(p.policy.settings.chunk_size ?? 0) || (driver?.defaultChunkSize ?? 0);
    const answeredChunkSize = fault(st.faults, 'create-chunk-size-mismatch') ? 2 * chunkSize : chunkSize;
    const session: UploadSession = {
      id, uid: p.owner.id, fileId: p.file.id, entityId: p.entity.id, uri: uri.raw, size, chunkSize, expires,
      callbackSecret: callbackSecret(), policyId: p.policy.id, received: new Set(),
      lastModified: b.last_modified > 0 ? new Date(b.last_modified) : undefined, metadata,
      lockToken: `opaquelocktoken:${randomUUID()}`, mimeType: b.mime_type || undefined,
    };
    // Registered before any await: from here on the placeholder is locked by this session.
    st.sessions.set(id, session);
    if (p.policy.type === 'remote' && remote) {
      // remote.Driver.Token: the slave-side session (its placeholder file, the callback to this master), then the
      // chunk URL on the slave and the credential signed with the node key until the session expires.
      let credential: { url: string; credential: string };
      try {
        const callback = new URL(`/api/v4/callback/remote/${id}/${session.callbackSecret}`, st.setting('siteURL')).toString();
        await remote.createSession(p.policy, session, p.entity.source, { callback, correlationId: c.correlationId });
        credential = remote.uploadCredential(p.policy, id, expires);
      } catch (e) {
        st.sessions.delete(id);
        await rollback(svc, p);
        throw e;
      }
      return {
        session_id: id, upload_id: '', chunk_size: answeredChunkSize, expires: answeredExpires,
        upload_urls: fault(st.faults, 'remote-upload-url-missing') ? [] : [credential.url],
        credential: credential.credential, storage_policy: views.policy(p.policy), uri: uri.raw,
        callback_secret: session.callbackSecret,
      };
    }
    if (driver && !relay) {
      // driver.Token: the provider side of the upload (multipart upload, upload session or token) and what the client
      // needs to send its parts there.
      let token: TokenResult;
      try {
        const callbackUrl = new URL(`/api/v4/callback/${p.policy.type}/${id}/${session.callbackSecret}`, st.setting('siteURL')).toString();
        session.key = p.entity.source;
        token = await driver.token({ policy: p.policy, session, key: p.entity.source, size, chunkSize, expires, callbackUrl,
          mimeType: session.mimeType, fileName: uri.segments.at(-1) ?? '' });
      } catch (e) {
        st.sessions.delete(id);
        await rollback(svc, p);
        if (e instanceof AppError) throw e;
        throw new AppError(Code.NotSet, `Failed to create upload session on the storage provider: ${(e as Error).message}`);
      }
      session.provider = token.state;
      return {
        session_id: id, upload_id: '', chunk_size: answeredChunkSize, expires: answeredExpires, ...token.answer,
        storage_policy: views.policy(p.policy), uri: uri.raw, callback_secret: session.callbackSecret,
      };
    }
    try {
      await svc.blobs.create(p.entity.source, size, p.policy.settings.pre_allocate === true);
    } catch {
      st.sessions.delete(id);
      await rollback(svc, p);
      throw new AppError(Code.IOFailed, 'Failed to create placeholder file');
    }
    return {
      session_id: id, upload_id: '', chunk_size: answeredChunkSize, expires: answeredExpires, storage_policy: views.policy(p.policy),
      uri: uri.raw, callback_secret: session.callbackSecret,
    };
  });

  register(app, svc, 'DELETE', '/file/upload', 'optional', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'id', name: 'ID', kind: 'string', required: true },
      { key: 'uri', name: 'Uri', kind: 'string', required: true },
    ]);
    const uri = requireUri(b.uri);
    const session = st.liveSession(b.id);
    const file = fs.get(c.caller, uri, ['my']);
    if (file.isRoot) throw FsErr.notSupported();
    if (session && (session.uid !== c.caller!.id || session.fileId !== file.id)) {
      throw new AppError(Code.NotFound, 'Upload session not found');
    }
    // The upload metadata goes whatever matched; an expired session is cancelled through its entity.
    file.metadata.delete(META_UPLOAD_SESSION);
    file.metadata.delete(META_THUMB_DISABLED);
    const entity = file.entityIds.map((eid) => st.entities.get(eid)).find((e) => e?.uploadSessionId === b.id);
    const policy = st.policies.get(entity?.policyId ?? session?.policyId ?? 0);
    if (entity) {
      if (file.entityIds.length === 1 && !fault(st.faults, 'cancel-keeps-placeholder')) await fs.hardDelete(file);
      else await fs.dropEntity(file, entity.id);
      if (fault(st.faults, 'cancel-keeps-quota')) fs.charge(file.ownerId, entity.size);
    }
    st.sessions.delete(b.id);
    // remote.Driver.CancelToken: the slave's session and partial file go too — also after the session expired
    // (the real 4.18.0 only cancels a live session and leaves the partial file on the slave).
    const remote = remoteOf(svc);
    if (remote && policy?.type === 'remote' && (session || entity) && !fault(st.faults, 'cancel-skips-slave')) {
      await remote.cancelSession(policy, b.id, c.correlationId);
    }
    // driver.CancelToken of a cloud policy: the provider's multipart upload (or upload session) is aborted — also
    // after the session expired (the real 4.18.0 leaves it open then), as long as the upload's entity is known.
    const driver = cloudOf(svc)?.driverOf(policy);
    const state = session ?? (entity ? st.expiredUploads.get(b.id) : undefined);
    if (driver && policy && state?.provider && policy.settings.relay !== true && !fault(st.faults, 'cloud-cancel-skips-provider')) {
      try {
        await driver.cancel(policy, state);
      } catch (e) {
        throw new AppError(Code.NotSet, `Failed to cancel the upload on the storage provider: ${(e as Error).message}`);
      }
    }
    st.expiredUploads.delete(b.id);
    return undefined;
  });
}

/** The chunk route, registered where request bodies are left unread (streamed to the blob). */
export function chunkRoute(app: FastifyInstance, svc: Services): void {
  const { st } = svc;
  register(app, svc, 'POST', '/file/upload/:sessionId/:index', 'optional', async (c) => {
    const { sessionId, index: rawIndex } = c.req.params as { sessionId: string; index: string };
    const lenient = fault(st.faults, 'chunk-index-lenient');
    if (!lenient && !/^[+-]?\d+$/.test(rawIndex)) throw paramError('Parameter error');
    const index = lenient ? Math.max(0, Number.parseInt(rawIndex, 10) || 0) : Number(rawIndex);
    if (index < 0) throw paramError('Index too short');

    const session = st.liveSession(sessionId);
    if (!session && fault(st.faults, 'expiry-wrong-code') && st.expiredSessions.has(sessionId)) throw FsErr.pathNotExist();
    const ownerChecked = !fault(st.faults, 'chunk-owner-unchecked');
    if (!session || (ownerChecked && (!c.caller || session.uid !== c.caller.id))) throw new AppError(Code.UploadSessionExpired, '');
    const file = st.files.get(session.fileId);
    const entity = st.entities.get(session.entityId);
    if (!file || !entity) throw FsErr.pathNotExist();
    // 4.11.0+: the upload lock is confirmed on every chunk.
    if (session.unlocked) throw new AppError(Code.LockConflict, 'Lock expired');
    // The master takes chunks of local policies and of relay policies (chunk 0, the whole file, streamed on to the
    // provider); every other policy's chunks go elsewhere.
    const chunkPolicy = st.policies.get(session.policyId);
    if (chunkPolicy?.type !== 'local' && !(chunkPolicy?.settings.relay === true && cloudOf(svc)?.driverOf(chunkPolicy))) {
      throw new AppError(Code.PolicyNotAllowed, '');
    }
    const chunk = session.chunkSize;
    const indexChecked = !fault(st.faults, 'chunk-index-unchecked');
    if (indexChecked && chunk === 0 && index > 0) throw new AppError(Code.InvalidChunkIndex, 'Chunk index cannot be greater than 0');
    if (indexChecked && index * chunk > 0 && index * chunk >= session.size) {
      throw new AppError(Code.InvalidChunkIndex, 'Chunk offset cannot be greater than file size');
    }
    const last = chunk === 0 || (index + 1) * chunk >= session.size;
    const length = declaredLength(c);
    // Past the end (only with chunk-index-unchecked): whatever was sent.
    const beyond = index > 0 && index * chunk >= session.size;
    const expected = beyond ? Math.max(0, length ?? 0) : last ? session.size - index * chunk : chunk;
    // Fault rejected-chunk-counted: the index is recorded before the body is checked.
    const countedEarly = fault(st.faults, 'rejected-chunk-counted') && !session.received.has(index);
    if (countedEarly) session.received.add(index);
    const lengthUnchecked = fault(st.faults, 'chunk-length-unchecked');
    const take = lengthUnchecked ? Math.max(0, length ?? 0) : expected;
    const offset = fault(st.faults, 'chunk-wrong-offset') && index > 0 ? index * chunk - 1 : index * chunk;
    if (length !== expected && !lengthUnchecked) {
      // Fault rejected-chunk-written: the body is written before its length is checked.
      if (length && fault(st.faults, 'rejected-chunk-written')) await svc.blobs.writeAt(entity.source, offset, c.req.raw, length).catch(() => 0);
      throw new AppError(Code.InvalidContentLength, `Invalid Content-Length (expected: ${expected})`);
    }
    const receivedBefore = new Set(session.received);

    let written: number;
    try {
      written = await svc.blobs.writeAt(entity.source, offset, c.req.raw, take);
    } catch {
      throw new AppError(Code.IOFailed, 'Failed to upload file');
    }
    if (written !== take) throw new AppError(Code.IOFailed, 'Uploaded data does not match purposed size');

    // A session cancelled or completed meanwhile: the chunk is accepted without completing anything.
    if (!st.sessions.has(session.id)) return undefined;
    const count = chunk === 0 || session.size === 0 ? 1 : Math.ceil(session.size / chunk);
    const before = session.received.size - (countedEarly ? 1 : 0);
    if (fault(st.faults, 'chunk-received-lost-update')) session.received = new Set([...receivedBefore, index]);
    else session.received.add(index);
    const done = fault(st.faults, 'finish-on-highest-index') ? index === count - 1 && !session.finished
      : session.received.size === count && before < count;
    if (done) {
      if (fault(st.faults, 'finish-session-kept')) session.finished = true;
      else st.sessions.delete(session.id);
      await completeUpload(svc, file, entity, { lastModified: session.lastModified, metadata: session.metadata });
    }
    return undefined;
  });
}
