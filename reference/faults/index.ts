// Fault profiles: named defects a real Cloudreve server could have, each switched on by name in the embedded reference
// target (`startReference({ faults: [...] })`, or CONFORMANCE_REFERENCE_FAULTS=<id>,<id> for the suite). Each is one
// small switch at the decision point of the reference where the real server makes that decision (grep the id); with
// no fault the reference behaves as Cloudreve 4.18.0. `npm run mutants` (tools/mutants.ts) runs the suite once per
// profile and proves the suite notices each defect: a profile is killed when at least one test fails.
//
// Each profile names where it should be caught: `catches` (requirement ids, the start of the test titles), `specs`
// (spec files below specs/, the only ones the mutants run executes for it) and `projects` (the Playwright projects).

export const FAULT_AREAS = ['create-session', 'chunk-boundaries', 'expiry', 'finish', 'cancel', 'small-files', 'recovery',
  'concurrency', 'security', 'contract-shape', 'auth-session', 'files'] as const;
export type FaultArea = (typeof FAULT_AREAS)[number];

export interface FaultProfile {
  id: string;
  area: FaultArea;
  /** The defect, as a bug report would say it. */
  description: string;
  /** Requirement ids of the tests that should fail with it. */
  catches: readonly string[];
  /** Spec files (relative to specs/) holding those tests: what the mutants run executes for this profile. */
  specs: readonly string[];
  /** Playwright projects to run them in. */
  projects: readonly string[];
}

const LOCAL = ['upload-local'] as const;
const REMOTE = ['upload-remote'] as const;
const BOTH = ['upload-local', 'upload-remote'] as const;
const CONTRACT = ['contract'] as const;

