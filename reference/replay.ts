// Replays the traffic recorded from a real Cloudreve 4.18.0 (fixtures/transcripts/cloudreve-4.18.0/) against a
// target, as a client would: ids, session ids, tokens, passwords, callback secrets and download URLs are taken
// from the target's own earlier answers; byte bodies are random data of the recorded length. Each answer is compared
// with the recorded one (HTTP status, code, msg, envelope keys, the shape of `data`), and every download with what
// was uploaded. Used by tests/reference-replay.spec.ts; the recorded order of scenarios and steps is kept.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { compareEnvelope, type Fetch, isBytes, type Line, loadTranscript, readDownload, readJson, streamOf,
  TranscriptReplayer, waitExpired } from './replay-core.js';

export { shapeDiff, valueDiff } from './replay-core.js';

export const SCENARIOS = ['setup', 'site_and_session', 'upload_sizes', 'chunk_errors', 'create_errors',
  'delete_session', 'expiry', 'file_content', 'security', 'teardown'];

const DIR = new URL('../fixtures/transcripts/cloudreve-4.18.0/', import.meta.url);

export interface ReplayResult {
  /** Exchanges sent and compared. */
  compared: number;
  /** Notes of the recording checked on the target (the `expires` arithmetic); sha256 notes are byte comparisons. */
  notesChecked: number;
  skipped: { scenario: string; step: string; reason: string }[];
  /** Differences, one line each ("scenario / step: what"). */
  mismatches: string[];
}

/**
 * Steps not replayed, with the reason. Every recorded exchange of the local flow can be replayed, so none: the
 * "same name concurrently" pair is sent one after the other (the recording's answers, 0 then 40004, are what a
 * sequential pair gets), and "after expiry" steps wait until the session's `expires` second has passed.
 */
export const SKIPPED: Record<string, string> = {};

export function loadScenario(name: string): Line[] {
  return loadTranscript(DIR, name);
}

export async function replayAll(siteUrl: string, send: Fetch, scenarios = SCENARIOS): Promise<ReplayResult> {
  const r = new Replayer(siteUrl, send);
  for (const s of scenarios) await r.scenario(s);
  return r.result;
}

class Replayer extends TranscriptReplayer {
  override readonly result: ReplayResult = { compared: 0, notesChecked: 0, skipped: [], mismatches: [] };
  /** Recorded id (hashid or session id) → the target's. */
  private readonly ids = new Map<string, string>();
  private readonly passwords = new Map<string, string>();
  private readonly tokens = new Map<string, string>();
  /** Live session id → its callback secret, uri, chunk size and the bytes its chunks wrote. */
  private readonly sessions = new Map<string, { secret: string; uri: string; chunk: number; data: Buffer; expires: number }>();
  /** Uri → the bytes a download of it must give. */
  private readonly content = new Map<string, Buffer>();
  private lastUrl?: { url: string; uri: string };

  constructor(private readonly site: string, private readonly send: Fetch) {
    super();
  }

  protected override load(name: string): Line[] {
    return loadScenario(name);
  }

  protected override skip(line: Line, scenario: string): boolean {
    if (!SKIPPED[line.step]) return false;
    this.result.skipped.push({ scenario, step: line.step, reason: SKIPPED[line.step]! });
    return true;
  }

  protected override checkNote(line: Line): void {
    const n = line.note!;
    if (typeof n.ttl_s === 'number') {
      // The recorded `expires` is now + upload_session_timeout; the live one must be too.
      const live = this.lastExpires;
      if (live === undefined || Math.abs(live - Math.floor(Date.now() / 1000) - n.ttl_s) > 1) {
        this.fail(line, `expires ${live} is not now + ${n.ttl_s}`);
      }
      this.result.notesChecked++;
    }
  }

  private lastExpires?: number;

