// State the real server keeps for the features outside the file tree, one store per reference instance (kept beside
// State, not in it): direct links (ent DirectLink), background tasks (ent Task + the task registry), and the KV
// entries with a TTL that 2FA, passkeys, CAPTCHA, password reset and viewer sessions use.
import type { State } from './state.js';

export interface DirectLinkRow {
  id: number;
  fileId: number;
  /** The file's name when the link was made (the link's path ends with it). */
  name: string;
  speed: number;
  downloads: number;
  createdAt: Date;
}

export type TaskStatus = 'queued' | 'processing' | 'suspending' | 'error' | 'canceled' | 'completed';

export interface Progress { total: number; current: number; identifier: string }

export interface TaskRow {
  id: number;
  ownerId: number;
  type: 'create_archive' | 'extract_archive' | 'import' | 'remote_download';
  status: TaskStatus;
  phase: string;
  props: Record<string, unknown>;
  /** Whether the task ran on the master node (summary node). */
  onMaster: boolean;
  error?: string;
  errorHistory: string[];
  durationMs: number;
  resumeTime: number;
  progress: Record<string, Progress>;
  createdAt: Date;
  updatedAt: Date;
}

/** A KV entry with an expiry (Unix ms). */
export interface Expiring<T> { value: T; expires: number }

export class TtlMap<K, V> {
  private readonly m = new Map<K, Expiring<V>>();
  set(k: K, value: V, ttlSeconds: number): void {
    this.m.set(k, { value, expires: Date.now() + ttlSeconds * 1000 });
  }
  get(k: K): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (Date.now() >= e.expires) {
      this.m.delete(k);
      return undefined;
    }
    return e.value;
  }
  delete(k: K): void {
    this.m.delete(k);
  }
}

export interface ViewerSessionRow { id: string; uri: string; userId: number; fileId: number; viewerId: string; version: string; token: string }

export class Extras {
  readonly directLinks = new Map<number, DirectLinkRow>();
  readonly tasks = new Map<number, TaskRow>();
  /** Users with 2FA on: user id → TOTP secret (ent User.two_factor_secret). */
  readonly twoFactor = new Map<number, string>();
  /** `2fa_init_<uid>`: the secret GET /user/setting/2fa made, until PATCH /user/setting confirms it (600 s). */
  readonly twoFactorInit = new TtlMap<number, string>();
  /** `user_2fa_<session>`: a password sign-in waiting for its TOTP code (600 s). */
  readonly twoFactorLogin = new TtlMap<string, number>();
  /** `authn_session_<id>`: passkey sign-in challenges (300 s). */
  readonly passkeyLogin = new TtlMap<string, string>();
  /** `authn_session_<uid>`: passkey registration challenges (300 s). */
  readonly passkeyRegister = new TtlMap<number, string>();
  /** Graphic CAPTCHA tickets → their answer. */
  readonly captchas = new TtlMap<string, string>();
  /** `user_reset_<uid>`: password reset secrets (3600 s). */
  readonly resets = new TtlMap<number, string>();
  /** `viewer_session_<id>`. */
  readonly viewerSessions = new TtlMap<string, ViewerSessionRow>();
  /** The last email the site "sent" (there is no SMTP server): for tests. */
  readonly outbox: { to: string; subject: string; body: string }[] = [];
}

const stores = new WeakMap<State, Extras>();

export function extrasOf(st: State): Extras {
  let x = stores.get(st);
  if (!x) stores.set(st, (x = new Extras()));
  return x;
}