const PROFILES = [
  // ---- creating a session ----
  { id: 'create-chunk-size-mismatch', area: 'create-session',
    description: 'the session answers a chunk_size twice the policy\'s, while chunks are checked against the policy\'s',
    catches: ['UPL-CREATE-003', 'UPL-CHUNK-001'], specs: ['upload/create-session.spec.ts', 'upload/chunks.spec.ts'], projects: BOTH },
  { id: 'create-quota-not-charged', area: 'create-session',
    description: 'creating an upload session charges nothing to the quota (nor does finishing it)',
    catches: ['UPL-CREATE-006', 'UPL-CREATE-011', 'UPL-CANCEL-002', 'UPL-FINISH-005'],
    specs: ['upload/create-session.spec.ts', 'upload/cancel.spec.ts', 'upload/finish.spec.ts'], projects: LOCAL },
  { id: 'create-quota-unchecked', area: 'create-session',
    description: 'a size over the free quota is accepted (no 40051)',
    catches: ['UPL-CREATE-011', 'FILE-UPLOAD-004'], specs: ['upload/create-session.spec.ts', 'contract/file.spec.ts'],
    projects: [...LOCAL, ...CONTRACT] },
  { id: 'create-existing-overwritten', area: 'create-session',
    description: 'a session for an existing file is accepted as a new version instead of being refused with 40004',
    catches: ['UPL-CREATE-007', 'FILE-UPLOAD-003'], specs: ['upload/create-session.spec.ts', 'contract/file.spec.ts'],
    projects: [...LOCAL, ...CONTRACT] },
  { id: 'remote-upload-url-missing', area: 'create-session',
    description: 'a remote-policy session answers an empty upload_urls: the slave\'s chunk URL is missing',
    catches: ['UPL-CREATE-004', 'UPL-CHUNK-001'], specs: ['upload/create-session.spec.ts', 'upload/chunks.spec.ts'], projects: REMOTE },

  // ---- chunk boundaries ----
  { id: 'chunk-length-unchecked', area: 'chunk-boundaries',
    description: 'a chunk of the wrong length (or none) is accepted and its bytes written as sent (master and slave)',
    catches: ['UPL-CHUNK-002', 'UPL-CHUNK-003', 'UPL-RECOVER-001', 'FILE-CHUNK-003'],
    specs: ['upload/chunks.spec.ts', 'upload/recovery.spec.ts', 'contract/file.spec.ts'], projects: [...BOTH, ...CONTRACT] },
  { id: 'chunk-index-unchecked', area: 'chunk-boundaries',
    description: 'a chunk index past the last chunk is accepted: its bytes are written past the end and it counts as received',
    catches: ['UPL-CHUNK-004', 'UPL-RECOVER-002', 'UPL-RECOVER-004', 'FILE-CHUNK-002'],
    specs: ['upload/chunks.spec.ts', 'upload/recovery.spec.ts', 'contract/file.spec.ts'], projects: [...BOTH, ...CONTRACT] },
  { id: 'chunk-index-lenient', area: 'chunk-boundaries',
    description: 'the chunk index is parsed leniently: negative, non-numeric or missing indexes become 0, "1.5" becomes 1',
    catches: ['UPL-CHUNK-005', 'UPL-CHUNK-006', 'UPL-CHUNK-007', 'UPL-RECOVER-002'],
    specs: ['upload/chunks.spec.ts', 'upload/recovery.spec.ts'], projects: BOTH },
  { id: 'chunk-wrong-offset', area: 'chunk-boundaries',
    description: 'every chunk after the first is stored one byte early (offset index·chunk_size − 1)',
    catches: ['UPL-CHUNK-001', 'UPL-CHUNK-008', 'UPL-CHUNK-009', 'UPL-FINISH-001'],
    specs: ['upload/chunks.spec.ts', 'upload/finish.spec.ts'], projects: BOTH },

  // ---- expiry ----
  { id: 'expiry-never', area: 'expiry',
    description: 'upload sessions never expire: chunks are taken after `expires` (master and slave)',
    catches: ['UPL-EXPIRY-002', 'UPL-EXPIRY-003'], specs: ['upload/expiry.spec.ts'], projects: BOTH },
  { id: 'expiry-immediate', area: 'expiry',
    description: 'a session expires at once: `expires` is the second before its creation',
    catches: ['UPL-CREATE-002', 'UPL-CHUNK-001', 'UPL-CREATE-004'], specs: ['upload/create-session.spec.ts', 'upload/chunks.spec.ts'], projects: BOTH },
  { id: 'expiry-wrong-code', area: 'expiry',
    description: 'a chunk for an expired session answers 40016 instead of 40011 (master and slave)',
    catches: ['UPL-EXPIRY-002'], specs: ['upload/expiry.spec.ts'], projects: BOTH },
  { id: 'expiry-ms', area: 'expiry',
    description: 'the session\'s `expires` is answered in milliseconds (it is enforced in seconds)',
    catches: ['UPL-CREATE-002', 'UPL-CREATE-004', 'UPL-EXPIRY-001'], specs: ['upload/create-session.spec.ts'], projects: BOTH },

  // ---- finishing ----
  { id: 'finish-on-highest-index', area: 'finish',
    description: 'the upload completes when the highest index arrives, whether or not the other chunks did (master and slave)',
    catches: ['UPL-CHUNK-008', 'UPL-CONC-004'], specs: ['upload/chunks.spec.ts', 'upload/concurrency.spec.ts'], projects: BOTH },
  { id: 'finish-session-kept', area: 'finish',
    description: 'a finished upload\'s session stays open: later chunks are accepted and overwrite the finished file',
    catches: ['UPL-FINISH-002', 'FILE-CHUNK-001'], specs: ['upload/finish.spec.ts', 'contract/file.spec.ts'],
    projects: [...BOTH, ...CONTRACT] },
  { id: 'finish-metadata-dropped', area: 'finish',
    description: 'the metadata sent with the session is not set when the upload finishes',
    catches: ['UPL-FINISH-003'], specs: ['upload/finish.spec.ts'], projects: BOTH },

  // ---- cancelling ----
  { id: 'cancel-keeps-placeholder', area: 'cancel',
    description: 'cancelling drops the session and its bytes but leaves the placeholder file in the folder',
    catches: ['UPL-CANCEL-001', 'UPL-CANCEL-007', 'FILE-UPLOADDEL-001'], specs: ['upload/cancel.spec.ts', 'contract/file.spec.ts'],
    projects: [...LOCAL, ...CONTRACT] },
  { id: 'cancel-keeps-quota', area: 'cancel',
    description: 'cancelling does not release the quota the session charged',
    catches: ['UPL-CANCEL-002', 'UPL-CANCEL-003', 'FILE-UPLOADDEL-001'], specs: ['upload/cancel.spec.ts', 'contract/file.spec.ts'],
    projects: [...LOCAL, ...CONTRACT] },
  { id: 'cloud-cancel-skips-provider', area: 'cancel',
    description: 'cloud policies: a cancel removes the placeholder but never aborts the provider\'s multipart upload',
    catches: ['UPL-CLOUD-009', 'UPL-CLOUD-010', 'UPL-CLOUD-013'], specs: ['upload/cloud.spec.ts'], projects: ['upload-s3', 'upload-cos'] },
  { id: 'cancel-skips-slave', area: 'cancel',
    description: 'remote: cancel (and deleting the entity) never reaches the slave: its session and partial file stay',
    catches: ['UPL-CANCEL-003', 'UPL-CANCEL-006', 'UPL-EXPIRY-004'], specs: ['upload/cancel.spec.ts', 'upload/expiry.spec.ts'], projects: REMOTE },

  // ---- small files (PUT /file/content) ----
  { id: 'content-stale-previous-accepted', area: 'small-files',
    description: 'PUT /file/content with a stale `previous` overwrites the current version instead of answering 40076',
    catches: ['UPL-SMALL-005', 'FILE-CONTENT-002'], specs: ['upload/small-files.spec.ts', 'contract/file.spec.ts'],
    projects: [...LOCAL, ...CONTRACT] },
  { id: 'content-ignores-upload-lock', area: 'small-files',
    description: 'PUT /file/content overwrites a file whose upload session is pending (no 40073), killing the upload',
    catches: ['UPL-SMALL-006'], specs: ['upload/small-files.spec.ts'], projects: LOCAL },

  // ---- recovery ----
  { id: 'rejected-chunk-counted', area: 'recovery',
    description: 'a chunk\'s index is recorded before its length is checked: when the last missing chunk is first refused, the upload never completes',
    catches: ['UPL-RECOVER-001'], specs: ['upload/recovery.spec.ts'], projects: LOCAL },
  { id: 'rejected-chunk-written', area: 'recovery',
    description: 'a chunk\'s body is written before its length is checked: a refused chunk\'s bytes stay in the file (master and slave)',
    catches: ['UPL-RECOVER-001'], specs: ['upload/recovery.spec.ts'], projects: BOTH },

  // ---- concurrency ----
  { id: 'chunk-received-lost-update', area: 'concurrency',
    description: 'the set of received chunks is read before a chunk is written and stored after: parallel chunks lose each other (master and slave)',
    catches: ['UPL-CONC-004'], specs: ['upload/concurrency.spec.ts'], projects: BOTH },

  // ---- security ----
  { id: 'chunk-owner-unchecked', area: 'security',
    description: 'the master takes a chunk from anyone: another user or an anonymous caller',
    catches: ['UPL-SEC-002', 'UPL-SEC-005', 'UPL-RECOVER-003'], specs: ['upload/security.spec.ts', 'upload/recovery.spec.ts'], projects: LOCAL },
  { id: 'slave-credential-unchecked', area: 'security',
    description: 'the slave takes a chunk without checking its credential (missing, forged, expired, unprefixed)',
    catches: ['UPL-SEC-002', 'UPL-SEC-005', 'UPL-SEC-007', 'UPL-SEC-008', 'UPL-SEC-009', 'UPL-SEC-010', 'UPL-RECOVER-003'],
    specs: ['upload/security.spec.ts', 'upload/recovery.spec.ts'], projects: REMOTE },
  { id: 'cloud-callback-unverified', area: 'security',
    description: 'cloud callbacks complete the upload after the session checks alone: no HEAD and size check (s3), no provider signature (oss)',
    catches: ['UPL-CLOUD-005', 'UPL-CLOUD-008'], specs: ['upload/cloud.spec.ts'], projects: ['upload-s3', 'upload-oss'] },
  { id: 'cloud-callback-type-unchecked', area: 'security',
    description: 'a cloud callback route takes a session of another policy type (no 40006)',
    catches: ['UPL-CLOUD-011'], specs: ['upload/cloud.spec.ts'], projects: ['upload-ks3'] },
  { id: 'callback-secret-unchecked', area: 'security',
    description: 'upload callbacks (remote and cloud) do not compare the callback secret',
    catches: ['UPL-SEC-013', 'CALLBACK-OBS-002', 'CALLBACK-ONEDRIVE-002', 'CALLBACK-COS-002', 'CALLBACK-S3-002'],
    specs: ['upload/security.spec.ts', 'contract/callback.spec.ts'], projects: [...BOTH, ...CONTRACT] },
  { id: 'callback-signature-unchecked', area: 'security',
    description: 'the master completes a remote upload on a callback that carries no node signature',
    catches: ['UPL-SEC-014'], specs: ['upload/security.spec.ts'], projects: REMOTE },
  { id: 'callback-replay-accepted', area: 'security',
    description: 'a completion callback for an upload that already finished is accepted again (code 0) instead of 40011',
    catches: ['UPL-SEC-013', 'UPL-SEC-014', 'UPL-SEC-015', 'UPL-FINISH-002'], specs: ['upload/security.spec.ts', 'upload/finish.spec.ts'], projects: REMOTE },
  { id: 'uri-dotdot-escapes', area: 'security',
    description: 'a uri whose `..` climbs above the root leaves the user\'s space: it resolves in the site\'s first user\'s root',
    catches: ['UPL-SEC-011'], specs: ['upload/security.spec.ts'], projects: LOCAL },
  { id: 'uri-owner-unchecked', area: 'security',
    description: '`cloudreve://<other user>@my/…` resolves in that user\'s space for anyone (no 403)',
    catches: ['UPL-SEC-004', 'UPL-SEC-006', 'UPL-SEC-012'], specs: ['upload/security.spec.ts'], projects: LOCAL },
  { id: 'secret-echoed-in-error', area: 'security',
    description: 'a callback with a wrong secret is refused, but the error message names the right secret',
    catches: ['UPL-SEC-013', 'CALLBACK-OBS-002', 'CALLBACK-ONEDRIVE-002', 'CALLBACK-COS-002', 'CALLBACK-S3-002'],
    specs: ['upload/security.spec.ts', 'contract/callback.spec.ts'], projects: [...LOCAL, ...CONTRACT] },

  // ---- envelope and contract shape ----
  { id: 'envelope-no-msg', area: 'contract-shape',
    description: 'success envelopes have no `msg`',
    catches: ['SITE-PING-001', 'SITE-CONFIG-001'], specs: ['contract/site.spec.ts'], projects: CONTRACT },
  { id: 'data-wrong-type', area: 'contract-shape',
    description: 'GET /user/capacity answers `used` as a string',
    catches: ['USER-CAPACITY-001'], specs: ['contract/user.spec.ts'], projects: CONTRACT },
  { id: 'callback-status-200', area: 'contract-shape',
    description: 'a refused upload callback answers HTTP 200 instead of 401',
    catches: ['UPL-SEC-013', 'UPL-SEC-014', 'CALLBACK-OBS-001', 'CALLBACK-OBS-002', 'CALLBACK-ONEDRIVE-001', 'CALLBACK-COS-001', 'CALLBACK-S3-001'],
    specs: ['upload/security.spec.ts', 'contract/callback.spec.ts'], projects: [...LOCAL, ...CONTRACT] },

  // ---- sign-in and tokens ----
  { id: 'wrong-password-accepted', area: 'auth-session',
    description: 'any password signs in to an existing account',
    catches: ['SESSION-TOKEN-002'], specs: ['contract/session.spec.ts'], projects: CONTRACT },
  { id: 'refresh-token-as-access', area: 'auth-session',
    description: 'a refresh token is accepted as the bearer access token',
    catches: ['SESSION-REFRESH-002', 'SESSION-REFRESH-003', 'SESSION-TOKEN-001'], specs: ['contract/session.spec.ts'], projects: CONTRACT },
  { id: 'signout-keeps-refresh', area: 'auth-session',
    description: 'signing out does not revoke the refresh token family',
    catches: ['SESSION-SIGNOUT-001'], specs: ['contract/session.spec.ts'], projects: CONTRACT },

  // ---- files ----
  { id: 'listing-wrong-size', area: 'files',
    description: 'folder listings report every file one byte larger than it is (GET /file/info is right)',
    catches: ['FILE-LIST-001', 'FILE-UPLOAD-001', 'UPL-CREATE-005'], specs: ['contract/file.spec.ts', 'upload/create-session.spec.ts'],
    projects: [...LOCAL, ...CONTRACT] },
  { id: 'hard-delete-keeps-quota', area: 'files',
    description: 'deleting a file for good (skip_soft_delete, or from the trash) does not free its bytes',
    catches: ['FILE-DELETE-002'], specs: ['contract/file.spec.ts'], projects: CONTRACT },
] as const satisfies readonly FaultProfile[];

export type FaultId = (typeof PROFILES)[number]['id'];

/** Every fault profile, in the order of the areas. */
export const FAULTS: readonly FaultProfile[] = PROFILES;

const KNOWN = new Set<string>(PROFILES.map((p) => p.id));

/** Whether a fault is switched on. Call sites name the fault literally, so a typo does not compile. */
export function fault(faults: ReadonlySet<string>, id: FaultId): boolean {
  return faults.size > 0 && faults.has(id);
}

/** The set of faults to switch on; an unknown name is an error (a typo must not silently test a correct server). */
export function checkedFaults(names: readonly string[] = []): ReadonlySet<string> {
  const unknown = names.filter((n) => !KNOWN.has(n));
  if (unknown.length) throw new Error(`unknown fault profile(s): ${unknown.join(', ')}; known: ${[...KNOWN].join(', ')}`);
  return new Set(names);
}
