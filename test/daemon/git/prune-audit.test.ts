// `loki projects prune --yes` is audited before it deletes: its entry names each branch and
// the commit it pointed at (what `git branch NAME COMMIT` needs to bring it back). A prune of
// more branches than one entry can name must not delete the ones its entry left out.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { WorkspaceServiceClient, type Project, type PruneBranchesRequest, type PruneBranchesResponse, type RegisterProjectRequest } from '../../../proto/gen/loki/v1/workspace.js';
import { auditEntries, clientFor, startTestDaemon, unaryCall } from '../../helpers/daemon.js';
import { makeRepo, removeDir } from '../sessions/helpers.js';

describe('projects prune of many branches', function () {
  this.timeout(120_000);
  let d: Awaited<ReturnType<typeof startTestDaemon>> | undefined;
  let repo = '';
  afterEach(async () => {
    await d?.cleanup();
    d = undefined;
    if (repo) removeDir(repo);
  });

  it('deletes only branches its audit entry names, and says the rest were kept', async () => {
    repo = makeRepo();
    // 300 orphaned session branches (no session knows them), made in one go.
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
    const names = Array.from({ length: 300 }, (_, i) => `loki/session-1-${i}`);
    execFileSync('git', ['update-ref', '--stdin'], { cwd: repo, input: names.map((n) => `create refs/heads/${n} ${head}\n`).join('') });
    d = await startTestDaemon();
    const ws = clientFor(WorkspaceServiceClient, d.paths.adminSocket);
    try {
      await unaryCall<RegisterProjectRequest, Project>(ws.registerProject.bind(ws), { path: repo, name: 'p', baseBranch: '', remote: '', protectedBranches: [], alias: '' });
      const r = await unaryCall<PruneBranchesRequest, PruneBranchesResponse>(ws.pruneBranches.bind(ws), { project: 'p', yes: true });
      const deleted = r.projects.flatMap((p) => p.branches.filter((b) => b.deleted).map((b) => `p:${b.branch}@${b.commit.slice(0, 12)}`));
      const entries = auditEntries(d.home).filter((e) => e.action === 'project.prune');
      const named = new Set(entries.filter((e) => e.result === 'success').flatMap((e) => (e.details.deleted as string[] | undefined) ?? []));
      const unnamed = deleted.filter((b) => !named.has(b));
      assert.deepEqual(unnamed.slice(0, 3), [], `${unnamed.length} deleted branch(es) are in no audit entry`);
      const left = () => execFileSync('git', ['for-each-ref', '--format=%(refname:short)', 'refs/heads/loki/'], { cwd: repo, encoding: 'utf8' }).split('\n').filter(Boolean);
      assert.equal(left().length, 300 - deleted.length, 'the reply says what was deleted');
      assert.ok(deleted.length > 0, 'some were deleted');
      assert.ok(entries.some((e) => e.result === 'error' && /kept/.test(String(e.reason))), 'the kept branches have their not-done entry');
      // The next prune goes on with the rest.
      await unaryCall<PruneBranchesRequest, PruneBranchesResponse>(ws.pruneBranches.bind(ws), { project: 'p', yes: true });
      assert.deepEqual(left(), []);
      const all = new Set(auditEntries(d.home).filter((e) => e.action === 'project.prune' && e.result === 'success').flatMap((e) => e.details.deleted as string[]));
      assert.equal(all.size, 300, 'every deleted branch is named once');
    } finally {
      ws.close();
    }
  });
});
