// The contract checks: small registered functions, each with a stable id, run on every request the harness sends and
// every response it receives. A check returns the violations it found; the transport reports them.
import type { ErrorObject } from 'ajv';
import { escapePointer, type Contract, type Operation } from './contract.js';
import type { CheckId, ContractViolation } from './violations.js';

type Obj = Record<string, any>;

/** What every violation of one exchange shares. */
export interface ExchangeInfo {
  curl: string;
  correlationId?: string;
  testStep?: string;
}

export interface RequestContext extends ExchangeInfo {
  contract: Contract;
  operation: Operation;
  url: URL;
  pathParams: Record<string, string>;
  headers: Headers;
  /** The JSON body, parsed; undefined when there is none; 'binary' for a byte stream that is not inspected. */
  body: unknown;
  bodyPresent: boolean;
  contentType: string | null;
}

export interface ResponseContext extends ExchangeInfo {
  contract: Contract;
  operation: Operation;
  status: number;
  contentType: string | null;
  /** The body text when the response is JSON (buffered); undefined for streamed bodies. */
  text?: string;
  json?: unknown;
  parseError?: string;
  /** Filled by status_code_documented for the later checks. */
  documented?: DocumentedResponse;
}

export interface DocumentedResponse {
  key: string;
  pointer: string;
  object: Obj;
  /** Media type the response matched, and the pointer of its schema. */
  mediaType?: string;
  schemaPointer?: string;
}

type Finding = Omit<ContractViolation, 'check' | 'side' | 'operationId' | 'method' | 'path' | 'curl' | 'correlationId' | 'testStep' | 'status'>;

export interface Check<C> {
  id: CheckId;
  description: string;
  run(ctx: C): Finding[];
}

export const requestChecks: Check<RequestContext>[] = [];
export const responseChecks: Check<ResponseContext>[] = [];

function registerRequestCheck(c: Check<RequestContext>): void { requestChecks.push(c); }
function registerResponseCheck(c: Check<ResponseContext>): void { responseChecks.push(c); }

export function runRequestChecks(ctx: RequestContext): ContractViolation[] {
  return requestChecks.flatMap((c) => c.run(ctx).map((f) => finish(c.id, 'request', ctx, f)));
}

export function runResponseChecks(ctx: ResponseContext): ContractViolation[] {
  const out: ContractViolation[] = [];
  for (const c of responseChecks) {
    const found = c.run(ctx).map((f) => finish(c.id, 'response', ctx, f, ctx.status));
    out.push(...found);
    // A response whose status, media type, JSON or envelope is wrong makes the finer checks meaningless.
    if (found.length && c.id !== 'error_code_known' && c.id !== 'response_schema') break;
  }
  return out;
}

function finish(check: CheckId, side: 'request' | 'response', ctx: ExchangeInfo & { operation: Operation }, f: Finding,
  status?: number): ContractViolation {
  return { check, side, operationId: ctx.operation.id, method: ctx.operation.method, path: ctx.operation.path, status,
    curl: ctx.curl, correlationId: ctx.correlationId, testStep: ctx.testStep, ...f };
}

// ---------------------------------------------------------------- ajv errors → findings

function valueAt(value: unknown, pointer: string): unknown {
  let v: any = value;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (v === null || typeof v !== 'object') return undefined;
    v = v[seg];
  }
  return v;
}

const SUMMARY_KEYWORDS = new Set(['if', 'oneOf', 'anyOf', 'allOf', 'not', 'then', 'else']);

