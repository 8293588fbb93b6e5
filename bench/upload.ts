// Benchmark: the local upload driver against a raw baseline (plain node:http sending the same chunks, same headers,
// same payload generator) to the same target — the reference target started as its own process, so this process's
// memory is the harness's alone. Prints the throughput ratio (goal ≥ 0.9) and the peak RSS growth of a 1 GiB upload
// through the driver (goal < 2 × chunk_size + 64 MiB).
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { AuthSession, createCloudreveClient, unwrap, type CloudreveClient } from '../harness/client/index.js';
import { validatingFetch } from '../harness/contract/transport.js';
import { throwingSink } from '../harness/contract/violations.js';
import { LocalDriver, type UploadSession } from '../harness/upload/driver.js';
import { planChunks } from '../harness/upload/plan.js';
import { Payload } from '../harness/upload/payload.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

interface Reference { url: string; email: string; password: string; stop: () => void }

async function startReferenceProcess(): Promise<Reference> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/reference.ts', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the reference target did not start within 30 s')), 30_000);
    createInterface({ input: child.stdout! }).once('line', (l) => { clearTimeout(timer); resolve(l); });
    child.once('exit', (code) => reject(new Error(`the reference target exited (${code})`)));
  });
  const cfg = JSON.parse(line) as Record<string, string>;
  return { url: cfg.CLOUDREVE_URL!, email: cfg.CLOUDREVE_ADMIN_EMAIL!, password: cfg.CLOUDREVE_ADMIN_PASSWORD!, stop: () => child.kill('SIGINT') };
}

async function createSession(client: CloudreveClient, uri: string, size: number): Promise<UploadSession> {
  return unwrap(await client.PUT('/file/upload', { body: { uri, size, policy_id: '' } }), `create session for ${uri}`) as UploadSession;
}

/** The baseline: one plain node:http POST per chunk, streaming the same payload bytes. */
function rawChunk(url: string, token: string, session: UploadSession, index: number, payload: Payload, offset: number, length: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/api/v4/file/upload/${session.session_id}/${index}`, {
      method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': length, authorization: `Bearer ${token}` },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => (JSON.parse(body).code === 0 ? resolve() : reject(new Error(`chunk ${index}: ${body}`))));
    });
    req.on('error', reject);
    Readable.from(payload.blocks(offset, length)).pipe(req);
  });
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

export async function benchUpload(size = GiB): Promise<string[]> {
  const ref = await startReferenceProcess();
  try {
    const client = createCloudreveClient({ siteUrl: ref.url, fetch: validatingFetch({ sink: throwingSink, timeoutMs: 120_000 }) });
    const admin = new AuthSession(client, { email: ref.email, password: ref.password });
    await admin.login(); // the admin group's quota holds a 1 GiB file
    const payload = new Payload(2026, size);
    const driver = new LocalDriver(client);

    const viaDriver = async (name: string) => {
      const session = await createSession(client, `cloudreve://my/bench/${name}`, size);
      for (const chunk of planChunks(size, session.chunk_size)) {
        const got = await driver.sendChunk(session, chunk, payload.stream(chunk.offset, chunk.length));
        if (got.code !== 0) throw new Error(`driver chunk ${chunk.index}: code ${got.code} ${got.msg ?? ''}`);
      }
      return session.chunk_size;
    };
    const viaRaw = async (name: string) => {
      const session = await createSession(client, `cloudreve://my/bench/${name}`, size);
      for (const chunk of planChunks(size, session.chunk_size)) {
        await rawChunk(ref.url, admin.accessToken!, session, chunk.index, payload, chunk.offset, chunk.length);
      }
    };

    // Warm-up: the first exchange compiles the contract's validators and JIT-compiles the path; that one-time cost is
    // not the upload's. Then peak RSS while the driver uploads, against the RSS just before.
    {
      const small = new Payload(1, MiB);
      const session = await createSession(client, 'cloudreve://my/bench/warm-up.bin', MiB);
      for (const chunk of planChunks(MiB, session.chunk_size)) await driver.sendChunk(session, chunk, small.stream(chunk.offset, chunk.length));
    }
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
    let chunkSize = 0;
    const driverSeconds = await timed(async () => { chunkSize = await viaDriver('driver-1.bin'); });
    clearInterval(sampler);
    const rawSeconds = await timed(() => viaRaw('raw-1.bin'));
    // A second round in the other order evens out warm-up and disk cache effects.
    const rawSeconds2 = await timed(() => viaRaw('raw-2.bin'));
    const driverSeconds2 = await timed(async () => { await viaDriver('driver-2.bin'); });
    const driverRate = (2 * size) / (driverSeconds + driverSeconds2) / MiB;
    const rawRate = (2 * size) / (rawSeconds + rawSeconds2) / MiB;
    const growth = peak - before;
    const limit = 2 * chunkSize + 64 * MiB;
    return [
      `upload throughput: driver ${driverRate.toFixed(0)} MiB/s, raw node:http ${rawRate.toFixed(0)} MiB/s, ratio ${(driverRate / rawRate).toFixed(2)} (goal ≥ 0.9; ${size / MiB} MiB × 2 each, chunk ${chunkSize / MiB} MiB)`,
      `upload memory: peak RSS growth ${(growth / MiB).toFixed(1)} MiB for a ${(size / GiB).toFixed(0)} GiB upload (goal < 2 × chunk_size + 64 MiB = ${(limit / MiB).toFixed(0)} MiB)`,
    ];
  } finally {
    ref.stop();
  }
}
