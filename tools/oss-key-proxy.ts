// The OSS callback-key proxy for a real Cloudreve under test. Cloudreve verifies an OSS upload callback with the public
// key it fetches from base64(`x-oss-pub-key-url`), and only from http(s)://gosspublic.alicdn.com/ (4.18.0
// pkg/filemanager/driver/oss/callback.go GetPublicKey; the key is then cached 7 days). Started with
// `HTTP_PROXY=<this proxy>`, Cloudreve sends that fetch here as an absolute-form request
// (`GET http://gosspublic.alicdn.com/callback_pub_key_v1.pem HTTP/1.1`), and this proxy answers it with the PUBLIC half
// of the pinned test key (fixtures/oss-callback-key.pem), the key the OSS world signs with under
// CONFORMANCE_OSS_PINNED_KEY=1 (harness/upload/worlds/oss.ts).
//
// It never forwards anything anywhere: every other request — another host, another method, an origin-form path, a
// CONNECT tunnel (https) — is refused with 403. Go's ProxyFromEnvironment does not proxy 127.0.0.1/localhost, so the
// loopback emulators and the callbacks go direct and never reach it.
//
//   npx tsx tools/oss-key-proxy.ts --port 5390 [--host 127.0.0.1]
//
// Each request is logged on stdout, one line: method, target, status.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pinnedOssCallbackKey } from '../harness/upload/worlds/oss.js';

/** The only host the proxy answers for (Cloudreve's prefix check). */
export const OSS_KEY_HOST = 'gosspublic.alicdn.com';
export const DEFAULT_OSS_KEY_PROXY_PORT = 5390;

export interface OssKeyProxyOptions {
  port?: number;
  host?: string;
  /** The public key PEM served (default: the pinned test key's public half). */
  publicKeyPem?: string;
  /** Called once per request (default: none). */
  log?: (line: string) => void;
}

export interface OssKeyProxyRequest { method: string; target: string; status: number }

export interface OssKeyProxy {
  /** `http://host:port`, the value for HTTP_PROXY. */
  url: string;
  publicKeyPem: string;
  requests: OssKeyProxyRequest[];
  close(): Promise<void>;
}

/** Whether `method target` is a key fetch the proxy answers: absolute-form GET of http://gosspublic.alicdn.com/<…>.pem. */
export function isOssKeyRequest(method: string, target: string): boolean {
  if (method !== 'GET' || !/^http:\/\//i.test(target)) return false;
  let u: URL;
  try { u = new URL(target); } catch { return false; }
  return u.protocol === 'http:' && u.hostname === OSS_KEY_HOST && (u.port === '' || u.port === '80')
    && u.username === '' && u.password === '' && /^\/.+\.pem$/.test(u.pathname);
}

export async function startOssKeyProxy(o: OssKeyProxyOptions = {}): Promise<OssKeyProxy> {
  const publicKeyPem = o.publicKeyPem ?? pinnedOssCallbackKey().publicKeyPem;
  const requests: OssKeyProxyRequest[] = [];
  const note = (method: string, target: string, status: number): void => {
    requests.push({ method, target, status });
    o.log?.(`${new Date().toISOString()} ${method} ${target} -> ${status}`);
  };
  const refuse = 'refused: this proxy only serves the OSS callback test key (GET http://gosspublic.alicdn.com/<name>.pem)\n';
  const server: Server = createServer((req: IncomingMessage, res) => {
    const method = req.method ?? '';
    const target = req.url ?? '';
    // The request body (if any) is not needed; drain it so the answer is not a reset connection.
    req.resume();
    if (isOssKeyRequest(method, target)) {
      note(method, target, 200);
      res.writeHead(200, { 'content-type': 'application/x-pem-file', 'content-length': String(Buffer.byteLength(publicKeyPem)) });
      res.end(publicKeyPem);
      return;
    }
    note(method, target, 403);
    res.writeHead(403, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(refuse)), connection: 'close' });
    res.end(refuse);
  });
  // CONNECT (an https:// URL through the proxy): no tunnel, ever.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    note(req.method ?? 'CONNECT', req.url ?? '', 403);
    socket.on('error', () => undefined);
    socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(refuse)}\r\nconnection: close\r\n\r\n${refuse}`);
  });
  server.requestTimeout = 30_000;
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    publicKeyPem,
    requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function parseArgs(argv: string[]): { port: number; host: string } {
  let port = DEFAULT_OSS_KEY_PROXY_PORT;
  let host = '127.0.0.1';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--port') port = Number(value());
    else if (a === '--host') host = value();
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npx tsx tools/oss-key-proxy.ts [--port 5390] [--host 127.0.0.1]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: not a port: ${port}`);
  return { port, host };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = parseArgs(process.argv.slice(2));
  const proxy = await startOssKeyProxy({ ...args, log: (l) => process.stdout.write(`${l}\n`) });
  process.stdout.write(`oss-key-proxy: ${proxy.url} serves the pinned test key at http://${OSS_KEY_HOST}/<name>.pem, refuses everything else\n`);
  const stop = (): void => { void proxy.close().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
