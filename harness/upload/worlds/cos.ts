// PLACEHOLDER until the world lands (replaced in this session).
import type { ProviderWorldFactory } from '../provider-world.js';
export const cosWorld: ProviderWorldFactory = async () => { throw new Error('the cos provider world is not implemented yet'); };
