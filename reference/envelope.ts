// The response envelope {code, data?, msg, correlation_id?} and the application error that becomes one.
// Mirrors pkg/serializer: errors carry a correlation_id, parameter-binding errors (the deprecated builder) and
// successes do not.
import { Code } from '../contracts/generated/error-codes.js';

export { Code };

export class AppError extends Error {
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly options: { data?: unknown; status?: number; noCorrelation?: boolean; aggregated?: Record<string, unknown> } = {},
  ) {
    super(`${code} ${msg}`);
  }
}

/** A parameter-binding failure: always 40001, never a correlation_id ("Invalid parameters." when no message). */
export function paramError(msg: string): AppError {
  return new AppError(Code.ParamErr, msg || 'Invalid parameters.', { noCorrelation: true });
}

export function err(code: number, msg = '', data?: unknown): AppError {
  return new AppError(code, msg, data === undefined ? {} : { data });
}

/** The named errors of pkg/filemanager/fs. */
export const FsErr = {
  pathNotExist: () => err(Code.ParentNotExist, 'Path not exist'),
  existed: () => err(Code.ObjectExist, 'Object existed'),
  notSupported: () => err(Code.NoPermissionErr, 'Not supported action'),
  permissionDenied: () => err(Code.NoPermissionErr, 'Permission denied'),
  loginRequired: () => err(Code.CheckLogin, 'Login required'),
  illegalName: () => err(Code.IllegalObjectName, 'Invalid object name'),
  tooLarge: () => err(Code.FileTooLarge, 'File is too large'),
  capacity: () => err(Code.InsufficientCapacity, 'Insufficient capacity'),
  stale: () => err(Code.StaleVersion, 'File is updated during your edit'),
  ownerOnly: () => err(Code.OwnerOnly, 'Only owner or administrator can perform this action'),
};

export interface Envelope { code: number; msg: string; data?: unknown; correlation_id?: string; aggregated_error?: unknown }

export function success(data?: unknown): Envelope {
  return data === undefined ? { code: 0, msg: '' } : { code: 0, data, msg: '' };
}

export function failure(e: AppError, correlationId: string): Envelope {
  const out: Envelope = { code: e.code, msg: e.msg };
  if (e.options.data !== undefined) out.data = e.options.data;
  if (e.options.aggregated) out.aggregated_error = e.options.aggregated;
  if (!e.options.noCorrelation) out.correlation_id = correlationId;
  return out;
}
