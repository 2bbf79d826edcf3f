import assert from 'node:assert/strict';
import { credentials, Metadata, type CallOptions, Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEventInput } from '../../../daemon/src/audit/types.js';
import { createWorkspaceModule } from '../../../daemon/src/git/grpc.js';
import { LokiError } from '../../../common/src/errors.js';
import { WorkspaceServiceClient } from '../../../proto/gen/loki/v1/workspace.js';
import { issuingVerifier } from '../../helpers/credentials.js';
import { agentGit, agentWrite, gitFixture, makeProject, silentLogger, tempDir, type GitFixture } from './helpers.js';

type Unary<Req, Res> = (req: Req, md: Metadata, options: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

function call<Req, Res>(client: WorkspaceServiceClient, method: Unary<Req, Res>, req: Req, md = new Metadata()): Promise<Res> {
  return new Promise((resolve, reject) => method.call(client, req, md, {}, (err, res) => (err ? reject(err) : resolve(res))));
}

function codeOf(err: unknown): { grpc: number; loki: unknown; message: string } {
  const se = err as ServiceError;
  return { grpc: se.code, loki: se.metadata?.get('x-loki-error-code')[0], message: se.details };
}

describe('WorkspaceService over a unix socket', () => {
  const creds = issuingVerifier();
  let fx: GitFixture;
  let server: Server;
  let admin: WorkspaceServiceClient;
  let gateway: WorkspaceServiceClient;
  let audits: AuditEventInput[];
  /** The audit log refuses entries of this action (a full disk), or runs this before recording them. */
  let refuse: string | undefined;
  let onRecord: ((e: AuditEventInput) => Promise<void>) | undefined;
  let project: string;
  let sockDir: string;

  beforeEach(async () => {
    fx = gitFixture();
    project = makeProject(fx.root);
    audits = [];
    refuse = undefined;
    onRecord = undefined;
    const record = async (e: AuditEventInput): Promise<void> => {
      if (e.action === refuse) throw new LokiError('unavailable', 'the audit log could not be written');
      await onRecord?.(e);
      audits.push(e);
    };
    const mod = createWorkspaceModule({ projects: fx.projects, workspaces: fx.workspaces, trail: fx.trail, stores: { learnings: fx.store.learnings }, audit: { record } });
    server = new Server();
    const gwServer = new Server();
    mod.register(server, { log: silentLogger(), listener: { role: 'local-admin', localUid: 0 } });
    mod.register(gwServer, { log: silentLogger(), listener: { role: 'gateway' }, trust: { verifier: creds } });
    sockDir = tempDir('loki-sock-');
    const adminSock = join(sockDir, 'admin.sock');
    const gwSock = join(sockDir, 'gw.sock');
    await new Promise<void>((res, rej) => server.bindAsync(`unix:${adminSock}`, ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
    await new Promise<void>((res, rej) => gwServer.bindAsync(`unix:${gwSock}`, ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
    const prevShutdown = server.forceShutdown.bind(server);
    server.forceShutdown = () => {
      gwServer.forceShutdown();
      prevShutdown();
    };
    admin = new WorkspaceServiceClient(`unix:${adminSock}`, credentials.createInsecure());
    gateway = new WorkspaceServiceClient(`unix:${gwSock}`, credentials.createInsecure());
  });

  afterEach(() => {
    admin?.close();
    gateway?.close();
    server?.forceShutdown();
    fx?.close();
    rmSync(sockDir, { recursive: true, force: true });
  });

  it('registers a project, creates a workspace and returns the diff of an agent commit, and audits the registration', async () => {
    const p = await call(admin, admin.registerProject, { path: project, name: 'demo', baseBranch: '', remote: '', protectedBranches: ['release/*'], alias: '' });
    assert.match(p.id, /^prj-[0-9a-f]{12}$/);
    assert.equal(p.baseBranch, 'main');
    assert.deepEqual(p.protectedBranches, ['release/*']);
    assert.equal(audits[0]?.action, 'project.register');
    assert.equal(audits[0]?.result, 'success');
    assert.equal(audits[0]?.user, 'local:0');

    const ws = await call(admin, admin.createWorkspace, { project: 'demo', sessionId: 'g1', pid: 321, agent: '' });
    assert.match(ws.branch, /^loki\/session-\d+-321-[0-9a-f]{8}$/);
    agentWrite(join(ws.path, 'x.txt'), 'x\ny\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'Add x');
    const d = await call(admin, admin.diff, { sessionId: 'g1' });
    assert.equal(d.filesChanged, 1);
    assert.equal(d.insertions, 2);
    assert.deepEqual(d.commits.map((c) => c.subject), ['Add x']);

    const log = await call(admin, admin.auditLog, { sessionId: 'g1', limit: 0 });
    assert.deepEqual(log.entries.map((e) => e.action), ['workspace_create']);
    const count = await call(admin, admin.auditCount, { sessionId: '' });
    assert.equal(count.total, 1);
    assert.deepEqual(count.bySession, { g1: 1 });
  });

  // Audited before it is made, as the registry's grants: an entry the log cannot write leaves no
  // workspace behind (before, the clone and its record stayed and the caller was told it failed).
  it('makes no workspace whose creation could not be audited', async () => {
    await call(admin, admin.registerProject, { path: project, name: 'demo', baseBranch: '', remote: '', protectedBranches: [], alias: '' });
    refuse = 'workspace.create';
    await assert.rejects(call(admin, admin.createWorkspace, { project: 'demo', sessionId: 'full', pid: 1, agent: '' }), (e: unknown) => codeOf(e).loki === 'unavailable');
    assert.equal(await fx.store.workspaces.get('full'), undefined, 'no workspace record');
    assert.equal(existsSync(join(fx.root, 'home', 'workspaces', 'full')), false, 'no clone');
    refuse = undefined;
    const ws = await call(admin, admin.createWorkspace, { project: 'demo', sessionId: 'full', pid: 1, agent: '' });
    const entry = audits.find((a) => a.action === 'workspace.create');
    assert.deepEqual(entry?.details, { project: ws.projectId, branch: ws.branch, base_commit: ws.baseCommit }, 'the entry names what was then made');
  });

  // A removal and a workspace of the same project, at the same time: the removal's check saw no
  // active workspace, the clone was under way, and the workspace was recorded on a removed project.
  it('records no workspace on a project removed while it was being made, and says so in the trail', async () => {
    await call(admin, admin.registerProject, { path: project, name: 'demo', baseBranch: '', remote: '', protectedBranches: [], alias: '' });
    const insert = fx.store.workspaces.insertUnlessTaken.bind(fx.store.workspaces);
    let removed: Promise<unknown> | undefined;
    fx.store.workspaces.insertUnlessTaken = async (w) => {
      removed = call(admin, admin.removeProject, { project: 'demo' });
      await removed;
      return insert(w);
    };
    await assert.rejects(call(admin, admin.createWorkspace, { project: 'demo', sessionId: 'late', pid: 1, agent: '' }), (e: unknown) => {
      const c = codeOf(e);
      assert.equal(c.loki, 'project_not_found', c.message);
      assert.match(c.message, /project "demo" was removed while the workspace for session "late" was being made/);
      return true;
    });
    assert.ok(removed, 'the removal ran while the workspace was being made');
    assert.equal(await fx.store.workspaces.get('late'), undefined);
    assert.equal(existsSync(join(fx.root, 'home', 'workspaces', 'late')), false, 'the clone is gone');
    const notDone = audits.filter((a) => a.action === 'workspace.create' && a.result !== 'success');
    assert.equal(notDone.length, 1, JSON.stringify(audits));
    assert.match(notDone[0]!.reason ?? '', /^not done: project "demo" was removed/);
  });

  it('removes no project a workspace became active on after its check, and says so in the trail', async () => {
    await call(admin, admin.registerProject, { path: project, name: 'demo', baseBranch: '', remote: '', protectedBranches: [], alias: '' });
    // The workspace lands between the removal's check (and entry) and the removal itself.
    onRecord = async (e) => {
      if (e.action === 'project.remove' && e.result === 'success') await fx.workspaces.createWorkspace({ project: 'demo', sessionId: 'between', pid: 1, owner: 'local:0' });
    };
    await assert.rejects(call(admin, admin.removeProject, { project: 'demo' }), (e: unknown) => {
      const c = codeOf(e);
      assert.equal(c.grpc, status.FAILED_PRECONDITION, c.message);
      assert.match(c.message, /project demo has 1 active session workspace\(s\); stop them first/);
      return true;
    });
    assert.equal((await fx.projects.get('demo')).name, 'demo', 'still registered');
    assert.equal((await fx.store.workspaces.get('between'))?.state, 'active');
    const notDone = audits.filter((a) => a.action === 'project.remove' && a.result !== 'success');
    assert.equal(notDone.length, 1, JSON.stringify(audits));
    assert.match(notDone[0]!.reason ?? '', /^not done: project demo has 1 active/);
  });

  // Two removals of one project at once: both checked and logged it, one deleted it; the other's
  // delete found nothing to delete and was answered (and left on the log) as a removal done.
  it('answers the second of two racing removals with project_not_found and says in the trail it was not done', async () => {
    await call(admin, admin.registerProject, { path: project, name: 'demo', baseBranch: '', remote: '', protectedBranches: [], alias: '' });
    const del = fx.store.projects.deleteUnlessActive.bind(fx.store.projects);
    let other: Promise<unknown> | undefined;
    fx.store.projects.deleteUnlessActive = async (id) => {
      if (!other) {
        other = call(admin, admin.removeProject, { project: 'demo' });
        await other;
      }
      return del(id);
    };
    await assert.rejects(call(admin, admin.removeProject, { project: 'demo' }), (e: unknown) => {
      const c = codeOf(e);
      assert.equal(c.loki, 'project_not_found', c.message);
      return true;
    });
    assert.ok(other, 'the other removal ran between the check and the delete');
    const entries = audits.filter((a) => a.action === 'project.remove').map((a) => `${a.result}${a.reason ? `: ${a.reason}` : ''}`);
    assert.equal(entries.length, 3, JSON.stringify(entries));
    assert.deepEqual(entries.filter((e) => e === 'success'), ['success', 'success']);
    assert.match(entries.find((e) => e !== 'success') ?? '', /not done: .*demo/);
  });

  it('answers bad input with INVALID_ARGUMENT, NOT_FOUND and FAILED_PRECONDITION and a message that says what is wrong', async () => {
    const cases: [() => Promise<unknown>, number, string, RegExp][] = [
      [() => call(admin, admin.registerProject, { path: fx.root, name: '', baseBranch: '', remote: '', protectedBranches: [], alias: '' }), status.INVALID_ARGUMENT, 'not_a_git_repo', /not a git repository/],
      [() => call(admin, admin.registerProject, { path: join(fx.root, 'nope'), name: '', baseBranch: '', remote: '', protectedBranches: [], alias: '' }), status.INVALID_ARGUMENT, 'not_a_git_repo', /does not exist/],
      [() => call(admin, admin.registerProject, { path: project, name: '', baseBranch: '', remote: '', protectedBranches: ['-x'], alias: '' }), status.INVALID_ARGUMENT, 'invalid_argument', /must not start with "-"/],
      [() => call(admin, admin.registerProject, { path: project, name: '', baseBranch: 'rel@{1}', remote: '', protectedBranches: [], alias: '' }), status.INVALID_ARGUMENT, 'invalid_ref', /base branch/],
      [() => call(admin, admin.registerProject, { path: project, name: '', baseBranch: 'develop', remote: '', protectedBranches: [], alias: '' }), status.FAILED_PRECONDITION, 'base_branch_missing', /"develop" does not exist/],
      [() => call(admin, admin.createWorkspace, { project: 'ghost', sessionId: 's', pid: 0, agent: '' }), status.NOT_FOUND, 'project_not_found', /no project "ghost"/],
      [() => call(admin, admin.diff, { sessionId: 'nope' }), status.NOT_FOUND, 'workspace_not_found', /nope/],
      [() => call(admin, admin.diff, { sessionId: '' }), status.INVALID_ARGUMENT, 'invalid_argument', /session_id is required/],
    ];
    for (const [fn, grpc, loki, msg] of cases) {
      await assert.rejects(fn(), (err: unknown) => {
        const c = codeOf(err);
        assert.equal(c.loki, loki, c.message);
        assert.equal(c.grpc, grpc, c.message);
        assert.match(c.message, msg);
        return true;
      });
    }
  });

  it('shows a gateway caller with only read scope no one else\'s (unshared) project, and lets it neither register one nor read another subject\'s workspace', async () => {
    await call(admin, admin.registerProject, { path: project, name: 'demo', baseBranch: '', remote: '', protectedBranches: [], alias: '' });
    await call(admin, admin.createWorkspace, { project: 'demo', sessionId: 'g2', pid: 1, agent: '' });
    const md = new Metadata();
    md.set('x-loki-credential', creds.issue('token:viewer', ['read']));
    const list = await call(gateway, gateway.listProjects, {}, md);
    assert.deepEqual(list.projects.map((p) => p.name), []);
    await assert.rejects(call(gateway, gateway.getProject, { project: 'demo' }, md), (e: unknown) => codeOf(e).loki === 'project_not_found');
    await assert.rejects(call(gateway, gateway.registerProject, { path: project, name: 'x', baseBranch: '', remote: '', protectedBranches: [], alias: '' }, md), (e: unknown) => codeOf(e).grpc === status.PERMISSION_DENIED);
    await assert.rejects(call(gateway, gateway.getWorkspace, { sessionId: 'g2' }, md), (e: unknown) => codeOf(e).loki === 'workspace_not_found');
    const log = await call(gateway, gateway.auditLog, { sessionId: '', limit: 0 }, md);
    assert.deepEqual(log.entries, []);
    // Its own workspace's trail it sees, in the list and the count; a trail with no workspace record only an admin sees.
    await fx.workspaces.createWorkspace({ project: 'demo', sessionId: 'g3', pid: 1, owner: 'token:viewer' });
    fx.trail.append('orphan', { action: 'workspace_create', agent: 'loki', details: {} });
    assert.deepEqual((await call(gateway, gateway.auditLog, { sessionId: '', limit: 0 }, md)).entries.map((e) => e.sessionId), ['g3']);
    assert.deepEqual((await call(gateway, gateway.auditCount, { sessionId: '' }, md)).bySession, { g3: 1 });
    assert.deepEqual((await call(admin, admin.auditCount, { sessionId: '' })).bySession, { g2: 1, g3: 1, orphan: 1 });
  });

  it('refuses a gateway caller a workspace under one of lokid\'s session ids (squatting it would hand over that session\'s trail)', async () => {
    // Another user's session, whose agent trail has no workspace record (only an admin sees such a trail).
    const victim = 'ses-0123456789ab';
    fx.trail.append(victim, { action: 'agent_shell', agent: 'claude', details: { command: 'cat .env' } });
    await fx.projects.register(project, { name: 'mine', registeredBy: 'token:mallory' });
    const md = new Metadata();
    md.set('x-loki-credential', creds.issue('token:mallory', ['read', 'control']));
    const err = await call(gateway, gateway.createWorkspace, { project: 'mine', sessionId: victim, pid: 0, agent: '' }, md).then(
      () => undefined,
      (e: unknown) => e,
    );
    const leaked = await call(gateway, gateway.auditLog, { sessionId: victim, limit: 0 }, md).then((r) => r.entries.length, () => 0);
    assert.equal(leaked, 0, 'the squatter read the session\'s agent trail');
    assert.ok(err, 'the squat was accepted');
    assert.deepEqual([codeOf(err).grpc, codeOf(err).loki], [status.PERMISSION_DENIED, 'permission_denied']);
    assert.match(codeOf(err).message, /ses-0123456789ab is a lokid session id/);
    // Its own ids still work, and the local admin keeps every id.
    await call(gateway, gateway.createWorkspace, { project: 'mine', sessionId: 'mallory-1', pid: 0, agent: '' }, md);
    await call(admin, admin.createWorkspace, { project: 'mine', sessionId: 'ses-00000000abcd', pid: 0, agent: '' });
  });

  it('refuses a gateway caller with control scope a workspace of a project it may not see (someone else\'s, unshared), like a missing project', async () => {
    await call(admin, admin.registerProject, { path: project, name: 'demo', baseBranch: '', remote: '', protectedBranches: [], alias: '' });
    const md = new Metadata();
    md.set('x-loki-credential', creds.issue('token:mallory', ['read', 'control']));
    for (const ref of ['demo', (await fx.projects.get('demo')).id]) {
      const err = await call(gateway, gateway.createWorkspace, { project: ref, sessionId: `m-${ref.length}`, pid: 0, agent: '' }, md).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err, `creating a workspace of ${ref} must fail`);
      assert.deepEqual({ grpc: codeOf(err).grpc, loki: codeOf(err).loki }, { grpc: status.NOT_FOUND, loki: 'project_not_found' });
      assert.match(codeOf(err).message, /no project/);
    }
    assert.deepEqual(await fx.workspaces.list(), [], 'no clone of the project was made');
    assert.equal(audits.filter((a) => a.action === 'workspace.create' && a.result === 'success').length, 0);
    // A project it may see (shared or its own) still works for the same caller.
    await fx.projects.register(makeProject(fx.root, 'mine'), { name: 'mine', registeredBy: 'token:mallory' });
    const ws = await call(gateway, gateway.createWorkspace, { project: 'mine', sessionId: 'm-own', pid: 0, agent: '' }, md);
    assert.equal(ws.owner, 'token:mallory');
  });
});
