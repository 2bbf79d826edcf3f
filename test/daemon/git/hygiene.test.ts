// Git hygiene with real repositories: a session without an agent commit leaves
// no branch; the PR step with no `gh` says why and gives the commands (and the
// daemon keeps that result for `loki session diff`); prune finds merged,
// identical and orphaned session branches, deletes only those, and never an
// active session's branch.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { defaultGitConfig } from '../../../daemon/src/git/config.js';
import { deleteBranches, findPrunable } from '../../../daemon/src/git/prune.js';
import { agentGit, agentWrite, gitFixture, hostGit, makeProject, type GitFixture } from './helpers.js';

describe('git hygiene: no empty branches, no silent PR failure, prune', () => {
  let fx: GitFixture;
  let project: string;
  afterEach(() => fx?.close());

  async function setup(config = defaultGitConfig()): Promise<void> {
    fx = gitFixture({ config });
    project = makeProject(fx.root);
    const bare = join(fx.root, 'remote.git');
    hostGit(fx.root, 'clone', '--quiet', '--bare', project, bare);
    hostGit(project, 'remote', 'add', 'origin', bare);
    await fx.projects.register(project, { name: 'proj', registeredBy: 'local:0' });
  }

  async function commitIn(sessionId: string, pid: number, file: string): Promise<string> {
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId, pid, owner: 'local:0' });
    agentWrite(join(ws.path, file), `${file}\n`);
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', `add ${file}`);
    return ws.branch;
  }

  it('leaves no branch in the project when the session made no commit, and says why no PR', async () => {
    await setup(defaultGitConfig({ auto_pr: true, gh_path: '/nonexistent/gh' }));
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'h1', pid: 21, owner: 'local:0' });
    const res = await fx.workspaces.finish('h1');
    assert.equal(res.bringBack.updated, false);
    assert.throws(() => hostGit(project, 'rev-parse', '--verify', `refs/heads/${ws.branch}`), 'no branch is left behind');
    assert.match(res.pullRequest.reason, /made no commits/);
    assert.deepEqual(res.pullRequest.commands, [], 'no commands that would push a branch that does not exist');
    assert.deepEqual((await fx.workspaces.pullRequestOf('h1'))?.reason, res.pullRequest.reason);
  });

  it('with auto PR and no gh, keeps the branch, records the reason and the exact commands', async () => {
    await setup(defaultGitConfig({ auto_pr: true, gh_path: '/nonexistent/gh' }));
    const branch = await commitIn('h2', 22, 'feature.txt');
    const res = await fx.workspaces.finish('h2');
    assert.equal(res.bringBack.updated, true);
    assert.equal(res.pullRequest.opened, false);
    assert.match(res.pullRequest.reason, /gh/);
    assert.ok(res.pullRequest.commands.some((c) => c.startsWith(`git -C ${project} push origin refs/heads/${branch}:refs/heads/${branch}`)), res.pullRequest.commands.join('\n'));
    assert.ok(res.pullRequest.commands.some((c) => /gh pr create --base main --head /.test(c)), res.pullRequest.commands.join('\n'));
    assert.deepEqual(await fx.workspaces.pullRequestOf('h2'), res.pullRequest, 'kept for `loki session diff` and the API');
    // later, by hand (`loki session pr`): the same honest answer
    const again = await fx.workspaces.openPullRequest('h2');
    assert.equal(again.opened, false);
    assert.match(again.reason, /gh/);
  });

  it('prunes merged, identical and orphaned session branches, and keeps unmerged and active ones', async () => {
    await setup();
    const merged = await commitIn('p1', 31, 'merged.txt');
    await fx.workspaces.finish('p1');
    hostGit(project, 'merge', '--quiet', '--ff-only', merged);
    const unmerged = await commitIn('p2', 32, 'unmerged.txt');
    await fx.workspaces.finish('p2');
    const activeBranch = await commitIn('p3', 33, 'active.txt');
    await fx.workspaces.bringBack('p3'); // brought back but the session is still active
    const orphan = 'loki/session-1700000000-99';
    hostGit(project, 'branch', orphan, 'HEAD~1');
    hostGit(project, 'branch', 'feature/keep-me', 'HEAD~1');

    const p = await fx.projects.get('proj');
    const found = await findPrunable(undefined, p, await fx.workspaces.list());
    assert.deepEqual(found.map((c) => [c.branch, c.reason]).sort(), [
      [merged, 'merged'],
      [orphan, 'removed_session'],
    ].sort());
    assert.ok(!found.some((c) => c.branch === unmerged || c.branch === activeBranch));

    // a branch that moved after the dry run is kept
    hostGit(project, 'branch', '-f', orphan, 'HEAD');
    const done = await deleteBranches(p, found);
    assert.deepEqual(done.map((c) => [c.branch, c.deleted]).sort(), [
      [merged, true],
      [orphan, false],
    ].sort());
    assert.throws(() => hostGit(project, 'rev-parse', '--verify', `refs/heads/${merged}`));
    for (const keep of [unmerged, activeBranch, orphan, 'feature/keep-me', 'main']) hostGit(project, 'rev-parse', '--verify', `refs/heads/${keep}`);
  });
});
