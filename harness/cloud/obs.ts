// Huawei OBS emulator (provider "obs"): the S3-family core behind OBS's authentication and completion callback.
//
// Signing (huaweicloud-sdk-go-obs v3.24.6 auth.go/authV2.go/conf.go, what Cloudreve 4.18.0 obs.go calls, and
// esdk-obs-nodejs): presigned URLs carry AccessKeyId/Expires/Signature (OBS signature, virtual-hosted domain endpoint)
// or — when the SDK is configured with an IP endpoint, which forces path style and downgrades the OBS signature to V2 —
// AWSAccessKeyId/Expires/Signature. StringToSign = METHOD, Content-MD5, Content-Type, Expires, the x-obs- (V2: x-amz-)
// headers, and /bucket/key with the OBS sub-resources (and, in OBS mode, every x-obs-* query parameter such as
// Cloudreve's x-obs-callback) sorted. Header auth: Authorization: OBS|AWS AK:sig with Date. SigV4 is accepted too.
//
// Completion callback (cloud-endpoints.md §3.3): Cloudreve puts a base64 JSON policy {callbackUrl, callbackBody,
// callbackBodyType} in the complete URL's x-obs-callback query parameter (the header form is honoured as well). After a
// successful CompleteMultipartUpload the emulator POSTs the rendered body to callbackUrl, as OBS does, and answers the
// client 200 with the callback server's answer, or 203 with a JSON {code, message} when the callback failed (⚑ shape).
// x-obs-forbid-overwrite: true refuses to replace an existing object (409 FileAlreadyExists ⚑).
import { posix } from 'node:path';
import type { EmulatorRequest, EmulatorResponse } from './mount.js';
import { S3FamilyEmulator, S3_DIALECT, type AuthOutcome, type Dialect, type ObjectInfo, type S3Context, type S3ErrorSpec,
  type S3FamilyOptions } from './s3-core.js';
import { isSigV4Header, isSigV4Query, splitRawQuery, verifySigV4Header, verifySigV4Query } from './s3-sigv4.js';
import { v2HeaderScheme, verifyV2Header, verifyV2Query, type V2Flavor } from './s3-v2sign.js';

/** huaweicloud-sdk-go-obs v3.24.6 const.go `allowedResourceParameterNames` (compared lower-cased). */
export const OBS_GO_SUBRESOURCES: ReadonlySet<string> = new Set(['acl', 'backtosource', 'metadata', 'policy', 'torrent', 'logging', 'location',
  'storageinfo', 'quota', 'storageclass', 'storagepolicy', 'requestpayment', 'versions', 'versioning', 'versionid', 'uploads', 'uploadid',
  'partnumber', 'website', 'notification', 'lifecycle', 'deletebucket', 'delete', 'cors', 'restore', 'encryption', 'tagging', 'append',
  'modify', 'position', 'replication', 'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding', 'x-image-process', 'x-oss-process', 'x-image-save-bucket',
  'x-image-save-object', 'ignore-sign-in-query', 'name', 'rename', 'customdomain', 'mirrorbacktosource', 'x-obs-accesslabel']);

/** esdk-obs-nodejs 3.26.8 utils.js `allowedResourceParameterNames` (compared lower-cased). */
export const OBS_NODE_SUBRESOURCES: ReadonlySet<string> = new Set(['acl', 'backtosource', 'policy', 'torrent', 'logging', 'location',
  'storageinfo', 'quota', 'storageclass', 'storagepolicy', 'requestpayment', 'versions', 'versioning', 'versionid', 'uploads', 'uploadid',
  'partnumber', 'website', 'notification', 'replication', 'lifecycle', 'deletebucket', 'delete', 'cors', 'restore', 'tagging', 'append',
  'position', 'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding', 'x-image-process', 'x-oss-process', 'x-image-save-object',
  'x-image-save-bucket', 'encryption', 'directcoldaccess', 'rename', 'name', 'metadata', 'modify', 'attname', 'truncate',
  'x-obs-security-token', 'x-workflow-prefix', 'x-workflow-start', 'x-workflow-limit', 'x-workflow-template-name',
  'x-workflow-graph-name', 'x-workflow-execution-state', 'x-workflow-execution-type', 'x-workflow-next-marker', 'obsworkflowtriggerpolicy',
  'x-workflow-category', 'x-workflow-create']);

