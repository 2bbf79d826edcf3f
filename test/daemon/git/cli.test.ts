import assert from 'node:assert/strict';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { Command } from 'commander';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { NOOP_AUDIT } from '../../../daemon/src/audit/types.js';
import { createWorkspaceModule } from '../../../daemon/src/git/grpc.js';
import { runCli } from '../../../cli/src/program.js';
import { registerSessionGitCommands } from '../../../cli/src/commands/session-git.js';
import { agentGit, agentWrite, gitFixture, makeProject, silentLogger, type GitFixture } from './helpers.js';

/** Captures what a CLI run prints on stdout/stderr. */
async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await fn();
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

describe('loki projects / session diff|branch / audit log|count against a real daemon socket', () => {
  let fx: GitFixture;
  let server: Server;
  let sock: string;

  beforeEach(async () => {
    fx = gitFixture();
    server = new Server();
    createWorkspaceModule({ projects: fx.projects, workspaces: fx.workspaces, trail: fx.trail, stores: { learnings: fx.store.learnings }, audit: NOOP_AUDIT }).register(server, {
      log: silentLogger(),
      listener: { role: 'local-admin', localUid: 0 },
    });
    sock = join(fx.root, 'admin.sock');
    await new Promise<void>((res, rej) => server.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  });
  afterEach(() => {
    server.forceShutdown();
    fx.close();
  });

  it('registers and lists a project, then shows a session diff, branch and its audit trail', async () => {
    const repo = makeProject(fx.root);
    const reg = await capture(() => runCli(['--socket', sock, 'projects', 'register', repo, '--name', 'demo', '--protect', 'release/*']));
    assert.equal(reg.code, 0, reg.err);
    assert.match(reg.out, /registered project demo \(prj-[0-9a-f]+\)/);
    const list = await capture(() => runCli(['--socket', sock, 'projects', 'list', '--json']));
    assert.deepEqual((JSON.parse(list.out) as { projects: { name: string; base_branch: string }[] }).projects.map((p) => [p.name, p.base_branch]), [['demo', 'main']]);

    const ws = await fx.workspaces.createWorkspace({ project: 'demo', sessionId: 'ses-0000000c1101', pid: 5, owner: 'local:0' });
    agentWrite(join(ws.path, 'n.txt'), 'n\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'Add n');

    // `loki session` is the lead's parent command; mount ours on a stand-in parent the same way.
    const program = new Command().exitOverride().option('--socket <p>');
    const session = program.command('session');
    registerSessionGitCommands(session, { globals: () => ({ socket: sock }) });
    const diff = await capture(async () => (await program.parseAsync(['session', 'diff', 'ses-0000000c1101'], { from: 'user' }), 0));
    assert.match(diff.out, /1 file changed, 1 insertion\(\+\), 0 deletions\(-\), 1 commit\n/);
    assert.match(diff.out, /Add n/);
    const branch = await capture(async () => (await program.parseAsync(['session', 'branch', 'ses-0000000c1101', '--json'], { from: 'user' }), 0));
    assert.equal((JSON.parse(branch.out) as { branch: string }).branch, ws.branch);

    const log = await capture(() => runCli(['--socket', sock, 'audit', 'log', '--session', 'ses-0000000c1101', '--json']));
    assert.equal(log.code, 0, log.err);
    const first = JSON.parse(log.out.trim().split('\n')[0]!) as { action: string; details: { branch: string } };
    assert.equal(first.action, 'workspace_create');
    assert.equal(first.details.branch, ws.branch);
    const count = await capture(() => runCli(['--socket', sock, 'audit', 'count']));
    assert.match(count.out, /^1 agent action\n/);
  });

  it('exits 1 from projects sync and health (with --json too) when a project cannot be read', async () => {
    const repo = makeProject(fx.root);
    assert.equal((await capture(() => runCli(['--socket', sock, 'projects', 'register', repo, '--name', 'gone']))).code, 0);
    rmSync(repo, { recursive: true, force: true });
    // In process, runCli reads process.exitCode: start each run from 0 so no run inherits the last one's.
    const run = (...args: string[]) => capture(() => ((process.exitCode = 0), runCli(['--socket', sock, ...args])));
    try {
      const sync = await run('projects', 'sync');
      assert.equal(sync.code, 1, sync.out + sync.err);
      assert.match(sync.out, /gone .*error: /);
      const syncJson = await run('projects', 'sync', '--json');
      assert.equal(syncJson.code, 1);
      assert.ok((JSON.parse(syncJson.out) as { projects: { error: string | null }[] }).projects[0]!.error);
      const health = await run('projects', 'health', 'gone', '--json');
      assert.equal(health.code, 1, 'a failing project exits 1 in JSON mode as in text mode');
      assert.equal((JSON.parse(health.out) as { status: string }).status, 'fail');
    } finally {
      process.exitCode = 0;
    }
  });

  it('exits with the not-found and invalid-argument codes and a clear message on bad input', async () => {
    const notRepo = await capture(() => runCli(['--socket', sock, 'projects', 'register', fx.root]));
    assert.equal(notRepo.code, 2);
    assert.match(notRepo.err, /is not a git repository/);
    const noTrail = await capture(() => runCli(['--socket', sock, 'audit', 'log', '--session', 'ghost']));
    assert.equal(noTrail.code, 5);
    assert.match(noTrail.err, /no agent audit trail for session "ghost"/);
  });
});
