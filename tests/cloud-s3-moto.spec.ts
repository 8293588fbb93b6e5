// CT-MOTO: the S3 emulator (harness/cloud/s3.ts) against a second, independent S3 implementation — moto's server
// (PyPI moto[server], pinned in tools/moto.ts), both on loopback. Every exchange of the flow Cloudreve's S3 policy and
// its web client use is sent to both, signed with the same credential (presigned SigV4 URLs from
// @aws-sdk/s3-request-presigner for what the browser does, header-signed SigV4 requests from @smithy/signature-v4 for
// what the Cloudreve server does); moto checks no signature, so signatures stay with CT-S3-SIG / CT-S3-SDK.
//
// Each answer is reduced to facts and the two sets are compared key by key:
//   status                HTTP status
//   header:<name>         every response header except IGNORED_HEADERS (each with its reason); Last-Modified as its
//                         format; Content-Length of an XML answer as "equals the body length"; ETag as its value and
//                         header:etag~format (quoted md5 hex, or "<md5-of-md5s>-N")
//   body:length/sha256    non-XML bodies (object bytes)
//   xml:root, xml:@xmlns  the XML answer's root element and namespace
//   xml:/A[i]/B[j]        every element below the root, by name path (index among same-named siblings, from 1); leaves
//                         carry their text. Request ids and HostId: "present"; UploadId: which upload it names;
//                         LastModified / Initiated: ISO 8601 format only (moto reports a fixed 2010 date for
//                         Initiated); Owner / Initiator ID and DisplayName: present; Location: bucket and key decoded
//                         (host ignored) plus whether the value is a well-formed URI. The order of differently named
//                         siblings is not compared (AWS's own docs show ListPartsResult in two orders; parsers match
//                         by name) — the order of same-named ones (Part, Upload) is.
// A differing fact is a failure unless ALLOWED lists it, with its reason; where moto is the one that departs from AWS's
// documented answer, the allowance pins the emulator to that documented answer instead. An allowance tied to an
// exchange that no longer needs it fails too (stale), so the list stays exact. Each test attaches its exchange list
// (moto-comparison.txt); MOTO_COMPARE_PRINT=1 prints it, MOTO_COMPARE_PRINT=facts every fact of both sides too.
import { test, expect, type TestInfo } from '@playwright/test';
import { createHash } from 'node:crypto';
import { CompleteMultipartUploadCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { XMLParser } from 'fast-xml-parser';
import { mountLoopback, type LoopbackMount } from '../harness/cloud/mount.js';
import { S3Emulator } from '../harness/cloud/s3.js';
import { completeXml, patternBytes } from '../harness/cloud/s3-testkit.js';
import { ensureMoto, MOTO_VERSION, startMoto, type MotoServer } from '../tools/moto.js';

const creds = { accessKeyId: 'CRCONFORMANCEAK', secretAccessKey: 'crconformance/secret+key==' };
const REGION = 'us-east-1';
const MiB = 1024 * 1024;
const OCTET = 'application/octet-stream';
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest();
const multipartEtag = (parts: Buffer[]) => `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}"`;

// ---- what is compared, and what is not -----------------------------------------------------------------------------------

/** Response headers left out of the comparison, and why. */
const IGNORED_HEADERS: Record<string, string> = {
  date: 'the clock of each server',
  server: 'product name ("AmazonS3" vs Werkzeug\'s)',
  connection: 'transport: moto (Werkzeug) closes every connection, Node keeps it alive',
  'keep-alive': 'transport (Node)',
  'transfer-encoding': 'transport',
  'x-amz-request-id': 'request id (the emulator sends S3\'s pair, moto its own x-amzn-RequestId)',
  'x-amz-id-2': 'request id',
  'x-amzn-requestid': 'request id (moto\'s name)',
  'access-control-allow-origin': 'CORS: these requests carry no Origin; moto\'s flask-cors adds "*" to every answer, S3 and the emulator answer CORS only for an Origin (CT-S3 CORS tests)',
};

type Facts = Map<string, string>;

interface Allowance {
  id: string;
  reason: string;
  /** Exchange names this allowance is for (matched against the exchange's name). */
  exchanges: RegExp;
  /** Fact keys it covers. */
  facts: RegExp;
  /** Also require the values to look like this (else the difference is not the one allowed). */
  when?: (emu: string | undefined, moto: string | undefined, all: { emulator: Facts; moto: Facts }) => boolean;
  /** Where moto departs from AWS's documented answer: the emulator's facts must equal the documented (or, where the API
   *  reference is silent, the emulator's specified default) ones. */
  emulator?: Record<string, string>;
  /** Applies to many exchanges; not every matching exchange must show it. */
  general?: boolean;
}

const NO_SUCH_UPLOAD = 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.';

const ALLOWED: Allowance[] = [
  {
    id: 'body-less-content-type', general: true,
    reason: 'moto (Flask) labels every body-less answer "text/html; charset=utf-8"; S3 sends no Content-Type on a body-less 200/204 ' +
      '(CreateBucket, UploadPart, PutObject, DeleteObject, AbortMultipartUpload examples in the S3 API reference) and application/xml on a HEAD error',
    exchanges: /.*/, facts: /^header:content-type$/, when: (_e, m, all) => m === 'text/html; charset=utf-8' && all.moto.get('body') === 'empty',
  },
  {
    id: '204-content-length', general: true,
    reason: 'a 204 answer: the emulator sends "Content-Length: 0" as S3\'s DeleteObject / AbortMultipartUpload examples show, moto (Werkzeug) sends none',
    exchanges: /^(DeleteObject|AbortMultipartUpload)\b/, facts: /^header:content-length$/, when: (e, m) => e === '0' && m === undefined,
  },
  {
    id: 'moto-put-last-modified', general: true,
    reason: 'moto adds Last-Modified to UploadPart and PutObject answers; neither answer has it in the S3 API reference',
    exchanges: /^(UploadPart|PutObject)\b/, facts: /^header:last-modified$/, when: (e) => e === undefined,
  },
  {
    id: 'moto-echoes-content-sha256', general: true,
    reason: 'moto echoes the request\'s x-amz-content-sha256 into GetObject / HeadObject answers; not a response header of S3',
    exchanges: /^(GetObject|HeadObject)\b/, facts: /^header:x-amz-content-sha256$/, when: (e) => e === undefined,
  },
  {
    id: 'moto-version-id-null',
    reason: 'moto sends "x-amz-version-id: null" on CompleteMultipartUpload in a bucket that never had versioning; S3 sends the header only when versioning is on',
    exchanges: /^CompleteMultipartUpload (frontend XML|SDK-escaped ETag)/, facts: /^header:x-amz-version-id$/, when: (e, m) => e === undefined && m === 'null',
  },
  {
    id: 'moto-listparts-root',
    reason: 'moto names the ListParts root element ListPartsResponse; S3 (API reference) answers ListPartsResult — parsers read the children',
    exchanges: /^ListParts( after|$)/, facts: /^xml:root$/, when: (e, m) => e === 'ListPartsResult' && m === 'ListPartsResponse',
  },
  {
    id: 'list-uploads-empty-prefix',
    reason: 'ListMultipartUploads without a prefix: the emulator echoes an empty <Prefix/>, moto omits it; Prefix is optional in the API reference and an empty one means the same',
    exchanges: /^ListMultipartUploads\b/, facts: /^xml:\/Prefix\[1\]$/, when: (e, m) => e === '' && m === undefined,
  },
  {
    id: 'moto-location-raw',
    reason: 'CompleteMultipartUpload Location: moto writes the key unencoded (spaces, non-ASCII) into a virtual-hosted URL; S3 percent-encodes it. Bucket and key are compared decoded',
    exchanges: /^CompleteMultipartUpload frontend XML/, facts: /^xml:\/Location\[1\]~uri$/, when: (e, m) => e === 'well-formed' && m === 'raw characters',
  },
  {
    id: 'invalid-part-details',
    reason: 'InvalidPart: the emulator sends S3\'s message and its UploadId / PartNumber / ETag elements (as S3 answers); moto sends the ErrorResponses table\'s wording and no details',
    exchanges: /^CompleteMultipartUpload (wrong ETag|part never uploaded)/, facts: /^xml:\/(Message|UploadId|PartNumber|ETag)\[1\]$/,
  },
  {
    id: 'entity-too-small-details',
    reason: 'EntityTooSmall: the emulator sends S3\'s message and its ProposedSize / MinSizeAllowed / PartNumber / ETag elements; moto its own wording ("…minimum allowed object size.") and no details',
    exchanges: /^CompleteMultipartUpload non-last part under 5 MiB/, facts: /^xml:\/(Message|ProposedSize|MinSizeAllowed|PartNumber|ETag)\[1\]$/,
  },
  {
    id: 'moto-500-unknown-upload',
    reason: 'moto 5.2.5 fails with 500 (an unhandled KeyError: upload_part / complete_multipart_upload index bucket.multiparts[upload_id] ' +
      'without a check) where S3 documents 404 NoSuchUpload; the emulator is held to the documented answer',
    exchanges: /^(UploadPart|CompleteMultipartUpload) to (an unknown|the aborted) upload/, facts: /.*/,
    emulator: { status: '404', 'xml:root': 'Error', 'xml:/Code[1]': 'NoSuchUpload', 'xml:/Message[1]': NO_SUCH_UPLOAD },
  },
  {
    id: 'moto-no-part-order-check',
    reason: 'moto 5.2.5 never raises InvalidPartOrder (responses.py _complete_multipart_body does not advance `prev`) and assembles the parts ' +
      'in the listed order; S3 documents 400 InvalidPartOrder; the emulator is held to the documented answer',
    exchanges: /^CompleteMultipartUpload parts out of order/, facts: /.*/,
    emulator: { status: '400', 'xml:root': 'Error', 'xml:/Code[1]': 'InvalidPartOrder' },
  },
  {
    id: 'repeat-complete',
    reason: 'a second CompleteMultipartUpload of a completed upload: moto answers it again (200, same result); the emulator answers NoSuchUpload ' +
      'by default and S3\'s answer-again behaviour only with faults.repeatCompleteSucceeds (neither is in the API reference)',
    exchanges: /^CompleteMultipartUpload again/, facts: /.*/,
    emulator: { status: '404', 'xml:/Code[1]': 'NoSuchUpload' },
  },
];

// ---- the two servers ---------------------------------------------------------------------------------------------------

interface Answer { status: number; headers: Record<string, string>; body: Buffer }

class Side {
  readonly client: S3Client;
  private readonly signer = new SignatureV4({ service: 's3', region: REGION, credentials: creds, sha256: Sha256, uriEscapePath: false });
  /** Real upload ids → labels shared by both sides ("upload:main"). */
  readonly labels = new Map<string, string>();
  readonly uploadIds = new Map<string, string>();

  constructor(readonly name: 'emulator' | 'moto', readonly base: string) {
    this.client = new S3Client({ region: REGION, endpoint: base, forcePathStyle: true, credentials: creds,
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 1 });
  }

  remember(label: string, uploadId: string): void { this.labels.set(uploadId, `<upload:${label}>`); this.uploadIds.set(label, uploadId); }
  upload(label: string): string {
    const id = this.uploadIds.get(label);
    if (!id) throw new Error(`${this.name}: no upload "${label}"`);
    return id;
  }

  /** A request signed in the Authorization header (what the Cloudreve server's SDK sends). */
  async signed(method: string, bucket: string, key: string | undefined, query: Record<string, string> = {}, body: Buffer = Buffer.alloc(0),
    headers: Record<string, string> = {}): Promise<Answer> {
    const u = new URL(this.base);
    const path = `/${encodeURIComponent(bucket)}${key === undefined ? '' : `/${key.split('/').map(encodeURIComponent).join('/')}`}`;
    const h: Record<string, string> = { host: u.host, 'x-amz-content-sha256': sha256(body), ...headers };
    if (body.length || method === 'PUT' || method === 'POST') h['content-length'] = String(body.length);
    const s = await this.signer.sign({ method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path, query, headers: h, body });
    const qs = Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
    const sent = Object.fromEntries(Object.entries(s.headers).filter(([k]) => k.toLowerCase() !== 'host')) as Record<string, string>;
    return answer(await fetch(`${this.base}${path}${qs ? `?${qs}` : ''}`, { method, headers: sent,
      body: method === 'GET' || method === 'HEAD' ? undefined : body, signal: AbortSignal.timeout(20_000) }));
  }

  /** UploadPart as the web client does it: PUT to a URL presigned as Cloudreve signs it (content-length;host). */
  async presignedPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer): Promise<{ url: string; answer: Answer }> {
    const url = await getSignedUrl(this.client, new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, ContentLength: body.length }),
      { expiresIn: 3600, signableHeaders: new Set(['content-length']) });
    return { url, answer: await answer(await fetch(url, { method: 'PUT', headers: { 'content-type': OCTET }, body, signal: AbortSignal.timeout(20_000) })) };
  }

  /** CompleteMultipartUpload as the web client does it: POST the parts XML to Cloudreve's presigned completeURL. */
  async presignedComplete(bucket: string, key: string, uploadId: string, xml: string): Promise<Answer> {
    const url = await getSignedUrl(this.client, new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { expiresIn: 3600 });
    return answer(await fetch(url, { method: 'POST', headers: { 'content-type': OCTET }, body: xml, signal: AbortSignal.timeout(20_000) }));
  }
}

