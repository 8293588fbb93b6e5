// PLACEHOLDER until the world lands (replaced in this session).
import type { ProviderWorldFactory } from '../provider-world.js';
export const s3World: ProviderWorldFactory = async () => { throw new Error('the s3 provider world is not implemented yet'); };
export const ks3World: ProviderWorldFactory = async () => { throw new Error('the ks3 provider world is not implemented yet'); };
export const relayWorld: ProviderWorldFactory = async () => { throw new Error('the relay provider world is not implemented yet'); };
