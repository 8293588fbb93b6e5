// Workflow routes (service/explorer/workflows.go): the caller's task list and a task's live progress, archive and
// extract tasks (group permission archive_task), remote downloads (remote_download; no downloader runs here, so a
// download task fails), and the admin's import of physical files.
import type { FastifyInstance } from 'fastify';
import { AppError, Code } from '../envelope.js';
import { Kind } from '../hashid.js';
import { bind, bindQuery, jsonBody, register, type Ctx, type Services } from '../http.js';
import { hasBit, Perm } from '../state.js';
import { extrasOf, type TaskRow } from '../extras.js';
import { parseUri } from '../uri.js';
import { prepareUpload, rollback } from '../uploads.js';
import { importDst, isLive, newTask, runCreateArchive, runExtract, runImport, schedule, taskView } from '../tasks.js';

const GENERAL = ['create_archive', 'extract_archive', 'relocate', 'import'];

/** serializer.NewError(CodeParamErr, msg, err): the wrapped error's code wins, the message is the outer one. */
function wrapped<T>(msg: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AppError) throw new AppError(e.code, msg);
    throw e;
  }
}

export function workflowRoutes(app: FastifyInstance, svc: Services): void {
  const { st, fs } = svc;
  const x = extrasOf(st);

  const taskParam = (c: Ctx): number => {
    const id = st.hash.decode(Kind.Task, (c.req.params as { id: string }).id);
    if (id === undefined) throw new AppError(Code.ParamErr, 'Failed to parse object ID');
    return id;
  };
  /** The task registry holds the tasks that have not finished. */
  const registered = (id: number): TaskRow | undefined => {
    const t = x.tasks.get(id);
    return t && isLive(t) ? t : undefined;
  };

  register(app, svc, 'GET', '/workflow', 'user', async (c) => {
    const q = bindQuery(c, [
      { key: 'page_size', name: 'PageSize', kind: 'int', required: true, min: 10, max: 100 },
      { key: 'category', name: 'Category', kind: 'string', required: true,
        check: (v) => ['general', 'downloading', 'downloaded'].includes(v as string) },
      { key: 'next_page_token', name: 'NextPageToken', kind: 'string' },
    ]);
    let tasks = [...x.tasks.values()].filter((t) => t.ownerId === c.caller!.id);
    let pageSize: number = q.page_size;
    if (q.category === 'general') tasks = tasks.filter((t) => GENERAL.includes(t.type));
    else {
      tasks = tasks.filter((t) => t.type === 'remote_download');
      if (q.category === 'downloading') {
        pageSize = Number.MAX_SAFE_INTEGER;
        tasks = tasks.filter((t) => ['suspending', 'processing', 'queued'].includes(t.status));
      } else tasks = tasks.filter((t) => ['canceled', 'error', 'completed'].includes(t.status));
    }
    tasks.sort((a, b) => b.id - a.id);
    if (q.next_page_token) {
      const after = Number(Buffer.from(q.next_page_token, 'base64url').toString());
      if (!Number.isInteger(after)) throw new AppError(Code.DBError, 'Failed to query tasks');
      tasks = tasks.filter((t) => t.id < after);
    }
    const page = tasks.slice(0, pageSize);
    const pagination: Record<string, unknown> = { page: 0, page_size: q.page_size };
    if (tasks.length > pageSize) pagination.next_token = Buffer.from(String(page.at(-1)!.id)).toString('base64url');
    pagination.is_cursor = true;
    return { tasks: page.map((t) => taskView(svc, t)), pagination };
  });

  register(app, svc, 'GET', '/workflow/progress/:id', 'user', async (c) => {
    const t = registered(taskParam(c));
    if (!t || (t.ownerId !== c.caller!.id && !st.isAdmin(c.caller))) return {};
    return t.progress;
  });

  const archiveBody = (c: Ctx) => bind(jsonBody(c), [
    { key: 'src', name: 'Src', kind: 'strings', required: true },
    { key: 'dst', name: 'Dst', kind: 'string', required: true },
    { key: 'encoding', name: 'Encoding', kind: 'string' },
    { key: 'password', name: 'Password', kind: 'string' },
    { key: 'file_mask', name: 'FileMask', kind: 'strings' },
  ]);
  const archivePermission = (c: Ctx) => {
    if (!hasBit(st.groupOf(c.caller!).permissions, Perm.ArchiveTask)) {
      throw new AppError(Code.GroupNotAllowed, 'Group not allowed to compress files');
    }
  };

  register(app, svc, 'POST', '/workflow/archive', 'user', async (c) => {
    const b = archiveBody(c);
    archivePermission(c);
    const dst = parseUri(b.dst);
    if (!dst) throw new AppError(Code.ParamErr, 'Invalid destination');
    // The destination must take a new file: a placeholder is prepared and dropped at once.
    const p = prepareUpload(svc, c.caller, dst, { size: 0, entityType: '' });
    await rollback(svc, p);
    const owner = c.caller!;
    const t = newTask(svc, owner, 'create_archive', { dst: b.dst, failed: 0, src_multiple: b.src });
    schedule(svc, t, (task) => runCreateArchive(svc, owner, task, b.src, b.dst));
    return taskView(svc, t);
  });

  register(app, svc, 'POST', '/workflow/extract', 'user', async (c) => {
    const b = archiveBody(c);
    archivePermission(c);
    const dst = parseUri(b.dst);
    if (!dst) throw new AppError(Code.ParamErr, 'Invalid destination');
    if (!b.src.length) throw new AppError(Code.ParamErr, 'No source files');
    wrapped('Invalid destination', () => fs.get(c.caller, dst, ['my']));
    const owner = c.caller!;
    const src: string = b.src[0];
    const t = newTask(svc, owner, 'extract_archive', { dst: b.dst, src });
    schedule(svc, t, (task) => runExtract(svc, owner, task, src, b.dst));
    return taskView(svc, t);
  });

  register(app, svc, 'POST', '/workflow/download', 'user', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'src', name: 'Src', kind: 'strings' },
      { key: 'src_file', name: 'SrcFile', kind: 'string' },
      { key: 'dst', name: 'Dst', kind: 'string', required: true },
    ]);
    const group = st.groupOf(c.caller!);
    if (!hasBit(group.permissions, Perm.RemoteDownload)) throw new AppError(Code.GroupNotAllowed, 'Group not allowed to download files');
    const srcs: string[] = b.src ?? [];
    if (!b.src_file && !srcs.length) throw new AppError(Code.ParamErr, 'No source files');
    if (b.src_file && srcs.length) throw new AppError(Code.ParamErr, 'Invalid source files');
    const dst = parseUri(b.dst);
    if (!dst) throw new AppError(Code.ParamErr, 'Invalid destination');
    wrapped('Invalid destination', () => fs.get(c.caller, dst, ['my']));
    const limit = Number(group.settings.aria2_batch ?? 0);
    if (limit > 0 && srcs.length > limit) throw new AppError(Code.BatchAria2Size, '');
    if (b.src_file) {
      const src = parseUri(b.src_file);
      if (!src) throw new AppError(Code.ParamErr, 'Invalid source file uri');
      wrapped('Invalid source file', () => fs.get(c.caller, src));
    }
    const owner = c.caller!;
    const out: Record<string, unknown>[] = [];
    for (const src of [...srcs.filter((s) => s !== ''), ...(b.src_file ? [''] : [])]) {
      const t = newTask(svc, owner, 'remote_download',
        { download: null, dst: b.dst, failed: 0, src: src ? '' : b.src_file, src_str: src });
      // No downloader (aria2 / qBittorrent) is configured: the real 4.18.0 task fails a few seconds later with a
      // nil-pointer panic, recorded as the task's error.
      schedule(svc, t, async () => {
        throw new Error('panic error: runtime error: invalid memory address or nil pointer dereference');
      }, 3000);
      out.push(taskView(svc, t));
    }
    return out;
  });

  register(app, svc, 'PATCH', '/workflow/download/:id', 'user', async (c) => {
    const id = taskParam(c);
    bind(jsonBody(c), [{ key: 'files', name: 'Files', kind: 'any', required: true }]);
    const t = registered(id);
    if (!t || t.ownerId !== c.caller!.id) throw new AppError(Code.NotFound, 'Task not found');
    if (t.status !== 'suspending' && t.status !== 'processing') throw new AppError(Code.NotFound, 'Task not in processing state');
    // Only a remote download in its monitoring phase takes a file selection; none ever gets there here.
    throw new AppError(Code.NotFound, 'Task not in monitoring loop');
  });

  register(app, svc, 'DELETE', '/workflow/download/:id', 'user', async (c) => {
    const t = registered(taskParam(c));
    if (!t || t.ownerId !== c.caller!.id) throw new AppError(Code.NotFound, 'Task not found');
    if (t.type === 'remote_download') {
      t.status = 'canceled';
      t.updatedAt = new Date();
    }
    return undefined;
  });

  register(app, svc, 'POST', '/workflow/import', 'admin', async (c) => {
    const b = bind(jsonBody(c), [
      { key: 'src', name: 'Src', kind: 'string', required: true },
      { key: 'dst', name: 'Dst', kind: 'string', required: true },
      { key: 'extract_media_meta', name: 'ExtractMediaMeta', kind: 'bool' },
      { key: 'user_id', name: 'UserID', kind: 'string', required: true },
      { key: 'recursive', name: 'Recursive', kind: 'bool' },
      { key: 'policy_id', name: 'PolicyID', kind: 'int', required: true },
    ]);
    const uid = st.hash.decode(Kind.User, b.user_id);
    if (uid === undefined) throw new AppError(Code.ParamErr, 'Invalid user id');
    const owner = st.users.get(uid);
    if (!owner || owner.status !== 'active') throw new AppError(Code.DBError, 'Failed to get user');
    const dst = importDst(b.user_id, b.dst);
    const t = newTask(svc, owner, 'import', { dst, dst_policy_id: st.hash.encode(Kind.Policy, b.policy_id), failed: 0, src_str: b.src },
      false);
    schedule(svc, t, (task) => runImport(svc, owner, task, b.src, dst, b.policy_id, !!b.recursive));
    return taskView(svc, t);
  });
}
