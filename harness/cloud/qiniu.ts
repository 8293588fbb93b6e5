// Qiniu Kodo emulator: resumable upload v2 (`/buckets/<b>/objects/<base64url key>/uploads[/<id>[/<n>]]`: init,
// upload part, list parts, complete, abort) authorised by `Authorization: UpToken <token>`, the put-policy rules a
// Cloudreve token carries (scope `bucket[:key]`, deadline, fsizeLimit, insertOnly, saveKey/forceSaveKey), Qiniu's
// JSON errors and statuses (401 bad token, 403 scope, 612 no such uploadId, 614 file exists, 579 callback failed),
// and the upload callback Qiniu sends before answering the complete request (`Authorization: QBox <ak>:<sign>`).
// Also answers the region query (`GET /v4/query`) with the emulator's own origin.
import { createHash } from 'node:crypto';
import { readBody, type EmulatorRequest, type EmulatorResponse, type ProviderEmulator } from './mount.js';
import { fromB64url, parseUploadToken, qboxToken, qetag, qiniuSign, qiniuUploadToken, b64url, type QiniuPutPolicy } from './qiniu-sign.js';

export interface QiniuEmulatorOptions {
  accessKey: string;
  secretKey: string;
  buckets?: string[];
  /** Every part but the last must be at least this long at completion (default 1 MiB). 0 turns the check off. */
  minPartSize?: number;
  /** Largest part (default 1 GiB). */
  maxPartSize?: number;
  now?: () => number;
  callbackTimeoutMs?: number;
  fetch?: typeof fetch;
}

export interface QiniuStoredObject { bucket: string; key: string; body: Buffer; mimeType: string; hash: string; putTime: number }
export interface QiniuPartRecord { partNumber: number; size: number; etag: string; md5: string; body: Buffer; putTime: number }
export interface QiniuUploadRecord {
  uploadId: string; bucket: string; key?: string; expireAt: number; parts: Map<number, QiniuPartRecord>;
}
export interface QiniuCallbackRecord {
  url: string; headers: Record<string, string>; body: string; status?: number; responseBody?: string; error?: string; outcome: 'ok' | 'callback-failed';
}
export interface QiniuRequestRecord { method: string; url: string; status: number; error?: string }

class QiniuError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

const UPLOAD_TTL_S = 7 * 24 * 3600;

export class QiniuEmulator implements ProviderEmulator {
  readonly provider = 'qiniu';
  readonly buckets: Set<string>;
  readonly callbacks: QiniuCallbackRecord[] = [];
  readonly requests: QiniuRequestRecord[] = [];
  minPartSize: number;
  private readonly objects = new Map<string, QiniuStoredObject>();
  private readonly uploadsById = new Map<string, QiniuUploadRecord>();
  private readonly now: () => number;
  private seq = 0;

  constructor(private readonly opts: QiniuEmulatorOptions) {
    this.buckets = new Set(opts.buckets ?? ['bucket']);
    this.minPartSize = opts.minPartSize ?? 1024 * 1024;
    this.now = opts.now ?? Date.now;
  }

  // ------------------------------------------------------------------------------------------------ inspection API

  object(bucket: string, key: string): QiniuStoredObject | undefined { return this.objects.get(`${bucket}/${key}`); }
  listObjects(bucket?: string): QiniuStoredObject[] { return [...this.objects.values()].filter((o) => bucket === undefined || o.bucket === bucket); }
  putObject(bucket: string, key: string, body: Buffer | string, mimeType = 'application/octet-stream'): QiniuStoredObject {
    const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const o = { bucket, key, body: b, mimeType, hash: qetag(b), putTime: this.now() };
    this.objects.set(`${bucket}/${key}`, o);
    return o;
  }
  uploads(): QiniuUploadRecord[] { return [...this.uploadsById.values()]; }
  reset(): void { this.objects.clear(); this.uploadsById.clear(); this.callbacks.length = 0; this.requests.length = 0; }

  /** An upload token signed with the emulator's keys. */
  token(policy: QiniuPutPolicy): string { return qiniuUploadToken(this.opts.accessKey, this.opts.secretKey, policy); }

