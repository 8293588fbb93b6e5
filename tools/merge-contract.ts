// One-off assembly of contracts/parts/*.yaml into contracts/cloudreve-v4.openapi.yaml (used while the contract is
// written in parallel pieces), followed by a strict ajv compile so each piece's author sees their errors.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

type Doc = Record<string, any>;
const dir = new URL('../contracts/parts/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
const out: Doc = {};
const owner = new Map<string, string>();
for (const f of files) {
  const part: Doc = parse(readFileSync(new URL(f, dir), 'utf8')) ?? {};
  for (const [k, v] of Object.entries(part)) {
    if (k === 'paths' || k === 'components') continue;
    if (k in out && k !== 'tags') throw new Error(`${f}: top-level key ${k} defined twice`);
    out[k] = v;
  }
  for (const [p, item] of Object.entries<Doc>(part.paths ?? {})) {
    out.paths ??= {};
    out.paths[p] ??= {};
    for (const [m, op] of Object.entries(item)) {
      const key = `paths ${p} ${m}`;
      if (owner.has(key)) throw new Error(`${f}: ${key} already defined in ${owner.get(key)}`);
      owner.set(key, f);
      out.paths[p][m] = op;
    }
  }
  for (const [section, entries] of Object.entries<Doc>(part.components ?? {})) {
    out.components ??= {};
    out.components[section] ??= {};
    for (const [name, v] of Object.entries(entries)) {
      const key = `components ${section} ${name}`;
      if (owner.has(key)) throw new Error(`${f}: ${key} already defined in ${owner.get(key)}`);
      owner.set(key, f);
      out.components[section][name] = v;
    }
  }
}
writeFileSync(new URL('../contracts/cloudreve-v4.openapi.yaml', import.meta.url), stringify(out, { lineWidth: 120 }));

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats.default(ajv);
const xKeys = new Set<string>();
(function walk(v: unknown) {
  if (Array.isArray(v)) v.forEach(walk);
  else if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) { if (k.startsWith('x-')) xKeys.add(k); walk(c); }
})(out);
ajv.addVocabulary(['openapi', 'info', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags', 'externalDocs',
  'jsonSchemaDialect', 'example', 'discriminator', 'xml', ...xKeys]);
let errors = 0;
try { ajv.addSchema(out, 'openapi.json'); } catch (e) { console.error(String(e)); errors++; }
for (const name of Object.keys(out.components?.schemas ?? {})) {
  try { ajv.getSchema(`openapi.json#/components/schemas/${name}`); } catch (e) { console.error(`schema ${name}: ${e}`); errors++; }
}
for (const [p, item] of Object.entries<Doc>(out.paths ?? {})) {
  for (const [m, op] of Object.entries<Doc>(item)) {
    const ptr = `/paths/${p.replaceAll('~', '~0').replaceAll('/', '~1')}/${m}`;
    for (const [status, resp] of Object.entries<Doc>(op.responses ?? {})) {
      for (const mt of Object.keys(resp.content ?? {})) {
        if (!resp.content[mt].schema) continue;
        const s = `openapi.json#${ptr}/responses/${status}/content/${mt.replaceAll('/', '~1')}/schema`;
        try { ajv.getSchema(s); } catch (e) { console.error(`${m.toUpperCase()} ${p} ${status} ${mt}: ${e}`); errors++; }
      }
    }
    const rb = op.requestBody?.content;
    for (const mt of Object.keys(rb ?? {})) {
      if (!rb[mt].schema) continue;
      const s = `openapi.json#${ptr}/requestBody/content/${mt.replaceAll('/', '~1')}/schema`;
      try { ajv.getSchema(s); } catch (e) { console.error(`${m.toUpperCase()} ${p} request ${mt}: ${e}`); errors++; }
    }
  }
}
const ops = [...owner.keys()].filter((k) => k.startsWith('paths ')).length;
console.log(`merged ${files.length} parts: ${ops} operations, ${Object.keys(out.components?.schemas ?? {}).length} schemas; ${errors} compile errors`);
process.exitCode = errors ? 1 : 0;
