// CT-OSS-KEY-PROXY: the OSS callback-key proxy a real Cloudreve is started behind (tools/oss-key-proxy.ts) serves the
// pinned PUBLIC TEST key (fixtures/oss-callback-key.pem) for absolute-form GETs of http://gosspublic.alicdn.com/…pem —
// what Go's net/http sends to an HTTP_PROXY — and refuses everything else (other hosts, methods, origin-form, CONNECT)
// without forwarding; the OSS world under CONFORMANCE_OSS_PINNED_KEY=1 announces that URL and signs its callbacks with
// the pinned key, and the key the proxy serves verifies them the way Cloudreve 4.18.0 does.
import { test, expect } from '@playwright/test';
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { verifyOssCallbackAsCloudreve } from '../harness/cloud/oss-sign.js';
import {
  openOssWorld, ossWorldOptionsFromEnv, OSS_PINNED_KEY_FILE, OSS_PUBLIC_KEY_URL, pinnedOssCallbackKey,
} from '../harness/upload/worlds/oss.js';
import { isOssKeyRequest, startOssKeyProxy, type OssKeyProxy } from '../tools/oss-key-proxy.js';

interface Answer { status: number; headers: IncomingHttpHeaders; body: string }

/** One request to the proxy, `path` as sent on the request line (absolute-form for a proxied request). */
function viaProxy(proxy: OssKeyProxy, method: string, path: string, host: string, body?: string): Promise<Answer> {
  const { hostname, port } = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port: Number(port), method, path, headers: { host } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A CONNECT (what an https:// URL through the proxy would send): the status line of the answer. */
function connectVia(proxy: OssKeyProxy, authority: string): Promise<string> {
  const { hostname, port } = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => { got += c; });
    s.on('end', () => resolve(got.split('\r\n')[0] ?? ''));
    s.on('error', reject);
  });
}

let proxy: OssKeyProxy;
test.beforeAll(async () => { proxy = await startOssKeyProxy(); });
test.afterAll(async () => { await proxy?.close(); });

