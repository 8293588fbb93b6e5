// Helpers of the behavioural upload suite (specs/upload/*.spec.ts): one suite for every storage policy, each test
// asking the capability profile instead of naming a policy. Sessions, chunks streamed from deterministic payloads,
// byte-for-byte readback, quota and placeholder look-ups, slave credentials. Every request goes through the calling
// test's validating transport (which names the test step in X-Conformance-Test); errors are asserted through the
// catalog, never with a literal number.
import { createHash, createHmac } from 'node:crypto';
import { test as uploadTest, expect, SUITE_CHUNK_SIZE } from '../../fixtures/upload.js';
import type { Target } from '../../fixtures/target.js';
import { Code, codeName } from '../../contracts/generated/error-codes.js';
import { expectCode, expectOneOfCodes, expectSuccess } from '../../harness/expect.js';
import type { CloudreveClient, Schemas } from '../../harness/client/index.js';
import { POLICY_TYPES, type PolicyType } from '../../harness/config.js';
import { compareReadback, Payload } from '../../harness/upload/payload.js';
import { planChunks, type ChunkPlan } from '../../harness/upload/plan.js';
import { RemoteDriver, LocalDriver, type ChunkAttempt, type ChunkOptions, type UploadDriver, type UploadSession } from '../../harness/upload/driver.js';
import type { CapabilityProfile } from '../../harness/upload/profiles.js';
import type { AdminGuard } from '../../harness/admin.js';
import type { CloudChunkAttempt, CloudUploadDriver, FinishOptions, FinishResult, StepResult } from '../../harness/upload/cloud-drivers.js';

export { Code, expect, expectCode, expectOneOfCodes, expectSuccess, planChunks, Payload, POLICY_TYPES, SUITE_CHUNK_SIZE };
export type { ChunkAttempt, ChunkPlan, CapabilityProfile, PolicyType, UploadDriver, UploadSession };

export type FileResponse = Schemas['FileResponse'];
type Transport = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;
type Result = { data?: unknown; error?: unknown; response: Response };

// ---------------------------------------------------------------------------------------------------------------
// Requirements

/** The test details of a requirement: its id as an annotation (the title starts with it as well). */
export function req(id: string, ...more: { type: string; description: string }[]): { annotation: { type: string; description: string }[] } {
  return { annotation: [{ type: 'requirement', description: id }, ...more] };
}

