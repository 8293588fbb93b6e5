// `npm run record-cassette`: records a cloud driver run as a cassette under fixtures/cassettes/<provider>/<scenario>.json,
// against a live provider account (what a maintainer runs) or against the loopback emulator (--emulator). See --help.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CASSETTE_DIR, CASSETTE_PROVIDERS, SCENARIOS, recordAgainstEmulator, recordScenario, replayCassette, scenario, writeCassette,
  type CassetteProvider, type ProviderAccount } from '../harness/cloud/cassette.js';

export const HELP = `Records a cloud upload driver run as a cassette (nock's recorder), secrets and signatures redacted.

Usage:
  npm run record-cassette -- --provider <p> --emulator [--scenario <name>]      against the loopback emulator
  npm run record-cassette -- --provider <p> --endpoint <url> [options]          against a live account
  npm run record-cassette -- --all --emulator                                   every scenario, emulators

Providers and scenarios:
${SCENARIOS.map((s) => `  ${s.provider}/${s.name.padEnd(20)} ${s.description}`).join('\n')}

Options:
  --provider <p>       ${CASSETTE_PROVIDERS.join(', ')}
  --scenario <name>    default: the provider's first scenario
  --emulator           record against the provider's emulator on a loopback port (endpoint kind "emulator")
  --endpoint <url>     live endpoint (else CASSETTE_<P>_ENDPOINT):
                         s3   https://s3.<region>.amazonaws.com (or an S3-compatible server; IP endpoints go path style)
                         cos  the bucket URL https://<bucket>-<appid>.cos.<region>.myqcloud.com
                         oss  https://oss-<region>.aliyuncs.com
                         obs  https://obs.<region>.myhuaweicloud.com
                         qiniu the upload host, e.g. https://up-z0.qiniup.com
                         upyun https://v0.api.upyun.com
                         onedrive https://graph.microsoft.com/v1.0/me/drive
  --bucket <name>      bucket (onedrive: the folder uploads go to) (else CASSETTE_<P>_BUCKET)
  --region <region>    s3/oss/obs/cos signing region (else CASSETTE_<P>_REGION)
  --path-style         s3: path-style addressing on a domain endpoint (else CASSETTE_S3_PATH_STYLE=1)
  --callback-url <url> Cloudreve's public base URL the provider calls back (oss, obs, qiniu, upyun) (else
                       CASSETTE_CALLBACK_URL). Without it a local stand-in is used, which a live provider cannot
                       reach: the recorded complete answer is then the provider's callback failure, and replay
                       reproduces that with an unreachable callback.
  --out <dir>          where cassettes go (default ${CASSETTE_DIR})
  --no-verify          do not replay the new cassette against the emulator right after recording
  --help

Credentials (never written: every value below, the session's secrets and all signatures are redacted):
  CASSETTE_<P>_ACCESS_KEY, CASSETTE_<P>_SECRET_KEY   with <P> one of S3, COS, OSS, OBS, QINIU, UPYUN
                                                    (upyun: operator name and operator password;
                                                     cos: SecretId and SecretKey)
  CASSETTE_ONEDRIVE_ACCESS_TOKEN                    a Microsoft Graph access token with Files.ReadWrite

A live recording uploads one object per scenario under cloudreve-conformance/cassettes/ (onedrive: <folder>/cassettes/)
and leaves it there; delete it afterwards. After recording, the cassette is replayed against the emulator: a
difference is printed (the emulator drifted from the provider) and the exit code is 2 — commit the cassette together
with the emulator fix.`;

export interface Io { log(line: string): void; error(line: string): void }

