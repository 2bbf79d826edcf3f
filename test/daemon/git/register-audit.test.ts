// Registering a project is audited whatever text its path holds. A path is the
// caller's text: a directory name with a control character, or a path longer
// than the audit log's reason limit, used to make the audit writer refuse the
// record, so a successful registration went unaudited (and the CLI said it
// failed with 'audit event: "resource" contains control characters'), and a
// refused one answered with the audit's error instead of its own. Real lokid,
// real git repository, real CLI process.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { lokiProcess, shortTempDir } from '../../helpers/entry.js';
import { WorkspaceServiceClient, type Project, type RegisterProjectRequest } from '../../../proto/gen/loki/v1/workspace.js';
import { auditEntries, clientFor, startTestDaemon, unaryCall } from '../../helpers/daemon.js';
import { removeDir } from '../sessions/helpers.js';

describe('project.register is audited whatever the path holds', function () {
  this.timeout(60_000);
  let d: Awaited<ReturnType<typeof startTestDaemon>>;
  let base: string;

  before(async () => {
    base = shortTempDir('lkra');
    d = await startTestDaemon();
  });
  after(async () => {
    await d?.cleanup();
    if (base) removeDir(base);
  });

  const cli = (...args: string[]) => lokiProcess(d.home, d.paths.adminSocket, args);
  const entries = async () =>
    (await cli('enterprise', 'audit', 'tail', '--event', 'project.register', '--json')).out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { result: string; resource: string; reason?: string });

  // A path is one line of visible text (common/src/text-input.ts): a directory name with a control
  // character is refused, naming it, and the refusal is audited with the path written visibly.
  it('refuses a repository whose directory name holds a control character, and audits the refusal', async () => {
    const repo = join(base, 'bell\u0007repo');
    mkdirSync(repo);
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: repo });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@e.invalid', 'commit', '-q', '--allow-empty', '-m', 'i'], { cwd: repo });
    const r = await cli('projects', 'register', repo);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, /path contains a control character \(\\x07 at position \d+\)/);
    const refused = (await entries()).filter((e) => e.result === 'error' && e.resource.includes('bell'));
    assert.equal(refused.length, 1, JSON.stringify(refused));
    assert.equal(refused[0]!.resource, `project:${join(base, 'bell\\x07repo')}`, 'the control character is written visibly');
  });

  // An operator's directory name must not drive the terminal of the admin who reads the refusal.
  it('never prints such a path raw in the refusal', async () => {
    const repo = join(base, 'esc\u001b]0;pwned\u0007repo');
    mkdirSync(repo);
    const r = await cli('projects', 'register', repo, '--name', 'esc');
    assert.equal(r.code, 2, r.out + r.err);
    assert.doesNotMatch(r.out + r.err, /[\u0000-\u0008\u000b-\u001f\u007f]/, JSON.stringify(r.err));
    assert.equal((await cli('projects', 'show', 'esc')).code, 5, 'nothing was registered');
  });

  // Each registration is audited before it is stored; when several of one repository race, one insert
  // wins and every caller gets that project, so the others' entries named ids that were never stored.
  it('says which of several simultaneous registrations of one repository stored nothing', async () => {
    const repo = join(base, 'raced');
    mkdirSync(repo);
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: repo });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@e.invalid', 'commit', '-q', '--allow-empty', '-m', 'i'], { cwd: repo });
    const ws = clientFor(WorkspaceServiceClient, d.paths.adminSocket);
    try {
      const req: RegisterProjectRequest = { path: repo, name: 'raced', alias: '', baseBranch: '', remote: '', protectedBranches: [] };
      const got = await Promise.all(Array.from({ length: 6 }, () => unaryCall<RegisterProjectRequest, Project>(ws.registerProject.bind(ws), req)));
      const ids = new Set(got.map((p) => p.id));
      assert.equal(ids.size, 1, 'every caller gets the one project');
      const [id] = [...ids];
      const mine = auditEntries(d.home).filter((e) => e.action === 'project.register' && e.resource === 'project:raced');
      const stored = mine.filter((e) => e.result === 'success' && e.details.id === id);
      const planned = mine.filter((e) => e.result === 'success' && e.details.id !== id);
      const notDone = mine.filter((e) => e.result === 'error');
      assert.equal(notDone.length, planned.length, JSON.stringify(mine, null, 1));
      for (const e of notDone) assert.equal(e.reason, `not done: registered at the same moment by another request, as ${id}`);
      assert.ok(stored.length >= 1, 'the stored one is in the log');
      // Six at once: their checks (several git commands each) overlap, so more than one reaches the insert.
      assert.ok(planned.length >= 1, `the registrations raced (${mine.length} entries)`);
    } finally {
      ws.close();
    }
  });

  it('answers a refused registration with its own error and audits it, however long the path', async () => {
    const long = join(base, 'x'.repeat(1100));
    const r = await cli('projects', 'register', long);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, /does not exist/);
    assert.doesNotMatch(r.err, /audit event/);
    const err = (await entries()).filter((e) => e.result === 'error' && e.resource.includes('xxxxxxxx'));
    assert.equal(err.length, 1, JSON.stringify(err));
    assert.match(err[0]!.reason ?? '', /does not exist|\[\+\d+ chars\]/);
  });
});
