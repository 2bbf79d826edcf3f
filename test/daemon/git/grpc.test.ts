import assert from 'node:assert/strict';
import { credentials, Metadata, type CallOptions, Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEventInput } from '../../../daemon/src/audit/types.js';
import { createWorkspaceModule } from '../../../daemon/src/git/grpc.js';
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
  let project: string;
  let sockDir: string;

  beforeEach(async () => {
    fx = gitFixture();
    project = makeProject(fx.root);
    audits = [];
    const mod = createWorkspaceModule({ projects: fx.projects, workspaces: fx.workspaces, trail: fx.trail, stores: { learnings: fx.store.learnings }, audit: { record: async (e) => void audits.push(e) } });
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
