// Helpers shared by the contract specs (specs/contract/*.spec.ts): raw-body requests through the typed client,
// payload builders (PNG, ZIP, TOTP), trash and task look-ups, and the admin-side set-up some operations need (group
// permissions, throw-away users). Everything goes through the validating transport of the calling test.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { expect } from '../../fixtures/target.js';
import type { Target } from '../../fixtures/target.js';
import { AuthSession, createCloudreveClient, unwrap, type CloudreveClient, type Schemas } from '../../harness/client/index.js';
import { Code } from '../../contracts/generated/error-codes.js';
import { expectSuccess } from '../../harness/expect.js';
import { registerSecret } from '../../harness/secrets.js';
import { crc32, writeZip } from '../../harness/zip.js';

export type FileResponse = Schemas['FileResponse'];

type SuccessData<E> = E extends { code?: 0 } ? (E extends { data: infer D } ? D : undefined) : never;
/** The `data` type of an operation's success envelope (harness/expect.ts's expectSuccess infers `unknown`). */
export type DataOf<R> = R extends { data: infer E } ? SuccessData<E> : never;

/** expectSuccess with the success `data` typed from the operation. */
export function ok<R extends { data?: unknown; error?: unknown; response: Response }>(res: R, message?: string): DataOf<R> {
  return expectSuccess(res, message) as DataOf<R>;
}

type Transport = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

// ---------------------------------------------------------------------------------------------------------------
// Target edition and version

export function isPro(target: Target): boolean {
  return target.version.endsWith('-pro');
}

/** The skip reason of a Pro-only operation on a Community target. */
export function proOnly(target: Target): string {
  return `Pro edition only (x-edition: pro); this target is Community ${target.version}`;
}

function parseVersion(v: string): number[] {
  return v.replace(/-pro$/, '').split('.').map((n) => Number.parseInt(n, 10) || 0);
}

