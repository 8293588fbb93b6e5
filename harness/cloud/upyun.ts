// Upyun (USS) emulator. What a Cloudreve `upyun` policy uses: the FORM API (`POST /<bucket>`, multipart/form-data
// `policy` + `authorization`, `file` last — the only upload path of Cloudreve's web client and SDK), checked the way
// Upyun does (signature, expiration, save-key, content-length / content-length-range / content-md5 / allow-file-type),
// then the asynchronous `notify-url` callback, form-encoded and signed with `Date` + `Content-MD5` + `Authorization`,
// as Cloudreve's `ValidateCallback` expects. The REST API Cloudreve's server side calls (HEAD for "file exists",
// GET, PUT, DELETE, mkdir) and the REST resumable upload (`X-Upyun-Multi-Stage: initiate|upload|complete`, 1 MiB
// parts) are served too. Errors are Upyun's JSON `{"msg","code","id"}` with the HTTP status of the code's first three
// digits.
import { createHash } from 'node:crypto';
import busboy from 'busboy';
import { readBody, type EmulatorRequest, type EmulatorResponse, type ProviderEmulator } from './mount.js';
import { md5hex, upyunAuthorization, upyunLegacyFormSignature, upyunSignature } from './upyun-sign.js';

export interface UpyunEmulatorOptions {
  operator: string;
  password: string;
  buckets?: string[];
  /** Enables the legacy form `signature` field (md5 of policy & secret). */
  formApiSecret?: string;
  now?: () => number;
  fetch?: typeof fetch;
  notifyTimeoutMs?: number;
  /** `async` (default, as Upyun: the client gets its answer, the notify follows) or `before-response`. */
  notifyMode?: 'async' | 'before-response';
  /** Allowed REST Date skew (default 30 min, as Upyun). */
  maxSkewMs?: number;
}

export interface UpyunStoredFile { bucket: string; path: string; body: Buffer; contentType: string; modified: number; meta: Record<string, string> }
export interface UpyunNotifyRecord { url: string; headers: Record<string, string>; body: string; status?: number; responseBody?: string; error?: string }
export interface UpyunRequestRecord { method: string; url: string; status: number; code?: number; msg?: string }
export interface UpyunMultiUpload {
  uuid: string; bucket: string; path: string; length: number; type: string; disorder: boolean; parts: Map<number, Buffer>; next: number; meta: Record<string, string>;
}

export const UPYUN_PART_SIZE = 1024 * 1024;

class UpyunError extends Error {
  constructor(readonly code: number, msg: string) { super(msg); }
  get status(): number { return Math.floor(this.code / 100000); }
}

export class UpyunEmulator implements ProviderEmulator {
  readonly provider = 'upyun';
  readonly buckets: Set<string>;
  readonly notifications: UpyunNotifyRecord[] = [];
  readonly requests: UpyunRequestRecord[] = [];
  private readonly files = new Map<string, UpyunStoredFile>();
  private readonly multis = new Map<string, UpyunMultiUpload>();
  private readonly pending = new Set<Promise<void>>();
  private readonly now: () => number;
  private seq = 0;

  constructor(private readonly opts: UpyunEmulatorOptions) {
    this.buckets = new Set(opts.buckets ?? ['bucket']);
    this.now = opts.now ?? Date.now;
  }

  // ------------------------------------------------------------------------------------------------ inspection API

  file(bucket: string, path: string): UpyunStoredFile | undefined { return this.files.get(`${bucket}${normalise(path)}`); }
  listFiles(bucket?: string): UpyunStoredFile[] { return [...this.files.values()].filter((f) => bucket === undefined || f.bucket === bucket); }
  putFile(bucket: string, path: string, body: Buffer | string, contentType = 'application/octet-stream'): UpyunStoredFile {
    const f = { bucket, path: normalise(path), body: Buffer.isBuffer(body) ? body : Buffer.from(body), contentType, modified: this.now(), meta: {} };
    this.files.set(`${bucket}${f.path}`, f);
    return f;
  }
  multiUploads(): UpyunMultiUpload[] { return [...this.multis.values()]; }
  /** Resolves when every notify sent so far has been answered (or failed). */
  async flush(): Promise<void> { while (this.pending.size) await Promise.all([...this.pending]); }
  reset(): void { this.files.clear(); this.multis.clear(); this.notifications.length = 0; this.requests.length = 0; }