/** A deterministic payload seed for a test title (and a label, for several payloads in one test). */
export function seedFor(title: string, label = ''): number {
  return createHash('sha256').update(`${title}#${label}`).digest().readUInt32BE(0);
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions opened by a test are cancelled at its end if they are still pending (the sandbox sweep cannot delete a
// placeholder its upload lock still holds).

interface Opened { client: CloudreveClient; id: string; uri: string }

export const test = uploadTest.extend<{ opened: Opened[] }>({
  opened: [async ({}, use) => {
    const opened: Opened[] = [];
    await use(opened);
    for (const s of opened.reverse()) {
      // Best effort: a finished or cancelled session answers 0 or 40016, both fine here.
      await s.client.DELETE('/file/upload', { body: { id: s.id, uri: s.uri } }).catch(() => undefined);
    }
  }, { auto: true }],
});

// ---------------------------------------------------------------------------------------------------------------
// Files, quota, identity

const policyIds = new WeakMap<CloudreveClient, Map<string, string>>();

/** The storage policy id of uploads into `folder` (from its listing; 4.0.0 refuses an empty policy_id). */
export async function policyIdOf(client: CloudreveClient, folder: string): Promise<string> {
  let cache = policyIds.get(client);
  if (!cache) policyIds.set(client, (cache = new Map()));
  const hit = cache.get(folder);
  if (hit !== undefined) return hit;
  const data = expectSuccess(await client.GET('/file', { params: { query: { uri: folder } } }), `list ${folder}`) as Schemas['ListResponse'];
  const id = data.storage_policy?.id ?? '';
  cache.set(folder, id);
  return id;
}

export async function info(client: CloudreveClient, uri: string, extended = false): Promise<FileResponse> {
  return expectSuccess(await client.GET('/file/info', { params: { query: extended ? { uri, extended: true } : { uri } } }),
    `info of ${uri}`) as FileResponse;
}

/** GET /file/info answer, for asserting a path that must not exist. */
export function infoResult(client: CloudreveClient, uri: string) {
  return client.GET('/file/info', { params: { query: { uri } } });
}

export async function list(client: CloudreveClient, uri: string): Promise<FileResponse[]> {
  const out: FileResponse[] = [];
  let token: string | undefined;
  for (let page = 0; page < 50; page++) {
    const data = expectSuccess(await client.GET('/file', { params: { query: token ? { uri, next_page_token: token } : { uri } } }),
      `list ${uri}`) as Schemas['ListResponse'];
    out.push(...(data.files ?? []));
    token = data.pagination.next_token;
    if (!token) break;
  }
  return out;
}

export async function names(client: CloudreveClient, uri: string): Promise<string[]> {
  return (await list(client, uri)).map((f) => f.name).sort();
}

export async function used(client: CloudreveClient): Promise<number> {
  return (expectSuccess(await client.GET('/user/capacity'), 'capacity') as Schemas['Capacity']).used;
}

export async function capacity(client: CloudreveClient): Promise<Schemas['Capacity']> {
  return expectSuccess(await client.GET('/user/capacity'), 'capacity') as Schemas['Capacity'];
}

/** The caller's user id (hashid), to name its space from another user: cloudreve://<id>@my/… */
export async function userIdOf(client: CloudreveClient): Promise<string> {
  return (expectSuccess(await client.GET('/user/me'), 'who am I') as Schemas['User']).id;
}

/** `cloudreve://my/a/b` as another user names it: `cloudreve://<owner>@my/a/b`. */
export function inSpaceOf(ownerId: string, uri: string): string {
  return uri.replace(/^cloudreve:\/\/my\b/, `cloudreve://${ownerId}@my`);
}

/** Compares URIs the way the server normalises them: decoded, without a trailing slash. */
export function sameUri(a: string | undefined, b: string | undefined): boolean {
  const norm = (u: string | undefined) => (u === undefined ? undefined : decodeURIComponent(u).replace(/\/+$/, ''));
  return norm(a) === norm(b);
}

export function basename(uri: string): string {
  return decodeURIComponent(uri.replace(/\/+$/, '').split('/').pop() ?? '');
}

// ---------------------------------------------------------------------------------------------------------------
// Upload sessions

export interface CreateOptions {
  entityType?: '' | 'version' | 'live_photo';
  previous?: string;
  lastModified?: number;
  metadata?: Record<string, string>;
  /** Send this policy id instead of the folder's. */
  policyId?: string;
}

/** PUT /file/upload; the raw result (for error assertions). A session it opens is cancelled at the test's end. */
export async function createSession(client: CloudreveClient, opened: Opened[], uri: string, size: number, options: CreateOptions = {}) {
  // The policy is the owner group's; the caller's root listing names it (4.0.0 refuses an empty policy_id).
  const policy_id = options.policyId ?? await policyIdOf(client, 'cloudreve://my');
  const body: Record<string, unknown> = { uri, size, policy_id, last_modified: options.lastModified ?? Date.now() };
  if (options.entityType !== undefined) body.entity_type = options.entityType;
  if (options.previous !== undefined) body.previous = options.previous;
  if (options.metadata) body.metadata = options.metadata;
  const res = await client.PUT('/file/upload', { body: body as never });
  const data = (res.data as { code?: number; data?: UploadSession } | undefined);
  if (data?.code === Code.Success && data.data) opened.push({ client, id: data.data.session_id, uri });
  return res;
}

/** Opens a session and fails the test unless it succeeds. */
export async function openSession(client: CloudreveClient, opened: Opened[], uri: string, size: number, options: CreateOptions = {}): Promise<UploadSession> {
  return expectSuccess(await createSession(client, opened, uri, size, options), `create an upload session for ${uri} (${size} bytes)`) as UploadSession;
}

export function cancel(client: CloudreveClient, session: UploadSession, uri: string) {
  return client.DELETE('/file/upload', { body: { id: session.session_id, uri } });
}

/** The chunks of a session, by the session's own chunk_size. */
export function chunksOf(session: UploadSession): ChunkPlan[] {
  return planChunks(sessionSize(session), session.chunk_size);
}

const sizes = new WeakMap<UploadSession, number>();
/** Remembers the declared size of a session (the response does not carry it). */
export function withSize(session: UploadSession, size: number): UploadSession {
  sizes.set(session, size);
  return session;
}
function sessionSize(session: UploadSession): number {
  const n = sizes.get(session);
  if (n === undefined) throw new Error('the session size is unknown: open it with openUpload()');
  return n;
}

export interface Upload { session: UploadSession; payload: Payload; uri: string; chunks: ChunkPlan[] }

/** Opens a session for a deterministic payload of `size` bytes. */
export async function openUpload(client: CloudreveClient, opened: Opened[], uri: string, size: number, seed: number,
  options: CreateOptions = {}): Promise<Upload> {
  const session = withSize(await openSession(client, opened, uri, size, options), size);
  const payload = new Payload(seed, size);
  return { session, payload, uri, chunks: planChunks(size, session.chunk_size) };
}

/** A cloud flow's driver (parts to the provider, then a finish step). */
export function isCloudDriver(driver: UploadDriver): driver is CloudUploadDriver {
  return typeof (driver as Partial<CloudUploadDriver>).finish === 'function';
}

/** Sends one chunk of the upload's payload, streamed. */
export function send(driver: UploadDriver, up: Upload, index: number, options: ChunkOptions = {}): Promise<ChunkAttempt> {
  const chunk = up.chunks[index] ?? { index, offset: 0, length: 0 };
  // A cloud driver needs the file's size and name (OneDrive's Content-Range, Upyun's form); the session has neither.
  if (isCloudDriver(driver)) driver.begin(up.session, { size: up.payload.size });
  return driver.sendChunk(up.session, chunk, up.payload.stream(chunk.offset, chunk.length), options);
}

/** Finishes a cloud upload the way the client does (complete at the provider, callback); fails the test if it fails. */
export async function finish(driver: CloudUploadDriver, up: Upload, options?: FinishOptions): Promise<FinishResult> {
  const r = await driver.finish(up.session, options);
  expect(r.ok, `finish of ${up.uri} (${r.by}): ${r.steps.map(describeStep).join('; ') || 'no step'}`).toBe(true);
  return r;
}

export function describeStep(s: StepResult): string {
  const parts = [`${s.step} ${s.method} → HTTP ${s.status}`];
  if (s.providerCode) parts.push(`provider ${s.providerCode}${s.providerMessage ? ` "${s.providerMessage}"` : ''}`);
  if (s.code !== undefined) parts.push(`code ${s.code} (${codeName[s.code] ?? '?'})${s.msg ? ` "${s.msg}"` : ''}`);
  if (s.error) parts.push(s.error);
  return parts.join(', ');
}

/**
 * Uploads the whole file the client's way: every chunk in order, then, for a cloud flow, its finish; a provider's
 * asynchronous notify (Upyun) is waited for (bounded) until the file is finished.
 */
export async function uploadAll(driver: UploadDriver, up: Upload, client?: CloudreveClient): Promise<void> {
  await sendAll(driver, up);
  if (!isCloudDriver(driver)) return;
  const r = await finish(driver, up);
  if (r.by === 'provider-notify' && client) {
    const done = await eventually(async () => {
      const f = await info(client, up.uri);
      return f.size === up.payload.size && f.metadata?.['sys:upload_session_id'] === undefined;
    });
    expect(done, `${up.uri}: the provider's notify finished the upload within 10 s`).toBe(true);
  }
}

/** Sends an arbitrary body (length `length`, bytes from the payload where they fit) as chunk `index`. */
export function sendBody(driver: UploadDriver, up: Upload, index: number, length: number, options: ChunkOptions = {}): Promise<ChunkAttempt> {
  const chunk: ChunkPlan = { index, offset: 0, length };
  const body = length <= up.payload.size ? up.payload.stream(0, length) : new Payload(up.payload.seed + 1, length).stream();
  return driver.sendChunk(up.session, chunk, body, { contentLength: length, ...options });
}

function envelopeOf(a: ChunkAttempt): { code: number; msg?: string; correlation_id?: string } {
  return { code: a.code as number, msg: a.msg, correlation_id: a.correlationId };
}

export function expectChunkOk(a: ChunkAttempt, what = `chunk ${a.index}`): void {
  // A part sent to a provider succeeds by the provider's rules (2xx, ETag …), not with an envelope.
  if ('ok' in a) {
    expect((a as CloudChunkAttempt).ok, `${what}: expected the provider to take it, got ${describeAttempt(a)}`).toBe(true);
    return;
  }
  expect(a.code, `${what}: expected success, got ${describeAttempt(a)}`).toBe(Code.Success);
}

export function expectChunkCode(a: ChunkAttempt, code: number, what = `chunk ${a.index}`): void {
  expectCode(envelopeOf(a), code, { message: `${what} (HTTP ${a.status})` });
}

export function expectChunkOneOf(a: ChunkAttempt, codes: number[], what = `chunk ${a.index}`): number {
  return expectOneOfCodes(envelopeOf(a), codes, `${what} (HTTP ${a.status})`);
}

export function describeAttempt(a: ChunkAttempt): string {
  const c = a as Partial<CloudChunkAttempt>;
  if ('ok' in a && a.code === undefined) {
    return `HTTP ${a.status}${c.providerCode ? `, provider ${c.providerCode}${c.providerMessage ? ` "${c.providerMessage}"` : ''}` : ''}${c.error ? `, ${c.error}` : ''}`;
  }
  if (a.code === undefined) return `no envelope (HTTP ${a.status})`;
  return `code ${a.code} (${codeName[a.code] ?? 'not in the catalog'})${a.msg ? ` "${a.msg}"` : ''}, HTTP ${a.status}` +
    `${a.correlationId ? `, correlation_id ${a.correlationId}` : ''}`;
}

/** Sends every chunk in the given order (default: in order), each expected to succeed. */
export async function sendAll(driver: UploadDriver, up: Upload, order?: number[]): Promise<void> {
  for (const i of order ?? up.chunks.map((c) => c.index)) expectChunkOk(await send(driver, up, i));
}

/** Opens a session for `size` bytes and sends every chunk in order. */
export async function uploadFile(client: CloudreveClient, driver: UploadDriver, opened: Opened[], uri: string, size: number,
  seed: number, options: CreateOptions = {}): Promise<Upload> {
  const up = await openUpload(client, opened, uri, size, seed, options);
  await sendAll(driver, up);
  return up;
}

/** A driver whose transport lets deliberately invalid chunk requests through (negative index, no Content-Length). */
export function uncheckedDriver(profile: CapabilityProfile, uploaderUnchecked: CloudreveClient,
  makeTransport: (o?: { requestValidation?: 'enforce' | 'off' }) => Transport): UploadDriver {
  if (profile.chunkEndpoint === 'master') return new LocalDriver(uploaderUnchecked);
  if (profile.policy === 'remote') return new RemoteDriver(makeTransport({ requestValidation: 'off' }) as never);
  throw new Error(`${profile.policy}: chunks go to the provider, which the harness does not validate`);
}

/** Skips a test of chunk-level rules the target itself enforces (index, length, order, completion by chunk). */
export function skipUnlessTargetTakesChunks(profile: CapabilityProfile): void {
  uploadTest.skip(profile.chunkEndpoint === 'provider',
    `${profile.policy}: parts go to the provider, whose rules the emulator enforces; the policy's flow is checked by specs/upload/cloud.spec.ts`);
  uploadTest.skip(profile.singleChunk, `${profile.policy}: the whole file is one chunk; checked by specs/upload/cloud.spec.ts`);
}

/** A driver sending chunks as another identity (master endpoint) — the slave takes no user at all. */
export function driverAs(profile: CapabilityProfile, client: CloudreveClient, makeTransport: () => Transport): UploadDriver {
  if (profile.chunkEndpoint === 'master') return new LocalDriver(client);
  return new RemoteDriver(makeTransport() as never);
}

// ---------------------------------------------------------------------------------------------------------------
// State of a file

/** Whether the file at `uri` is still a pending upload: the placeholder (size 0) holding `sessionId`. */
export async function expectPlaceholder(client: CloudreveClient, uri: string, sessionId: string, what = 'the placeholder'): Promise<FileResponse> {
  const f = await info(client, uri);
  expect(f.size, `${what}: size while the upload is pending`).toBe(0);
  expect(f.metadata?.['sys:upload_session_id'], `${what}: holds the session`).toBe(sessionId);
  return f;
}

/** The finished file: declared size, no pending session. */
export async function expectFinished(client: CloudreveClient, uri: string, size: number, what = 'the file'): Promise<FileResponse> {
  const f = await info(client, uri);
  expect(f.metadata?.['sys:upload_session_id'], `${what}: no pending upload session left`).toBeUndefined();
  expect(f.size, `${what}: size`).toBe(size);
  expect(f.primary_entity, `${what}: has a current version`).toBeTruthy();
  return f;
}

export async function expectGone(client: CloudreveClient, uri: string, what = uri): Promise<void> {
  expectCode(await infoResult(client, uri), Code.ParentNotExist, { message: `${what} must not exist` });
}

// ---------------------------------------------------------------------------------------------------------------
// Readback

/** The download URL of a file (POST /file/url), pointed at the target when it names the master's own route. */
export async function downloadUrl(client: CloudreveClient, target: Target, uri: string): Promise<string> {
  const data = expectSuccess(await client.POST('/file/url', { body: { uris: [uri], download: true } }), `download URL of ${uri}`) as Schemas['FileUrlResponse'];
  expect(data.urls, `one download URL for ${uri}`).toHaveLength(1);
  const u = new URL(data.urls[0]!.url, target.url);
  // The master's own route is served at the configured siteURL, which need not be the address we reach it at.
  if (u.pathname.startsWith('/api/v4/file/content/')) {
    const t = new URL(target.url);
    u.protocol = t.protocol;
    u.host = t.host;
  }
  return u.toString();
}

/**
 * Downloads the file (streamed) and compares it byte for byte with the payload. A difference names its offset and,
 * when it can be located, where in the payload the bytes found there came from (a chunk stored at the wrong place).
 */
export async function expectContent(client: CloudreveClient, transport: Transport, target: Target, uri: string,
  payload: Payload, chunkSize: number = SUITE_CHUNK_SIZE): Promise<void> {
  const url = await downloadUrl(client, target, uri);
  const res = await transport(url);
  expect(res.status, `download of ${uri}`).toBe(200);
  const got = await compareReadback(payload, res.body ?? new ReadableStream(), chunkSize);
  let message = `readback of ${uri} (${payload.size} bytes, seed ${payload.seed}) matches`;
  if (got.mismatch) {
    const m = got.mismatch;
    const where = m.offset >= payload.size ? `${got.bytes} bytes came back, ${payload.size} expected`
      : `first difference at offset ${m.offset} (chunk ${chunkSize ? Math.floor(m.offset / chunkSize) : 0})`;
    const from = m.cameFrom === undefined ? (m.offset < got.bytes ? '; the bytes there are from nowhere in the payload (zeros or foreign data)' : '')
      : `; the bytes there came from payload offset ${m.cameFrom} (chunk ${chunkSize ? Math.floor(m.cameFrom / chunkSize) : 0})`;
    message = `readback of ${uri}: ${where}${from}`;
  }
  expect(got.mismatch, message).toBeUndefined();
  expect(got.bytes, `readback of ${uri}: length`).toBe(payload.size);
}

// ---------------------------------------------------------------------------------------------------------------
// Slave credentials (remote policy): HMAC-SHA256 with the node key over the signed request content, as the master
// makes them (pkg/auth/hmac.go, auth.go): base64url with padding, then ":" and the expiry (unix seconds).

export function hmacSign(secret: string, content: string, expires: number): string {
  const mac = createHmac('sha256', secret).update(`${content}:${expires}`).digest('base64url');
  return `${mac}${'='.repeat((4 - (mac.length % 4)) % 4)}:${expires}`;
}

/** The credential of a chunk request to `uploadUrl` (the body is never signed, nor are there X-Cr-* headers). */
export function slaveChunkCredential(secret: string, uploadUrl: string, expires: number): string {
  const content = JSON.stringify({ Path: new URL(uploadUrl).pathname, Header: '', Body: '' });
  return `Bearer Cr ${hmacSign(secret, content, expires)}`;
}

/** The credential of a POST without body or X-Cr-* headers to `path` (e.g. the slave's completion callback). */
export function slaveRequestCredential(secret: string, path: string, expires: number): string {
  return `Bearer Cr ${hmacSign(secret, JSON.stringify({ Path: path, Header: '', Body: '' }), expires)}`;
}

/** A signed slave URL (GET): `sign=<hmac of the path>:<expires>`. */
export function signSlaveUrl(secret: string, url: string, expires: number): string {
  const u = new URL(url);
  u.searchParams.set('sign', hmacSign(secret, u.pathname, expires));
  return u.toString();
}

// ---------------------------------------------------------------------------------------------------------------
// Misc

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Waits until the server's clock (to the second, as `expires` is) has passed `expires`. */
export async function waitPast(expires: number, marginMs = 1500): Promise<void> {
  const wait = expires * 1000 + marginMs - Date.now();
  if (wait > 0) await sleep(wait);
}

export function isCode(res: Result): number | undefined {
  return ((res.data ?? res.error) as { code?: number } | undefined)?.code;
}

/**
 * A chunk request to the slave built by hand (for what RemoteDriver cannot express: no `chunk` parameter at all),
 * through a transport that lets it through.
 */
export async function rawSlaveChunk(transport: Transport, session: UploadSession, query: string, body: Payload,
  credential: string | undefined = session.credential): Promise<ChunkAttempt> {
  const url = `${session.upload_urls![0]}${query}`;
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.size) };
  if (credential) headers.Authorization = credential;
  const res = await transport(new Request(url, { method: 'POST', headers, body: body.stream(), duplex: 'half' } as RequestInit));
  let parsed: { code?: number; msg?: string; correlation_id?: string } | undefined;
  try { parsed = await res.json() as typeof parsed; } catch { parsed = undefined; }
  return { index: -1, status: res.status, code: parsed?.code, msg: parsed?.msg, correlationId: parsed?.correlation_id };
}

