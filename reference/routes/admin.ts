// The admin routes a harness drives (service/admin): settings, storage policies, groups, users and nodes, with
// ent's JSON (numeric ids). Anonymous callers get 401, non-admins code 403.
import type { FastifyInstance } from 'fastify';
import { AppError, Code, paramError } from '../envelope.js';
import { bind, jsonBody, register, type Ctx, type Services } from '../http.js';
import { ANONYMOUS_GROUP, digestPassword, HIDDEN_SETTINGS, MB, type GroupRow, type NodeRow, type PolicyRow } from '../state.js';
import { createUser } from './user.js';
import { remoteOf } from '../slave/master.js';

type Obj = Record<string, any>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

export function adminRoutes(app: FastifyInstance, svc: Services): void {
  const { st, views, fs } = svc;
  const reg = (method: string, path: string, h: (c: Ctx) => Promise<unknown>) => register(app, svc, method, `/admin${path}`, 'admin', h);

  // ---- settings ----
  reg('POST', '/settings', async (c) => {
    const b = bind(jsonBody(c), [{ key: 'keys', name: 'Keys', kind: 'strings', required: true }]);
    const out: Obj = {};
    for (const k of b.keys as string[]) if (st.settings.has(k) && !HIDDEN_SETTINGS.has(k)) out[k] = st.setting(k);
    return out;
  });
  reg('PATCH', '/settings', async (c) => {
    const b = bind(jsonBody(c), [{ key: 'settings', name: 'Settings', kind: 'map', required: true }]);
    const given = b.settings as Record<string, string>;
    if ('siteURL' in given && !/^https?:\/\/[^\s]+$/.test(given.siteURL!)) throw new AppError(Code.ParamErr, 'Invalid site URL');
    for (const [k, v] of Object.entries(given)) if (st.settings.has(k)) st.settings.set(k, v);
    return given;
  });

  // ---- storage policies ----
  reg('POST', '/policy', async (c) => {
    const q = listArgs(c);
    let rows = [...st.policies.values()];
    if (q.conditions.policy_type) rows = rows.filter((p) => p.type === q.conditions.policy_type);
    return { pagination: pagination(q, rows.length), policies: pageOf(q, rows).map((p) => views.adminPolicy(p, true)) };
  });
  reg('GET', '/policy/:id', async (c) => {
    const p = policyOr50001(idParam(c));
    const out = views.adminPolicy(p, true);
    if ((c.req.query as Obj).countEntity) {
      const ents = [...st.entities.values()].filter((e) => e.policyId === p.id);
      if (ents.length) out.entities_count = ents.length;
      const size = ents.reduce((n, e) => n + e.size, 0);
      if (size) out.entities_size = size;
    }
    return out;
  });
  reg('PUT', '/policy', async (c) => {
    const input = policyInput(c);
    // node_id is a foreign key: a node that does not exist fails the insert.
    if (input.nodeId && !st.nodes.has(input.nodeId)) throw new AppError(Code.DBError, 'Failed to create policy');
    const now = new Date();
    const p: PolicyRow = { ...emptyPolicy(), ...input, id: st.nextId('policy'), createdAt: now, updatedAt: now };
    if (p.type === 'local') p.dirNameRule = 'data/uploads/{uid}/{path}';
    st.policies.set(p.id, p);
    return views.adminPolicy(p, false);
  });
  reg('PUT', '/policy/:id', async (c) => {
    const p = policyOr50001(idParam(c));
    const input = policyInput(c);
    if (input.nodeId && !st.nodes.has(input.nodeId)) throw new AppError(Code.DBError, 'Failed to update policy');
    // The whole row is replaced: fields left out are reset (round-trip what adminGetPolicy answered).
    Object.assign(p, emptyPolicy(), input, { id: p.id, createdAt: p.createdAt, updatedAt: new Date() });
    return views.adminPolicy(p, true);
  });
  reg('DELETE', '/policy/:id', async (c) => {
    const id = idParam(c);
    if (id === 1) throw new AppError(Code.DeleteDefaultPolicy, 'Default policy cannot be deleted');
    if (!st.policies.has(id)) throw new AppError(Code.PolicyNotExist, 'Policy not exist');
    const groups = [...st.groups.values()].filter((g) => g.storagePolicyId === id).length;
    if (groups) throw new AppError(Code.PolicyUsedByGroups, String(groups));
    if ([...st.entities.values()].some((e) => e.policyId === id)) throw new AppError(Code.PolicyUsedByFiles, 'Policy is used by files');
    st.policies.delete(id);
    return undefined;
  });

  // ---- groups ----
  reg('POST', '/group', async (c) => {
    const q = listArgs(c);
    const rows = [...st.groups.values()];
    return { pagination: pagination(q, rows.length), groups: pageOf(q, rows).map((g) => views.adminGroup(g, true)) };
  });
  reg('GET', '/group/:id', async (c) => {
    const g = st.groups.get(idParam(c));
    if (!g) throw new AppError(Code.DBError, 'Failed to get group');
    const count = (c.req.query as Obj).countUser ? [...st.users.values()].filter((u) => u.groupId === g.id).length : 0;
    return { ...views.adminGroup(g, true), total_users: count };
  });
  reg('PUT', '/group', async (c) => {
    const input = groupInput(c);
    if (input.id) throw new AppError(Code.ParamErr, 'ID must be 0');
    const now = new Date();
    const g: GroupRow = { ...emptyGroup(), ...input.row, id: st.nextId('group'), createdAt: now, updatedAt: now };
    st.groups.set(g.id, g);
    return { ...views.adminGroup(g, true), total_users: 0 };
  });
  reg('PUT', '/group/:id', async (c) => {
    const input = groupInput(c);
    idParam(c);
    if (!input.id) throw new AppError(Code.ParamErr, 'ID is required');
    const g = st.groups.get(input.id);
    if (!g) throw new AppError(Code.DBError, 'Failed to get group');
    const next = { ...emptyGroup(), ...input.row };
    if (g.id === 1 && !(next.permissions[0]! & 1)) throw new AppError(Code.InvalidActionOnSystemGroup, 'Admin group must keep admin permission');
    Object.assign(g, next, { id: g.id, createdAt: g.createdAt, updatedAt: new Date() });
    return { ...views.adminGroup(g, true), total_users: 0 };
  });
  reg('DELETE', '/group/:id', async (c) => {
    const id = idParam(c);
    if (id <= ANONYMOUS_GROUP) throw new AppError(Code.InvalidActionOnSystemGroup, 'System group cannot be deleted');
    if (!st.groups.has(id)) throw new AppError(Code.GroupNotFound, 'Group not found');
    const users = [...st.users.values()].filter((u) => u.groupId === id).length;
    if (users) throw new AppError(Code.GroupUsedByUser, String(users));
    st.groups.delete(id);
    return undefined;
  });

  // ---- users ----
  reg('POST', '/user', async (c) => {
    const q = listArgs(c);
    let rows = [...st.users.values()];
    const cond = q.conditions;
    if (cond.user_group !== undefined) {
      if (!/^\d+$/.test(cond.user_group)) throw new AppError(Code.ParamErr, 'Invalid group ID');
      rows = rows.filter((u) => u.groupId === Number(cond.user_group));
    }
    if (cond.user_status) rows = rows.filter((u) => u.status === cond.user_status);
    if (cond.user_nick) rows = rows.filter((u) => u.nick.includes(cond.user_nick!));
    if (cond.user_email) rows = rows.filter((u) => u.email.includes(cond.user_email!));
    return { pagination: pagination(q, rows.length), users: pageOf(q, rows).map((u) => views.adminUser(u, false)) };
  });
  reg('GET', '/user/:id', async (c) => {
    const u = st.users.get(idParam(c));
    if (!u) throw new AppError(Code.DBError, 'Failed to get user');
    return views.adminUser(u, true);
  });
  reg('PUT', '/user', async (c) => {
    const { user, password } = userInput(c);
    if (user.id) throw new AppError(Code.ParamErr, 'ID must be 0');
    if (!password) throw new AppError(Code.ParamErr, 'Password is required');
    if (st.userByEmail(user.email)) throw new AppError(Code.EmailExisted, 'Email already in use');
    if (!st.groups.has(user.group_users)) throw new AppError(Code.GroupNotFound, 'Group not found');
    const u = createUser(svc, { email: user.email, password, groupId: user.group_users, nick: user.nick,
      status: user.status || 'active', settings: isObj(user.settings) ? user.settings : {} });
    return views.adminUser(u, true);
  });
  reg('PUT', '/user/:id', async (c) => {
    const { user, password } = userInput(c);
    idParam(c);
    if (!user.id) throw new AppError(Code.ParamErr, 'ID is required');
    const u = st.users.get(user.id);
    if (!u) throw new AppError(Code.DBError, 'Failed to get user');
    if (u.id === 1 && st.isAdmin(u) && (user.group_users !== u.groupId || (user.status || 'active') !== 'active')) {
      throw new AppError(Code.InvalidActionOnDefaultUser, 'Cannot change group or status of the default user');
    }
    const other = st.userByEmail(user.email);
    if (other && other.id !== u.id) throw new AppError(Code.EmailExisted, 'Email already in use');
    if (!st.groups.has(user.group_users)) throw new AppError(Code.GroupNotFound, 'Group not found');
    Object.assign(u, { email: user.email, nick: user.nick ?? u.nick, status: user.status || u.status,
      groupId: user.group_users, settings: isObj(user.settings) ? user.settings : u.settings, updatedAt: new Date() });
    if (password) u.passwordDigest = digestPassword(password);
    return views.adminUser(u, true);
  });
  reg('POST', '/user/batch/delete', async (c) => {
    const b = bind(jsonBody(c), [{ key: 'ids', name: 'IDs', kind: 'any', required: true }]);
    if (!Array.isArray(b.ids) || !b.ids.every((x: unknown) => Number.isInteger(x))) throw paramError('JSON marshall error');
    const failed: Obj = {};
    for (const id of b.ids as number[]) {
      const u = st.users.get(id);
      if (id === 1 || id === c.caller!.id) {
        failed[id] = { code: Code.InvalidActionOnDefaultUser, msg: 'Cannot delete the default user or yourself', correlation_id: c.correlationId };
        continue;
      }
      if (!u) continue;
      for (const f of [...st.files.values()]) if (f.ownerId === id && (f.isRoot || f.parentId === null)) await fs.hardDelete(f);
      for (const [sid, s] of st.sessions) if (s.uid === id) st.sessions.delete(sid);
      for (const [did, d] of st.davAccounts) if (d.ownerId === id) st.davAccounts.delete(did);
      st.users.delete(id);
    }
    const n = Object.keys(failed).length;
    if (n) throw new AppError(Code.BatchOperationNotFullyCompleted, n === 1 ? Object.values(failed)[0].msg : 'One or more operation failed', { aggregated: failed });
    return undefined;
  });

  // ---- nodes ----
  reg('POST', '/node', async (c) => {
    const q = listArgs(c);
    let rows = [...st.nodes.values()];
    if (q.conditions.node_status) rows = rows.filter((n) => n.status === q.conditions.node_status);
    return { pagination: pagination(q, rows.length), nodes: pageOf(q, rows).map((n) => views.adminNode(n, true)) };
  });
  reg('GET', '/node/:id', async (c) => {
    const n = st.nodes.get(idParam(c));
    if (!n) throw new AppError(Code.DBError, 'Failed to get node');
    return views.adminNode(n, true);
  });
  reg('PUT', '/node', async (c) => {
    const input = nodeInput(c);
    if (input.id) throw new AppError(Code.ParamErr, 'ID must be 0');
    const now = new Date();
    const n: NodeRow = { ...emptyNode(), ...input.row, id: st.nextId('node'), createdAt: now, updatedAt: now };
    st.nodes.set(n.id, n);
    return views.adminNode(n, true);
  });
  reg('PUT', '/node/:id', async (c) => {
    const input = nodeInput(c);
    idParam(c);
    if (!input.id) throw new AppError(Code.ParamErr, 'ID is required');
    const n = st.nodes.get(input.id);
    if (!n) throw new AppError(Code.DBError, 'Failed to get node');
    Object.assign(n, emptyNode(), input.row, { id: n.id, type: n.type === 'master' ? 'master' : input.row.type,
      createdAt: n.createdAt, updatedAt: new Date() });
    return views.adminNode(n, true);
  });
  reg('DELETE', '/node/:id', async (c) => {
    const n = st.nodes.get(idParam(c));
    if (!n) throw new AppError(Code.DBError, 'Failed to get node');
    if (n.type === 'master') throw new AppError(Code.InvalidActionOnSystemNode, 'Master node cannot be deleted');
    const used = [...st.policies.values()].filter((p) => p.nodeId === n.id).map((p) => p.name);
    if (used.length) throw new AppError(Code.NodeUsedByStoragePolicy, used.join(', '));
    st.nodes.delete(n.id);
    return undefined;
  });
  reg('POST', '/node/test', async (c) => {
    // TestNodeService: a signed POST /api/v4/slave/ping {callback: siteURL} with the given key; the slave pings this
    // master back and compares versions.
    const { node: n } = bind(jsonBody(c), [{ key: 'node', name: 'Node', kind: 'object', required: true }]);
    const remote = remoteOf(svc);
    try {
      new URL(str(n.server));
    } catch {
      throw new AppError(Code.ParamErr, 'Failed to parse node URL');
    }
    if (!remote) throw new AppError(Code.ParamErr, 'Failed to connect to node: no client');
    let answer: { code: number; msg: string };
    try {
      answer = await remote.ping({ id: int(n.id), server: str(n.server), key: str(n.slave_key) }, c.correlationId);
    } catch (e) {
      throw new AppError(Code.ParamErr, `Failed to connect to node: ${e instanceof AppError ? e.msg : (e as Error).message}`);
    }
    if (answer.code !== 0) throw new AppError(Code.ParamErr, `Successfully connected to slave node, but slave returns: ${answer.msg ?? ''}`);
    return undefined;
  });

  // ---- inputs ----
  function policyOr50001(id: number): PolicyRow {
    const p = st.policies.get(id);
    if (!p) throw new AppError(Code.DBError, 'Failed to get policy');
    return p;
  }

  function policyInput(c: Ctx): Partial<PolicyRow> {
    const { policy: p } = bind(jsonBody(c), [{ key: 'policy', name: 'Policy', kind: 'object', required: true }]);
    if (typeof p.name !== 'string' || !p.name) throw paramError('Name cannot be empty');
    if (typeof p.type !== 'string' || !p.type) throw paramError('Type cannot be empty');
    return { name: p.name, type: p.type, server: str(p.server), bucketName: str(p.bucket_name), isPrivate: !!p.is_private,
      accessKey: str(p.access_key), secretKey: str(p.secret_key), maxSize: int(p.max_size),
      dirNameRule: str(p.dir_name_rule), fileNameRule: str(p.file_name_rule), nodeId: int(p.node_id),
      settings: isObj(p.settings) ? { ...p.settings } : {} };
  }

  function groupInput(c: Ctx): { id: number; row: Partial<GroupRow> } {
    const { group: g } = bind(jsonBody(c), [{ key: 'group', name: 'Group', kind: 'object', required: true }]);
    if (typeof g.name !== 'string' || !g.name) throw paramError('Name cannot be empty');
    const policyId = int(g.edges?.storage_policies?.id) || int(g.storage_policy_id);
    if (policyId && !st.policies.has(policyId)) throw new AppError(Code.PolicyNotExist, 'Policy not exist');
    let permissions = Buffer.alloc(0);
    if (typeof g.permissions === 'string') permissions = Buffer.from(g.permissions, 'base64');
    return { id: int(g.id), row: { name: g.name, maxStorage: int(g.max_storage), speedLimit: int(g.speed_limit), permissions,
      settings: isObj(g.settings) ? { ...g.settings } : {}, storagePolicyId: policyId } };
  }

  function userInput(c: Ctx): { user: Obj; password: string } {
    const b = bind(jsonBody(c), [
      { key: 'user', name: 'User', kind: 'object', required: true },
      { key: 'password', name: 'Password', kind: 'string', max: 128 },
      { key: 'two_fa', name: 'TwoFA', kind: 'string' },
    ]);
    const u = b.user as Obj;
    if (typeof u.email !== 'string' || !u.email) throw paramError('Email cannot be empty');
    return { user: { ...u, id: int(u.id), group_users: int(u.group_users) }, password: b.password ?? '' };
  }

  function nodeInput(c: Ctx): { id: number; row: Partial<NodeRow> } {
    const { node: n } = bind(jsonBody(c), [{ key: 'node', name: 'Node', kind: 'object', required: true }]);
    if (typeof n.name !== 'string' || !n.name) throw paramError('Name cannot be empty');
    if (n.type !== 'master' && n.type !== 'slave') throw paramError('Type cannot be empty');
    return { id: int(n.id), row: { name: n.name, type: n.type, status: str(n.status) || 'active', server: str(n.server),
      slaveKey: str(n.slave_key), capabilities: str(n.capabilities), settings: isObj(n.settings) ? n.settings : {},
      weight: int(n.weight) } };
  }
}

