// Replays the remote-policy traffic recorded from a real Cloudreve 4.18.0 master and slave
// (fixtures/transcripts/cloudreve-4.18.0-policies/: setup, remote, remote_errors, remote_cancel, remote_expiry) against
// the reference target and its slave node, as a client would: the slave node is registered through the admin API,
// ids, tokens, session ids, credentials and callback secrets come from the target's own answers, the deliberately
// broken credentials of the recording are re-made with the target's slave secret, byte bodies are random data of the
// recorded length. Each answer is compared with the recorded one (HTTP status, code, msg, envelope keys, shape and
// stable values of `data`), downloads with what was uploaded, the "slave disk" notes with the slave's storage.
//
// Where the recorded real slave is weak, the reference answers as the contract says instead: DIFFERENCES lists those
// steps with what is expected there. Used by tests/reference-remote.spec.ts.
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Code } from '../../contracts/generated/error-codes.js';
import { compareEnvelope, type Fetch, isBytes, type Line, loadTranscript, readDownload, readJson, streamOf,
  TranscriptReplayer, waitExpired } from '../replay-core.js';
import { requestCredential } from './hmac.js';

export const REMOTE_SCENARIOS = ['setup', 'remote', 'remote_errors', 'remote_cancel', 'remote_expiry'];

const DIR = new URL('../../fixtures/transcripts/cloudreve-4.18.0-policies/', import.meta.url);
const REC_SLAVE = 'http://127.0.0.1:5213';

type Envelope = { code: number; msg: string; data?: any; correlation_id?: string };

/**
 * Steps where the reference follows the contract, not the recorded 4.18.0 slave: what it answers there instead
 * (HTTP status 200 unless said), or a check of its answer.
 */
export const DIFFERENCES: Record<string, { code?: number; why: string; check?: (live: Envelope) => string | undefined }> = {
  'remote_errors / right key, expires=0 (never)': { code: Code.SignExpired,
    why: 'expiry 0 is an expired credential (the real slave takes it as "never expires": 0)' },
  'remote_errors / credential without "Bearer Cr " prefix': { code: Code.InvalidSign,
    why: 'the `Bearer Cr ` prefix is required (the real slave accepts a bare signature: 0)' },
  'remote_errors / index 3 (= chunk count), 1024 bytes': { code: Code.InvalidChunkIndex,
    why: 'an index past the end is 40012 (the real slave: 40013 with a negative expected length)' },
  'remote_errors / index 3 (= chunk count), empty body': { code: Code.InvalidChunkIndex,
    why: 'an index past the end is 40012 (the real slave: 40013 with a negative expected length)' },
  'remote_errors / index 99, empty body': { code: Code.InvalidChunkIndex,
    why: 'an index past the end is 40012 (the real slave: 40013 with a negative expected length)' },
  'remote_errors / index -1, 1024 bytes': { code: Code.ParamErr, why: 'a negative index is 40001 (the real slave: 50004)' },
  'remote_errors / index abc (-> 0?), chunk 0 bytes': { code: Code.ParamErr,
    why: 'a non-integer index is 40001 (the real slave silently takes it as 0)' },
  'remote_errors / no chunk parameter (-> 0?), chunk 0 bytes': { code: Code.ParamErr,
    why: 'a missing index is 40001 (the real slave silently takes it as 0)' },
  'remote_errors / index 2 (= chunk count), empty body': { code: Code.InvalidChunkIndex,
    why: 'an empty body at index size/chunk_size is out of range, never a completion (the real slave completes the upload with chunk 1 missing)' },
  'remote_errors / info: completed with chunk 1 missing?': { why: 'the upload is still pending: chunk 1 is missing',
    check: (live) => (live.code === 0 && live.data?.size === 0 && typeof live.data?.metadata?.['sys:upload_session_id'] === 'string'
      ? undefined : `not a pending placeholder: ${JSON.stringify(live).slice(0, 200)}`) },
  'remote_errors / chunk 1': { code: 0, why: 'the missing chunk completes the upload (the real slave: 40011, already completed)' },
  'remote_errors / multiple: sha256': { why: 'the download is byte-identical to the upload (the real one is not: a chunk was never written)' },
  'remote_expiry / slave disk after DELETE of the expired session': {
    why: 'cancelling an expired remote session removes its partial file from the slave (the real 4.18.0 leaves it)' },
};