export function findingsFromAjv(errors: ErrorObject[] | null | undefined, value: unknown, prefix = ''): Finding[] {
  if (!errors?.length) return [];
  const specific = errors.filter((e) => !SUMMARY_KEYWORDS.has(e.keyword));
  const chosen = specific.length ? specific : errors;
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const e of chosen) {
    let pointer = e.instancePath;
    let expected: string;
    let message = e.message ?? e.keyword;
    switch (e.keyword) {
      case 'required':
        pointer = `${e.instancePath}/${escapePointer(String(e.params.missingProperty))}`;
        expected = `required property "${e.params.missingProperty}"`;
        message = 'is missing';
        break;
      case 'additionalProperties':
        pointer = `${e.instancePath}/${escapePointer(String(e.params.additionalProperty))}`;
        expected = 'no such property (the object is closed)';
        message = 'is not allowed';
        break;
      case 'false schema':
        expected = 'absent';
        message = 'must be absent';
        break;
      case 'type': expected = `type ${e.params.type}`; break;
      case 'enum': expected = `one of ${JSON.stringify(e.params.allowedValues)}`; break;
      case 'const': expected = JSON.stringify(e.params.allowedValue); break;
      case 'format': expected = `format "${e.params.format}"`; break;
      default: expected = `${e.keyword} ${JSON.stringify(e.params)}`;
    }
    const key = `${pointer}|${e.keyword}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pointer: prefix + pointer, expected, actual: valueAt(value, pointer), message: `${message} [${e.schemaPath}]` });
  }
  return out;
}

// ---------------------------------------------------------------- request checks

function coerceParameter(raw: string, schema: Obj | undefined, contract: Contract): unknown {
  const s = schema ? contract.resolve(schema) : undefined;
  const types: string[] = Array.isArray(s?.type) ? s.type : s?.type ? [s.type] : [];
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (types.includes('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true';
  return raw;
}

registerRequestCheck({
  id: 'request_parameters',
  description: 'Every required path, query and header parameter is present and each one matches its schema.',
  run(ctx) {
    const out: Finding[] = [];
    for (const p of ctx.operation.parameters) {
      let raw: string | null | undefined;
      if (p.in === 'path') raw = ctx.pathParams[p.name];
      else if (p.in === 'query') raw = ctx.url.searchParams.get(p.name);
      else if (p.in === 'header') raw = ctx.headers.get(p.name);
      else continue;
      const pointer = `/${p.in}/${escapePointer(p.name)}`;
      if (raw === null || raw === undefined) {
        // Content-Length is set by the HTTP stack, not by the caller.
        if (p.required && !(p.in === 'header' && p.name.toLowerCase() === 'content-length'))
          out.push({ pointer, expected: `required ${p.in} parameter "${p.name}"`, actual: undefined, message: 'is missing' });
        continue;
      }
      if (!p.schemaRef) continue;
      const value = coerceParameter(raw, p.schema, ctx.contract);
      const validate = ctx.contract.validator(p.schemaRef);
      if (!validate(value)) out.push(...findingsFromAjv(validate.errors, value, pointer));
    }
    return out;
  },
});

registerRequestCheck({
  id: 'request_body_schema',
  description: 'A JSON request body matches the operation\'s request schema; a required body is present.',
  run(ctx) {
    const rb = ctx.operation.object.requestBody ? ctx.contract.resolve(ctx.operation.object.requestBody) : undefined;
    if (!rb) return [];
    if (!ctx.bodyPresent) {
      return rb.required ? [{ pointer: '', expected: 'a request body', actual: undefined, message: 'is missing' }] : [];
    }
    const media = mediaTypeOf(ctx.contentType);
    if (!media || !media.endsWith('json') || ctx.body === 'binary') return [];
    const docMedia = Object.keys(rb.content ?? {}).find((k) => k === media || k.endsWith('json'));
    if (!docMedia) {
      return [{ pointer: '', expected: `one of ${JSON.stringify(Object.keys(rb.content ?? {}))}`, actual: ctx.contentType,
        message: 'request content type is not documented' }];
    }
    if (!rb.content[docMedia].schema) return [];
    const ptr = `${ctx.operation.pointer}/requestBody/content/${escapePointer(docMedia)}/schema`;
    const validate = ctx.contract.validator(ptr);
    return validate(ctx.body) ? [] : findingsFromAjv(validate.errors, ctx.body);
  },
});

// ---------------------------------------------------------------- response checks

export function mediaTypeOf(contentType: string | null | undefined): string | undefined {
  return contentType ? contentType.split(';')[0]!.trim().toLowerCase() : undefined;
}

registerResponseCheck({
  id: 'status_code_documented',
  description: 'The HTTP status is one the contract lists for the operation.',
  run(ctx) {
    const responses: Obj = ctx.operation.object.responses ?? {};
    const s = String(ctx.status);
    const key = s in responses ? s : `${s[0]}XX` in responses ? `${s[0]}XX` : 'default' in responses ? 'default' : undefined;
    if (!key) {
      return [{ pointer: '', expected: `HTTP status ${Object.keys(responses).join(' or ')}`, actual: ctx.status,
        message: 'HTTP status is not documented for this operation' }];
    }
    const raw = responses[key];
    const pointer = raw.$ref ? (raw.$ref as string).slice(1) : `${ctx.operation.pointer}/responses/${escapePointer(key)}`;
    ctx.documented = { key, pointer, object: ctx.contract.resolve(raw) };
    return [];
  },
});

registerResponseCheck({
  id: 'content_type_documented',
  description: 'The response media type is one the contract lists for that status (or there is no body where none is documented).',
  run(ctx) {
    const doc = ctx.documented!;
    const content: Obj | undefined = doc.object.content;
    const media = mediaTypeOf(ctx.contentType);
    if (!content || !Object.keys(content).length) return [];
    const keys = Object.keys(content);
    const hit = keys.find((k) => k === media)
      ?? keys.find((k) => media && k.endsWith('/*') && media.startsWith(k.slice(0, -1)))
      ?? keys.find((k) => k === '*/*');
    if (!hit) {
      return [{ pointer: '', expected: `Content-Type ${keys.join(' or ')}`, actual: ctx.contentType ?? undefined,
        message: 'response media type is not documented for this status' }];
    }
    doc.mediaType = hit;
    if (content[hit].schema) doc.schemaPointer = `${doc.pointer}/content/${escapePointer(hit)}/schema`;
    return [];
  },
});

registerResponseCheck({
  id: 'json_body_parse',
  description: 'A response documented as JSON parses as JSON.',
  run(ctx) {
    if (!ctx.documented?.mediaType?.endsWith('json')) return [];
    if (ctx.parseError === undefined) return [];
    return [{ pointer: '', expected: 'a JSON document', actual: (ctx.text ?? '').slice(0, 200), message: `is not JSON: ${ctx.parseError}` }];
  },
});

function isEnvelopeSchema(ctx: ResponseContext): boolean {
  // Every documented JSON answer of the API is an envelope, except the few provider-format ones (e.g. {"error": ...}).
  const ptr = ctx.documented?.schemaPointer;
  if (!ptr || !ctx.documented?.mediaType?.endsWith('json')) return false;
  const schema = ctx.contract.resolve(ctx.contract.at(`#${ptr}`));
  const refs = JSON.stringify(schema);
  return refs.includes('#/components/schemas/SuccessResponse') || refs.includes('#/components/schemas/ErrorResponse')
    || refs.includes('#/components/schemas/EmptySuccessResponse') || refs.includes('#/components/schemas/Response"');
}

