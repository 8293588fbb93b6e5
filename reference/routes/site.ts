// Site routes: ping and the site configuration sections (service/basic/site.go).
import type { FastifyInstance } from 'fastify';
import { AppError, Code } from '../envelope.js';
import { register, type Ctx, type Services } from '../http.js';
import { VERSION } from '../state.js';
import { newCaptcha } from '../captcha.js';
import { extrasOf } from '../extras.js';

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

/** The file viewers of a fresh site (inventory/setting.go defaultFileViewers; their WOPI actions are never sent). */
export const VIEWERS = [{ viewers: [
  { id: 'music', type: 'builtin', display_name: 'fileManager.musicPlayer', exts: ['mp3', 'ogg', 'wav', 'flac', 'm4a'] },
  { id: 'epub', type: 'builtin', display_name: 'fileManager.epubViewer', exts: ['epub'] },
  { id: 'googledocs', type: 'custom', display_name: 'fileManager.googledocs',
    exts: ['jpeg', 'png', 'gif', 'tiff', 'bmp', 'webm', 'mpeg4', '3gpp', 'mov', 'avi', 'mpegps', 'wmv', 'flv', 'txt', 'css',
      'html', 'php', 'c', 'cpp', 'h', 'hpp', 'js', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'pdf', 'pages', 'ai', 'psd',
      'tiff', 'dxf', 'svg', 'eps', 'ps', 'ttf', 'xps'],
    url: 'https://docs.google.com/gview?url={$src}&embedded=true', icon: '/static/img/viewers/gdrive.png', max_size: 26214400 },
  { id: 'm365online', type: 'custom', display_name: 'fileManager.m365viewer',
    exts: ['doc', 'docx', 'docm', 'dotm', 'dotx', 'xlsx', 'xlsb', 'xls', 'xlsm', 'pptx', 'ppsx', 'ppt', 'pps', 'pptm', 'potm',
      'ppam', 'potx', 'ppsm'],
    url: 'https://view.officeapps.live.com/op/view.aspx?src={$src}', icon: '/static/img/viewers/m365.svg', max_size: 10485760 },
  { id: 'pdf', type: 'builtin', display_name: 'fileManager.pdfViewer', exts: ['pdf'] },
  { id: 'video', type: 'builtin', display_name: 'Artplayer', exts: ['mp4', 'mkv', 'webm', 'avi', 'mov', 'm3u8', 'flv'],
    icon: '/static/img/viewers/artplayer.png' },
  { id: 'markdown', type: 'builtin', display_name: 'fileManager.markdownEditor', exts: ['md'],
    templates: [{ ext: 'md', display_name: 'Markdown' }] },
  { id: 'drawio', type: 'builtin', display_name: 'draw.io', exts: ['drawio', 'dwb'], icon: '/static/img/viewers/drawio.svg',
    props: { host: 'https://embed.diagrams.net' },
    templates: [{ ext: 'drawio', display_name: 'fileManager.diagram' }, { ext: 'dwb', display_name: 'fileManager.whiteboard' }] },
  { id: 'image', type: 'builtin', display_name: 'fileManager.imageViewer',
    exts: ['bmp', 'png', 'gif', 'jpg', 'jpeg', 'svg', 'webp', 'heic', 'heif'] },
  { id: 'monaco', type: 'builtin', display_name: 'fileManager.monacoEditor',
    exts: ['md', 'txt', 'json', 'php', 'py', 'bat', 'c', 'h', 'cpp', 'hpp', 'cs', 'css', 'dockerfile', 'go', 'html', 'htm', 'ini',
      'java', 'js', 'jsx', 'less', 'lua', 'sh', 'sql', 'xml', 'yaml'],
    icon: '/static/img/viewers/monaco.svg', templates: [{ ext: 'txt', display_name: 'fileManager.text' }] },
  { id: 'photopea', type: 'builtin', display_name: 'Photopea',
    exts: ['psd', 'ai', 'indd', 'xcf', 'xd', 'fig', 'kri', 'clip', 'pxd', 'pxz', 'cdr', 'ufo', 'afphoyo', 'svg', 'esp', 'pdf',
      'pdn', 'wmf', 'emf', 'png', 'jpg', 'jpeg', 'gif', 'webp', 'ico', 'icns', 'bmp', 'avif', 'heic', 'jxl', 'ppm', 'pgm', 'pbm',
      'tiff', 'dds', 'iff', 'anim', 'tga', 'dng', 'nef', 'cr2', 'cr3', 'arw', 'rw2', 'raf', 'orf', 'gpr', '3fr', 'fff'],
    icon: '/static/img/viewers/photopea.png' },
  { id: 'excalidraw', type: 'builtin', display_name: 'Excalidraw', exts: ['excalidraw'], icon: '/static/img/viewers/excalidraw.svg',
    templates: [{ ext: 'excalidraw', display_name: 'Excalidraw' }] },
  { id: 'archive', type: 'builtin', display_name: 'fileManager.archivePreview', exts: ['zip', '7z'],
    required_group_permission: [5] },
] as { id: string; type: string; display_name: string; exts: string[]; disabled?: boolean; [k: string]: unknown }[] }];

export function siteRoutes(app: FastifyInstance, svc: Services): void {
  const { st, views } = svc;
  const flag = (k: string) => st.setting(k) === '1';

  register(app, svc, 'GET', '/site/ping', 'none', async () => VERSION);

  // A graphic CAPTCHA and its ticket (the answer is kept for 600 s, until verified once).
  register(app, svc, 'GET', '/site/captcha', 'none', async () => {
    const c = newCaptcha();
    extrasOf(st).captchas.set(c.ticket, c.answer, 600);
    return { image: c.image, ticket: c.ticket };
  });

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

/**
 * middleware.CaptchaRequired for the graphic CAPTCHA: while the site setting `setting` is on, the JSON body must
 * carry a `ticket` from GET /site/captcha and its `captcha` answer (checked once, case-insensitively), else 40026.
 * Other CAPTCHA providers (reCAPTCHA, Turnstile, Cap) call out to a service and are not checked here.
 */
export function checkCaptcha(c: Ctx, setting: string): void {
  if (c.st.setting(setting) !== '1') return;
  const type = c.st.setting('captcha_type') || 'normal';
  if (type !== 'normal' && type !== 'tcaptcha') return;
  const fail = () => new AppError(Code.CaptchaError, 'CAPTCHA not match.');
  const raw = (c.req.body as { raw?: string } | undefined)?.raw ?? '';
  let body: { ticket?: unknown; captcha?: unknown };
  try {
    body = JSON.parse(raw) as typeof body;
  } catch {
    throw fail();
  }
  const ticket = typeof body?.ticket === 'string' ? body.ticket : '';
  const answer = typeof body?.captcha === 'string' ? body.captcha : '';
  if (!ticket || !answer) throw fail();
  const captchas = extrasOf(c.st).captchas;
  const want = captchas.get(ticket);
  captchas.delete(ticket);
  if (!want || want.toLowerCase() !== answer.toLowerCase()) throw fail();
}
