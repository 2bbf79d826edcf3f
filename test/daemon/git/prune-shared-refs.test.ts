// `loki projects prune` on a project that shares its refs with another one (a
// linked worktree registered as a second project) must not delete the session
// branch a real session brought back into the other project: that session is
// known to the daemon, so its branch is no orphan. Before the fix prune looked
// only at the pruned project's own sessions and deleted the branch — the only
// copy of the agent's work — as `removed_session`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { lokiProcess, shortTempDir } from '../../helpers/entry.js';
import { ADMIN, git, realRunnerSuite, removeDir, until } from '../sessions/helpers.js';

describe('projects prune with two projects on one ref store (real session, real CLI)', function () {
  this.timeout(180_000);
  const suite = realRunnerSuite();
  let wtParent: string;

  before(function () {
    wtParent = shortTempDir('lkw');
  });
  after(() => {
    if (wtParent) removeDir(wtParent);
  });

  // The real CLI, as a separate process (this lokid runs in the test's own process).
  const cli = (...args: string[]) => lokiProcess(suite.sd.d.home, suite.sd.d.paths.adminSocket, args);

  it("keeps the branch a session of the other project brought back, and still prunes a real orphan", async () => {
    const wt = join(wtParent, 'wt');
    execFileSync('git', ['-C', suite.repo, 'worktree', 'add', '--quiet', '-b', 'side', wt], { stdio: 'pipe' });
    const reg1 = await cli('projects', 'register', suite.repo, '--name', 'app');
    assert.equal(reg1.code, 0, reg1.err);
    const reg2 = await cli('projects', 'register', wt, '--name', 'app-wt');
    assert.equal(reg2.code, 0, reg2.err);

    const m = suite.sd.feature.manager;
    const plan = '[{"write": "work.txt", "content": "the agent\'s work\\n"}, {"commit": "the agent\'s work"}]';
    const s = await m.start(ADMIN, { prd: '', prompt: 'work', provider: 'script', plan, profile: '', autonomy: '', project: 'app', projectPath: '', model: '', baseUrl: '', maxIterations: 0, network: false });
    const done = await until('the session to end', async () => {
      const x = await m.get(ADMIN, s.id);
      return ['completed', 'failed', 'stopped'].includes(x.state) ? x : undefined;
    }, 120_000);
    assert.equal(done.state, 'completed', done.reason ?? '');
    const branch = done.branch!;
    const tip = git(suite.repo, 'rev-parse', '--verify', `refs/heads/${branch}`).trim();
    assert.match(git(suite.repo, 'show', `${tip}:work.txt`), /the agent's work/);
    // A session branch nobody knows, made by hand: that one prune must still find.
    const orphan = 'loki/session-1700000000-99';
    git(suite.repo, 'branch', orphan, 'main');

    const dry = await cli('projects', 'prune', 'app-wt', '--json');
    assert.equal(dry.code, 0, dry.err);
    const listed = (JSON.parse(dry.out) as { projects: { branches: { branch: string; reason: string }[] }[] }).projects.flatMap((p) => p.branches.map((b) => [b.branch, b.reason]));
    assert.deepEqual(listed, [[orphan, 'removed_session']], 'only the hand-made orphan is offered');

    const run = await cli('projects', 'prune', 'app-wt', '--yes');
    assert.equal(run.code, 0, run.err);
    assert.equal(git(suite.repo, 'rev-parse', '--verify', `refs/heads/${branch}`).trim(), tip, "the session's branch is still in the repository");
    assert.throws(() => git(suite.repo, 'rev-parse', '--verify', '--quiet', `refs/heads/${orphan}`), 'the orphan went');
  });
});
