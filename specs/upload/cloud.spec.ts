// UPL-CLOUD / UPL-RELAY: the flows of the cloud storage policies, each against its provider's emulator (the harness runs
// it on loopback and points the policy at it, see harness/upload/worlds). Provider flows (s3, ks3, oss, cos, obs,
// onedrive, qiniu, upyun): the session's provider URLs, parts crossing part boundaries read back byte for byte, parts
// alone completing nothing, the finish the policy's client performs (complete + callback, or the provider's own
// callback), the callback's checks (before completion, wrong key, twice, another type's route, after expiry), the
// size check, and a cancel aborting the provider's upload. Relay (an S3 policy with relay on): the whole file as chunk
// 0 to the master, which stores it at the provider. Sources: research/cloudreve-upload-semantics.md §4.7, §6, §7 and
// the recorded 4.18.0 S3 and relay traffic.
import { PROFILES, type CapabilityProfile } from '../../harness/upload/profiles.js';
import type { CloudUploadDriver } from '../../harness/upload/cloud-drivers.js';
import { expectNoSecretEcho } from '../../harness/expect.js';
import {
  Code, POLICY_TYPES, Payload, cancel, describeStep, expect, expectChunkCode, expectChunkOk,
  expectChunkOneOf, expectCode, expectContent, expectFinished, expectGone, expectPlaceholder, finish,
  isCloudDriver, openUpload, planChunks, req, seedFor, send, sendAll, sendBody, test, uploadAll, used, waitPast,
  type Upload, type UploadDriver, type UploadSession, withTtl,
} from './support.js';

type Transport = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;
interface Answer { status: number; body: { code?: number; msg?: string; error?: string } | undefined }

const METHOD: Record<string, 'GET' | 'POST'> = { s3: 'GET', ks3: 'GET', cos: 'GET' };

/** A body of the shape each provider's callback carries (what an impostor without the provider's signature sends). */
function impostorBody(type: string, size: number): { body?: string; type?: string } {
  if (type === 'upyun') return { body: `code=200&message=ok&url=%2Fx&time=${Math.floor(Date.now() / 1000)}`, type: 'application/x-www-form-urlencoded' };
  if (type === 'oss') return { body: JSON.stringify({ name: 'x', source_name: 'x', size, pic_info: ',' }), type: 'application/json' };
  if (type === 'qiniu') return { body: JSON.stringify({ size, pic_info: ',' }), type: 'application/json' };
  if (type === 'obs') return { body: JSON.stringify({ name: 'x', source_name: 'x', size }), type: 'application/json' };
  return {};
}

/**
 * Calls `/callback/<type>/<sid>/<key>` the way the type's caller does (GET for s3/ks3/cos, else POST), without any
 * provider signature; the answer is still validated against the contract by the transport.
 */
async function callback(transport: Transport, targetUrl: string, type: string, session: UploadSession, key: string,
  size = 0): Promise<Answer> {
  const method = METHOD[type] ?? 'POST';
  const { body, type: contentType } = method === 'POST' ? impostorBody(type, size) : {};
  const url = `${targetUrl.replace(/\/+$/, '')}/api/v4/callback/${type}/${session.session_id}/${encodeURIComponent(key)}`;
  const headers: Record<string, string> = contentType ? { 'Content-Type': contentType } : {};
  const res = await transport(url, { method, headers, body });
  const text = await res.text();
  let parsed: Answer['body'];
  try { parsed = JSON.parse(text) as Answer['body']; } catch { parsed = undefined; }
  return { status: res.status, body: parsed };
}

function describeAnswer(a: Answer): string {
  return `HTTP ${a.status}, ${a.body?.code !== undefined ? `code ${a.body.code}${a.body.msg ? ` "${a.body.msg}"` : ''}`
    : a.body?.error !== undefined ? `error "${a.body.error}"` : 'no JSON body'}`;
}

/** The upload's payload with `delta` bytes fewer than the session declared, planned by the session's chunk size. */
function shorter(up: Upload, delta: number): Upload {
  const payload = new Payload(up.payload.seed, up.payload.size - delta);
  return { ...up, payload, chunks: planChunks(payload.size, up.session.chunk_size) };
}

