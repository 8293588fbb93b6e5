// CT-CLOUD-OD: the OneDrive / Graph emulator speaks the upload-session protocol: createUploadSession (Bearer), byte
// ranges with Content-Range through to a driveItem, Graph's error JSON for overlaps, gaps and bad fragments, the
// status GET, cancel and expiry, and the item metadata Cloudreve's completion callback reads.
import { test, expect } from '@playwright/test';
import { mountLoopback, mountNock, type LoopbackMount } from '../harness/cloud/mount.js';
import { FRAGMENT_UNIT, OneDriveEmulator } from '../harness/cloud/onedrive.js';

const TOKEN = 'graph-test-token';

function payload(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + seed * 3 + (i >> 9)) & 0xff;
  return b;
}

async function setup(opts: ConstructorParameters<typeof OneDriveEmulator>[0] = {}): Promise<{ emu: OneDriveEmulator; mount: LoopbackMount; graph: string }> {
  const emu = new OneDriveEmulator({ accessToken: TOKEN, ...opts });
  const mount = await mountLoopback(emu);
  return { emu, mount, graph: `${mount.url}/v1.0/me/drive` };
}

/** What Cloudreve's `CreateUploadSession` sends (`api.go`). */
async function createSession(graph: string, path: string, behavior = 'fail'): Promise<Response> {
  return fetch(`${graph}/root:/${path.split('/').map(encodeURIComponent).join('/')}:/createUploadSession`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ item: { '@microsoft.graph.conflictBehavior': behavior } }),
  });
}

/** A chunk PUT as the web client sends it. */
function putRange(uploadUrl: string, data: Buffer, start: number, end: number, total = data.length, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(uploadUrl, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-range': `bytes ${start}-${end}/${total}`, ...extra },
    body: data.subarray(start, end + 1) });
}