async function answer(r: Response): Promise<Answer> {
  return { status: r.status, headers: Object.fromEntries(r.headers), body: Buffer.from(await r.arrayBuffer()) };
}

// ---- answers → facts --------------------------------------------------------------------------------------------------

const xml = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false,
  parseAttributeValue: false, trimValues: false, processEntities: true });
type PNode = Record<string, unknown>;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

function etagFormat(v: string): string {
  if (/^"[0-9a-f]{32}"$/.test(v)) return 'quoted md5 hex';
  const m = /^"[0-9a-f]{32}-(\d+)"$/.exec(v);
  return m ? `quoted multipart "<md5-of-md5s>-${m[1]}"` : `other: ${v}`;
}

function locationFacts(v: string, facts: Facts, path: string): void {
  facts.set(`${path}~uri`, /^[\x21-\x7e]+$/.test(v) ? 'well-formed' : 'raw characters');
  try {
    const u = new URL(v);
    const segs = u.pathname.split('/').slice(1);
    const bucketHost = u.hostname.match(/^(.+?)\.s3[.-]/)?.[1];
    const bucket = bucketHost ?? decodeURIComponent(segs.shift() ?? '');
    facts.set(path, `<bucket=${bucket} key=${segs.map((s) => decodeURIComponent(s)).join('/')}>`);
  } catch {
    facts.set(path, `unparseable: ${v}`);
  }
}

