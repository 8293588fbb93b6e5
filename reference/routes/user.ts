// User routes: sign-up (the first user becomes the admin), profile, capacity, preferences, search.
import type { FastifyInstance } from 'fastify';
import { AppError, Code } from '../envelope.js';
import { bind, bindQuery, jsonBody, register, type Services } from '../http.js';
import { Kind } from '../hashid.js';
import { checkPassword, digestPassword, type UserRow } from '../state.js';
import { fault } from '../faults/index.js';
import { extrasOf } from '../extras.js';
import { newTotpSecret, validateTotp } from '../totp.js';
import { checkCaptcha } from './site.js';
import { userExtraRoutes } from './user-extra.js';

export function userRoutes(app: FastifyInstance, svc: Services): void {
  const { st, views } = svc;
  const x = extrasOf(st);

  register(app, svc, 'POST', '/user', 'none', async (c) => {
    // Middleware order: the feature switch, the CAPTCHA, then binding.
    if (st.setting('register_enabled') !== '1') throw new AppError(Code.FeatureNotEnabled, 'This feature is not enabled');
    checkCaptcha(c, 'reg_captcha');
    const b = bind(jsonBody(c), [
      { key: 'email', name: 'Email', kind: 'string', required: true, email: true },
      { key: 'password', name: 'Password', kind: 'string', required: true, min: 6, max: 128 },
      { key: 'language', name: 'Language', kind: 'string' },
    ]);
    if (st.userByEmail(b.email)) throw new AppError(Code.EmailExisted, 'Email already in use');
    const u = createUser(svc, { email: b.email, password: b.password, groupId: st.settingInt('default_group', 2),
      settings: { version_retention: true, version_retention_max: 10, ...(b.language ? { email_language: b.language } : {}) } });
    // The answer is built before the first user is promoted, so it names no group (a known quirk).
    const answer = views.user(u, false);
    if (u.id === 1) u.groupId = 1;
    return answer;
  });

  register(app, svc, 'GET', '/user/me', 'user', async (c) => views.user(c.caller));

  register(app, svc, 'GET', '/user/capacity', 'user', async (c) => ({
    total: st.groupOf(c.caller!).maxStorage, used: fault(st.faults, 'data-wrong-type') ? String(c.caller!.storage) : c.caller!.storage,
  }));

  register(app, svc, 'GET', '/user/info/:id', 'optional', async (c) => {
    const u = userFromParam(svc, (c.req.params as { id: string }).id);
    return views.userRedacted(u, !!c.caller);
  });

  register(app, svc, 'GET', '/user/search', 'user', async (c) => {
    const q = bindQuery(c, [{ key: 'keyword', name: 'Keyword', kind: 'string', required: true, min: 2 }]);
    const kw = String(q.keyword).toLowerCase();
    return [...st.users.values()]
      .filter((u) => u.status === 'active' && (u.nick.toLowerCase().includes(kw) || u.email.toLowerCase().includes(kw)))
      .slice(0, 10).map((u) => views.userRedacted(u, true));
  });

  register(app, svc, 'GET', '/user/setting', 'user', async (c) => ({
    ...views.userSettings(c.caller!), two_fa_enabled: x.twoFactor.has(c.caller!.id),
  }));

  register(app, svc, 'PATCH', '/user/setting', 'user', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'nick', name: 'Nick', kind: 'string', min: 1, max: 255 },
      { key: 'language', name: 'Language', kind: 'string', min: 1, max: 255 },
      { key: 'preferred_theme', name: 'PreferredTheme', kind: 'string' },
      { key: 'version_retention_enabled', name: 'VersionRetentionEnabled', kind: 'bool' },
      { key: 'version_retention_ext', name: 'VersionRetentionExt', kind: 'strings' },
      { key: 'version_retention_max', name: 'VersionRetentionMax', kind: 'int', min: 0 },
      { key: 'current_password', name: 'CurrentPassword', kind: 'string', min: 4, max: 128 },
      { key: 'new_password', name: 'NewPassword', kind: 'string', min: 6, max: 128 },
      { key: 'two_fa_enabled', name: 'TwoFaEnabled', kind: 'bool' },
      { key: 'two_fa_code', name: 'TwoFaCode', kind: 'string' },
      { key: 'disable_view_sync', name: 'DisableViewSync', kind: 'bool' },
      { key: 'share_links_in_profile', name: 'ShareLinksInProfile', kind: 'string',
        check: (v) => ['', 'all_share', 'hide_share'].includes(v as string) },
    ]);
    const u = c.caller!;
    // PatchUserSetting.Patch's order: the nickname and preferences, the password, then 2FA.
    if (b.nick !== undefined) u.nick = b.nick;
    const s = u.settings;
    if (b.language !== undefined) s.email_language = b.language;
    if (b.preferred_theme !== undefined) s.preferred_theme = b.preferred_theme;
    if (b.version_retention_enabled !== undefined) s.version_retention = b.version_retention_enabled;
    if (b.version_retention_ext !== undefined) s.version_retention_ext = b.version_retention_ext;
    if (b.version_retention_max !== undefined) s.version_retention_max = b.version_retention_max;
    if (b.disable_view_sync !== undefined) s.disable_view_sync = b.disable_view_sync;
    if (b.share_links_in_profile !== undefined) s.share_links_in_profile = b.share_links_in_profile;
    u.updatedAt = new Date();
    // Only both fields together change the password (a new password alone is ignored).
    if (b.new_password !== undefined && b.current_password !== undefined) {
      if (!checkPassword(u.passwordDigest, b.current_password)) throw new AppError(Code.IncorrectPassword, 'Incorrect password');
      u.passwordDigest = digestPassword(b.new_password);
    }
    if (b.two_fa_enabled !== undefined) {
      if (b.two_fa_enabled) {
        const secret = x.twoFactorInit.get(u.id);
        if (!secret) throw new AppError(Code.InternalSetting, 'You have not initiated 2FA session');
        if (!validateTotp(b.two_fa_code, secret)) throw new AppError(Code.TwoFACodeErr, 'Incorrect 2FA code');
        x.twoFactor.set(u.id, secret);
      } else {
        if (!validateTotp(b.two_fa_code, x.twoFactor.get(u.id) ?? '')) throw new AppError(Code.TwoFACodeErr, 'Incorrect 2FA code');
        x.twoFactor.delete(u.id);
      }
    }
    return undefined;
  });

  // A new TOTP secret, kept for 600 s until PATCH /user/setting confirms a code of it.
  register(app, svc, 'GET', '/user/setting/2fa', 'user', async (c) => {
    const secret = newTotpSecret();
    x.twoFactorInit.set(c.caller!.id, secret, 600);
    return secret;
  });

  userExtraRoutes(app, svc);
}

export function createUser(svc: Services, a: { email: string; password: string; groupId: number; nick?: string;
  status?: UserRow['status']; settings: Record<string, unknown> }): UserRow {
  const now = new Date();
  const id = svc.st.nextId('user');
  const u: UserRow = { id, email: a.email, nick: a.nick || a.email.split('@')[0]!, passwordDigest: digestPassword(a.password),
    status: a.status ?? 'active', groupId: a.groupId, storage: 0, avatar: '', settings: a.settings, createdAt: now,
    updatedAt: now };
  svc.st.users.set(id, u);
  return u;
}

/** A user named by a hashid path parameter: undecodable → 40001, unknown → 404. */
export function userFromParam(svc: Services, raw: string): UserRow {
  const id = svc.st.hash.decode(Kind.User, raw);
  if (id === undefined) throw new AppError(Code.ParamErr, 'Failed to parse object ID');
  const u = svc.st.users.get(id);
  if (!u || u.status !== 'active') throw new AppError(Code.NotFound, 'User not found');
  return u;
}
