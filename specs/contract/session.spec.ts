// Contract specs of the 会话管理 (session) group: password sign-in, 2FA, refresh, sign-out, OpenID (Pro), passkey
// sign-in, prepare-login.
import { randomUUID } from 'node:crypto';
import { test, expect } from '../../fixtures/target.js';
import { expectCode } from '../../harness/expect.js';
import type { AdminGuard } from '../../harness/admin.js';
import type { CloudreveClient } from '../../harness/client/index.js';
import { Code, bareClient, isPro, ok, proOnly, totp, withTempUser } from './support.js';

/** Makes sure passkey sign-in is enabled (site setting authn_enabled), through the admin API when it is off. */
async function ensureAuthn(anonymous: CloudreveClient, adminGuard: AdminGuard | undefined): Promise<string | undefined> {
  const login = ok(await anonymous.GET('/site/config/{section}', { params: { path: { section: 'login' } } }));
  if (login.authn) return undefined;
  if (!adminGuard) return 'passkey sign-in is off on this site (authn_enabled) and there is no admin identity to turn it on';
  await adminGuard.setSettings({ authn_enabled: '1' });
  return undefined;
}

test.describe('session', () => {
  test('SESSION-TOKEN-001 signs in with email and password: the user with that email and a usable token pair',
    { annotation: [{ type: 'operation', description: 'passwordSignIn' }] }, async ({ target, makeTransport }) => {
      const cred = target.identities.user!;
      const client = bareClient(target, makeTransport());
      const before = Date.now();
      const data = ok(await client.POST('/session/token', { body: { email: cred.email, password: cred.password } }));
      expect(data.user.email).toBe(cred.email.toLowerCase());
      expect(data.user.anonymous).toBeUndefined();
      expect(data.token.access_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(data.token.refresh_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(Date.parse(data.token.access_expires)).toBeGreaterThan(before);
      expect(Date.parse(data.token.refresh_expires)).toBeGreaterThan(Date.parse(data.token.access_expires));
      const me = ok(await client.GET('/user/me', { headers: { Authorization: `Bearer ${data.token.access_token}` } }));
      expect(me.id).toBe(data.user.id);
    });

  test('SESSION-TOKEN-002 refuses a wrong password with 40080', { annotation: [{ type: 'operation', description: 'passwordSignIn' }] },
    async ({ target, makeTransport }) => {
      const client = bareClient(target, makeTransport());
      const res = await client.POST('/session/token', { body: { email: target.identities.user!.email, password: 'wrong-password-123' } });
      expectCode(res, Code.InvalidPassword);
    });

  test('SESSION-TOKEN-003 refuses an unknown email with the same 40080', { annotation: [{ type: 'operation', description: 'passwordSignIn' }] },
    async ({ target, makeTransport }) => {
      const client = bareClient(target, makeTransport());
      const res = await client.POST('/session/token', { body: { email: `nobody-${randomUUID()}@conformance.test`, password: 'whatever-123' } });
      expectCode(res, Code.InvalidPassword);
    });

  test('SESSION-2FA-001 an account with 2FA signs in in two steps: code 203 with a session id, then the TOTP code',
    { annotation: [{ type: 'operation', description: 'finishTwoFactorSignIn' }, { type: 'operation', description: 'passwordSignIn' }] },
    async ({ admin, target, makeTransport }) => {
      await withTempUser(admin, target, makeTransport(), 'twofa', async (u) => {
        const secret = ok(await u.client.GET('/user/setting/2fa'));
        ok(await u.client.PATCH('/user/setting', { body: { two_fa_enabled: true, two_fa_code: totp(secret) } }), 'enable 2FA');
        const client = bareClient(target, makeTransport());
        const first = await client.POST('/session/token', { body: { email: u.email, password: u.password } });
        expectCode(first, Code.NotFullySuccess);
        const sessionId = (first.data as { data?: unknown }).data;
        expect(typeof sessionId).toBe('string');
        const done = ok(await client.POST('/session/token/2fa', { body: { otp: totp(secret), session_id: sessionId as string } }));
        expect(done.user.email).toBe(u.email);
        expect(done.token.access_token).toBeTruthy();
      });
    });

  test('SESSION-2FA-002 refuses a wrong TOTP code with 40022', { annotation: [{ type: 'operation', description: 'finishTwoFactorSignIn' }] },
    async ({ admin, target, makeTransport }) => {
      await withTempUser(admin, target, makeTransport(), 'twofa-bad', async (u) => {
        const secret = ok(await u.client.GET('/user/setting/2fa'));
        ok(await u.client.PATCH('/user/setting', { body: { two_fa_enabled: true, two_fa_code: totp(secret) } }), 'enable 2FA');
        const client = bareClient(target, makeTransport());
        const first = await client.POST('/session/token', { body: { email: u.email, password: u.password } });
        expectCode(first, Code.NotFullySuccess);
        const sessionId = (first.data as { data?: unknown }).data as string;
        const good = totp(secret);
        const wrong = String((Number(good) + 500_000) % 1_000_000).padStart(6, '0');
        expectCode(await client.POST('/session/token/2fa', { body: { otp: wrong, session_id: sessionId } }), Code.TwoFACodeErr);
      });
    });

  test('SESSION-2FA-003 answers 404 for an unknown 2FA session', { annotation: [{ type: 'operation', description: 'finishTwoFactorSignIn' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.POST('/session/token/2fa', { body: { otp: '123456', session_id: randomUUID() } }), Code.NotFound);
    });

  test('SESSION-REFRESH-001 exchanges a refresh token for a new pair that works', { annotation: [{ type: 'operation', description: 'refreshToken' }] },
    async ({ target, makeTransport }) => {
      const cred = target.identities.user!;
      const client = bareClient(target, makeTransport());
      const login = ok(await client.POST('/session/token', { body: { email: cred.email, password: cred.password } }));
      const pair = ok(await client.POST('/session/token/refresh', { body: { refresh_token: login.token.refresh_token } }));
      expect(pair.access_token).toBeTruthy();
      expect(pair.refresh_token).toBeTruthy();
      expect(Date.parse(pair.access_expires)).toBeGreaterThan(Date.now());
      const me = ok(await client.GET('/user/me', { headers: { Authorization: `Bearer ${pair.access_token}` } }));
      expect(me.email).toBe(cred.email.toLowerCase());
    });

  test('SESSION-REFRESH-002 refuses an access token or garbage as refresh token with 40020',
    { annotation: [{ type: 'operation', description: 'refreshToken' }] }, async ({ target, makeTransport }) => {
      const cred = target.identities.user!;
      const client = bareClient(target, makeTransport());
      const login = ok(await client.POST('/session/token', { body: { email: cred.email, password: cred.password } }));
      expectCode(await client.POST('/session/token/refresh', { body: { refresh_token: login.token.access_token } }), Code.CredentialInvalid);
      expectCode(await client.POST('/session/token/refresh', { body: { refresh_token: 'not-a-token' } }), Code.CredentialInvalid);
    });

  test('SESSION-REFRESH-003 a refresh token sent as the bearer token does not authenticate (40020)',
    { annotation: [{ type: 'operation', description: 'refreshToken' }] }, async ({ target, makeTransport }) => {
      const cred = target.identities.user!;
      const client = bareClient(target, makeTransport());
      const login = ok(await client.POST('/session/token', { body: { email: cred.email, password: cred.password } }));
      // A valid JWT of the wrong type is refused (pkg/auth/jwt.go "Invalid token type"), not taken as the user.
      expectCode(await client.GET('/user/me', { headers: { Authorization: `Bearer ${login.token.refresh_token}` } }), Code.CredentialInvalid);
    });

  test('SESSION-SIGNOUT-001 signing out revokes the refresh token (refresh then fails with 40020)',
    { annotation: [{ type: 'operation', description: 'signOut' }] }, async ({ target, makeTransport }) => {
      const cred = target.identities.user!;
      const client = bareClient(target, makeTransport());
      const login = ok(await client.POST('/session/token', { body: { email: cred.email, password: cred.password } }));
      const refreshed = ok(await client.POST('/session/token/refresh', { body: { refresh_token: login.token.refresh_token } }));
      const redirect = ok(await client.DELETE('/session/token', { body: { refresh_token: refreshed.refresh_token } }));
      if (!isPro(target)) expect(redirect, 'Community has no SSO sign-out redirect').toBe('');
      // Every refresh token of the same sign-in is revoked, the original one too.
      expectCode(await client.POST('/session/token/refresh', { body: { refresh_token: refreshed.refresh_token } }), Code.CredentialInvalid);
      expectCode(await client.POST('/session/token/refresh', { body: { refresh_token: login.token.refresh_token } }), Code.CredentialInvalid);
    });

  test('SESSION-SIGNOUT-002 refuses an unparsable refresh token with 40020', { annotation: [{ type: 'operation', description: 'signOut' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.DELETE('/session/token', { body: { refresh_token: 'not-a-token' } }), Code.CredentialInvalid);
    });

  test('SESSION-OPENID-001 prepares an OpenID sign-in', { annotation: [{ type: 'operation', description: 'prepareOpenIdSignIn' }] },
    async ({ target }) => {
      test.skip(!isPro(target), proOnly(target));
      test.skip(true, 'needs an OpenID provider (Logto, QQ or OIDC) configured on the target');
    });

  test('SESSION-OPENID-002 finishes an OpenID sign-in', { annotation: [{ type: 'operation', description: 'finishOpenIdSignIn' }] },
    async ({ target }) => {
      test.skip(!isPro(target), proOnly(target));
      test.skip(true, 'needs an OpenID provider to issue the authorization code');
    });

  test('SESSION-OPENID-003 unlinks an OpenID provider', { annotation: [{ type: 'operation', description: 'unlinkOpenId' }] },
    async ({ target }) => {
      test.skip(!isPro(target), proOnly(target));
      test.skip(true, 'needs an account linked to an OpenID provider');
    });

  test('SESSION-AUTHN-001 prepares a passkey sign-in: a session id and a WebAuthn challenge',
    { annotation: [{ type: 'operation', description: 'preparePasskeySignIn' }] }, async ({ anonymous, adminGuard }) => {
      const reason = await ensureAuthn(anonymous, adminGuard);
      test.skip(!!reason, reason);
      const data = ok(await anonymous.PUT('/session/authn'));
      expect(data.session_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(data.options.publicKey.challenge.length).toBeGreaterThanOrEqual(16);
      const again = ok(await anonymous.PUT('/session/authn'));
      expect(again.session_id).not.toBe(data.session_id);
      expect(again.options.publicKey.challenge).not.toBe(data.options.publicKey.challenge);
    });

  test('SESSION-AUTHN-002 refuses passkey sign-in with 40019 while the site has it off',
    { annotation: [{ type: 'operation', description: 'preparePasskeySignIn' }, { type: 'operation', description: 'finishPasskeySignIn' }] },
    async ({ anonymous, adminSettings }) => {
      const before = await adminSettings.getSettings(['authn_enabled']);
      await adminSettings.setSettings({ authn_enabled: '0' });
      try {
        expectCode(await anonymous.PUT('/session/authn'), Code.FeatureNotEnabled);
        expectCode(await anonymous.POST('/session/authn', { body: { response: '{}', session_id: randomUUID() } }), Code.FeatureNotEnabled);
      } finally {
        await adminSettings.setSettings({ authn_enabled: before.authn_enabled ?? '1' });
      }
    });

  test('SESSION-AUTHN-003 answers 404 for an unknown passkey sign-in session', { annotation: [{ type: 'operation', description: 'finishPasskeySignIn' }] },
    async ({ anonymous, adminGuard }) => {
      const reason = await ensureAuthn(anonymous, adminGuard);
      test.skip(!!reason, reason);
      expectCode(await anonymous.POST('/session/authn', { body: { response: '{}', session_id: randomUUID() } }), Code.NotFound);
    });

  test('SESSION-AUTHN-004 refuses a malformed assertion for a prepared session with 40001',
    { annotation: [{ type: 'operation', description: 'finishPasskeySignIn' }] }, async ({ anonymous, adminGuard }) => {
      const reason = await ensureAuthn(anonymous, adminGuard);
      test.skip(!!reason, reason);
      const prepared = ok(await anonymous.PUT('/session/authn'));
      expectCode(await anonymous.POST('/session/authn', { body: { response: 'not json', session_id: prepared.session_id } }), Code.ParamErr);
    });

  test('SESSION-AUTHN-005 signs in with a registered passkey', { annotation: [{ type: 'operation', description: 'finishPasskeySignIn' }] },
    async () => {
      test.skip(true, 'needs a WebAuthn authenticator holding a registered passkey (the assertion must be signed by it)');
    });

  test('SESSION-PREPARE-001 tells which sign-in methods an account has', { annotation: [{ type: 'operation', description: 'prepareLogin' }] },
    async ({ anonymous, target }) => {
      const data = ok(await anonymous.GET('/session/prepare', { params: { query: { email: target.identities.user!.email } } }));
      expect(data.password_enabled).toBe(true);
      expect(data.webauthn_enabled, 'the suite registers no passkey').toBe(false);
    });

  test('SESSION-PREPARE-002 answers 404 for an unknown email', { annotation: [{ type: 'operation', description: 'prepareLogin' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.GET('/session/prepare', { params: { query: { email: `nobody-${randomUUID()}@conformance.test` } } }), Code.NotFound);
    });
});
