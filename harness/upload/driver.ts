// Upload drivers: what the official clients do on the wire for each storage policy flow, behind one interface the
// behavioural suite drives. No driver retries anything: a retry would hide a server fault.
import type { CloudreveClient, Schemas } from '../client/index.js';
import type { ChunkPlan } from './plan.js';

export type UploadSession = Schemas['UploadSession'];
type Envelope = { code: number; msg: string; data?: unknown; correlation_id?: string };

/** What one chunk request got back. */
export interface ChunkAttempt {
  index: number;
  status: number;
  /** The envelope's code; undefined when the answer was not an envelope. */
  code?: number;
  msg?: string;
  correlationId?: string;
}

export interface ChunkOptions {
  /** The Content-Length to declare; `null` sends the body without one (chunked). Default: the chunk's length. */
  contentLength?: number | null;
  /** Query or path index to send instead of the chunk's own (negative tests: -1, 'abc'). */
  index?: number | string;
  /** Credential to send instead of the session's (remote flow negative tests); `null` sends none. */
  credential?: string | null;
}

export interface UploadDriver {
  /** The storage policy flow: local, remote, … */
  readonly flow: string;
  sendChunk(session: UploadSession, chunk: ChunkPlan, body: ReadableStream<Uint8Array> | Uint8Array, options?: ChunkOptions): Promise<ChunkAttempt>;
}

function attempt(index: number, status: number, body: unknown): ChunkAttempt {
  const env = body && typeof body === 'object' && 'code' in body ? (body as Envelope) : undefined;
  return { index, status, code: env?.code, msg: env?.msg, correlationId: env?.correlation_id };
}

function contentLengthHeader(chunk: ChunkPlan, options: ChunkOptions): Record<string, string> {
  const n = options.contentLength === undefined ? chunk.length : options.contentLength;
  return n === null ? {} : { 'Content-Length': String(n) };
}

/**
 * Local policy (and relay): chunks go to the master, `POST /file/upload/{sessionId}/{index}`, with the user's token
 * (the client carries it) and the exact chunk length.
 */
export class LocalDriver implements UploadDriver {
  readonly flow = 'local';
  constructor(private readonly client: CloudreveClient) {}

  async sendChunk(session: UploadSession, chunk: ChunkPlan, body: ReadableStream<Uint8Array> | Uint8Array,
    options: ChunkOptions = {}): Promise<ChunkAttempt> {
    const index = options.index ?? chunk.index;
    const res = await this.client.POST('/file/upload/{sessionId}/{index}', {
      params: { path: { sessionId: session.session_id, index: index as number }, header: contentLengthHeader(chunk, options) as never },
      body: body as never,
      bodySerializer: (b: unknown) => b as never,
      headers: { 'Content-Type': 'application/octet-stream' },
      duplex: 'half',
    } as never);
    return attempt(chunk.index, res.response.status, res.data ?? res.error);
  }
}

/**
 * Remote policy: chunks go straight to the slave node at `upload_urls[0]?chunk=N`, with the session's `credential`
 * (`Bearer Cr <sig>:<expires>`) as the Authorization header and no other `X-Cr-*` header (it would change what is
 * signed). `fetch` is a validating transport without the user's token.
 */
export class RemoteDriver implements UploadDriver {
  readonly flow = 'remote';
  constructor(private readonly fetch: (input: Request) => Promise<Response>) {}

  async sendChunk(session: UploadSession, chunk: ChunkPlan, body: ReadableStream<Uint8Array> | Uint8Array,
    options: ChunkOptions = {}): Promise<ChunkAttempt> {
    const base = session.upload_urls?.[0];
    if (!base) throw new Error(`remote session ${session.session_id} has no upload_urls`);
    const url = new URL(base);
    url.searchParams.set('chunk', String(options.index ?? chunk.index));
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', ...contentLengthHeader(chunk, options) };
    const credential = options.credential === undefined ? session.credential : options.credential;
    if (credential !== null && credential !== undefined) headers.Authorization = credential;
    const res = await this.fetch(new Request(url, { method: 'POST', headers, body: body as RequestInit['body'], duplex: 'half' } as RequestInit));
    let parsed: unknown;
    try { parsed = await res.json(); } catch { parsed = undefined; }
    return attempt(chunk.index, res.status, parsed);
  }
}
