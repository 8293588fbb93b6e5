// Contract specs of the 站点信息 (site) group: ping, CAPTCHA, site settings, abuse report (Pro).
import { test, expect } from '../../fixtures/target.js';
import { isPro, ok, proOnly, sinceReason, versionAtLeast } from './support.js';

test.describe('site', () => {
  test('SITE-PING-001 answers the server version to an anonymous caller', { annotation: [{ type: 'operation', description: 'ping' }] },
    async ({ anonymous, target }) => {
      const version = ok(await anonymous.GET('/site/ping'));
      expect(version).toMatch(/^\d+\.\d+\.\d+(-pro)?$/);
      expect(version).toBe(target.version);
    });

  test('SITE-CAPTCHA-001 issues a PNG CAPTCHA image with a fresh ticket each time', { annotation: [{ type: 'operation', description: 'getCaptcha' }] },
    async ({ anonymous }) => {
      const first = ok(await anonymous.GET('/site/captcha'));
      const second = ok(await anonymous.GET('/site/captcha'));
      expect(first.image).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
      expect(Buffer.from(first.image.split(',')[1]!, 'base64').subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(first.ticket.length).toBeGreaterThan(0);
      expect(second.ticket).not.toBe(first.ticket);
    });

  test('SITE-CONFIG-001 basic section: site identity and the anonymous user for a caller without a token',
    { annotation: [{ type: 'operation', description: 'getSiteConfig' }] }, async ({ anonymous }) => {
      const cfg = ok(await anonymous.GET('/site/config/{section}', { params: { path: { section: 'basic' } } }));
      expect(typeof cfg.title).toBe('string');
      expect(cfg.instance_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(cfg.user?.anonymous).toBe(true);
      expect(cfg.user?.email).toBeUndefined();
      // The basic set carries no section-specific fields.
      expect(cfg.register_enabled).toBeUndefined();
      expect(cfg.file_viewers).toBeUndefined();
    });

  test('SITE-CONFIG-002 basic section carries the signed-in user', { annotation: [{ type: 'operation', description: 'getSiteConfig' }] },
    async ({ user, sessions }) => {
      const cfg = ok(await user.GET('/site/config/{section}', { params: { path: { section: 'basic' } } }));
      expect(cfg.user?.anonymous).toBeUndefined();
      expect(cfg.user?.id).toBe(sessions.user!.user!.id);
      expect(cfg.user?.email).toBe(sessions.user!.credentials.email.toLowerCase());
      expect(cfg.user?.group?.name).toBeTruthy();
    });

  test('SITE-CONFIG-003 login section: the sign-in switches, without the basic set', { annotation: [{ type: 'operation', description: 'getSiteConfig' }] },
    async ({ anonymous }) => {
      const cfg = ok(await anonymous.GET('/site/config/{section}', { params: { path: { section: 'login' } } }));
      for (const key of ['login_captcha', 'reg_captcha', 'forget_captcha', 'authn', 'register_enabled'] as const) {
        if (cfg[key] !== undefined) expect(typeof cfg[key], key).toBe('boolean');
      }
      expect(cfg.user).toBeUndefined();
      expect(cfg.instance_id).toBeUndefined();
    });

  test('SITE-CONFIG-004 explorer section: viewers, batch size and thumbnail size', { annotation: [{ type: 'operation', description: 'getSiteConfig' }] },
    async ({ user }) => {
      const cfg = ok(await user.GET('/site/config/{section}', { params: { path: { section: 'explorer' } } }));
      expect(cfg.max_batch_size).toBeGreaterThan(0);
      expect(cfg.thumbnail_width).toBeGreaterThan(0);
      expect(cfg.thumbnail_height).toBeGreaterThan(0);
      const viewers = (cfg.file_viewers ?? []).flatMap((g) => g?.viewers ?? []);
      expect(viewers.length, 'at least one file viewer').toBeGreaterThan(0);
      for (const v of viewers) {
        expect(v.id).toBeTruthy();
        expect((v as { wopi_actions?: unknown }).wopi_actions, `viewer ${v.id} has its WOPI actions stripped`).toBeUndefined();
      }
      expect(cfg.user).toBeUndefined();
    });

  test('SITE-CONFIG-005 thumb section lists the built-in generator\'s image extensions', { annotation: [{ type: 'operation', description: 'getSiteConfig' }] },
    async ({ anonymous, target }) => {
      test.skip(!versionAtLeast(target, '4.9.0'), sinceReason(target, '4.9.0'));
      const cfg = ok(await anonymous.GET('/site/config/{section}', { params: { path: { section: 'thumb' } } }));
      expect(Array.isArray(cfg.thumb_exts)).toBe(true);
      const exts = cfg.thumb_exts ?? [];
      expect([...exts].sort()).toEqual(exts);
      // The built-in generator is on by default and handles png; a site that turned it off lists other generators only.
      if (exts.length) for (const e of exts) expect(e).toBe(e.toLowerCase());
    });

  test('SITE-ABUSE-001 reports a share link for abuse', { annotation: [{ type: 'operation', description: 'reportAbuse' }] },
    async ({ user, target }) => {
      test.skip(!isPro(target), proOnly(target));
      // Pro: a report about the caller's own (non-existent) share is accepted or refused with a catalog code.
      const res = await user.POST('/site/abuse', { body: { category: 3, description: 'conformance suite', share_id: 'none' } });
      expect(res.response.status).toBe(200);
    });
});
