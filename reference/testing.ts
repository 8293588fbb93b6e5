// A small JSON client for the reference target's own tests (tests/reference-*.spec.ts): every call goes through the
// harness's validating transport into one CollectingSink, so a test can assert that no answer broke the contract.
import { validatingFetch } from '../harness/contract/transport.js';
import { CollectingSink, describeViolation } from '../harness/contract/violations.js';

export type Json = { code: number; msg: string; data?: any; correlation_id?: string; aggregated_error?: any };

export class TestApi {
  readonly sink = new CollectingSink();
  /** Requests are checked against the contract before they are sent. */
  readonly strict = validatingFetch({ sink: this.sink });
  /** For probes that break the contract on purpose (and for byte bodies, whose Content-Length is set on the wire). */
  readonly loose = validatingFetch({ sink: this.sink, requestValidation: 'off' });
  token?: string;
  refreshToken?: string;

  constructor(readonly site: string) {}

  async login(email: string, password: string): Promise<this> {
    const data = await this.ok('POST', '/session/token', { email, password });
    this.token = data.token.access_token;
    this.refreshToken = data.token.refresh_token;
    return this;
  }

  /** A JSON call; `probe` sends it even when it breaks the contract. Throws unless the answer is HTTP 200 JSON. */
  async json(method: string, path: string, body?: unknown, probe = false): Promise<Json> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const res = await (probe ? this.loose : this.strict)(`${this.site}/api/v4${path}`,
      { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status}`);
    return res.json() as Promise<Json>;
  }

  /** The data of a successful call; throws with the envelope otherwise. */
  async ok(method: string, path: string, body?: unknown): Promise<any> {
    const r = await this.json(method, path, body);
    if (r.code !== 0) throw new Error(`${method} ${path}: code ${r.code} "${r.msg}"`);
    return r.data;
  }

  async chunk(sessionId: string, index: number | string, body: Uint8Array | ReadableStream<Uint8Array>,
    headers: Record<string, string> = {}): Promise<Json> {
    const init: RequestInit & { duplex?: string } = { method: 'POST', body,
      headers: { 'content-type': 'application/octet-stream', ...this.auth(), ...headers } };
    if (body instanceof ReadableStream) init.duplex = 'half';
    const res = await this.loose(`${this.site}/api/v4/file/upload/${sessionId}/${index}`, init);
    return res.json() as Promise<Json>;
  }

  /** PUT /file/content with a body. */
  async content(uri: string, body: Uint8Array, previous?: string): Promise<Json> {
    const q = new URLSearchParams({ uri, ...(previous ? { previous } : {}) });
    const res = await this.loose(`${this.site}/api/v4/file/content?${q}`,
      { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream', ...this.auth() } });
    return res.json() as Promise<Json>;
  }

  /** Downloads a file through a URL of POST /file/url. */
  async download(uri: string): Promise<Buffer> {
    const d = await this.ok('POST', '/file/url', { uris: [uri] });
    const res = await this.strict(d.urls[0].url);
    if (res.status !== 200) throw new Error(`download ${uri}: HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }

  /** The violations collected since the last call, described. */
  violations(): string[] {
    return this.sink.take().map(describeViolation);
  }

  private auth(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }
}

export const q = (uri: string) => encodeURIComponent(uri);