/** A part URL with its signature changed, or the session with its provider credential changed. */
function tampered(session: UploadSession): UploadSession | undefined {
  const flip = (s: string) => (s.at(-1) === 'A' ? `${s.slice(0, -1)}B` : `${s.slice(0, -1)}A`);
  const urls = session.upload_urls ?? [];
  if (session.storage_policy?.type === 'qiniu' || session.storage_policy?.type === 'upyun') {
    return session.credential ? { ...session, credential: flip(session.credential) } : undefined;
  }
  let changed = false;
  const signed = urls.map((u) => {
    const url = new URL(u);
    for (const [name, value] of [...url.searchParams]) {
      if (/signature/i.test(name) && value) { url.searchParams.set(name, flip(value)); changed = true; }
    }
    return url.toString();
  });
  return changed ? { ...session, upload_urls: signed } : undefined;
}


function cloud(driver: UploadDriver): CloudUploadDriver {
  if (!isCloudDriver(driver)) throw new Error(`${driver.flow} is not a cloud flow`);
  return driver;
}

/** Sizes that cross the part boundaries of part size C (single-request flows: a few sizes). */
function sizesFor(profile: CapabilityProfile): [string, (c: number) => number][] {
  if (profile.singleChunk) return [['1', () => 1], ['1000', () => 1000], ['70001', () => 70_001]];
  return [['1', () => 1], ['C-1', (c) => c - 1], ['C', (c) => c], ['C+1', (c) => c + 1], ['2C+1', (c) => 2 * c + 1]];
}

const CLOUD_POLICIES = POLICY_TYPES.filter((p) => PROFILES[p].providerWorld !== 'none');

for (const policy of CLOUD_POLICIES) {
  const declared = PROFILES[policy];
  test.describe(`${policy} @policy:${policy}`, () => {
    if (declared.chunkEndpoint === 'provider') providerFlow(declared);
    else relayFlow();
  });
}

