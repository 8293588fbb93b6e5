// Kingsoft KS3 emulator (provider "ks3"): the S3-family core behind KS3's authentication. Cloudreve's KS3 policy
// (4.18.0 ks3.go, ks3sdklib/aws-sdk-go v1.6.2 GeneratePresignedUrl, default signer "V2") hands out part and complete
// URLs with V2 query auth: ?Expires=<unix>&partNumber=N&uploadId=ID&AWSAccessKeyId=AK&Signature=<base64 HMAC-SHA1>,
// signing Content-Type: application/octet-stream, Expires, the x-amz-/x-kss- headers and the canonical resource
// /bucket/key?partNumber=N&uploadId=ID (sub-resources from the SDK's signQuerys set, sorted). Header auth
// (Authorization: AWS|KSS AK:sig with Date, what the server-side SDK sends) and SigV4 (which KS3 also accepts) are
// verified too. Errors use S3's XML envelope (KS3 is S3-compatible; ⚑ request-id header name x-kss-request-id).
import { S3FamilyEmulator, MiB, type AuthOutcome, type Dialect, type S3Context, type S3FamilyOptions } from './s3-core.js';
import { isSigV4Header, isSigV4Query, verifySigV4Header, verifySigV4Query } from './s3-sigv4.js';
import { hasV2Query, v2HeaderScheme, verifyV2Header, verifyV2Query, type V2Flavor } from './s3-v2sign.js';

/** ks3sdklib/aws-sdk-go v1.6.2 internal/signer/v2 `signQuerys`: the query parameters that are signed (case-sensitive). */
export const KS3_SIGNED_SUBRESOURCES: ReadonlySet<string> = new Set(['acl', 'lifecycle', 'location', 'logging', 'notification', 'policy',
  'requestPayment', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'website', 'delete', 'thumbnail', 'cors',
  'pfop', 'querypfop', 'partNumber', 'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding', 'tagging', 'fetch', 'copy', 'mirror', 'restore', 'append', 'position',
  'decompresspolicy', 'retention', 'crr', 'inventory', 'recycle', 'recover', 'clear', 'id', 'continuation-token', 'dataRedundancySwitch',
  'bucketqos', 'requesterqos']);

export const KS3_V2: V2Flavor = { name: 'ks3-v2', accessKeyParams: ['AWSAccessKeyId', 'KSSAccessKeyId'], authSchemes: ['AWS', 'KSS'],
  headerPrefixes: ['x-amz-', 'x-kss-'], dateHeaders: ['x-amz-date', 'x-kss-date'], subresourceRules: [(k) => KS3_SIGNED_SUBRESOURCES.has(k)] };

/** <bucket>.ks3-<region>[-internal].ksyuncs.com and the older ksyun.com names. */
export const KS3_VIRTUAL_HOSTS = [/^(.+?)\.ks3-[a-z0-9-]+\.ksyun(?:cs)?\.com$/, /^(.+?)\.kss\.ksyun\.com$/];

export const KS3_DIALECT: Dialect = { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/', requestIdHeader: 'x-kss-request-id',
  id2Header: 'x-kss-id-2', server: 'Tengine', metaPrefix: 'x-kss-meta-' };

export class Ks3Emulator extends S3FamilyEmulator {
  readonly provider: string = 'ks3';

  constructor(opts: S3FamilyOptions = {}) {
    super(opts, { minPartSize: 5 * MiB, virtualHosts: KS3_VIRTUAL_HOSTS });
  }

  protected override dialect(ctx: S3Context): Dialect {
    // User metadata: KS3 accepts x-amz-meta- (the AWS-derived SDKs) as well as x-kss-meta-.
    return Object.keys(ctx.req.headers).some((h) => h.startsWith('x-amz-meta-')) ? { ...KS3_DIALECT, metaPrefix: 'x-amz-meta-' } : KS3_DIALECT;
  }

  protected async authenticate(ctx: S3Context): Promise<AuthOutcome> {
    const headers = ctx.req.headers;
    const now = this.now();
    if (isSigV4Header(headers) || isSigV4Query(ctx.query)) {
      const req = { method: ctx.method, rawPath: ctx.rawPath, query: ctx.query, headers };
      const opts = { lookup: this.lookup, region: this.opts.region, service: 's3', now };
      const r = isSigV4Header(headers) ? await verifySigV4Header(req, opts) : await verifySigV4Query(req, opts);
      return r.ok ? { ok: true, kind: r.kind, accessKeyId: r.accessKeyId, payloadHash: r.payloadHash, chunkSigning: r.chunkSigning } : r;
    }
    const v2req = { method: ctx.method, canonicalPath: ctx.v2Path, query: ctx.query, headers };
    if (headers.authorization) {
      if (!v2HeaderScheme(headers, KS3_V2)) {
        return { ok: false, error: { status: 400, code: 'InvalidArgument', message: 'Unsupported Authorization Type' } };
      }
      const r = verifyV2Header(v2req, KS3_V2, { lookup: this.lookup, now });
      return r.ok ? { ok: true, kind: r.kind, accessKeyId: r.accessKeyId, flavor: r.flavor } : r;
    }
    if (hasV2Query(ctx.query, KS3_V2)) {
      const r = verifyV2Query(v2req, KS3_V2, { lookup: this.lookup, now });
      return r.ok ? { ok: true, kind: r.kind, accessKeyId: r.accessKeyId, flavor: r.flavor } : r;
    }
    return { ok: true, anonymous: true, kind: 'anonymous' };
  }
}
