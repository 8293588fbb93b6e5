// The admin entity (blob) routes of 4.18.0 (service/admin/file.go, inventory/file.go, manager/recycle.go):
// POST /admin/entity lists entities with their storage policy and creator (ent's JSON, numeric ids), POST
// /admin/entity/batch/delete recycles them (RecycleEntities): the blobs are deleted through the policy's driver (the
// data directory, or the slave node with DELETE /slave/file), live upload sessions of the entities are cancelled, and
// the rows removed, crediting the size to the owners of the files that still referenced them. With explicit ids the
// real server does not check references: `force` only decides whether an entity whose blob could not be deleted
// loses its row anyway (and the error is dropped) or keeps it (50001 "Failed to recycle entities").
// Success of the batch delete is HTTP 200 with an empty body (the controller writes nothing).
import type { FastifyInstance } from 'fastify';
import { AppError, Code, paramError } from '../envelope.js';
import { bind, jsonBody, RAW, register, type Ctx, type Services } from '../http.js';
import { Kind } from '../hashid.js';
import { omitEmpty } from '../views.js';
import { remoteOf } from '../slave/master.js';
import type { EntityRow } from '../state.js';

type Obj = Record<string, any>;

export function adminEntityRoutes(app: FastifyInstance, svc: Services): void {
  const { st, views, fs } = svc;
  const reg = (path: string, h: (c: Ctx) => Promise<unknown>) => register(app, svc, 'POST', `/admin${path}`, 'admin', h);

  /** Files whose entity list holds the entity (ent's reference_count, kept in step with the file_entities edge). */
  const referencing = (id: number) => [...st.files.values()].filter((f) => f.entityIds.includes(id));

  function entityJson(e: EntityRow): Obj {
    const policy = st.policies.get(e.policyId);
    const user = st.users.get(e.createdBy);
    const edges: Obj = {};
    if (policy) edges.storage_policy = views.adminPolicy(policy, false);
    if (user) {
      // ent.User with no edge loaded (the entity query loads the user alone).
      const { hash_id: _h, edges: _e, ...rest } = views.adminUser(user, false);
      edges.user = { ...rest, edges: {} };
    }
    return {
      ...omitEmpty({ id: e.id, created_at: e.createdAt.toISOString(), updated_at: e.updatedAt.toISOString(), type: e.type,
        source: e.source, size: e.size, reference_count: referencing(e.id).length, storage_policy_entities: e.policyId,
        created_by: user ? user.id : 0, upload_session_id: e.uploadSessionId }),
      edges,
      // A creator that is gone (the user was deleted: created_by is set null) is the hashid of 0.
      user_hash_id: st.hash.encode(Kind.User, user ? user.id : 0),
    };
  }

  reg('/entity', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'page', name: 'Page', kind: 'int', min: 1 },
      { key: 'page_size', name: 'PageSize', kind: 'int', min: 1 },
      { key: 'order_by', name: 'OrderBy', kind: 'string' },
      { key: 'order_direction', name: 'OrderDirection', kind: 'string' },
      { key: 'conditions', name: 'Conditions', kind: 'map' },
      { key: 'searches', name: 'Searches', kind: 'map' },
    ]);
    const page = b.page as number;
    const pageSize = b.page_size as number;
    const cond = (b.conditions ?? {}) as Record<string, string>;
    const userId = atoi(cond.entity_user, 'Invalid user ID');
    const policyId = atoi(cond.entity_policy, 'Invalid policy ID');
    const type = atoi(cond.entity_type, 'Invalid entity type');

    let rows = [...st.entities.values()];
    if (type !== undefined) rows = rows.filter((e) => e.type === type);
    if (userId !== undefined && userId > 0) rows = rows.filter((e) => e.createdBy === userId && st.users.has(userId));
    if (policyId !== undefined && policyId > 0) rows = rows.filter((e) => e.policyId === policyId);

    // getEntityOrderOption: size, updated_at or reference_count, then id; anything else is id. "desc" or ascending.
    const dir = b.order_direction === 'desc' ? -1 : 1;
    const key: (e: EntityRow) => number = b.order_by === 'size' ? (e) => e.size
      : b.order_by === 'updated_at' ? (e) => e.updatedAt.getTime()
        : b.order_by === 'reference_count' ? (e) => referencing(e.id).length : (e) => e.id;
    rows.sort((x, y) => dir * (key(x) - key(y) || x.id - y.id));

    const total = rows.length;
    const slice = rows.slice((page - 1) * pageSize, page * pageSize);
    return {
      pagination: { page: page - 1, page_size: pageSize, ...(total ? { total_items: total } : {}) },
      entities: slice.map(entityJson),
    };
  });

  reg('/entity/batch/delete', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'ids', name: 'IDs', kind: 'any' },
      { key: 'force', name: 'Force', kind: 'bool' },
    ]);
    if (b.ids !== undefined && (!Array.isArray(b.ids) || !b.ids.every((x: unknown) => Number.isSafeInteger(x)))) {
      throw paramError('JSON marshall error');
    }
    const ids = (b.ids ?? []) as number[];
    if (ids.length < 1) throw paramError('IDs too short');
    const force = b.force === true;

    // StaleEntities with explicit ids: every entity that exists, referenced or not.
    const entities = [...new Set(ids)].map((id) => st.entities.get(id)).filter((e): e is EntityRow => !!e);
    const byPolicy = new Map<number, EntityRow[]>();
    for (const e of entities) byPolicy.set(e.policyId, [...(byPolicy.get(e.policyId) ?? []), e]);

    const remote = remoteOf(svc);
    let failed = false;
    for (const [policyId, group] of byPolicy) {
      for (let i = 0; i < group.length; i += 100) {
        const chunk = group.slice(i, i + 100);
        const errors = new Set<number>();
        const policy = st.policies.get(policyId);
        if (!policy || (policy.type === 'remote' && !remote?.nodeOf(policy))) {
          // No driver for the policy: the whole chunk fails.
          for (const e of chunk) errors.add(e.id);
        } else if (policy.type === 'remote') {
          try {
            await remote!.deleteFiles(policy, chunk.map((e) => e.source));
          } catch {
            for (const e of chunk) errors.add(e.id);
          }
        } else {
          for (const e of chunk) {
            try {
              await svc.blobs.remove(e.source);
            } catch {
              errors.add(e.id);
            }
          }
        }

        // Upload sessions still alive are cancelled (for a remote policy the slave's session too, best effort).
        for (const e of chunk) {
          const sid = e.uploadSessionId;
          if (!sid) continue;
          if (st.liveSession(sid)) {
            if (policy?.type === 'remote' && remote?.nodeOf(policy)) await remote.cancelSession(policy, sid, c.correlationId).catch(() => undefined);
            st.sessions.delete(sid);
          }
        }

        // RemoveEntitiesByID: the rows go; files that referenced them give their owners the size back.
        for (const e of chunk) {
          if (errors.has(e.id) && !force) {
            failed = true;
            continue;
          }
          for (const f of referencing(e.id)) {
            f.entityIds = f.entityIds.filter((id) => id !== e.id);
            fs.charge(f.ownerId, -e.size);
          }
          st.entities.delete(e.id);
          remote?.sources.delete(e.source);
        }
      }
    }
    if (failed) throw new AppError(Code.DBError, 'Failed to recycle entities');
    // AdminBatchDeleteEntity writes nothing on success: HTTP 200, empty body.
    await c.reply.code(200).send();
    return RAW;
  });
}

/** strconv.Atoi of a condition: undefined when empty, 40001 (with a correlation id) when not an integer. */
function atoi(v: string | undefined, msg: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^[+-]?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new AppError(Code.ParamErr, msg);
  return Number(v);
}
