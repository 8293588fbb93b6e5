// PLACEHOLDER until the world lands (replaced in this session).
import type { ProviderWorldFactory } from '../provider-world.js';
export const ossWorld: ProviderWorldFactory = async () => { throw new Error('the oss provider world is not implemented yet'); };