  protected override async exchange(line: Line): Promise<void> {
    const req = line.request!;
    const rec = line.response!;
    const { url, init, sent, sessionId } = await this.build(line);
    if (/after expiry/.test(line.step) && sessionId) await this.waitSessionExpired(sessionId);

    const res = await this.send(url, init);
    this.result.compared++;
    const fail = (what: string) => this.fail(line, what);
    if (res.status !== rec.status) fail(`HTTP ${res.status}, recorded ${rec.status}`);

    if (isBytes(rec.body)) {
      const body = await readDownload(res, rec, fail);
      const want = this.lastUrl && this.content.get(this.lastUrl.uri);
      if (!want) fail('no upload known for this download');
      else if (!want.equals(body)) fail('downloaded bytes differ from the uploaded ones');
      return;
    }

    const parsed = await readJson(res, fail);
    if (!parsed) return;
    const live = parsed.json;
    const recorded = rec.body as any;
    compareEnvelope(recorded, live, recorded.data, fail);
    if (live.code === 0) this.learn(req, recorded, live, line, sent);
  }

  /** The live request for a recorded one. */
  private async build(line: Line): Promise<{ url: string; init: RequestInit; sent?: Buffer; sessionId?: string }> {
    const req = line.request!;
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (['content-length', 'transfer-encoding'].includes(k)) continue;
      headers.set(k, k === 'authorization' ? await this.bearer(v) : v);
    }
    let path = req.path;
    let url: string;
    let sessionId: string | undefined;
    if (path.startsWith('/api/v4/file/content/') && req.method === 'GET') {
      url = this.lastUrl?.url ?? this.site + path;
    } else {
      // Session ids, entity ids and callback secrets in the path and query.
      path = path.replace(/\/api\/v4\/file\/upload\/([^/]+)\//, (_m, sid: string) => {
        sessionId = this.ids.get(sid) ?? sid;
        return `/api/v4/file/upload/${sessionId}/`;
      });
      path = path.replace(/\/api\/v4\/callback\/([a-z0-9]+)\/([^/]+)\/([^/?]+)/, (_m, type: string, sid: string, key: string) => {
        const live = this.ids.get(sid) ?? sid;
        const secret = key === '<secret>' ? this.sessions.get(live)?.secret ?? key : key;
        return `/api/v4/callback/${type}/${live}/${secret}`;
      });
      path = path.replace(/([?&]previous=)([^&]+)/, (_m, k: string, v: string) => k + (this.ids.get(v) ?? v));
      url = this.site + path;
    }

    let body: RequestInit['body'];
    let sent: Buffer | undefined;
    const chunked = req.headers['transfer-encoding'] === 'chunked';
    if (isBytes(req.body)) {
      const target = sessionId ? this.sessions.get(sessionId)?.uri : new URL(url).searchParams.get('uri');
      sent = payload(req.body.bytes, textual(target ?? ''));
      body = chunked ? streamOf(sent) : sent;
    } else if (req.body !== null && req.body !== undefined) {
      body = JSON.stringify(this.substituteJson(req.body, line));
    }
    const init: RequestInit & { duplex?: string } = { method: req.method, headers, body };
    if (chunked) init.duplex = 'half';
    return { url, init, sent, sessionId };
  }

  private substituteJson(body: unknown, line: Line): unknown {
    const b = structuredClone(body) as Record<string, any>;
    if (typeof b.password === 'string' && b.password === '<password>') {
      let pw = this.passwords.get(b.email);
      if (!pw) this.passwords.set(b.email, (pw = randomBytes(9).toString('base64url')));
      b.password = /wrong password/.test(line.step) ? `${pw}-wrong` : pw;
    }
    if (b.refresh_token === '<token>') {
      b.refresh_token = /access token/.test(line.step) ? this.tokens.get('A')
        : /garbage/.test(line.step) ? 'garbage' : this.tokens.get('A.refresh');
    }
    for (const k of ['previous', 'policy_id', 'id', 'version', 'entity']) {
      if (typeof b[k] === 'string' && this.ids.has(b[k])) b[k] = this.ids.get(b[k]);
    }
    // A uri naming its owner: cloudreve://<user hashid>@my/...
    const owner = (u: string) => u.replace(/^cloudreve:\/\/([^@/]+)@/, (_m, id: string) => `cloudreve://${this.ids.get(id) ?? id}@`);
    if (typeof b.uri === 'string') b.uri = owner(b.uri);
    if (Array.isArray(b.uris)) b.uris = b.uris.map((u: string) => owner(u));
    return b;
  }

  private async bearer(v: string): Promise<string> {
    const m = /^Bearer <token:([A-Za-z.]+)>$/.exec(v);
    if (!m) return v;
    if (m[1] === 'garbage') {
      // A well-formed JWT signed with a key the target does not have: the caller becomes anonymous.
      const jwt = await new SignJWT({ token_type: 'access' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x')
        .setExpirationTime('1h').sign(randomBytes(32));
      return `Bearer ${jwt}`;
    }
    return `Bearer ${this.tokens.get(m[1]!) ?? ''}`;
  }

  /** Learns from a successful answer: ids, tokens, sessions, and what downloads must give back. */
  private learn(req: NonNullable<Line['request']>, recorded: any, live: any, line: Line, sent?: Buffer): void {
    mapIds(recorded.data, live.data, this.ids);
    const path = req.path.split('?')[0]!;
    const body = req.body as Record<string, any> | null;
    if (path === '/api/v4/session/token') {
      const who = /login ([AB])/.exec(line.step)?.[1] ?? 'A';
      this.tokens.set(who, live.data.token.access_token);
      this.tokens.set(`${who}.refresh`, live.data.token.refresh_token);
    } else if (path === '/api/v4/session/token/refresh') {
      this.tokens.set('A.new', live.data.access_token);
      this.tokens.set('A.refresh', live.data.refresh_token);
    } else if (path === '/api/v4/file/upload' && req.method === 'PUT') {
      const d = live.data;
      this.lastExpires = d.expires;
      this.sessions.set(d.session_id, { secret: d.callback_secret, uri: normal(body!.uri), chunk: d.chunk_size,
        data: Buffer.alloc(body!.size), expires: d.expires });
    } else if (/^\/api\/v4\/file\/upload\/[^/]+\/\d+$/.test(path) && sent) {
      const [, sid, index] = /upload\/([^/]+)\/(\d+)$/.exec(path)!;
      const s = this.sessions.get(this.ids.get(sid!) ?? sid!);
      if (s) {
        sent.copy(s.data, Number(index) * s.chunk);
        this.content.set(s.uri, s.data);
      }
    } else if (path === '/api/v4/file/content' && req.method === 'PUT' && sent) {
      const uri = new URL(req.path, 'http://x').searchParams.get('uri')!;
      // A body sent without Content-Length is stored as an empty file (the server reads 0 bytes).
      this.content.set(normal(uri), req.headers['transfer-encoding'] === 'chunked' ? Buffer.alloc(0) : sent);
    } else if (path === '/api/v4/file/url') {
      this.lastUrl = { url: live.data.urls[0].url, uri: normal(body!.uris[0]) };
    }
  }

  private async waitSessionExpired(sessionId: string): Promise<void> {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    // The session lives through the second `expires` (the KV store's one-second resolution).
    await waitExpired(s.expires);
  }
}

/**
 * Random bytes; printable ASCII for files served as text/*, whose downloads the validating transport reads as
 * text (so they must be valid UTF-8 to come back byte for byte).
 */
function payload(n: number, text: boolean): Buffer {
  const b = randomBytes(n);
  if (text) for (let i = 0; i < n; i++) b[i] = 0x20 + (b[i]! % 0x5f);
  return b;
}

function textual(uri: string): boolean {
  return /\.(txt|md|csv|html?|css|js|json|xml)$/i.test(uri);
}

function normal(uri: string): string {
  return uri.replace(/\/+$/, '');
}

const ID_KEYS = new Set(['id', 'primary_entity', 'session_id', 'hash_id']);

/** Pairs recorded and live ids found at the same place of two answers. */
function mapIds(rec: unknown, live: unknown, out: Map<string, string>): void {
  if (Array.isArray(rec) && Array.isArray(live)) {
    rec.forEach((r, i) => mapIds(r, live[i], out));
  } else if (rec && live && typeof rec === 'object' && typeof live === 'object') {
    for (const [k, v] of Object.entries(rec)) {
      const l = (live as Record<string, unknown>)[k];
      if (ID_KEYS.has(k) && typeof v === 'string' && typeof l === 'string' && v !== '') out.set(v, l);
      else mapIds(v, l, out);
    }
  }
}
