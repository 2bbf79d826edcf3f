import assert from 'node:assert/strict';
import { agentGit, gitFixture, hostGit, makeProject, refSnapshot, sandboxSh, sandboxUnavailableReason, type GitFixture } from './helpers.js';

describe('session branches with the agent inside a real sandbox container', function () {
  let fx: GitFixture;
  let project: string;

  before(function () {
    this.timeout(120_000);
    // The only reason to skip: the image comes from the sandbox issue (`loki sandbox build`).
    const why = sandboxUnavailableReason();
    if (why) {
      console.warn(`      skipped: ${why}`);
      this.skip();
    }
  });
  beforeEach(async () => {
    fx = gitFixture();
    project = makeProject(fx.root);
    await fx.projects.register(project, { registeredBy: 'local:0' });
  });
  afterEach(() => fx?.close());

  it('brings back a commit made inside the sandbox and leaves main byte-for-byte unchanged', async () => {
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'c1', pid: 77, owner: 'local:0' });
    const before = refSnapshot(project);
    sandboxSh(ws.path, `printf 'from the sandbox\\n' > sandbox.txt; git add sandbox.txt; git commit --quiet -m 'Commit from sandbox'`);
    const head = agentGit(ws.path, 'rev-parse', 'HEAD');
    const res = await fx.workspaces.finish('c1');
    assert.equal(res.bringBack.commit, head);
    assert.equal(hostGit(project, 'rev-parse', `refs/heads/${ws.branch}`), head);
    assert.equal(hostGit(project, 'log', '-1', '--format=%s', head), 'Commit from sandbox');
    const after = refSnapshot(project).split('\n').filter((l) => !l.startsWith(`refs/heads/${ws.branch} `));
    assert.deepEqual(after, before.split('\n'));
  });

  it('keeps the agent rewriting main, creating master, tagging and force-moving refs inside the sandbox out of the project', async () => {
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'c2', pid: 78, owner: 'local:0' });
    const before = refSnapshot(project);
    sandboxSh(
      ws.path,
      [
        `echo evil > evil.txt; git add evil.txt; git commit --quiet -m evil`,
        `git branch -f main HEAD; git update-ref refs/heads/master HEAD; git tag v6.6.6; git tag -a -m x signed HEAD`,
        `git update-ref refs/heads/release/2.0 HEAD; git push --force . HEAD:refs/heads/main 2>/dev/null || true`,
        `git reset --quiet --hard HEAD~1`,
      ].join('; '),
    );
    const evil = agentGit(ws.path, 'rev-parse', 'main');
    await fx.workspaces.finish('c2');
    const after = refSnapshot(project).split('\n').filter((l) => !l.startsWith(`refs/heads/${ws.branch} `));
    assert.deepEqual(after, before.split('\n'));
    // The session branch ended at its base: no agent commit, so no branch is left in the project.
    assert.throws(() => hostGit(project, 'rev-parse', '--verify', `refs/heads/${ws.branch}`));
    assert.throws(() => hostGit(project, 'cat-file', '-e', evil));
  });
});