test('CT-CLOUD-OD-001 a Content-Range session runs to completion: 202 + nextExpectedRanges, then 201 driveItem; metadata answers the size check', async () => {
  const { emu, mount, graph } = await setup();
  try {
    const path = 'Cloudreve/7/docs/报告 final.bin';
    const created = await createSession(graph, path);
    expect(created.status).toBe(200);
    const session = await created.json() as { uploadUrl: string; expirationDateTime: string; nextExpectedRanges: string[] };
    expect(session.nextExpectedRanges).toEqual(['0-']);
    expect(Date.parse(session.expirationDateTime)).toBeGreaterThan(Date.now());
    const chunk = 2 * FRAGMENT_UNIT;
    const data = payload(2 * chunk + 1234);
    let res = await putRange(session.uploadUrl, data, 0, chunk - 1);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ nextExpectedRanges: [`${chunk}-`] });
    res = await fetch(session.uploadUrl);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ nextExpectedRanges: [`${chunk}-`] });
    res = await putRange(session.uploadUrl, data, chunk, 2 * chunk - 1);
    expect(res.status).toBe(202);
    res = await putRange(session.uploadUrl, data, 2 * chunk, data.length - 1);
    expect(res.status).toBe(201);
    const item = await res.json() as { id: string; name: string; size: number; file: { mimeType: string } };
    expect(item).toMatchObject({ name: '报告 final.bin', size: data.length });
    expect(Buffer.compare(emu.item(path)?.body ?? Buffer.alloc(0), data)).toBe(0);
    // Completed sessions are gone (Graph: itemNotFound).
    res = await putRange(session.uploadUrl, data, 2 * chunk, data.length - 1);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'itemNotFound' } });
    // Cloudreve's CompleteUpload reads the item by path (?expand=thumbnails) and compares `size`.
    const meta = await fetch(`${graph}/root:/${path.split('/').map(encodeURIComponent).join('/')}?expand=thumbnails`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(meta.status).toBe(200);
    expect(await meta.json()).toMatchObject({ id: item.id, size: data.length, parentReference: { path: '/drive/root:/Cloudreve/7/docs' } });
    const byId = await fetch(`${graph}/items/${encodeURIComponent(item.id)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect((await byId.json() as { size: number }).size).toBe(data.length);
  } finally {
    await mount.close();
  }
});

test('CT-CLOUD-OD-002 out-of-order and overlapping ranges → 416 invalidRange (fragmentOutOfOrder / fragmentOverlap); the client realigns from the status', async () => {
  const { mount, graph } = await setup();
  try {
    const session = await (await createSession(graph, 'a.bin')).json() as { uploadUrl: string };
    const data = payload(3 * FRAGMENT_UNIT);
    let res = await putRange(session.uploadUrl, data, FRAGMENT_UNIT, 2 * FRAGMENT_UNIT - 1);
    expect(res.status).toBe(416);
    expect(await res.json()).toEqual({ error: { code: 'invalidRange', message: 'The fragment does not start at the next expected byte.', innererror: { code: 'fragmentOutOfOrder' } } });
    expect((await putRange(session.uploadUrl, data, 0, FRAGMENT_UNIT - 1)).status).toBe(202);
    res = await putRange(session.uploadUrl, data, 0, FRAGMENT_UNIT - 1);
    expect(res.status).toBe(416);
    expect(await res.json()).toEqual({ error: { code: 'invalidRange', message: 'Uploaded fragment overlaps with existing data.', innererror: { code: 'fragmentOverlap' } } });
    // SDK recovery: GET the status, continue from nextExpectedRanges[0].
    const status = await (await fetch(session.uploadUrl)).json() as { nextExpectedRanges: string[] };
    const next = Number((status.nextExpectedRanges[0] ?? '').split('-')[0]);
    expect(next).toBe(FRAGMENT_UNIT);
    expect((await putRange(session.uploadUrl, data, next, data.length - 1)).status).toBe(201);
  } finally {
    await mount.close();
  }
});

test('CT-CLOUD-OD-003 fragment rules: 320 KiB multiples, Content-Length, constant total, no Authorization on the upload URL', async () => {
  const { emu, mount, graph } = await setup();
  try {
    const session = await (await createSession(graph, 'rules.bin')).json() as { uploadUrl: string };
    const data = payload(FRAGMENT_UNIT + 1000);
    let res = await putRange(session.uploadUrl, data, 0, 99_999);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalidRequest', innererror: { code: 'invalidFragmentLength' } } });
    res = await fetch(session.uploadUrl, { method: 'PUT', headers: { 'content-range': 'bytes 0-9/100' }, body: Buffer.alloc(5) });
    expect(await res.json()).toMatchObject({ error: { code: 'invalidRequest', innererror: { code: 'fragmentLengthMismatch' } } });
    res = await fetch(session.uploadUrl, { method: 'PUT', headers: { 'content-range': 'bytes=0-9' }, body: Buffer.alloc(10) });
    expect(res.status).toBe(400);
    res = await putRange(session.uploadUrl, data, 0, FRAGMENT_UNIT - 1, data.length, { authorization: `Bearer ${TOKEN}` });
    expect(res.status).toBe(401);
    expect((await putRange(session.uploadUrl, data, 0, FRAGMENT_UNIT - 1)).status).toBe(202);
    res = await putRange(session.uploadUrl, data, FRAGMENT_UNIT, data.length - 1, data.length + 1);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { innererror: { code: 'fragmentLengthMismatch' } } });
    // The switch for harness runs with a small chunk size.
    emu.enforceFragmentMultiple = false;
    const s2 = await (await createSession(graph, 'small.bin')).json() as { uploadUrl: string };
    const five = Buffer.from('hello');
    expect((await putRange(s2.uploadUrl, five, 0, 1)).status).toBe(202);
    expect((await putRange(s2.uploadUrl, five, 2, 3)).status).toBe(202);
    expect((await putRange(s2.uploadUrl, five, 4, 4)).status).toBe(201);
    expect(emu.item('small.bin')?.body.toString()).toBe('hello');
  } finally {
    await mount.close();
  }
});

test('CT-CLOUD-OD-004 cancel (DELETE → 204) and expiry end a session with 404 itemNotFound; Graph wants its Bearer token; conflictBehavior fail → 409', async () => {
  let clock = Date.now();
  const { emu, mount, graph } = await setup({ now: () => clock, sessionTtlMs: 60_000 });
  try {
    const s1 = await (await createSession(graph, 'c.bin')).json() as { uploadUrl: string };
    const del = await fetch(s1.uploadUrl, { method: 'DELETE' });
    expect(del.status).toBe(204);
    const after = await putRange(s1.uploadUrl, payload(10), 0, 9);
    expect(after.status).toBe(404);
    expect(await after.json()).toEqual({ error: { code: 'itemNotFound', message: 'The upload session was not found.', innererror: { code: 'uploadSessionNotFound' } } });
    const s2 = await (await createSession(graph, 'd.bin')).json() as { uploadUrl: string };
    clock += 61_000;
    expect((await fetch(s2.uploadUrl)).status).toBe(404);
    clock -= 61_000;
    const noAuth = await fetch(`${graph}/root:/x.bin:/createUploadSession`, { method: 'POST', body: '{}' });
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toMatchObject({ error: { code: 'InvalidAuthenticationToken' } });
    emu.putItem('exists.bin', 'old');
    const conflict = await createSession(graph, 'exists.bin', 'fail');
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ error: { code: 'nameAlreadyExists' } });
    // Cloudreve's cancel writes an empty placeholder with conflictBehavior=replace.
    const placeholder = await fetch(`${graph}/root:/exists.bin:/content?@microsoft.graph.conflictBehavior=replace`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: Buffer.alloc(0) });
    expect(placeholder.status).toBe(200);
    expect(emu.item('exists.bin')?.body.length).toBe(0);
    const token = await fetch(`${mount.url}/common/oauth2/v2.0/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: emu.refreshToken, client_id: 'x' }) });
    expect(await token.json()).toMatchObject({ token_type: 'Bearer', access_token: TOKEN });
  } finally {
    await mount.close();
  }
});

test('CT-CLOUD-OD-005 in-process through nock on graph.microsoft.com: session, ranges, driveItem', async () => {
  const emu = new OneDriveEmulator({ accessToken: TOKEN });
  const unmount = mountNock(emu, ['https://graph.microsoft.com']);
  try {
    const created = await createSession('https://graph.microsoft.com/v1.0/me/drive', 'nock.bin');
    const { uploadUrl } = await created.json() as { uploadUrl: string };
    expect(uploadUrl).toMatch(/^https:\/\/graph\.microsoft\.com\/up\//);
    const data = payload(FRAGMENT_UNIT + 100, 5);
    expect((await putRange(uploadUrl, data, 0, FRAGMENT_UNIT - 1)).status).toBe(202);
    expect((await putRange(uploadUrl, data, FRAGMENT_UNIT, data.length - 1)).status).toBe(201);
    expect(Buffer.compare(emu.item('nock.bin')?.body ?? Buffer.alloc(0), data)).toBe(0);
  } finally {
    unmount();
  }
});
