// The validating transport: a fetch-compatible function (what openapi-fetch calls) that checks each request against
// its operation before it is sent and each response after it arrives. JSON bodies are buffered (they are small);
// byte bodies — chunks, downloads — pass through as streams and only their status and media type are checked.
import type { APIRequestContext } from '@playwright/test';
import { Contract } from './contract.js';
import { mediaTypeOf, runRequestChecks, runResponseChecks, type ExchangeInfo } from './checks.js';
import { ContractViolationError, toCurl, type ContractViolation, type ViolationSink } from './violations.js';

export type FetchLike = (input: Request) => Promise<Response>;

export interface TransportOptions {
  /** Where response violations go (the Playwright fixture collects them and fails the test). */
  sink: ViolationSink;
  contract?: Contract;
  /** The HTTP client underneath; global fetch by default, or playwrightFetch(request). */
  fetch?: FetchLike;
  /**
   * 'enforce' (default): a request that breaks the contract is refused before it is sent — the harness must not
   * send malformed requests by accident. 'off': negative tests send deliberately invalid requests.
   */
  requestValidation?: 'enforce' | 'off';
  /** Per-request deadline in ms (default 15 s): the harness never hangs on a target. */
  timeoutMs?: number;
  /** Names the test and step in the X-Conformance-Test header, so an operator can find the exchange in the server log. */
  step?: () => string | undefined;
}

export const TEST_HEADER = 'X-Conformance-Test';

/** Builds the validating fetch. Requests to paths outside /api/v4 (e.g. a storage provider) are passed through. */
export function validatingFetch(options: TransportOptions): (input: Request | string | URL, init?: RequestInit) => Promise<Response> {
  const contract = options.contract ?? Contract.load();
  const send: FetchLike = options.fetch ?? ((r) => fetch(r));
  const timeoutMs = options.timeoutMs ?? 15_000;

  return async (input, init) => {
    let request = input instanceof Request && !init ? input : new Request(input, init);
    const step = options.step?.();
    if (step && !request.headers.has(TEST_HEADER)) {
      const headers = new Headers(request.headers);
      headers.set(TEST_HEADER, step.replace(/[^\x20-\x7e]/g, '?').slice(0, 200));
      request = new Request(request, { headers });
    }
    const url = new URL(request.url);
    const matched = contract.match(request.method, url);
    const contentType = request.headers.get('content-type');
    const isJson = !!mediaTypeOf(contentType)?.endsWith('json');
    const bodyText = isJson && request.body ? await request.clone().text() : undefined;
    const info: ExchangeInfo = {
      curl: toCurl({ method: request.method, url: request.url, headers: request.headers,
        body: bodyText ?? (request.body ? { bytes: Number(request.headers.get('content-length') ?? NaN) } : undefined) }),
      testStep: step,
    };

    if (!matched) {
      if (url.pathname.includes('/api/v4/')) {
        const v: ContractViolation = { check: 'undocumented_operation', side: 'request', operationId: '(none)',
          method: request.method.toLowerCase(), path: url.pathname, pointer: '', expected: 'an operation of the contract',
          actual: `${request.method} ${url.pathname}`, message: 'no operation of the contract matches this request', ...info };
        if ((options.requestValidation ?? 'enforce') === 'enforce') throw new ContractViolationError([v]);
      }
      return send(request);
    }
    const { operation, pathParams } = matched;

    if ((options.requestValidation ?? 'enforce') === 'enforce') {
      let body: unknown;
      if (bodyText !== undefined) {
        try { body = bodyText.length ? JSON.parse(bodyText) : undefined; } catch { body = bodyText; }
      } else if (request.body) body = 'binary';
      const violations = runRequestChecks({ contract, operation, url, pathParams, headers: request.headers, body,
        bodyPresent: !!request.body, contentType, ...info });
      if (violations.length) throw new ContractViolationError(violations);
    }

    const signal = request.signal && !request.signal.aborted
      ? AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    const response = await send(new Request(request, { signal, redirect: 'manual' }));

    const resType = response.headers.get('content-type');
    const resMedia = mediaTypeOf(resType);
    let text: string | undefined;
    let json: unknown;
    let parseError: string | undefined;
    let out = response;
    // Bodies documented or labelled as JSON are buffered; a JSON-looking body under another label is read too, so
    // that a wrong Content-Type on an envelope is reported with its content.
    const documentedJson = documentsJson(operation.object, response.status);
    if (resMedia?.endsWith('json') || (documentedJson && (!resMedia || resMedia.startsWith('text/')))) {
      text = await response.text();
      try { json = JSON.parse(text); } catch (e) { parseError = (e as Error).message; }
      out = new Response(nullBodyStatus(response.status) ? null : text,
        { status: response.status, statusText: response.statusText, headers: response.headers });
    }
    const correlationId = typeof (json as any)?.correlation_id === 'string' ? (json as any).correlation_id : undefined;
    for (const v of runResponseChecks({ contract, operation, status: response.status, contentType: resType, text, json,
      parseError, ...info, correlationId })) options.sink.report(v);
    return out;
  };
}

function nullBodyStatus(status: number): boolean {
  return status === 101 || status === 204 || status === 205 || status === 304;
}

function documentsJson(op: Record<string, any>, status: number): boolean {
  const r = op.responses?.[String(status)] ?? op.responses?.default;
  if (!r) return false;
  if (r.$ref) return true; // shared responses are envelopes
  return Object.keys(r.content ?? {}).some((k) => k.endsWith('json'));
}

/**
 * A fetch over Playwright's APIRequestContext, so the exchange shows in Playwright's traces. It buffers bodies (the
 * request context does), so use it for JSON operations; byte streams go through the default fetch.
 */
export function playwrightFetch(context: APIRequestContext): FetchLike {
  return async (request) => {
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const res = await context.fetch(request.url, {
      method: request.method, headers: Object.fromEntries(request.headers), data: body,
      failOnStatusCode: false, maxRedirects: 0,
    });
    return new Response(nullBodyStatus(res.status()) ? null : await res.body(),
      { status: res.status(), statusText: res.statusText(), headers: res.headers() });
  };
}