  /**
   * What Cloudreve's `Token` does for a `qiniu` policy: its put policy (scope `bucket:key`, callback to `callbackUrl`,
   * forceSaveKey, fsizeLimit), then InitParts; returns the credential and `upload_urls[0]`.
   */
  issueSession(o: { upHost: string; bucket: string; key: string; size: number; callbackUrl: string; expiresAt?: number }): { token: string; uploadUrl: string; uploadId: string } {
    const policy: QiniuPutPolicy = {
      scope: `${o.bucket}:${o.key}`,
      deadline: o.expiresAt ?? Math.floor(this.now() / 1000) + 3600,
      callbackUrl: o.callbackUrl,
      callbackBody: '{"size":$(fsize),"pic_info":"$(imageInfo.width),$(imageInfo.height)"}',
      callbackBodyType: 'application/json',
      forceSaveKey: true,
      saveKey: o.key,
      ...(o.size > 0 ? { fsizeLimit: o.size } : {}),
    };
    const token = this.token(policy);
    const uploadId = this.newUpload(o.bucket, o.key).uploadId;
    return { token, uploadId, uploadUrl: `${o.upHost.replace(/\/$/, '')}/buckets/${o.bucket}/objects/${b64url(o.key)}/uploads/${uploadId}` };
  }

  // ------------------------------------------------------------------------------------------------------- handler

  async handle(req: EmulatorRequest): Promise<EmulatorResponse> {
    const record: QiniuRequestRecord = { method: req.method, url: req.url.toString(), status: 0 };
    this.requests.push(record);
    const reqId = createHash('sha1').update(`qiniu-req-${++this.seq}`).digest('base64url').slice(0, 16);
    let res: EmulatorResponse;
    try {
      res = await this.route(req);
    } catch (e) {
      if (!(e instanceof QiniuError)) throw e;
      record.error = e.message;
      res = json(e.status, { error: e.message });
    }
    record.status = res.status;
    res.headers = { 'x-reqid': reqId, 'x-log': 'UP', date: new Date(this.now()).toUTCString(), ...res.headers };
    return res;
  }

