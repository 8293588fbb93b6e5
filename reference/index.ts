// The embedded reference target: a real HTTP server (fastify) that behaves on the wire as Cloudreve 4.18 does for
// everything the suite uses. State lives in memory; stored bytes go to a temporary directory, streamed.
// This file is the public face used by fixtures/target.ts and `npm run reference`; everything else in reference/ is
// internal to the target.

export interface Credentials { email: string; password: string }

export interface ReferenceOptions {
  /** Loopback port; 0 (default) picks a free one. */
  port?: number;
  host?: string;
  /** Where stored bytes go; a fresh temporary directory by default (removed on close). */
  dataDir?: string;
  /** Register the admin (first user), a user and a second user through the HTTP API after start (default true). */
  createIdentities?: boolean;
  /** Named defects to switch on (fault profiles, issue 7); none by default. */
  faults?: string[];
}

export interface ReferenceTarget {
  /** Site URL, e.g. http://127.0.0.1:40123 (the API is under /api/v4). */
  url: string;
  version: string;
  identities: { admin: Credentials; user: Credentials; user2: Credentials };
  /**
   * The reference's slave node (remote storage policy): a second loopback listener with its own random secret, storing
   * under `<dataDir>/slave`. Not registered: the harness registers it through the admin API (PUT /admin/node with
   * `server: url, slave_key: secret`, then a remote policy with its `node_id`).
   */
  slave: { url: string; secret: string };
  close(): Promise<void>;
}

export { startReference } from './server.js';
