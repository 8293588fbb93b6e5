// Loads the traffic recorded from real Cloudreve servers (fixtures/transcripts/, copied from ../shared/transcripts)
// and replays a recorded exchange through the validating transport with the recorded answer in place of a server.
import { readFileSync, readdirSync } from 'node:fs';
import { validatingFetch } from '../../harness/contract/transport.js';
import { CollectingSink, type ContractViolation } from '../../harness/contract/violations.js';
import type { Contract } from '../../harness/contract/contract.js';

export interface RecordedBody { bytes: number; sha256: string; text?: string }
export interface Exchange {
  file: string;
  version: string;
  scenario: string;
  step: string;
  request: { method: string; path: string; headers: Record<string, string>; body?: unknown };
  response: { status: number; headers: Record<string, string>; body: unknown };
}

const root = new URL('../../fixtures/transcripts/', import.meta.url);
export const SITE = 'http://127.0.0.1:5212';

export function loadExchanges(): Exchange[] {
  const out: Exchange[] = [];
  for (const dir of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const f of readdirSync(new URL(`${dir.name}/`, root)).filter((n) => n.endsWith('.jsonl')).sort()) {
      const lines = readFileSync(new URL(`${dir.name}/${f}`, root), 'utf8').split('\n').filter(Boolean);
      for (const line of lines) {
        const o = JSON.parse(line);
        if (!o.request) continue; // a note, not an exchange
        out.push({ file: `${dir.name}/${f}`, version: dir.name, scenario: o.scenario, step: o.step, request: o.request, response: o.response });
      }
    }
  }
  return out;
}

export function isRecordedBytes(b: unknown): b is RecordedBody {
  return !!b && typeof b === 'object' && 'bytes' in b && 'sha256' in b;
}

export function requestUrl(e: Exchange): string {
  return e.request.path.startsWith('http') ? e.request.path : SITE + e.request.path;
}

/** The recorded answer as a fetch Response (a recorded byte body is replayed as that many bytes, or its text). */
export function recordedResponse(e: Exchange, body: unknown = e.response.body, status = e.response.status,
  headers: Record<string, string> = e.response.headers): Response {
  let payload: RequestInit['body'];
  if (isRecordedBytes(body)) payload = body.text ?? new Uint8Array(body.bytes);
  else payload = typeof body === 'string' ? body : JSON.stringify(body);
  if ([204, 304].includes(status)) payload = null;
  const h = new Headers(headers);
  h.delete('content-length');
  return new Response(payload, { status, headers: h });
}

export function recordedRequest(e: Exchange): Request {
  const headers = new Headers(e.request.headers);
  headers.delete('content-length');
  let body: RequestInit['body'];
  if (e.request.body !== undefined && e.request.body !== null && !['GET', 'HEAD'].includes(e.request.method)) {
    body = isRecordedBytes(e.request.body) ? new Uint8Array(e.request.body.bytes) : JSON.stringify(e.request.body);
  }
  return new Request(requestUrl(e), { method: e.request.method, headers, body });
}

/**
 * Sends the recorded request through the validating transport; the "server" answers with `answer` (by default what
 * was recorded). Returns the response violations and, when request checks are on, the request's.
 */
export async function replay(contract: Contract, e: Exchange, answer: () => Response = () => recordedResponse(e),
  requestValidation: 'enforce' | 'off' = 'off'): Promise<{ violations: ContractViolation[]; requestError?: Error }> {
  const sink = new CollectingSink();
  const send = validatingFetch({ contract, sink, requestValidation, fetch: async () => answer() });
  try {
    const res = await send(recordedRequest(e));
    await res.arrayBuffer();
  } catch (err) {
    return { violations: sink.take(), requestError: err as Error };
  }
  return { violations: sink.take() };
}
