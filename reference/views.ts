// What the API answers for each object, with the real server's field names and omitempty rules
// (service/user/response.go, service/explorer/response.go, and ent's JSON for the admin routes).
import { Kind } from './hashid.js';
import type { FileSystem } from './fs.js';
import type { DavRow, EntityRow, FileRow, GroupRow, NodeRow, PolicyRow, ShareRow, State, UserRow } from './state.js';

type Obj = Record<string, unknown>;

/** Drops undefined, '', 0, false, null and empty arrays: Go's omitempty. */
export function omitEmpty(o: Obj, keep: string[] = []): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (keep.includes(k)) { out[k] = v; continue; }
    if (v === undefined || v === null || v === '' || v === 0 || v === false) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
/** Capability bit set of files in a `my` file system (the value the real server sends). */
export const MY_CAPABILITY = 'w8edAQ==';

export class Views {
  constructor(private readonly st: State, private readonly fs: FileSystem) {}

  private id(kind: (typeof Kind)[keyof typeof Kind], n: number): string {
    return this.st.hash.encode(kind, n);
  }

  // ---- users ----

  group(g: GroupRow): Obj {
    return omitEmpty({ id: this.id(Kind.Group, g.id), name: g.name, permission: g.permissions.toString('base64'),
      direct_link_batch_size: g.settings.source_batch, trash_retention: g.settings.trash_retention }, ['id', 'name']);
  }

  /** The full user (sign-in, /user/me, site config); `withGroup` false for the sign-up answer. */
  user(u: UserRow | undefined, withGroup = true): Obj {
    if (!u) {
      const g = this.st.groups.get(3)!;
      return { id: this.id(Kind.User, 0), nickname: '', created_at: ZERO_TIME, anonymous: true,
        group: this.group(g) };
    }
    return omitEmpty({
      id: this.id(Kind.User, u.id), email: u.email, nickname: u.nick, status: u.status, avatar: u.avatar,
      created_at: u.createdAt.toISOString(), preferred_theme: u.settings.preferred_theme,
      group: withGroup ? this.group(this.st.groupOf(u)) : undefined, pined: u.settings.pined,
      language: u.settings.email_language, disable_view_sync: u.settings.disable_view_sync,
      share_links_in_profile: u.settings.share_links_in_profile,
    }, ['id', 'nickname', 'created_at']);
  }

  /** The redacted user (profiles, search, share owners, entity creators); email only for signed-in viewers. */
  userRedacted(u: UserRow, viewerSignedIn: boolean, withGroup = true): Obj {
    const g = this.st.groupOf(u);
    return omitEmpty({
      id: this.id(Kind.User, u.id), email: viewerSignedIn ? u.email : undefined, nickname: u.nick, avatar: u.avatar,
      created_at: u.createdAt.toISOString(),
      group: withGroup ? { id: this.id(Kind.Group, g.id), name: g.name } : undefined,
      share_links_in_profile: u.settings.share_links_in_profile,
    }, ['id', 'nickname', 'created_at']);
  }

  userSettings(u: UserRow): Obj {
    return omitEmpty({
      version_retention_enabled: !!u.settings.version_retention, version_retention_ext: u.settings.version_retention_ext,
      version_retention_max: u.settings.version_retention_max, passwordless: false, two_fa_enabled: false,
      disable_view_sync: !!u.settings.disable_view_sync,
      share_links_in_profile: (u.settings.share_links_in_profile as string | undefined) ?? '',
    }, ['version_retention_enabled', 'passwordless', 'two_fa_enabled', 'disable_view_sync', 'share_links_in_profile']);
  }

  // ---- files ----

  policy(p: PolicyRow | undefined): Obj | undefined {
    if (!p) return undefined;
    const s = p.settings;
    const types = Array.isArray(s.file_type) && s.file_type.length ? s.file_type : undefined;
    return omitEmpty({
      id: this.id(Kind.Policy, p.id), name: p.name,
      allowed_suffix: s.is_file_type_deny_list ? undefined : types, denied_suffix: s.is_file_type_deny_list ? types : undefined,
      allowed_name_regexp: s.file_regexp && !s.is_name_regexp_deny_list ? s.file_regexp : undefined,
      denied_name_regexp: s.file_regexp && s.is_name_regexp_deny_list ? s.file_regexp : undefined,
      type: p.type, max_size: p.maxSize, relay: s.relay, chunk_concurrency: s.chunk_concurrency, encryption: s.encryption,
    }, ['id', 'name', 'type', 'max_size']);
  }

