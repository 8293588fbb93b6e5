// CT-COV: the contract covers the whole docs tree, every model, and keeps its own conventions.
import { test, expect } from '@playwright/test';
import { Contract } from '../harness/contract/contract.js';
import { readDocsTree } from './support/docs-tree.js';

const contract = Contract.load();
const tree = readDocsTree();
const TAG_OF_GROUP: Record<string, string> = {
  站点信息: 'site', 会话管理: 'session', 用户管理: 'user', 回调: 'callback', 工作流: 'workflow', 文件管理: 'file',
  分享管理: 'share', VAS: 'vas', 用户组: 'group', WebDAV账号: 'webdav',
};

test('CT-COV-001 every operation of the docs tree is in the contract, under its group\'s tag', () => {
  const byTitle = new Map(contract.operations.filter((o) => o.docsTitle).map((o) => [o.docsTitle!, o]));
  const missing = tree.operations.filter((leaf) => !byTitle.has(leaf.title)).map((l) => l.path);
  const covered = tree.operations.length - missing.length;
  console.log(`tree operations in the contract: ${covered}/${tree.operations.length}`);
  expect(missing, 'tree entries without an operation (x-docs-title)').toEqual([]);
  for (const leaf of tree.operations) {
    const op = byTitle.get(leaf.title)!;
    expect(op.docsPath, `${op.id} x-docs-path`).toBe(leaf.path);
    expect(op.tag, `${op.id} tag`).toBe(TAG_OF_GROUP[leaf.group]);
  }
  const extra = [...byTitle.keys()].filter((t) => !tree.operations.some((l) => l.title === t));
  expect(extra, 'x-docs-title values that are not tree entries').toEqual([]);
});

test('CT-COV-002 every data model of the docs tree is a component schema under its own name', () => {
  const schemas = Object.keys(contract.doc.components.schemas);
  const missing = tree.models.filter((m) => !schemas.includes(m));
  console.log(`tree models in the contract: ${tree.models.length - missing.length}/${tree.models.length}`);
  expect(missing).toEqual([]);
});

test('CT-COV-003 operations follow the contract conventions', () => {
  const ids = new Set<string>();
  const auth = new Set(['none', 'optional', 'user', 'admin', 'callback', 'slave']);
  const tags = new Set((contract.doc.tags as { name: string }[]).map((t) => t.name));
  const problems: string[] = [];
  for (const op of contract.operations) {
    const where = `${op.method.toUpperCase()} ${op.path}`;
    if (!/^[a-z][a-zA-Z0-9]*$/.test(op.id ?? '')) problems.push(`${where}: operationId ${op.id} is not camelCase`);
    if (ids.has(op.id)) problems.push(`${where}: duplicate operationId ${op.id}`);
    ids.add(op.id);
    if ((op.object.tags ?? []).length !== 1 || !tags.has(op.tag)) problems.push(`${where}: needs exactly one declared tag`);
    if (!auth.has(op.object['x-auth'])) problems.push(`${where}: x-auth ${op.object['x-auth']}`);
    if (op.since && !/^4\.\d+\.\d+$/.test(op.since)) problems.push(`${where}: x-since ${op.since}`);
    if (op.edition && op.edition !== 'pro') problems.push(`${where}: x-edition ${op.edition}`);
    if (!Object.keys(op.object.responses ?? {}).length) problems.push(`${where}: no responses`);
  }
  console.log(`operations in the contract: ${contract.operations.length} (${contract.operations.filter((o) => o.docsTitle).length} from the tree, ` +
    `${contract.operations.filter((o) => o.edition === 'pro').length} Pro-only)`);
  expect(problems).toEqual([]);
});

test('CT-COV-004 the routes uploads use beyond the tree are in the contract', () => {
  const need = [
    ['post', '/callback/remote/{session_id}/{key}'], ['post', '/callback/oss/{session_id}/{key}'],
    ['post', '/callback/upyun/{session_id}/{key}'], ['post', '/callback/qiniu/{session_id}/{key}'],
    ['get', '/callback/ks3/{session_id}/{key}'], ['post', '/slave/upload/{sessionId}'],
  ];
  for (const [method, path] of need) {
    expect(contract.operations.some((o) => o.method === method && o.path === path), `${method} ${path}`).toBe(true);
  }
  const admin = contract.operations.filter((o) => o.tag === 'admin').map((o) => o.path);
  for (const area of ['/admin/settings', '/admin/policy', '/admin/group', '/admin/user', '/admin/node']) {
    expect(admin.some((p) => p.startsWith(area)), `admin operations under ${area}`).toBe(true);
  }
});

test('CT-COV-005 fields newer than 4.0.0 carry x-since', () => {
  // A sample of the fields research/api-operations.md §5 dates; each must say when it appeared.
  const s = contract.doc.components.schemas;
  const at = (schema: string, prop: string) => {
    const found: any[] = [];
    (function walk(v: any) {
      if (!v || typeof v !== 'object') return;
      if (v.properties?.[prop]) found.push(v.properties[prop]);
      for (const c of Object.values(v)) walk(c);
    })(s[schema]);
    return found[0];
  };
  const dated: [string, string, string][] = [
    ['StoragePolicy', 'chunk_concurrency', '4.7.0'], ['Share', 'password_protected', '4.5.0'],
    ['CreateUploadSessionRequest', 'previous', '4.11.0'], ['UploadSession', 'encrypt_metadata', '4.10.0'],
    ['ExtendedInfo', 'direct_links', '4.1.0'], ['Share', 'show_readme', '4.2.0'],
  ];
  for (const [schema, prop, since] of dated) expect(at(schema, prop)?.['x-since'], `${schema}.${prop}`).toBe(since);
});
