// Sign-in, token refresh and sign-out (service/user/login.go, pkg/auth/jwt.go).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError, Code } from '../envelope.js';
import { bind, bindQuery, jsonBody, register, type Services } from '../http.js';
import { checkPassword } from '../state.js';
import { fault } from '../faults/index.js';
import { extrasOf } from '../extras.js';
import { validateTotp } from '../totp.js';
import { loginOptions, newChallenge, parseCredentialResponse } from '../webauthn.js';
import { checkCaptcha } from './site.js';

export function sessionRoutes(app: FastifyInstance, svc: Services): void {
  const { st, views, tokens } = svc;
  const x = extrasOf(st);

  register(app, svc, 'POST', '/session/token', 'none', async (c) => {
    checkCaptcha(c, 'login_captcha');
    const b = bind(jsonBody(c), [
      { key: 'email', name: 'Email', kind: 'string', required: true, email: true },
      { key: 'password', name: 'Password', kind: 'string', required: true, min: 4, max: 128 },
    ]);
    const u = st.userByEmail(b.email);
    if (!u || (!checkPassword(u.passwordDigest, b.password) && !fault(st.faults, 'wrong-password-accepted'))) {
      throw new AppError(Code.InvalidPassword, 'Incorrect password or email address');
    }
    if (u.status === 'manual_banned' || u.status === 'sys_banned') throw new AppError(Code.UserBaned, 'This account has been blocked');
    if (u.status === 'inactive') throw new AppError(Code.UserNotActivated, 'This account is not activated');
    // An account with 2FA: code 203 with the id of a sign-in session that POST /session/token/2fa finishes.
    if (x.twoFactor.has(u.id)) {
      const sessionId = randomUUID();
      x.twoFactorLogin.set(sessionId, u.id, 600);
      throw new AppError(Code.NotFullySuccess, '', { data: sessionId, noCorrelation: true });
    }
    return { user: views.user(u), token: await tokens.issue(u) };
  });

  register(app, svc, 'POST', '/session/token/2fa', 'none', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'otp', name: 'OTP', kind: 'string', required: true },
      { key: 'session_id', name: 'SessionID', kind: 'string', required: true },
    ]);
    const uid = x.twoFactorLogin.get(b.session_id);
    if (uid === undefined) throw new AppError(Code.NotFound, 'Session not found');
    const u = st.users.get(uid);
    if (!u) throw new AppError(Code.NotFound, 'User not found');
    const secret = x.twoFactor.get(u.id);
    if (secret && !validateTotp(b.otp, secret)) throw new AppError(Code.TwoFACodeErr, 'Incorrect 2FA code');
    x.twoFactorLogin.delete(b.session_id);
    return { user: views.user(u), token: await tokens.issue(u) };
  });

  // Passkey sign-in (only while the site setting authn_enabled is on).
  const authnEnabled = () => {
    if (st.setting('authn_enabled') !== '1') throw new AppError(Code.FeatureNotEnabled, 'This feature is not enabled');
  };

  register(app, svc, 'PUT', '/session/authn', 'none', async () => {
    authnEnabled();
    const challenge = newChallenge();
    const sessionId = randomUUID();
    x.passkeyLogin.set(sessionId, challenge, 300);
    return { options: loginOptions(st, challenge), session_id: sessionId };
  });

  register(app, svc, 'POST', '/session/authn', 'none', async (c) => {
    authnEnabled();
    const b = bind(jsonBody(c), [
      { key: 'response', name: 'Response', kind: 'string', required: true },
      { key: 'session_id', name: 'SessionID', kind: 'string', required: true },
    ]);
    if (x.passkeyLogin.get(b.session_id) === undefined) throw new AppError(Code.NotFound, 'Session not found');
    // (The real server deletes the session under the wrong key, so it stays usable until it expires.)
    parseCredentialResponse(b.response, 'assertion');
    // No passkey is registered anywhere: the assertion cannot be validated.
    throw new AppError(Code.WebAuthnCredentialError, 'Failed to validate login');
  });

  register(app, svc, 'GET', '/session/prepare', 'none', async (c) => {
    const q = bindQuery(c, [{ key: 'email', name: 'Email', kind: 'string', required: true, email: true }]);
    const u = st.userByEmail(q.email);
    if (!u || u.status !== 'active') throw new AppError(Code.NotFound, 'User not found');
    // No passkeys here: every account signs in with its password.
    return { webauthn_enabled: false, password_enabled: true };
  });

  register(app, svc, 'POST', '/session/token/refresh', 'none', async (c) => {
    const b = bind(jsonBody(c), [{ key: 'refresh_token', name: 'RefreshToken', kind: 'string', required: true }]);
    return tokens.refresh(b.refresh_token);
  });

  register(app, svc, 'DELETE', '/session/token', 'none', async (c) => {
    const b = bind(jsonBody(c), [{ key: 'refresh_token', name: 'RefreshToken', kind: 'string', required: true }]);
    await tokens.revoke(b.refresh_token);
    return '';
  });
}