  /** The policy a file is stored with: its current entity's, else its newest entity's, else its owner's. */
  filePolicy(f: FileRow): PolicyRow | undefined {
    const eid = f.primaryEntityId || f.entityIds.at(-1);
    const e = eid ? this.st.entities.get(eid) : undefined;
    if (e) return this.st.policies.get(e.policyId);
    const owner = this.st.users.get(f.ownerId);
    return owner ? this.st.policyOf(owner) : undefined;
  }

  entity(e: EntityRow): Obj {
    const creator = this.st.users.get(e.createdBy);
    return omitEmpty({
      id: this.id(Kind.Entity, e.id), size: e.size, type: e.type, created_at: e.createdAt.toISOString(),
      storage_policy: this.policy(this.st.policies.get(e.policyId)),
      created_by: creator ? this.userRedacted(creator, false, false) : undefined,
    }, ['id', 'size', 'type', 'created_at']);
  }

  /**
   * A FileResponse. `metadata` 'loaded' answers the metadata map (`{}` when empty), as listings and file info do;
   * 'lazy' answers null when there is none, as the listing's parent and write operations do.
   */
  file(f: FileRow, viewer: UserRow | undefined, opts: { metadata?: 'loaded' | 'lazy'; extended?: boolean } = {}): Obj {
    const meta = Object.fromEntries(f.metadata);
    const trash = this.fs.inTrash(f);
    const out: Obj = {
      type: f.type, id: this.id(Kind.File, f.id), name: this.fs.displayName(f),
      created_at: f.createdAt.toISOString(), updated_at: f.updatedAt.toISOString(), size: f.size,
      metadata: opts.metadata === 'loaded' || f.metadata.size ? meta : null,
      path: this.fs.uri(f),
    };
    if (this.isShared(f)) out.shared = true;
    out.capability = trash ? '' : MY_CAPABILITY;
    if (viewer && viewer.id === f.ownerId) out.owned = true;
    out.primary_entity = this.id(Kind.Entity, f.primaryEntityId);
    if (opts.extended) out.extended_info = this.extendedInfo(f, viewer);
    return out;
  }

  private isShared(f: FileRow): boolean {
    for (const s of this.st.shares.values()) if (s.fileId === f.id) return true;
    return false;
  }

  extendedInfo(f: FileRow, viewer: UserRow | undefined): Obj {
    const entities = f.entityIds.map((id) => this.st.entities.get(id)).filter((e): e is EntityRow => !!e)
      .sort((a, b) => b.id - a.id);
    const out: Obj = {};
    const policy = this.policy(this.filePolicy(f));
    if (policy) out.storage_policy = policy;
    out.storage_used = entities.reduce((n, e) => n + e.size, 0);
    if (viewer?.id === f.ownerId) {
      const shares = [...this.st.shares.values()].filter((s) => s.fileId === f.id)
        .map((s) => this.share(s, viewer, true));
      if (shares.length) out.shares = shares;
    }
    if (entities.length) out.entities = entities.map((e) => this.entity(e));
    return out;
  }

  // ---- shares and WebDAV ----

  shareUrl(s: ShareRow, unlocked: boolean): string {
    const base = this.st.setting('siteURL').replace(/\/+$/, '');
    const id = this.id(Kind.Share, s.id);
    return `${base}/s/${id}${unlocked && s.password ? `/${s.password}` : ''}`;
  }

  shareExpired(s: ShareRow): boolean {
    return (s.expires !== null && s.expires.getTime() < Date.now()) || (s.remainDownloads !== null && s.remainDownloads <= 0);
  }

