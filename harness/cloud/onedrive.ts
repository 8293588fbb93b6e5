// Microsoft Graph / OneDrive emulator: the upload-session URL a Cloudreve `onedrive` client PUTs byte ranges to
// (`Content-Range`, 202 + `nextExpectedRanges` until the last fragment, 201/200 + driveItem, 416 `invalidRange` for an
// overlap or a gap, 320 KiB fragment rule, 404 `itemNotFound` once expired, cancelled or completed, DELETE → 204,
// GET → status), and the Graph calls Cloudreve makes around it: `createUploadSession`, item metadata by path or id
// (the size check of its completion callback), simple upload of `…:/content`, item DELETE, and the OAuth token
// refresh. Graph calls need `Authorization: Bearer <accessToken>`; upload URLs are pre-authorised and refuse one.
import { createHash } from 'node:crypto';
import { readBody, type EmulatorRequest, type EmulatorResponse, type ProviderEmulator } from './mount.js';

export interface OneDriveEmulatorOptions {
  /** Bearer token Graph calls must carry (default `onedrive-access-token`). */
  accessToken?: string;
  /** Refresh token the OAuth endpoint accepts (default `onedrive-refresh-token`). */
  refreshToken?: string;
  /** Origin upload URLs are issued on (default: the origin the createUploadSession request addressed). */
  uploadOrigin?: string;
  /** Session lifetime, renewed by each accepted fragment (default 15 min, ⚑ Graph documents no figure). */
  sessionTtlMs?: number;
  /** Non-final fragments must be multiples of 320 KiB (default true). */
  enforceFragmentMultiple?: boolean;
  /** Largest accepted fragment (default 60 MiB). */
  maxFragment?: number;
  /** Answer 401 when an upload-URL request carries an Authorization header (default true). */
  rejectAuthorizationOnUploadUrl?: boolean;
  now?: () => number;
}

export type ConflictBehavior = 'fail' | 'replace' | 'rename';

export interface OneDriveItem {
  id: string;
  path: string;
  name: string;
  body: Buffer;
  mimeType: string;
  created: number;
  modified: number;
}

export interface OneDriveSession {
  id: string;
  path: string;
  uploadUrl: string;
  conflictBehavior: ConflictBehavior;
  expires: number;
  total?: number;
  received: Buffer[];
  receivedBytes: number;
  state: 'open' | 'completed' | 'cancelled';
}

export interface OneDriveRequestRecord { method: string; url: string; status: number; code?: string; inner?: string }

export const FRAGMENT_UNIT = 320 * 1024;

class GraphError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly inner?: string, readonly extraHeaders: Record<string, string> = {}) { super(message); }
}

const DRIVE_RE = /^\/v1\.0\/(me\/drive|drives\/[^/]+|users\/[^/]+\/drive|sites\/[^/]+\/drive|groups\/[^/]+\/drive)(\/.*)?$/;

export class OneDriveEmulator implements ProviderEmulator {
  readonly provider = 'onedrive';
  readonly requests: OneDriveRequestRecord[] = [];
  readonly accessToken: string;
  readonly refreshToken: string;
  enforceFragmentMultiple: boolean;
  private readonly items = new Map<string, OneDriveItem>();
  private readonly sessionsById = new Map<string, OneDriveSession>();
  private readonly now: () => number;
  private seq = 0;

  constructor(private readonly opts: OneDriveEmulatorOptions = {}) {
    this.accessToken = opts.accessToken ?? 'onedrive-access-token';
    this.refreshToken = opts.refreshToken ?? 'onedrive-refresh-token';
    this.enforceFragmentMultiple = opts.enforceFragmentMultiple ?? true;
    this.now = opts.now ?? Date.now;
  }

  // ------------------------------------------------------------------------------------------------ inspection API

  item(path: string): OneDriveItem | undefined { return this.items.get(normalise(path)); }
  listItems(): OneDriveItem[] { return [...this.items.values()]; }
  sessions(): OneDriveSession[] { return [...this.sessionsById.values()]; }
  session(idOrUrl: string): OneDriveSession | undefined {
    return this.sessionsById.get(idOrUrl) ?? [...this.sessionsById.values()].find((s) => s.uploadUrl === idOrUrl);
  }
  /** Makes a session expire now (its URL then answers 404 itemNotFound). */
  expireSession(idOrUrl: string): void { const s = this.session(idOrUrl); if (s) s.expires = this.now() - 1; }
  putItem(path: string, body: Buffer | string, mimeType = 'application/octet-stream'): OneDriveItem {
    return this.store(normalise(path), Buffer.isBuffer(body) ? body : Buffer.from(body), mimeType);
  }
  reset(): void { this.items.clear(); this.sessionsById.clear(); this.requests.length = 0; }

