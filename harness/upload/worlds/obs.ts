// PLACEHOLDER until the world lands (replaced in this session).
import type { ProviderWorldFactory } from '../provider-world.js';
export const obsWorld: ProviderWorldFactory = async () => { throw new Error('the obs provider world is not implemented yet'); };
