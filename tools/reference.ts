// `npm run reference -- [--port 5212] [--host 127.0.0.1]`: starts the embedded reference target, registers its
// three identities through its own API and prints one JSON line of the harness's configuration keys (with its slave
// node, CLOUDREVE_SLAVE_URL / CLOUDREVE_SLAVE_SECRET, for the remote policy). Ctrl-C
// (SIGINT) or SIGTERM closes it and removes its data directory.
import { parseArgs } from 'node:util';
import { startReference } from '../reference/index.js';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '5212' }, host: { type: 'string', default: '127.0.0.1' } },
  allowPositionals: false,
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`reference: invalid --port ${values.port}`);
  process.exit(2);
}

const target = await startReference({ port, host: values.host });
const { admin, user, user2 } = target.identities;
console.log(JSON.stringify({
  CLOUDREVE_URL: target.url,
  CLOUDREVE_ADMIN_EMAIL: admin.email, CLOUDREVE_ADMIN_PASSWORD: admin.password,
  CLOUDREVE_EMAIL: user.email, CLOUDREVE_PASSWORD: user.password,
  CLOUDREVE_EMAIL_2: user2.email, CLOUDREVE_PASSWORD_2: user2.password,
  CLOUDREVE_SLAVE_URL: target.slave.url, CLOUDREVE_SLAVE_SECRET: target.slave.secret,
}));

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  try {
    await target.close();
    process.exit(0);
  } catch (e) {
    console.error(`reference: closing on ${signal} failed: ${(e as Error).message}`);
    process.exit(1);
  }
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
