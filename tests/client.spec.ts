// CT-CLI: the typed client signs in, adds its token, refreshes it before it expires, signs out and registers —
// against a real HTTP server on loopback that answers as the recorded Cloudreve 4.18.0 did.
import { test, expect } from '@playwright/test';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Contract } from '../harness/contract/contract.js';
import { validatingFetch } from '../harness/contract/transport.js';
import { CollectingSink } from '../harness/contract/violations.js';
import { AuthSession, CloudreveError, createCloudreveClient, register, unwrap } from '../harness/client/index.js';
import { Code } from '../contracts/generated/error-codes.js';
import { loadExchanges } from './support/transcripts.js';

const recorded = loadExchanges().filter((e) => e.file === 'cloudreve-4.18.0/setup.jsonl');
const loginAnswer = recorded.find((e) => e.step === 'login A')!.response.body as any;
const registerAnswer = recorded.find((e) => e.step.startsWith('register A'))!.response.body as any;

interface Seen { method: string; path: string; auth?: string; body: any }

async function withServer(accessTtlMs: number, fn: (site: string, seen: Seen[]) => Promise<void>) {
  const seen: Seen[] = [];
  let n = 0;
  const token = () => {
    n++;
    return { access_token: `access-${n}-xxxxxxxx`, refresh_token: `refresh-${n}-xxxxxxxx`,
      access_expires: new Date(Date.now() + accessTtlMs).toISOString(), refresh_expires: new Date(Date.now() + 86400e3).toISOString() };
  };
  const json = (res: any, body: unknown) => { res.setHeader('content-type', 'application/json; charset=utf-8'); res.end(JSON.stringify(body)); };
  const read = async (req: IncomingMessage) => { let s = ''; for await (const c of req) s += c; return s ? JSON.parse(s) : undefined; };
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    seen.push({ method: req.method!, path: req.url!, auth: req.headers.authorization, body });
    if (req.url === '/api/v4/session/token' && req.method === 'POST') {
      if (body.password !== 'right-password') return json(res, { code: Code.InvalidPassword, msg: 'Incorrect password or email address', correlation_id: '5b0f4ad8-8a2b-4a8e-9d0f-2d6f3e1c9a10' });
      return json(res, { ...loginAnswer, data: { ...loginAnswer.data, token: token() } });
    }
    if (req.url === '/api/v4/session/token/refresh') return json(res, { code: 0, data: token(), msg: '' });
    if (req.url === '/api/v4/session/token' && req.method === 'DELETE') return json(res, { code: 0, data: '', msg: '' });
    if (req.url === '/api/v4/user/capacity') return json(res, { code: 0, data: { total: 1073741824, used: 0 }, msg: '' });
    if (req.url === '/api/v4/user') return json(res, registerAnswer);
    res.statusCode = 404; res.end('404 page not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try { await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen); }
  finally { server.close(); }
}

function client(site: string, sink: CollectingSink) {
  return createCloudreveClient({ siteUrl: site, fetch: validatingFetch({ contract: Contract.load(), sink }) });
}

test('CT-CLI-001 login, authenticated call, logout', async () => {
  await withServer(3600e3, async (site, seen) => {
    const sink = new CollectingSink();
    const session = new AuthSession(client(site, sink), { email: 'a@conformance.test', password: 'right-password' });
    const login = await session.login();
    expect(login.user.email).toBe(loginAnswer.data.user.email);
    const cap = unwrap(await session.client.GET('/user/capacity'), 'capacity');
    expect(cap.total).toBe(1073741824);
    expect(seen.at(-1)!.auth).toBe('Bearer access-1-xxxxxxxx');
    await session.logout();
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', path: '/api/v4/session/token', body: { refresh_token: 'refresh-1-xxxxxxxx' } });
    expect(sink.violations).toEqual([]);
  });
});

test('CT-CLI-002 the access token is refreshed before it expires', async () => {
  await withServer(30e3, async (site, seen) => {
    const sink = new CollectingSink();
    const session = new AuthSession(client(site, sink), { email: 'a@conformance.test', password: 'right-password' });
    await session.login();
    await session.client.GET('/user/capacity');
    expect(seen.map((s) => s.path)).toEqual(['/api/v4/session/token', '/api/v4/session/token/refresh', '/api/v4/user/capacity']);
    expect(seen[1]!.body).toEqual({ refresh_token: 'refresh-1-xxxxxxxx' });
    expect(seen[2]!.auth).toBe('Bearer access-2-xxxxxxxx');
    expect(sink.violations).toEqual([]);
  });
});

test('CT-CLI-003 a wrong password is a CloudreveError naming the code from the catalog', async () => {
  await withServer(3600e3, async (site) => {
    const session = new AuthSession(client(site, new CollectingSink()), { email: 'a@conformance.test', password: 'wrong-password' });
    const err = await session.login().catch((e: unknown) => e) as CloudreveError;
    expect(err).toBeInstanceOf(CloudreveError);
    expect(err.code).toBe(Code.InvalidPassword);
    expect(err.message).toContain('InvalidPassword');
    expect(err.message).not.toContain('wrong-password');
  });
});

test('CT-CLI-004 register sends the account and returns the user', async () => {
  await withServer(3600e3, async (site, seen) => {
    const sink = new CollectingSink();
    const user = await register(client(site, sink), { email: 'first@conformance.test', password: 'first-password' });
    expect(user.id).toBe(registerAnswer.data.id);
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/api/v4/user', body: { email: 'first@conformance.test', password: 'first-password' } });
    expect(sink.violations).toEqual([]);
  });
});