function providerFlow(declared: CapabilityProfile): void {
  test('UPL-CLOUD-001 the session carries upload URLs on the provider (one per part where the policy presigns parts)', req('UPL-CLOUD-001'),
    async ({ uploader, profile, provider, env, folder, opened }, testInfo) => {
      const size = profile.singleChunk ? 2500 : 2 * env.chunkSize + 1;
      const up = await openUpload(uploader, opened, `${folder}/urls.bin`, size, seedFor(testInfo.title));
      const urls = up.session.upload_urls ?? [];
      expect(urls.length, `${profile.uploadUrls} upload URLs`).toBe(profile.uploadUrls === 'per-part' ? up.chunks.length : 1);
      const origin = new URL(provider.url).origin;
      for (const u of urls) expect(new URL(u).origin, 'upload URLs address the provider').toBe(origin);
      if (profile.uploadUrls === 'per-part') {
        expect(up.session.completeURL, 'completeURL').toBeTruthy();
        expect(new URL(up.session.completeURL!).origin, 'completeURL addresses the provider').toBe(origin);
        expect(up.session.upload_id, 'upload_id names the provider\'s multipart upload').toBeTruthy();
      }
      expect(provider.uploadOpen(up.session), 'the provider-side upload exists (where the flow has one)').not.toBe(false);
    });

  for (const [label, sizeOf] of sizesFor(declared)) {
    test(`UPL-CLOUD-002 a file of ${label} bytes (C = the part size) finishes and reads back byte for byte`, req('UPL-CLOUD-002'),
      async ({ uploader, driver, env, folder, opened, target, makeTransport }, testInfo) => {
        const size = sizeOf(env.chunkSize);
        const uri = `${folder}/size-${size}.bin`;
        const up = await openUpload(uploader, opened, uri, size, seedFor(testInfo.title));
        await uploadAll(driver, up, uploader);
        await expectFinished(uploader, uri, size);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize || size);
      });
  }

  test('UPL-CLOUD-003 parts at the provider complete nothing until the finish; the finish completes the upload', req('UPL-CLOUD-003'),
    async ({ uploader, driver, profile, env, folder, opened, target, makeTransport }, testInfo) => {
      test.skip(profile.singleChunk, `${profile.policy}: its one request is the upload; the provider's notify finishes it`);
      const uri = `${folder}/unfinished.bin`;
      const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 7, seedFor(testInfo.title));
      await sendAll(driver, up);
      await expectPlaceholder(uploader, uri, up.session.session_id, 'every part uploaded, not finished');
      await finish(cloud(driver), up);
      await expectFinished(uploader, uri, up.payload.size);
      await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize);
    });

  test('UPL-CLOUD-004 the finished file has its size, the session\'s metadata and last_modified, and is charged once', req('UPL-CLOUD-004'),
    async ({ uploader, driver, env, folder, opened }, testInfo) => {
      const uri = `${folder}/finished.bin`;
      const before = await used(uploader);
      const lastModified = Date.UTC(2024, 0, 2, 3, 4, 5);
      const up = await openUpload(uploader, opened, uri, env.chunkSize + 5 || 5000, seedFor(testInfo.title),
        { metadata: { 'customize:icon_color': '#2196f3' }, lastModified });
      await uploadAll(driver, up, uploader);
      const f = await expectFinished(uploader, uri, up.payload.size);
      expect(f.metadata?.['customize:icon_color'], 'metadata of the session').toBe('#2196f3');
      expect(new Date(f.updated_at).getTime(), 'updated_at = last_modified').toBe(lastModified);
      expect(await used(uploader) - before, 'charged once, at the file\'s size').toBe(up.payload.size);
    });

  test('UPL-CLOUD-005 a callback before the provider has the object is refused, completes nothing and keeps the session', req('UPL-CLOUD-005'),
    async ({ uploader, driver, profile, env, folder, opened, target, makeTransport }, testInfo) => {
      test.skip(profile.policyType === 'obs', 'obs: Cloudreve checks only the callback key (research §7); UPL-CLOUD-006 covers the key');
      const uri = `${folder}/early-callback.bin`;
      const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 3 || 3000, seedFor(testInfo.title));
      const unchecked = makeTransport({ requestValidation: 'off' });
      if (profile.finish === 'client-complete-callback') {
        // The client's callback with nothing completed at the provider: s3/ks3/cos HEAD finds no object.
        const early = await callback(unchecked, target.url, profile.policyType, up.session, up.session.callback_secret);
        expect(early.body?.code, `the early callback is refused: ${describeAnswer(early)}`).not.toBe(Code.Success);
        if (profile.sizeMismatch !== 'unchecked' && profile.sizeMismatch !== 'provider') {
          expect(early.status, `HTTP status of the early callback: ${describeAnswer(early)}`).toBe(profile.sizeMismatch.status);
        }
      } else {
        // A provider's callback must carry the provider's signature: one without it is refused.
        const forged = await callback(unchecked, target.url, profile.policyType, up.session, up.session.callback_secret, up.payload.size);
        expect(forged.status, `a callback without the provider's signature: ${describeAnswer(forged)}`).toBe(401);
      }
      await expectPlaceholder(uploader, uri, up.session.session_id, 'the file after the refused callback');
      await uploadAll(driver, up, uploader);
      await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize || up.payload.size);
    });

  test('UPL-CLOUD-006 a callback with a wrong key is refused (HTTP 401, 40020) without naming the right one; the upload is unharmed',
    req('UPL-CLOUD-006'), async ({ uploader, driver, profile, env, folder, opened, target, makeTransport }, testInfo) => {
      const uri = `${folder}/wrong-key.bin`;
      const up = await openUpload(uploader, opened, uri, env.chunkSize + 9 || 900, seedFor(testInfo.title));
      const wrong = up.session.callback_secret.split('').reverse().join('');
      const a = await callback(makeTransport({ requestValidation: 'off' }), target.url, profile.policyType, up.session, wrong, up.payload.size);
      expectCode({ code: a.body?.code as number, msg: a.body?.msg ?? '' }, Code.CredentialInvalid, { message: `wrong key: ${describeAnswer(a)}` });
      expect(a.status, 'HTTP status').toBe(401);
      expectNoSecretEcho({ code: a.body?.code ?? 0, msg: a.body?.msg ?? '' }, up.session.callback_secret, 'the refusal of a wrong key');
      await expectPlaceholder(uploader, uri, up.session.session_id);
      await uploadAll(driver, up, uploader);
      await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize || up.payload.size);
    });

  test('UPL-CLOUD-007 a callback after the upload finished is refused (HTTP 401, 40011) and changes nothing', req('UPL-CLOUD-007'),
    async ({ uploader, driver, profile, env, folder, opened, target, makeTransport }, testInfo) => {
      const uri = `${folder}/twice.bin`;
      const up = await openUpload(uploader, opened, uri, env.chunkSize + 2 || 200, seedFor(testInfo.title));
      await uploadAll(driver, up, uploader);
      const again = await callback(makeTransport({ requestValidation: 'off' }), target.url, profile.policyType, up.session,
        up.session.callback_secret, up.payload.size);
      expect(again.body?.code, `the second callback: ${describeAnswer(again)}`).toBe(Code.UploadSessionExpired);
      expect(again.status, 'HTTP status').toBe(401);
      await expectFinished(uploader, uri, up.payload.size);
      await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize || up.payload.size);
    });

  test('UPL-CLOUD-008 an object of the wrong size does not finish the upload; the session is kept', req('UPL-CLOUD-008'),
    async ({ uploader, driver, profile, env, folder, opened, target, makeTransport }, testInfo) => {
      const mismatch = profile.sizeMismatch;
      test.skip(mismatch === 'unchecked', `${profile.policy}: Cloudreve does not check the object's size for this policy (research §7)`);
      const uri = `${folder}/short.bin`;
      const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 1300, seedFor(testInfo.title));
      const d = cloud(driver);
      if (profile.uploadUrls === 'per-part') {
        // Presigned part URLs sign each part's length: the client leaves the last part out (1300 bytes short).
        for (const c of up.chunks.slice(0, -1)) expectChunkOk(await send(driver, up, c.index));
      } else {
        // One upload URL (OneDrive): the client uploads, and declares, 1234 bytes fewer than the session.
        const short = shorter(up, 1234);
        d.begin(up.session, { size: short.payload.size });
        for (const c of short.chunks) expectChunkOk(await d.sendChunk(up.session, c, short.payload.stream(c.offset, c.length)));
      }
      const r = await d.finish(up.session);
      expect(r.ok, `finish of a short object: ${r.steps.map(describeStep).join('; ')}`).toBe(false);
      if (mismatch !== 'provider' && mismatch !== 'unchecked') {
        expect(r.callback?.code, `the callback names the size mismatch: ${r.steps.map(describeStep).join('; ')}`).toBe(mismatch.code);
        expect(r.callback?.status, 'HTTP status of the size mismatch').toBe(mismatch.status);
        // The session is kept: the callback fails the same way again, instead of "no session".
        const again = await callback(makeTransport({ requestValidation: 'off' }), target.url, profile.policyType, up.session, up.session.callback_secret);
        expect(again.body?.code, `the callback again: ${describeAnswer(again)}`).toBe(mismatch.code);
      }
      await expectPlaceholder(uploader, uri, up.session.session_id, 'the file after a short object');
      expect((await cancel(uploader, up.session, uri)).data, 'the kept session can be cancelled').toMatchObject({ code: Code.Success });
      await expectGone(uploader, uri);
    });

  test('UPL-CLOUD-009 cancelling aborts the provider\'s upload, removes the placeholder and releases the quota', req('UPL-CLOUD-009'),
    async ({ uploader, driver, provider, profile, env, folder, opened }, testInfo) => {
      const uri = `${folder}/cancelled.bin`;
      const before = await used(uploader);
      const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 11, seedFor(testInfo.title));
      test.skip(provider.uploadOpen(up.session) === undefined, `${profile.policy}: no provider-side upload to abort (one form POST)`);
      expectChunkOk(await send(driver, up, 0));
      expect(provider.uploadOpen(up.session), 'the provider-side upload is open before the cancel').toBe(true);
      expectCode(await cancel(uploader, up.session, uri), Code.Success, { message: 'cancel' });
      expect(provider.uploadOpen(up.session), 'the provider-side upload is aborted by the cancel').toBe(false);
      await expectGone(uploader, uri);
      expect(await used(uploader), 'quota released').toBe(before);
    });

  test('UPL-CLOUD-010 after a cancel the callback is refused (401, 40011), a part is refused by the provider and nothing reappears',
    req('UPL-CLOUD-010'), async ({ uploader, driver, provider, profile, env, folder, opened, target, makeTransport }, testInfo) => {
      const uri = `${folder}/after-cancel.bin`;
      const up = await openUpload(uploader, opened, uri, 2 * env.chunkSize + 13 || 1300, seedFor(testInfo.title));
      const hasUpload = provider.uploadOpen(up.session) !== undefined;
      if (!profile.singleChunk) expectChunkOk(await send(driver, up, 0));
      expectCode(await cancel(uploader, up.session, uri), Code.Success, { message: 'cancel' });
      if (hasUpload) {
        const late = await send(driver, up, up.chunks.length > 1 ? 1 : 0);
        expect((late as { ok?: boolean }).ok, 'a part for the aborted upload is refused by the provider').toBe(false);
      } else {
        // No provider-side upload (upyun): the provider takes the form, and Cloudreve must refuse its notify.
        await send(driver, up, 0);
      }
      const a = await callback(makeTransport({ requestValidation: 'off' }), target.url, profile.policyType, up.session,
        up.session.callback_secret, up.payload.size);
      expect(a.body?.code, `the callback after the cancel: ${describeAnswer(a)}`).toBe(Code.UploadSessionExpired);
      expect(a.status).toBe(401);
      await new Promise((r) => setTimeout(r, 300));
      await expectGone(uploader, uri, 'the cancelled file');
    });

  test('UPL-CLOUD-011 the callback route of another policy type refuses the session (HTTP 401, 40006)', req('UPL-CLOUD-011'),
    async ({ uploader, profile, env, folder, opened, target, makeTransport }, testInfo) => {
      const other = profile.policyType === 's3' ? 'cos' : 's3';
      const uri = `${folder}/other-route.bin`;
      const up = await openUpload(uploader, opened, uri, env.chunkSize + 1 || 100, seedFor(testInfo.title));
      const a = await callback(makeTransport({ requestValidation: 'off' }), target.url, other, up.session, up.session.callback_secret);
      expect(a.body?.code, `the ${other} route for a ${profile.policyType} session: ${describeAnswer(a)}`).toBe(Code.PolicyNotAllowed);
      expect(a.status).toBe(401);
      await expectPlaceholder(uploader, uri, up.session.session_id);
    });

  test('UPL-CLOUD-012 the provider URLs are signed: a part with an altered signature is refused by the provider; the upload is unharmed',
    req('UPL-CLOUD-012'), async ({ uploader, driver, profile, env, folder, opened, target, makeTransport }, testInfo) => {
      const uri = `${folder}/signed.bin`;
      const up = await openUpload(uploader, opened, uri, env.chunkSize + 21 || 2100, seedFor(testInfo.title));
      const forged = tampered(up.session);
      test.skip(!forged, `${profile.policy}: the upload URL is a pre-authorised session URL without a separate signature`);
      const d = cloud(driver);
      const c = up.chunks[0]!;
      d.begin(forged!, { size: up.payload.size });
      const a = await d.sendChunk(forged!, c, up.payload.stream(c.offset, c.length));
      expect(a.ok, `a part with an altered signature: HTTP ${a.status} ${a.providerCode ?? ''}`).toBe(false);
      expect(a.status, 'refused by the provider (4xx)').toBeGreaterThanOrEqual(400);
      await expectPlaceholder(uploader, uri, up.session.session_id);
      await uploadAll(driver, up, uploader);
      await expectContent(uploader, makeTransport(), target, uri, up.payload, env.chunkSize || up.payload.size);
    });

  test.describe('serial: upload_session_timeout', () => {
    test.describe.configure({ mode: 'serial' });
    test('UPL-CLOUD-013 after the session expired the callback is refused (401, 40011); a cancel then removes the file and aborts the provider\'s upload',
      req('UPL-CLOUD-013'), async ({ uploader, driver, provider, profile, adminSettings, env, folder, opened, target, makeTransport }, testInfo) => {
        const uri = `${folder}/expired.bin`;
        const before = await used(uploader);
        await withTtl(adminSettings, 3, async () => {
          const up = await openUpload(uploader, opened, uri, env.chunkSize + 31 || 3100, seedFor(testInfo.title));
          // Every part at the provider, never finished: Cloudreve is not told in time.
          if (!profile.singleChunk) await sendAll(driver, up);
          await waitPast(up.session.expires);
          const late = await callback(makeTransport({ requestValidation: 'off' }), target.url, profile.policyType, up.session,
            up.session.callback_secret, up.payload.size);
          expect(late.body?.code, `the callback after expiry: ${describeAnswer(late)}`).toBe(Code.UploadSessionExpired);
          expect(late.status).toBe(401);
          const open = provider.uploadOpen(up.session);
          expectCode(await cancel(uploader, up.session, uri), Code.Success, { message: 'cancel of the expired session' });
          await expectGone(uploader, uri);
          if (open === true) expect(provider.uploadOpen(up.session), 'the provider-side upload is aborted by the cancel after expiry').toBe(false);
        });
        expect(await used(uploader), 'quota released').toBe(before);
      });
  });
}

