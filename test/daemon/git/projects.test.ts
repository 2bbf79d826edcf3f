import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { arriveTogether, gitFixture, hostGit, makeProject, type GitFixture } from './helpers.js';

async function rejectsWith(p: Promise<unknown>, code: string, msg: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof LokiError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, msg);
    return true;
  });
}

describe('ProjectRegistry', () => {
  let fx: GitFixture;
  beforeEach(() => {
    fx = gitFixture();
  });
  afterEach(() => fx.close());

  it('registers a repository by its real path with its current branch as base and origin as remote', async () => {
    const repo = makeProject(fx.root, 'My Repo');
    hostGit(repo, 'remote', 'add', 'origin', 'https://github.example/acme/demo.git');
    hostGit(repo, 'checkout', '--quiet', '-b', 'develop');
    const link = join(fx.root, 'link');
    symlinkSync(repo, link);
    const p = await fx.projects.register(link, { registeredBy: 'local:0', protectedBranches: ['release/*'] });
    assert.equal(p.path, repo);
    assert.equal(p.name, 'my-repo');
    assert.equal(p.baseBranch, 'develop');
    assert.equal(p.remote, 'origin');
    assert.deepEqual(await fx.projects.get(p.id), p);
    assert.deepEqual(await fx.projects.get('my-repo'), p);
    assert.deepEqual(await fx.projects.list(), [p]);
  });

  it('refuses missing paths, plain directories, subdirectories of a repo and bare repositories with specific errors', async () => {
    const repo = makeProject(fx.root);
    mkdirSync(join(repo, 'sub'));
    mkdirSync(join(fx.root, 'plain'));
    writeFileSync(join(fx.root, 'file'), '');
    hostGit(fx.root, 'init', '--quiet', '--bare', join(fx.root, 'bare.git'));
    await rejectsWith(fx.projects.register(join(fx.root, 'missing'), { registeredBy: 'x' }), 'not_a_git_repo', /does not exist/);
    await rejectsWith(fx.projects.register(join(fx.root, 'file'), { registeredBy: 'x' }), 'not_a_git_repo', /not a directory/);
    await rejectsWith(fx.projects.register(join(fx.root, 'plain'), { registeredBy: 'x' }), 'not_a_git_repo', /is not a git repository/);
    await rejectsWith(fx.projects.register(join(repo, 'sub'), { registeredBy: 'x' }), 'not_a_git_repo', /inside the git repository/);
    await rejectsWith(fx.projects.register(join(fx.root, 'bare.git'), { registeredBy: 'x' }), 'not_a_git_repo', /bare repository/);
    await rejectsWith(fx.projects.register(join(repo, '.git'), { registeredBy: 'x' }), 'not_a_git_repo', /not a working tree/);
    await rejectsWith(fx.projects.register('relative/path', { registeredBy: 'x' }), 'invalid_argument', /absolute/);
  });

  it('refuses bad names, branches, remotes and protected-branch patterns', async () => {
    const repo = makeProject(fx.root);
    await rejectsWith(fx.projects.register(repo, { registeredBy: 'x', name: 'Bad Name' }), 'invalid_argument', /invalid project name/);
    await rejectsWith(fx.projects.register(repo, { registeredBy: 'x', baseBranch: '-main' }), 'invalid_ref', /must not start with "-"/);
    await rejectsWith(fx.projects.register(repo, { registeredBy: 'x', baseBranch: 'a..b' }), 'invalid_ref', /not a valid git branch name/);
    await rejectsWith(fx.projects.register(repo, { registeredBy: 'x', baseBranch: 'nope' }), 'base_branch_missing', /"nope" does not exist/);
    await rejectsWith(fx.projects.register(repo, { registeredBy: 'x', remote: 'upstream' }), 'no_remote', /no git remote named "upstream"/);
    await rejectsWith(fx.projects.register(repo, { registeredBy: 'x', protectedBranches: ['release/[0-9]'] }), 'invalid_argument', /invalid protected branch pattern/);
    await rejectsWith(fx.projects.register(repo, { registeredBy: 'x', protectedBranches: ['--force'] }), 'invalid_argument', /must not start with "-"/);
    assert.deepEqual(await fx.projects.list(), []);
  });

  it('refuses a detached HEAD without an explicit base, and the same path or name twice', async () => {
    const repo = makeProject(fx.root);
    hostGit(repo, 'checkout', '--quiet', '--detach', 'HEAD');
    await rejectsWith(fx.projects.register(repo, { registeredBy: 'x' }), 'base_branch_missing', /detached/);
    await fx.projects.register(repo, { registeredBy: 'x', baseBranch: 'main' });
    await rejectsWith(fx.projects.register(repo, { registeredBy: 'x', baseBranch: 'main', name: 'other' }), 'project_exists', /already registered/);
    const second = makeProject(fx.root, 'second');
    await rejectsWith(fx.projects.register(second, { registeredBy: 'x', name: 'proj' }), 'project_exists', /already exists/);
  });

  it('lets exactly one of several concurrent registrations of one name win; the others get project_exists (check and insert are one transaction)', async () => {
    const repos = ['r1', 'r2', 'r3', 'r4', 'r5'].map((n) => makeProject(fx.root, n));
    // Every registration is past its pre-check (byPath) before any inserts.
    arriveTogether(fx.store.projects, 'byPath', repos.length);
    const results = await Promise.allSettled(repos.map((r) => fx.projects.register(r, { registeredBy: 'x', name: 'shared' })));
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results) {
      if (r.status === 'rejected') assert.ok(r.reason instanceof LokiError && r.reason.code === 'project_exists' && /a project named "shared" already exists/.test(r.reason.message), String(r.reason));
    }
    assert.deepEqual((await fx.projects.list()).map((p) => p.name), ['shared']);
  });

  it('answers concurrent registrations of one repository with the one project, as it answers a repeated one', async () => {
    const repo = makeProject(fx.root);
    arriveTogether(fx.store.projects, 'byPath', 3);
    const all = await Promise.all([1, 2, 3].map(() => fx.projects.register(repo, { registeredBy: 'x' })));
    assert.equal(new Set(all.map((p) => p.id)).size, 1);
    assert.equal((await fx.projects.list()).length, 1);
  });

  it('says how to register when a project is unknown, and forgets a removed project', async () => {
    await assert.rejects(fx.projects.get('ghost'), (e: unknown) => e instanceof LokiError && e.code === 'project_not_found' && /loki projects register/.test(e.message));
    const p = await fx.projects.register(makeProject(fx.root), { registeredBy: 'x' });
    await fx.projects.remove(p.name);
    await assert.rejects(fx.projects.get(p.id), /no project/);
  });
});
