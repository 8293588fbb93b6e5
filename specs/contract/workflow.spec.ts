// Contract specs of the 工作流 (workflow) group: task list and progress, archive / extract tasks (group permission
// archive_task, granted through the admin API), remote downloads (aria2 / qBittorrent), relocation (Pro) and the
// admin's import of external files.
import { test, expect } from '../../fixtures/target.js';
import { expectCode } from '../../harness/expect.js';
import { unwrap, type CloudreveClient, type Schemas } from '../../harness/client/index.js';
import {
  Code, Perm, adminGroupIdOf, bareClient, createFolder, fileInfo, isPro, listAll, ok, proOnly, unique, userHasPermission,
  waitForTask, withGroupPermissions, writeFile, zip, zipEntryNames, downloadFile, findTask, policyOf, uploadBytes, bytesOf,
} from './support.js';

const NO_DOWNLOADER = 'needs a remote downloader (aria2 or qBittorrent) configured on a node';

/** Writes two small files into `folder` and queues an archive of them at `dst`. */
async function queueArchive(user: CloudreveClient, folder: string, dst: string): Promise<Schemas['TaskResponse']> {
  await createFolder(user, folder);
  await writeFile(user, `${folder}/a.txt`, 'alpha');
  await writeFile(user, `${folder}/b.txt`, 'bravo!');
  return ok(await user.POST('/workflow/archive', { body: { src: [`${folder}/a.txt`, `${folder}/b.txt`], dst } }));
}

