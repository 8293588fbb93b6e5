// PLACEHOLDER until the world lands (replaced in this session).
import type { ProviderWorldFactory } from '../provider-world.js';
export const onedriveWorld: ProviderWorldFactory = async () => { throw new Error('the onedrive provider world is not implemented yet'); };
