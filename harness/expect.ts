// Assertions on Cloudreve answers through the error-code catalog: specs never compare `code` with a literal number.
import { expect } from '@playwright/test';
import { Code, codeName } from '../contracts/generated/error-codes.js';

type Envelope = { code: number; msg?: string; data?: unknown; correlation_id?: string };
type Result = { data?: unknown; error?: unknown; response: Response };

function envelopeOf(res: Result | Envelope): { body: Envelope | undefined; status?: number } {
  if ('response' in res) return { body: (res.data ?? res.error) as Envelope | undefined, status: res.response.status };
  return { body: res };
}

function describe(body: Envelope | undefined, status?: number): string {
  if (!body) return `no envelope${status !== undefined ? ` (HTTP ${status})` : ''}`;
  return `code ${body.code} (${codeName[body.code] ?? 'not in the catalog'})${body.msg ? ` "${body.msg}"` : ''}` +
    `${status !== undefined ? `, HTTP ${status}` : ''}${body.correlation_id ? `, correlation_id ${body.correlation_id}` : ''}`;
}

/** Asserts the answer carries `expected` (a catalog value, e.g. Code.UploadSessionExpired), optionally with an HTTP status. */
export function expectCode(res: Result | Envelope, expected: number, options: { status?: number; message?: string } = {}): void {
  const { body, status } = envelopeOf(res);
  const name = codeName[expected];
  if (!name) throw new Error(`expectCode: ${expected} is not in the error-code catalog; use Code.<Name>`);
  expect(body?.code, `${options.message ? `${options.message}: ` : ''}expected code ${expected} (${name}), got ${describe(body, status)}`)
    .toBe(expected);
  if (options.status !== undefined) expect(status, `HTTP status with ${name}`).toBe(options.status);
}

/** Asserts success (code 0) and returns the answer's `data`. */
export function expectSuccess<T extends Result>(res: T, message?: string):
  T extends { data?: infer E } ? (Extract<E, { code: 0 }> extends { data: infer D } ? D : undefined) : never {
  const { body, status } = envelopeOf(res);
  expect(body?.code, `${message ? `${message}: ` : ''}expected success, got ${describe(body, status)}`).toBe(Code.Success);
  return body?.data as any;
}

/** Asserts one of several allowed codes (for races judged against a set of outcomes). */
export function expectOneOfCodes(res: Result | Envelope, allowed: number[], message?: string): number {
  const { body, status } = envelopeOf(res);
  const names = allowed.map((c) => `${c} (${codeName[c] ?? '?'})`).join(', ');
  expect(allowed, `${message ? `${message}: ` : ''}expected one of ${names}, got ${describe(body, status)}`).toContain(body?.code);
  return body!.code;
}

/** Asserts an answer does not carry a secret the caller did not send (an error that echoes the right callback secret). */
export function expectNoSecretEcho(res: Result | Envelope, secret: string, what: string): void {
  const { body } = envelopeOf(res);
  expect(JSON.stringify(body ?? '').includes(secret), `${what}: the answer must not contain the secret`).toBe(false);
}
