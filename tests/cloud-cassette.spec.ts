// CT-CLOUD-CAS: cassettes (fixtures/cassettes/<provider>/<scenario>.json) replay offline against the current emulators
// and every answer must match the recorded one (status, provider error code, body shape, ETag, media type), so an
// emulator cannot drift from what the provider answered; a cassette altered on purpose, or an emulator made to drift,
// fails the comparison; no cassette holds a secret; recording against the emulators still produces the committed
// cassettes' exchanges.
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import type { ProviderEmulator } from '../harness/cloud/mount.js';
import { CASSETTE_PROVIDERS, EMULATOR_ACCOUNTS, SCENARIOS, loadCassettes, observe, recordAgainstEmulator, replayCassette, scenario,
  type Cassette, type Interaction } from '../harness/cloud/cassette.js';
import { HELP, main } from '../tools/record-cassette.js';

const cassettes = loadCassettes();
const clone = (c: Cassette): Cassette => JSON.parse(JSON.stringify(c)) as Cassette;
const find = (provider: string, name: string) => {
  const c = cassettes.find((x) => x.cassette.meta.provider === provider && x.cassette.meta.scenario === name);
  if (!c) throw new Error(`no cassette ${provider}/${name}`);
  return clone(c.cassette);
};
const step = (c: Cassette, name: string): Interaction => {
  const i = c.interactions.find((x) => x.step === name);
  if (!i) throw new Error(`no step ${name} in ${c.meta.provider}/${c.meta.scenario}`);
  return i;
};
const setText = (i: Interaction, f: (t: string) => string) => {
  const b = i.response.body;
  if (!b || !('text' in b)) throw new Error(`${i.step}: no text body`);
  b.text = f(b.text);
};

