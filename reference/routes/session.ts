// Sign-in, token refresh and sign-out (service/user/login.go, pkg/auth/jwt.go).
import type { FastifyInstance } from 'fastify';
import { AppError, Code } from '../envelope.js';
import { bind, bindQuery, jsonBody, register, type Services } from '../http.js';
import { checkPassword } from '../state.js';

export function sessionRoutes(app: FastifyInstance, svc: Services): void {
  const { st, views, tokens } = svc;

  register(app, svc, 'POST', '/session/token', 'none', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'email', name: 'Email', kind: 'string', required: true, email: true },
      { key: 'password', name: 'Password', kind: 'string', required: true, min: 4, max: 128 },
    ]);
    const u = st.userByEmail(b.email);
    if (!u || !checkPassword(u.passwordDigest, b.password)) {
      throw new AppError(Code.InvalidPassword, 'Incorrect password or email address');
    }
    if (u.status === 'manual_banned' || u.status === 'sys_banned') throw new AppError(Code.UserBaned, 'This account has been blocked');
    if (u.status === 'inactive') throw new AppError(Code.UserNotActivated, 'This account is not activated');
    return { user: views.user(u), token: await tokens.issue(u) };
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
