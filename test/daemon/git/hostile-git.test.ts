// Git layout tricks a malicious workspace can play that the git suite does not
// already cover: an included config file, a session branch that is a symref to
// main, packed-refs entries for main and the session branch, a planted session
// branch name in the project. Nothing may execute on the host and only the
// session branch may move.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { defaultGitConfig } from '../../../daemon/src/git/config.js';
import { agentGit, agentWrite, gitFixture, hostGit, makeProject, refSnapshot, type GitFixture } from '../git/helpers.js';

describe('security review: a hostile workspace git dir', function () {
  this.timeout(30_000);
  let fx: GitFixture;
  let project: string;
  let markers: string;

  beforeEach(async function () {
    fx = gitFixture({ config: defaultGitConfig() });
    project = makeProject(fx.root);
    markers = join(fx.root, 'markers');
    mkdirSync(markers, { mode: 0o777 });
    chmodSync(markers, 0o777);
    await fx.projects.register(project, { registeredBy: 'local:0' });
  });
  afterEach(() => fx.close());

  function script(name: string): string {
    const p = join(fx.root, `${name}.sh`);
    writeFileSync(p, `#!/bin/sh\ntouch ${JSON.stringify(join(markers, name))}\ncat >/dev/null\nexit 0\n`, { mode: 0o755 });
    return p;
  }

  it('runs nothing from an included config file and moves only the session branch when the workspace rewrites main and packed-refs', async function () {
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'g1', pid: 11, owner: 'local:0' });
    const gitDir = join(ws.path, '.git');
    // The exec-capable keys arrive through [include] from a file next to the config.
    agentWrite(
      join(gitDir, 'evil.inc'),
      `[core]\n\tfsmonitor = ${script('inc-fsmonitor')}\n\thooksPath = ${fx.root}\n[diff]\n\texternal = ${script('inc-diff')}\n[uploadpack]\n\tpackObjectsHook = ${script('inc-pack')}\n[core]\n\tsshCommand = ${script('inc-ssh')}\n`,
    );
    agentGit(ws.path, 'config', 'include.path', 'evil.inc');
    agentGit(ws.path, 'config', `includeIf.gitdir:${gitDir}/.path`, 'evil.inc');
    agentWrite(join(ws.path, 'work.txt'), 'work\n');
    agentGit(ws.path, 'add', 'work.txt');
    agentGit(ws.path, 'commit', '--quiet', '--no-verify', '-m', 'work');
    const sessionHead = agentGit(ws.path, 'rev-parse', 'HEAD');
    // The agent also rewrites main and plants a packed-refs entry for it, plus tags.
    agentGit(ws.path, 'branch', '-f', 'main', sessionHead);
    agentGit(ws.path, 'tag', 'v9', sessionHead);
    agentGit(ws.path, 'pack-refs', '--all');
    const before = refSnapshot(project);
    // Control: the include is live, the agent's own git ran the planted fsmonitor.
    assert.ok(existsSync(join(markers, 'inc-fsmonitor')), 'control: the included fsmonitor fires for the agent itself');
    for (const m of readdirSync(markers)) rmSync(join(markers, m));

    await fx.workspaces.diff('g1');
    const r = await fx.workspaces.bringBack('g1');
    assert.equal(r.commit, sessionHead);
    assert.deepEqual(readdirSync(markers), [], 'nothing from the included config ran on the host');
    const after = refSnapshot(project).split('\n').filter((l) => !l.startsWith(`refs/heads/${ws.branch} `));
    assert.deepEqual(after, before.split('\n'), 'main, tags and HEAD of the project are unchanged');
    assert.equal(hostGit(project, 'rev-parse', `refs/heads/${ws.branch}`), sessionHead);
  });

  it('brings back only commits when the session branch is a symref to main, never touching the project main', async function () {
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'g2', pid: 12, owner: 'local:0' });
    const mainBefore = hostGit(project, 'rev-parse', 'main');
    agentWrite(join(ws.path, 'x.txt'), 'x\n');
    agentGit(ws.path, 'add', 'x.txt');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'x');
    agentGit(ws.path, 'branch', '-f', 'main', 'HEAD');
    agentGit(ws.path, 'checkout', '--quiet', 'main');
    agentGit(ws.path, 'symbolic-ref', `refs/heads/${ws.branch}`, 'refs/heads/main');
    await fx.workspaces.bringBack('g2').catch((e: unknown) => assert.ok(e instanceof LokiError, String(e)));
    assert.equal(hostGit(project, 'rev-parse', 'main'), mainBefore);
    assert.equal(hostGit(project, 'symbolic-ref', 'HEAD'), 'refs/heads/main');
    assert.ok(!existsSync(join(project, '.git', 'refs', 'heads', 'main')) || hostGit(project, 'rev-parse', 'refs/heads/main') === mainBefore);
  });

  it('refuses to create a session whose branch name already exists in the project (planted collision)', async function () {
    const clock = () => 1_700_000_000_000;
    fx.close();
    // The random part pinned, as an attacker who guessed it (or planted many) would have it.
    fx = gitFixture({ config: defaultGitConfig(), clock, branchRandom: () => '0badc0de' });
    project = makeProject(fx.root, 'proj2');
    await fx.projects.register(project, { registeredBy: 'local:0' });
    hostGit(project, 'branch', 'loki/session-1700000000-13-0badc0de');
    const planted = hostGit(project, 'rev-parse', 'loki/session-1700000000-13-0badc0de');
    await assert.rejects(fx.workspaces.createWorkspace({ project: 'proj2', sessionId: 'g3', pid: 13, owner: 'local:0' }), (e: unknown) => e instanceof LokiError && e.code === 'ref_exists');
    assert.equal(hostGit(project, 'rev-parse', 'loki/session-1700000000-13-0badc0de'), planted);
  });
});
