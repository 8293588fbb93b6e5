// Qiniu Kodo emulator: resumable upload v2 (`/buckets/<b>/objects/<base64url key>/uploads[/<id>[/<n>]]`: init,
// upload part, list parts, complete, abort) authorised by `Authorization: UpToken <token>`, the put-policy rules a
// Cloudreve token carries (scope `bucket[:key]`, deadline, fsizeLimit, insertOnly, saveKey/forceSaveKey), Qiniu's
// JSON errors and statuses (401 bad token, 403 scope, 612 no such uploadId, 614 file exists, 579 callback failed),
// and the upload callback Qiniu sends before answering the complete request (`Authorization: QBox <ak>:<sign>`).
// Also answers the region query (`GET /v4/query`) with the emulator's own origin.
//
// Form upload (what the SDKs' FormUploader sends; the only way to store an EMPTY object, since a resumable part may
// not be empty): `POST /` on the same mount, `multipart/form-data` with `token` (the UpToken, in the form instead of
// an Authorization header), optional `key`, `x:<var>` custom vars, `crc32` (decimal CRC-32 of the file) and `file`
// (parsed streaming; fields may come in any order, the Node SDK sends `x:*` and `crc32` after the file). The token
// is checked as for the resumable path, the bucket being the scope's; a key outside a `bucket:key` scope → 403.
// The file may be 0 bytes. Errors: 401 `token not specified` / `bad token` / `expired token`, 400 `file not
// specified` / `invalid multipart form`, 406 `crc32 not match`, 413 `exceed FsizeLimit`, 614 `file exists`,
// 631 `no such bucket`; success → 200 `{"hash","key"}`, the rendered returnBody, or the callback as for complete.
//
// The same mount also serves the download (io) and management (rs) hosts; requests are told apart thus:
//  * a GET/HEAD whose query carries `token=` or `e=` is a private download: `GET /<escaped key>[?q]&e=<deadline>&token=
//    <AK>:<base64url(HMAC-SHA1(SK, "<scheme>://<host>/<key>[?q]&e=<deadline>"))>` (what the SDKs' private URL makers
//    and Cloudreve's `signSourceURL` produce; Qiniu ignores anything after `token`). The signed URL is rebuilt from the
//    Host and path+query the request arrived with; its scheme is not checked (http and https both pass, so a TLS
//    proxy in front of the loopback mount changes nothing). The bucket is the one `downloadDomains` maps the request's
//    Host to, else the first configured bucket. 200 (body, Content-Length/Type, quoted qetag ETag, Last-Modified),
//    206 + Content-Range for one `Range: bytes=a-b` / `a-` / `-n`, 416 when unsatisfiable; 401 `download token auth
//    failed` (bad AK/signature/shape), 401 `token out of date` (deadline past), 401 `download token not specified`
//    (`e=` without token); 404 `Document not found` when missing (checked after the token). HEAD likewise, no body.
//  * `/stat/<entry>` (GET as the Node SDK sends it, POST as qiniu/go-sdk — Cloudreve — does), `POST /delete/<entry>`,
//    `POST /batch` (form body, `op=/delete/<entry>` or `op=/stat/<entry>`, repeated) are management calls; `<entry>` is
//    base64url("bucket:key") and names the bucket. They take `Authorization: QBox <AK>:<sign>` (path[?query] "\n"
//    [+ form body]) or `Qiniu <AK>:<sign>` (V2: method, path, Host, Content-Type, X-Qiniu-* headers, form/JSON body,
//    `qiniuV2SignedData`). Anything else → 401 `bad token`. Stat → 200 `{fsize,hash,mimeType,putTime(100 ns),type}`
//    or 612 `no such file or directory`; delete → 200 empty or 612; batch → 200 `[{"code":200},…]` when every op
//    succeeded, else 298 with each op's `{code, data:{error}}`; an unknown bucket → 631 `no such bucket`.
//    Quirk tolerated (and recorded as `quirk` on the request): the qiniu Node SDK 7.15.2 signs `Host: host:port:port`
//    when the URL has an explicit port (`util.generateAccessTokenV2` appends `u.port` to `u.host`), which real Qiniu
//    never sees on its default ports; `nodeSdkHostQuirk: false` refuses it.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import busboy from 'busboy';
import { readBody, type EmulatorRequest, type EmulatorResponse, type ProviderEmulator } from './mount.js';
import { fromB64url, parseUploadToken, qboxSignedData, qboxToken, qetag, qiniuSign, qiniuUploadToken, qiniuV2SignedData, b64url,
  type QiniuPutPolicy } from './qiniu-sign.js';

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
  /** Download host (`host[:port]`, as in the Host header) → bucket; a host not listed downloads from the first bucket. */
  downloadDomains?: Record<string, string>;
  /** Accept the qiniu Node SDK's doubled `:port` in a V2 management signature (default true). */
  nodeSdkHostQuirk?: boolean;
}

