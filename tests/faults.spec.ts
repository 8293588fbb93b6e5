// FAULTS: the fault profiles of the reference target (reference/faults/) that `npm run mutants` runs the suite
// against. The registry covers every requirement area with at least 30 distinct, documented profiles, each naming
// spec files and projects that exist; an unknown fault name is refused; and every profile really switches its defect
// on: one probe per profile, run against the reference with that fault and against a clean one, sees the defect on
// the first only.
import { POLICY_TYPES } from '../harness/config.js';
import { startS3FamilyWorld, type S3FamilyWorld } from '../harness/upload/worlds/s3.js';
import { S3Emulator } from '../harness/cloud/s3.js';
import { test, expect } from '@playwright/test';
import { existsSync } from 'node:fs';
import { startReference, type ReferenceTarget } from '../reference/index.js';
import { FAULT_AREAS, FAULTS, checkedFaults, type FaultId } from '../reference/faults/index.js';
import { TestApi as Api, q, type Json } from '../reference/testing.js';
import { Code } from '../contracts/generated/error-codes.js';

const CHUNK = 1024;
const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.describe('FAULTS registry', () => {
  test('FAULTS-001 at least 30 profiles, every requirement area covered, ids unique and kebab-case', () => {
    expect(FAULTS.length).toBeGreaterThanOrEqual(30);
    const ids = FAULTS.map((f) => f.id);
    expect(new Set(ids).size, 'unique ids').toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)+$/);
    const covered = new Set(FAULTS.map((f) => f.area));
    expect(FAULT_AREAS.filter((a) => !covered.has(a)), 'areas without a profile').toEqual([]);
  });

  test('FAULTS-002 each profile is documented and names existing spec files, known projects and requirement ids', () => {
    // The Playwright projects there are: contract, and one upload project per storage policy flow.
    const projects = new Set(['contract', ...POLICY_TYPES.map((p) => `upload-${p}`)]);
    for (const f of FAULTS) {
      expect(f.description.length, `${f.id}: description`).toBeGreaterThan(20);
      expect(f.specs.length, `${f.id}: specs`).toBeGreaterThan(0);
      for (const s of f.specs) expect(existsSync(`specs/${s}`), `${f.id}: specs/${s} exists`).toBe(true);
      for (const p of f.projects) expect(projects.has(p), `${f.id}: project ${p}`).toBe(true);
      // Every spec file runs in at least one listed project.
      for (const s of f.specs) {
        const kind = s.startsWith('contract/') ? 'contract' : 'upload-';
        expect(f.projects.some((p) => p.startsWith(kind)), `${f.id}: a project for ${s}`).toBe(true);
      }
      expect(f.catches.length, `${f.id}: catches`).toBeGreaterThan(0);
      for (const id of f.catches) expect(id, `${f.id}: requirement id`).toMatch(/^[A-Z0-9]+(-[A-Z0-9]+)*-\d{3}$/);
    }
  });

  test('FAULTS-003 an unknown fault name is refused, by the registry and by startReference', async () => {
    expect(() => checkedFaults(['chunk-length-unchecked'])).not.toThrow();
    expect(() => checkedFaults(['no-such-fault'])).toThrow(/unknown fault profile\(s\): no-such-fault/);
    await expect(startReference({ faults: ['chunk-length-unchecke'], createIdentities: false })).rejects.toThrow(/unknown fault/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Probes: one direct look at each defect.

interface World {
  t: ReferenceTarget;
  /** The S3 emulator the users' policy points at (probes with `cloud`). */
  s3?: S3FamilyWorld<S3Emulator>;
  admin: Api;
  user: Api;
  user2: Api;
  /** A fresh uri in the user's space. */
  uri(name: string): string;
}

/** A probe answers whether the defect shows; `remote` puts the users' group on a remote policy (the slave) first. */
interface Probe { remote?: boolean; cloud?: boolean; run(w: World): Promise<boolean> }

let counter = 0;

async function world(faults: string[], remote: boolean, cloud = false): Promise<World> {
  const t = await startReference({ faults });
  const admin = await new Api(t.url).login(t.identities.admin.email, t.identities.admin.password);
  const user = await new Api(t.url).login(t.identities.user.email, t.identities.user.password);
  const user2 = await new Api(t.url).login(t.identities.user2.email, t.identities.user2.password);
  if (remote) {
    const node = await admin.ok('PUT', '/admin/node', { node: { name: 'slave', type: 'slave', status: 'active',
      server: t.slave.url, slave_key: t.slave.secret, capabilities: 'AA==', settings: {}, weight: 1 } });
    const policy = await admin.ok('PUT', '/admin/policy', { policy: { name: 'remote', type: 'remote', node_id: node.id,
      is_private: true, max_size: 0, dir_name_rule: 'uploads/{uid}/{path}', file_name_rule: '{uid}_{randomkey8}_{originname}',
      settings: { chunk_size: CHUNK, pre_allocate: true } } });
    const { total_users: _t, ...group } = await admin.ok('GET', '/admin/group/2');
    await admin.ok('PUT', '/admin/group/2', { group: { ...group, edges: { storage_policies: { id: policy.id } } } });
  } else if (cloud) {
    // An S3 policy on the S3 emulator (64 KiB parts), as the suite's upload-s3 project makes it.
    const s3 = await startS3FamilyWorld('s3', { targetUrl: t.url, runTag: `probe-${++counter}` }, (o) => new S3Emulator(o));
    const f = s3.policyFields;
    const policy = await admin.ok('PUT', '/admin/policy', { policy: { name: 's3', type: 's3', server: f.server, bucket_name: f.bucket_name,
      access_key: f.access_key, secret_key: f.secret_key, is_private: true, max_size: 0, dir_name_rule: 'uploads/{uid}/{path}',
      file_name_rule: '{uid}_{randomkey8}_{originname}', settings: { ...f.settings, chunk_size: s3.chunkSize } } });
    const { total_users: _t, ...group } = await admin.ok('GET', '/admin/group/2');
    await admin.ok('PUT', '/admin/group/2', { group: { ...group, edges: { storage_policies: { id: policy.id } } } });
    const w = { t, admin, user, user2, s3, uri: (name: string) => `cloudreve://my/probe/${++counter}-${name}` };
    return w;
  } else {
    const policy = await admin.ok('GET', '/admin/policy/1');
    await admin.ok('PUT', '/admin/policy/1', { policy: { ...policy, settings: { ...policy.settings, chunk_size: CHUNK } } });
  }
  return { t, admin, user, user2, uri: (name) => `cloudreve://my/probe/${++counter}-${name}` };
}

async function session(api: Api, uri: string, size: number, extra: Record<string, unknown> = {}): Promise<Json> {
  return api.json('PUT', '/file/upload', { uri, size, ...extra }, true);
}

async function open(api: Api, uri: string, size: number, extra: Record<string, unknown> = {}): Promise<any> {
  const r = await session(api, uri, size, extra);
  if (r.code !== 0) throw new Error(`PUT /file/upload ${uri}: ${r.code} ${r.msg}`);
  return r.data;
}

/** A file's info, or undefined when the path does not resolve. */
async function infoOf(api: Api, uri: string): Promise<any> {
  const r = await api.json('GET', `/file/info?uri=${q(uri)}`);
  return r.code === 0 ? r.data : undefined;
}

const finished = async (api: Api, uri: string) => !(await infoOf(api, uri))?.metadata?.['sys:upload_session_id'];
const used = async (api: Api) => Number((await api.ok('GET', '/user/capacity')).used);

/** A request outside the JSON client: the status and the parsed body. */
async function raw(w: World, method: string, path: string, init: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${w.t.url}/api/v4${path}`, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  return { status: res.status, body: await res.json() as Json & Record<string, unknown> };
}

/** A chunk to the slave's upload URL of a remote session. */
async function slaveChunk(s: { upload_urls: string[] }, index: number, body: Uint8Array, authorization?: string): Promise<Json> {
  const url = new URL(s.upload_urls[0]!);
  url.searchParams.set('chunk', String(index));
  const res = await fetch(url, { method: 'POST', body,
    headers: { 'content-type': 'application/octet-stream', ...(authorization ? { authorization } : {}) } });
  return res.json() as Promise<Json>;
}

async function shortTtl(w: World): Promise<void> {
  await w.admin.ok('PATCH', '/admin/settings', { settings: { upload_session_timeout: '1' } });
}

/** A chunk whose body arrives after `delayMs` (X-Expected-Entity-Length declares it). */
function lateChunk(w: World, sid: string, index: number, body: Buffer, delayMs: number): Promise<Json> {
  const stream = new ReadableStream<Uint8Array>({ async start(c) { await sleep(delayMs); c.enqueue(body); c.close(); } });
  return w.user.chunk(sid, index, stream, { 'X-Expected-Entity-Length': String(body.length) });
}

/** An S3 session's parts PUT to their presigned URLs and the multipart upload completed at the emulator (no callback). */
async function s3Parts(s: { upload_urls: string[]; completeURL: string }, data: Buffer, chunk: number, parts = s.upload_urls.length): Promise<void> {
  const etags: string[] = [];
  for (let i = 0; i < parts; i++) {
    const res = await fetch(s.upload_urls[i]!, { method: 'PUT', body: data.subarray(i * chunk, (i + 1) * chunk) });
    if (res.status !== 200) throw new Error(`part ${i + 1}: HTTP ${res.status} ${await res.text()}`);
    etags.push(res.headers.get('etag')!);
  }
  const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const res = await fetch(s.completeURL, { method: 'POST', body: xml });
  if (res.status !== 200) throw new Error(`complete: HTTP ${res.status} ${await res.text()}`);
}

const PROBES: Record<FaultId, Probe> = {
  'cloud-callback-unverified': { cloud: true, run: async (w) => {
    // A callback before anything reached the provider completes the upload.
    const uri = w.uri('early.bin');
    const s = await open(w.user, uri, 100);
    const r = await raw(w, 'GET', `/callback/s3/${s.session_id}/${s.callback_secret}`);
    return r.body.code === 0 && await finished(w.user, uri);
  } },
  'cloud-cancel-skips-provider': { cloud: true, run: async (w) => {
    const uri = w.uri('cancel.bin');
    const s = await open(w.user, uri, 100);
    await w.user.ok('DELETE', '/file/upload', { id: s.session_id, uri });
    return w.s3!.uploadOpen(s) === true;
  } },
  'cloud-callback-type-unchecked': { cloud: true, run: async (w) => {
    // The cos route, for an s3 session whose object is complete at the provider: completes instead of 40006.
    const uri = w.uri('type.bin');
    const data = bytes(100);
    const s = await open(w.user, uri, data.length);
    await s3Parts(s, data, Number(s.chunk_size) || data.length);
    const r = await raw(w, 'GET', `/callback/cos/${s.session_id}/${s.callback_secret}`);
    return r.body.code === 0;
  } },
  'create-chunk-size-mismatch': { run: async (w) => (await open(w.user, w.uri('a.bin'), 2500)).chunk_size !== CHUNK },
  'create-quota-not-charged': { run: async (w) => {
    const before = await used(w.user);
    await open(w.user, w.uri('a.bin'), 2500);
    return await used(w.user) - before !== 2500;
  } },
  'create-quota-unchecked': { run: async (w) => {
    const cap = await w.user.ok('GET', '/user/capacity');
    return (await session(w.user, w.uri('huge.bin'), cap.total - cap.used + 1)).code === 0;
  } },
  'create-existing-overwritten': { run: async (w) => {
    const uri = w.uri('exists.txt');
    await w.user.content(uri, bytes(5));
    return (await session(w.user, uri, 10)).code === 0;
  } },
  'remote-upload-url-missing': { remote: true, run: async (w) => (await open(w.user, w.uri('a.bin'), 2500)).upload_urls?.length !== 1 },
  'chunk-length-unchecked': { run: async (w) => {
    const s = await open(w.user, w.uri('a.bin'), 2500);
    return (await w.user.chunk(s.session_id, 0, bytes(1000))).code === 0;
  } },
  'chunk-index-unchecked': { run: async (w) => {
    const s = await open(w.user, w.uri('a.bin'), 2048);
    return (await w.user.chunk(s.session_id, 2, bytes(CHUNK))).code === 0;
  } },
  'chunk-index-lenient': { run: async (w) => {
    const s = await open(w.user, w.uri('a.bin'), 2500);
    return (await w.user.chunk(s.session_id, 'abc', bytes(CHUNK))).code === 0;
  } },
  'chunk-wrong-offset': { run: async (w) => {
    const uri = w.uri('a.bin');
    const s = await open(w.user, uri, 2 * CHUNK);
    await w.user.chunk(s.session_id, 0, bytes(CHUNK, 1));
    await w.user.chunk(s.session_id, 1, bytes(CHUNK, 2));
    return !(await w.user.download(uri)).equals(Buffer.concat([bytes(CHUNK, 1), bytes(CHUNK, 2)]));
  } },
  'expiry-never': { run: async (w) => {
    await shortTtl(w);
    const s = await open(w.user, w.uri('a.bin'), 2 * CHUNK);
    await sleep((s.expires + 1) * 1000 - Date.now() + 50);
    return (await w.user.chunk(s.session_id, 0, bytes(CHUNK))).code === 0;
  } },
  'expiry-immediate': { run: async (w) => (await open(w.user, w.uri('a.bin'), 10)).expires <= Date.now() / 1000 },
  'expiry-wrong-code': { run: async (w) => {
    await shortTtl(w);
    const s = await open(w.user, w.uri('a.bin'), 2 * CHUNK);
    await sleep((s.expires + 1) * 1000 - Date.now() + 50);
    return (await w.user.chunk(s.session_id, 0, bytes(CHUNK))).code !== Code.UploadSessionExpired;
  } },
  'expiry-ms': { run: async (w) => (await open(w.user, w.uri('a.bin'), 10)).expires > 1e11 },
  'finish-on-highest-index': { run: async (w) => {
    const uri = w.uri('a.bin');
    const s = await open(w.user, uri, 2 * CHUNK);
    await w.user.chunk(s.session_id, 1, bytes(CHUNK));
    return finished(w.user, uri);
  } },
  'finish-session-kept': { run: async (w) => {
    const s = await open(w.user, w.uri('a.bin'), CHUNK);
    await w.user.chunk(s.session_id, 0, bytes(CHUNK));
    return (await w.user.chunk(s.session_id, 0, bytes(CHUNK, 9))).code === 0;
  } },
  'finish-metadata-dropped': { run: async (w) => {
    const uri = w.uri('a.bin');
    const s = await open(w.user, uri, 10, { metadata: { 'customize:icon_color': '#ff5722' } });
    await w.user.chunk(s.session_id, 0, bytes(10));
    return (await infoOf(w.user, uri))?.metadata?.['customize:icon_color'] !== '#ff5722';
  } },
  'cancel-keeps-placeholder': { run: async (w) => {
    const uri = w.uri('a.bin');
    const s = await open(w.user, uri, 2500);
    await w.user.ok('DELETE', '/file/upload', { id: s.session_id, uri });
    return (await infoOf(w.user, uri)) !== undefined;
  } },
  'cancel-keeps-quota': { run: async (w) => {
    const uri = w.uri('a.bin');
    const before = await used(w.user);
    const s = await open(w.user, uri, 2500);
    await w.user.ok('DELETE', '/file/upload', { id: s.session_id, uri });
    return await used(w.user) !== before;
  } },
  'cancel-skips-slave': { remote: true, run: async (w) => {
    const uri = w.uri('a.bin');
    const s = await open(w.user, uri, 2 * CHUNK);
    await w.user.ok('DELETE', '/file/upload', { id: s.session_id, uri });
    return (await slaveChunk(s, 0, bytes(CHUNK), s.credential)).code === 0;
  } },
  'content-stale-previous-accepted': { run: async (w) => {
    const uri = w.uri('a.txt');
    const v1 = (await w.user.content(uri, bytes(5, 1))).data.primary_entity;
    await w.user.content(uri, bytes(6, 2), v1);
    return (await w.user.content(uri, bytes(7, 3), v1)).code === 0;
  } },
  'content-ignores-upload-lock': { run: async (w) => {
    const uri = w.uri('a.bin');
    await open(w.user, uri, 2500);
    return (await w.user.content(uri, bytes(10))).code === 0;
  } },
  'rejected-chunk-counted': { run: async (w) => {
    const uri = w.uri('a.bin');
    const s = await open(w.user, uri, CHUNK);
    await w.user.chunk(s.session_id, 0, bytes(10));
    await w.user.chunk(s.session_id, 0, bytes(CHUNK));
    return !(await finished(w.user, uri));
  } },
  'rejected-chunk-written': { run: async (w) => {
    const uri = w.uri('a.bin');
    const s = await open(w.user, uri, CHUNK + 10);
    await w.user.chunk(s.session_id, 1, bytes(11, 5));
    await w.user.chunk(s.session_id, 0, bytes(CHUNK));
    await w.user.chunk(s.session_id, 1, bytes(10));
    return (await w.user.download(uri)).length !== CHUNK + 10;
  } },
  'chunk-received-lost-update': { run: async (w) => {
    const uri = w.uri('a.bin');
    const s = await open(w.user, uri, 3 * CHUNK);
    // The bodies arrive late: every request has read the received set before any has written.
    await Promise.all([0, 1, 2].map((i) => lateChunk(w, s.session_id, i, bytes(CHUNK, i), 300)));
    return !(await finished(w.user, uri));
  } },
  'chunk-owner-unchecked': { run: async (w) => {
    const s = await open(w.user, w.uri('a.bin'), 2500);
    return (await w.user2.chunk(s.session_id, 0, bytes(CHUNK))).code === 0;
  } },
  'slave-credential-unchecked': { remote: true, run: async (w) => {
    const s = await open(w.user, w.uri('a.bin'), 2 * CHUNK);
    return (await slaveChunk(s, 0, bytes(CHUNK))).code === 0;
  } },
  'callback-secret-unchecked': { run: async (w) => {
    const s = await open(w.user, w.uri('a.bin'), 10);
    const wrong = [...s.callback_secret].reverse().join('');
    return (await raw(w, 'POST', `/callback/remote/${s.session_id}/${wrong}`)).body.code !== Code.CredentialInvalid;
  } },
  'callback-signature-unchecked': { remote: true, run: async (w) => {
    const s = await open(w.user, w.uri('a.bin'), 10);
    return (await raw(w, 'POST', `/callback/remote/${s.session_id}/${s.callback_secret}`)).body.code === 0;
  } },
  'callback-replay-accepted': { remote: true, run: async (w) => {
    const uri = w.uri('a.bin');
    const s = await open(w.user, uri, 10);
    // The slave calls the master back when the last chunk arrives; then the same callback once more.
    await slaveChunk(s, 0, bytes(10), s.credential);
    if (!(await finished(w.user, uri))) throw new Error('the upload did not finish');
    return (await raw(w, 'POST', `/callback/remote/${s.session_id}/${s.callback_secret}`)).body.code === 0;
  } },
  'uri-dotdot-escapes': { run: async (w) => {
    const name = `escape-${++counter}.bin`;
    const r = await session(w.user, `cloudreve://my/../../${name}`, 10);
    const adminRoot = await w.admin.ok('GET', `/file?uri=${q('cloudreve://my')}`);
    return r.code === 0 && (adminRoot.files ?? []).some((f: { name: string }) => f.name === name);
  } },
  'uri-owner-unchecked': { run: async (w) => {
    const me = await w.user.ok('GET', '/user/me');
    return (await w.user2.json('GET', `/file?uri=${q(`cloudreve://${me.id}@my`)}`)).code === 0;
  } },
  'secret-echoed-in-error': { run: async (w) => {
    const s = await open(w.user, w.uri('a.bin'), 10);
    const wrong = [...s.callback_secret].reverse().join('');
    return String((await raw(w, 'POST', `/callback/remote/${s.session_id}/${wrong}`)).body.msg).includes(s.callback_secret);
  } },
  'envelope-no-msg': { run: async (w) => !('msg' in (await raw(w, 'GET', '/site/ping')).body) },
  'data-wrong-type': { run: async (w) => typeof (await raw(w, 'GET', '/user/capacity', { token: w.user.token })).body.data?.used === 'string' },
  'callback-status-200': { run: async (w) => (await raw(w, 'POST', `/callback/remote/${crypto.randomUUID()}/key`)).status === 200 },
  'wrong-password-accepted': { run: async (w) => (await raw(w, 'POST', '/session/token',
    { body: { email: w.t.identities.user.email, password: 'wrong-password-123' } })).body.code === 0 },
  'refresh-token-as-access': { run: async (w) => (await raw(w, 'GET', '/user/me', { token: w.user.refreshToken })).body.code === 0 },
  'signout-keeps-refresh': { run: async (w) => {
    const login = await new Api(w.t.url).login(w.t.identities.user2.email, w.t.identities.user2.password);
    await raw(w, 'DELETE', '/session/token', { body: { refresh_token: login.refreshToken } });
    return (await raw(w, 'POST', '/session/token/refresh', { body: { refresh_token: login.refreshToken } })).body.code === 0;
  } },
  'listing-wrong-size': { run: async (w) => {
    const uri = w.uri('three.txt');
    await w.user.content(uri, bytes(3));
    const list = await w.user.ok('GET', `/file?uri=${q('cloudreve://my/probe')}`);
    return list.files.find((f: { path: string }) => f.path === uri)?.size !== 3;
  } },
  'hard-delete-keeps-quota': { run: async (w) => {
    const uri = w.uri('gone.bin');
    await w.user.content(uri, bytes(777));
    const before = await used(w.user);
    await w.user.ok('DELETE', '/file', { uris: [uri], skip_soft_delete: true });
    return await used(w.user) !== before - 777;
  } },
};

test.describe('FAULTS probes', () => {
  test('FAULTS-004 every profile has a probe', () => {
    expect(Object.keys(PROBES).sort()).toEqual(FAULTS.map((f) => f.id).sort());
  });

  for (const f of FAULTS) {
    test(`FAULTS-005 ${f.id}: the defect shows with the fault on, not without it`, async () => {
      const probe = PROBES[f.id as FaultId];
      const faulty = await world([f.id], !!probe.remote, !!probe.cloud);
      const clean = await world([], !!probe.remote, !!probe.cloud);
      try {
        expect(await probe.run(clean), `${f.id}: the probe on the clean reference`).toBe(false);
        expect(await probe.run(faulty), `${f.id}: the probe on the reference with the fault (${f.description})`).toBe(true);
      } finally {
        await faulty.t.close();
        await clean.t.close();
        await faulty.s3?.close();
        await clean.s3?.close();
      }
    });
  }
});
