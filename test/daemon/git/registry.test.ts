// The registry's read side against real git repositories: discovery that never
// leaves its roots (symlink loop, symlink out), planted hooks, fsmonitor and
// filters that would write a marker file (it never appears), health and sync.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoverRepos, projectHealth, syncProject } from '../../../daemon/src/git/registry.js';
import { ProjectRegistry } from '../../../daemon/src/git/projects.js';
import { openSqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { hostGit, silentLogger, tempDir } from './helpers.js';

function repo(dir: string): string {
  mkdirSync(dir, { recursive: true });
  hostGit(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'README.md'), 'hello\n');
  hostGit(dir, 'add', '.');
  hostGit(dir, 'commit', '-q', '-m', 'initial');
  return dir;
}

/** Plants every way a repository could make git run its content; each writes `marker` when run. */
function plantTraps(dir: string, marker: string): void {
  const sh = `#!/bin/sh\necho ran >> ${marker}\n`;
  for (const hook of ['post-checkout', 'pre-commit', 'reference-transaction', 'post-index-change', 'fsmonitor-watchman']) {
    writeFileSync(join(dir, '.git', 'hooks', hook), sh);
    chmodSync(join(dir, '.git', 'hooks', hook), 0o755);
  }
  writeFileSync(join(dir, 'trap.sh'), sh);
  chmodSync(join(dir, 'trap.sh'), 0o755);
  hostGit(dir, 'config', 'core.fsmonitor', join(dir, 'trap.sh'));
  hostGit(dir, 'config', 'core.hooksPath', join(dir, '.git', 'hooks'));
  hostGit(dir, 'config', 'filter.evil.clean', `${join(dir, 'trap.sh')}; cat`);
  hostGit(dir, 'config', 'filter.evil.process', join(dir, 'trap.sh'));
  hostGit(dir, 'config', 'filter.evil.required', 'true');
  hostGit(dir, 'clone', '-q', '--bare', dir, join(dir, '..', 'remote.git'));
  hostGit(dir, 'config', 'remote.origin.url', join(dir, '..', 'remote.git'));
  hostGit(dir, 'config', 'remote.origin.uploadpack', join(dir, 'trap.sh'));
  writeFileSync(join(dir, '.gitattributes'), '* filter=evil\n');
  // A tracked file whose stat no longer matches the index, so `status` would have to re-read (and filter) it.
  writeFileSync(join(dir, 'README.md'), 'changed\n');
}

describe('project registry discovery, health and sync', () => {
  let root: string;
  beforeEach(() => {
    root = realpathSync(tempDir('loki-registry-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('finds repositories under a root without following a symlink loop or a symlink out of the root', () => {
    const inside = join(root, 'src');
    repo(join(inside, 'a'));
    repo(join(inside, 'group', 'b'));
    const outside = repo(join(root, 'outside', 'c'));
    symlinkSync(inside, join(inside, 'loop'));
    symlinkSync(join(root, 'outside'), join(inside, 'escape'));
    const r = discoverRepos([inside], 3);
    assert.deepEqual(r.repos.map((x) => x.path), [join(inside, 'a'), join(inside, 'group', 'b')]);
    assert.ok(!r.repos.some((x) => x.path === outside));
    assert.deepEqual(r.skippedSymlinks.sort(), [join(inside, 'escape'), join(inside, 'loop')]);
    assert.equal(r.truncated, false);
  });

  it('honours the depth and refuses a bad one', () => {
    repo(join(root, 'one', 'two', 'deep'));
    assert.deepEqual(discoverRepos([root], 2).repos, []);
    assert.equal(discoverRepos([root], 3).repos.length, 1);
    assert.throws(() => discoverRepos([root], 99), /depth must be an integer from 0 to 8/);
    assert.throws(() => discoverRepos([root], -1), /depth must be an integer/);
  });

  it('registers, checks health and syncs a repository whose hooks, fsmonitor, filters and upload-pack would write a marker: nothing runs', async () => {
    const dir = repo(join(root, 'trapped'));
    hostGit(dir, 'branch', 'loki/session-1700000000-42');
    const marker = join(root, 'MARKER');
    plantTraps(dir, marker);
    const db = openSqliteStore(join(root, 'db.sqlite'));
    try {
      const projects = new ProjectRegistry({ repo: db.projects, log: silentLogger() });
      const p = await projects.register(dir, { registeredBy: 'token:a', alias: 'trap' });
      assert.equal((await projects.get('trap')).id, p.id);
      assert.equal(p.remote, 'origin');
      // idempotent: the same repository again is the same project
      assert.equal((await projects.register(dir, { registeredBy: 'token:a' })).id, p.id);

      const h = await projectHealth(p, { remoteTimeoutMs: 5000 });
      const byName = Object.fromEntries(h.checks.map((c) => [c.name, c]));
      assert.equal(byName.repo_readable?.status, 'ok');
      assert.equal(byName.base_branch?.status, 'ok');
      assert.equal(byName.working_tree?.status, 'warn', JSON.stringify(byName.working_tree));
      assert.match(byName.working_tree!.detail, /1 modified tracked file/);
      assert.equal(byName.remote?.status, 'ok', JSON.stringify(byName.remote));
      assert.equal(byName.sandbox_image?.status, 'warn');
      assert.equal(h.status, 'warn');

      const s = await syncProject(p);
      assert.equal(s.branches, 2);
      assert.deepEqual(s.sessionBranches, ['loki/session-1700000000-42']);
      assert.match(s.lastCommit, /^[0-9a-f]{40}$/);
      assert.equal(s.lastCommitSubject, 'initial');

      discoverRepos([root], 3);
      assert.equal(existsSync(marker), false, 'a planted hook, fsmonitor, filter or upload-pack ran');
      // The traps are live: plain git in the same repository does run them.
      hostGit(dir, 'status', '--porcelain');
      assert.equal(existsSync(marker), true, 'the traps were not armed, so the test proved nothing');
    } finally {
      db.close();
    }
  });

  it('reports a missing base branch and a clean tree', async () => {
    const dir = repo(join(root, 'plain'));
    const db = openSqliteStore(join(root, 'db.sqlite'));
    try {
      const projects = new ProjectRegistry({ repo: db.projects, log: silentLogger() });
      const p = await projects.register(dir, { registeredBy: 'token:a' });
      const clean = await projectHealth(p, { imagePresent: async () => true });
      assert.equal(clean.checks.find((c) => c.name === 'working_tree')?.detail, 'clean');
      assert.equal(clean.checks.find((c) => c.name === 'sandbox_image')?.status, 'ok');
      hostGit(dir, 'checkout', '-q', '-b', 'other');
      hostGit(dir, 'branch', '-D', 'main');
      const h = await projectHealth(p);
      assert.equal(h.checks.find((c) => c.name === 'base_branch')?.status, 'fail');
      await assert.rejects(projects.register(dir, { registeredBy: 'token:a', name: 'other-name' }), /already registered as project "plain"/);
      await assert.rejects(projects.register(join(root, 'nope'), { registeredBy: 'token:a' }), /does not exist/);
      await assert.rejects(projects.register(dir.slice(1), { registeredBy: 'token:a' }), /must be absolute/);
    } finally {
      db.close();
    }
  });
});
