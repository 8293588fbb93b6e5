// The contract, loaded once per process (per Playwright worker): the OpenAPI document, ajv compiled from it in strict
// 2020-12 mode, and an index that maps a request (method + URL) to its operation.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { contractUrl, readCatalog } from './generate.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = Record<string, any>;

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

export interface ParameterSpec {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema?: Obj;
  /** JSON pointer of the parameter's schema inside the document. */
  schemaRef?: string;
}

export interface Operation {
  id: string;
  method: string;
  /** Path template without the /api/v4 prefix, e.g. /file/upload/{sessionId}/{index}. */
  path: string;
  /** JSON pointer of the operation object inside the document. */
  pointer: string;
  tag: string;
  auth: string;
  docsTitle?: string;
  docsPath?: string;
  edition?: string;
  since?: string;
  needs: string[];
  parameters: ParameterSpec[];
  object: Obj;
  regex: RegExp;
  paramNames: string[];
  literalSegments: number;
}

export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

export const API_PREFIX = '/api/v4';

/** OpenAPI root keywords and annotations ajv must accept as schema keywords in strict mode. */
const OPENAPI_KEYWORDS = ['openapi', 'info', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags',
  'externalDocs', 'jsonSchemaDialect', 'example', 'discriminator', 'xml'];

export class Contract {
  readonly doc: Obj;
  readonly ajv: Ajv2020;
  readonly operations: Operation[];
  readonly knownCodes: ReadonlySet<number>;
  private readonly validators = new Map<string, ValidateFunction>();
  private static cached: Contract | undefined;

  /** The contract of this repository, parsed and compiled once per process. */
  static load(): Contract {
    Contract.cached ??= new Contract(parse(readFileSync(contractUrl, 'utf8')) as Obj);
    return Contract.cached;
  }

  constructor(doc: Obj) {
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true, verbose: true });
    addFormats.default(this.ajv);
    this.ajv.addVocabulary([...OPENAPI_KEYWORDS, ...extensionKeys(doc)]);
    this.ajv.addSchema(doc, 'openapi.json');
    this.operations = indexOperations(doc, (o) => this.resolve(o));
    this.knownCodes = new Set(readCatalog().map((e) => e.code));
  }

  /** Follows a local $ref (one or several hops). */
  resolve<T = Obj>(value: Obj): T {
    let v = value;
    for (let hops = 0; v && typeof v === 'object' && typeof v.$ref === 'string'; hops++) {
      if (hops > 16) throw new Error(`$ref loop at ${v.$ref}`);
      v = this.at(v.$ref);
    }
    return v as T;
  }

  /** The value at a document-local reference ('#/components/schemas/X'). */
  at(ref: string): any {
    if (!ref.startsWith('#')) throw new Error(`only local $ref is supported, got ${ref}`);
    let v: any = this.doc;
    for (const raw of ref.slice(1).split('/').slice(1)) {
      const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      v = v?.[seg];
      if (v === undefined) throw new Error(`unresolvable $ref ${ref}`);
    }
    return v;
  }

  /** A compiled validator for the schema at a JSON pointer of the document (cached). */
  validator(pointer: string): ValidateFunction {
    let fn = this.validators.get(pointer);
    if (!fn) {
      const got = this.ajv.getSchema(`openapi.json#${pointer}`);
      if (!got) throw new Error(`no schema at ${pointer}`);
      fn = got;
      this.validators.set(pointer, fn);
    }
    return fn;
  }

  byId(operationId: string): Operation {
    const op = this.operations.find((o) => o.id === operationId);
    if (!op) throw new Error(`no operation ${operationId} in the contract`);
    return op;
  }

  /**
   * The operation a request addresses. `url` may be absolute (any host: the site or a slave node) or a path; the part
   * after the first /api/v4 is matched against the templates, literal segments first.
   */
  match(method: string, url: string | URL): { operation: Operation; pathParams: Record<string, string> } | undefined {
    const pathname = typeof url === 'string' ? new URL(url, 'http://x').pathname : url.pathname;
    const at = pathname.indexOf(`${API_PREFIX}/`);
    if (at < 0) return undefined;
    const rest = pathname.slice(at + API_PREFIX.length);
    const m = method.toLowerCase();
    for (const op of this.operations) {
      if (op.method !== m) continue;
      const hit = op.regex.exec(rest);
      if (!hit) continue;
      const pathParams: Record<string, string> = {};
      op.paramNames.forEach((name, i) => { pathParams[name] = decodeURIComponent(hit[i + 1]!); });
      return { operation: op, pathParams };
    }
    return undefined;
  }
}

function extensionKeys(doc: unknown): string[] {
  const keys = new Set<string>();
  (function walk(v: unknown) {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, c] of Object.entries(v)) {
        if (k.startsWith('x-')) keys.add(k);
        walk(c);
      }
    }
  })(doc);
  return [...keys];
}

function indexOperations(doc: Obj, resolve: (o: Obj) => Obj): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<Obj>(doc.paths ?? {})) {
    const shared: Obj[] = item.parameters ?? [];
    for (const method of HTTP_METHODS) {
      const object = item[method] as Obj | undefined;
      if (!object) continue;
      const pointer = `/paths/${escapePointer(path)}/${method}`;
      const parameters: ParameterSpec[] = [];
      const all = [...shared.map((p, i) => ({ p, ptr: `/paths/${escapePointer(path)}/parameters/${i}` })),
        ...(object.parameters ?? []).map((p: Obj, i: number) => ({ p, ptr: `${pointer}/parameters/${i}` }))];
      for (const { p, ptr } of all) {
        const spec = resolve(p);
        const schemaRef = p.$ref ? `${(p.$ref as string).slice(1)}/schema` : `${ptr}/schema`;
        parameters.push({ name: spec.name, in: spec.in, required: !!spec.required || spec.in === 'path',
          schema: spec.schema, schemaRef: spec.schema ? schemaRef : undefined });
      }
      const paramNames: string[] = [];
      const source = path.split('/').map((seg) => {
        const m = /^\{(.+)\}$/.exec(seg);
        if (m) { paramNames.push(m[1]!); return '([^/]+)'; }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }).join('/');
      ops.push({
        id: object.operationId, method, path, pointer, object, parameters, paramNames,
        tag: (object.tags ?? [])[0] ?? '', auth: object['x-auth'] ?? 'optional',
        docsTitle: object['x-docs-title'], docsPath: object['x-docs-path'], edition: object['x-edition'],
        since: object['x-since'], needs: object['x-needs'] ?? [],
        regex: new RegExp(`^${source}/?$`),
        literalSegments: path.split('/').filter((s) => s && !s.startsWith('{')).length,
      });
    }
  }
  // Literal segments win over parameters: /share/info/{id} before /share/{id}.
  return ops.sort((a, b) => b.literalSegments - a.literalSegments || a.paramNames.length - b.paramNames.length);
}
