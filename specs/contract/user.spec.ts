// Contract specs of the 用户管理 (user) group: passkeys, preferences, 2FA set-up, avatar, sign-up, password reset,
// user info, public shares, capacity, user search, and the Pro-only lists.
import { createHash, randomUUID } from 'node:crypto';
import { test, expect } from '../../fixtures/target.js';
import { expectCode } from '../../harness/expect.js';
import type { AdminGuard } from '../../harness/admin.js';
import { createCloudreveClient, type CloudreveClient } from '../../harness/client/index.js';
import {
  Code, adminDeleteUserByEmail, bareClient, bytesOf, capacityUsed, collectShares, createShare, isPro, ok, png, proOnly,
  randomPayload, totp, unique, withTempUser, writeFile,
} from './support.js';

async function ensureAuthn(anonymous: CloudreveClient, adminGuard: AdminGuard | undefined): Promise<string | undefined> {
  const login = ok(await anonymous.GET('/site/config/{section}', { params: { path: { section: 'login' } } }));
  if (login.authn) return undefined;
  if (!adminGuard) return 'passkeys are off on this site (authn_enabled) and there is no admin identity to turn them on';
  await adminGuard.setSettings({ authn_enabled: '1' });
  return undefined;
}

/** PUT /user/setting/avatar with raw bytes. */
async function putAvatar(client: CloudreveClient, bytes: Uint8Array, type = 'image/png') {
  return client.PUT('/user/setting/avatar', {
    params: { header: { 'Content-Length': bytes.byteLength } },
    body: bytes as never,
    bodySerializer: (b: unknown) => b as never,
    headers: { 'Content-Type': type },
  });
}