export interface RemoteReplayResult {
  compared: number;
  notesChecked: number;
  skipped: { step: string; reason: string }[];
  /** Steps of DIFFERENCES met and answered as the contract says. */
  differences: string[];
  mismatches: string[];
}

export interface ReplayTarget { url: string; slave: { url: string; secret: string }; slaveDir: string }

export function loadRemoteScenario(name: string): Line[] {
  return loadTranscript(DIR, name);
}

export async function replayRemote(target: ReplayTarget, send: Fetch): Promise<RemoteReplayResult> {
  const r = new RemoteReplayer(target, send);
  await r.registerAdmin();
  for (const s of REMOTE_SCENARIOS) await r.scenario(s);
  return r.result;
}

interface Session { live: string; credential: string; secret: string; uri: string; chunk: number; data: Buffer; expires: number }

class RemoteReplayer extends TranscriptReplayer {
  override readonly result: RemoteReplayResult = { compared: 0, notesChecked: 0, skipped: [], differences: [], mismatches: [] };
  private readonly passwords = new Map<string, string>();
  private readonly tokens = new Map<string, string>();
  /** Recorded admin ids (numbers) of groups, users, nodes and policies → the target's. */
  private readonly adminIds = { group: new Map<number, number>(), user: new Map<number, number>(), node: new Map<number, number>(),
    policy: new Map<number, number>() };
  /** Recorded session id → the live session. */
  private readonly sessions = new Map<string, Session>();
  private readonly content = new Map<string, Buffer>();
  private lastUrl?: { url: string; uri: string };
  private lastDownloadOk = false;
  private lastExpires?: { expires: number; credential: string };

  constructor(private readonly t: ReplayTarget, private readonly send: Fetch) {
    super();
  }

