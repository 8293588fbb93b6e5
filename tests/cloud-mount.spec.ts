// CT-MNT: the two emulator mounts hand request bodies to the emulator byte-exact — the nock mount included, although
// nock 14 turns every body into a UTF-8-or-hex string (and JSON bodies into objects) before a reply function sees it —
// stream response bodies, and remove only their own interceptors.
import { test, expect } from '@playwright/test';
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { decodeNockBody, mountLoopback, mountNock, nockBodyCapture, readBody, type EmulatorRequest, type EmulatorResponse,
  type ProviderEmulator } from '../harness/cloud/mount.js';

/** Echoes what it received: method, URL, headers, body length and sha256, and the first bytes in hex. */
class EchoEmulator implements ProviderEmulator {
  readonly provider = 'echo';
  seen: { method: string; url: string; headers: Record<string, string>; body: Buffer }[] = [];
  async handle(req: EmulatorRequest): Promise<EmulatorResponse> {
    const body = await readBody(req.body);
    this.seen.push({ method: req.method, url: req.url.toString(), headers: req.headers, body });
    if (req.url.pathname === '/stream') {
      return { status: 200, headers: { 'content-type': 'application/octet-stream' },
        stream: (async function* () { yield Buffer.from([0xff, 0xfe]); yield Buffer.from([0x00, 0x80]); })() };
    }
    const out = JSON.stringify({ method: req.method, length: body.length, sha256: createHash('sha256').update(body).digest('hex'),
      host: req.headers.host, cl: req.headers['content-length'] ?? null });
    return { status: 200, headers: { 'content-type': 'application/json', 'x-echo': '1' }, body: out };
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** Every byte value, plus sequences that are not valid UTF-8. */
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1])]);

