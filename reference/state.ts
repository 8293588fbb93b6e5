// The reference target's whole state, in memory: what the real server keeps in its database (settings, users,
// groups, storage policies, nodes, files, entities, shares, WebDAV accounts) and in its KV store (upload sessions,
// revoked token families). Stored bytes live in the data directory (see blobs.ts).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { HashIds } from './hashid.js';
import { fault } from './faults/index.js';

export const VERSION = '4.18.0';
export const KB = 1024;
export const MB = 1024 * KB;
export const GB = 1024 * MB;
export const TB = 1024 * GB;

export interface UserRow {
  id: number;
  email: string;
  nick: string;
  passwordDigest: string;
  status: 'active' | 'inactive' | 'manual_banned' | 'sys_banned';
  groupId: number;
  /** Bytes charged: every entity the user owns, pending uploads included. */
  storage: number;
  avatar: string;
  /** ent's types.UserSetting, with its JSON keys. */
  settings: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface GroupRow {
  id: number;
  name: string;
  maxStorage: number;
  speedLimit: number;
  /** The permission bit set (boolset, base64 on the wire). */
  permissions: Buffer;
  /** ent's types.GroupSetting, with its JSON keys. */
  settings: Record<string, unknown>;
  storagePolicyId: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface PolicyRow {
  id: number;
  name: string;
  type: string;
  server: string;
  bucketName: string;
  isPrivate: boolean;
  accessKey: string;
  secretKey: string;
  maxSize: number;
  dirNameRule: string;
  fileNameRule: string;
  /** ent's types.PolicySetting, with its JSON keys. */
  settings: Record<string, unknown>;
  nodeId: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface NodeRow {
  id: number;
  name: string;
  type: 'master' | 'slave';
  status: string;
  server: string;
  slaveKey: string;
  capabilities: string;
  settings: Record<string, unknown>;
  weight: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface FileRow {
  id: number;
  ownerId: number;
  /** null for a user's root folder and for files in the trash bin. */
  parentId: number | null;
  name: string;
  type: 0 | 1; // 0 file, 1 folder
  size: number;
  /** 0 while an upload is pending (no primary entity). */
  primaryEntityId: number;
  isRoot: boolean;
  metadata: Map<string, string>;
  entityIds: number[];
  /** A folder's own view setting (PATCH /file/view). */
  view?: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface EntityRow {
  id: number;
  type: 0 | 1 | 2; // version, thumbnail, live photo
  size: number;
  /** Path of the blob relative to the data directory. */
  source: string;
  policyId: number;
  createdBy: number;
  uploadSessionId?: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface UploadSession {
  id: string;
  uid: number;
  fileId: number;
  entityId: number;
  /** The uri as the client sent it (echoed back). */
  uri: string;
  size: number;
  chunkSize: number;
  /** Unix seconds; the session is gone once that second has passed (the KV store's resolution). */
  expires: number;
  callbackSecret: string;
  policyId: number;
  received: Set<number>;
  lastModified?: Date;
  metadata?: Record<string, string>;
  /** The upload lock on the placeholder: its token, and whether it was force-unlocked (DELETE /file/lock). */
  lockToken: string;
  unlocked?: boolean;
  /** Fault finish-session-kept: the upload finished but the session was left open (it holds no lock). */
  finished?: boolean;
  /** Cloud policies: what the provider side of the upload is (upload id, upload URL, …), see cloud/types.ts. */
  provider?: Record<string, string>;
  /** Object key of a cloud policy's upload. */
  key?: string;
  mimeType?: string;
}

export interface ShareRow {
  id: number;
  ownerId: number;
  fileId: number;
  password: string;
  views: number;
  downloads: number;
  remainDownloads: number | null;
  expires: Date | null;
  shareView: boolean;
  showReadme: boolean;
  createdAt: Date;
}

export interface DavRow {
  id: number;
  ownerId: number;
  name: string;
  uri: string;
  password: string;
  options: Buffer;
  createdAt: Date;
}

/** Default site settings (inventory/setting.go); values are strings as in the settings table. */
function defaultSettings(): Map<string, string> {
  return new Map(Object.entries({
    siteName: 'Cloudreve',
    siteURL: 'http://localhost:5212',
    siteID: randomUUID(),
    register_enabled: '1',
    default_group: '2',
    email_active: '0',
    login_captcha: '0',
    reg_captcha: '0',
    forget_captcha: '0',
    authn_enabled: '1',
    captcha_type: 'normal',
    captcha_ReCaptchaKey: 'defaultKey',
    upload_session_timeout: '86400',
    maxEditSize: '52428800',
    chunk_retries: '5',
    use_temp_chunk_buffer: '1',
    slave_api_timeout: '60',
    access_token_ttl: '3600',
    refresh_token_ttl: '1209600',
    entity_url_default_ttl: '3600',
    max_batched_file: '3000',
    max_page_size: '2000',
    secret_key: randomBytes(128).toString('hex'),
    hash_id_salt: randomBytes(32).toString('hex'),
    defaultTheme: '#1976d2',
    logo: '/static/img/logo.svg',
    logo_light: '/static/img/logo_light.svg',
    emojis: '{}',
    show_app_promotion: '1',
    fts_enabled: '0',
    gravatar_server: 'https://www.gravatar.com/',
    avatar_path: 'avatar',
    avatar_size: '4194304',
    avatar_size_l: '200',
    public_resource_maxage: '86400',
    viewer_session_timeout: '36000',
    thumb_width: '400',
    thumb_height: '300',
    thumb_encode_method: 'png',
    thumb_builtin_enabled: '1',
    thumb_builtin_max_size: '78643200',
  }));
}

/** Settings that are never read back through the admin API. */
export const HIDDEN_SETTINGS = new Set(['secret_key', 'encrypt_master_key']);

export function digestPassword(plain: string, salt = randomBytes(8).toString('hex')): string {
  return `${salt}:${createHash('sha256').update(salt + plain).digest('hex')}`;
}

export function checkPassword(digest: string, plain: string): boolean {
  const [salt] = digest.split(':');
  return !!salt && digestPassword(plain, salt) === digest;
}

export function bitset(...bits: number[]): Buffer {
  const b = Buffer.alloc(bits.length ? Math.floor(Math.max(...bits) / 8) + 1 : 0);
  for (const bit of bits) b[bit >> 3]! |= 1 << (bit & 7);
  return b;
}

export function hasBit(set: Buffer, bit: number): boolean {
  return bit < set.length * 8 && (set[bit >> 3]! & (1 << (bit & 7))) !== 0;
}

/** types.GroupPermission bits. */
export const Perm = { Admin: 0, Anonymous: 1, Share: 2, WebDAV: 3, ArchiveDownload: 4, ArchiveTask: 5, WebDAVProxy: 6,
  ShareDownload: 7, RemoteDownload: 9, RedirectedSource: 11, AdvanceDelete: 12, IgnoreFileOwnership: 16 } as const;

export const ANONYMOUS_GROUP = 3;

export class State {
  readonly hash: HashIds;
  readonly settings = defaultSettings();
  readonly users = new Map<number, UserRow>();
  readonly groups = new Map<number, GroupRow>();
  readonly policies = new Map<number, PolicyRow>();
  readonly nodes = new Map<number, NodeRow>();
  readonly files = new Map<number, FileRow>();
  readonly entities = new Map<number, EntityRow>();
  readonly shares = new Map<number, ShareRow>();
  readonly davAccounts = new Map<number, DavRow>();
  readonly sessions = new Map<string, UploadSession>();
  /** Files being written by PUT /file/content: locked for as long as the request streams. */
  readonly writing = new Set<number>();
  /** Root token ids of signed-out refresh token families. */
  readonly revokedRoots = new Set<string>();
  /** Fault expiry-wrong-code: ids of sessions that expired (to answer them differently from unknown ones). */
  readonly expiredSessions = new Set<string>();
  /** Expired sessions of cloud uploads (their provider state), so a later DELETE can still abort the provider side. */
  readonly expiredUploads = new Map<string, UploadSession>();
  private readonly seq = new Map<string, number>();

  constructor(readonly dataDir: string, readonly faults: ReadonlySet<string> = new Set()) {
    this.hash = new HashIds(this.settings.get('hash_id_salt'));
    this.seed();
  }

  nextId(table: string): number {
    const n = (this.seq.get(table) ?? 0) + 1;
    this.seq.set(table, n);
    return n;
  }

  setting(name: string): string { return this.settings.get(name) ?? ''; }
  settingInt(name: string, fallback: number): number {
    const n = Number.parseInt(this.setting(name), 10);
    return Number.isFinite(n) ? n : fallback;
  }

  /** The first-start rows of inventory/migration.go: policy 1, groups Admin/User/Anonymous, the master node. */
  private seed(): void {
    const now = new Date();
    this.policies.set(this.nextId('policy'), {
      id: 1, name: 'Default storage policy', type: 'local', server: '', bucketName: '', isPrivate: false, accessKey: '',
      secretKey: '', maxSize: 0, dirNameRule: 'data/uploads/{uid}/{path}', fileNameRule: '{uid}_{randomkey8}_{originname}',
      settings: { token: '', file_type: null, chunk_size: 25 * MB, s3_path_style: false, pre_allocate: true,
        native_media_processing: false },
      nodeId: 0, createdAt: now, updatedAt: now,
    });
    const group = (name: string, maxStorage: number, permissions: Buffer, settings: Record<string, unknown>, policy: number) => {
      const id = this.nextId('group');
      this.groups.set(id, { id, name, maxStorage, speedLimit: 0, permissions, settings, storagePolicyId: policy,
        createdAt: now, updatedAt: now });
    };
    group('Admin', TB, bitset(Perm.Admin, Perm.Share, Perm.WebDAV, Perm.WebDAVProxy, Perm.ArchiveDownload,
      Perm.ArchiveTask, Perm.ShareDownload, Perm.RemoteDownload, Perm.RedirectedSource, Perm.AdvanceDelete,
      Perm.IgnoreFileOwnership), { source_batch: 1000, aria2_batch: 50, max_walked_files: 100000,
      trash_retention: 604800, redirected_source: true }, 1);
    group('User', GB, bitset(Perm.Share, Perm.ShareDownload, Perm.RedirectedSource), { source_batch: 10,
      aria2_batch: 1, max_walked_files: 100000, trash_retention: 604800, redirected_source: true }, 1);
    group('Anonymous', 0, bitset(Perm.Anonymous, Perm.ShareDownload), { max_walked_files: 100000,
      redirected_source: true }, 0);
    const nodeId = this.nextId('node');
    this.nodes.set(nodeId, { id: nodeId, name: 'Master', type: 'master', status: 'active', server: '', slaveKey: '',
      capabilities: bitset(1, 2, 3).toString('base64'), settings: { provider: 'aria2' }, weight: 0,
      createdAt: now, updatedAt: now });
  }

  groupOf(user: UserRow): GroupRow {
    return this.groups.get(user.groupId) ?? this.groups.get(ANONYMOUS_GROUP)!;
  }

  isAdmin(user: UserRow | undefined): boolean {
    return !!user && hasBit(this.groupOf(user).permissions, Perm.Admin);
  }

  /** The storage policy uploads of this user go to: the one of the user's group (the request's policy_id is ignored). */
  policyOf(user: UserRow): PolicyRow | undefined {
    return this.policies.get(this.groupOf(user).storagePolicyId);
  }

  userByEmail(email: string): UserRow | undefined {
    const e = email.toLowerCase();
    for (const u of this.users.values()) if (u.email.toLowerCase() === e) return u;
    return undefined;
  }

  /** An upload session that still exists (the KV entry lives through the second `expires`). */
  liveSession(id: string): UploadSession | undefined {
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (Date.now() >= (s.expires + 1) * 1000 && !fault(this.faults, 'expiry-never')) {
      if (fault(this.faults, 'expiry-wrong-code')) this.expiredSessions.add(id);
      if (s.provider) this.expiredUploads.set(id, s);
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  /** The live upload session holding a lock on this file, if any. */
  sessionLocking(fileId: number): UploadSession | undefined {
    for (const s of this.sessions.values()) if (s.fileId === fileId && !s.unlocked && !s.finished && this.liveSession(s.id)) return s;
    return undefined;
  }
}