  /** What `createUploadSession` does, for a harness that plays Cloudreve's side: returns the upload URL. */
  createSession(path: string, origin: string, conflictBehavior: ConflictBehavior = 'fail'): OneDriveSession {
    const id = createHash('sha256').update(`od-session-${++this.seq}-${path}`).digest('base64url').slice(0, 40);
    const base = (this.opts.uploadOrigin ?? origin).replace(/\/$/, '');
    const s: OneDriveSession = { id, path: normalise(path), uploadUrl: `${base}/up/${id}`, conflictBehavior, expires: this.now() + this.ttl(),
      received: [], receivedBytes: 0, state: 'open' };
    this.sessionsById.set(id, s);
    return s;
  }

  // ------------------------------------------------------------------------------------------------------- handler

  async handle(req: EmulatorRequest): Promise<EmulatorResponse> {
    const record: OneDriveRequestRecord = { method: req.method, url: req.url.toString(), status: 0 };
    this.requests.push(record);
    let res: EmulatorResponse;
    try {
      res = await this.route(req);
    } catch (e) {
      if (!(e instanceof GraphError)) throw e;
      record.code = e.code;
      if (e.inner) record.inner = e.inner;
      res = this.errorResponse(e);
    }
    record.status = res.status;
    res.headers = { 'request-id': this.requestId(), date: new Date(this.now()).toUTCString(), ...res.headers };
    return res;
  }

  private async route(req: EmulatorRequest): Promise<EmulatorResponse> {
    const path = req.url.pathname;
    const up = /^\/up\/([^/]+)$/.exec(path);
    if (up) return this.uploadUrl(req, up[1] ?? '');
    if (/\/oauth2\/v2\.0\/token$/.test(path) && req.method === 'POST') return this.token(req);
    const m = DRIVE_RE.exec(path);
    if (!m) throw new GraphError(400, 'invalidRequest', 'Invalid request.');
    this.checkBearer(req);
    const rest = m[2] ?? '';
    const byPath = /^\/root:(\/.*?)(:(\/[A-Za-z]+)?)?$/.exec(rest);
    const byId = /^\/items\/([^/:]+)(\/content)?$/.exec(rest);
    if (byPath) {
      const itemPath = normalise(safeDecode(byPath[1] ?? '/'));
      const action = byPath[3];
      if (action === '/createUploadSession' && req.method === 'POST') return this.createUploadSession(req, itemPath);
      if (action === '/content' && req.method === 'PUT') return this.simpleUpload(req, itemPath);
      if (action === '/content' && req.method === 'GET') return this.download(this.items.get(itemPath));
      if (!action && req.method === 'GET') return this.meta(req, this.items.get(itemPath));
      if (!action && req.method === 'DELETE') { if (!this.items.delete(itemPath)) throw this.notFound(); return { status: 204 }; }
    } else if (byId) {
      const item = [...this.items.values()].find((i) => i.id === byId[1]);
      if (byId[2] && req.method === 'GET') return this.download(item);
      if (!byId[2] && req.method === 'GET') return this.meta(req, item);
      if (!byId[2] && req.method === 'DELETE') { if (!item) throw this.notFound(); this.items.delete(item.path); return { status: 204 }; }
    }
    throw new GraphError(400, 'invalidRequest', `Unsupported ${req.method} ${path}`);
  }

  private checkBearer(req: EmulatorRequest): void {
    const auth = req.headers.authorization;
    if (!auth) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    if (auth !== `Bearer ${this.accessToken}`) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
  }

