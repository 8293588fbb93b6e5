// PLACEHOLDER until the driver lands (replaced in this session).
import { AppError, Code } from '../envelope.js';
import type { CloudDriver } from './types.js';
const missing = async (): Promise<never> => { throw new AppError(Code.NotSet, 'driver not implemented'); };
export const cosDriver: CloudDriver = { type: 'cos', defaultChunkSize: 25 * 1024 * 1024, token: missing, verifyCallback: missing, cancel: missing, put: missing, get: missing, head: missing, remove: missing };