test.describe('workflow', () => {
  test('WORKFLOW-LIST-001 lists the user\'s tasks in each category', { annotation: [{ type: 'operation', description: 'listTasks' }] },
    async ({ user }) => {
      for (const category of ['general', 'downloading', 'downloaded'] as const) {
        const data = ok(await user.GET('/workflow', { params: { query: { page_size: 10, category } } }));
        expect(data.tasks === null || Array.isArray(data.tasks), `${category}: tasks`).toBe(true);
        for (const t of data.tasks ?? []) {
          if (category === 'general') expect(['create_archive', 'extract_archive', 'relocate', 'import']).toContain(t.type);
          else expect(t.type).toBe('remote_download');
        }
      }
    });

  test('WORKFLOW-LIST-002 refuses an anonymous caller with 401', { annotation: [{ type: 'operation', description: 'listTasks' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.GET('/workflow', { params: { query: { page_size: 10, category: 'general' } } }), Code.CheckLogin);
    });

  test('WORKFLOW-LIST-003 refuses an unknown category with 40001', { annotation: [{ type: 'operation', description: 'listTasks' }] },
    async ({ target, makeTransport, sessions }) => {
      const raw = bareClient(target, makeTransport({ requestValidation: 'off' }));
      sessions.user!.attach(raw);
      expectCode(await raw.GET('/workflow', { params: { query: { page_size: 10, category: 'everything' as never } } }), Code.ParamErr);
    });

  test('WORKFLOW-ARCHIVE-001 archives files into a zip at the destination; the task is listed as completed',
    { annotation: [{ type: 'operation', description: 'createArchive' }, { type: 'operation', description: 'listTasks' }] },
    async ({ user, admin, sandbox, target, makeTransport }) => {
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      await withGroupPermissions(admin, groupId, [Perm.archiveTask], async () => {
        const dst = sandbox.uri('out.zip');
        const task = await queueArchive(user, sandbox.uri('src'), dst);
        expect(task.type).toBe('create_archive');
        expect(['queued', 'processing', 'completed']).toContain(task.status);
        const done = await waitForTask(user, task.id);
        expect(done.status, done.error ?? '').toBe('completed');
        const info = await fileInfo(user, dst);
        expect(info.type).toBe(0);
        expect(info.size).toBeGreaterThan(0);
        const names = zipEntryNames(await downloadFile(user, makeTransport(), target, dst));
        expect(names.map((n) => n.replace(/^.*\//, '')).sort()).toEqual(['a.txt', 'b.txt']);
      });
    });

  test('WORKFLOW-ARCHIVE-002 refuses a group without the archive permission with 40007', { annotation: [{ type: 'operation', description: 'createArchive' }] },
    async ({ user, sandbox }) => {
      test.skip(await userHasPermission(user, Perm.archiveTask), 'the user\'s group has the archive_task permission on this target');
      await writeFile(user, sandbox.uri('a.txt'), 'alpha');
      expectCode(await user.POST('/workflow/archive', { body: { src: [sandbox.uri('a.txt')], dst: sandbox.uri('out.zip') } }), Code.GroupNotAllowed);
    });

  test('WORKFLOW-EXTRACT-001 extracts a zip into the destination folder', { annotation: [{ type: 'operation', description: 'extractArchive' }] },
    async ({ user, admin, sandbox, target }) => {
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      await withGroupPermissions(admin, groupId, [Perm.archiveTask], async () => {
        const archive = sandbox.uri('in.zip');
        await uploadBytes(user, archive, zip([
          { name: 'hello.txt', data: bytesOf('hello world') },
          { name: 'docs/' },
          { name: 'docs/readme.md', data: bytesOf('# readme\n') },
        ]), await policyOf(user, sandbox.root));
        const dst = sandbox.uri('extracted');
        await createFolder(user, dst);
        const task = ok(await user.POST('/workflow/extract', { body: { src: [archive], dst } }));
        expect(task.type).toBe('extract_archive');
        const done = await waitForTask(user, task.id);
        expect(done.status, done.error ?? '').toBe('completed');
        const top = await listAll(user, dst);
        expect(top.find((f) => f.name === 'hello.txt')?.size).toBe(11);
        expect(top.find((f) => f.name === 'docs')?.type).toBe(1);
        expect((await listAll(user, `${dst}/docs`)).find((f) => f.name === 'readme.md')?.size).toBe(9);
      });
    });

  test('WORKFLOW-EXTRACT-002 refuses a group without the archive permission with 40007', { annotation: [{ type: 'operation', description: 'extractArchive' }] },
    async ({ user, sandbox }) => {
      test.skip(await userHasPermission(user, Perm.archiveTask), 'the user\'s group has the archive_task permission on this target');
      await writeFile(user, sandbox.uri('in.zip'), zip([{ name: 'x.txt', data: bytesOf('x') }]));
      expectCode(await user.POST('/workflow/extract', { body: { src: [sandbox.uri('in.zip')], dst: sandbox.root } }), Code.GroupNotAllowed);
    });

  test('WORKFLOW-PROGRESS-001 reports a task\'s progress to its owner and nothing to another user',
    { annotation: [{ type: 'operation', description: 'getTaskProgress' }] }, async ({ user, user2, admin, sandbox, target }) => {
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      await withGroupPermissions(admin, groupId, [Perm.archiveTask], async () => {
        const task = await queueArchive(user, sandbox.uri('src'), sandbox.uri('progress.zip'));
        const progress = ok(await user.GET('/workflow/progress/{id}', { params: { path: { id: task.id } } }));
        expect(typeof progress).toBe('object');
        for (const [k, p] of Object.entries(progress)) {
          expect(p.current, k).toBeGreaterThanOrEqual(0);
          expect(p.total, k).toBeGreaterThanOrEqual(0);
        }
        expect(ok(await user2.GET('/workflow/progress/{id}', { params: { path: { id: task.id } } }))).toEqual({});
        // Not waiting for the task to end: a real server's queue may take long; the sandbox sweep removes its output.
      });
    });

  test('WORKFLOW-PROGRESS-002 refuses an anonymous caller with 401', { annotation: [{ type: 'operation', description: 'getTaskProgress' }] },
    async ({ anonymous }) => {
      expectCode(await anonymous.GET('/workflow/progress/{id}', { params: { path: { id: 'x' } } }), Code.CheckLogin);
    });

  test('WORKFLOW-DOWNLOAD-001 creates remote download tasks, one per source', { annotation: [{ type: 'operation', description: 'createRemoteDownload' }] },
    async () => {
      test.skip(true, NO_DOWNLOADER);
    });

  test('WORKFLOW-DOWNLOAD-002 refuses a group without the remote download permission with 40007',
    { annotation: [{ type: 'operation', description: 'createRemoteDownload' }] }, async ({ user, sandbox }) => {
      test.skip(await userHasPermission(user, Perm.remoteDownload), 'the user\'s group has the remote_download permission on this target');
      expectCode(await user.POST('/workflow/download', { body: { dst: sandbox.root, src: ['http://127.0.0.1:9/nothing.bin'] } }), Code.GroupNotAllowed);
      expect(await listAll(user, sandbox.root)).toEqual([]);
    });

  test('WORKFLOW-SELECT-001 selects the files of a torrent download', { annotation: [{ type: 'operation', description: 'selectDownloadFiles' }] },
    async () => {
      test.skip(true, `${NO_DOWNLOADER}, downloading a torrent`);
    });

  test('WORKFLOW-SELECT-002 answers 404 for a task that is not the caller\'s download', { annotation: [{ type: 'operation', description: 'selectDownloadFiles' }] },
    async ({ user, user2, admin, sandbox, target }) => {
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      await withGroupPermissions(admin, groupId, [Perm.archiveTask], async () => {
        const task = await queueArchive(user, sandbox.uri('src'), sandbox.uri('select.zip'));
        expectCode(await user2.PATCH('/workflow/download/{id}', { params: { path: { id: task.id } }, body: { files: [{ index: 0, download: false }] } }),
          Code.NotFound);
        // Not waiting for the archive to end: it is not a download, and a real server's queue may take long.
      });
    });

  test('WORKFLOW-CANCEL-001 cancels a remote download', { annotation: [{ type: 'operation', description: 'cancelDownloadTask' }] },
    async () => {
      test.skip(true, NO_DOWNLOADER);
    });

  test('WORKFLOW-CANCEL-002 answers 404 for another user\'s task', { annotation: [{ type: 'operation', description: 'cancelDownloadTask' }] },
    async ({ user, user2, admin, sandbox, target }) => {
      const groupId = await adminGroupIdOf(admin, target.identities.user!.email);
      await withGroupPermissions(admin, groupId, [Perm.archiveTask], async () => {
        const task = await queueArchive(user, sandbox.uri('src'), sandbox.uri('cancel.zip'));
        expectCode(await user2.DELETE('/workflow/download/{id}', { params: { path: { id: task.id } } }), Code.NotFound);
        test.setTimeout(120_000); // a real server's task queue took 25 s for this archive
        const done = await waitForTask(user, task.id, 90_000);
        expect(done.status, 'another user could not cancel it').toBe('completed');
      });
    });

  test('WORKFLOW-RELOCATE-001 relocates files to another storage policy', { annotation: [{ type: 'operation', description: 'relocateStoragePolicy' }] },
    async ({ target }) => {
      test.skip(!isPro(target), proOnly(target));
      test.skip(true, 'needs a second storage policy the user may use');
    });

  test('WORKFLOW-IMPORT-001 an admin queues an import task owned by the target user', { annotation: [{ type: 'operation', description: 'importExternalFiles' }] },
    async ({ admin, user, sessions, sandbox }) => {
      const policies = unwrap(await admin.POST('/admin/policy', { body: { page: 1, page_size: 50 } }), 'list policies') as Schemas['AdminListResponsePolicies'];
      const local = (policies.policies ?? []).find((p) => p.type === 'local');
      test.skip(!local, 'needs a local storage policy to import from');
      const dst = sandbox.uri('imported');
      const task = ok(await admin.POST('/workflow/import', { body: {
        src: `/conformance-missing-${unique('src')}`, dst, user_id: sessions.user!.user!.id, policy_id: local!.id, recursive: true,
      } }));
      expect(task.type).toBe('import');
      // The task belongs to the user the files are imported for: it shows in that user's task list.
      const listed = await findTask(user, task.id);
      expect(listed?.type).toBe('import');
      const done = await waitForTask(user, task.id);
      expect(['completed', 'error']).toContain(done.status);
      expect(await listAll(user, sandbox.root), 'nothing was imported from a missing folder').toEqual([]);
    });

  test('WORKFLOW-IMPORT-002 refuses a non-admin with 403', { annotation: [{ type: 'operation', description: 'importExternalFiles' }] },
    async ({ user, sessions, sandbox }) => {
      expectCode(await user.POST('/workflow/import', { body: { src: '/', dst: sandbox.root, user_id: sessions.user!.user!.id, policy_id: 1 } }),
        Code.NoPermissionErr);
    });
});