/** The command; returns the exit code (0 ok, 1 usage or failure, 2 the new cassette does not replay against the emulator). */
export async function main(argv: string[] = process.argv.slice(2), io: Io = { log: (l) => console.log(l), error: (l) => console.error(l) }): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    provider: { type: 'string' }, scenario: { type: 'string' }, emulator: { type: 'boolean' }, endpoint: { type: 'string' },
    bucket: { type: 'string' }, region: { type: 'string' }, 'path-style': { type: 'boolean' }, 'callback-url': { type: 'string' },
    out: { type: 'string' }, all: { type: 'boolean' }, 'no-verify': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) { io.log(HELP); return 0; }
  const out = values.out ?? CASSETTE_DIR;
  const env = process.env;
  let drift = false;
  const verify = async (c: Awaited<ReturnType<typeof recordAgainstEmulator>>) => {
    if (values['no-verify']) return;
    const r = await replayCassette(c);
    if (r.differences.length) {
      drift = true;
      io.error(`  replay against the emulator differs:\n${r.differences.map((d) => `    ${d}`).join('\n')}`);
    } else io.log(`  replayed against the emulator: ${r.exchanges.filter((x) => !x.skipped).length} answers agree`);
  };

  if (values.all) {
    if (!values.emulator) { io.error('--all records against the emulators only (add --emulator)'); return 1; }
    for (const s of SCENARIOS) {
      const c = await recordAgainstEmulator(s);
      io.log(`${writeCassette(c, out)}: ${c.interactions.length} interactions`);
      await verify(c);
    }
    return drift ? 2 : 0;
  }
  const provider = values.provider as CassetteProvider | undefined;
  if (!provider || !CASSETTE_PROVIDERS.includes(provider)) { io.error(`--provider must be one of ${CASSETTE_PROVIDERS.join(', ')} (see --help)`); return 1; }
  const s = scenario(provider, values.scenario);
  if (values.emulator) {
    const c = await recordAgainstEmulator(s);
    io.log(`${writeCassette(c, out)}: ${c.interactions.length} interactions (emulator)`);
    await verify(c);
    return drift ? 2 : 0;
  }
  const P = provider.toUpperCase();
  const endpoint = values.endpoint ?? env[`CASSETTE_${P}_ENDPOINT`];
  const bucket = values.bucket ?? env[`CASSETTE_${P}_BUCKET`] ?? (provider === 'onedrive' ? 'Cloudreve' : undefined);
  const accessKey = provider === 'onedrive' ? '' : env[`CASSETTE_${P}_ACCESS_KEY`];
  const secretKey = provider === 'onedrive' ? env.CASSETTE_ONEDRIVE_ACCESS_TOKEN : env[`CASSETTE_${P}_SECRET_KEY`];
  const missing = [!endpoint && `--endpoint or CASSETTE_${P}_ENDPOINT`, !bucket && `--bucket or CASSETTE_${P}_BUCKET`,
    accessKey === undefined && `CASSETTE_${P}_ACCESS_KEY`, !secretKey && (provider === 'onedrive' ? 'CASSETTE_ONEDRIVE_ACCESS_TOKEN' : `CASSETTE_${P}_SECRET_KEY`)].filter(Boolean);
  if (missing.length) { io.error(`missing: ${missing.join(', ')} (or use --emulator; see --help)`); return 1; }
  const region = values.region ?? env[`CASSETTE_${P}_REGION`];
  const account: ProviderAccount = { provider, endpoint: endpoint!, bucket: bucket!, accessKey: accessKey ?? '', secretKey: secretKey!,
    ...(region ? { region } : {}), ...(values['path-style'] || env.CASSETTE_S3_PATH_STYLE === '1' ? { pathStyle: true } : {}) };
  const callbackUrl = values['callback-url'] ?? env.CASSETTE_CALLBACK_URL;
  const c = await recordScenario(s, account, { endpoint: 'live', ...(callbackUrl ? { callbackUrl } : {}) });
  io.log(`${writeCassette(c, out)}: ${c.interactions.length} interactions (live ${new URL(account.endpoint).host})`);
  await verify(c);
  return drift ? 2 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then((code) => { process.exitCode = code; }, (e: unknown) => { console.error(e instanceof Error ? e.message : e); process.exitCode = 1; });
}
