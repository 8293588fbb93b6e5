// Before the suite: for a live target, the preflight (reachable, Cloudreve v4, identities sign in) gives one clear
// message instead of a cascade of failures, and settings an interrupted earlier run changed are put back.
import { loadConfig } from '../harness/config.js';
import { preflight } from '../harness/preflight.js';
import { AuthSession, createCloudreveClient } from '../harness/client/index.js';
import { restoreLeftoverJournals } from '../harness/admin.js';
import { validatingFetch } from '../harness/contract/transport.js';
import { throwingSink } from '../harness/contract/violations.js';

export default async function globalSetup(): Promise<void> {
  const config = loadConfig();
  if (config.kind === 'embedded') {
    console.log(`target: embedded reference target (one per worker); run ${process.env.CONFORMANCE_RUN_ID}`);
    return;
  }
  const started = Date.now();
  const { version, edition } = await preflight(config);
  console.log(`target: ${config.url} — Cloudreve ${version} (${edition}); preflight ${Date.now() - started} ms; run ${process.env.CONFORMANCE_RUN_ID}`);
  if (config.admin) {
    const admin = new AuthSession(createCloudreveClient({ siteUrl: config.url!, fetch: validatingFetch({ sink: throwingSink }) }), config.admin);
    await admin.login();
    const restored = await restoreLeftoverJournals(admin.client, config.url!);
    if (restored) console.log(`restored admin settings journaled by ${restored} interrupted earlier run(s)`);
  }
}
