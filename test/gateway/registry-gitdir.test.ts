// An operator may register only repositories inside git.registry_roots. The
// working tree being inside is not enough: a `.git` gitfile, a `.git` symlink,
// a `commondir` file or an `alternates` list can point the daemon at another
// user's repository outside the roots (its code cloned into the operator's
// sessions, session branches written into it). Real daemon, real gateway,
// real git repositories, an operator token over HTTP.
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostGit, tempDir } from '../daemon/git/helpers.js';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

function repo(dir: string, branch = 'main'): string {
  mkdirSync(dir, { recursive: true });
  hostGit(dir, 'init', '-q', '-b', branch);
  hostGit(dir, 'commit', '-q', '--allow-empty', '-m', 'initial');
  return dir;
}

describe('registry roots hold the repository, not only its working tree', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  let base: string;
  let roots: string;
  let secret: string;
  const tok: Record<string, string> = {};

  before(async () => {
    base = realpathSync(tempDir('loki-reg-gd-'));
    roots = join(base, 'roots');
    mkdirSync(roots);
    // Someone else's repository, outside the roots.
    secret = repo(join(base, 'home', 'bob', 'private'), 'secret');
    daemon = await startTestDaemon({ git: { registry_roots: [roots] } });
    for (const [name, role] of [['admin', 'admin'], ['alice', 'operator']] as const) tok[name] = (await generateToken(daemon.adminSocket, { name, role })).secret;
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000 } } });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const register = (who: string, path: string, name: string) =>
    gw.app.inject({ method: 'POST', url: '/api/registry/projects', headers: bearer(tok[who]!), payload: { path, name } });

  it('refuses an operator a working tree in the roots whose git data is outside them', async () => {
    const gitfile = join(roots, 'gitfile');
    mkdirSync(gitfile);
    writeFileSync(join(gitfile, '.git'), `gitdir: ${join(secret, '.git')}\n`);
    const linked = join(roots, 'linked');
    mkdirSync(linked);
    symlinkSync(join(secret, '.git'), join(linked, '.git'));
    const common = join(roots, 'common');
    mkdirSync(join(common, '.git'), { recursive: true });
    writeFileSync(join(common, '.git', 'commondir'), `${join(secret, '.git')}\n`);
    writeFileSync(join(common, '.git', 'HEAD'), 'ref: refs/heads/secret\n');
    const borrow = repo(join(roots, 'borrow'));
    writeFileSync(join(borrow, '.git', 'objects', 'info', 'alternates'), `${join(secret, '.git', 'objects')}\n`);
    // Each of these really is bob's repository to git:
    assert.equal(hostGit(gitfile, 'symbolic-ref', '--short', 'HEAD'), 'secret');
    assert.equal(hostGit(common, 'rev-parse', 'secret'), hostGit(secret, 'rev-parse', 'secret'));

    for (const [dir, why] of [
      [gitfile, /keeps its git data in .*home\/bob\/private\/\.git, outside the registry roots/],
      [linked, /keeps its git data in .*home\/bob\/private\/\.git, outside the registry roots/],
      [common, /keeps its git data in .*home\/bob\/private\/\.git, outside the registry roots/],
      [borrow, /borrows objects from other repositories/],
    ] as const) {
      const r = await register('alice', dir, `x-${dir.split('/').pop()!}`);
      assert.equal(r.statusCode, 403, `${dir}: ${r.body}`);
      assert.match(r.json<{ error: { code: string; message: string } }>().error.message, why);
      assert.equal(r.json<{ error: { code: string } }>().error.code, 'permission_denied');
    }
    const names = (await gw.app.inject({ method: 'GET', url: '/api/registry/projects', headers: bearer(tok.admin!) })).json<{ projects: { name: string }[] }>().projects.map((p) => p.name);
    assert.deepEqual(names, [], 'nothing was registered');
  });

  it('still lets an operator register a plain repository and a linked worktree of one inside the roots, and an admin anything', async () => {
    const plain = repo(join(roots, 'plain'));
    assert.equal((await register('alice', plain, 'plain')).statusCode, 201);
    const wt = join(roots, 'plain-wt');
    hostGit(plain, 'worktree', 'add', '--quiet', '-b', 'side', wt);
    const w = await register('alice', wt, 'plain-wt');
    assert.equal(w.statusCode, 201, w.body);
    const gitfile = join(roots, 'gitfile');
    const adm = await register('admin', gitfile, 'admin-gitfile');
    assert.equal(adm.statusCode, 201, adm.body);
  });
});
