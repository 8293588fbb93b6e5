// The docs' table of contents (fixtures/docs-tree.txt, copied from ../shared/seed/): its operation leaves, each with
// its path of groups, and the data models listed under 数据模型.
import { readFileSync } from 'node:fs';

export interface TreeLeaf { title: string; path: string; group: string }

export function readDocsTree(): { operations: TreeLeaf[]; models: string[] } {
  const text = readFileSync(new URL('../../fixtures/docs-tree.txt', import.meta.url), 'utf8');
  const nodes: { depth: number; title: string }[] = [];
  for (const line of text.split('\n')) {
    if (/^\s*1\. /.test(line) && nodes.length) break; // the page that follows the tree
    const m = /^( *)• (.+?)\s*$/.exec(line);
    if (m) nodes.push({ depth: m[1]!.length / 2, title: m[2]! });
  }
  const operations: TreeLeaf[] = [];
  const models: string[] = [];
  const stack: string[] = [];
  nodes.forEach((n, i) => {
    stack.length = n.depth - 1;
    stack[n.depth - 1] = n.title;
    const isLeaf = !(nodes[i + 1] && nodes[i + 1]!.depth > n.depth);
    if (!isLeaf || n.depth === 1) return; // groups, and README at the top level
    if (stack[0] === '数据模型') models.push(n.title);
    else operations.push({ title: n.title, path: stack.join('/'), group: stack[0]! });
  });
  return { operations, models };
}
