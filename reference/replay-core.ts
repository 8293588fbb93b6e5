// What the transcript replay drivers share: reading a recorded scenario (fixtures/transcripts/*/<scenario>.jsonl),
// the loop over its lines (TranscriptReplayer: a note is checked, a step may be skipped, every other line is an
// exchange), and the comparison of a live answer with the recorded one (a download's type and length; an envelope's
// code, msg, keys, and the shape and stable values of `data`). reference/replay.ts replays the local flow against a
// target, reference/slave/replay.ts the remote-policy flow against a target and its slave node; each brings its own
// notes, skips, request building and learning.
import { readFileSync } from 'node:fs';

export interface Bytes { bytes: number; sha256: string; text?: string }

/** A line of a transcript: an exchange (request and response) or a note of the recording. */
export interface Line {
  scenario: string;
  step: string;
  request?: { method: string; path: string; headers: Record<string, string>; body?: unknown };
  response?: { status: number; headers: Record<string, string>; body: unknown };
  note?: Record<string, any>;
}

export type Fetch = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

export const isBytes = (b: unknown): b is Bytes => !!b && typeof b === 'object' && 'bytes' in b && 'sha256' in b;

/** The lines of `<dir>/<name>.jsonl`, in the recorded order. */
export function loadTranscript(dir: URL, name: string): Line[] {
  return readFileSync(new URL(`${name}.jsonl`, dir), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
}

/**
 * A replay driver: the loop over a scenario's lines is here, what a note checks, which steps are not sent and how an
 * exchange is built, compared and learnt from is the driver's.
 */
export abstract class TranscriptReplayer {
  abstract readonly result: { mismatches: string[] };

  /** The recorded lines of a scenario. */
  protected abstract load(name: string): Line[];
  /** Checks a note of the recording (a line without a request). */
  protected abstract checkNote(line: Line): void;
  /** Whether an exchange of `scenario` is not sent (the driver records why). */
  protected abstract skip(line: Line, scenario: string): boolean;
  /** Sends an exchange and compares the answer with the recorded one. */
  protected abstract exchange(line: Line): Promise<void>;

  /** Replays a scenario in the recorded order: notes are checked, skipped steps recorded, every other exchange sent. */
  async scenario(name: string): Promise<void> {
    for (const line of this.load(name)) {
      if (line.note) {
        this.checkNote(line);
        continue;
      }
      if (this.skip(line, name)) continue;
      await this.exchange(line);
    }
  }

  /** Records a difference: "scenario / step: what". */
  protected fail(line: Line, what: string): void {
    this.result.mismatches.push(`${line.scenario} / ${line.step}: ${what}`);
  }
}

type Fail = (what: string) => void;

/** The body of a download, its media type and length compared with the recorded ones (`rec.body` is a Bytes). */
export async function readDownload(res: Response, rec: NonNullable<Line['response']>, fail: Fail): Promise<Buffer> {
  const body = Buffer.from(await res.arrayBuffer());
  const media = (h: string | null | undefined) => (h ?? '').split(';')[0]!.trim();
  if (media(res.headers.get('content-type')) !== media(rec.headers['content-type'])) {
    fail(`content-type ${res.headers.get('content-type')}, recorded ${rec.headers['content-type']}`);
  }
  const recorded = rec.body as Bytes;
  if (body.length !== recorded.bytes) fail(`${body.length} bytes, recorded ${recorded.bytes}`);
  return body;
}

/** The answer's JSON, or undefined (and a failure) when it is not JSON. */
export async function readJson(res: Response, fail: Fail): Promise<{ json: any } | undefined> {
  const text = await res.text();
  try {
    return { json: JSON.parse(text) };
  } catch {
    fail(`not JSON: ${text.slice(0, 80)}`);
    return undefined;
  }
}

/**
 * Compares a live envelope with the recorded one: code (else msg), envelope keys, then the shape and stable values of
 * `data` against `recordedData` (the recorded `data`, possibly with recorded ids made live).
 */
export function compareEnvelope(recorded: any, live: any, recordedData: unknown, fail: Fail): void {
  if (live.code !== recorded.code) fail(`code ${live.code} "${live.msg}", recorded ${recorded.code} "${recorded.msg}"`);
  else if (live.msg !== recorded.msg) fail(`msg "${live.msg}", recorded "${recorded.msg}"`);
  const keys = (o: object) => Object.keys(o).sort().join(',');
  if (keys(live) !== keys(recorded)) fail(`envelope keys {${keys(live)}}, recorded {${keys(recorded)}}`);
  const diffs: string[] = [];
  shapeDiff(recordedData, live.data, 'data', diffs);
  valueDiff(recordedData, live.data, 'data', diffs);
  for (const d of diffs) fail(d);
}

/** A body sent in 512-byte pieces (a request without Content-Length). */
export function streamOf(buf: Buffer): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < buf.length; i += 512) controller.enqueue(buf.subarray(i, i + 512));
      controller.close();
    },
  });
}

