// cloudreve:// URIs as pkg/filemanager/fs/uri.go reads them: scheme "cloudreve", the host names the file system
// (my, trash, share, shared_with_me), an optional user part names the owner, and the path is percent-decoded and
// cleaned like Go's path.Clean — so `..` segments (also %2e%2e or ..%2F) are resolved inside the root, never above.
import { AppError, Code } from './envelope.js';

export interface CloudreveUri {
  /** The uri as sent, without a trailing slash (what the server echoes). */
  raw: string;
  fs: string;
  /** The user part (an owner's hashid), when present. */
  user?: string;
  password?: string;
  /** Cleaned path segments, decoded; [] is the root. */
  segments: string[];
  query: URLSearchParams;
  /** Its `..` segments climbed above the root (cleaned away; fault uri-dotdot-escapes acts on it). */
  escapes?: boolean;
}

const URI_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/;

export function parseUri(input: unknown): CloudreveUri | undefined {
  if (typeof input !== 'string') return undefined;
  const m = URI_RE.exec(input);
  if (!m || m[1]!.toLowerCase() !== 'cloudreve') return undefined;
  let authority = m[2]!;
  let user: string | undefined;
  let password: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const info = authority.slice(0, at).split(':');
    user = decode(info[0]!);
    password = info.length > 1 ? decode(info.slice(1).join(':')) : undefined;
    authority = authority.slice(at + 1);
    if (user === undefined) return undefined;
  }
  let decodedPath: string | undefined = decode(m[3]!);
  if (decodedPath === undefined) return undefined;
  const segments = clean(decodedPath);
  let raw = input;
  if (m[3]!.length > 1 && m[3]!.endsWith('/') && m[4] === undefined) raw = input.replace(/\/+$/, '');
  const escapes = climbsAboveRoot(decodedPath) || undefined;
  return { raw, fs: authority.toLowerCase(), user, password, segments, query: new URLSearchParams(m[4] ?? ''), escapes };
}

/** Like parseUri, but a bad uri is the server's 40001 "unknown uri". */
export function requireUri(input: unknown, msg = 'unknown uri'): CloudreveUri {
  const u = parseUri(input);
  if (!u) throw new AppError(Code.ParamErr, msg);
  return u;
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** path.Clean("/" + p), split into segments. */
export function clean(p: string): string[] {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

/** Whether the `..` segments of a path go above its root. */
function climbsAboveRoot(p: string): boolean {
  let depth = 0;
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    depth += part === '..' ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}

/** Go's url.URL path escaping: keeps RFC 3986 unreserved and sub-delims, escapes the rest. */
export function escapeSegment(s: string): string {
  return encodeURIComponent(s).replace(/%(2[146789ABC]|3[ABD]|40)/g, (m) => decodeURIComponent(m));
}

export function formatUri(fs: string, segments: string[], user?: string): string {
  const head = `cloudreve://${user ? `${encodeURIComponent(user)}@` : ''}${fs}`;
  return segments.length ? `${head}/${segments.map(escapeSegment).join('/')}` : `${head}/`;
}

/** pkg/filemanager/fs/dbfs/validator.go: 1..255 bytes, none of \ / : * ? " < > |, not . or .. */
export function validName(name: string): boolean {
  if (name === '' || name === '.' || name === '..') return false;
  if (Buffer.byteLength(name, 'utf8') >= 256) return false;
  return !/[\\/:*?"<>|]/.test(name);
}