function xmlFacts(text: string, side: Side, facts: Facts): void {
  let doc: PNode[];
  try { doc = xml.parse(text) as PNode[]; } catch (e) { facts.set('xml:error', (e as Error).message); return; }
  const root = doc.find((n) => !Object.keys(n).some((k) => k.startsWith('?')) && !('#text' in n));
  if (!root) { facts.set('xml:error', 'no root element'); return; }
  const rootName = Object.keys(root).find((k) => k !== ':@')!;
  facts.set('xml:root', rootName);
  const attrs = root[':@'] as Record<string, string> | undefined;
  if (attrs?.xmlns !== undefined) facts.set('xml:@xmlns', attrs.xmlns);
  const walk = (children: PNode[], path: string, parent: string) => {
    const counts = new Map<string, number>();
    for (const c of children) {
      const name = Object.keys(c).find((k) => k !== ':@' && k !== '#text');
      if (!name) continue;
      const i = (counts.get(name) ?? 0) + 1;
      counts.set(name, i);
      const p = `${path}/${name}[${i}]`;
      const kids = (c[name] as PNode[]) ?? [];
      if (kids.some((k) => Object.keys(k).some((x) => x !== '#text' && x !== ':@'))) {
        facts.set(`xml:${p}`, '<element>');
        walk(kids, p, name);
        continue;
      }
      const value = kids.map((k) => String(k['#text'] ?? '')).join('');
      let shown = value;
      if (name === 'RequestId' || name === 'HostId') shown = value ? '<present>' : '<empty>';
      else if ((name === 'ID' || name === 'DisplayName') && (parent === 'Owner' || parent === 'Initiator')) shown = value ? '<present>' : '<empty>';
      else if (name === 'LastModified' || name === 'Initiated') shown = ISO.test(value) ? '<ISO 8601 date>' : `not ISO 8601: ${value}`;
      else if (name === 'UploadId') shown = side.labels.get(value) ?? value;
      else if (name === 'Location') { locationFacts(value, facts, `xml:${p}`); continue; }
      facts.set(`xml:${p}`, shown);
    }
  };
  walk((root[rootName] as PNode[]) ?? [], '', rootName);
}