interface ListArgs { page: number; pageSize: number; conditions: Record<string, string> }

function listArgs(c: Ctx): ListArgs {
  const b = bind(jsonBody(c), [
    { key: 'page', name: 'Page', kind: 'int', min: 1 },
    { key: 'page_size', name: 'PageSize', kind: 'int', min: 1 },
    { key: 'order_by', name: 'OrderBy', kind: 'string' },
    { key: 'order_direction', name: 'OrderDirection', kind: 'string' },
    { key: 'conditions', name: 'Conditions', kind: 'map' },
    { key: 'searches', name: 'Searches', kind: 'map' },
  ]);
  return { page: b.page, pageSize: b.page_size, conditions: b.conditions ?? {} };
}

function pagination(q: ListArgs, total: number): Obj {
  return { page: q.page - 1, page_size: q.pageSize, ...(total ? { total_items: total } : {}) };
}

function pageOf<T extends { id: number }>(q: ListArgs, rows: T[]): T[] {
  return rows.sort((a, b) => a.id - b.id).slice((q.page - 1) * q.pageSize, q.page * q.pageSize);
}

/** A numeric admin id from the path; anything else is a binding error. */
function idParam(c: Ctx): number {
  const raw = (c.req.params as { id: string }).id;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw paramError('Parameter error');
  return Number(raw);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0);

function emptyPolicy(): Omit<PolicyRow, 'id' | 'createdAt' | 'updatedAt'> {
  return { name: '', type: 'local', server: '', bucketName: '', isPrivate: false, accessKey: '', secretKey: '',
    maxSize: 0, dirNameRule: '', fileNameRule: '', settings: { chunk_size: 25 * MB }, nodeId: 0 };
}

function emptyGroup(): Omit<GroupRow, 'id' | 'createdAt' | 'updatedAt'> {
  return { name: '', maxStorage: 0, speedLimit: 0, permissions: Buffer.alloc(0), settings: {}, storagePolicyId: 0 };
}

function emptyNode(): Omit<NodeRow, 'id' | 'createdAt' | 'updatedAt'> {
  return { name: '', type: 'slave', status: 'active', server: '', slaveKey: '', capabilities: '', settings: {}, weight: 0 };
}
