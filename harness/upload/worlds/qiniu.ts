// PLACEHOLDER until the world lands (replaced in this session).
import type { ProviderWorldFactory } from '../provider-world.js';
export const qiniuWorld: ProviderWorldFactory = async () => { throw new Error('the qiniu provider world is not implemented yet'); };