  /** The recording's admin (user A) is the first user registered on the target, with the recorded email. */
  async registerAdmin(): Promise<void> {
    const login = loadRemoteScenario('setup').find((l) => l.step === 'login A')!;
    const email = (login.request!.body as { email: string }).email;
    const res = await this.send(`${this.t.url}/api/v4/user`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: this.password(email), language: 'en-US' }) });
    const body = await res.json() as Envelope;
    if (body.code !== 0) throw new Error(`registering ${email}: ${body.code} ${body.msg}`);
  }

  private password(email: string): string {
    let pw = this.passwords.get(email);
    if (!pw) this.passwords.set(email, (pw = randomBytes(12).toString('base64url')));
    return pw;
  }

  protected override load(name: string): Line[] {
    return loadRemoteScenario(name);
  }

  /** Requests the recording sent to the S3 server are not Cloudreve's. */
  protected override skip(line: Line): boolean {
    const path = line.request!.path;
    if (!/^https?:\/\//.test(path) || path.startsWith(REC_SLAVE)) return false;
    this.result.skipped.push({ step: `${line.scenario} / ${line.step}`, reason: 'addressed to the S3 server, not to Cloudreve' });
    return true;
  }

  // ---- notes ----

  protected override checkNote(line: Line): void {
    const n = line.note!;
    const key = `${line.scenario} / ${line.step}`;
    if (/^slave disk/.test(line.step)) {
      let want = (n.files as { path: string; size: number }[]).map((f) => diskKey(f.path, f.size)).sort();
      if (DIFFERENCES[key]) {
        // The expired session's partial file is gone.
        want = want.filter((k) => !k.startsWith('remote_expiry/'));
        this.result.differences.push(key);
      }
      const live = listFiles(this.t.slaveDir).map((f) => diskKey(f.path, f.size)).sort();
      if (JSON.stringify(live) !== JSON.stringify(want)) this.fail(line, `slave disk ${JSON.stringify(live)}, expected ${JSON.stringify(want)}`);
      this.result.notesChecked++;
    } else if (line.step === 'session shape') {
      const s = [...this.sessions.values()].at(-1)!;
      const m = /^Bearer Cr [A-Za-z0-9_-]{43}=:(\d+)$/.exec(s.credential);
      if (!m || Number(m[1]) !== s.expires) this.fail(line, `credential ${s.credential} is not "Bearer Cr <b64url 44>:<expires>"`);
      if (Math.abs(s.expires - Math.floor(Date.now() / 1000) - n.expires_in_s) > 2) this.fail(line, `expires is not now + ${n.expires_in_s}`);
      if (s.chunk !== n.chunk_size) this.fail(line, `chunk_size ${s.chunk}, recorded ${n.chunk_size}`);
      this.result.notesChecked++;
    } else if (typeof n.ttl_s === 'number') {
      const e = this.lastExpires;
      if (!e || Math.abs(e.expires - Math.floor(Date.now() / 1000) - n.ttl_s) > 1) this.fail(line, `expires is not now + ${n.ttl_s}`);
      if (!e || !e.credential.endsWith(`:${e.expires}`)) this.fail(line, 'the credential does not expire with the session');
      this.result.notesChecked++;
    } else if (/sha256$/.test(line.step)) {
      if (!this.lastDownloadOk) this.fail(line, 'the download did not give the uploaded bytes back');
      if (DIFFERENCES[key]) this.result.differences.push(key);
      this.result.notesChecked++;
    }
    // "master log" notes describe the real server's log; what they show is checked through the answers.
  }

  // ---- exchanges ----

  protected override async exchange(line: Line): Promise<void> {
    const rec = line.response!;
    const { url, init, sent, session } = await this.build(line);
    if (/after expiry/.test(line.step) && session) await waitExpired(session.expires);

    const res = await this.send(url, init);
    this.result.compared++;
    const key = `${line.scenario} / ${line.step}`;
    const diff = DIFFERENCES[key];
    const fail = (what: string) => this.fail(line, what);
    const recordedStatus = () => {
      if (res.status !== rec.status) fail(`HTTP ${res.status}, recorded ${rec.status}`);
    };

    if (isBytes(rec.body)) {
      recordedStatus();
      const body = await readDownload(res, rec, fail);
      const want = this.lastUrl && this.content.get(this.lastUrl.uri);
      this.lastDownloadOk = !!want && want.equals(body);
      if (!this.lastDownloadOk) fail('downloaded bytes differ from the uploaded ones');
      return;
    }

    const parsed = await readJson(res, fail);
    if (!parsed) return;
    const live = parsed.json as Envelope;
    if (diff) {
      const what = diff.check ? diff.check(live) : live.code === diff.code ? undefined
        : `code ${live.code} "${live.msg}", the contract wants ${diff.code} (${diff.why})`;
      if (res.status !== 200) fail(`HTTP ${res.status}, the contract wants 200`);
      if (what) fail(what);
      else this.result.differences.push(key);
    } else {
      const recorded = rec.body as Envelope;
      recordedStatus();
      compareEnvelope(recorded, live, this.localize(recorded.data), fail);
    }
    if (live.code === 0) this.learn(line, rec.body as Envelope, live, sent, session);
  }

  /** Recorded data with the admin ids that are compared as values (a group's storage_policy_id) made live. */
  private localize(data: unknown): unknown {
    const out = structuredClone(data);
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (typeof o.storage_policy_id === 'number') o.storage_policy_id = this.adminIds.policy.get(o.storage_policy_id) ?? o.storage_policy_id;
        Object.values(o).forEach(walk);
      }
    };
    walk(out);
    return out;
  }

  private liveSession(recorded: string): Session | undefined {
    return this.sessions.get(recorded);
  }

  /** The live request for a recorded one. */
  private async build(line: Line): Promise<{ url: string; init: RequestInit; sent?: Buffer; session?: Session }> {
    const req = line.request!;
    let path = req.path;
    let session: Session | undefined;
    let url: string;
    const sid = (rec: string) => {
      const s = this.liveSession(rec);
      if (s) session = s;
      return s?.live ?? rec;
    };
    if (path.includes('/api/v4/slave/file/content/')) {
      url = this.lastUrl?.url ?? '';
    } else {
      path = path.replace(/\/api\/v4\/slave\/upload\/([0-9a-f-]{36})/, (_m, id: string) => `/api/v4/slave/upload/${sid(id)}`);
      path = path.replace(/\/api\/v4\/file\/upload\/([^/]+)\//, (_m, id: string) => `/api/v4/file/upload/${sid(id)}/`);
      path = path.replace(/\/api\/v4\/callback\/([a-z0-9]+)\/([^/]+)\/([^/?]+)/, (_m, type: string, id: string, key: string) => {
        const live = sid(id);
        return `/api/v4/callback/${type}/${live}/${key === '<secret>' ? session?.secret ?? key : key}`;
      });
      path = path.replace(/\/api\/v4\/admin\/(group|policy|node|user)\/(\d+)/, (_m, kind: keyof RemoteReplayer['adminIds'], id: string) =>
        `/api/v4/admin/${kind}/${this.adminIds[kind].get(Number(id)) ?? id}`);
      url = path.startsWith(REC_SLAVE) ? this.t.slave.url + path.slice(REC_SLAVE.length) : this.t.url + path;
    }

    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (['content-length', 'transfer-encoding'].includes(k)) continue;
      headers.set(k, k === 'authorization' ? this.authorization(v, new URL(url).pathname, session) : v);
    }
    // The recorder kept X-Cr-Filename out of the headers it wrote down; the step is about sending it.
    if (/X-Cr-Filename/.test(line.step)) headers.set('X-Cr-Filename', 'errors.bin');

    let body: RequestInit['body'];
    let sent: Buffer | undefined;
    const chunked = req.headers['transfer-encoding'] === 'chunked';
    if (isBytes(req.body)) {
      sent = randomBytes(req.body.bytes);
      body = chunked ? streamOf(sent) : sent;
    } else if (req.body !== null && req.body !== undefined) {
      body = JSON.stringify(this.substituteJson(req.body));
    }
    const init: RequestInit & { duplex?: string } = { method: req.method, headers, body };
    if (chunked) init.duplex = 'half';
    return { url, init, sent, session };
  }

  /** Bearer tokens, session credentials, and the recording's deliberately broken credentials, made anew. */
  private authorization(v: string, path: string, session?: Session): string {
    const token = /^Bearer <token:([A-Z])>$/.exec(v);
    if (token) return `Bearer ${this.tokens.get(token[1]!) ?? ''}`;
    const now = Math.floor(Date.now() / 1000);
    const key = this.t.slave.secret;
    const cred = session?.credential ?? '';
    const sig = cred.replace(/^Bearer Cr /, '');
    switch (v) {
      case 'Bearer Cr <credential>': return cred;
      case 'Bearer Cr <forged with a wrong key>': return requestCredential(`${key}-not`, path, '', '', session?.expires ?? now + 600);
      case 'Bearer Cr <right key, expires now-60>': return requestCredential(key, path, '', '', now - 60);
      case 'Bearer Cr <right key, expires 0>': return requestCredential(key, path, '', '', 0);
      case 'Bearer Cr <sig without :expires>': return `Bearer Cr ${sig.replace(/:\d+$/, '')}`;
      case 'Bearer Cr <sig>:': return `Bearer Cr ${sig.replace(/:\d+$/, ':')}`;
      case 'Bearer Cr <sig>:soon': return `Bearer Cr ${sig.replace(/:\d+$/, ':soon')}`;
      case '<sig>:<expires> (no prefix)': return sig;
      case 'Bearer Cr <right key, other path>': return requestCredential(key, path, '', '', now + 600);
      case 'Bearer Cr <right key, expires now+600>': return requestCredential(key, path, '', '', now + 600);
      case 'Bearer Cr <forged>': return requestCredential(`${key}-not`, path, '', '', now + 600);
      default: return v;
    }
  }

  private substituteJson(body: unknown): unknown {
    const b = structuredClone(body) as Record<string, any>;
    const ids = this.adminIds;
    const map = (m: Map<number, number>, v: unknown) => (typeof v === 'number' ? m.get(v) ?? v : v);
    if (b.password === '<password>') b.password = this.password(b.email ?? b.user?.email);
    const node = b.node;
    if (node && typeof node === 'object') {
      if (node.server === REC_SLAVE) node.server = this.t.slave.url;
      if (node.slave_key === '<slave-secret>') node.slave_key = this.t.slave.secret;
    }
    if (b.policy && typeof b.policy === 'object') b.policy.node_id = map(ids.node, b.policy.node_id);
    if (b.group && typeof b.group === 'object') {
      b.group.id = map(ids.group, b.group.id);
      const sp = b.group.edges?.storage_policies;
      if (sp) sp.id = map(ids.policy, sp.id);
    }
    if (b.user && typeof b.user === 'object') b.user.group_users = map(ids.group, b.user.group_users);
    if (typeof b.id === 'string') b.id = this.sessions.get(b.id)?.live ?? b.id;
    return b;
  }

  private learn(line: Line, recorded: Envelope, live: Envelope, sent?: Buffer, session?: Session): void {
    const req = line.request!;
    const path = req.path.split('?')[0]!;
    const body = req.body as Record<string, any> | null;
    if (path === '/api/v4/session/token') {
      const who = /login ([A-Z])/.exec(line.step)?.[1] ?? 'A';
      this.tokens.set(who, live.data.token.access_token);
    } else if (req.method === 'PUT' && /^\/api\/v4\/admin\/(group|user|node|policy)$/.test(path)) {
      const kind = path.split('/').pop() as keyof RemoteReplayer['adminIds'];
      this.adminIds[kind].set(recorded.data.id, live.data.id);
    } else if (path === '/api/v4/file/upload' && req.method === 'PUT') {
      const d = live.data;
      this.lastExpires = { expires: d.expires, credential: d.credential };
      this.sessions.set(recorded.data.session_id, { live: d.session_id, credential: d.credential, secret: d.callback_secret,
        uri: body!.uri, chunk: d.chunk_size, data: Buffer.alloc(body!.size), expires: d.expires });
      if (d.upload_urls?.[0] !== `${this.t.slave.url}/api/v4/slave/upload/${d.session_id}`) {
        this.fail(line, `upload_urls ${JSON.stringify(d.upload_urls)} is not the slave's chunk URL`);
      }
    } else if (path.startsWith(`${REC_SLAVE}/api/v4/slave/upload/`) && req.method === 'POST' && sent && session) {
      const index = Number(new URL(req.path).searchParams.get('chunk'));
      sent.copy(session.data, index * session.chunk);
      this.content.set(session.uri, session.data);
    } else if (path === '/api/v4/file/url') {
      this.lastUrl = { url: live.data.urls[0].url, uri: body!.uris[0] };
      const u = new URL(this.lastUrl.url);
      if (u.origin !== this.t.slave.url || !/^\/api\/v4\/slave\/file\/content\/0\/[A-Za-z0-9_-]+=*\/0\/[^/]+$/.test(u.pathname)) {
        this.fail(line, `download URL ${u.origin}${u.pathname} is not the slave's signed content URL`);
      }
    }
  }
}

/** "<folder>/<original name>:<size>" of a stored file: the scenario folder and the name the rule started from. */
function diskKey(path: string, size: number): string {
  const parts = path.split('/');
  return `${parts.at(-2)}/${parts.at(-1)!.replace(/^\d+_[A-Za-z0-9]{8}_/, '')}:${size}`;
}

export function listFiles(dir: string): { path: string; size: number }[] {
  const out: { path: string; size: number }[] = [];
  const walk = (d: string) => {
    let names: string[];
    try { names = readdirSync(d); } catch { return; }
    for (const n of names) {
      const p = join(d, n);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else out.push({ path: relative(dir, p), size: s.size });
    }
  };
  walk(dir);
  return out;
}
