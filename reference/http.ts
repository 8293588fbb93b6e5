// Request plumbing shared by the routes: the per-request context (caller, correlation id), the envelope writer and
// gin-like parameter binding (the same 40001 messages: "<Field> cannot be empty", "... too short", "JSON marshall
// error", "Parameter error").
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, Code, failure, paramError, success } from './envelope.js';
import { fault } from './faults/index.js';
import type { Blobs } from './blobs.js';
import type { Tokens } from './auth.js';
import type { FileSystem } from './fs.js';
import type { State, UserRow } from './state.js';
import type { Views } from './views.js';

export interface Services { st: State; fs: FileSystem; views: Views; tokens: Tokens; blobs: Blobs }

export interface Ctx extends Services {
  req: FastifyRequest;
  reply: FastifyReply;
  caller: UserRow | undefined;
  correlationId: string;
}

/** Returned by a handler that wrote its own response (downloads). */
export const RAW = Symbol('raw response');
export type Handler = (c: Ctx) => Promise<unknown>;
export type Auth = 'none' | 'optional' | 'user' | 'admin';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function register(app: FastifyInstance, svc: Services, method: string, path: string, auth: Auth,
  handler: Handler): void {
  app.route({
    method: method as 'GET',
    url: `/api/v4${path}`,
    handler: async (req, reply) => {
      const hinted = req.headers['x-cr-correlation-id'];
      const correlationId = typeof hinted === 'string' && UUID_RE.test(hinted) ? hinted : randomUUID();
      void reply.header('Cache-Control', 'private, no-cache');
      const c: Ctx = { ...svc, req, reply, caller: undefined, correlationId };
      try {
        c.caller = await svc.tokens.caller(req.headers.authorization);
        if ((auth === 'user' || auth === 'admin') && !c.caller) throw new AppError(Code.CheckLogin, 'Login required');
        if (auth === 'admin' && !svc.st.isAdmin(c.caller)) throw new AppError(Code.NoPermissionErr, '');
        const data = await handler(c);
        if (data === RAW) return reply;
        if (fault(svc.st.faults, 'envelope-no-msg')) {
          const { msg: _msg, ...withoutMsg } = success(data);
          return reply.code(200).send(withoutMsg);
        }
        return reply.code(200).send(success(data));
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        drain(req);
        return reply.code(e.options.status ?? 200).send(failure(e, correlationId));
      }
    },
  });
}

/** Discards an unread request body (the controller drains it on errors). */
export function drain(req: FastifyRequest): void {
  if (!req.raw.readableEnded) req.raw.resume();
}

// ---- binding ----

type Kind = 'string' | 'int' | 'bool' | 'strings' | 'map' | 'object' | 'any';
export interface Field {
  key: string;
  /** The Go field name used in messages (e.g. Uri, Size). */
  name: string;
  kind: Kind;
  required?: boolean;
  min?: number;
  max?: number;
  /** A validation tag with no message of its own (eq=, alphanum...): "Invalid parameters." */
  check?: (v: unknown) => boolean;
  email?: boolean;
}

/** The JSON body as an object; an unparsable or non-object body is "Parameter error". */
export function jsonBody(c: Ctx): Record<string, unknown> {
  const raw = (c.req.body as { raw?: string } | undefined)?.raw;
  if (raw === undefined || raw.trim() === '') throw paramError('Parameter error');
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw paramError('Parameter error');
  }
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw paramError('JSON marshall error');
  return v as Record<string, unknown>;
}

/** Looks a key up case-insensitively, as Go's encoding/json does. */
function lookup(o: Record<string, unknown>, key: string): unknown {
  if (key in o) return o[key];
  const k = Object.keys(o).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : o[k];
}

function typeOk(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'string': return typeof v === 'string';
    case 'int': return typeof v === 'number' && Number.isInteger(v);
    case 'bool': return typeof v === 'boolean';
    case 'strings': return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'map': return typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every((x) => typeof x === 'string');
    case 'object': return typeof v === 'object' && !Array.isArray(v);
    default: return true;
  }
}

function sizeOf(v: unknown): number {
  if (typeof v === 'string') return [...v].length;
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  return 0;
}

function empty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === 0 || v === false;
}

/** Binds fields in struct order: type errors first (the JSON decoder), then the first failed validation. */
export function bind(o: Record<string, unknown>, fields: Field[]): Record<string, any> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = lookup(o, f.key);
    if (v !== undefined && v !== null && !typeOk(f.kind, v)) throw paramError('JSON marshall error');
    out[f.key] = v ?? undefined;
  }
  validate(out, fields);
  return out;
}

/** Binds query parameters (strings); a non-numeric integer is "Parameter error". */
export function bindQuery(c: Ctx, fields: Field[]): Record<string, any> {
  const q = c.req.query as Record<string, string | string[] | undefined>;
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    let v = q[f.key];
    if (Array.isArray(v)) v = v[0];
    if (v === undefined) { out[f.key] = undefined; continue; }
    if (f.kind === 'int') {
      if (v === '') { out[f.key] = 0; continue; }
      if (!/^[+-]?\d+$/.test(v)) throw paramError('Parameter error');
      out[f.key] = Number(v);
    } else if (f.kind === 'bool') {
      if (v === '') { out[f.key] = false; continue; }
      if (!['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) {
        throw paramError('Parameter error');
      }
      out[f.key] = ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v);
    } else out[f.key] = v;
  }
  validate(out, fields);
  return out;
}

function validate(out: Record<string, unknown>, fields: Field[]): void {
  for (const f of fields) {
    const v = out[f.key];
    if (f.required && empty(v)) throw paramError(`${f.name} cannot be empty`);
    if (v === undefined || v === null) {
      if (f.min !== undefined && f.kind === 'int' && 0 < f.min) throw paramError(`${f.name} too short`);
      continue;
    }
    if (f.min !== undefined && sizeOf(v) < f.min) throw paramError(`${f.name} too short`);
    if (f.max !== undefined && sizeOf(v) > f.max) throw paramError(`${f.name} too long`);
    if (f.email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(String(v))) throw paramError(`${f.name} format error`);
    if (f.check && !f.check(v)) throw paramError('');
  }
}

/** The request's declared body length: Content-Length, else X-Expected-Entity-Length, else 0 (pkg/request). */
export function declaredLength(c: Ctx): number | undefined {
  return sniffLength(c.req.headers);
}

/** The same rule on raw headers (the slave's routes have no Ctx). */
export function sniffLength(headers: Record<string, string | string[] | undefined>): number | undefined {
  const raw = headers['content-length'] ?? headers['x-expected-entity-length'];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || v === '') return 0;
  if (!/^\d+$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

/** A single `bytes=a-b` range inside a blob of `size` bytes; anything else means the whole body. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  const m = header && /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || size === 0 || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : undefined;
}
