// A workspace filled from a seed (a warm pool slot's volume, filled in place) is
// the repository a clone makes: same refs, objects, files, modes and config, no
// remote, nothing from outside the base branch, and it works for the agent and
// for bring-back. A seed follows its base branch.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkspaceSeeds, type WorkspaceFill } from '../../../daemon/src/git/workspace-fill.js';
import { agentGit, agentWrite, gitFixture, hostGit, makeProject, silentLogger, type GitFixture } from './helpers.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Every object reachable from any ref, sorted: equal lists mean the same object store content. */
function objects(ws: string): string {
  return hostGit(ws, '-c', `safe.directory=${ws}`, 'rev-list', '--objects', '--all').split('\n').sort().join('\n');
}

describe('WorkspaceSeeds (a workspace filled in place)', () => {
  let fx: GitFixture;
  let project: string;
  let seeds: WorkspaceSeeds;
  let fills: boolean[];
  afterEach(async () => {
    await seeds?.close();
    fx?.close();
  });

  async function setup(): Promise<void> {
    fx = gitFixture();
    project = makeProject(fx.root);
    // An executable, a symlink and a branch that is not the base (it must never reach a workspace).
    writeFileSync(join(project, 'run.sh'), '#!/bin/sh\necho run\n');
    chmodSync(join(project, 'run.sh'), 0o755);
    symlinkSync('README.md', join(project, 'link'));
    hostGit(project, 'add', 'run.sh', 'link');
    hostGit(project, 'commit', '--quiet', '-m', 'add run.sh');
    hostGit(project, 'checkout', '--quiet', '-b', 'secret');
    writeFileSync(join(project, 'secret.txt'), 'not for the agent\n');
    hostGit(project, 'add', 'secret.txt');
    hostGit(project, 'commit', '--quiet', '-m', 'secret');
    hostGit(project, 'checkout', '--quiet', 'main');
    await fx.projects.register(project, { registeredBy: 'local:0' });
    seeds = new WorkspaceSeeds({ dir: join(fx.home, 'seeds'), log: silentLogger(), buildDelayMs: 0 });
    fills = [];
  }

  /** What the pool hands createWorkspace, minus the volume: the seeds' fill into the workspace directory. */
  const fill = (): WorkspaceFill => ({
    fill: async (t) => {
      assert.deepEqual(readdirSync(t.dest), [], 'createWorkspace hands over its claimed, empty directory');
      const ok = await seeds.fill(t);
      fills.push(ok);
      return ok;
    },
    undo: async () => undefined,
  });

  it('fills a workspace that is the repository a clone makes (refs, objects, files, modes, config, no remote)', async () => {
    await setup();
    const cloned = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's1', owner: 'local:0' });
    // The first fill of a commit finds no seed: it clones, and the seed is made behind it.
    const missed = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's2', owner: 'local:0', fill: fill() });
    await seeds.settle();
    const seeded = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's3', owner: 'local:0', fill: fill() });
    assert.deepEqual(fills, [false, true]);
    for (const ws of [missed, seeded]) {
      assert.equal(agentGit(ws.path, 'symbolic-ref', '--short', 'HEAD'), ws.branch);
      assert.equal(agentGit(ws.path, 'rev-parse', 'HEAD'), cloned.baseCommit);
      assert.equal(agentGit(ws.path, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads/main'), agentGit(cloned.path, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads/main'));
      assert.deepEqual(agentGit(ws.path, 'for-each-ref', '--format=%(refname)').split('\n').sort(), ['refs/heads/main', `refs/heads/${ws.branch}`].sort());
      assert.equal(agentGit(ws.path, 'remote'), '');
      assert.equal(agentGit(ws.path, 'config', 'user.name'), 'Loki Agent');
      assert.equal(agentGit(ws.path, 'config', 'user.email'), 'agent@loki.invalid');
      assert.equal(agentGit(ws.path, 'status', '--porcelain'), '', 'the checkout is clean');
      assert.equal(objects(ws.path), objects(cloned.path), 'the same objects as a clone');
      assert.ok(!existsSync(join(ws.path, '.git', 'objects', 'info', 'alternates')), 'no alternate into the project');
      assert.equal(statSync(join(ws.path, 'run.sh')).mode & 0o777, 0o755);
      assert.ok(lstatSync(join(ws.path, 'link')).isSymbolicLink());
      assert.equal(readlinkSync(join(ws.path, 'link')), 'README.md');
      assert.deepEqual(readdirSync(ws.path).sort(), readdirSync(cloned.path).sort());
      if (isRoot) assert.equal(statSync(join(ws.path, '.git', 'HEAD')).uid, 64000, 'handed to the sandbox user');
      // Everything in .git a clone has, except git's inert sample hooks, which a fill leaves out.
      const gitFiles = (p: string) => (readdirSync(join(p, '.git'), { recursive: true }) as string[]).filter((f) => !/^(refs|logs)\b/.test(f) && !/\.sample$/.test(f)).sort();
      assert.deepEqual(gitFiles(ws.path), gitFiles(cloned.path));
      assert.throws(() => hostGit(ws.path, '-c', `safe.directory=${ws.path}`, 'cat-file', '-e', hostGit(project, 'rev-parse', 'secret')), 'a commit outside the base branch is not in the workspace');
    }
  });

  it('leaves git\'s sample hooks out of a filled workspace (inert: lokid runs no hook there), and a hook the agent writes still runs for the agent', async () => {
    await setup();
    const cloned = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's1', owner: 'local:0', fill: fill() });
    await seeds.settle();
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's2', owner: 'local:0', fill: fill() });
    assert.deepEqual(fills, [false, true]);
    assert.ok(readdirSync(join(cloned.path, '.git', 'hooks')).some((f) => f.endsWith('.sample')), 'a clone has them');
    assert.deepEqual(readdirSync(join(ws.path, '.git', 'hooks')), [], 'the hooks directory is there, empty');
    agentWrite(join(ws.path, '.git', 'hooks', 'pre-commit'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(ws.path, '.git', 'hooks', 'pre-commit'), 0o755);
    agentWrite(join(ws.path, 'x.txt'), 'x\n');
    agentGit(ws.path, 'add', 'x.txt');
    assert.throws(() => agentGit(ws.path, 'commit', '--quiet', '-m', 'blocked'), 'the agent\'s own hook runs in its workspace as in a clone');
  });

  it('gives a seeded workspace to the agent like a cloned one: it commits, and the branch comes back', async () => {
    await setup();
    await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's1', owner: 'local:0', fill: fill() });
    await seeds.settle();
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's2', owner: 'local:0', fill: fill() });
    assert.deepEqual(fills, [false, true]);
    agentWrite(join(ws.path, 'feature.txt'), 'one\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'Add feature');
    const back = await fx.workspaces.bringBack('s2');
    assert.equal(back.commit, agentGit(ws.path, 'rev-parse', 'HEAD'));
    assert.equal(hostGit(project, 'show', `${ws.branch}:feature.txt`), 'one');
    // Another session seeded from the same seed sees none of it.
    const next = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's3', owner: 'local:0', fill: fill() });
    assert.ok(!existsSync(join(next.path, 'feature.txt')));
    assert.equal(agentGit(next.path, 'rev-parse', 'HEAD'), ws.baseCommit);
  });

  it('follows the base branch: a moved base misses and clones at the new commit, and the old seed goes', async () => {
    await setup();
    await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's1', owner: 'local:0', fill: fill() });
    await seeds.settle();
    writeFileSync(join(project, 'later.txt'), 'later\n');
    hostGit(project, 'add', 'later.txt');
    hostGit(project, 'commit', '--quiet', '-m', 'later');
    const moved = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's2', owner: 'local:0', fill: fill() });
    assert.equal(agentGit(moved.path, 'rev-parse', 'HEAD'), hostGit(project, 'rev-parse', 'main'));
    assert.ok(existsSync(join(moved.path, 'later.txt')));
    await seeds.settle();
    const again = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's3', owner: 'local:0', fill: fill() });
    assert.deepEqual(fills, [false, false, true]);
    assert.ok(existsSync(join(again.path, 'later.txt')));
    const [projectId] = readdirSync(join(fx.home, 'seeds'));
    const projectSeeds = readdirSync(join(fx.home, 'seeds', projectId!));
    assert.deepEqual(projectSeeds, [again.baseCommit], 'only the seed of the current base is kept');
  });
});