/** Whether the target's version is at least `min` (e.g. '4.7.0'). */
export function versionAtLeast(target: Target, min: string): boolean {
  const a = parseVersion(target.version);
  const b = parseVersion(min);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

export function sinceReason(target: Target, since: string): string {
  return `the operation exists since ${since} (x-since); this target is ${target.version}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Names and small utilities

/** A name unique to this call: `<prefix>-<8 hex>` plus an optional extension. */
export function unique(prefix: string, ext = ''): string {
  return `${prefix}-${randomBytes(4).toString('hex')}${ext}`;
}

export function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function randomPayload(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

/** Compares URIs the way the server normalises them: decoded, without a trailing slash. */
export function sameUri(a: string | undefined, b: string | undefined): boolean {
  const norm = (u: string | undefined) => (u === undefined ? undefined : decodeURIComponent(u).replace(/\/+$/, ''));
  return norm(a) === norm(b);
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------------------------
// Files

const rawBody = { bodySerializer: (b: unknown) => b as never };

/** PUT /file/content with the bytes as body (creates the file when it is missing). Returns the raw result. */
export async function putContent(client: CloudreveClient, uri: string, body: Uint8Array | string, previous?: string) {
  const bytes = typeof body === 'string' ? bytesOf(body) : body;
  return client.PUT('/file/content', {
    params: { query: previous === undefined ? { uri } : { uri, previous }, header: { 'Content-Length': bytes.byteLength } },
    body: bytes as never,
    ...rawBody,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
}

/** Writes a file through PUT /file/content and returns the resulting file; fails the test on an error. */
export async function writeFile(client: CloudreveClient, uri: string, body: Uint8Array | string): Promise<FileResponse> {
  return expectSuccess(await putContent(client, uri, body), `write ${uri}`) as FileResponse;
}

export async function fileInfo(client: CloudreveClient, uri: string, extended = false): Promise<FileResponse> {
  const res = await client.GET('/file/info', { params: { query: extended ? { uri, extended: true } : { uri } } });
  return expectSuccess(res, `info of ${uri}`) as FileResponse;
}

export async function createFolder(client: CloudreveClient, uri: string): Promise<FileResponse> {
  return expectSuccess(await client.POST('/file/create', { body: { uri, type: 'folder' } }), `create folder ${uri}`) as FileResponse;
}

/** Every entry of a folder (follows next_token). */
export async function listAll(client: CloudreveClient, uri: string): Promise<FileResponse[]> {
  const out: FileResponse[] = [];
  let token: string | undefined;
  for (let page = 0; page < 50; page++) {
    const res = await client.GET('/file', { params: { query: token ? { uri, next_page_token: token } : { uri } } });
    const data = expectSuccess(res, `list ${uri}`) as Schemas['ListResponse'];
    out.push(...(data.files ?? []));
    token = data.pagination.next_token;
    if (!token) break;
  }
  return out;
}

export async function capacityUsed(client: CloudreveClient): Promise<number> {
  return (expectSuccess(await client.GET('/user/capacity'), 'capacity') as Schemas['Capacity']).used;
}

/** The storage policy id uploads into `folder` use (from its listing). */
export async function policyOf(client: CloudreveClient, folder: string): Promise<string> {
  const data = expectSuccess(await client.GET('/file', { params: { query: { uri: folder } } }), `list ${folder}`) as Schemas['ListResponse'];
  return data.storage_policy?.id ?? '';
}

/** POST /file/upload/{sessionId}/{index} with raw bytes. Returns the raw result. */
export async function sendChunk(client: CloudreveClient, sessionId: string, index: number, body: Uint8Array, contentLength = body.byteLength) {
  return client.POST('/file/upload/{sessionId}/{index}', {
    params: { path: { sessionId, index }, header: { 'Content-Length': contentLength } },
    body: body as never,
    ...rawBody,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
}

export async function createUploadSession(client: CloudreveClient, uri: string, size: number, policyId: string) {
  return client.PUT('/file/upload', { body: { uri, size, policy_id: policyId, last_modified: Date.now() } });
}

/** Uploads bytes through an upload session (create, then every chunk in order). Returns the session. */
export async function uploadBytes(client: CloudreveClient, uri: string, bytes: Uint8Array, policyId: string): Promise<Schemas['UploadSession']> {
  const session = expectSuccess(await createUploadSession(client, uri, bytes.byteLength, policyId), `upload session for ${uri}`) as Schemas['UploadSession'];
  const chunk = session.chunk_size > 0 ? session.chunk_size : Math.max(bytes.byteLength, 1);
  const count = Math.max(1, Math.ceil(bytes.byteLength / chunk));
  for (let i = 0; i < count; i++) {
    expectSuccess(await sendChunk(client, session.session_id, i, bytes.subarray(i * chunk, Math.min(bytes.byteLength, (i + 1) * chunk))), `chunk ${i}`);
  }
  return session;
}

/** Fetches a URL the server handed out, through the validating transport; the origin is the target's. */
export async function fetchBytes(transport: Transport, target: Target, url: string): Promise<{ status: number; type: string | null; bytes: Uint8Array }> {
  const u = new URL(url, target.url);
  const t = new URL(target.url);
  u.protocol = t.protocol;
  u.host = t.host;
  const res = await transport(u.toString());
  return { status: res.status, type: res.headers.get('content-type'), bytes: new Uint8Array(await res.arrayBuffer()) };
}

/** Downloads a file's current content through POST /file/url. */
export async function downloadFile(client: CloudreveClient, transport: Transport, target: Target, uri: string): Promise<Uint8Array> {
  const data = expectSuccess(await client.POST('/file/url', { body: { uris: [uri], download: true } }), `download url of ${uri}`) as Schemas['FileUrlResponse'];
  expect(data.urls).toHaveLength(1);
  const got = await fetchBytes(transport, target, data.urls[0]!.url);
  expect(got.status, `download of ${uri}`).toBe(200);
  return got.bytes;
}

/** The trash entry whose restore URI ends with `name` (a unique name the test chose). */
export async function trashEntryFor(client: CloudreveClient, name: string): Promise<FileResponse | undefined> {
  const entries = await listAll(client, 'cloudreve://trash');
  return entries.find((f) => {
    const restore = f.metadata?.['sys:restore_uri'];
    return restore !== undefined && decodeURIComponent(restore).replace(/\/+$/, '').endsWith(`/${name}`);
  });
}

/** Deletes uris for good (no trash), ignoring what is already gone. */
export async function hardDelete(client: CloudreveClient, uris: string[]): Promise<void> {
  await client.DELETE('/file', { body: { uris, skip_soft_delete: true } });
}

// ---------------------------------------------------------------------------------------------------------------
// Tasks

export type Task = Schemas['TaskResponse'];
const TERMINAL = new Set(['completed', 'error', 'canceled']);

/** Finds a task of the user in `GET /workflow` (general category). */
export async function findTask(client: CloudreveClient, id: string): Promise<Task | undefined> {
  let token: string | undefined;
  for (let page = 0; page < 20; page++) {
    const res = await client.GET('/workflow', { params: { query: { page_size: 100, category: 'general', ...(token ? { next_page_token: token } : {}) } } });
    const data = expectSuccess(res, 'list tasks') as Schemas['TaskListResponse'];
    const found = (data.tasks ?? []).find((t) => t.id === id);
    if (found) return found;
    token = data.pagination.next_token;
    if (!token) return undefined;
  }
  return undefined;
}

/** Polls the user's task list until the task is completed, failed or canceled. */
export async function waitForTask(client: CloudreveClient, id: string, timeoutMs = 30_000): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  let last: Task | undefined;
  while (Date.now() < deadline) {
    last = await findTask(client, id);
    if (last && TERMINAL.has(last.status)) return last;
    await sleep(250);
  }
  throw new Error(`task ${id} did not finish within ${timeoutMs} ms (last status: ${last?.status ?? 'not listed'})`);
}

// ---------------------------------------------------------------------------------------------------------------
// Shares

/** The share id of a share URL (`<site>/s/<id>` or `<site>/s/<id>/<password>`). */
export function shareIdFromUrl(url: string): string {
  const parts = new URL(url).pathname.split('/').filter(Boolean);
  const i = parts.indexOf('s');
  expect(i, `share URL ${url} has /s/<id>`).toBeGreaterThanOrEqual(0);
  return parts[i + 1]!;
}

export async function createShare(client: CloudreveClient, body: Schemas['ShareCreateService']): Promise<{ url: string; id: string }> {
  const url = expectSuccess(await client.PUT('/share', { body }), `share ${body.uri}`) as string;
  return { url, id: shareIdFromUrl(url) };
}

/** Every share of a list operation (follows next_token). */
export async function collectShares(fetchPage: (token?: string) => Promise<Schemas['ListShareResponse']>): Promise<Schemas['Share'][]> {
  const out: Schemas['Share'][] = [];
  let token: string | undefined;
  for (let page = 0; page < 50; page++) {
    const data = await fetchPage(token);
    out.push(...(data.shares ?? []));
    token = data.pagination.next_token;
    if (!token) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Payloads

/** A valid RGB PNG of the given size (a colour gradient). */
export function png(width = 16, height = 16): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    Buffer.from(data).copy(out, 8);
    out.writeUInt32BE(crc32(new Uint8Array(out.subarray(4, 8 + data.length))), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = (x * 255) / Math.max(1, width - 1);
      raw[row + 2 + x * 3] = (y * 255) / Math.max(1, height - 1);
      raw[row + 3 + x * 3] = 128;
    }
  }
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new Uint8Array(Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array())]));
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
}

/** A ZIP archive (stored, no compression) of the given entries; names ending in `/` are folders. */
export function zip(entries: { name: string; data?: Uint8Array }[]): Uint8Array {
  // 2024-01-02 03:04:06 in DOS time
  const time = (3 << 11) | (4 << 5) | 3;
  const date = ((2024 - 1980) << 9) | (1 << 5) | 2;
  return new Uint8Array(writeZip(entries.map((e) => ({
    name: e.name, data: e.data ?? new Uint8Array(), method: 0, flags: 0x0800 /* UTF-8 names */, time, date,
    external: e.name.endsWith('/') ? 0x10 : 0,
  }))));
}

/** The entry names of a ZIP archive, read from its central directory. */
export function zipEntryNames(bytes: Uint8Array): string[] {
  const buf = Buffer.from(bytes);
  let end = -1;
  for (let i = buf.length - 22; i >= 0; i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { end = i; break; }
  }
  if (end < 0) return [];
  const count = buf.readUInt16LE(end + 10);
  let p = buf.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let i = 0; i < count && buf.readUInt32LE(p) === 0x02014b50; i++) {
    const n = buf.readUInt16LE(p + 28);
    const m = buf.readUInt16LE(p + 30);
    const k = buf.readUInt16LE(p + 32);
    names.push(buf.toString('utf8', p + 46, p + 46 + n));
    p += 46 + n + m + k;
  }
  return names;
}

/** RFC 6238 TOTP (SHA-1, 30 s, 6 digits) of a base32 secret. */
export function totp(secret: string, at = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${secret}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) key[i] = Number.parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const o = mac[mac.length - 1]! & 0x0f;
  const code = (mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}

// ---------------------------------------------------------------------------------------------------------------
// Group permissions (inventory/types.GroupPermission bit numbers)

export const Perm = {
  isAdmin: 0,
  share: 2,
  webdav: 3,
  archiveDownload: 4,
  archiveTask: 5,
  webdavProxy: 6,
  remoteDownload: 9,
  advanceDelete: 12,
} as const;

/** Whether bit `bit` is set in a base64 boolset. */
export function hasBit(boolset: string | null | undefined, bit: number): boolean {
  if (!boolset) return false;
  const raw = Buffer.from(boolset, 'base64');
  return bit < raw.length * 8 && (raw[bit >> 3]! & (1 << (bit & 7))) !== 0;
}

export function withBits(boolset: string | null | undefined, bits: number[]): string {
  let raw = Buffer.from(boolset ?? '', 'base64');
  for (const bit of bits) {
    if (raw.length < (bit >> 3) + 1) raw = Buffer.concat([raw, Buffer.alloc((bit >> 3) + 1 - raw.length)]);
    raw[bit >> 3]! |= 1 << (bit & 7);
  }
  return raw.toString('base64');
}

/** Whether the signed-in user's group has a permission (from GET /user/me). */
export async function userHasPermission(client: CloudreveClient, bit: number): Promise<boolean> {
  const me = expectSuccess(await client.GET('/user/me'), 'me') as Schemas['User'];
  return hasBit(me.group?.permission, bit);
}

type AdminUser = Schemas['AdminUserDetail'];

export async function adminFindUser(admin: CloudreveClient, email: string): Promise<AdminUser | undefined> {
  const res = await admin.POST('/admin/user', { body: { page: 1, page_size: 50, conditions: { user_email: email } } });
  const data = unwrap(res, `find user ${email}`) as Schemas['AdminListResponseUsers'];
  return data.users.find((u) => u.email.toLowerCase() === email.toLowerCase());
}

/** The numeric id of a user's group, through the admin API. */
export async function adminGroupIdOf(admin: CloudreveClient, email: string): Promise<number> {
  const u = await adminFindUser(admin, email);
  expect(u, `admin can see user ${email}`).toBeDefined();
  const id = u!.group_users ?? (u!.edges.group?.id as number | undefined);
  expect(typeof id, `group of ${email}`).toBe('number');
  return id!;
}

/**
 * Adds permission bits to a group through the admin API for the duration of `fn`, then puts the group back as it
 * was (also when `fn` throws).
 */
export async function withGroupPermissions<T>(admin: CloudreveClient, groupId: number, bits: number[], fn: () => Promise<T>): Promise<T> {
  const original = unwrap(await admin.GET('/admin/group/{id}', { params: { path: { id: groupId } } }), `read group ${groupId}`) as Schemas['AdminGroupDetail'];
  const { total_users: _drop, ...group } = original;
  void _drop;
  unwrap(await admin.PUT('/admin/group/{id}', {
    params: { path: { id: groupId } },
    body: { group: { ...group, permissions: withBits(group.permissions, bits) } as never },
  }), `grant permissions ${bits.join(',')} to group ${groupId}`);
  try {
    return await fn();
  } finally {
    unwrap(await admin.PUT('/admin/group/{id}', { params: { path: { id: groupId } }, body: { group: group as never } }),
      `restore group ${groupId}`);
  }
}

export interface TempUser {
  id: number;
  hashId: string;
  email: string;
  password: string;
  client: CloudreveClient;
  session: AuthSession;
}

/**
 * Creates a user through the admin API (in the same group as `groupOf`'s user, or group 2), signs it in on a client
 * that uses `transport`, runs `fn`, and deletes the user afterwards.
 */
export async function withTempUser<T>(admin: CloudreveClient, target: Target, transport: Transport, label: string,
  fn: (u: TempUser) => Promise<T>, groupOf?: string): Promise<T> {
  const groupId = groupOf ? await adminGroupIdOf(admin, groupOf) : 2;
  const email = `${unique(`${label}-${target.runId}`)}@conformance.test`.toLowerCase();
  const password = `pw-${randomUUID()}`;
  registerSecret(password);
  const created = unwrap(await admin.PUT('/admin/user', {
    body: { user: { email, nick: label, status: 'active', group_users: groupId }, password },
  }), `create temporary user ${email}`) as AdminUser;
  try {
    const client = createCloudreveClient({ siteUrl: target.url, fetch: transport });
    const session = new AuthSession(client, { email, password });
    await session.login();
    return await fn({ id: created.id, hashId: created.hash_id, email, password, client, session });
  } finally {
    await admin.POST('/admin/user/batch/delete', { body: { ids: [created.id] } });
  }
}

/** Removes a user the test registered (found by email) through the admin API. */
export async function adminDeleteUserByEmail(admin: CloudreveClient, email: string): Promise<void> {
  const u = await adminFindUser(admin, email);
  if (u) unwrap(await admin.POST('/admin/user/batch/delete', { body: { ids: [u.id] } }), `delete user ${email}`);
}

/** A fresh client (no identity) over the given transport. */
export function bareClient(target: Target, transport: Transport): CloudreveClient {
  return createCloudreveClient({ siteUrl: target.url, fetch: transport });
}

export { Code, crc32 };