/** Whether the target's version is at least `min` (e.g. '4.11.0'); for fields and routes marked x-since. */
export function versionAtLeast(target: Target, min: string): boolean {
  const parse = (v: string) => v.replace(/-pro$/, '').split('.').map((n) => Number.parseInt(n, 10) || 0);
  const a = parse(target.version);
  const b = parse(min);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

export function sinceReason(target: Target, what: string, since: string): string {
  return `${what} exists since ${since} (x-since); this target is ${target.version}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Stored bytes on a slave node (remote policy): the admin API names the blob of a pending upload, and the harness,
// holding the node key as the master does, asks the slave for it with a signed URL.

export interface StoredBlob { id: number; source: string; size: number }

/** The entity (blob) of the upload session `sessionId` in policy `policyId`, through the admin API. */
export async function blobOfSession(admin: CloudreveClient, policyId: number, sessionId: string): Promise<StoredBlob | undefined> {
  const data = expectSuccess(await admin.POST('/admin/entity', { body: { page: 1, page_size: 100, order_by: 'id', order_direction: 'desc',
    conditions: { entity_policy: String(policyId) } } }), `entities of policy ${policyId}`) as Schemas['AdminListResponseEntities'];
  const e = data.entities.find((x) => x.upload_session_id === sessionId);
  return e && e.source ? { id: e.id, source: e.source, size: e.size ?? 0 } : undefined;
}

/**
 * Whether the slave still serves the blob at `source` (a download URL signed with the node key, as the master makes
 * them: /api/v4/slave/file/content/<node>/<base64url(source)>/<speed>/<name>?sign=…).
 */
export async function slaveHasBlob(transport: Transport, slave: { url: string; secret: string }, source: string): Promise<boolean> {
  const src = Buffer.from(source, 'utf8').toString('base64').replaceAll('+', '-').replaceAll('/', '_');
  const url = signSlaveUrl(slave.secret, `${slave.url}/api/v4/slave/file/content/0/${src}/0/blob.bin`, nowSeconds() + 300);
  const res = await transport(url);
  if (res.status === 200) {
    const type = res.headers.get('content-type') ?? '';
    if (!type.includes('json')) { await res.body?.cancel(); return true; }
    const body = await res.json() as { code?: number };
    throw new Error(`the slave refused the signed blob URL: code ${body.code} (${codeName[body.code ?? -1] ?? '?'})`);
  }
  const body = await res.json().catch(() => undefined) as { code?: number } | undefined;
  if (res.status === 400 && body?.code === Code.ParentNotExist) return false;
  throw new Error(`unexpected answer from the slave for a blob: HTTP ${res.status}, code ${body?.code}`);
}

/**
 * Runs `fn` with upload_session_timeout shortened to `ttl` seconds through the admin guard, putting the old value back
 * afterwards. The setting is site-wide: tests that use it run serially within their project.
 */
export async function withTtl<T>(adminSettings: AdminGuard, ttl: number, fn: () => Promise<T>): Promise<T> {
  const original = (await adminSettings.getSettings(['upload_session_timeout'])).upload_session_timeout ?? '86400';
  await adminSettings.setSettings({ upload_session_timeout: String(ttl) });
  try {
    return await fn();
  } finally {
    await adminSettings.setSettings({ upload_session_timeout: original });
  }
}

/** Waits (bounded) until `check` holds: for effects the server applies asynchronously (blob recycling). */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(250);
  }
}