test('CT-OSS-KEY-PROXY-001 the pinned key file is a labelled public test key; the proxy serves its public half for gosspublic URLs (absolute-form)', async () => {
  const file = readFileSync(OSS_PINNED_KEY_FILE, 'utf8');
  expect(file.split('\n')[0]).toMatch(/^PUBLIC TEST KEY - NOT A SECRET/);
  const { privateKeyPem, publicKeyPem } = pinnedOssCallbackKey();
  expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  expect(publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
  expect(createPublicKey(publicKeyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
  expect(proxy.publicKeyPem).toBe(publicKeyPem);

  for (const url of [OSS_PUBLIC_KEY_URL, 'http://gosspublic.alicdn.com/callback_pub_key_v2.pem', 'http://gosspublic.alicdn.com:80/a/b.pem']) {
    const a = await viaProxy(proxy, 'GET', url, 'gosspublic.alicdn.com');
    expect(a.status, url).toBe(200);
    expect(a.headers['content-type']).toBe('application/x-pem-file');
    expect(a.body).toBe(publicKeyPem);
  }
  // Go's Transport to an HTTP proxy: the Host header is the target's.
  expect(proxy.requests.filter((r) => r.status === 200).map((r) => r.target)).toContain(OSS_PUBLIC_KEY_URL);
});

test('CT-OSS-KEY-PROXY-002 everything else is refused with 403 and never forwarded: other hosts, methods, paths, origin-form, CONNECT', async () => {
  // A server that would notice a forwarded request.
  let forwarded = 0;
  const elsewhere = createServer((_req, res) => { forwarded++; res.end('forwarded'); });
  await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
  const other = `127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
  try {
    const refused: [string, string, string][] = [
      ['GET', `http://${other}/callback_pub_key_v1.pem`, other],
      ['GET', 'http://example.com/callback_pub_key_v1.pem', 'example.com'],
      ['GET', 'http://gosspublic.alicdn.com.example.com/k.pem', 'gosspublic.alicdn.com.example.com'],
      ['GET', 'http://evil.gosspublic.alicdn.com/k.pem', 'evil.gosspublic.alicdn.com'],
      ['GET', 'http://gosspublic.alicdn.com:8080/k.pem', 'gosspublic.alicdn.com:8080'],
      ['GET', 'http://user@gosspublic.alicdn.com/k.pem', 'gosspublic.alicdn.com'],
      ['GET', 'http://gosspublic.alicdn.com/callback_pub_key_v1.txt', 'gosspublic.alicdn.com'],
      ['GET', 'http://gosspublic.alicdn.com/', 'gosspublic.alicdn.com'],
      ['GET', 'http://gosspublic.alicdn.com/.pem', 'gosspublic.alicdn.com'],
      ['GET', '/callback_pub_key_v1.pem', 'gosspublic.alicdn.com'],
      ['HEAD', OSS_PUBLIC_KEY_URL, 'gosspublic.alicdn.com'],
      ['POST', OSS_PUBLIC_KEY_URL, 'gosspublic.alicdn.com'],
      ['PUT', OSS_PUBLIC_KEY_URL, 'gosspublic.alicdn.com'],
      ['DELETE', OSS_PUBLIC_KEY_URL, 'gosspublic.alicdn.com'],
      ['OPTIONS', OSS_PUBLIC_KEY_URL, 'gosspublic.alicdn.com'],
    ];
    for (const [method, path, host] of refused) {
      const a = await viaProxy(proxy, method, path, host, method === 'POST' || method === 'PUT' ? 'x'.repeat(100) : undefined);
      expect(a.status, `${method} ${path}`).toBe(403);
      expect(a.body, `${method} ${path}`).not.toContain('PUBLIC KEY');
      expect(isOssKeyRequest(method, path), `${method} ${path}`).toBe(false);
    }
    expect(await connectVia(proxy, 'gosspublic.alicdn.com:443')).toBe('HTTP/1.1 403 Forbidden');
    expect(await connectVia(proxy, other)).toBe('HTTP/1.1 403 Forbidden');
    expect(forwarded, 'nothing reached another server').toBe(0);
    expect(proxy.requests.filter((r) => r.target.includes(other)).every((r) => r.status === 403)).toBe(true);
    // The proxy still answers the key afterwards.
    expect((await viaProxy(proxy, 'GET', OSS_PUBLIC_KEY_URL, 'gosspublic.alicdn.com')).status).toBe(200);
  } finally {
    await new Promise<void>((r) => { elsewhere.closeAllConnections(); elsewhere.close(() => r()); });
  }
});

test('CT-OSS-KEY-PROXY-003 CONFORMANCE_OSS_PINNED_KEY switches the world: off by default, 1 = pinned key and gosspublic URL, anything else refused', () => {
  expect(ossWorldOptionsFromEnv({})).toEqual({});
  expect(ossWorldOptionsFromEnv({ CONFORMANCE_OSS_PINNED_KEY: '0' })).toEqual({});
  expect(ossWorldOptionsFromEnv({ CONFORMANCE_OSS_PINNED_KEY: '' })).toEqual({});
  const on = ossWorldOptionsFromEnv({ CONFORMANCE_OSS_PINNED_KEY: '1' });
  expect(on.publicKeyUrl).toBe('http://gosspublic.alicdn.com/callback_pub_key_v1.pem');
  expect(on.callbackPrivateKeyPem).toBe(pinnedOssCallbackKey().privateKeyPem);
  expect(on.pinned).toBe(true);
  expect(() => ossWorldOptionsFromEnv({ CONFORMANCE_OSS_PINNED_KEY: 'yes' })).toThrow(/CONFORMANCE_OSS_PINNED_KEY must be 1/);
});

test('CT-OSS-KEY-PROXY-004 a callback the emulator signs with the pinned key verifies (as Cloudreve 4.18.0 checks it) with the key the proxy serves', async () => {
  // Cloudreve's callback route, standing in: records the callback and answers as a successful completion.
  const received: { path: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const cb = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: new URL(req.url ?? '/', 'http://cb').pathname, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"code":0,"msg":""}');
    });
  });
  await new Promise<void>((r) => cb.listen(0, '127.0.0.1', r));
  const cbUrl = `http://127.0.0.1:${(cb.address() as AddressInfo).port}`;
  const world = await openOssWorld({ targetUrl: cbUrl, runTag: 'key-proxy' }, ossWorldOptionsFromEnv({ CONFORMANCE_OSS_PINNED_KEY: '1' }));
  try {
    expect(world.emulator.publicKeyUrl).toBe(OSS_PUBLIC_KEY_URL);
    expect(world.emulator.publicKeyPem).toBe(proxy.publicKeyPem);
    expect(world.secrets, 'the published test key is not treated as a secret').toHaveLength(1);
    const size = world.chunkSize + 5;
    const data = Buffer.alloc(size, 7);
    const key = 'uploads/1/dir with space/1_abc_ü.bin';
    const s = world.emulator.issueSession({ baseUrl: world.url, bucket: world.bucket, key, size, chunkSize: world.chunkSize,
      callbackUrl: `${cbUrl}/api/v4/callback/oss/sess%20id/secret` });
    for (const [i, url] of s.uploadUrls.entries()) {
      const r = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: data.subarray(i * world.chunkSize, (i + 1) * world.chunkSize) });
      expect(r.status, await r.text()).toBe(200);
    }
    const done = await fetch(s.completeUrl, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-oss-complete-all': 'yes', 'x-oss-forbid-overwrite': 'true' } });
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ code: 0, msg: '' });

    const got = received[0];
    expect(got, 'the callback arrived').toBeDefined();
    const keyUrl = Buffer.from(String(got!.headers['x-oss-pub-key-url']), 'base64').toString('utf8');
    expect(keyUrl).toBe(OSS_PUBLIC_KEY_URL);
    expect(keyUrl.startsWith('http://gosspublic.alicdn.com/'), 'the prefix Cloudreve requires').toBe(true);
    // Fetch the key as Cloudreve does behind HTTP_PROXY: an absolute-form GET of the announced URL to the proxy.
    const fetched = await viaProxy(proxy, 'GET', keyUrl, new URL(keyUrl).host);
    expect(fetched.status).toBe(200);
    const auth = String(got!.headers.authorization);
    expect(verifyOssCallbackAsCloudreve(fetched.body, got!.path, got!.body, auth), 'verifies with the served key').toBe(true);
    // And only with it: another body, another path or another key fail.
    expect(verifyOssCallbackAsCloudreve(fetched.body, got!.path, Buffer.concat([got!.body, Buffer.from(' ')]), auth)).toBe(false);
    expect(verifyOssCallbackAsCloudreve(fetched.body, '/api/v4/callback/oss/other/secret', got!.body, auth)).toBe(false);
    const ownKey = await openOssWorld({ targetUrl: cbUrl, runTag: 'key-proxy-2' });
    try {
      expect(ownKey.emulator.publicKeyPem).not.toBe(fetched.body);
      expect(verifyOssCallbackAsCloudreve(ownKey.emulator.publicKeyPem, got!.path, got!.body, auth)).toBe(false);
    } finally {
      await ownKey.close();
    }
  } finally {
    await world.close();
    await new Promise<void>((r) => { cb.closeAllConnections(); cb.close(() => r()); });
  }
});