test('CT-CLOUD-CAS-001 every provider has at least one committed cassette, each made by the current driver version', () => {
  const have = new Set(cassettes.map((c) => c.cassette.meta.provider));
  expect([...have].sort()).toEqual([...CASSETTE_PROVIDERS].sort());
  expect(cassettes.map((c) => `${c.cassette.meta.provider}/${c.cassette.meta.scenario}`)).toEqual(expect.arrayContaining(['s3/multipart-complete', 's3/multipart-abort']));
  for (const { path, cassette } of cassettes) {
    expect(path.replace(/\\/g, '/')).toMatch(new RegExp(`(^|/)fixtures/cassettes/${cassette.meta.provider}/${cassette.meta.scenario}\\.json$`));
    expect(['emulator', 'live']).toContain(cassette.meta.endpoint);
    expect(Date.parse(cassette.meta.recorded)).not.toBeNaN();
    expect(cassette.meta.driverVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(cassette.interactions.filter((i) => i.role === 'client').length).toBeGreaterThan(0);
  }
});

for (const { path, cassette } of cassettes) {
  test(`CT-CLOUD-CAS-002 replay ${cassette.meta.provider}/${cassette.meta.scenario} (${cassette.meta.endpoint}) against the current emulator: every answer matches`, async () => {
    const report = await replayCassette(cassette);
    expect(report.differences, `${path} drifted from the emulator`).toEqual([]);
    const replayed = report.exchanges.filter((x) => !x.skipped);
    expect(replayed.length).toBe(cassette.interactions.filter((i) => i.role !== 'cloudreve').length);
    // The comparison had something to compare: statuses, and for XML/JSON answers a shape.
    for (const x of replayed) expect(x.replayed?.status, x.step).toBe(x.recorded.status);
    expect(replayed.some((x) => x.recorded.shape.length > 0)).toBe(true);
  });
}

test('CT-CLOUD-CAS-003 a drifted cassette fails: a changed status, a renamed XML element, a changed S3 error code, a renamed JSON key', async () => {
  const complete = find('s3', 'multipart-complete');
  step(complete, 'UploadPart 2').response.status = 500;
  setText(step(complete, 'CompleteMultipartUpload'), (t) => t.replace('<Bucket>', '<BucketName>').replace('</Bucket>', '</BucketName>'));
  let r = await replayCassette(complete);
  expect(r.differences).toEqual([
    'UploadPart 2: status: recorded 500, emulator 200',
    'CompleteMultipartUpload: body shape: missing CompleteMultipartUploadResult/BucketName; extra CompleteMultipartUploadResult/Bucket',
  ]);

  const abort = find('s3', 'multipart-abort');
  setText(step(abort, 'UploadPart 2'), (t) => t.replace('<Code>NoSuchUpload</Code>', '<Code>NoSuchKey</Code>'));
  r = await replayCassette(abort);
  expect(r.differences).toEqual(['UploadPart 2: provider error code: recorded NoSuchKey, emulator NoSuchUpload']);

  const qiniu = find('qiniu', 'multipart-callback');
  setText(step(qiniu, 'UploadPart 1'), (t) => t.replace('"md5"', '"hash"'));
  r = await replayCassette(qiniu);
  expect(r.differences).toEqual(['UploadPart 1: body shape: missing hash; extra md5']);
  // Unaltered, the same three cassettes replay without a difference (CT-CLOUD-CAS-002): the failures are the alterations'.
});

test('CT-CLOUD-CAS-004 a drifted emulator fails the replay: a part answer without ETag, a complete answer with another status', async () => {
  const drop = (emu: ProviderEmulator): ProviderEmulator => ({ provider: emu.provider, handle: async (req) => {
    const res = await emu.handle(req);
    if (req.method === 'PUT') { const headers = { ...res.headers }; delete headers.etag; return { ...res, headers }; }
    if (req.method === 'POST' && req.url.searchParams.has('uploadId')) return { ...res, status: 201 };
    return res;
  } });
  const r = await replayCassette(find('cos', 'multipart-complete'), { wrap: drop });
  expect(r.differences).toEqual([
    'UploadPart 1: ETag header: recorded present, emulator absent',
    'UploadPart 2: ETag header: recorded present, emulator absent',
    'UploadPart 3: ETag header: recorded present, emulator absent',
    'CompleteMultipartUpload: status: recorded 200, emulator 201',
  ]);
});

/** Secret-shaped strings a cassette must not contain (the redacted forms are allowed). */
const SECRET_SHAPES: [string, RegExp][] = [
  ['JWT', /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
  ['base64 JSON (policy, token)', /eyJ[A-Za-z0-9+/_%-]{12,}/],
  ['Bearer token', /Bearer (?!<redacted>)\S{4,}/],
  ['SigV4 query signature or credential', /X-Amz-(?:Signature|Credential|Security-Token)=(?!<redacted>)/i],
  ['query signature', /[?&](?:Signature|q-signature|x-oss-signature|sign|token|tempauth|upToken)=(?!<redacted>)/i],
  ['query access key', /[?&](?:AWSAccessKeyId|AccessKeyId|OSSAccessKeyId|KSSAccessKeyId|q-ak|x-oss-credential)=(?!<redacted>)/i],
  ['callback policy in a URL', /[?&](?:callback|callback-var|x-obs-callback)=(?!<redacted>)/i],
  ['Authorization value', /"authorization": "(?!(?:[A-Za-z0-9-]+ |q-sign-algorithm=sha1&)?<redacted>")/i],
  ['provider signature scheme', /\b(?:UPYUN|OSS|AWS|OBS|QBox|UpToken|KSS) (?!<redacted>)[^\s"<:]+:[^\s"<]+/],
  ['callback secret in a callback path', /\/api\/v4\/callback\/[a-z0-9]+\/[^/"\s]+\/(?!<redacted>)[^/"\s?]+/],
  ['form signature field', /name=\\"(?:policy|authorization|signature)\\"\\r\\n\\r\\n(?!<redacted>)/],
  ['SigV4 signature (64 hex)', /\b(?!e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)[0-9a-f]{64}\b/],
  ['HMAC-SHA1 base64 signature', /[:=]\s*"?[A-Za-z0-9+/]{27}="/],
];

function scanForSecrets(text: string): string[] {
  const found = SECRET_SHAPES.filter(([, re]) => re.test(text)).map(([name, re]) => `${name}: ${re.exec(text)![0].slice(0, 60)}`);
  for (const a of Object.values(EMULATOR_ACCOUNTS)) {
    for (const v of [a.accessKey, a.secretKey]) if (v && text.includes(v)) found.push(`account key ${v.slice(0, 4)}…`);
  }
  return found;
}

test('CT-CLOUD-CAS-005 no cassette holds a secret: signatures, access keys, tokens, JWTs, Bearer values, callback secrets and policies', () => {
  // The scanner finds what it looks for.
  expect(scanForSecrets('{"url": "https://b.s3.amazonaws.com/k?X-Amz-Signature=0123abcd"}')).toHaveLength(1);
  expect(scanForSecrets('"authorization": "UPYUN op:RfwQPvAqnXtQFdYUpqVOkSQKX+c="').length).toBeGreaterThan(0);
  expect(scanForSecrets('Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U').length).toBeGreaterThan(1);
  expect(scanForSecrets('"http://h/api/v4/callback/s3/0b6e/Ab0SecretSecretSecretSecretSecr1"')).toHaveLength(1);
  expect(scanForSecrets(`"${EMULATOR_ACCOUNTS.oss.secretKey}"`)).toHaveLength(1);
  for (const { path } of cassettes) {
    const text = readFileSync(path, 'utf8');
    expect(scanForSecrets(text), path).toEqual([]);
    const c = JSON.parse(text) as Cassette;
    expect(c.meta.session.callback_secret, path).toBe('<redacted>');
    for (const k of ['credential', 'upload_policy'] as const) if (c.meta.session[k] !== undefined) expect(c.meta.session[k], `${path} ${k}`).toBe('<redacted>');
  }
});

const summary = (c: Cassette) => c.interactions.map((i) => {
  const o = observe(i.response.status, i.response.headers, i.response.body && 'text' in i.response.body ? Buffer.from(i.response.body.text) : undefined);
  return [i.role, i.step, i.request.method, Object.keys(i.request.headers).sort().join(','), o.status, o.providerCode ?? '', o.shape.join(' ')];
});

for (const s of SCENARIOS) {
  const committed = cassettes.find((c) => c.cassette.meta.provider === s.provider && c.cassette.meta.scenario === s.name)?.cassette;
  if (!committed || committed.meta.endpoint !== 'emulator') continue;
  test(`CT-CLOUD-CAS-006 recording ${s.provider}/${s.name} against the emulator again reproduces the committed exchanges (driver and recorder unchanged), redacted`, async () => {
    const fresh = await recordAgainstEmulator(scenario(s.provider, s.name));
    expect(summary(fresh)).toEqual(summary(committed));
    expect(fresh.meta.payload).toEqual(committed.meta.payload);
    expect(fresh.meta.account).toEqual(committed.meta.account);
    expect(fresh.meta.providerCallback).toBe(committed.meta.providerCallback);
    expect(scanForSecrets(JSON.stringify(fresh, null, 2))).toEqual([]);
  });
}

test('CT-CLOUD-CAS-007 record-cassette: --help documents the live set-up (endpoint, scenarios, credential variables); missing credentials are named', async () => {
  const run = async (argv: string[], env: Record<string, string> = {}) => {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    const lines: string[] = [];
    const errors: string[] = [];
    try {
      const code = await main(argv, { log: (l) => lines.push(l), error: (l) => errors.push(l) });
      return { code, out: lines.join('\n'), err: errors.join('\n') };
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  };
  const help = await run(['--help']);
  expect(help.code).toBe(0);
  expect(help.out).toBe(HELP);
  for (const s of ['--endpoint', '--emulator', '--callback-url', 'CASSETTE_<P>_ACCESS_KEY', 'CASSETTE_<P>_SECRET_KEY', 'CASSETTE_ONEDRIVE_ACCESS_TOKEN',
    ...SCENARIOS.map((x) => `${x.provider}/${x.name}`)]) expect(help.out).toContain(s);
  const missing = await run(['--provider', 's3'], { CASSETTE_S3_ENDPOINT: '', CASSETTE_S3_BUCKET: '', CASSETTE_S3_SECRET_KEY: '' });
  expect(missing.code).toBe(1);
  expect(missing.err).toContain('missing: --endpoint or CASSETTE_S3_ENDPOINT, --bucket or CASSETTE_S3_BUCKET');
  expect((await run(['--provider', 'nope'])).code).toBe(1);
  expect((await run(['--all'])).err).toContain('--emulator');
});