  private async token(req: EmulatorRequest): Promise<EmulatorResponse> {
    const form = new URLSearchParams((await readBody(req.body)).toString('utf8'));
    if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== this.refreshToken) {
      return json(400, { error: 'invalid_grant', error_description: 'AADSTS70000: The provided value for the \'refresh_token\' is not valid.', error_codes: [70000] });
    }
    return json(200, { token_type: 'Bearer', scope: 'Files.ReadWrite.All offline_access', expires_in: 3599, ext_expires_in: 3599,
      access_token: this.accessToken, refresh_token: this.refreshToken });
  }

  private async createUploadSession(req: EmulatorRequest, path: string): Promise<EmulatorResponse> {
    const raw = (await readBody(req.body)).toString('utf8');
    let behavior: ConflictBehavior = 'replace';
    if (raw.trim()) {
      let body: { item?: Record<string, unknown> };
      try { body = JSON.parse(raw) as typeof body; } catch { throw new GraphError(400, 'invalidRequest', 'Invalid JSON body.'); }
      const b = body.item?.['@microsoft.graph.conflictBehavior'];
      if (b === 'fail' || b === 'replace' || b === 'rename') behavior = b;
    }
    if (behavior === 'fail' && this.items.has(path)) throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
    const s = this.createSession(path, req.url.origin, behavior);
    return json(200, { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.uploadSession',
      expirationDateTime: new Date(s.expires).toISOString(), nextExpectedRanges: ['0-'], uploadUrl: s.uploadUrl });
  }

  private async simpleUpload(req: EmulatorRequest, path: string): Promise<EmulatorResponse> {
    const body = await readBody(req.body);
    const behavior = req.url.searchParams.get('@microsoft.graph.conflictBehavior') ?? 'replace';
    const existed = this.items.has(path);
    if (existed && behavior === 'fail') throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
    const item = this.store(behavior === 'rename' && existed ? renamed(path, this.items) : path, body, req.headers['content-type'] ?? 'application/octet-stream');
    return json(existed && behavior === 'replace' ? 200 : 201, this.driveItem(item, req.url.origin));
  }

  private meta(req: EmulatorRequest, item: OneDriveItem | undefined): EmulatorResponse {
    if (!item) throw this.notFound();
    return json(200, this.driveItem(item, req.url.origin));
  }

  private download(item: OneDriveItem | undefined): EmulatorResponse {
    if (!item) throw this.notFound();
    return { status: 200, headers: { 'content-type': item.mimeType, 'content-length': String(item.body.length) }, body: item.body };
  }

  // ---------------------------------------------------------------------------------------------------- upload URL

  private async uploadUrl(req: EmulatorRequest, id: string): Promise<EmulatorResponse> {
    const s = this.sessionsById.get(id);
    const live = s && s.state === 'open' && this.now() <= s.expires;
    if (!s || !live) {
      await readBody(req.body);
      throw new GraphError(404, 'itemNotFound', 'The upload session was not found.', 'uploadSessionNotFound');
    }
    if (req.method === 'GET') return json(200, this.status(s));
    if (req.method === 'DELETE') { s.state = 'cancelled'; return { status: 204 }; }
    if (req.method !== 'PUT') throw new GraphError(405, 'invalidRequest', 'Method not allowed.');
    if (req.headers.authorization && (this.opts.rejectAuthorizationOnUploadUrl ?? true)) {
      await readBody(req.body);
      throw new GraphError(401, 'unauthenticated', 'The upload URL is pre-authenticated; an Authorization header is not allowed.');
    }
    const body = await readBody(req.body);
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(req.headers['content-range'] ?? '');
    if (!range) throw new GraphError(400, 'invalidRequest', 'Invalid Content-Range header value.', 'invalidContentRangeHeader');
    const start = Number(range[1]);
    const end = Number(range[2]);
    if (range[3] === '*') throw new GraphError(400, 'invalidRequest', 'The total length must be declared in Content-Range.', 'invalidContentRangeHeader');
    const total = Number(range[3]);
    if (end < start || end >= total) throw new GraphError(416, 'invalidRange', 'The Content-Range is not satisfiable.', 'invalidRange');
    const length = end - start + 1;
    const declared = req.headers['content-length'];
    if ((declared !== undefined && Number(declared) !== length) || body.length !== length) {
      throw new GraphError(400, 'invalidRequest', 'Declared fragment length does not match the provided number of bytes.', 'fragmentLengthMismatch');
    }
    if (s.total !== undefined && s.total !== total) throw new GraphError(400, 'invalidRequest', 'The declared total size differs from the one of the earlier fragments.', 'fragmentLengthMismatch');
    if (length > (this.opts.maxFragment ?? 60 * 1024 * 1024)) throw new GraphError(413, 'invalidRequest', 'The fragment is larger than allowed.', 'maxFragmentLengthExceeded');
    if (start < s.receivedBytes) throw new GraphError(416, 'invalidRange', 'Uploaded fragment overlaps with existing data.', 'fragmentOverlap');
    if (start > s.receivedBytes) throw new GraphError(416, 'invalidRange', 'The fragment does not start at the next expected byte.', 'fragmentOutOfOrder');
    const last = end === total - 1;
    if (!last && this.enforceFragmentMultiple && length % FRAGMENT_UNIT !== 0) {
      throw new GraphError(400, 'invalidRequest', 'Fragment size must be a multiple of 320 KiB (327680 bytes).', 'invalidFragmentLength');
    }
    s.total = total;
    s.received.push(body);
    s.receivedBytes += length;
    if (!last) {
      s.expires = this.now() + this.ttl();
      return json(202, this.status(s));
    }
    const existed = this.items.has(s.path);
    if (existed && s.conflictBehavior === 'fail') {
      s.state = 'cancelled';
      throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
    }
    const path = existed && s.conflictBehavior === 'rename' ? renamed(s.path, this.items) : s.path;
    const item = this.store(path, Buffer.concat(s.received), 'application/octet-stream');
    s.state = 'completed';
    s.received = [];
    return json(existed && s.conflictBehavior === 'replace' ? 200 : 201, this.driveItem(item, req.url.origin));
  }

  private status(s: OneDriveSession): Record<string, unknown> {
    return { expirationDateTime: new Date(s.expires).toISOString(), nextExpectedRanges: [`${s.receivedBytes}-`] };
  }

  // ------------------------------------------------------------------------------------------------------ helpers

  private ttl(): number { return this.opts.sessionTtlMs ?? 15 * 60_000; }

  private store(path: string, body: Buffer, mimeType: string): OneDriveItem {
    const prev = this.items.get(path);
    const name = path.split('/').pop() ?? '';
    const item: OneDriveItem = { id: prev?.id ?? createHash('sha1').update(`od-item-${++this.seq}-${path}`).digest('hex').slice(0, 16).toUpperCase() + '!' + this.seq,
      path, name, body, mimeType, created: prev?.created ?? this.now(), modified: this.now() };
    this.items.set(path, item);
    return item;
  }

  private driveItem(i: OneDriveItem, origin: string): Record<string, unknown> {
    const parent = i.path.slice(0, i.path.lastIndexOf('/'));
    return {
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#drives(\'emulated\')/items/$entity',
      '@microsoft.graph.downloadUrl': `${origin}/v1.0/me/drive/items/${encodeURIComponent(i.id)}/content`,
      id: i.id, name: i.name, size: i.body.length,
      createdDateTime: new Date(i.created).toISOString(), lastModifiedDateTime: new Date(i.modified).toISOString(),
      eTag: `"{${i.id}},${i.modified}"`, cTag: `"c:{${i.id}},${i.modified}"`,
      file: { mimeType: i.mimeType, hashes: { sha1Hash: createHash('sha1').update(i.body).digest('hex').toUpperCase() } },
      parentReference: { driveId: 'emulated', driveType: 'personal', path: `/drive/root:${parent}` },
    };
  }

  private notFound(): GraphError { return new GraphError(404, 'itemNotFound', 'The resource could not be found.'); }

  private errorResponse(e: GraphError): EmulatorResponse {
    const error: Record<string, unknown> = { code: e.code, message: e.message };
    if (e.inner) error.innererror = { code: e.inner };
    return json(e.status, { error }, e.extraHeaders);
  }

  private requestId(): string {
    const h = createHash('md5').update(`od-req-${++this.seq}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): EmulatorResponse {
  const text = JSON.stringify(body);
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers }, body: text };
}

function safeDecode(s: string): string { try { return decodeURIComponent(s); } catch { return s; } }

function normalise(p: string): string {
  const s = `/${p.split('/').filter(Boolean).join('/')}`;
  return s;
}

function renamed(path: string, items: Map<string, OneDriveItem>): string {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  const [stem, ext] = dot > slash ? [path.slice(0, dot), path.slice(dot)] : [path, ''];
  for (let i = 1; ; i++) { const p = `${stem} ${i}${ext}`; if (!items.has(p)) return p; }
}