  private async route(req: EmulatorRequest): Promise<EmulatorResponse> {
    const path = req.url.pathname;
    if (req.method === 'OPTIONS') {
      return { status: 200, headers: { 'access-control-allow-origin': req.headers.origin ?? '*', 'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*', 'access-control-max-age': '3600', 'content-length': '0' } };
    }
    if (req.method === 'GET' && (path === '/v4/query' || path === '/v3/query' || path === '/v2/query')) return this.regionQuery(req, path);
    const m = /^\/buckets\/([^/]+)\/objects\/([^/]+)\/uploads(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(path);
    if (!m) { await readBody(req.body); throw new QiniuError(404, 'Document not found'); }
    const bucket = decodeURIComponent(m[1] ?? '');
    const encodedKey = m[2] ?? '';
    const key = encodedKey === '~' ? undefined : fromB64url(encodedKey).toString('utf8');
    const uploadId = m[3];
    const partNumber = m[4];
    const policy = this.checkToken(req, bucket, key);
    if (uploadId === undefined) {
      if (req.method !== 'POST') throw new QiniuError(405, 'method not allowed');
      await readBody(req.body);
      if (!this.buckets.has(bucket)) throw new QiniuError(631, 'no such bucket');
      const u = this.newUpload(bucket, policy.forceSaveKey && policy.saveKey ? policy.saveKey : key);
      return json(200, { uploadId: u.uploadId, expireAt: u.expireAt });
    }
    const u = this.uploadsById.get(uploadId);
    if (!u || u.bucket !== bucket || u.expireAt * 1000 < this.now()) { await readBody(req.body); throw new QiniuError(612, 'no such uploadId'); }
    if (partNumber !== undefined) {
      if (req.method !== 'PUT') throw new QiniuError(405, 'method not allowed');
      return this.uploadPart(req, u, partNumber);
    }
    if (req.method === 'POST') return this.complete(req, u, policy);
    if (req.method === 'DELETE') { await readBody(req.body); this.uploadsById.delete(u.uploadId); return json(200, {}); }
    if (req.method === 'GET') return this.listParts(req, u);
    throw new QiniuError(405, 'method not allowed');
  }

  private checkToken(req: EmulatorRequest, bucket: string, key: string | undefined): QiniuPutPolicy {
    const auth = req.headers.authorization ?? '';
    if (!auth) throw new QiniuError(401, 'token not specified');
    if (!auth.startsWith('UpToken ')) throw new QiniuError(401, 'bad token');
    const t = parseUploadToken(auth.slice('UpToken '.length).trim());
    if (!t || !t.policy) throw new QiniuError(401, 'bad token');
    if (t.accessKey !== this.opts.accessKey || qiniuSign(this.opts.secretKey, t.encodedPolicy) !== t.signature) throw new QiniuError(401, 'bad token');
    const p = t.policy;
    if (typeof p.scope !== 'string' || !p.scope) throw new QiniuError(400, 'scope not specified');
    if (typeof p.deadline !== 'number' || p.deadline * 1000 < this.now()) throw new QiniuError(401, 'expired token');
    const i = p.scope.indexOf(':');
    const scopeBucket = i < 0 ? p.scope : p.scope.slice(0, i);
    const scopeKey = i < 0 ? undefined : p.scope.slice(i + 1);
    if (scopeBucket !== bucket) throw new QiniuError(401, 'bad token');
    const effective = p.forceSaveKey && p.saveKey ? p.saveKey : key;
    if (scopeKey !== undefined && effective !== undefined) {
      const ok = p.isPrefixalScope === 1 ? effective.startsWith(scopeKey) : effective === scopeKey;
      if (!ok) throw new QiniuError(403, 'key doesn\'t match with scope');
    }
    return p;
  }

  private newUpload(bucket: string, key: string | undefined): QiniuUploadRecord {
    const uploadId = createHash('sha256').update(`qiniu-upload-${++this.seq}-${bucket}/${key ?? '~'}`).digest('hex').slice(0, 40);
    const u: QiniuUploadRecord = { uploadId, bucket, expireAt: Math.floor(this.now() / 1000) + UPLOAD_TTL_S, parts: new Map(), ...(key !== undefined ? { key } : {}) };
    this.uploadsById.set(uploadId, u);
    return u;
  }

  private async uploadPart(req: EmulatorRequest, u: QiniuUploadRecord, partNumber: string): Promise<EmulatorResponse> {
    const body = await readBody(req.body);
    if (!/^\d+$/.test(partNumber) || Number(partNumber) < 1 || Number(partNumber) > 10000) throw new QiniuError(400, 'invalid partNumber');
    if (body.length === 0) throw new QiniuError(400, 'part body is empty');
    if (body.length > (this.opts.maxPartSize ?? 1024 ** 3)) throw new QiniuError(413, 'part size too large');
    const md5 = createHash('md5').update(body).digest('hex');
    const given = req.headers['content-md5'];
    if (given !== undefined && given.toLowerCase() !== md5) throw new QiniuError(400, 'md5 not match');
    const part: QiniuPartRecord = { partNumber: Number(partNumber), size: body.length, etag: qetag(body), md5, body, putTime: this.now() };
    u.parts.set(part.partNumber, part);
    return json(200, { etag: part.etag, md5 });
  }

  private listParts(req: EmulatorRequest, u: QiniuUploadRecord): EmulatorResponse {
    const marker = Number(req.url.searchParams.get('part-number-marker') ?? 0) || 0;
    const max = Math.min(Number(req.url.searchParams.get('max-parts') ?? 1000) || 1000, 1000);
    const all = [...u.parts.values()].sort((a, b) => a.partNumber - b.partNumber).filter((p) => p.partNumber > marker);
    const page = all.slice(0, max);
    return json(200, { uploadId: u.uploadId, expireAt: u.expireAt, partNumberMarker: all.length > page.length ? page.at(-1)?.partNumber ?? 0 : 0,
      parts: page.map((p) => ({ size: p.size, etag: p.etag, partNumber: p.partNumber, putTime: Math.floor(p.putTime / 1000) })) });
  }

  private async complete(req: EmulatorRequest, u: QiniuUploadRecord, policy: QiniuPutPolicy): Promise<EmulatorResponse> {
    const raw = (await readBody(req.body)).toString('utf8');
    let body: { parts?: { etag?: string; partNumber?: number }[]; fname?: string; mimeType?: string; customVars?: Record<string, string>; metadata?: Record<string, string> };
    try { body = JSON.parse(raw) as typeof body; } catch { throw new QiniuError(400, 'invalid json'); }
    if (!Array.isArray(body.parts) || body.parts.length === 0) throw new QiniuError(400, 'parts is empty');
    const parts: QiniuPartRecord[] = [];
    let prev = 0;
    for (const p of body.parts) {
      const n = Number(p.partNumber);
      if (!Number.isInteger(n) || n <= prev) throw new QiniuError(400, 'partNumber must be in ascending order');
      prev = n;
      const stored = u.parts.get(n);
      if (!stored) throw new QiniuError(400, `part ${n} not found`);
      if (stored.etag !== p.etag) throw new QiniuError(400, `etag of part ${n} mismatch`);
      parts.push(stored);
    }
    if (this.minPartSize > 0 && parts.slice(0, -1).some((p) => p.size < this.minPartSize)) throw new QiniuError(400, 'part size too small');
    const data = Buffer.concat(parts.map((p) => p.body));
    if (typeof policy.fsizeLimit === 'number' && data.length > policy.fsizeLimit) throw new QiniuError(413, 'exceed FsizeLimit');
    if (typeof policy.fsizeMin === 'number' && data.length < policy.fsizeMin) throw new QiniuError(403, 'less than FsizeMin');
    const hash = qetag(data);
    const key = (policy.forceSaveKey && policy.saveKey) ? policy.saveKey : u.key ?? policy.saveKey ?? hash;
    const overwriteAllowed = policy.scope.includes(':') && policy.insertOnly !== 1;
    if (!overwriteAllowed && this.objects.has(`${u.bucket}/${key}`)) throw new QiniuError(614, 'file exists');
    const mimeType = body.mimeType || 'application/octet-stream';
    const obj: QiniuStoredObject = { bucket: u.bucket, key, body: data, mimeType, hash, putTime: this.now() };
    this.objects.set(`${u.bucket}/${key}`, obj);
    this.uploadsById.delete(u.uploadId);
    const vars = new Map<string, string>([
      ['bucket', obj.bucket], ['key', key], ['etag', hash], ['fname', body.fname ?? ''], ['fsize', String(data.length)],
      ['mimeType', mimeType], ['endUser', typeof policy.endUser === 'string' ? policy.endUser : ''], ['persistentId', ''],
      ['ext', key.includes('.') ? key.slice(key.lastIndexOf('.')) : ''], ['fprefix', key.slice(0, key.includes('.') ? key.lastIndexOf('.') : key.length)],
      ['uuid', createHash('md5').update(`${key}-${this.seq}`).digest('hex')],
      ['imageInfo.width', ''], ['imageInfo.height', ''], ['imageInfo.format', ''],
    ]);
    for (const [k, v] of Object.entries(body.customVars ?? {})) if (k.startsWith('x:')) vars.set(k, String(v));
    if (policy.callbackUrl) return this.callback(policy, vars, obj);
    if (policy.returnBody) {
      const text = renderQiniuBody(policy.returnBody, 'application/json', vars);
      return { status: 200, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }, body: text };
    }
    return json(200, { hash, key });
  }