  share(s: ShareRow, viewer: UserRow | undefined, unlocked: boolean): Obj {
    const owner = this.st.users.get(s.ownerId)!;
    const f = this.st.files.get(s.fileId);
    const out: Obj = {
      id: this.id(Kind.Share, s.id), name: f ? this.fs.displayName(f) : undefined, visited: s.views,
      unlocked, password_protected: s.password !== '' || undefined, source_type: f?.type ?? 0,
      owner: this.userRedacted(owner, !!viewer), created_at: s.createdAt.toISOString(),
      expired: this.shareExpired(s) || !f || this.fs.inTrash(f), url: this.shareUrl(s, unlocked), size: 0,
    };
    if (unlocked) {
      if (s.remainDownloads !== null) out.remain_downloads = s.remainDownloads;
      if (s.downloads) out.downloaded = s.downloads;
      if (s.expires) out.expires = s.expires.toISOString();
      if (s.password) out.password = s.password;
      if (s.showReadme) out.show_readme = true;
      if (f && f.type === 0) out.size = f.size;
    }
    if (viewer?.id === owner.id) {
      if (s.password) out.is_private = true;
      if (s.shareView) out.share_view = true;
    }
    return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
  }

  dav(d: DavRow): Obj {
    return { id: this.id(Kind.DavAccount, d.id), created_at: d.createdAt.toISOString(), name: d.name, uri: d.uri,
      password: d.password, options: d.options.toString('base64') };
  }

  // ---- admin (ent JSON: numeric ids, omitempty fields) ----

  adminPolicy(p: PolicyRow, withGroups: boolean): Obj {
    const s = p.settings;
    const settings = { ...omitEmpty(s), token: s.token ?? '', file_type: s.file_type ?? null,
      s3_path_style: !!s.s3_path_style, native_media_processing: !!s.native_media_processing };
    const edges: Obj = {};
    if (withGroups) {
      const groups = [...this.st.groups.values()].filter((g) => g.storagePolicyId === p.id).map((g) => this.adminGroup(g));
      if (groups.length) edges.groups = groups;
      const node = p.nodeId ? this.st.nodes.get(p.nodeId) : undefined;
      if (node) edges.node = this.adminNode(node, false);
    }
    return omitEmpty({
      id: p.id, created_at: p.createdAt.toISOString(), updated_at: p.updatedAt.toISOString(), name: p.name,
      type: p.type, server: p.server, bucket_name: p.bucketName, is_private: p.isPrivate, access_key: p.accessKey,
      secret_key: p.secretKey, max_size: p.maxSize, dir_name_rule: p.dirNameRule, file_name_rule: p.fileNameRule,
      settings, node_id: p.nodeId, edges,
    }, ['edges', 'settings']);
  }

  adminGroup(g: GroupRow, withPolicy = false): Obj {
    const edges: Obj = {};
    const p = withPolicy ? this.st.policies.get(g.storagePolicyId) : undefined;
    if (p) edges.storage_policies = this.adminPolicy(p, false);
    return omitEmpty({
      id: g.id, created_at: g.createdAt.toISOString(), updated_at: g.updatedAt.toISOString(), name: g.name,
      max_storage: g.maxStorage, speed_limit: g.speedLimit, permissions: g.permissions.toString('base64'),
      settings: g.settings, storage_policy_id: g.storagePolicyId, edges,
    }, ['edges', 'settings']);
  }

  adminUser(u: UserRow, withCapacity: boolean): Obj {
    const g = this.st.groupOf(u);
    const out = omitEmpty({
      id: u.id, created_at: u.createdAt.toISOString(), updated_at: u.updatedAt.toISOString(), email: u.email,
      nick: u.nick, status: u.status, storage: u.storage, avatar: u.avatar, settings: u.settings,
      group_users: u.groupId, edges: { group: this.adminGroup(g) }, hash_id: this.id(Kind.User, u.id),
    }, ['settings', 'edges']);
    if (withCapacity) out.capacity = { total: g.maxStorage, used: u.storage };
    return out;
  }

  adminNode(n: NodeRow, withPolicies: boolean): Obj {
    const edges: Obj = {};
    if (withPolicies) {
      const policies = [...this.st.policies.values()].filter((p) => p.nodeId === n.id).map((p) => this.adminPolicy(p, false));
      if (policies.length) edges.storage_policy = policies;
    }
    return omitEmpty({
      id: n.id, created_at: n.createdAt.toISOString(), updated_at: n.updatedAt.toISOString(), status: n.status,
      name: n.name, type: n.type, server: n.server, slave_key: n.slaveKey, capabilities: n.capabilities,
      settings: n.settings, weight: n.weight, edges,
    }, ['edges', 'settings', 'capabilities']);
  }
}
