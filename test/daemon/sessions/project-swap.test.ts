// Another host user who owns a registered project's directory (say, one of their
// repositories under git.registry_roots) swaps it, after registration, for a
// symbolic link to a repository only root may read. A session started on the
// project must not clone that repository for the agent (as root, lokid can read
// it), and git must run nowhere through the link. Nor when only the project's
// .git is swapped: another user's project is cloned as that user.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shortTempDir } from '../../helpers/entry.js';
import { ADMIN, makeRepo, removeDir, startSessionDaemon, type SessionDaemon } from './helpers.js';

const SECRET = 'root-only-secret-5d1e';

function asNobody(script: string): void {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

describe('a registered project swapped for a symbolic link by its owner', function () {
  this.timeout(120_000);
  let sd: SessionDaemon | undefined;
  const dirs: string[] = [];

  before(function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv')) this.skip();
  });
  after(async function () {
    await sd?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  /** A root-only repository holding SECRET, and the attacker's own repository (owned by 65534) in a directory they may rename things in. */
  function fixture(): { secret: string; project: string } {
    const secret = makeRepo();
    dirs.push(secret);
    writeFileSync(join(secret, 'secret.txt'), `${SECRET}\n`);
    execFileSync('git', ['add', 'secret.txt'], { cwd: secret });
    execFileSync('git', ['commit', '-q', '-m', 'secret'], { cwd: secret });
    chmodSync(secret, 0o700);
    const parent = shortTempDir('lkr');
    dirs.push(parent);
    chmodSync(parent, 0o1777);
    const own = makeRepo();
    dirs.push(own);
    const project = join(parent, 'proj');
    execFileSync('cp', ['-a', own, project]);
    execFileSync('chown', ['-R', '65534:65534', project]);
    return { secret, project };
  }

  function noSecretInWorkspaces(d: SessionDaemon): void {
    const ws = d.d.paths.workspacesDir;
    for (const x of existsSync(ws) ? readdirSync(ws) : []) assert.ok(!existsSync(join(ws, x, 'secret.txt')), `the linked repository was cloned into ${x}`);
  }

  it('clones another user’s project as that user: a .git swapped for a link to a root-only repository is not read', async function () {
    const { secret, project } = fixture();
    sd ??= await startSessionDaemon({ sessions: { workspace: { max_size: 0 } } });
    const p = await sd.feature.projects.register(project, { name: 'proj-git', registeredBy: 'token:alice' });
    asNobody(`mv ${project}/.git ${project}/.git.orig && ln -s ${secret}/.git ${project}/.git`);
    await assert.rejects(sd.feature.manager.start(ADMIN, { prd: '', prompt: 'x', provider: 'script', plan: '[{"run": "cat secret.txt"}]', profile: '', autonomy: '', project: p.id, projectPath: '', model: '', baseUrl: '', maxIterations: 0, network: false }));
    noSecretInWorkspaces(sd);
    // Put back, the same project (still another user's) starts as before.
    asNobody(`rm ${project}/.git && mv ${project}/.git.orig ${project}/.git`);
    const s = await sd.feature.manager.start(ADMIN, { prd: '', prompt: 'x', provider: 'script', plan: '[{"run": "true"}]', profile: '', autonomy: '', project: p.id, projectPath: '', model: '', baseUrl: '', maxIterations: 0, network: false });
    assert.ok(existsSync(join(sd.d.paths.workspacesDir, s.id, 'README.md')));
  });

  it('refuses to start a session there, and nothing of the linked repository reaches a workspace', async function () {
    const { secret, project } = fixture();
    sd ??= await startSessionDaemon({ sessions: { workspace: { max_size: 0 } } });
    const p = await sd.feature.projects.register(project, { name: 'proj', registeredBy: 'token:alice' });
    assert.equal(p.path, project);
    asNobody(`cat ${secret}/secret.txt 2>/dev/null && exit 1; mv ${project} ${project}.orig && ln -s ${secret} ${project}`);
    assert.ok(statSync(project).isDirectory());

    await assert.rejects(
      sd.feature.manager.start(ADMIN, { prd: '', prompt: 'x', provider: 'script', plan: '[{"run": "cat secret.txt"}]', profile: '', autonomy: '', project: p.id, projectPath: '', model: '', baseUrl: '', maxIterations: 0, network: false }),
      (e: Error & { code?: string }) => e.code === 'unsafe_workspace' && e.message.includes(`${project} now leads to ${secret}`),
    );
    noSecretInWorkspaces(sd);
  });
});
