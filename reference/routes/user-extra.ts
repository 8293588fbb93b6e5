// User routes beyond the profile: avatars (service/user/setting.go), password reset by email (service/user/login.go)
// and passkey registration (service/user/passkey.go).
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AppError, Code } from '../envelope.js';
import { bind, bindQuery, drain, jsonBody, RAW, register, type Ctx, type Services } from '../http.js';
import { Kind } from '../hashid.js';
import { digestPassword } from '../state.js';
import { extrasOf } from '../extras.js';
import { decodeImage, encodePng, ImageError, resize, sniff } from '../image.js';
import { newChallenge, parseCredentialResponse, registrationOptions } from '../webauthn.js';
import { checkCaptcha } from './site.js';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** util.RandStringRunesCrypto. */
export function randomRunes(n: number): string {
  return Array.from(randomBytes(n), (b) => ALNUM[b % ALNUM.length]).join('');
}

/** Reads a request body the JSON parser left alone, at most `limit` bytes. */
async function readBody(c: Ctx, limit: number): Promise<Buffer> {
  const parsed = (c.req.body as { raw?: string } | undefined)?.raw;
  if (parsed !== undefined) return Buffer.from(parsed);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of c.req.raw as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) break;
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

export function userExtraRoutes(app: FastifyInstance, svc: Services): void {
  const { st, views } = svc;
  const x = extrasOf(st);
  const avatarPath = (uid: number) => join(st.dataDir, st.setting('avatar_path') || 'avatar', `avatar_${uid}.png`);

  // ---- avatar ----

  register(app, svc, 'GET', '/user/avatar/:id', 'optional', async (c) => {
    const uid = st.hash.decode(Kind.User, (c.req.params as { id: string }).id);
    if (uid === undefined) throw new AppError(Code.ParamErr, 'Failed to parse object ID');
    const q = bindQuery(c, [{ key: 'nocache', name: 'NoCache', kind: 'bool' }]);
    const u = st.users.get(uid);
    if (!u) throw new AppError(Code.UserNotFound, '');
    if (!q.nocache) c.reply.header('Cache-Control', `public, max-age=${st.settingInt('public_resource_maxage', 86400)}`);
    if (u.avatar === 'gravatar') {
      const md5 = createHash('md5').update(u.email.toLowerCase()).digest('hex');
      const root = st.setting('gravatar_server') || 'https://www.gravatar.com/';
      const location = new URL(`/avatar/${md5}?d=mm&s=200`, root).toString();
      await c.reply.code(302).header('Location', location).type('text/html; charset=utf-8')
        .send(`<a href="${location.replaceAll('&', '&amp;')}">Found</a>.\n\n`);
      return RAW;
    }
    if (u.avatar === 'file') {
      let bytes: Buffer | undefined;
      try {
        bytes = await readFile(avatarPath(u.id));
      } catch {
        bytes = undefined;
      }
      if (bytes) {
        // http.ServeContent: Last-Modified from the user's update time, conditional requests answered 304.
        const modified = new Date(Math.floor(u.updatedAt.getTime() / 1000) * 1000);
        const since = Date.parse(String(c.req.headers['if-modified-since'] ?? ''));
        c.reply.header('Accept-Ranges', 'bytes').header('Last-Modified', modified.toUTCString());
        if (Number.isFinite(since) && modified.getTime() <= since) {
          await c.reply.code(304).send();
          return RAW;
        }
        await c.reply.code(200).type('image/png').header('Content-Length', String(bytes.length)).send(bytes);
        return RAW;
      }
    }
    await c.reply.code(404).send();
    return RAW;
  });

  register(app, svc, 'PUT', '/user/setting/avatar', 'user', async (c) => {
    const u = c.caller!;
    const max = st.settingInt('avatar_size', 4194304);
    const header = c.req.headers['content-length'];
    const length = header === undefined ? -1 : Number(header);
    if (!Number.isInteger(length) || length < 0 || length > max) {
      drain(c.req);
      throw new AppError(Code.FileTooLarge, '');
    }
    if (length === 0) {
      u.avatar = 'gravatar';
      u.updatedAt = new Date();
      return undefined;
    }
    const type = String(c.req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const ext = type === 'image/jpeg' || type === 'image/jpg' ? 'jpeg' : type === 'image/gif' ? 'gif' : 'png';
    const bytes = await readBody(c, max);
    let png: Buffer;
    try {
      // thumb.NewThumbFromFile: the format must be one Go knows and the one the Content-Type names.
      if (sniff(bytes) !== ext) throw new ImageError('invalid image');
      const size = st.settingInt('avatar_size_l', 200);
      png = encodePng(resize(decodeImage(bytes), size, size));
    } catch (e) {
      if (e instanceof ImageError) throw new AppError(Code.ParamErr, 'Invalid image');
      throw e;
    }
    const path = avatarPath(u.id);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, png);
    u.avatar = 'file';
    u.updatedAt = new Date();
    return undefined;
  });

  // ---- password reset ----

  register(app, svc, 'POST', '/user/reset', 'none', async (c) => {
    checkCaptcha(c, 'forget_captcha');
    const b = bind(jsonBody(c), [
      { key: 'email', name: 'Email', kind: 'string', required: true, email: true },
      { key: 'language', name: 'Language', kind: 'string' },
    ]);
    const u = st.userByEmail(b.email);
    if (!u) throw new AppError(Code.UserNotFound, 'User not found');
    if (u.status === 'manual_banned' || u.status === 'sys_banned') throw new AppError(Code.UserBaned, 'This user is banned');
    if (u.status === 'inactive') throw new AppError(Code.UserNotActivated, 'This user is not activated');
    const secret = randomRunes(32);
    x.resets.set(u.id, secret, 3600);
    // The email goes to the site's mail queue; with no SMTP server configured nothing is delivered, and the
    // request still succeeds (as on a real server without SMTP).
    const base = st.setting('siteURL').replace(/\/+$/, '');
    const link = `${base}/session/reset?${new URLSearchParams({ id: st.hash.encode(Kind.User, u.id), secret })}`;
    x.outbox.push({ to: u.email, subject: 'Reset your password', body: link });
    return undefined;
  });

  register(app, svc, 'PATCH', '/user/reset/:id', 'none', async (c) => {
    const uid = st.hash.decode(Kind.User, (c.req.params as { id: string }).id);
    if (uid === undefined) throw new AppError(Code.ParamErr, 'Failed to parse object ID');
    const b = bind(jsonBody(c), [
      { key: 'password', name: 'Password', kind: 'string', required: true, min: 6, max: 128 },
      { key: 'secret', name: 'Secret', kind: 'string', required: true },
    ]);
    const secret = x.resets.get(uid);
    if (secret === undefined || secret !== b.secret) throw new AppError(Code.TempLinkExpired, 'Link is expired');
    x.resets.delete(uid);
    const u = st.users.get(uid);
    if (!u || u.status !== 'active') throw new AppError(Code.UserNotFound, 'User not found');
    u.passwordDigest = digestPassword(b.password);
    u.updatedAt = new Date();
    return views.user(u);
  });

  // ---- passkey registration (login required, then the authn_enabled switch) ----

  const authnEnabled = () => {
    if (st.setting('authn_enabled') !== '1') throw new AppError(Code.FeatureNotEnabled, 'This feature is not enabled');
  };

  register(app, svc, 'PUT', '/user/authn', 'user', async (c) => {
    authnEnabled();
    const challenge = newChallenge();
    x.passkeyRegister.set(c.caller!.id, challenge, 300);
    return registrationOptions(st, c.caller!, challenge);
  });

  register(app, svc, 'POST', '/user/authn', 'user', async (c) => {
    authnEnabled();
    const b = bind(jsonBody(c), [
      { key: 'response', name: 'Response', kind: 'string', required: true },
      { key: 'name', name: 'Name', kind: 'string', required: true },
      { key: 'ua', name: 'UA', kind: 'string', required: true },
    ]);
    if (x.passkeyRegister.get(c.caller!.id) === undefined) throw new AppError(Code.NotFound, 'Session not found');
    x.passkeyRegister.delete(c.caller!.id);
    parseCredentialResponse(b.response, 'attestation');
    throw new AppError(Code.WebAuthnCredentialError, 'Failed to finish registration');
  });

  register(app, svc, 'DELETE', '/user/authn', 'user', async (c) => {
    authnEnabled();
    bindQuery(c, [{ key: 'id', name: 'ID', kind: 'string', required: true }]);
    // No passkey is ever registered here.
    throw new AppError(Code.NotFound, 'Passkey not found');
  });

}
