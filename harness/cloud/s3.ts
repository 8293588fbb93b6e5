// Amazon S3 emulator (provider "s3"): the S3-family core (s3-core.ts) behind AWS Signature Version 4 — presigned
// URLs (X-Amz-Algorithm / -Credential / -Date / -Expires / -SignedHeaders / -Signature, what Cloudreve's S3 policy hands
// to clients: aws-sdk-go v1 signs content-length;host on parts, host on the complete URL) and header-signed requests
// (Authorization: AWS4-HMAC-SHA256 …, what the SDKs and the Cloudreve server send), both recomputed with
// @smithy/signature-v4 and compared in constant time. Path-style (http://127.0.0.1:port/bucket/key) and
// virtual-hosted (https://bucket.s3.region.amazonaws.com/key) addressing.
import { S3FamilyEmulator, MiB, type AuthOutcome, type S3Context, type S3FamilyOptions } from './s3-core.js';
import { isSigV4Header, isSigV4Query, verifySigV4Header, verifySigV4Query } from './s3-sigv4.js';

export { DEFAULT_CREDENTIAL, type S3FamilyOptions, type UploadInfo, type PartInfo, type ObjectInfo, type RequestRecord } from './s3-core.js';

/** Host names of virtual-hosted S3: <bucket>.s3.amazonaws.com, <bucket>.s3.<region>.amazonaws.com, <bucket>.s3-<region>…, dualstack, .cn. */
export const S3_VIRTUAL_HOSTS = [/^(.+?)\.s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$/];

export class S3Emulator extends S3FamilyEmulator {
  readonly provider: string = 's3';

  constructor(opts: S3FamilyOptions = {}) {
    super(opts, { minPartSize: 5 * MiB, virtualHosts: S3_VIRTUAL_HOSTS });
  }

  protected async authenticate(ctx: S3Context): Promise<AuthOutcome> {
    const req = { method: ctx.method, rawPath: ctx.rawPath, query: ctx.query, headers: ctx.req.headers };
    const opts = { lookup: this.lookup, region: this.opts.region, service: 's3', now: this.now() };
    if (isSigV4Header(ctx.req.headers)) {
      const r = await verifySigV4Header(req, opts);
      return r.ok ? { ok: true, kind: r.kind, accessKeyId: r.accessKeyId, payloadHash: r.payloadHash, chunkSigning: r.chunkSigning } : r;
    }
    if (ctx.req.headers.authorization) {
      return { ok: false, error: { status: 400, code: 'InvalidArgument', message: 'Unsupported Authorization Type',
        extra: [['ArgumentName', 'Authorization'], ['ArgumentValue', ctx.req.headers.authorization.split(' ')[0] ?? '']] } };
    }
    if (isSigV4Query(ctx.query)) {
      const r = await verifySigV4Query(req, opts);
      return r.ok ? { ok: true, kind: r.kind, accessKeyId: r.accessKeyId, payloadHash: r.payloadHash } : r;
    }
    return { ok: true, anonymous: true, kind: 'anonymous' };
  }
}
