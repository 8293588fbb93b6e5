// The `onedrive` provider world: a Microsoft Graph / OneDrive emulator (harness/cloud/onedrive.ts) on a loopback port,
// with a fresh OAuth client, refresh token and access token, and the admin-API fields of an `onedrive` policy as the
// embedded reference target reads them (reference/cloud/onedrive.ts; a real Cloudreve always talks to Microsoft's hosts,
// so this policy only runs against the reference):
//   server        `<emulator>/v1.0` (Graph's API base; the drive is `me/drive`)
//   bucket_name   the OAuth client id, secret_key the client secret
//   access_key    the refresh token; the reference trades it for the access token at
//                 `<emulator>/common/oauth2/v2.0/token`, and the emulator's Graph calls require that access token.
//
// Fragments: 320 KiB chunks — the emulator refuses a non-final fragment that is not a multiple of 320 KiB, as Graph.
import { randomBytes, randomUUID } from 'node:crypto';
import { FRAGMENT_UNIT, OneDriveEmulator } from '../../cloud/onedrive.js';
import type { ProviderWorld, ProviderWorldFactory, WorldOptions } from '../provider-world.js';
import { mountWorld, storedObjects } from './common.js';

export const ONEDRIVE_CHUNK_SIZE = FRAGMENT_UNIT;

/** The world plus its emulator, for tests that look closer (sessions, items, requests). */
export interface OneDriveWorld extends ProviderWorld {
  emulator: OneDriveEmulator;
}

export async function openOneDriveWorld(_o: WorldOptions): Promise<OneDriveWorld> {
  const accessToken = `EwB${randomBytes(24).toString('base64url')}`;
  const refreshToken = `M.C1_${randomBytes(24).toString('base64url')}`;
  const clientId = randomUUID();
  const clientSecret = randomBytes(20).toString('base64url');
  const emulator = new OneDriveEmulator({ accessToken, refreshToken });
  return mountWorld({ policy: 'onedrive', emulator, server: (url) => `${url}/v1.0`,
    fields: { bucket_name: clientId, access_key: refreshToken, secret_key: clientSecret, settings: {} },
    chunkSize: ONEDRIVE_CHUNK_SIZE,
    uploadOpen: (session) => {
      const url = session.upload_urls?.[0];
      const s = url ? emulator.session(url) : undefined;
      return s !== undefined && s.state === 'open' && s.expires >= Date.now();
    },
    objects: () => storedObjects(emulator.listItems()),
    secrets: [accessToken, refreshToken, clientSecret] });
}

export const onedriveWorld: ProviderWorldFactory = (o) => openOneDriveWorld(o);