function factsOf(a: Answer, side: Side, method: string): Facts {
  const facts: Facts = new Map([['status', String(a.status)]]);
  const type = a.headers['content-type'] ?? '';
  const isXml = a.body.length > 0 && (/xml/.test(type) || a.body.subarray(0, 5).toString() === '<?xml');
  for (const [k, v] of Object.entries(a.headers)) {
    if (k in IGNORED_HEADERS) continue;
    if (k === 'last-modified') facts.set(`header:${k}`, HTTP_DATE.test(v) ? '<HTTP date>' : `not an HTTP date: ${v}`);
    else if (k === 'content-length' && isXml) facts.set(`header:${k}`, Number(v) === a.body.length ? '<equals the body length>' : `${v} (body ${a.body.length})`);
    else facts.set(`header:${k}`, v);
    if (k === 'etag') facts.set('header:etag~format', etagFormat(v));
  }
  facts.set('body', a.body.length === 0 ? 'empty' : isXml ? 'XML' : 'bytes');
  if (isXml) xmlFacts(a.body.toString('utf8'), side, facts);
  else if (a.body.length || method === 'GET') { facts.set('body:length', String(a.body.length)); facts.set('body:sha256', sha256(a.body)); }
  return facts;
}

// ---- comparison ---------------------------------------------------------------------------------------------------------

/** Compares the facts of one exchange: the allowances used, and every difference no allowance covers. */
function compareFacts(name: string, ef: Facts, mf: Facts, allowances: Allowance[] = ALLOWED): { allowed: string[]; disagreements: string[] } {
  const allowed = new Set<string>();
  const disagreements: string[] = [];
  const show = (v: string | undefined) => (v === undefined ? '(absent)' : JSON.stringify(v));
  for (const key of new Set([...ef.keys(), ...mf.keys()])) {
    const e = ef.get(key);
    const m = mf.get(key);
    if (e === m) continue;
    const a = allowances.find((x) => x.exchanges.test(name) && x.facts.test(key) && (!x.when || x.when(e, m, { emulator: ef, moto: mf })));
    if (a) { allowed.add(a.id); continue; }
    disagreements.push(`${key}: emulator ${show(e)} vs moto ${show(m)}`);
  }
  for (const a of allowances.filter((x) => x.exchanges.test(name))) {
    for (const [k, v] of Object.entries(a.emulator ?? {})) {
      if (ef.get(k) !== v) disagreements.push(`${k}: emulator ${show(ef.get(k))}, expected ${JSON.stringify(v)} (allowance ${a.id})`);
    }
    if (!a.general && !allowed.has(a.id)) disagreements.push(`allowance ${a.id} is stale: the answers no longer differ that way`);
  }
  return { allowed: [...allowed], disagreements };
}

interface Exchange { name: string; request: string; emulator: Answer; moto: Answer; allowed: string[]; disagreements: string[] }

