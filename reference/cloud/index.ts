// The cloud policy drivers by policy type.
import type { CloudDriver, CloudType } from './types.js';
import { ks3Driver, s3Driver } from './s3.js';
import { obsDriver } from './obs.js';
import { ossDriver } from './oss.js';
import { cosDriver } from './cos.js';
import { onedriveDriver } from './onedrive.js';
import { qiniuDriver } from './qiniu.js';
import { upyunDriver } from './upyun.js';

export const CLOUD_DRIVERS: Record<CloudType, CloudDriver> = {
  s3: s3Driver, ks3: ks3Driver, obs: obsDriver, oss: ossDriver, cos: cosDriver, onedrive: onedriveDriver,
  qiniu: qiniuDriver, upyun: upyunDriver,
};