  /** What Cloudreve's `Token` does for an `upyun` policy: the form `policy` and `authorization` it hands the client. */
  issueSession(o: { bucket: string; saveKey: string; size: number; notifyUrl: string; expiresAt?: number }): { policy: string; authorization: string; uploadUrl: string } {
    const policy = Buffer.from(JSON.stringify({ bucket: o.bucket, 'save-key': o.saveKey, expiration: o.expiresAt ?? Math.floor(this.now() / 1000) + 3600,
      'notify-url': o.notifyUrl, 'content-length': o.size, 'content-length-range': `0,${o.size}` })).toString('base64');
    return { policy, authorization: upyunAuthorization(this.opts.operator, this.opts.password, ['POST', `/${o.bucket}`, policy]), uploadUrl: `https://v0.api.upyun.com/${o.bucket}` };
  }

  // ------------------------------------------------------------------------------------------------------- handler

  async handle(req: EmulatorRequest): Promise<EmulatorResponse> {
    const record: UpyunRequestRecord = { method: req.method, url: req.url.toString(), status: 0 };
    this.requests.push(record);
    let res: EmulatorResponse;
    try {
      res = await this.route(req);
    } catch (e) {
      if (!(e instanceof UpyunError)) throw e;
      record.code = e.code;
      record.msg = e.message;
      const text = JSON.stringify({ msg: e.message, code: e.code, id: createHash('md5').update(`upyun-err-${++this.seq}`).digest('hex') });
      res = { status: e.status, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }, body: req.method === 'HEAD' ? undefined : text };
    }
    record.status = res.status;
    res.headers = { date: new Date(this.now()).toUTCString(), server: 'marco/2.0', 'x-request-id': createHash('md5').update(`upyun-req-${++this.seq}`).digest('hex'), ...res.headers };
    return res;
  }

  private async route(req: EmulatorRequest): Promise<EmulatorResponse> {
    if (req.method === 'OPTIONS') {
      return { status: 200, headers: { 'access-control-allow-origin': req.headers.origin ?? '*', 'access-control-allow-methods': 'GET, POST, PUT, DELETE, HEAD, OPTIONS',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*', 'access-control-max-age': '3600', 'content-length': '0' } };
    }
    const raw = req.url.pathname;
    const segs = raw.split('/');
    const bucket = safeDecode(segs[1] ?? '');
    const path = normalise(safeDecode(segs.slice(2).join('/')));
    const isForm = req.method === 'POST' && (req.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/form-data');
    if (isForm && path === '/') return this.form(req, bucket);
    this.restAuth(req);
    if (!this.buckets.has(bucket)) { await readBody(req.body); throw new UpyunError(40100012, 'bucket not exist'); }
    const key = `${bucket}${path}`;
    switch (req.method) {
      case 'PUT': return this.put(req, bucket, path);
      case 'GET': case 'HEAD': {
        const f = this.files.get(key);
        if (!f) throw new UpyunError(40400001, 'file or directory not found');
        const headers = { 'content-type': f.contentType, 'content-length': String(f.body.length), 'content-md5': md5hex(f.body), etag: `"${md5hex(f.body)}"`,
          'last-modified': new Date(f.modified).toUTCString(), 'x-upyun-file-type': 'file', 'x-upyun-file-size': String(f.body.length),
          'x-upyun-file-date': String(Math.floor(f.modified / 1000)), ...f.meta };
        return req.method === 'HEAD' ? { status: 200, headers } : { status: 200, headers, body: f.body };
      }
      case 'DELETE':
        await readBody(req.body);
        if (!this.files.delete(key)) throw new UpyunError(40400001, 'file or directory not found');
        return { status: 200, headers: { 'content-length': '0' } };
      case 'POST':
        await readBody(req.body);
        if (req.headers.folder === 'true') return { status: 200, headers: { 'content-length': '0' } };
        throw new UpyunError(40600001, 'dir not acceptable');
      default:
        throw new UpyunError(40000015, 'missing required arguments');
    }
  }

  // ------------------------------------------------------------------------------------------------------ REST

  private restAuth(req: EmulatorRequest): void {
    const auth = req.headers.authorization;
    if (!auth) throw new UpyunError(40100004, 'need authorization header');
    if (auth.startsWith('Basic ')) {
      const [op, ...pw] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      if (op !== this.opts.operator) throw new UpyunError(40100006, 'user not exists');
      if (pw.join(':') !== this.opts.password) throw new UpyunError(40100009, 'user password error');
      return;
    }
    const m = /^UPYUN ([^:]+):(.+)$/.exec(auth);
    if (!m) throw new UpyunError(40100003, 'unknown realm in authorization header');
    if (m[1] !== this.opts.operator) throw new UpyunError(40100006, 'user not exists');
    const date = req.headers['x-date'] ?? req.headers.date;
    if (!date) throw new UpyunError(40100001, 'need date header');
    const t = Date.parse(date);
    if (Number.isNaN(t)) throw new UpyunError(40100016, 'invalid date value in header');
    if (Math.abs(this.now() - t) > (this.opts.maxSkewMs ?? 30 * 60_000)) throw new UpyunError(40100002, 'date offset error');
    const md5 = req.headers['content-md5'];
    const uris = [req.url.pathname + req.url.search, req.url.pathname];
    if (!uris.some((uri) => upyunSignature(this.opts.password, [req.method, uri, date, md5]) === m[2])) throw new UpyunError(40100005, 'signature error');
  }

  private async put(req: EmulatorRequest, bucket: string, path: string): Promise<EmulatorResponse> {
    const stage = (req.headers['x-upyun-multi-stage'] ?? '').toLowerCase();
    if (stage) return this.multi(req, bucket, path, stage);
    const body = await readBody(req.body);
    const md5 = req.headers['content-md5'];
    if (md5 !== undefined && md5.toLowerCase() !== md5hex(body)) throw new UpyunError(40300007, 'content md5 not match');
    const meta = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-upyun-meta-')));
    const f: UpyunStoredFile = { bucket, path, body, contentType: req.headers['content-type'] ?? 'application/octet-stream', modified: this.now(), meta };
    this.files.set(`${bucket}${path}`, f);
    return { status: 200, headers: { 'content-length': '0' } };
  }

  private async multi(req: EmulatorRequest, bucket: string, path: string, stage: string): Promise<EmulatorResponse> {
    const body = await readBody(req.body);
    const h = req.headers;
    if (stage === 'initiate') {
      const length = Number(h['x-upyun-multi-length']);
      if (!h['x-upyun-multi-length'] || !Number.isInteger(length) || length < 0) throw new UpyunError(40000015, 'missing required arguments');
      const hex = createHash('md5').update(`upyun-multi-${++this.seq}-${bucket}${path}`).digest('hex');
      const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
      const meta = Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith('x-upyun-meta-')));
      this.multis.set(uuid, { uuid, bucket, path, length, type: h['x-upyun-multi-type'] ?? 'application/octet-stream',
        disorder: h['x-upyun-multi-disorder'] === 'true', parts: new Map(), next: 0, meta });
      return { status: 204, headers: { 'x-upyun-multi-uuid': uuid, 'x-upyun-next-part-id': '0', 'x-upyun-multi-part-size': String(UPYUN_PART_SIZE) } };
    }
    const u = this.multis.get(h['x-upyun-multi-uuid'] ?? '');
    if (!u || u.bucket !== bucket || u.path !== path) throw new UpyunError(40400001, 'file or directory not found');
    const count = Math.max(1, Math.ceil(u.length / UPYUN_PART_SIZE));
    if (stage === 'upload') {
      const id = Number(h['x-upyun-part-id']);
      if (h['x-upyun-part-id'] === undefined || !Number.isInteger(id) || id < 0 || id >= count) throw new UpyunError(40000026, 'block index out of range');
      if (!u.disorder && id !== u.next) throw new UpyunError(40000026, 'block index out of range');
      const expected = id === count - 1 ? u.length - id * UPYUN_PART_SIZE : UPYUN_PART_SIZE;
      if (body.length !== expected) throw new UpyunError(40000025, 'file size not match');
      const md5 = h['content-md5'];
      if (md5 !== undefined && md5.toLowerCase() !== md5hex(body)) throw new UpyunError(40000006, 'content md5 not match');
      u.parts.set(id, body);
      let next = 0;
      while (u.parts.has(next)) next++;
      u.next = next >= count ? -1 : next;
      return { status: 204, headers: { 'x-upyun-multi-uuid': u.uuid, 'x-upyun-next-part-id': String(u.next) } };
    }
    if (stage === 'complete') {
      for (let i = 0; i < count; i++) if (!u.parts.has(i) && u.length > 0) throw new UpyunError(40000024, 'block not finished');
      const data = Buffer.concat([...u.parts.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b));
      const whole = h['x-upyun-multi-md5'];
      if (whole !== undefined && whole.toLowerCase() !== md5hex(data)) throw new UpyunError(40000006, 'content md5 not match');
      const existed = this.files.has(`${bucket}${path}`);
      this.files.set(`${bucket}${path}`, { bucket, path, body: data, contentType: u.type, modified: this.now(), meta: u.meta });
      this.multis.delete(u.uuid);
      return { status: existed ? 204 : 201, headers: { 'x-upyun-multi-uuid': u.uuid, 'x-upyun-multi-type': u.type, 'x-upyun-multi-length': String(u.length) } };
    }
    throw new UpyunError(40000015, 'missing required arguments');
  }

  // ------------------------------------------------------------------------------------------------------ FORM

  private async form(req: EmulatorRequest, urlBucket: string): Promise<EmulatorResponse> {
    const { fields, file } = await parseForm(req);
    const policyB64 = fields.get('policy');
    if (!policyB64) throw new UpyunError(40000007, 'need policy');
    let policy: Record<string, unknown>;
    try {
      policy = JSON.parse(Buffer.from(policyB64, 'base64').toString('utf8')) as Record<string, unknown>;
      if (typeof policy !== 'object' || policy === null) throw new Error('not an object');
    } catch { throw new UpyunError(40000009, 'decode policy error'); }
    const authorization = fields.get('authorization');
    const legacy = fields.get('signature');
    if (!authorization && !legacy) throw new UpyunError(40000008, 'need signature');
    const bucket = String(policy.bucket ?? policy.service ?? '');
    if (!bucket) throw new UpyunError(40000003, 'need bucket name');
    if (!this.buckets.has(bucket) || bucket !== urlBucket) throw new UpyunError(40100012, 'bucket not exist');
    if (policy.expiration === undefined) throw new UpyunError(40000004, 'need expiration');
    if (!policy['save-key']) throw new UpyunError(40000001, 'need save-key');
    if (authorization) {
      const m = /^UPYUN ([^:]+):(.+)$/.exec(authorization);
      if (!m) throw new UpyunError(40100003, 'unknown realm in authorization header');
      if (m[1] !== this.opts.operator) throw new UpyunError(40100006, 'user not exists');
      const date = typeof policy.date === 'string' ? policy.date : undefined;
      const md5 = typeof policy['content-md5'] === 'string' ? policy['content-md5'] : undefined;
      if (upyunSignature(this.opts.password, ['POST', `/${bucket}`, date, policyB64, md5]) !== m[2]) throw new UpyunError(40100005, 'signature error');
    } else if (!this.opts.formApiSecret || upyunLegacyFormSignature(policyB64, this.opts.formApiSecret) !== legacy) {
      throw new UpyunError(40100005, 'signature error');
    }
    if (Number(policy.expiration) * 1000 < this.now()) throw new UpyunError(40300028, 'request has expired');
    if (!file) throw new UpyunError(40000005, 'need file');
    const size = file.data.length;
    if (policy['content-length'] !== undefined && Number(policy['content-length']) !== size) throw new UpyunError(40000025, 'file size not match');
    const range = typeof policy['content-length-range'] === 'string' ? /^(\d+),(\d+)$/.exec(policy['content-length-range']) : null;
    if (range && size < Number(range[1])) throw new UpyunError(40300008, 'file too small');
    if (range && size > Number(range[2])) throw new UpyunError(40300009, 'file too large');
    const fileMd5 = md5hex(file.data);
    if (typeof policy['content-md5'] === 'string' && policy['content-md5'] && policy['content-md5'].toLowerCase() !== fileMd5) throw new UpyunError(40000006, 'content md5 not match');
    const suffix = file.filename.includes('.') ? file.filename.slice(file.filename.lastIndexOf('.') + 1) : '';
    if (typeof policy['allow-file-type'] === 'string' && policy['allow-file-type']
      && !policy['allow-file-type'].toLowerCase().split(',').includes(suffix.toLowerCase())) throw new UpyunError(40300010, 'file type error');
    const path = normalise(renderSaveKey(String(policy['save-key']), file.filename, fileMd5, this.now(), () => createHash('md5').update(`r-${++this.seq}`).digest('hex')));
    const contentType = String(policy['content-type'] ?? fields.get('content-type') ?? file.mimeType ?? 'application/octet-stream');
    this.files.set(`${bucket}${path}`, { bucket, path, body: file.data, contentType, modified: this.now(), meta: {} });
    const time = Math.floor(this.now() / 1000);
    const result: [string, string | number][] = [['code', 200], ['message', 'ok'], ['url', path], ['time', time]];
    if (typeof policy['ext-param'] === 'string') result.push(['ext-param', policy['ext-param']]);
    const notifyUrl = typeof policy['notify-url'] === 'string' ? policy['notify-url'] : undefined;
    if (notifyUrl) {
      const p = this.sendNotify(notifyUrl, result);
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
      if (this.opts.notifyMode === 'before-response') await p;
    }
    const returnUrl = typeof policy['return-url'] === 'string' ? policy['return-url'] : undefined;
    if (returnUrl) {
      const q = result.map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&');
      return { status: 302, headers: { location: `${returnUrl}${returnUrl.includes('?') ? '&' : '?'}${q}`, 'content-length': '0' } };
    }
    const text = JSON.stringify(Object.fromEntries(result));
    return { status: 200, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }, body: text };
  }

  private async sendNotify(url: string, result: [string, string | number][]): Promise<void> {
    const body = result.map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&');
    const rec: UpyunNotifyRecord = { url, headers: {}, body };
    this.notifications.push(rec);
    let target: URL;
    try { target = new URL(url); } catch { rec.error = 'invalid notify-url'; return; }
    const date = new Date(this.now()).toUTCString();
    const contentMd5 = md5hex(body);
    rec.headers = {
      'content-type': 'application/x-www-form-urlencoded',
      date,
      'content-md5': contentMd5,
      authorization: upyunAuthorization(this.opts.operator, this.opts.password, ['POST', safeDecode(target.pathname), date, contentMd5]),
      'user-agent': 'UPYUN-Notify/1.0',
    };
    try {
      const res = await (this.opts.fetch ?? fetch)(target, { method: 'POST', headers: rec.headers, body, signal: AbortSignal.timeout(this.opts.notifyTimeoutMs ?? 5000) });
      rec.status = res.status;
      rec.responseBody = await res.text();
    } catch (e) {
      rec.error = (e as Error).message;
    }
  }
}