/** Waits until a session that expires at `expires` (Unix seconds) is gone: it lives through that second. */
export async function waitExpired(expires: number): Promise<void> {
  const until = (expires + 1) * 1000 + 200;
  if (Date.now() < until) await new Promise((r) => setTimeout(r, until - Date.now()));
}

/**
 * Values that do not depend on the instance (ids, times and secrets do) and must therefore match the recording:
 * sizes, quota, names, paths, types, flags.
 */
const STABLE_KEYS = new Set(['size', 'storage_used', 'used', 'total', 'chunk_size', 'max_size', 'type', 'name', 'path',
  'uri', 'upload_id', 'mixed_type', 'page', 'page_size', 'total_items', 'is_cursor', 'capability', 'owned',
  'max_page_size', 'nickname', 'email', 'status', 'language', 'permission', 'permissions', 'direct_link_batch_size',
  'trash_retention', 'anonymous', 'max_storage', 'storage_policy_id', 'dir_name_rule', 'file_name_rule', 'title',
  'upload_session_timeout', 'maxEditSize', 'default_theme', 'captcha_type', 'view', 'thumbnail']);

/** Differences of the stable values (see STABLE_KEYS), wherever both answers have them. */
export function valueDiff(rec: unknown, live: unknown, path: string, out: string[]): void {
  if (Array.isArray(rec) && Array.isArray(live)) {
    rec.forEach((r, i) => valueDiff(r, live[i], `${path}[${i}]`, out));
  } else if (rec && live && typeof rec === 'object' && typeof live === 'object' && !Array.isArray(live)) {
    for (const [k, v] of Object.entries(rec)) {
      const l = (live as Record<string, unknown>)[k];
      if (STABLE_KEYS.has(k) && (v === null || typeof v !== 'object') && l !== undefined && v !== l) {
        out.push(`${path}.${k}: ${JSON.stringify(l)}, recorded ${JSON.stringify(v)}`);
      } else valueDiff(v, l, `${path}.${k}`, out);
    }
  }
}

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Differences of shape: JSON types, object key sets and array lengths, recursively. */
export function shapeDiff(rec: unknown, live: unknown, path: string, out: string[]): void {
  const tr = typeOf(rec);
  const tl = typeOf(live);
  if (tr !== tl) {
    out.push(`${path}: ${tl}, recorded ${tr}`);
    return;
  }
  if (tr === 'array') {
    const r = rec as unknown[];
    const l = live as unknown[];
    if (r.length !== l.length) out.push(`${path}: ${l.length} items, recorded ${r.length}`);
    for (let i = 0; i < Math.min(r.length, l.length); i++) shapeDiff(r[i], l[i], `${path}[${i}]`, out);
  } else if (tr === 'object') {
    const r = rec as Record<string, unknown>;
    const l = live as Record<string, unknown>;
    const missing = Object.keys(r).filter((k) => !(k in l));
    const extra = Object.keys(l).filter((k) => !(k in r));
    if (missing.length) out.push(`${path}: missing ${missing.join(', ')}`);
    if (extra.length) out.push(`${path}: extra ${extra.join(', ')}`);
    for (const k of Object.keys(r)) if (k in l) shapeDiff(r[k], l[k], `${path}.${k}`, out);
  }
}