class Comparison {
  readonly exchanges: Exchange[] = [];
  constructor(readonly emu: Side, readonly moto: Side) {}

  /** Runs one exchange on both servers (the emulator first) and compares the answers. */
  async run(name: string, request: string, send: (s: Side) => Promise<Answer>, method = request.split(' ')[0]!): Promise<{ emulator: Answer; moto: Answer }> {
    const emulator = await send(this.emu);
    const moto = await send(this.moto);
    const ef = factsOf(emulator, this.emu, method);
    const mf = factsOf(moto, this.moto, method);
    if (process.env.MOTO_COMPARE_PRINT === 'facts') console.log(name, [...ef], [...mf]);
    const { allowed, disagreements } = compareFacts(name, ef, mf);
    this.exchanges.push({ name, request, emulator, moto, allowed, disagreements });
    expect.soft(disagreements, `${name} (${request}): emulator and moto ${MOTO_VERSION} disagree`).toEqual([]);
    return { emulator, moto };
  }

  async report(info: TestInfo): Promise<void> {
    const lines = this.exchanges.map((x) => `${x.disagreements.length ? 'DIFF' : 'same'}  ${x.name} — ${x.request}: ${x.emulator.status}/${x.moto.status}` +
      `${x.allowed.length ? `  [allowed: ${x.allowed.join(', ')}]` : ''}${x.disagreements.map((d) => `\n        ${d}`).join('')}`);
    if (process.env.MOTO_COMPARE_PRINT) console.log(`${info.title}\n${lines.join('\n')}`);
    await info.attach('moto-comparison.txt', { body: `moto ${MOTO_VERSION}, ${this.exchanges.length} exchanges\n${lines.join('\n')}\n`, contentType: 'text/plain' });
  }
}