function relayFlow(): void {
  test('UPL-RELAY-001 a relay session is one chunk to the master: chunk_size 0, no upload URLs, storage_policy.relay', req('UPL-RELAY-001'),
    async ({ uploader, folder, opened }, testInfo) => {
      const up = await openUpload(uploader, opened, `${folder}/relay-shape.bin`, 70_000, seedFor(testInfo.title));
      expect(up.session.chunk_size, 'chunk_size').toBe(0);
      expect(up.session.upload_urls, 'no upload_urls').toBeUndefined();
      expect(up.session.completeURL, 'no completeURL').toBeUndefined();
      expect(up.session.storage_policy?.relay, 'storage_policy.relay').toBe(true);
      expect(up.chunks, 'one chunk').toHaveLength(1);
    });

  for (const size of [1, 1000, 70_001]) {
    test(`UPL-RELAY-002 the whole file (${size} bytes) as chunk 0 finishes, is stored at the provider and reads back byte for byte`,
      req('UPL-RELAY-002'), async ({ uploader, driver, provider, folder, opened, target, makeTransport }, testInfo) => {
        const uri = `${folder}/relay-${size}.bin`;
        const objects = provider.objects().length;
        const up = await openUpload(uploader, opened, uri, size, seedFor(testInfo.title));
        expectChunkOk(await send(driver, up, 0));
        await expectFinished(uploader, uri, size);
        const stored = provider.objects();
        expect(stored.length, 'one new object at the provider').toBe(objects + 1);
        expect(stored.some((o) => o.size === size), `an object of ${size} bytes at the provider`).toBe(true);
        await expectContent(uploader, makeTransport(), target, uri, up.payload, size);
      });
  }

  test('UPL-RELAY-003 chunk 0 of the wrong length is refused with 40013 and stores nothing; the right one then finishes', req('UPL-RELAY-003'),
    async ({ uploader, driver, provider, folder, opened, target, makeTransport }, testInfo) => {
      const uri = `${folder}/relay-length.bin`;
      const up = await openUpload(uploader, opened, uri, 5000, seedFor(testInfo.title));
      const objects = provider.objects().length;
      expectChunkCode(await sendBody(driver, up, 0, 4999), Code.InvalidContentLength, 'the whole file minus one byte');
      expectChunkCode(await sendBody(driver, up, 0, 5001), Code.InvalidContentLength, 'the whole file plus one byte');
      expect(provider.objects().length, 'nothing stored at the provider').toBe(objects);
      await expectPlaceholder(uploader, uri, up.session.session_id);
      expectChunkOk(await send(driver, up, 0));
      await expectContent(uploader, makeTransport(), target, uri, up.payload, 5000);
    });

  test('UPL-RELAY-004 a chunk index past 0 is refused and completes nothing', req('UPL-RELAY-004'),
    async ({ uploader, driver, folder, opened }, testInfo) => {
      const uri = `${folder}/relay-index.bin`;
      const up = await openUpload(uploader, opened, uri, 5000, seedFor(testInfo.title));
      const c = up.chunks[0]!;
      const a = await driver.sendChunk(up.session, { ...c, index: 1 }, up.payload.stream(0, 5000));
      expectChunkOneOf(a, [Code.InvalidChunkIndex, Code.InvalidContentLength], 'the whole file as chunk 1');
      await expectPlaceholder(uploader, uri, up.session.session_id);
    });

  test('UPL-RELAY-005 cancelling a relay session answers 0, removes the placeholder, releases the quota and stores nothing', req('UPL-RELAY-005'),
    async ({ uploader, provider, folder, opened }, testInfo) => {
      const uri = `${folder}/relay-cancel.bin`;
      const before = await used(uploader);
      const objects = provider.objects().length;
      const up = await openUpload(uploader, opened, uri, 5000, seedFor(testInfo.title));
      expectCode(await cancel(uploader, up.session, uri), Code.Success, { message: 'cancel of an unused relay session' });
      await expectGone(uploader, uri);
      expect(await used(uploader), 'quota released').toBe(before);
      expect(provider.objects().length, 'nothing stored at the provider').toBe(objects);
    });
}