function nodeRequest(url: string, method: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  const u = new URL(url);
  // Through the modules' objects (as the SDKs call them), which is what nock's interceptor patches.
  const fn = u.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = fn(u, { method, headers: { 'content-length': String(body.length), ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('CT-MNT-001 decodeNockBody: nock\'s UTF-8-or-hex string back to bytes', () => {
  expect(decodeNockBody('hello').toString()).toBe('hello');
  expect(decodeNockBody('')).toEqual(Buffer.alloc(0));
  // Binary (not UTF-8 representable) arrives as hex.
  expect(decodeNockBody(BINARY.toString('hex'))).toEqual(BINARY);
  expect(decodeNockBody('ff00fe')).toEqual(Buffer.from([0xff, 0x00, 0xfe]));
  // "00" decodes to a UTF-8-representable buffer, so nock would have passed it as UTF-8: it is text.
  expect(decodeNockBody('00').toString()).toBe('00');
  // The ambiguous case: text "abcd" vs bytes AB CD. The length settles it when known.
  expect(decodeNockBody('abcd', 4).toString()).toBe('abcd');
  expect(decodeNockBody('abcd', 2)).toEqual(Buffer.from([0xab, 0xcd]));
  expect(decodeNockBody('abcd')).toEqual(Buffer.from([0xab, 0xcd]));
});

test('CT-MNT-002 the nock mount captures raw request bytes (nock 14 internals as expected)', () => {
  expect(nockBodyCapture()).toBe('exact');
});

test('CT-MNT-003 nock mount: binary, hex-looking text, JSON and empty bodies reach the emulator byte-exact (fetch and node:http)', async () => {
  const emu = new EchoEmulator();
  const unmount = mountNock(emu, ['https://bucket.s3.us-east-1.amazonaws.com']);
  try {
    const base = 'https://bucket.s3.us-east-1.amazonaws.com';
    const cases: [string, Buffer, Record<string, string>][] = [
      ['binary', BINARY, { 'content-type': 'application/octet-stream' }],
      ['hex-looking text', Buffer.from('abcd'), { 'content-type': 'text/plain' }],
      ['json with spacing', Buffer.from('{ "a" :  1,\n "b": "\\u00e9" }'), { 'content-type': 'application/json' }],
      ['utf8 text', Buffer.from('héllo wörld'), { 'content-type': 'text/plain; charset=utf-8' }],
    ];
    for (const [name, body, headers] of cases) {
      const r = await fetch(`${base}/obj/${encodeURIComponent(name)}?partNumber=1`, { method: 'PUT', body, headers });
      const j = await r.json() as { length: number; sha256: string; host: string; cl: string | null };
      expect(r.headers.get('x-echo'), name).toBe('1');
      expect(j, name).toMatchObject({ length: body.length, sha256: sha(body), host: 'bucket.s3.us-east-1.amazonaws.com', cl: String(body.length) });
      const n = await nodeRequest(`${base}/node/${encodeURIComponent(name)}`, 'POST', body, headers);
      expect(JSON.parse(n.body.toString()), `node:http ${name}`).toMatchObject({ length: body.length, sha256: sha(body) });
    }
    const empty = await fetch(`${base}/empty`, { method: 'PUT', body: Buffer.alloc(0) });
    expect(await empty.json()).toMatchObject({ length: 0, cl: '0' });
    const get = await fetch(`${base}/k?x=a%20b&y=%2B`);
    expect(await get.json()).toMatchObject({ method: 'GET', length: 0, cl: null });
    expect(emu.seen.at(-1)!.url).toBe(`${base}/k?x=a%20b&y=%2B`);
    const s = await fetch(`${base}/stream`);
    expect(Buffer.from(await s.arrayBuffer())).toEqual(Buffer.from([0xff, 0xfe, 0x00, 0x80]));
    const head = await fetch(`${base}/obj`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  } finally {
    unmount();
  }
});

test('CT-MNT-006 nock mount, fallback path (nock\'s string decoded): exact whenever the request has a Content-Length', async () => {
  const emu = new EchoEmulator();
  const unmount = mountNock(emu, ['https://fallback.example.com'], { bodyCapture: 'decoded' });
  try {
    for (const body of [BINARY, Buffer.from('abcd'), Buffer.from('{ "a" :  1 }'), Buffer.from('héllo')]) {
      const headers = { 'content-type': body[0] === 0x7b ? 'application/json' : 'application/octet-stream' };
      const n = await nodeRequest('https://fallback.example.com/x', 'PUT', body, headers);
      expect(JSON.parse(n.body.toString())).toMatchObject({ length: body.length, sha256: sha(body) });
    }
  } finally {
    unmount();
  }
});

test('CT-MNT-007 nock mount: a binary body labelled application/json (esdk-obs-nodejs does that) reaches the emulator instead of crashing nock\'s JSON.parse', async () => {
  const emu = new EchoEmulator();
  const unmount = mountNock(emu, ['https://json.example.com']);
  try {
    for (const body of [BINARY, Buffer.from('{not json'), Buffer.from('{"ok":true}')]) {
      const r = await fetch('https://json.example.com/part', { method: 'PUT', body, headers: { 'content-type': 'application/json' } });
      expect(await r.json()).toMatchObject({ length: body.length, sha256: sha(body) });
      const n = await nodeRequest('https://json.example.com/part', 'PUT', body, { 'content-type': 'application/json; charset=utf-8' });
      expect(JSON.parse(n.body.toString())).toMatchObject({ length: body.length, sha256: sha(body) });
    }
  } finally {
    unmount();
  }
});

test('CT-MNT-004 nock mount: RegExp origins, and unmounting removes only that mount\'s interceptors', async () => {
  const a = new EchoEmulator();
  const b = new EchoEmulator();
  const unA = mountNock(a, [/^https:\/\/[a-z0-9-]+\.obs\.cn-north-4\.myhuaweicloud\.com(:443)?$/]);
  const unB = mountNock(b, ['https://other.example.com']);
  try {
    const r = await fetch('https://bkt.obs.cn-north-4.myhuaweicloud.com/key', { method: 'PUT', body: BINARY });
    expect(await r.json()).toMatchObject({ length: BINARY.length, sha256: sha(BINARY), host: 'bkt.obs.cn-north-4.myhuaweicloud.com' });
    expect(a.seen[0]!.url).toBe('https://bkt.obs.cn-north-4.myhuaweicloud.com/key');
    unA();
    const still = await fetch('https://other.example.com/x', { method: 'PUT', body: 'x' });
    expect(still.status).toBe(200);
    expect(b.seen).toHaveLength(1);
    await expect(fetch('https://bkt.obs.cn-north-4.myhuaweicloud.com/key')).rejects.toThrow();
  } finally {
    unA();
    unB();
  }
});

test('CT-MNT-005 loopback mount: binary bodies both ways, HEAD without a body, streamed answers', async () => {
  const emu = new EchoEmulator();
  const m = await mountLoopback(emu);
  try {
    const r = await fetch(`${m.url}/b/k`, { method: 'PUT', body: BINARY });
    expect(await r.json()).toMatchObject({ length: BINARY.length, sha256: sha(BINARY), cl: String(BINARY.length) });
    const s = await fetch(`${m.url}/stream`);
    expect(Buffer.from(await s.arrayBuffer())).toEqual(Buffer.from([0xff, 0xfe, 0x00, 0x80]));
    const h = await fetch(`${m.url}/b/k`, { method: 'HEAD' });
    expect(h.status).toBe(200);
    expect(await h.text()).toBe('');
  } finally {
    await m.close();
  }
});