export interface QiniuStoredObject { bucket: string; key: string; body: Buffer; mimeType: string; hash: string; putTime: number }
export interface QiniuPartRecord { partNumber: number; size: number; etag: string; md5: string; body: Buffer; putTime: number }
export interface QiniuUploadRecord {
  uploadId: string; bucket: string; key?: string; expireAt: number; parts: Map<number, QiniuPartRecord>;
}
export interface QiniuCallbackRecord {
  url: string; headers: Record<string, string>; body: string; status?: number; responseBody?: string; error?: string; outcome: 'ok' | 'callback-failed';
}
export interface QiniuRequestRecord { method: string; url: string; status: number; error?: string; quirk?: string }

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
      res = await this.route(req, record);
    } catch (e) {
      if (!(e instanceof QiniuError)) throw e;
      record.error = e.message;
      res = json(e.status, { error: e.message });
    }
    record.status = res.status;
    res.headers = { 'x-reqid': reqId, 'x-log': 'UP', date: new Date(this.now()).toUTCString(), ...res.headers };
    return res;
  }

  private async route(req: EmulatorRequest, record: QiniuRequestRecord): Promise<EmulatorResponse> {
    const path = req.url.pathname;
    if (req.method === 'OPTIONS') {
      return { status: 200, headers: { 'access-control-allow-origin': req.headers.origin ?? '*', 'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*', 'access-control-max-age': '3600', 'content-length': '0' } };
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && (req.url.searchParams.has('token') || req.url.searchParams.has('e'))) {
      await readBody(req.body);
      return this.download(req);
    }
    if (req.method === 'GET' && (path === '/v4/query' || path === '/v3/query' || path === '/v2/query')) return this.regionQuery(req, path);
    const mg = /^\/(stat|delete)\/([^/]+)$/.exec(path);
    if (mg || path === '/batch') return this.management(req, record, mg?.[1], mg?.[2]);
    if (path === '/' && req.method === 'POST') return this.formUpload(req);
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
    return this.verifyUpToken(auth.slice('UpToken '.length).trim(), bucket, key);
  }

  /** The put-policy checks of an upload token; `bucket` undefined (form upload) takes the scope's bucket. */
  private verifyUpToken(token: string, bucket: string | undefined, key: string | undefined): QiniuPutPolicy {
    const t = parseUploadToken(token);
    if (!t || !t.policy) throw new QiniuError(401, 'bad token');
    if (t.accessKey !== this.opts.accessKey || qiniuSign(this.opts.secretKey, t.encodedPolicy) !== t.signature) throw new QiniuError(401, 'bad token');
    const p = t.policy;
    if (typeof p.scope !== 'string' || !p.scope) throw new QiniuError(400, 'scope not specified');
    if (typeof p.deadline !== 'number' || p.deadline * 1000 < this.now()) throw new QiniuError(401, 'expired token');
    const { bucket: scopeBucket } = scopeOf(p);
    if (bucket !== undefined && scopeBucket !== bucket) throw new QiniuError(401, 'bad token');
    const effective = p.forceSaveKey && p.saveKey ? p.saveKey : key;
    if (effective !== undefined) checkScopeKey(p, effective);
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
    const { obj, vars } = this.storeUpload(u.bucket, u.key, data, policy, body);
    this.uploadsById.delete(u.uploadId);
    return this.answer(policy, vars, obj);
  }

  /**
   * What a finished upload (resumable complete or form upload) does before answering: fsizeLimit/fsizeMin, the key
   * (forceSaveKey's saveKey, else the client's key, else saveKey, else the hash), no overwrite unless the scope names
   * the key and insertOnly is off (614), then stores the object; returns it with the callback/returnBody variables.
   */
  private storeUpload(bucket: string, clientKey: string | undefined, data: Buffer, policy: QiniuPutPolicy,
    o: { fname?: string | undefined; mimeType?: string | undefined; customVars?: Record<string, string> | undefined; checkScope?: boolean }): { obj: QiniuStoredObject; vars: Map<string, string> } {
    if (typeof policy.fsizeLimit === 'number' && data.length > policy.fsizeLimit) throw new QiniuError(413, 'exceed FsizeLimit');
    if (typeof policy.fsizeMin === 'number' && data.length < policy.fsizeMin) throw new QiniuError(403, 'less than FsizeMin');
    const hash = qetag(data);
    const key = (policy.forceSaveKey && policy.saveKey) ? policy.saveKey : clientKey ?? policy.saveKey ?? hash;
    if (o.checkScope) checkScopeKey(policy, key);
    const overwriteAllowed = policy.scope.includes(':') && policy.insertOnly !== 1;
    if (!overwriteAllowed && this.objects.has(`${bucket}/${key}`)) throw new QiniuError(614, 'file exists');
    const mimeType = o.mimeType || 'application/octet-stream';
    const obj: QiniuStoredObject = { bucket, key, body: data, mimeType, hash, putTime: this.now() };
    this.objects.set(`${bucket}/${key}`, obj);
    const vars = new Map<string, string>([
      ['bucket', obj.bucket], ['key', key], ['etag', hash], ['fname', o.fname ?? ''], ['fsize', String(data.length)],
      ['mimeType', mimeType], ['endUser', typeof policy.endUser === 'string' ? policy.endUser : ''], ['persistentId', ''],
      ['ext', key.includes('.') ? key.slice(key.lastIndexOf('.')) : ''], ['fprefix', key.slice(0, key.includes('.') ? key.lastIndexOf('.') : key.length)],
      ['uuid', createHash('md5').update(`${key}-${this.seq}`).digest('hex')],
      ['imageInfo.width', ''], ['imageInfo.height', ''], ['imageInfo.format', ''],
    ]);
    for (const [k, v] of Object.entries(o.customVars ?? {})) if (k.startsWith('x:')) vars.set(k, String(v));
    return { obj, vars };
  }

  /** The answer to a finished upload: the callback's (callbackUrl), the rendered returnBody, or `{hash, key}`. */
  private async answer(policy: QiniuPutPolicy, vars: Map<string, string>, obj: QiniuStoredObject): Promise<EmulatorResponse> {
    if (policy.callbackUrl) return this.callback(policy, vars, obj);
    if (policy.returnBody) {
      const text = renderQiniuBody(policy.returnBody, 'application/json', vars);
      return { status: 200, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }, body: text };
    }
    return json(200, { hash: obj.hash, key: obj.key });
  }

  // --------------------------------------------------------------------------------------------------- form upload

  private async formUpload(req: EmulatorRequest): Promise<EmulatorResponse> {
    const form = await this.parseForm(req);
    const token = form.fields.get('token');
    if (!token) throw new QiniuError(401, 'token not specified');
    const clientKey = form.fields.get('key');
    const policy = this.verifyUpToken(token, undefined, clientKey);
    const { bucket } = scopeOf(policy);
    if (!this.buckets.has(bucket)) throw new QiniuError(631, 'no such bucket');
    if (!form.file) throw new QiniuError(400, 'file not specified');
    if (form.file.tooLarge) throw new QiniuError(413, 'exceed FsizeLimit');
    const data = Buffer.concat(form.file.chunks);
    const givenCrc = form.fields.get('crc32');
    if (givenCrc !== undefined && givenCrc !== '' && (!/^\d+$/.test(givenCrc) || Number(givenCrc) !== crc32(data))) throw new QiniuError(406, 'crc32 not match');
    const customVars = Object.fromEntries([...form.fields].filter(([k]) => k.startsWith('x:')));
    const { obj, vars } = this.storeUpload(bucket, clientKey, data, policy,
      { fname: form.file.fname, mimeType: form.file.mimeType, customVars, checkScope: true });
    return this.answer(policy, vars, obj);
  }

  /**
   * Streams the multipart form through busboy: fields (first value wins) and the `file` part. When the token came
   * before the file and carries fsizeLimit, the bytes beyond it are drained, not kept.
   */
  private parseForm(req: EmulatorRequest): Promise<{ fields: Map<string, string>; file?: { chunks: Buffer[]; size: number; fname: string; mimeType: string; tooLarge: boolean } }> {
    const fields = new Map<string, string>();
    let file: { chunks: Buffer[]; size: number; fname: string; mimeType: string; tooLarge: boolean } | undefined;
    return new Promise((resolve, reject) => {
      let bb: busboy.Busboy;
      try {
        bb = busboy({ headers: { 'content-type': req.headers['content-type'] ?? '' }, limits: { fieldSize: 1024 * 1024 } });
      } catch {
        readBody(req.body).then(() => reject(new QiniuError(400, 'invalid multipart form')), reject);
        return;
      }
      const source = Readable.from(req.body);
      let failed = false;
      const fail = (e: unknown) => { if (failed) return; failed = true; source.unpipe(bb); source.resume(); reject(e); };
      bb.on('field', (name, value) => { if (!fields.has(name)) fields.set(name, value); });
      bb.on('file', (name, stream, info) => {
        if (name !== 'file' || file) { stream.resume(); return; }
        let limit = Number.POSITIVE_INFINITY;
        const token = fields.get('token');
        if (token) {
          try {
            const p = this.verifyUpToken(token, undefined, fields.get('key'));
            if (typeof p.fsizeLimit === 'number') limit = p.fsizeLimit;
          } catch { /* judged once the form is read */ }
        }
        const f = { chunks: [] as Buffer[], size: 0, fname: info.filename ?? '', mimeType: info.mimeType, tooLarge: false };
        file = f;
        stream.on('data', (c: Buffer) => {
          f.size += c.length;
          if (f.size > limit) { f.tooLarge = true; f.chunks = []; }
          if (!f.tooLarge) f.chunks.push(c);
        });
      });
      bb.on('close', () => { if (!failed) resolve(file ? { fields, file } : { fields }); });
      bb.on('error', () => fail(new QiniuError(400, 'invalid multipart form')));
      source.on('error', fail);
      source.pipe(bb);
    });
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

  // ------------------------------------------------------------------------------------------------------ download

  /** The bucket a download addresses: `downloadDomains[Host]`, else the first configured bucket. */
  private downloadBucket(req: EmulatorRequest): string {
    const host = req.headers.host ?? req.url.host;
    return this.opts.downloadDomains?.[host] ?? this.opts.downloadDomains?.[req.url.host] ?? [...this.buckets][0] ?? 'bucket';
  }

  private download(req: EmulatorRequest): EmulatorResponse {
    const host = req.headers.host ?? req.url.host;
    const full = `${host}${req.url.pathname}${req.url.search}`;
    const at = full.indexOf('&token=');
    if (at < 0) {
      if (req.url.searchParams.has('token')) throw new QiniuError(401, 'download token auth failed');
      throw new QiniuError(401, 'download token not specified');
    }
    const signed = full.slice(0, at);
    const token = full.slice(at + '&token='.length).split('&')[0] ?? '';
    const e = /[?&]e=(\d+)$/.exec(signed);
    const i = token.indexOf(':');
    const ak = i < 0 ? '' : token.slice(0, i);
    const sig = safeDecode(i < 0 ? '' : token.slice(i + 1));
    if (!e || ak !== this.opts.accessKey
      || !['http', 'https'].some((scheme) => qiniuSign(this.opts.secretKey, `${scheme}://${signed}`) === sig)) {
      throw new QiniuError(401, 'download token auth failed');
    }
    if (Number(e[1]) * 1000 < this.now()) throw new QiniuError(401, 'token out of date');
    const key = safeDecode(req.url.pathname.slice(1));
    const obj = this.objects.get(`${this.downloadBucket(req)}/${key}`);
    if (!obj) throw new QiniuError(404, 'Document not found');
    const size = obj.body.length;
    const headers: Record<string, string> = { 'content-type': obj.mimeType, etag: `"${obj.hash}"`, 'accept-ranges': 'bytes',
      'last-modified': new Date(obj.putTime).toUTCString(), 'cache-control': 'public, max-age=31536000' };
    const range = req.headers.range;
    const r = range === undefined ? undefined : /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (r && (r[1] !== '' || r[2] !== '')) {
      let start: number;
      let end: number;
      if (r[1] === '') { start = Math.max(0, size - Number(r[2])); end = size - 1; } else { start = Number(r[1]); end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1); }
      if (start >= size || start > end || (r[1] === '' && Number(r[2]) === 0)) {
        const text = JSON.stringify({ error: 'invalid range' });
        return { status: 416, headers: { 'content-type': 'application/json', 'content-range': `bytes */${size}`, 'content-length': String(Buffer.byteLength(text)) }, body: text };
      }
      const part = obj.body.subarray(start, end + 1);
      return { status: 206, headers: { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(part.length) },
        ...(req.method === 'HEAD' ? {} : { body: part }) };
    }
    return { status: 200, headers: { ...headers, 'content-length': String(size) }, ...(req.method === 'HEAD' ? {} : { body: obj.body }) };
  }

  // ---------------------------------------------------------------------------------------------------- management

  private async management(req: EmulatorRequest, record: QiniuRequestRecord, op: string | undefined, entry: string | undefined): Promise<EmulatorResponse> {
    const body = await readBody(req.body);
    this.checkManagementAuth(req, body, record);
    if (op === 'stat') {
      if (req.method !== 'GET' && req.method !== 'POST') throw new QiniuError(405, 'method not allowed');
      const r = this.statOp(entry ?? '');
      return r.code === 200 ? json(200, r.data) : json(r.code, r.data);
    }
    if (req.method !== 'POST') throw new QiniuError(405, 'method not allowed');
    if (op === 'delete') {
      const r = this.deleteOp(entry ?? '');
      return r.code === 200 ? { status: 200, headers: { 'content-length': '0' }, body: '' } : json(r.code, r.data);
    }
    const ops = new URLSearchParams(body.toString('utf8')).getAll('op');
    if (ops.length === 0) throw new QiniuError(400, 'empty op');
    if (ops.length > 1000) throw new QiniuError(400, 'too many ops');
    const results = ops.map((o) => {
      const mo = /^\/(stat|delete)\/([^/]+)$/.exec(o);
      if (!mo) return { code: 400, data: { error: 'invalid op' } };
      return mo[1] === 'stat' ? this.statOp(mo[2] ?? '') : this.deleteOp(mo[2] ?? '');
    });
    return json(results.every((r) => r.code === 200) ? 200 : 298, results);
  }

  /** `QBox` or `Qiniu` (V2) management signature with the emulator's keys; 401 `bad token` otherwise. */
  private checkManagementAuth(req: EmulatorRequest, body: Buffer, record: QiniuRequestRecord): void {
    const auth = req.headers.authorization ?? '';
    const m = /^(QBox|Qiniu) ([^:\s]+):(\S+)$/.exec(auth.trim());
    if (!m || m[2] !== this.opts.accessKey) throw new QiniuError(401, 'bad token');
    const sig = m[3] ?? '';
    const path = req.url.pathname;
    const query = req.url.search;
    const type = req.headers['content-type']?.split(',')[0]?.trim();
    if (m[1] === 'QBox') {
      if (qiniuSign(this.opts.secretKey, qboxSignedData(path, query, type, body)) !== sig) throw new QiniuError(401, 'bad token');
      return;
    }
    const host = req.headers.host ?? req.url.host;
    const base = { method: req.method, path, rawQuery: query, host, ...(type ? { contentType: type } : {}), headers: req.headers, body };
    const ok = (h: string) => [false, true].some((anyType) => qiniuSign(this.opts.secretKey, qiniuV2SignedData({ ...base, host: h }, { bodyForAnyType: anyType })) === sig);
    if (ok(host)) return;
    const port = /:(\d+)$/.exec(host)?.[1];
    if (port && this.opts.nodeSdkHostQuirk !== false && ok(`${host}:${port}`)) { record.quirk = 'node-sdk-host-port'; return; }
    throw new QiniuError(401, 'bad token');
  }

  private decodeEntry(entry: string): { bucket: string; key: string } | undefined {
    const s = fromB64url(entry).toString('utf8');
    const i = s.indexOf(':');
    return i < 0 ? undefined : { bucket: s.slice(0, i), key: s.slice(i + 1) };
  }

  private statOp(entry: string): { code: number; data?: unknown } {
    const e = this.decodeEntry(entry);
    if (!e) return { code: 400, data: { error: 'invalid entry' } };
    if (!this.buckets.has(e.bucket)) return { code: 631, data: { error: 'no such bucket' } };
    const o = this.objects.get(`${e.bucket}/${e.key}`);
    if (!o) return { code: 612, data: { error: 'no such file or directory' } };
    return { code: 200, data: { fsize: o.body.length, hash: o.hash, mimeType: o.mimeType, putTime: o.putTime * 10_000, type: 0 } };
  }

  private deleteOp(entry: string): { code: number; data?: unknown } {
    const e = this.decodeEntry(entry);
    if (!e) return { code: 400, data: { error: 'invalid entry' } };
    if (!this.buckets.has(e.bucket)) return { code: 631, data: { error: 'no such bucket' } };
    if (!this.objects.delete(`${e.bucket}/${e.key}`)) return { code: 612, data: { error: 'no such file or directory' } };
    return { code: 200 };
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

function scopeOf(p: QiniuPutPolicy): { bucket: string; key?: string } {
  const i = p.scope.indexOf(':');
  return i < 0 ? { bucket: p.scope } : { bucket: p.scope.slice(0, i), key: p.scope.slice(i + 1) };
}

/** A `bucket:key` scope admits that key only (a prefix of it with isPrefixalScope); 403 otherwise. */
function checkScopeKey(p: QiniuPutPolicy, key: string): void {
  const scopeKey = scopeOf(p).key;
  if (scopeKey === undefined) return;
  const ok = p.isPrefixalScope === 1 ? key.startsWith(scopeKey) : key === scopeKey;
  if (!ok) throw new QiniuError(403, 'key doesn\'t match with scope');
}

function json(status: number, body: unknown): EmulatorResponse {
  const text = JSON.stringify(body);
  return { status, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }, body: text };
}

function safeDecode(s: string): string { try { return decodeURIComponent(s); } catch { return s; } }