/** The XML error code of an answer (for test flow decisions, not for the comparison). */
const codeOf = (a: Answer) => /<Code>([^<]*)<\/Code>/.exec(a.body.toString())?.[1];
const xmlValue = (a: Answer, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(a.body.toString())?.[1]
  ?.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

// ---- setup ---------------------------------------------------------------------------------------------------------------

let moto: MotoServer | undefined;
let emuMount: LoopbackMount | undefined;
let emulator: S3Emulator | undefined;
let unavailable: string | undefined;

/** A fresh pair of sides, each test with its own bucket (the servers live for the worker). */
async function pair(info: TestInfo, bucket: string): Promise<Comparison> {
  test.skip(!!unavailable, unavailable);
  const c = new Comparison(new Side('emulator', emuMount!.url), new Side('moto', moto!.url));
  await c.run('CreateBucket', `PUT /${bucket}`, (s) => s.signed('PUT', bucket, undefined));
  return c;
}

async function finish(c: Comparison, info: TestInfo): Promise<void> {
  await c.report(info);
  for (const s of [c.emu, c.moto]) s.client.destroy();
}

// ---- the flow ------------------------------------------------------------------------------------------------------------

const KEY = 'dir/sub dir/ünï code+plus.bin';
const PARTS = [patternBytes(5 * MiB, 1), patternBytes(5 * MiB, 2), patternBytes(1234, 3)];
const TOTAL = PARTS.reduce((n, b) => n + b.length, 0);

/** Create + presigned parts + frontend-XML completion of KEY in `bucket`, compared exchange by exchange. */
async function multipartFlow(c: Comparison, bucket: string): Promise<void> {
  const created = await c.run('CreateMultipartUpload', `POST /${bucket}/${KEY}?uploads`, async (s) => {
    const a = await s.signed('POST', bucket, KEY, { uploads: '' }, Buffer.alloc(0), { 'content-type': OCTET });
    const id = xmlValue(a, 'UploadId');
    if (id) s.remember('main', id);
    return a;
  });
  expect(created.emulator.status).toBe(200);
  const etags: Record<string, string[]> = { emulator: [], moto: [] };
  for (const [i, body] of PARTS.entries()) {
    await c.run(`UploadPart #${i + 1} (${body.length} B)`, `PUT presigned ?partNumber=${i + 1}&uploadId=… (content-length;host signed)`, async (s) => {
      const { url, answer } = await s.presignedPart(bucket, KEY, s.upload('main'), i + 1, body);
      expect(url).toContain('X-Amz-SignedHeaders=content-length%3Bhost');
      etags[s.name]!.push(answer.headers.etag ?? '');
      return answer;
    });
  }
  expect(etags.emulator).toEqual(PARTS.map((b) => `"${md5(b).toString('hex')}"`));
  await c.run('ListParts', `GET /${bucket}/${KEY}?uploadId=…`, (s) => s.signed('GET', bucket, KEY, { uploadId: s.upload('main') }));
  await c.run('ListMultipartUploads (one open)', `GET /${bucket}?uploads`, (s) => s.signed('GET', bucket, undefined, { uploads: '' }));
  const done = await c.run('CompleteMultipartUpload frontend XML', 'POST presigned completeURL, raw quoted ETags', (s) =>
    s.presignedComplete(bucket, KEY, s.upload('main'), completeXml(etags[s.name]!.map((etag, i) => ({ partNumber: i + 1, etag })), 'frontend')));
  // Both compute S3's multipart ETag, md5 of the parts' binary md5s, "-3" (the comparison checked they agree).
  expect(xmlValue(done.emulator, 'ETag')).toBe(multipartEtag(PARTS));
}

test('CT-MOTO-000 the comparison itself: equal answers agree whatever their element order and request ids; a changed value, a missing element or header is a disagreement', () => {
  const side = new Side('emulator', 'http://127.0.0.1:9');
  side.remember('u', 'ID-1');
  const other = new Side('moto', 'http://127.0.0.1:9');
  other.remember('u', 'ID-2');
  const xmlAnswer = (body: string, headers: Record<string, string> = {}): Answer =>
    ({ status: 200, headers: { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)), ...headers }, body: Buffer.from(body) });
  const a = factsOf(xmlAnswer('<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><UploadId>ID-1</UploadId>' +
    '<Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></Part><Part><PartNumber>2</PartNumber><ETag>&quot;bb&quot;</ETag></Part></ListPartsResult>',
  { 'x-amz-request-id': 'R1', etag: '"0123456789abcdef0123456789abcdef"' }), side, 'GET');
  const b = factsOf(xmlAnswer('<?xml version="1.0" encoding="utf-8"?><ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><UploadId>ID-2</UploadId>' +
    '<Part><ETag>"aa"</ETag><PartNumber>1</PartNumber><LastModified>2010-11-10T20:48:33.000Z</LastModified></Part><Part><PartNumber>2</PartNumber><ETag>"bb"</ETag></Part><Bucket>b</Bucket></ListPartsResult>',
  { 'x-amzn-requestid': 'R2', etag: '"0123456789abcdef0123456789abcdef"' }), other, 'GET');
  expect(compareFacts('T', a, b, [])).toEqual({ allowed: [], disagreements: [] });
  expect(a.get('header:etag~format')).toBe('quoted md5 hex');
  const changed = new Map(b);
  changed.set('xml:/Part[2]/ETag[1]', '"cc"');
  changed.delete('xml:/Bucket[1]');
  changed.set('header:x-amz-mp-parts-count', '2');
  expect(compareFacts('T', a, changed, []).disagreements).toEqual([
    'xml:/Bucket[1]: emulator "b" vs moto (absent)', 'xml:/Part[2]/ETag[1]: emulator "\\"bb\\"" vs moto "\\"cc\\""',
    'header:x-amz-mp-parts-count: emulator (absent) vs moto "2"']);
  // Allowances: used when they match, pin the emulator where moto departs from AWS, and go stale when unused.
  const rule: Allowance = { id: 'r', reason: 'test', exchanges: /^T$/, facts: /^xml:\/Part\[2\]\/ETag\[1\]$/, emulator: { 'xml:/Bucket[1]': 'b' } };
  const partial = new Map(b);
  partial.set('xml:/Part[2]/ETag[1]', '"cc"');
  expect(compareFacts('T', a, partial, [rule])).toEqual({ allowed: ['r'], disagreements: [] });
  expect(compareFacts('T', a, b, [rule]).disagreements).toEqual(['allowance r is stale: the answers no longer differ that way']);
  expect(compareFacts('T', a, partial, [{ ...rule, emulator: { 'xml:/Bucket[1]': 'c' } }]).disagreements)
    .toEqual(['xml:/Bucket[1]: emulator "b", expected "c" (allowance r)']);
  // Object bytes are compared by length and digest; an XML body's Content-Length only as "equals the body".
  const bytes = (body: Buffer): Answer => ({ status: 200, headers: { 'content-length': String(body.length) }, body });
  expect(compareFacts('T', factsOf(bytes(Buffer.from('abc')), side, 'GET'), factsOf(bytes(Buffer.from('abd')), other, 'GET'), []).disagreements)
    .toEqual([`body:sha256: emulator "${sha256('abc')}" vs moto "${sha256('abd')}"`]);
});

