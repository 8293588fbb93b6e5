// Site routes: ping and the site configuration sections (service/basic/site.go).
import type { FastifyInstance } from 'fastify';
import { register, type Services } from '../http.js';
import { VERSION } from '../state.js';

const THEMES = JSON.stringify({
  '#1976d2': {
    light: { palette: { primary: { main: '#1976d2', light: '#42a5f5', dark: '#1565c0' },
      secondary: { main: '#9c27b0', light: '#ba68c8', dark: '#7b1fa2' } } },
    dark: { palette: { primary: { main: '#90caf9', light: '#e3f2fd', dark: '#42a5f5' },
      secondary: { main: '#ce93d8', light: '#f3e5f5', dark: '#ab47bc' } } },
  },
  '#3f51b5': {
    light: { palette: { primary: { main: '#3f51b5' }, secondary: { main: '#f50057' } } },
    dark: { palette: { primary: { main: '#9fa8da' }, secondary: { main: '#ff4081' } } },
  },
});

/** The built-in viewers of a fresh site (their WOPI actions are never sent). */
const VIEWERS = [{ viewers: [
  { id: 'music', type: 'builtin', display_name: 'fileManager.musicPlayer', exts: ['mp3', 'ogg', 'wav', 'flac', 'm4a'] },
  { id: 'epub', type: 'builtin', display_name: 'fileManager.epubViewer', exts: ['epub'] },
  { id: 'pdf', type: 'builtin', display_name: 'fileManager.pdfViewer', exts: ['pdf'] },
  { id: 'image', type: 'builtin', display_name: 'fileManager.imageViewer', exts: ['bmp', 'png', 'gif', 'jpg', 'jpeg', 'svg', 'webp'] },
  { id: 'video', type: 'builtin', display_name: 'fileManager.videoPlayer', exts: ['mp4', 'mkv', 'webm', 'avi', 'mov', 'm3u8', 'flv'] },
  { id: 'markdown', type: 'builtin', display_name: 'fileManager.markdownEditor', exts: ['md'] },
  { id: 'monaco', type: 'builtin', display_name: 'fileManager.monacoEditor',
    exts: ['txt', 'json', 'xml', 'yaml', 'yml', 'js', 'ts', 'css', 'html', 'go', 'py', 'sh', 'ini', 'conf', 'log'] },
] }];

export function siteRoutes(app: FastifyInstance, svc: Services): void {
  const { st, views } = svc;
  const flag = (k: string) => st.setting(k) === '1';

  register(app, svc, 'GET', '/site/ping', 'none', async () => VERSION);

  register(app, svc, 'GET', '/site/config/:section', 'optional', async (c) => {
    const section = (c.req.params as { section: string }).section;
    switch (section) {
      case 'login':
        return strip({ login_captcha: flag('login_captcha'), reg_captcha: flag('reg_captcha'),
          forget_captcha: flag('forget_captcha'), authn: flag('authn_enabled'), register_enabled: flag('register_enabled') });
      case 'explorer':
        return { max_batch_size: st.settingInt('max_batched_file', 3000), icons: '[]', map_provider: 'openstreetmap',
          google_map_tile_type: 'regular', thumbnail_width: 400, thumbnail_height: 300, file_viewers: VIEWERS,
        };
      case 'emojis':
        return { emoji_preset: st.setting('emojis') };
      case 'app':
        return strip({ app_promotion: flag('show_app_promotion') });
      case 'thumb':
        return { thumb_exts: ['bmp', 'gif', 'jpeg', 'jpg', 'png'] };
      default:
        // Any other section, `basic` included, is the basic set: the only one that names the caller.
        return {
          instance_id: st.setting('siteID'), title: st.setting('siteName'), themes: THEMES,
          default_theme: st.setting('defaultTheme'), user: views.user(c.caller), logo: st.setting('logo'),
          logo_light: st.setting('logo_light'), custom_html: {}, captcha_ReCaptchaKey: st.setting('captcha_ReCaptchaKey'),
          captcha_type: st.setting('captcha_type'), captcha_cap_asset_server: 'jsdelivr', app_promotion: flag('show_app_promotion'),
        };
    }
  });
}

/** Go's omitempty on booleans: false is left out. */
function strip(o: Record<string, boolean>): Record<string, boolean> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v));
}