registerResponseCheck({
  id: 'response_envelope',
  description: 'A JSON answer is the Cloudreve envelope {code, msg, data?, error?, correlation_id?, aggregated_error?}.',
  run(ctx) {
    if (ctx.parseError !== undefined || ctx.json === undefined || !isEnvelopeSchema(ctx)) return [];
    const validate = ctx.contract.validator('/components/schemas/Response');
    return validate(ctx.json) ? [] : findingsFromAjv(validate.errors, ctx.json);
  },
});

registerResponseCheck({
  id: 'error_code_known',
  description: 'A non-zero code is one of the error-code catalog (contracts/error-codes.yaml).',
  run(ctx) {
    const code = (ctx.json as Obj | undefined)?.code;
    if (!isEnvelopeSchema(ctx) || typeof code !== 'number' || code === 0 || ctx.contract.knownCodes.has(code)) return [];
    return [{ pointer: '/code', expected: 'a code of the catalog (contracts/error-codes.yaml)', actual: code,
      message: 'is not a known Cloudreve error code' }];
  },
});

registerResponseCheck({
  id: 'response_schema',
  description: 'The body matches the schema of the operation for its status; for envelopes, the success branch when code is 0, the error branch otherwise.',
  run(ctx) {
    const doc = ctx.documented;
    if (!doc?.schemaPointer || ctx.json === undefined || ctx.parseError !== undefined) return [];
    const schema = ctx.contract.resolve(ctx.contract.at(`#${doc.schemaPointer}`));
    let pointer = doc.schemaPointer;
    if (Array.isArray(schema.oneOf) && schema.oneOf.length === 2 && isEnvelopeSchema(ctx)) {
      const code = (ctx.json as Obj).code;
      const resolvedPtr = schema === ctx.contract.at(`#${doc.schemaPointer}`) ? doc.schemaPointer
        : (ctx.contract.at(`#${doc.schemaPointer}`).$ref as string).slice(1);
      pointer = `${resolvedPtr}/oneOf/${code === 0 ? 0 : 1}`;
    }
    const validate = ctx.contract.validator(pointer);
    if (validate(ctx.json)) return [];
    const known = ctx.contract.knownCodes;
    // An unknown code is reported once, by error_code_known.
    return findingsFromAjv(validate.errors, ctx.json)
      .filter((f) => !(f.pointer === '/code' && typeof f.actual === 'number' && !known.has(f.actual)));
  },
});