test.describe('the S3 emulator against moto', () => {
  test.beforeAll(async ({}, info) => {
    info.setTimeout(10 * 60_000); // a first run installs moto (about 30 s here); CI pre-installs it (tools/moto.ts install)
    let install;
    try {
      install = await ensureMoto();
    } catch (e) {
      unavailable = `moto[server]==${MOTO_VERSION} is not available and could not be installed: ${(e as Error).message}`;
      if (process.env.CI) throw new Error(`${unavailable}\nCI must pre-install it: npx tsx tools/moto.ts install`);
      return;
    }
    moto = await startMoto(install);
    emulator = new S3Emulator({ credentials: creds });
    emuMount = await mountLoopback(emulator);
  });

  test.afterAll(async () => {
    await emuMount?.close();
    await moto?.stop();
  });

  test('CT-MOTO-001 multipart upload as Cloudreve and its web client run it: create, presigned parts (5 MiB, 5 MiB, 1234 B), list, complete', async ({}, info) => {
    const c = await pair(info, 'moto-cmp-001');
    try {
      await multipartFlow(c, 'moto-cmp-001');
      await c.run('ListMultipartUploads (none open)', 'GET /moto-cmp-001?uploads', (s) => s.signed('GET', 'moto-cmp-001', undefined, { uploads: '' }));
      await c.run('CompleteMultipartUpload again', 'POST presigned completeURL of the completed upload', (s) =>
        s.presignedComplete('moto-cmp-001', KEY, s.upload('main'), completeXml([{ partNumber: 1, etag: `"${md5(PARTS[0]!).toString('hex')}"` }])));
    } finally {
      await finish(c, info);
    }
  });

  test('CT-MOTO-002 reading the completed multipart object: HeadObject, GetObject whole and by Range (across the part boundary, suffix, open end)', async ({}, info) => {
    const bucket = 'moto-cmp-002';
    const c = await pair(info, bucket);
    try {
      await multipartFlow(c, bucket);
      await c.run('HeadObject', `HEAD /${bucket}/${KEY}`, (s) => s.signed('HEAD', bucket, KEY));
      const whole = await c.run('GetObject', `GET /${bucket}/${KEY}`, (s) => s.signed('GET', bucket, KEY));
      expect(whole.emulator.body.equals(Buffer.concat(PARTS))).toBe(true);
      for (const range of [`bytes=${5 * MiB - 10}-${5 * MiB + 9}`, 'bytes=-100', `bytes=${TOTAL - 1000}-`, 'bytes=0-0']) {
        await c.run(`GetObject Range ${range}`, `GET /${bucket}/${KEY} Range: ${range}`, (s) => s.signed('GET', bucket, KEY, {}, Buffer.alloc(0), { range }));
      }
    } finally {
      await finish(c, info);
    }
  });

  test('CT-MOTO-003 single-request objects: PutObject, HeadObject, GetObject, DeleteObject; missing keys (HEAD 404, GET NoSuchKey, DELETE 204)', async ({}, info) => {
    const bucket = 'moto-cmp-003';
    const c = await pair(info, bucket);
    try {
      const data = patternBytes(70_000, 7);
      await c.run('PutObject', `PUT /${bucket}/small file.bin`, (s) => s.signed('PUT', bucket, 'small file.bin', {}, data, { 'content-type': OCTET }));
      await c.run('HeadObject (single part)', `HEAD /${bucket}/small file.bin`, (s) => s.signed('HEAD', bucket, 'small file.bin'));
      await c.run('GetObject (single part)', `GET /${bucket}/small file.bin`, (s) => s.signed('GET', bucket, 'small file.bin'));
      await c.run('PutObject (empty)', `PUT /${bucket}/empty.txt`, (s) => s.signed('PUT', bucket, 'empty.txt', {}, Buffer.alloc(0), { 'content-type': 'text/plain' }));
      await c.run('DeleteObject', `DELETE /${bucket}/small file.bin`, (s) => s.signed('DELETE', bucket, 'small file.bin'));
      await c.run('HeadObject missing key', `HEAD /${bucket}/small file.bin`, (s) => s.signed('HEAD', bucket, 'small file.bin'));
      await c.run('GetObject missing key', `GET /${bucket}/small file.bin`, (s) => s.signed('GET', bucket, 'small file.bin'));
      await c.run('DeleteObject missing key', `DELETE /${bucket}/small file.bin`, (s) => s.signed('DELETE', bucket, 'small file.bin'));
    } finally {
      await finish(c, info);
    }
  });

  test('CT-MOTO-004 AbortMultipartUpload, and the aborted or an unknown upload id afterwards (NoSuchUpload)', async ({}, info) => {
    const bucket = 'moto-cmp-004';
    const c = await pair(info, bucket);
    const key = 'aborted.bin';
    try {
      await c.run('CreateMultipartUpload', `POST /${bucket}/${key}?uploads`, async (s) => {
        const a = await s.signed('POST', bucket, key, { uploads: '' });
        s.remember('aborted', xmlValue(a, 'UploadId') ?? '?');
        return a;
      });
      await c.run('UploadPart #1 (100 B)', 'PUT presigned', async (s) => (await s.presignedPart(bucket, key, s.upload('aborted'), 1, patternBytes(100, 9))).answer);
      await c.run('ListMultipartUploads (one open)', `GET /${bucket}?uploads`, (s) => s.signed('GET', bucket, undefined, { uploads: '' }));
      await c.run('AbortMultipartUpload', `DELETE /${bucket}/${key}?uploadId=…`, (s) => s.signed('DELETE', bucket, key, { uploadId: s.upload('aborted') }));
      await c.run('ListMultipartUploads (none open)', `GET /${bucket}?uploads`, (s) => s.signed('GET', bucket, undefined, { uploads: '' }));
      await c.run('AbortMultipartUpload again', `DELETE /${bucket}/${key}?uploadId=…`, (s) => s.signed('DELETE', bucket, key, { uploadId: s.upload('aborted') }));
      await c.run('ListParts of the aborted upload', `GET /${bucket}/${key}?uploadId=…`, (s) => s.signed('GET', bucket, key, { uploadId: s.upload('aborted') }));
      await c.run('UploadPart to the aborted upload', 'PUT presigned', async (s) => (await s.presignedPart(bucket, key, s.upload('aborted'), 2, patternBytes(100, 10))).answer);
      await c.run('CompleteMultipartUpload to the aborted upload', 'POST presigned completeURL', (s) =>
        s.presignedComplete(bucket, key, s.upload('aborted'), completeXml([{ partNumber: 1, etag: `"${md5(patternBytes(100, 9)).toString('hex')}"` }])));
      await c.run('UploadPart to an unknown upload id', 'PUT presigned, uploadId=no-such-upload', async (s) =>
        (await s.presignedPart(bucket, key, 'no-such-upload', 1, patternBytes(100, 11))).answer);
      await c.run('CompleteMultipartUpload to an unknown upload id', 'POST presigned completeURL, uploadId=no-such-upload', (s) =>
        s.presignedComplete(bucket, key, 'no-such-upload', completeXml([{ partNumber: 1, etag: '"0123456789abcdef0123456789abcdef"' }])));
      await c.run('ListParts of an unknown upload id', `GET /${bucket}/${key}?uploadId=no-such-upload`, (s) => s.signed('GET', bucket, key, { uploadId: 'no-such-upload' }));
    } finally {
      await finish(c, info);
    }
  });

  test('CT-MOTO-005 completion errors: InvalidPart (wrong ETag, part never uploaded), InvalidPartOrder, EntityTooSmall, empty part list; the upload stays open', async ({}, info) => {
    const bucket = 'moto-cmp-005';
    const c = await pair(info, bucket);
    const big = [PARTS[0]!, PARTS[1]!];
    const small = [patternBytes(1024, 21), patternBytes(1024, 22)];
    const tag = (b: Buffer) => `"${md5(b).toString('hex')}"`;
    const open = async (label: string, key: string, bodies: Buffer[]) => {
      await c.run(`CreateMultipartUpload (${label})`, `POST /${bucket}/${key}?uploads`, async (s) => {
        const a = await s.signed('POST', bucket, key, { uploads: '' });
        s.remember(label, xmlValue(a, 'UploadId') ?? '?');
        return a;
      });
      for (const [i, body] of bodies.entries()) {
        await c.run(`UploadPart #${i + 1} (${label}, ${body.length} B)`, 'PUT presigned', async (s) => (await s.presignedPart(bucket, key, s.upload(label), i + 1, body)).answer);
      }
    };
    const complete = (name: string, label: string, key: string, parts: { partNumber: number; etag: string }[], style: 'frontend' | 'sdk' = 'frontend', raw?: string) =>
      c.run(`CompleteMultipartUpload ${name}`, `POST presigned completeURL, ${raw ? 'body ' + raw : `parts ${parts.map((p) => p.partNumber).join(',')}`}`,
        (s) => s.presignedComplete(bucket, key, s.upload(label), raw ?? completeXml(parts, style)));
    try {
      await open('big', 'big.bin', big);
      const wrong = await complete('wrong ETag', 'big', 'big.bin', [{ partNumber: 1, etag: '"0123456789abcdef0123456789abcdef"' }, { partNumber: 2, etag: tag(big[1]!) }]);
      expect(codeOf(wrong.emulator)).toBe('InvalidPart');
      await complete('part never uploaded', 'big', 'big.bin', [{ partNumber: 1, etag: tag(big[0]!) }, { partNumber: 3, etag: tag(big[1]!) }]);
      await complete('empty part list', 'big', 'big.bin', [], 'frontend', '<CompleteMultipartUpload></CompleteMultipartUpload>');
      await c.run('ListParts after failed completions', `GET /${bucket}/big.bin?uploadId=…`, (s) => s.signed('GET', bucket, 'big.bin', { uploadId: s.upload('big') }));

      await open('small', 'small.bin', small);
      await complete('non-last part under 5 MiB', 'small', 'small.bin', small.map((b, i) => ({ partNumber: i + 1, etag: tag(b) })));
      await c.run('ListParts after EntityTooSmall', `GET /${bucket}/small.bin?uploadId=…`, (s) => s.signed('GET', bucket, 'small.bin', { uploadId: s.upload('small') }));
      // A single part of any size completes; the SDK's way of writing the ETag (XML-escaped quotes).
      await complete('SDK-escaped ETag, one small part', 'small', 'small.bin', [{ partNumber: 1, etag: tag(small[0]!) }], 'sdk');
      await c.run('HeadObject (one-part multipart object)', `HEAD /${bucket}/small.bin`, (s) => s.signed('HEAD', bucket, 'small.bin'));

      // Last: moto completes an out-of-order list (its upload is gone afterwards).
      await complete('parts out of order', 'big', 'big.bin', [{ partNumber: 2, etag: tag(big[1]!) }, { partNumber: 1, etag: tag(big[0]!) }]);
    } finally {
      await finish(c, info);
    }
  });
});
