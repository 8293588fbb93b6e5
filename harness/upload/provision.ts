// With an admin identity the harness makes its own upload environment for a policy, through the admin API only:
// a storage policy of that type (small chunks, so chunk boundaries are cheap), a group that uses it with a known
// quota, and two users in the group. Everything is named after the run and removed at the end.
import { registerSecret } from '../secrets.js';
import { Code } from '../../contracts/generated/error-codes.js';
import { unwrap, type CloudreveClient, type Credentials, type Schemas } from '../client/index.js';
import type { CapabilityProfile } from './profiles.js';
import type { ProviderPolicyFields } from './provider-world.js';

type AdminPolicy = Schemas['AdminStoragePolicy'];

export interface SlaveNode { url: string; secret: string }

export interface PolicyEnvironment {
  profile: CapabilityProfile;
  policyId: number;
  groupId: number;
  /** Quota of the group, bytes. */
  quota: number;
  chunkSize: number;
  uploader: Credentials;
  other: Credentials;
  nodeId?: number;
}

export interface ProvisionOptions {
  runId: string;
  chunkSize: number;
  quota: number;
  /** For the remote policy: the slave node to register. */
  slave?: SlaveNode;
  /** For cloud policies: the fields that point the policy at the provider (its emulator, see provider-world.ts). */
  provider?: ProviderPolicyFields;
}

function policyBody(profile: CapabilityProfile, name: string, options: ProvisionOptions, nodeId?: number): Record<string, unknown> {
  const common = { name, type: profile.policyType, max_size: 0, dir_name_rule: 'uploads/{uid}/{path}',
    // pre_allocate as on Cloudreve's default policy: without it a chunk past the written end fails (50004), so chunks
    // could not arrive out of order or in parallel.
    file_name_rule: '{uid}_{randomkey8}_{originname}', settings: { chunk_size: options.chunkSize, pre_allocate: true } };
  if (profile.policy === 'local') return common;
  if (profile.policy === 'remote') return { ...common, server: options.slave!.url, node_id: nodeId, edges: {} };
  const p = options.provider;
  if (!p) throw new Error(`the ${profile.policy} policy needs its provider's endpoint and keys`);
  return { ...common, server: p.server, bucket_name: p.bucket_name, access_key: p.access_key, secret_key: p.secret_key,
    is_private: true, settings: { ...p.settings, chunk_size: options.chunkSize } };
}

/**
 * Removes a policy. A real server recycles the blobs of deleted files asynchronously and refuses to delete a policy
 * that still has entities (40037): those of our policy are force-deleted and the removal tried again, for a while.
 */
async function removePolicy(admin: CloudreveClient, id: number): Promise<void> {
  const remove = () => admin.DELETE('/admin/policy/{id}', { params: { path: { id } } });
  let res = await remove();
  for (let attempt = 0; attempt < 20 && (res.data as { code?: number } | undefined)?.code === Code.PolicyUsedByFiles; attempt++) {
    const page = unwrap(await admin.POST('/admin/entity', { body: { page: 1, page_size: 100, conditions: { entity_policy: String(id) } } }),
      `list the entities of policy ${id}`) as { entities: { id: number }[] };
    const ids = page.entities.map((e) => e.id);
    // Success is an empty body (see the contract); an envelope is a failure.
    if (ids.length) await admin.POST('/admin/entity/batch/delete', { body: { ids, force: true } });
    await new Promise((r) => setTimeout(r, 500));
    res = await remove();
  }
  unwrap(res, `remove policy ${id}`);
}

/** Creates policy, group and users; returns the environment and a function that removes all of it. */
export async function provisionPolicy(admin: CloudreveClient, profile: CapabilityProfile, options: ProvisionOptions):
  Promise<{ env: PolicyEnvironment; remove: () => Promise<void> }> {
  const tag = `conformance-${options.runId}-${profile.policy}`;
  const undo: (() => Promise<void>)[] = [];
  const remove = async () => { for (const step of undo.reverse()) await step(); };
  try {
    if (options.provider) registerSecret(options.provider.secret_key);
    let nodeId: number | undefined;
    if (profile.policy === 'remote') {
      if (!options.slave) throw new Error('the remote policy needs a slave node');
      registerSecret(options.slave.secret);
      const node = unwrap(await admin.PUT('/admin/node', { body: { node: { name: `${tag}-slave`, type: 'slave', status: 'active',
        server: options.slave.url, slave_key: options.slave.secret, capabilities: 'AA==', settings: {}, weight: 1 } } as never }),
      'register the slave node') as { id: number };
      nodeId = node.id;
      undo.push(async () => { unwrap(await admin.DELETE('/admin/node/{id}', { params: { path: { id: node.id } } }), 'remove the slave node'); });
    }
    const policy = unwrap(await admin.PUT('/admin/policy', { body: { policy: policyBody(profile, tag, options, nodeId) } as never }),
      `create a ${profile.policy} policy`) as AdminPolicy;
    undo.push(async () => { await removePolicy(admin, policy.id); });

    // The group copies the default user group's permissions and settings, with our policy and quota.
    const template = unwrap(await admin.GET('/admin/group/{id}', { params: { path: { id: 2 } } }), 'read the default user group');
    const group = unwrap(await admin.PUT('/admin/group', { body: { group: { name: tag, max_storage: options.quota,
      permissions: template.permissions, settings: template.settings, edges: { storage_policies: { id: policy.id } } } } as never }),
    'create the upload group');
    undo.push(async () => { unwrap(await admin.DELETE('/admin/group/{id}', { params: { path: { id: group.id } } }), `remove group ${group.id}`); });

    const users: Credentials[] = [];
    const ids: number[] = [];
    for (const who of ['uploader', 'other']) {
      const cred = { email: `${tag}-${who}@conformance.test`.toLowerCase(), password: `pw-${crypto.randomUUID()}` };
      registerSecret(cred.password);
      const u = unwrap(await admin.PUT('/admin/user', { body: { user: { email: cred.email, nick: `${tag}-${who}`, status: 'active',
        group_users: group.id }, password: cred.password } as never }), `create the ${who} user`) as { id: number };
      users.push(cred);
      ids.push(u.id);
    }
    undo.push(async () => { unwrap(await admin.POST('/admin/user/batch/delete', { body: { ids } }), 'remove the upload users'); });
    return {
      env: { profile, policyId: policy.id, groupId: group.id, quota: options.quota, chunkSize: options.chunkSize,
        uploader: users[0]!, other: users[1]!, nodeId },
      remove,
    };
  } catch (e) {
    await remove().catch(() => undefined);
    throw e;
  }
}
