// Provider world of the OBS policy (see ../provider-world.ts): the OBS emulator on a loopback port, with a fresh key
// pair and the run's bucket. On an IP endpoint Cloudreve's OBS SDK uses path style and the AWS-compatible V2 signature
// (recorded: fixtures/transcripts/cloudreve-4.18.0-policies/cloud_sessions.jsonl), which the emulator verifies. When the
// client completes the multipart upload, the emulator posts the callback of the complete URL's x-obs-callback policy
// to the target (`callbackUrl` is the target's own /api/v4/callback/obs/<sid>/<secret>, from its siteURL) and relays
// the target's answer, as OBS does.
import { ObsEmulator } from '../../cloud/obs.js';
import type { ProviderWorldFactory, WorldOptions } from '../provider-world.js';
import { startS3FamilyWorld } from './s3.js';

export const startObsWorld = (o: WorldOptions) => startS3FamilyWorld('obs', o, (opts) => new ObsEmulator({ ...opts, callbackTimeoutMs: 20_000 }));

export const obsWorld: ProviderWorldFactory = startObsWorld;
