import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { defaultGitConfig } from '../../../daemon/src/git/config.js';
import { agentGit, agentWrite, gitFixture, hostGit, makeProject, tempDir, type GitFixture } from './helpers.js';

/** A `gh` stand-in (GitHub is unreachable here) that records its argv, one NUL-terminated arg per entry, calls separated by RS. */
function fakeGh(dir: string, opts: { authenticated: boolean }): { bin: string; calls: () => string[][] } {
  const bin = join(dir, 'gh-bin');
  mkdirSync(bin, { recursive: true });
  const log = join(dir, 'gh-argv.log');
  writeFileSync(
    join(bin, 'gh'),
    `#!/bin/sh
for a in "$@"; do printf '%s\\0' "$a" >> ${JSON.stringify(log)}; done
printf '\\036' >> ${JSON.stringify(log)}
if [ "$1" = auth ]; then exit ${opts.authenticated ? 0 : 1}; fi
if [ "$1" = pr ]; then echo "https://github.example/acme/demo/pull/7"; exit 0; fi
exit 2
`,
    { mode: 0o755 },
  );
  return {
    bin,
    calls: () =>
      existsSync(log)
        ? readFileSync(log, 'utf8').split('\x1e').filter(Boolean).map((l) => l.split('\0').filter((_, i, a) => i < a.length - 1))
        : [],
  };
}

