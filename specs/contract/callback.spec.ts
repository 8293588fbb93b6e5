// Contract specs of the 回调 (callback) group: the storage providers' upload-completion callbacks (OBS, OneDrive,
// COS, S3). Completing an upload needs the provider; on a plain Community server the session check in front of every
// callback (middleware.UseUploadSession) is what can be exercised: HTTP 401 with 40011 for an unknown session, 40020
// for a wrong callback secret (checked since 4.18.0) and 40006 when the session belongs to another policy type.
import { randomBytes, randomUUID } from 'node:crypto';
import { test, expect } from '../../fixtures/target.js';
import { expectCode, expectNoSecretEcho } from '../../harness/expect.js';
import type { CloudreveClient, Schemas } from '../../harness/client/index.js';
import { Code, createUploadSession, ok, policyOf, unique, versionAtLeast } from './support.js';

type Provider = 'obs' | 'onedrive' | 'cos' | 's3';
const PROVIDERS: { provider: Provider; label: string; operation: { type: 'operation'; description: string } }[] = [
  { provider: 'obs', label: 'OBS', operation: { type: 'operation', description: 'completeObsUpload' } },
  { provider: 'onedrive', label: 'ONEDRIVE', operation: { type: 'operation', description: 'completeOneDriveUpload' } },
  { provider: 'cos', label: 'COS', operation: { type: 'operation', description: 'completeCosUpload' } },
  { provider: 's3', label: 'S3', operation: { type: 'operation', description: 'completeS3Upload' } },
];

/** Calls the provider's callback route with the given session id and key. */
async function callback(client: CloudreveClient, provider: Provider, sessionId: string, key: string) {
  const params = { params: { path: { session_id: sessionId, key } } };
  switch (provider) {
    case 'obs': return client.POST('/callback/obs/{session_id}/{key}', params);
    case 'onedrive': return client.POST('/callback/onedrive/{session_id}/{key}', params);
    case 'cos': return client.GET('/callback/cos/{session_id}/{key}', params);
    case 's3': return client.GET('/callback/s3/{session_id}/{key}', params);
  }
}

test.describe('callback', () => {
  for (const { provider, label, operation } of PROVIDERS) {
    test(`CALLBACK-${label}-001 rejects an unknown upload session with HTTP 401 and 40011`,
      { annotation: [operation] }, async ({ anonymous }) => {
        const res = await callback(anonymous, provider, randomUUID(), randomBytes(16).toString('hex'));
        expectCode(res, Code.UploadSessionExpired, { status: 401 });
      });

    test(`CALLBACK-${label}-002 rejects a local-policy session: 40020 with a wrong secret (never naming the right one), 40006 with the right one (HTTP 401)`,
      { annotation: [operation] }, async ({ user, anonymous, sandbox, target }) => {
        const uri = sandbox.uri(unique(`callback-${provider}`, '.bin'));
        const session = ok(await createUploadSession(user, uri, 10, await policyOf(user, sandbox.root))) as Schemas['UploadSession'];
        try {
          expect(session.storage_policy?.type ?? 'local', 'the sandbox uploads to a non-cloud policy').not.toBe(provider);
          if (versionAtLeast(target, '4.18.0')) {
            const secret = session.callback_secret;
            const wrong = `${secret.startsWith('a') ? 'b' : 'a'}${secret.slice(1)}`;
            const refused = await callback(anonymous, provider, session.session_id, wrong);
            expectCode(refused, Code.CredentialInvalid, { status: 401 });
            expectNoSecretEcho(refused, secret, 'the refusal of a wrong callback secret');
          }
          expectCode(await callback(anonymous, provider, session.session_id, session.callback_secret), Code.PolicyNotAllowed, { status: 401 });
          // The rejected callback left the session alone: it can still be cancelled.
          ok(await user.DELETE('/file/upload', { body: { id: session.session_id, uri } }));
        } finally {
          await user.DELETE('/file/upload', { body: { id: session.session_id, uri } });
        }
      });

    test(`CALLBACK-${label}-003 completes an upload to a storage policy of type ${label}`,
      { annotation: [operation] }, async () => {
        test.skip(true, `needs cloud storage: a storage policy of type ${label} whose provider holds the uploaded object`);
      });
  }
});