interface FormFile { filename: string; mimeType?: string; data: Buffer }

async function parseForm(req: EmulatorRequest): Promise<{ fields: Map<string, string>; file?: FormFile }> {
  const raw = await readBody(req.body);
  return new Promise((resolve, reject) => {
    const fields = new Map<string, string>();
    let file: FormFile | undefined;
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: { 'content-type': req.headers['content-type'] ?? '' }, limits: { fieldSize: 1024 * 1024 } });
    } catch {
      reject(new UpyunError(40000002, 'need body'));
      return;
    }
    bb.on('field', (name, value) => { if (!fields.has(name)) fields.set(name, value); });
    bb.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => { if (name === 'file' && !file) file = { filename: info.filename ?? 'file', mimeType: info.mimeType, data: Buffer.concat(chunks) }; });
    });
    bb.on('close', () => resolve(file ? { fields, file } : { fields }));
    bb.on('error', () => reject(new UpyunError(40000002, 'need body')));
    bb.end(raw);
  });
}

/** Expands Upyun save-key placeholders ({year} {mon} {day} {hour} {min} {sec} {filemd5} {random} {random32} {filename} {suffix} {.suffix}). */
export function renderSaveKey(tpl: string, filename: string, fileMd5: string, nowMs: number, random: () => string): string {
  const d = new Date(nowMs);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const dot = filename.lastIndexOf('.');
  const stem = dot > 0 ? filename.slice(0, dot) : filename;
  const suffix = dot > 0 ? filename.slice(dot + 1) : '';
  const map: Record<string, () => string> = {
    year: () => String(d.getUTCFullYear()), mon: () => p2(d.getUTCMonth() + 1), day: () => p2(d.getUTCDate()),
    hour: () => p2(d.getUTCHours()), min: () => p2(d.getUTCMinutes()), sec: () => p2(d.getUTCSeconds()),
    filemd5: () => fileMd5, random: () => random().slice(0, 16), random32: () => random(),
    filename: () => stem, suffix: () => suffix, '.suffix': () => (suffix ? `.${suffix}` : ''),
  };
  return tpl.replace(/\{(\.?[a-z0-9]+)\}/g, (m, name: string) => map[name]?.() ?? m);
}

function normalise(p: string): string { return `/${p.split('/').filter(Boolean).join('/')}`; }
function safeDecode(s: string): string { try { return decodeURIComponent(s); } catch { return s; } }
