// The provider world of each cloud policy project (see ../provider-world.ts).
import type { CloudPolicy, ProviderWorldFactory } from '../provider-world.js';
import { ks3World, relayWorld, s3World } from './s3.js';
import { obsWorld } from './obs.js';
import { ossWorld } from './oss.js';
import { cosWorld } from './cos.js';
import { onedriveWorld } from './onedrive.js';
import { qiniuWorld } from './qiniu.js';
import { upyunWorld } from './upyun.js';

export const PROVIDER_WORLDS: Record<CloudPolicy, ProviderWorldFactory> = {
  s3: s3World, ks3: ks3World, relay: relayWorld, obs: obsWorld, oss: ossWorld, cos: cosWorld, onedrive: onedriveWorld,
  qiniu: qiniuWorld, upyun: upyunWorld,
};