test.describe('user', () => {
  // ----- passkeys -------------------------------------------------------------------------------------------------
  test('USER-AUTHN-001 prepares a passkey registration for the signed-in user', { annotation: [{ type: 'operation', description: 'preparePasskeyRegistration' }] },
    async ({ user, anonymous, adminGuard, sessions }) => {
      const reason = await ensureAuthn(anonymous, adminGuard);
      test.skip(!!reason, reason);
      const data = ok(await user.PUT('/user/authn'));
      expect(data.publicKey.challenge.length).toBeGreaterThanOrEqual(16);
      expect(data.publicKey.user.name).toBe(sessions.user!.credentials.email.toLowerCase());
      expect(data.publicKey.rp.name ?? data.publicKey.rp.id).toBeTruthy();
      expect((data.publicKey.pubKeyCredParams ?? []).length).toBeGreaterThan(0);
    });

  test('USER-AUTHN-002 refuses passkey registration to an anonymous caller with 401', { annotation: [{ type: 'operation', description: 'preparePasskeyRegistration' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.PUT('/user/authn'), Code.CheckLogin);
    });

  test('USER-AUTHN-003 refuses a malformed attestation for a prepared registration with 40001',
    { annotation: [{ type: 'operation', description: 'finishPasskeyRegistration' }] }, async ({ user, anonymous, adminGuard }) => {
      const reason = await ensureAuthn(anonymous, adminGuard);
      test.skip(!!reason, reason);
      ok(await user.PUT('/user/authn'));
      expectCode(await user.POST('/user/authn', { body: { response: 'not json', name: 'conformance', ua: 'conformance-suite' } }), Code.ParamErr);
    });

  test('USER-AUTHN-004 registers a passkey', { annotation: [{ type: 'operation', description: 'finishPasskeyRegistration' }] },
    async () => {
      test.skip(true, 'needs a WebAuthn authenticator to produce the attestation');
    });

  test('USER-AUTHN-005 answers 404 when deleting a passkey the user does not have', { annotation: [{ type: 'operation', description: 'deletePasskey' }] },
    async ({ user, anonymous, adminGuard }) => {
      const reason = await ensureAuthn(anonymous, adminGuard);
      test.skip(!!reason, reason);
      expectCode(await user.DELETE('/user/authn', { params: { query: { id: `conformance-${randomUUID()}` } } }), Code.NotFound);
    });

  test('USER-AUTHN-006 deletes a registered passkey', { annotation: [{ type: 'operation', description: 'deletePasskey' }] },
    async () => {
      test.skip(true, 'needs a registered passkey, which needs a WebAuthn authenticator');
    });

  // ----- Pro lists ------------------------------------------------------------------------------------------------
  test('USER-POLICIES-001 lists the storage policies the user may choose', { annotation: [{ type: 'operation', description: 'listAvailableStoragePolicies' }] },
    async ({ user, target }) => {
      test.skip(!isPro(target), proOnly(target));
      const list = ok(await user.GET('/user/setting/policies'));
      expect(list.length).toBeGreaterThan(0);
    });

  test('USER-NODES-001 lists the nodes the user may choose', { annotation: [{ type: 'operation', description: 'listAvailableNodes' }] },
    async ({ user, target }) => {
      test.skip(!isPro(target), proOnly(target));
      const list = ok(await user.GET('/user/setting/nodes'));
      expect(Array.isArray(list)).toBe(true);
    });

  test('USER-CREDIT-001 lists the user\'s credit changes', { annotation: [{ type: 'operation', description: 'listCreditChanges' }] },
    async ({ user, target }) => {
      test.skip(!isPro(target), proOnly(target));
      const data = ok(await user.GET('/user/creditChanges', { params: { query: { page_size: 10 } } }));
      expect(data.pagination.page_size).toBe(10);
    });

  test('USER-PAYMENTS-001 lists the user\'s payments', { annotation: [{ type: 'operation', description: 'listPayments' }] },
    async ({ user, target }) => {
      test.skip(!isPro(target), proOnly(target));
      const data = ok(await user.GET('/user/payments', { params: { query: { page_size: 10 } } }));
      expect(data.pagination.page_size).toBe(10);
    });

  // ----- preferences ----------------------------------------------------------------------------------------------
  test('USER-SETTING-001 reads the user\'s preferences', { annotation: [{ type: 'operation', description: 'getUserSettings' }] },
    async ({ user }) => {
      const s = ok(await user.GET('/user/setting'));
      expect(s.passwordless, 'the suite\'s user signs in with a password').toBe(false);
      expect(s.two_fa_enabled, 'the suite never enables 2FA on its main user').toBe(false);
      expect(typeof s.version_retention_enabled).toBe('boolean');
      expect(typeof s.disable_view_sync).toBe('boolean');
    });

  test('USER-SETTING-002 refuses an anonymous caller with 401', { annotation: [{ type: 'operation', description: 'getUserSettings' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.GET('/user/setting'), Code.CheckLogin);
    });

  test('USER-SETTING-003 changing the nickname shows in the user\'s profile', { annotation: [{ type: 'operation', description: 'updateUserSettings' }] },
    async ({ user }) => {
      const before = ok(await user.GET('/user/me'));
      const nick = unique('nick');
      try {
        ok(await user.PATCH('/user/setting', { body: { nick } }));
        expect(ok(await user.GET('/user/me')).nickname).toBe(nick);
        expect(ok(await user.GET('/user/info/{user_id}', { params: { path: { user_id: before.id } } })).nickname).toBe(nick);
      } finally {
        ok(await user.PATCH('/user/setting', { body: { nick: before.nickname || 'conformance' } }), 'restore the nickname');
      }
    });

  test('USER-SETTING-004 version retention preferences round-trip', { annotation: [{ type: 'operation', description: 'updateUserSettings' }] },
    async ({ user }) => {
      const before = ok(await user.GET('/user/setting'));
      try {
        ok(await user.PATCH('/user/setting', { body: { version_retention_enabled: true, version_retention_ext: ['txt', 'md'], version_retention_max: 3 } }));
        const after = ok(await user.GET('/user/setting'));
        expect(after.version_retention_enabled).toBe(true);
        expect(after.version_retention_ext).toEqual(['txt', 'md']);
        expect(after.version_retention_max).toBe(3);
      } finally {
        ok(await user.PATCH('/user/setting', { body: {
          version_retention_enabled: before.version_retention_enabled,
          version_retention_ext: before.version_retention_ext ?? [],
          version_retention_max: before.version_retention_max ?? 0,
        } }), 'restore version retention');
      }
    });

  test('USER-SETTING-005 enabling 2FA with a wrong code is refused with 40022 and leaves 2FA off',
    { annotation: [{ type: 'operation', description: 'updateUserSettings' }] }, async ({ user }) => {
      const secret = ok(await user.GET('/user/setting/2fa'));
      const wrong = String((Number(totp(secret)) + 500_000) % 1_000_000).padStart(6, '0');
      expectCode(await user.PATCH('/user/setting', { body: { two_fa_enabled: true, two_fa_code: wrong } }), Code.TwoFACodeErr);
      expect(ok(await user.GET('/user/setting')).two_fa_enabled).toBe(false);
    });

  test('USER-SETTING-006 changing the password needs the current one (40069 otherwise)', { annotation: [{ type: 'operation', description: 'updateUserSettings' }] },
    async ({ user }) => {
      expectCode(await user.PATCH('/user/setting', { body: { current_password: 'wrong-password-123', new_password: 'new-password-123' } }),
        Code.IncorrectPassword);
    });

  test('USER-SETTING-007 changing the password: the new one signs in, the old one no longer does',
    { annotation: [{ type: 'operation', description: 'updateUserSettings' }] }, async ({ admin, target, makeTransport }) => {
      await withTempUser(admin, target, makeTransport(), 'passwd', async (u) => {
        const next = `pw-${randomUUID()}`;
        ok(await u.client.PATCH('/user/setting', { body: { current_password: u.password, new_password: next } }));
        const c = bareClient(target, makeTransport());
        expectCode(await c.POST('/session/token', { body: { email: u.email, password: u.password } }), Code.InvalidPassword);
        expect(ok(await c.POST('/session/token', { body: { email: u.email, password: next } })).user.email).toBe(u.email);
      });
    });

  test('USER-2FA-001 prepares 2FA: a base32 TOTP secret', { annotation: [{ type: 'operation', description: 'prepareTwoFactor' }] },
    async ({ user }) => {
      const secret = ok(await user.GET('/user/setting/2fa'));
      expect(secret).toMatch(/^[A-Z2-7]{16,}=*$/);
      expect(totp(secret)).toMatch(/^\d{6}$/);
      // Nothing is enabled until the code is confirmed.
      expect(ok(await user.GET('/user/setting')).two_fa_enabled).toBe(false);
    });

  test('USER-2FA-002 a confirmed code enables 2FA (and the preference says so)',
    { annotation: [{ type: 'operation', description: 'prepareTwoFactor' }, { type: 'operation', description: 'updateUserSettings' }] },
    async ({ admin, target, makeTransport }) => {
      await withTempUser(admin, target, makeTransport(), 'twofa-on', async (u) => {
        const secret = ok(await u.client.GET('/user/setting/2fa'));
        ok(await u.client.PATCH('/user/setting', { body: { two_fa_enabled: true, two_fa_code: totp(secret) } }));
        expect(ok(await u.client.GET('/user/setting')).two_fa_enabled).toBe(true);
        ok(await u.client.PATCH('/user/setting', { body: { two_fa_enabled: false, two_fa_code: totp(secret) } }), 'disable 2FA');
        expect(ok(await u.client.GET('/user/setting')).two_fa_enabled).toBe(false);
      });
    });

  // ----- avatar ---------------------------------------------------------------------------------------------------
  test('USER-AVATAR-001 an uploaded image becomes the avatar; an empty body switches to Gravatar',
    { annotation: [{ type: 'operation', description: 'updateAvatar' }, { type: 'operation', description: 'getAvatar' }] },
    async ({ admin, target, makeTransport, anonymous }) => {
      await withTempUser(admin, target, makeTransport(), 'avatar', async (u) => {
        ok(await putAvatar(u.client, png(64, 64)));
        expect(ok(await u.client.GET('/user/me')).avatar).toBe('file');
        const got = await anonymous.GET('/user/avatar/{user_id}', { params: { path: { user_id: u.hashId } }, parseAs: 'arrayBuffer' });
        expect(got.response.status).toBe(200);
        expect(got.response.headers.get('content-type')).toMatch(/^image\/png/);
        const bytes = new Uint8Array(got.data as unknown as ArrayBuffer);
        expect(Buffer.from(bytes.subarray(1, 4)).toString('latin1')).toBe('PNG');

        ok(await putAvatar(u.client, new Uint8Array(0)));
        expect(ok(await u.client.GET('/user/me')).avatar).toBe('gravatar');
        const redirect = await anonymous.GET('/user/avatar/{user_id}', { params: { path: { user_id: u.hashId } }, parseAs: 'text' });
        expect(redirect.response.status).toBe(302);
        const md5 = createHash('md5').update(u.email.toLowerCase()).digest('hex');
        expect(redirect.response.headers.get('location')).toContain(`/avatar/${md5}`);
      });
    });

  test('USER-AVATAR-002 refuses bytes that are not an image with 40001', { annotation: [{ type: 'operation', description: 'updateAvatar' }] },
    async ({ admin, target, makeTransport }) => {
      await withTempUser(admin, target, makeTransport(), 'avatar-bad', async (u) => {
        expectCode(await putAvatar(u.client, bytesOf('this is not an image at all')), Code.ParamErr);
        expect(ok(await u.client.GET('/user/me')).avatar).toBeUndefined();
      });
    });

  test('USER-AVATAR-003 a user without an avatar answers HTTP 404', { annotation: [{ type: 'operation', description: 'getAvatar' }] },
    async ({ admin, target, makeTransport, anonymous }) => {
      await withTempUser(admin, target, makeTransport(), 'no-avatar', async (u) => {
        const res = await anonymous.GET('/user/avatar/{user_id}', { params: { path: { user_id: u.hashId }, query: { nocache: true } }, parseAs: 'text' });
        expect(res.response.status).toBe(404);
      });
    });

  // ----- sign-up --------------------------------------------------------------------------------------------------
  test('USER-SIGNUP-001 signs up a new account that can then sign in', { annotation: [{ type: 'operation', description: 'signUp' }] },
    async ({ adminSettings, admin, target, makeTransport }) => {
      await adminSettings.setSettings({ register_enabled: '1', email_active: '0', reg_captcha: '0' });
      const email = `${unique(`signup-${target.runId}`)}@conformance.test`.toLowerCase();
      const password = `pw-${randomUUID()}`;
      const client = bareClient(target, makeTransport());
      try {
        const created = ok(await client.POST('/user', { body: { email, password, language: 'en-US' } }));
        expect(created.email).toBe(email);
        expect(created.status).toBe('active');
        expect(created.id).toBeTruthy();
        const login = ok(await client.POST('/session/token', { body: { email, password } }));
        expect(login.user.id).toBe(created.id);
      } finally {
        await adminDeleteUserByEmail(admin, email);
      }
    });

  test('USER-SIGNUP-002 refuses an email already in use with 40032', { annotation: [{ type: 'operation', description: 'signUp' }] },
    async ({ adminSettings, target, makeTransport }) => {
      await adminSettings.setSettings({ register_enabled: '1', email_active: '0', reg_captcha: '0' });
      const client = bareClient(target, makeTransport());
      expectCode(await client.POST('/user', { body: { email: target.identities.user!.email, password: 'another-password-1' } }), Code.EmailExisted);
    });

  test('USER-SIGNUP-003 refuses sign-up with 40019 while registration is off', { annotation: [{ type: 'operation', description: 'signUp' }] },
    async ({ adminSettings, target, makeTransport }) => {
      const before = await adminSettings.getSettings(['register_enabled']);
      await adminSettings.setSettings({ register_enabled: '0' });
      try {
        const client = bareClient(target, makeTransport());
        expectCode(await client.POST('/user', { body: { email: `${unique('closed')}@conformance.test`, password: 'password-123' } }),
          Code.FeatureNotEnabled);
      } finally {
        await adminSettings.setSettings({ register_enabled: before.register_enabled ?? '1' });
      }
    });

  test('USER-SIGNUP-004 refuses a password shorter than 6 characters with 40001', { annotation: [{ type: 'operation', description: 'signUp' }] },
    async ({ adminSettings, target, makeTransport }) => {
      await adminSettings.setSettings({ register_enabled: '1', email_active: '0', reg_captcha: '0' });
      const raw = bareClient(target, makeTransport({ requestValidation: 'off' }));
      expectCode(await raw.POST('/user', { body: { email: `${unique('short')}@conformance.test`, password: '12345' } }), Code.ParamErr);
    });

  // ----- password reset -------------------------------------------------------------------------------------------
  test('USER-RESET-001 sends a password reset email', { annotation: [{ type: 'operation', description: 'sendResetPasswordEmail' }] },
    async () => {
      test.skip(true, 'needs an SMTP server: success means the reset email was delivered');
    });

  test('USER-RESET-002 answers 40021 for an email no account has', { annotation: [{ type: 'operation', description: 'sendResetPasswordEmail' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.POST('/user/reset', { body: { email: `nobody-${randomUUID()}@conformance.test` } }), Code.UserNotFound);
    });

  test('USER-RESET-003 resets the password through the emailed link', { annotation: [{ type: 'operation', description: 'resetPassword' }] },
    async () => {
      test.skip(true, 'needs an SMTP server: the reset secret only arrives in the email');
    });

  test('USER-RESET-004 refuses a wrong reset secret with 40030 and keeps the password', { annotation: [{ type: 'operation', description: 'resetPassword' }] },
    async ({ anonymous, sessions, target, makeTransport }) => {
      const id = sessions.user!.user!.id;
      expectCode(await anonymous.PATCH('/user/reset/{user_id}', { params: { path: { user_id: id } }, body: { password: 'hijacked-123', secret: 'not-the-secret' } }),
        Code.TempLinkExpired);
      const cred = target.identities.user!;
      ok(await bareClient(target, makeTransport()).POST('/session/token', { body: cred }), 'the password still works');
    });

  // ----- other users ----------------------------------------------------------------------------------------------
  test('USER-INFO-001 another signed-in user sees the redacted profile', { annotation: [{ type: 'operation', description: 'getUserInfo' }] },
    async ({ user2, sessions }) => {
      const me = sessions.user!.user!;
      const info = ok(await user2.GET('/user/info/{user_id}', { params: { path: { user_id: me.id } } }));
      expect(info.id).toBe(me.id);
      expect(typeof info.nickname).toBe('string');
      expect(info.group?.name).toBeTruthy();
      expect(info.group?.permission, 'the group is redacted to id and name').toBeUndefined();
      expect(info.status).toBeUndefined();
      if (info.email !== undefined) expect(info.email).toBe(sessions.user!.credentials.email.toLowerCase());
    });

  test('USER-INFO-002 an anonymous caller never sees the email', { annotation: [{ type: 'operation', description: 'getUserInfo' }] },
    async ({ anonymous, sessions }) => {
      const me = sessions.user!.user!;
      const info = ok(await anonymous.GET('/user/info/{user_id}', { params: { path: { user_id: me.id } } }));
      expect(info.id).toBe(me.id);
      expect(info.email).toBeUndefined();
    });

  test('USER-SHARES-001 a user\'s public share links are listed on the profile; private ones are not',
    { annotation: [{ type: 'operation', description: 'listUserShares' }] }, async ({ user, anonymous, sandbox, sessions }) => {
      const pub = sandbox.uri(unique('public', '.txt'));
      const priv = sandbox.uri(unique('private', '.txt'));
      await writeFile(user, pub, 'public');
      await writeFile(user, priv, 'private');
      const publicShare = await createShare(user, { uri: pub });
      const privateShare = await createShare(user, { uri: priv, is_private: true });
      const uid = sessions.user!.user!.id;
      const shares = await collectShares(async (token) => ok(await anonymous.GET('/user/shares/{user_id}', {
        params: { path: { user_id: uid }, query: { page_size: 100, ...(token ? { next_page_token: token } : {}) } },
      })));
      const ids = shares.map((s) => s.id);
      expect(ids).toContain(publicShare.id);
      expect(ids).not.toContain(privateShare.id);
      const listed = shares.find((s) => s.id === publicShare.id)!;
      expect(listed.owner.id).toBe(uid);
      expect(listed.password, 'no password is shown to visitors').toBeUndefined();
    });

  test('USER-SHARES-002 refuses a page size below 10 with 40001', { annotation: [{ type: 'operation', description: 'listUserShares' }] },
    async ({ target, makeTransport, sessions }) => {
      const raw = bareClient(target, makeTransport({ requestValidation: 'off' }));
      expectCode(await raw.GET('/user/shares/{user_id}', { params: { path: { user_id: sessions.user!.user!.id }, query: { page_size: 5 } } }), Code.ParamErr);
    });

  test('USER-CAPACITY-001 used capacity grows by the bytes written', { annotation: [{ type: 'operation', description: 'getCapacity' }] },
    async ({ user, sandbox }) => {
      const first = ok(await user.GET('/user/capacity'));
      expect(first.total).toBeGreaterThan(0);
      expect(first.used).toBeGreaterThanOrEqual(0);
      await writeFile(user, sandbox.uri(unique('capacity', '.bin')), randomPayload(4321));
      expect(await capacityUsed(user)).toBe(first.used + 4321);
    });

  test('USER-CAPACITY-002 refuses an anonymous caller with 401', { annotation: [{ type: 'operation', description: 'getCapacity' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.GET('/user/capacity'), Code.CheckLogin);
    });

  test('USER-SEARCH-001 finds another user by email', { annotation: [{ type: 'operation', description: 'searchUsers' }] },
    async ({ user, user2, sessions }) => {
      void user2;
      const other = sessions.user2!;
      const found = ok(await user.GET('/user/search', { params: { query: { keyword: other.credentials.email } } }));
      const hit = found.find((u) => u.id === other.user!.id);
      expect(hit, 'user2 is found by its email').toBeDefined();
      expect(hit!.group?.permission, 'search results are redacted').toBeUndefined();
      expect(found.length).toBeLessThanOrEqual(10);
    });

  test('USER-SEARCH-002 refuses a one-character keyword with 40001', { annotation: [{ type: 'operation', description: 'searchUsers' }] },
    async ({ target, makeTransport, sessions }) => {
      const raw = createCloudreveClient({ siteUrl: target.url, fetch: makeTransport({ requestValidation: 'off' }) });
      sessions.user!.attach(raw);
      expectCode(await raw.GET('/user/search', { params: { query: { keyword: 'a' } } }), Code.ParamErr);
    });

  test('USER-SEARCH-003 refuses an anonymous caller with 401', { annotation: [{ type: 'operation', description: 'searchUsers' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.GET('/user/search', { params: { query: { keyword: 'conformance' } } }), Code.CheckLogin);
    });
});