describe('session branches on a remote and pull requests', () => {
  let fx: GitFixture;
  let project: string;
  let bare: string;
  afterEach(() => fx?.close());

  async function setup(env: NodeJS.ProcessEnv, config = defaultGitConfig()): Promise<void> {
    fx = gitFixture({ config, env });
    project = makeProject(fx.root);
    bare = join(fx.root, 'origin.git');
    hostGit(fx.root, 'init', '--quiet', '--bare', bare);
    hostGit(project, 'remote', 'add', 'origin', bare);
    hostGit(project, 'push', '--quiet', 'origin', 'main');
    await fx.projects.register(project, { registeredBy: 'local:0' });
  }

  async function sessionWithCommit(id: string): Promise<{ branch: string; head: string }> {
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: id, pid: 11, owner: 'local:0' });
    agentWrite(join(ws.path, 'pr.txt'), 'hello\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'Add pr.txt');
    // the agent also tries to rewrite main and tag in its clone
    agentGit(ws.path, 'update-ref', 'refs/heads/main', 'HEAD');
    agentGit(ws.path, 'tag', 'v1');
    return { branch: ws.branch, head: agentGit(ws.path, 'rev-parse', 'HEAD') };
  }

  it('pushes only the session branch to origin and leaves origin/main alone', async () => {
    await setup({ PATH: '/usr/bin:/bin' });
    const originBefore = hostGit(bare, 'for-each-ref', '--format=%(refname) %(objectname)');
    const { branch, head } = await sessionWithCommit('r1');
    await fx.workspaces.bringBack('r1');
    const pushed = await fx.workspaces.pushToRemote('r1');
    assert.deepEqual(pushed, { remote: 'origin', ref: `refs/heads/${branch}` });
    const originAfter = hostGit(bare, 'for-each-ref', '--format=%(refname) %(objectname)');
    assert.equal(originAfter, [originBefore, `refs/heads/${branch} ${head}`].sort().join('\n'));
  });

  it('has no API that pushes a protected ref: a workspace whose session record names main is refused', async () => {
    await setup({ PATH: '/usr/bin:/bin' });
    const { head } = await sessionWithCommit('r2');
    const mainBefore = hostGit(bare, 'rev-parse', 'main');
    // Even if the store were tampered with so the session's branch read "main", the daemon refuses to write it.
    for (const name of ['main', 'master', 'release/1.0', 'refs/heads/main', '-f']) {
      fx.store.db.prepare('UPDATE git_workspaces SET branch = ? WHERE session_id = ?').run(name, 'r2');
      await assert.rejects(fx.workspaces.pushToRemote('r2'), (e: unknown) => e instanceof LokiError && e.code === 'protected_ref');
    }
    assert.equal(hostGit(bare, 'rev-parse', 'main'), mainBefore);
    assert.equal(hostGit(project, 'rev-parse', 'main'), mainBefore);
    assert.notEqual(head, mainBefore);
  });

  it('never pushes or opens a PR for a branch that changes a CI workflow, whatever spelling made the change', async () => {
    const gh = fakeGh(tempRoot(), { authenticated: true });
    await setup({ PATH: `${gh.bin}:${process.env.PATH}` }, { ...defaultGitConfig(), auto_pr: true });
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'w1', pid: 11, owner: 'local:0' });
    // The agent moves a file into place (mv), which a command-level path check would not see as a write.
    agentWrite(join(ws.path, 'evil.yml'), 'on: push\njobs: {}\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'add file');
    mkdirSync(join(ws.path, '.github', 'workflows'), { recursive: true });
    execFileSync('chown', ['-R', '64000:64000', join(ws.path, '.github')]);
    agentGit(ws.path, 'mv', 'evil.yml', '.github/workflows/ci.yml');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'move it');
    const res = await fx.workspaces.finish('w1');
    assert.equal(res.bringBack.updated, true, 'the branch is back in the project for review');
    assert.equal(res.pullRequest.opened, false);
    assert.match(res.pullRequest.reason, /\.github\/workflows\/ci\.yml.*push_protected_paths/);
    assert.ok(res.pullRequest.commands.length > 0, 'the manual commands are still given');
    assert.throws(() => hostGit(bare, 'rev-parse', '--verify', `refs/heads/${ws.branch}`), 'nothing reached the remote');
    assert.ok(!gh.calls().some((c) => c[0] === 'pr'), 'gh pr create never ran');
    await assert.rejects(fx.workspaces.pushToRemote('w1'), (e: unknown) => e instanceof LokiError && e.code === 'protected_path');
  });

  it('runs gh pr create with the exact arguments when gh is installed and authenticated', async () => {
    const gh = fakeGh(tempRoot(), { authenticated: true });
    await setup({ PATH: `${gh.bin}:/usr/bin:/bin`, HOME: '/nonexistent' }, defaultGitConfig({ auto_pr: true }));
    const { branch, head } = await sessionWithCommit('r3');
    const res = await fx.workspaces.finish('r3');
    assert.equal(res.pullRequest.opened, true, res.pullRequest.reason);
    assert.equal(res.pullRequest.url, 'https://github.example/acme/demo/pull/7');
    const calls = gh.calls();
    assert.deepEqual(calls[0], ['auth', 'status']);
    const pr = calls[1]!;
    assert.deepEqual(pr.slice(0, 6), ['pr', 'create', '--base', 'main', '--head', branch]);
    assert.equal(pr[6], '--title=Add pr.txt (Loki session r3)');
    const body = pr[7]!;
    assert.ok(body.startsWith('--body=Session: r3\n'), body);
    assert.match(body, new RegExp(`- ${head.slice(0, 12)} Add pr.txt`));
    assert.match(body, /Agent audit trail: \d+ actions/);
    assert.match(body, /- git_commit: 1/);
    assert.match(body, /\nChanges: 1 file, \+1 -0\n/, 'one file is "1 file"');
    assert.equal(pr.length, 8);
    assert.equal(hostGit(bare, 'rev-parse', `refs/heads/${branch}`), head, 'the branch is on the remote before gh runs');
  });

  it('prints the exact commands when gh is not installed', async () => {
    await setup({ PATH: '/usr/bin:/bin' }, defaultGitConfig({ auto_pr: true }));
    const { branch } = await sessionWithCommit('r4');
    const res = await fx.workspaces.finish('r4');
    assert.equal(res.pullRequest.opened, false);
    assert.match(res.pullRequest.reason, /not installed/);
    const [push, pr] = res.pullRequest.commands;
    assert.equal(push, `git -C ${project} push origin refs/heads/${branch}:refs/heads/${branch}`);
    // One line: the multi-line body in ANSI-C quotes (a raw line break used to be printed as `\x0a`).
    assert.ok(pr!.startsWith(`cd ${project} && gh pr create --base main --head ${branch} --title='Add pr.txt (Loki session r4)' --body=$'Session: r4\\nBranch: ${branch} `), pr);
    assert.ok(!pr!.includes('\n'), pr);
    assert.throws(() => hostGit(bare, 'rev-parse', '--verify', `refs/heads/${branch}`), 'nothing is pushed without gh');
    // the printed push command works as printed (gh itself is absent here)
    execFileSync('sh', ['-c', push!], { env: { PATH: '/usr/bin:/bin', GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' }, stdio: 'ignore' });
    assert.equal(hostGit(bare, 'rev-parse', `refs/heads/${branch}`), hostGit(project, 'rev-parse', `refs/heads/${branch}`));
    // …and so does the printed gh command, pasted into bash (a gh stand-in records what it gets):
    // the title and the whole multi-line body arrive exactly as lokid would have passed them.
    const gh = fakeGh(tempRoot(), { authenticated: true });
    execFileSync('bash', ['-c', pr!], { env: { PATH: `${gh.bin}:/usr/bin:/bin`, LC_ALL: 'C.UTF-8' }, stdio: 'ignore' });
    const [argv] = gh.calls();
    assert.deepEqual(argv!.slice(0, 6), ['pr', 'create', '--base', 'main', '--head', branch]);
    assert.equal(argv![6], '--title=Add pr.txt (Loki session r4)');
    assert.ok(argv![7]!.startsWith(`--body=Session: r4\nBranch: ${branch} (base main @ `), argv![7]);
    assert.match(argv![7]!, /\n- git_commit: 1\n/);
  });

  it('says gh is not authenticated instead of opening a PR', async () => {
    const gh = fakeGh(tempRoot(), { authenticated: false });
    await setup({ PATH: `${gh.bin}:/usr/bin:/bin` });
    await sessionWithCommit('r5');
    await fx.workspaces.bringBack('r5');
    const res = await fx.workspaces.openPullRequest('r5');
    assert.equal(res.opened, false);
    assert.match(res.reason, /not authenticated/);
    assert.deepEqual(gh.calls(), [['auth', 'status']]);
  });

  const roots: string[] = [];
  function tempRoot(): string {
    const d = tempDir('loki-gh-');
    roots.push(d);
    return d;
  }
  afterEach(() => {
    for (const d of roots.splice(0)) rmSync(d, { recursive: true, force: true });
  });
});