const rules = (prefix: string) => [
  (k: string) => OBS_GO_SUBRESOURCES.has(k.toLowerCase()) || k.toLowerCase().startsWith(prefix),
  (k: string) => OBS_NODE_SUBRESOURCES.has(k.toLowerCase()) || k.toLowerCase().startsWith(prefix),
  (k: string) => OBS_NODE_SUBRESOURCES.has(k.toLowerCase()),
];

/** OBS signature (Authorization: OBS …, ?AccessKeyId=…): x-obs- headers, x-obs-* query parameters signed. */
export const OBS_SIGNATURE: V2Flavor = { name: 'obs', accessKeyParams: ['AccessKeyId'], authSchemes: ['OBS'], headerPrefixes: ['x-obs-'],
  dateHeaders: ['x-obs-date'], subresourceRules: rules('x-obs-') };
/** OBS's AWS V2 compatible signature (Authorization: AWS …, ?AWSAccessKeyId=…): x-amz- headers. */
export const OBS_V2_SIGNATURE: V2Flavor = { name: 'obs-v2', accessKeyParams: ['AWSAccessKeyId'], authSchemes: ['AWS'], headerPrefixes: ['x-amz-'],
  dateHeaders: ['x-amz-date'], subresourceRules: rules('x-amz-') };

