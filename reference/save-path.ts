// Where a policy stores a new entity: path.Join of its directory and file name rules with Cloudreve's placeholders
// rendered (pkg/filemanager/manager/entity.go / util.Replace), for the remote and cloud policies.
import { randomBytes, randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import type { PolicyRow } from './state.js';

const DEFAULT_DIR_RULE = 'uploads/{uid}/{path}';
const DEFAULT_FILE_RULE = '{uid}_{randomkey8}_{originname}';
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomKey(n: number): string {
  return [...randomBytes(n)].map((b) => ALNUM[b % ALNUM.length]).join('');
}

/** The rendered save path (no leading slash, never climbing out with ..). */
export function renderSavePath(policy: PolicyRow, uid: number, segments: string[]): string {
  const name = segments.at(-1) ?? '';
  const parent = segments.slice(0, -1).join('/');
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const dot = name.lastIndexOf('.');
  const vars: Record<string, () => string> = {
    randomkey16: () => randomKey(16), randomkey8: () => randomKey(8), timestamp: () => String(Math.floor(now.getTime() / 1000)),
    timestamp_nano: () => `${now.getTime()}000000`, uid: () => String(uid), path: () => parent, originname: () => name,
    ext: () => (dot > 0 ? name.slice(dot) : ''), originname_without_ext: () => (dot > 0 ? name.slice(0, dot) : name),
    uuid: () => randomUUID(), date: () => `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`,
    datetime: () => `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`,
    year: () => String(now.getFullYear()), month: () => pad(now.getMonth() + 1), day: () => pad(now.getDate()),
    hour: () => pad(now.getHours()), minute: () => pad(now.getMinutes()), second: () => pad(now.getSeconds()),
  };
  const render = (rule: string) => rule.replace(/\{([a-z_0-9]+)\}/g, (m, k: string) => vars[k]?.() ?? m);
  const joined = posix.join(render(policy.dirNameRule || DEFAULT_DIR_RULE), render(policy.fileNameRule || DEFAULT_FILE_RULE));
  return joined.replace(/^(\.\.?\/)+/, '').replace(/^\/+/, '');
}