  private async callback(policy: QiniuPutPolicy, vars: Map<string, string>, obj: QiniuStoredObject): Promise<EmulatorResponse> {
    const url = String(policy.callbackUrl).split(';')[0] ?? '';
    const type = policy.callbackBodyType || 'application/x-www-form-urlencoded';
    const body = renderQiniuBody(policy.callbackBody ?? '', type, vars);
    const rec: QiniuCallbackRecord = { url, headers: {}, body, outcome: 'callback-failed' };
    this.callbacks.push(rec);
    const fail = (errCode: number, error: string): EmulatorResponse => json(579, { error: JSON.stringify({
      callback_url: url, callback_bodyType: type, callback_body: body, token: '', err_code: errCode, error, hash: obj.hash, key: obj.key }) });
    let target: URL;
    try { target = new URL(url); } catch { return fail(502, `Post ${url}: invalid URL`); }
    const headers = {
      'content-type': type,
      authorization: `QBox ${qboxToken(this.opts.accessKey, this.opts.secretKey, safeDecode(target.pathname), target.search, type, body)}`,
      'user-agent': 'qiniu-callback/1.0',
    };
    rec.headers = headers;
    let status: number;
    let text: string;
    try {
      const res = await (this.opts.fetch ?? fetch)(target, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.opts.callbackTimeoutMs ?? 5000) });
      status = res.status;
      text = await res.text();
    } catch (e) {
      rec.error = (e as Error).message;
      return fail(502, `Post ${url}: ${(e as Error).message}`);
    }
    rec.status = status;
    rec.responseBody = text;
    if (status !== 200) return fail(status, text);
    try { JSON.parse(text); } catch { return fail(status, 'callback response is not a valid json'); }
    rec.outcome = 'ok';
    return { status: 200, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }, body: text };
  }

  private regionQuery(req: EmulatorRequest, path: string): EmulatorResponse {
    const host = req.url.host;
    if (path === '/v2/query') {
      const svc = { src: { main: [host] } };
      return json(200, { ttl: 86400, io: svc, up: { acc: { main: [host] }, src: { main: [host] } }, uc: svc, rs: svc, rsf: svc, api: svc, s3: svc });
    }
    const svc = { domains: [host] };
    return json(200, { hosts: [{ region: 'z0', ttl: 86400, io: svc, io_src: svc, up: svc, uc: svc, rs: svc, rsf: svc, api: svc, s3: { ...svc, region_alias: 'cn-east-1' } }] });
  }
}

/** Renders a Qiniu `$(var)` template: plain substitution (JSON-escaped for a JSON body, URL-encoded for a form body). */
export function renderQiniuBody(template: string, bodyType: string, vars: ReadonlyMap<string, string>): string {
  const isJson = bodyType.toLowerCase().includes('json');
  return template.replace(/\$\(([^)]+)\)/g, (_, name: string) => {
    const v = vars.get(name) ?? '';
    return isJson ? JSON.stringify(v).slice(1, -1) : encodeURIComponent(v);
  });
}

function json(status: number, body: unknown): EmulatorResponse {
  const text = JSON.stringify(body);
  return { status, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }, body: text };
}

function safeDecode(s: string): string { try { return decodeURIComponent(s); } catch { return s; } }