const RESPONSE_OVERRIDES: [string, string][] = [['response-content-type', 'content-type'], ['response-content-language', 'content-language'],
  ['response-expires', 'expires'], ['response-cache-control', 'cache-control'], ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding']];

/** A URL query as OBS reads it for its V2/OBS signatures: `&`-split, `+` is a space, then percent-decoded. */
export function obsFormQuery(search: string): [string, string][] {
  return splitRawQuery(search.replace(/\+/g, '%20'));
}

/** <bucket>.obs.<region>.myhuaweicloud.com (and the older myhwclouds.com / T-Systems OTC names). */
export const OBS_VIRTUAL_HOSTS = [/^(.+?)\.obs(?:\.[a-z0-9-]+)?\.(?:myhuaweicloud|myhwclouds|otc\.t-systems|huaweicloud)\.com$/];

// acceptsChunkedBodies: OBS's Go SDK (the one Cloudreve uses) sends an empty PutObject with `Transfer-Encoding: chunked`
// and no Content-Length, and Cloudreve creates empty files on OBS that way; OBS's docs say nothing either way, so the
// emulator takes such bodies for OBS (AWS S3 answers 411 MissingContentLength). To revisit with a recording of OBS.
export const OBS_DIALECT: Dialect = { xmlns: 'http://obs.myhwclouds.com/doc/2015-06-30/', requestIdHeader: 'x-obs-request-id',
  id2Header: 'x-obs-id-2', server: 'OBS', metaPrefix: 'x-obs-meta-', acceptsChunkedBodies: true };

export interface ObsCallbackPolicy { callbackUrl: string; callbackHost?: string; callbackBody: string; callbackBodyType?: string }

export interface CallbackRecord {
  url: string;
  contentType: string;
  body: string;
  /** The callback server's status, or undefined if it could not be reached. */
  status?: number;
  responseBody?: string;
  error?: string;
}

export interface ObsOptions extends S3FamilyOptions {
  /** Timeout of the callback POST (default 5000 ms). */
  callbackTimeoutMs?: number;
  /** fetch used for the callback POST (default globalThis.fetch). */
  callbackFetch?: typeof fetch;
}

/** Renders an OBS callback body: ${var} / $(var) with key, fname, size|fsize, etag, bucket, ext, mimeType|type. */
export function renderObsCallbackBody(template: string, bodyType: string, vars: Record<string, string | number>): string {
  const json = bodyType.includes('json');
  return template.replace(/\$\{([A-Za-z0-9_:.-]+)\}|\$\(([A-Za-z0-9_:.-]+)\)/g, (_m, a?: string, b?: string) => {
    const name = (a ?? b)!;
    const v = vars[name];
    if (json) return typeof v === 'number' ? String(v) : JSON.stringify(v ?? '');
    return encodeURIComponent(String(v ?? ''));
  });
}

export class ObsEmulator extends S3FamilyEmulator {
  readonly provider: string = 'obs';
  private readonly callbackLog: CallbackRecord[] = [];
  protected declare readonly opts: ObsOptions;

  constructor(opts: ObsOptions = {}) {
    super(opts, { minPartSize: 100 * 1024, virtualHosts: OBS_VIRTUAL_HOSTS });
  }

  /**
   * GetObject/HeadObject answer their response-* parameters as headers with the value OBS reads from the query (`+` a
   * space, as for the signature: Cloudreve's download URLs say `attachment%3B+filename%3D…`). Text beyond Latin-1 (OBS
   * URLs from Cloudreve carry the display name raw in `filename="…"`) goes out as its UTF-8 bytes, as a server sends it.
   */
  override async handle(req: EmulatorRequest): Promise<EmulatorResponse> {
    const res = await super.handle(req);
    if ((req.method === 'GET' || req.method === 'HEAD') && (res.status === 200 || res.status === 206) && res.headers) {
      const query = obsFormQuery(req.url.search);
      for (const [param, header] of RESPONSE_OVERRIDES) {
        const v = query.find(([k]) => k === param)?.[1];
        if (v !== undefined) res.headers[header] = Buffer.from(v, 'utf8').toString('latin1');
      }
    }
    return res;
  }

  /** Every callback POST made so far. */
  callbacks(): CallbackRecord[] { return [...this.callbackLog]; }

  protected override dialect(ctx: S3Context): Dialect {
    return ctx.flavor === 'obs' ? OBS_DIALECT : { ...S3_DIALECT, server: 'OBS', acceptsChunkedBodies: true };
  }

  protected override async preRoute(ctx: S3Context): Promise<EmulatorResponse | undefined> {
    // esdk-obs-nodejs's signature negotiation: HEAD /?apiversion (or /bucket?apiversion) → x-obs-api: 3.0 means "OBS".
    if (ctx.method === 'HEAD' && this.has(ctx, 'apiversion')) {
      ctx.operation = 'HeadApiVersion';
      ctx.flavor = 'obs';
      return this.empty(ctx, 200, { 'x-obs-api': '3.0' });
    }
    return undefined;
  }

  protected async authenticate(ctx: S3Context): Promise<AuthOutcome> {
    const headers = ctx.req.headers;
    const now = this.now();
    if (isSigV4Header(headers) || isSigV4Query(ctx.query)) {
      const req = { method: ctx.method, rawPath: ctx.rawPath, query: ctx.query, headers };
      const opts = { lookup: this.lookup, region: this.opts.region, service: 's3', now };
      const r = isSigV4Header(headers) ? await verifySigV4Header(req, opts) : await verifySigV4Query(req, opts);
      return r.ok ? { ok: true, kind: r.kind, accessKeyId: r.accessKeyId, payloadHash: r.payloadHash, chunkSigning: r.chunkSigning, flavor: 'obs-v2' } : r;
    }
    // The V2/OBS string-to-sign holds sub-resource values decoded, and OBS decodes a query as a form: `+` is a space.
    // The Go SDK (Cloudreve's) writes values with url.QueryEscape (space → `+`) and signs them raw, e.g.
    // `response-content-disposition=attachment%3B+filename…` signed as `attachment; filename…`; OBS accepts those URLs.
    const v2req = { method: ctx.method, canonicalPath: ctx.v2Path, query: obsFormQuery(ctx.req.url.search), headers };
    const opts = { lookup: this.lookup, now };
    if (headers.authorization) {
      const flavor = v2HeaderScheme(headers, OBS_SIGNATURE) ? OBS_SIGNATURE : v2HeaderScheme(headers, OBS_V2_SIGNATURE) ? OBS_V2_SIGNATURE : undefined;
      if (!flavor) return { ok: false, flavor: 'obs', error: { status: 400, code: 'InvalidArgument', message: 'Unsupported Authorization Type' } };
      const r = verifyV2Header(v2req, flavor, opts);
      return r.ok ? { ok: true, kind: r.kind, accessKeyId: r.accessKeyId, flavor: r.flavor } : { ...r, flavor: flavor.name };
    }
    const has = (k: string) => this.has(ctx, k);
    const flavor = has('AccessKeyId') ? OBS_SIGNATURE : has('AWSAccessKeyId') ? OBS_V2_SIGNATURE : has('Signature') ? OBS_SIGNATURE : undefined;
    if (flavor) {
      const r = verifyV2Query(v2req, flavor, opts);
      return r.ok ? { ok: true, kind: r.kind, accessKeyId: r.accessKeyId, flavor: r.flavor } : { ...r, flavor: flavor.name };
    }
    return { ok: true, anonymous: true, kind: 'anonymous', flavor: 'obs' };
  }

  protected override forbidsOverwrite(ctx: S3Context): { forbid: boolean; error?: S3ErrorSpec } {
    const v = ctx.req.headers['x-obs-forbid-overwrite'] ?? ctx.req.headers['x-amz-forbid-overwrite'];
    if (v?.trim().toLowerCase() === 'true') {
      return { forbid: true, error: { status: 409, code: 'FileAlreadyExists', message: 'The object you specified already exists and can not be overwritten.' } };
    }
    return super.forbidsOverwrite(ctx);
  }

  private callbackPolicy(ctx: S3Context): { policy?: ObsCallbackPolicy; error?: S3ErrorSpec } {
    const raw = ctx.req.headers['x-obs-callback'] ?? this.q(ctx, 'x-obs-callback');
    if (raw === undefined) return {};
    const invalid = (why: string): { error: S3ErrorSpec } => ({ error: { status: 400, code: 'InvalidArgument', message: `The callback is invalid: ${why}`,
      extra: [['ArgumentName', 'x-obs-callback'], ['ArgumentValue', raw]] } });
    let parsed: unknown;
    try { parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')); } catch { return invalid('not base64-encoded JSON'); }
    const p = parsed as Partial<ObsCallbackPolicy>;
    if (!p || typeof p.callbackUrl !== 'string' || typeof p.callbackBody !== 'string') return invalid('callbackUrl and callbackBody are required');
    try { new URL(p.callbackUrl); } catch { return invalid('callbackUrl is not a URL'); }
    return { policy: { callbackUrl: p.callbackUrl, callbackHost: p.callbackHost, callbackBody: p.callbackBody,
      callbackBodyType: p.callbackBodyType ?? 'application/x-www-form-urlencoded' } };
  }

  protected override validateComplete(ctx: S3Context): S3ErrorSpec | undefined {
    return this.callbackPolicy(ctx).error;
  }

  protected override async afterComplete(ctx: S3Context, obj: ObjectInfo, response: EmulatorResponse): Promise<EmulatorResponse> {
    const { policy } = this.callbackPolicy(ctx);
    if (!policy) return response;
    const ext = posix.extname(obj.key);
    const etag = obj.etag.replace(/"/g, '');
    const vars: Record<string, string | number> = { key: obj.key, fname: posix.basename(obj.key), size: obj.size, fsize: obj.size, etag,
      bucket: obj.bucket, ext, mimeType: obj.contentType, type: obj.contentType };
    const type = policy.callbackBodyType ?? 'application/x-www-form-urlencoded';
    const body = renderObsCallbackBody(policy.callbackBody, type, vars);
    const rec: CallbackRecord = { url: policy.callbackUrl, contentType: type, body };
    this.callbackLog.push(rec);
    const doFetch = this.opts.callbackFetch ?? globalThis.fetch;
    let status: number | undefined;
    let text = '';
    let contentType = 'application/json';
    try {
      const r = await doFetch(policy.callbackUrl, { method: 'POST', headers: { 'content-type': type }, body,
        signal: AbortSignal.timeout(this.opts.callbackTimeoutMs ?? 5000) });
      status = r.status;
      text = await r.text();
      contentType = r.headers.get('content-type') ?? contentType;
      rec.status = status;
      rec.responseBody = text;
    } catch (e) {
      rec.error = String((e as Error)?.message ?? e);
    }
    const headers = { ...response.headers };
    delete headers['content-length'];
    delete headers['content-type'];
    if (status === 200) {
      const b = Buffer.from(text, 'utf8');
      return { status: 200, headers: { ...headers, etag: `"${etag}"`, 'content-type': contentType, 'content-length': String(b.length) }, body: b };
    }
    const failure = Buffer.from(JSON.stringify({ code: 'CallbackFailed',
      message: status === undefined ? `Callback failed: ${rec.error}` : `Callback failed: the callback server answered ${status}: ${text.slice(0, 512)}`,
      request_id: ctx.requestId }), 'utf8');
    return { status: 203, headers: { ...headers, etag: `"${etag}"`, 'content-type': 'application/json', 'content-length': String(failure.length) }, body: failure };
  }
}
