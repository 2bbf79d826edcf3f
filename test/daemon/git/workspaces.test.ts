import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { defaultGitConfig } from '../../../daemon/src/git/config.js';
import { agentGit, agentWrite, arriveTogether, gitFixture, hostGit, makeProject, refSnapshot, tempDir, type GitFixture } from './helpers.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

async function rejectsWith(p: Promise<unknown>, code: string, msg?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof LokiError, `expected LokiError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (msg) assert.match(err.message, msg);
    return true;
  });
}

describe('WorkspaceManager', () => {
  let fx: GitFixture;
  let project: string;
  afterEach(() => fx?.close());

  async function setup(config = defaultGitConfig(), clock?: () => number): Promise<void> {
    fx = gitFixture({ config, ...(clock ? { clock } : {}) });
    project = makeProject(fx.root);
    await fx.projects.register(project, { registeredBy: 'local:0' });
  }

  /** setup() with auto_pr on, `gh` being `script(its directory)`, and the project's `origin` at `remote(fx.root)`. */
  async function setupWithGh(script: (bin: string) => string, remote: (root: string) => string): Promise<void> {
    const bin = tempDir('loki-gh-');
    after(() => rmSync(bin, { recursive: true, force: true }));
    const gh = join(bin, 'gh');
    writeFileSync(gh, script(bin), { mode: 0o755 });
    await setup(defaultGitConfig({ auto_pr: true, gh_path: gh }));
    hostGit(project, 'remote', 'add', 'origin', remote(fx.root));
    await fx.projects.remove('proj');
    await fx.projects.register(project, { registeredBy: 'local:0' });
  }

  it('clones the project at the pinned base commit onto loki/session-<unix-timestamp>-<pid>-<random> with no remote back to the host', async () => {
    await setup();
    const before = Math.floor(Date.now() / 1000);
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's1', pid: 4242, owner: 'local:0' });
    const m = /^loki\/session-(\d+)-4242-[0-9a-f]{8}$/.exec(ws.branch);
    assert.ok(m, ws.branch);
    assert.ok(Math.abs(Number(m[1]) - before) <= 2);
    assert.equal(ws.baseBranch, 'main');
    assert.equal(ws.baseCommit, hostGit(project, 'rev-parse', 'main'));
    assert.equal(ws.path, join(fx.home, 'workspaces', 's1'));
    assert.equal(agentGit(ws.path, 'symbolic-ref', '--short', 'HEAD'), ws.branch);
    assert.equal(agentGit(ws.path, 'rev-parse', 'HEAD'), ws.baseCommit);
    assert.equal(agentGit(ws.path, 'remote'), '');
    assert.equal(agentGit(ws.path, 'config', 'user.name'), 'Loki Agent');
    assert.equal(readFileSync(join(ws.path, 'app.js'), 'utf8'), 'console.log(1);\n');
    if (isRoot) assert.equal(statSync(join(ws.path, 'app.js')).uid, 64000);
    const trail = fx.trail.read('s1');
    assert.equal(trail[0]?.action, 'workspace_create');
  });

  it('brings back a commit made on the session branch and leaves main and every other ref byte-for-byte unchanged', async () => {
    await setup();
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's2', pid: 1, owner: 'local:0' });
    const before = refSnapshot(project);
    agentWrite(join(ws.path, 'feature.txt'), 'one\ntwo\n');
    agentWrite(join(ws.path, 'app.js'), 'console.log(2);\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'Add feature');
    const agentHead = agentGit(ws.path, 'rev-parse', 'HEAD');

    const diff = await fx.workspaces.diff('s2');
    assert.equal(diff.filesChanged, 2);
    assert.equal(diff.insertions, 3);
    assert.equal(diff.deletions, 1);
    assert.deepEqual(diff.commits.map((c) => [c.sha, c.subject, c.filesChanged]), [[agentHead, 'Add feature', 2]]);
    assert.equal(refSnapshot(project), before, 'diff must not leave refs behind in the project');

    const res = await fx.workspaces.finish('s2');
    assert.equal(res.bringBack.commit, agentHead);
    assert.equal(res.bringBack.previous, '');
    assert.equal(hostGit(project, 'rev-parse', `refs/heads/${ws.branch}`), agentHead);
    const after = refSnapshot(project).split('\n').filter((l) => !l.startsWith(`refs/heads/${ws.branch} `));
    assert.deepEqual(after, before.split('\n'));
    assert.equal(res.pullRequest.opened, false);
    assert.match(res.pullRequest.reason, /opt-in/);
    const commitEntry = fx.trail.read('s2').find((e) => e.action === 'git_commit');
    assert.deepEqual(commitEntry?.details, { sha: agentHead, message: 'Add feature', files_changed: 2 });
    assert.equal(commitEntry?.agent, 'development');
    assert.equal((await fx.workspaces.get('s2')).state, 'finished');
  });

  it('never lets a rewritten main, a new master, tags or force-moved refs in the workspace reach the project', async () => {
    await setup();
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's3', pid: 2, owner: 'local:0' });
    const before = refSnapshot(project);
    agentWrite(join(ws.path, 'evil.txt'), 'x\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'evil');
    const evil = agentGit(ws.path, 'rev-parse', 'HEAD');
    agentGit(ws.path, 'branch', '-f', 'main', evil);
    agentGit(ws.path, 'update-ref', 'refs/heads/master', evil);
    agentGit(ws.path, 'update-ref', 'refs/heads/release/1.0', evil);
    agentGit(ws.path, 'tag', 'v9.9', evil);
    agentGit(ws.path, 'tag', '-a', '-m', 'annotated', 'v10', evil);
    agentGit(ws.path, 'update-ref', 'refs/remotes/origin/main', evil);
    agentGit(ws.path, 'update-ref', 'refs/notes/commits', evil);
    // the session branch itself goes back to the base: the only ref that returns is "no change"
    agentGit(ws.path, 'reset', '--quiet', '--hard', ws.baseCommit);

    const res = await fx.workspaces.finish('s3');
    assert.equal(res.bringBack.commit, ws.baseCommit);
    const after = refSnapshot(project).split('\n').filter((l) => !l.startsWith(`refs/heads/${ws.branch} `));
    assert.deepEqual(after, before.split('\n'));
    assert.equal(hostGit(project, 'tag', '--list'), '');
    assert.throws(() => hostGit(project, 'cat-file', '-e', evil), 'the evil commit object must not even be copied');
  });

  it('refuses a non-fast-forward update of a session branch already brought back, unless configured', async () => {
    await setup();
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's4', pid: 3, owner: 'local:0' });
    agentWrite(join(ws.path, 'a.txt'), 'a\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'first');
    const first = (await fx.workspaces.bringBack('s4')).commit;
    agentGit(ws.path, 'reset', '--quiet', '--hard', ws.baseCommit);
    agentWrite(join(ws.path, 'b.txt'), 'b\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'rewritten');
    await rejectsWith(fx.workspaces.bringBack('s4'), 'non_fast_forward', /history rewritten/);
    assert.equal(hostGit(project, 'rev-parse', `refs/heads/${ws.branch}`), first);
  });

  it('replaces a rewritten session branch when allow_non_fast_forward is set', async () => {
    await setup(defaultGitConfig({ allow_non_fast_forward: true }));
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's5', pid: 3, owner: 'local:0' });
    agentWrite(join(ws.path, 'a.txt'), 'a\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'first');
    await fx.workspaces.bringBack('s5');
    agentGit(ws.path, 'commit', '--quiet', '--amend', '-m', 'amended');
    const res = await fx.workspaces.bringBack('s5');
    assert.equal(hostGit(project, 'rev-parse', `refs/heads/${ws.branch}`), res.commit);
    assert.equal(hostGit(project, 'log', '-1', '--format=%s', res.commit), 'amended');
  });

  it('refuses to create a session branch whose name a configured protected pattern covers', async () => {
    await setup(defaultGitConfig({ protected_branches: ['main', 'master', 'loki/**'] }));
    await rejectsWith(fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's6', pid: 1, owner: 'local:0' }), 'protected_ref', /protected/);
  });

  it('gives 5 sessions started in the same second by the same daemon 5 different branches', async () => {
    await setup(defaultGitConfig(), () => 1_700_000_000_000);
    const all = await Promise.all(['c1', 'c2', 'c3', 'c4', 'c5'].map((sessionId) => fx.workspaces.createWorkspace({ project: 'proj', sessionId, pid: 99, owner: 'local:0' })));
    for (const ws of all) assert.match(ws.branch, /^loki\/session-1700000000-99-[0-9a-f]{8}$/);
    assert.equal(new Set(all.map((ws) => ws.branch)).size, 5);
  });

  it('gives a branch to exactly one of several sessions racing for it; the others get ref_exists and leave nothing behind', async () => {
    fx = gitFixture({ clock: () => 1_700_000_000_000, branchRandom: () => '0badc0de' });
    project = makeProject(fx.root);
    await fx.projects.register(project, { registeredBy: 'local:0' });
    const ids = ['b1', 'b2', 'b3', 'b4'];
    // Every create is past its early branch check before any inserts: only the insert itself decides.
    arriveTogether(fx.store.workspaces, 'branchTaken', ids.length);
    const results = await Promise.allSettled(ids.map((sessionId) => fx.workspaces.createWorkspace({ project: 'proj', sessionId, pid: 5, owner: 'local:0' })));
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    assert.equal(won.length, 1);
    for (const r of results) {
      if (r.status === 'rejected') assert.ok(r.reason instanceof LokiError && r.reason.code === 'ref_exists' && /loki\/session-1700000000-5-0badc0de" already exists/.test(r.reason.message), String(r.reason));
    }
    assert.deepEqual((await fx.workspaces.list()).map((w) => w.sessionId), [won[0]!.sessionId]);
    for (const id of ids) assert.equal(existsSync(join(fx.home, 'workspaces', id)), id === won[0]!.sessionId, `workspace dir of ${id}`);
    assert.equal(agentGit(won[0]!.path, 'symbolic-ref', '--short', 'HEAD'), 'loki/session-1700000000-5-0badc0de');
  });

  it('creates one workspace when one session is created twice at once, and the loser leaves the winner\'s directory alone', async () => {
    await setup();
    arriveTogether(fx.store.workspaces, 'get', 2);
    const results = await Promise.allSettled([1, 2].map(() => fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'twice', pid: 6, owner: 'local:0' })));
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    assert.equal(won.length, 1);
    const lost = results.find((r) => r.status === 'rejected');
    assert.ok(lost?.reason instanceof LokiError && lost.reason.code === 'conflict', String(lost?.reason));
    assert.equal(agentGit(won[0]!.path, 'rev-parse', 'HEAD'), won[0]!.baseCommit);
    assert.equal((await fx.workspaces.list()).length, 1);
  });

  it('rejects an unknown project, an unknown session and a session id that could escape the workspaces dir', async () => {
    await setup();
    await rejectsWith(fx.workspaces.createWorkspace({ project: 'nope', sessionId: 's9', owner: 'local:0' }), 'project_not_found', /loki projects register/);
    await rejectsWith(fx.workspaces.diff('missing'), 'workspace_not_found');
    await rejectsWith(fx.workspaces.createWorkspace({ project: 'proj', sessionId: '../etc', owner: 'local:0' }), 'invalid_argument', /session id/);
    await rejectsWith(fx.workspaces.createWorkspace({ project: 'proj', sessionId: '-rf', owner: 'local:0' }), 'invalid_argument');
  });

  it('says so when the agent deleted its session branch, and still refuses to bring anything else back', async () => {
    await setup();
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's11', pid: 6, owner: 'local:0' });
    const before = refSnapshot(project);
    agentGit(ws.path, 'checkout', '--quiet', '-b', 'elsewhere');
    agentGit(ws.path, 'branch', '-D', ws.branch);
    await rejectsWith(fx.workspaces.finish('s11'), 'failed_precondition', /no longer exists in the workspace/);
    assert.equal(refSnapshot(project), before);
  });

  it('finishes with the branch brought back and manual PR commands when the push for the PR fails', async () => {
    await setupWithGh(() => '#!/bin/sh\nexit 0\n', (root) => join(root, 'no-such-remote.git'));
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's12', pid: 6, owner: 'local:0' });
    agentWrite(join(ws.path, 'd.txt'), 'd\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'Add d');
    const res = await fx.workspaces.finish('s12');
    assert.equal(res.pullRequest.opened, false);
    assert.match(res.pullRequest.reason, /push to "origin" failed/);
    assert.equal(res.pullRequest.commands.length, 2);
    assert.equal(hostGit(project, 'rev-parse', `refs/heads/${ws.branch}`), res.bringBack.commit);
    assert.equal((await fx.workspaces.get('s12')).state, 'finished');
  });

  // gh refuses a second `pr create` for a branch with an open pull request (exit 1, its own message and
  // the open one's URL on stderr): a repeated `loki session pr`, or a finish repeated after a lokid restart,
  // used to overwrite the session's opened pull request with "not opened: gh pr create failed: https://…".
  it('answers a pull request gh says is already open as opened, with its URL', async () => {
    const url = 'https://github.com/acme/app/pull/7';
    // gh's refusal, as its format string writes it: a pull request for branch %q into branch %q already exists:\n%s
    await setupWithGh(
      (bin) => `#!/bin/sh
[ "$1" = auth ] && exit 0
if [ -e "${bin}/opened" ]; then printf 'a pull request for branch "%s" into branch "%s" already exists:\\n%s\\n' "$6" "$4" "${url}" >&2; exit 1; fi
touch "${bin}/opened"; echo "${url}"
`,
      (root) => {
        execFileSync('git', ['init', '--quiet', '--bare', join(root, 'remote.git')]);
        return join(root, 'remote.git');
      },
    );
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's14', pid: 6, owner: 'local:0' });
    agentWrite(join(ws.path, 'f.txt'), 'f\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'Add f');
    const first = await fx.workspaces.finish('s14');
    assert.deepEqual([first.pullRequest.opened, first.pullRequest.url], [true, url]);
    const again = await fx.workspaces.openPullRequest('s14');
    assert.deepEqual([again.opened, again.url, again.reason], [true, url, 'it was already open'], JSON.stringify(again));
    assert.deepEqual(await fx.workspaces.pullRequestOf('s14').then((p) => [p?.opened, p?.url]), [true, url]);
  });

  it('works on a project owned by another user when the daemon is root, leaving no root-owned files in its .git', async function () {
    if (!isRoot) this.skip();
    fx = gitFixture();
    project = makeProject(fx.root);
    execFileSync('chown', ['-R', '1001:1001', project]);
    await fx.projects.register(project, { registeredBy: 'local:0' });
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's13', pid: 8, owner: 'local:0' });
    agentWrite(join(ws.path, 'e.txt'), 'e\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'Add e');
    const res = await fx.workspaces.finish('s13');
    const owner = (...args: string[]) => execFileSync('git', args, { cwd: project, uid: 1001, gid: 1001, env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', GIT_CONFIG_GLOBAL: '/dev/null' }, encoding: 'utf8' }).trim();
    assert.equal(owner('rev-parse', `refs/heads/${ws.branch}`), res.bringBack.commit);
    assert.equal(owner('fsck', '--no-progress'), '');
    const notOwned = execFileSync('find', [join(project, '.git'), '!', '-uid', '1001'], { encoding: 'utf8' }).trim();
    assert.equal(notOwned, '', 'every file in the project .git still belongs to its owner');
  });

  it('exports a read-only copy of the trail to .loki/logs/agent-audit.jsonl when configured', async () => {
    await setup(defaultGitConfig({ export_agent_audit: true }));
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's10', pid: 5, owner: 'local:0' });
    agentWrite(join(ws.path, 'c.txt'), 'c\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'Add c');
    const res = await fx.workspaces.finish('s10');
    const dest = join(project, '.loki', 'logs', 'agent-audit.jsonl');
    assert.equal(res.exportedTrail, dest);
    assert.equal(statSync(dest).mode & 0o777, 0o444);
    const lines = readFileSync(dest, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; action: string });
    assert.deepEqual(lines.map((l) => l.seq), lines.map((_, i) => i + 1));
    assert.ok(lines.some((l) => l.action === 'git_commit'));
    // a second export replaces the read-only file instead of failing
    fx.trail.append('s10', { action: 'note', agent: 'loki' });
    await fx.trail.exportTo('s10', project);
    assert.equal(readFileSync(dest, 'utf8').trim().split('\n').length, lines.length + 1);
  });

  it('still brings the branch back when the project refuses the trail export, and says why', async () => {
    // The export used to throw out of finish: the branch was back, but the session said
    // "could not bring the session branch back" and lost its diff summary.
    await setup(defaultGitConfig({ export_agent_audit: true }));
    mkdirSync(join(project, '.loki'));
    mkdirSync(join(fx.root, 'elsewhere'));
    symlinkSync(join(fx.root, 'elsewhere'), join(project, '.loki', 'logs'));
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 's11', pid: 5, owner: 'local:0' });
    agentWrite(join(ws.path, 'd.txt'), 'd\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'Add d');
    const res = await fx.workspaces.finish('s11');
    assert.equal(hostGit(project, 'log', '-1', '--format=%s', ws.branch), 'Add d');
    assert.equal(res.exportedTrail, '');
    assert.match(res.exportRefused ?? '', /\.loki\/logs is a symlink; refusing to export the agent audit trail through it/);
  });
});
