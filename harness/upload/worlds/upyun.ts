// PLACEHOLDER until the world lands (replaced in this session).
import type { ProviderWorldFactory } from '../provider-world.js';
export const upyunWorld: ProviderWorldFactory = async () => { throw new Error('the upyun provider world is not implemented yet'); };
