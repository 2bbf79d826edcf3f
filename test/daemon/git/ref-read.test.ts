// Branch tips read from the repository's files agree with `git rev-parse` for
// every way git keeps a branch (loose, packed, packed then updated, symbolic,
// a linked worktree's common directory), say "missing" for a missing branch,
// and step aside for what they do not read.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { branchTips, readBranchTips } from '../../../daemon/src/git/ref-read.js';
import { openParents } from '../../helpers/as-user.js';
import { hostGit, makeProject, tempDir } from './helpers.js';

describe('readBranchTips', () => {
  let root: string;
  let repo: string;
  beforeEach(() => {
    root = tempDir();
    repo = makeProject(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const revParse = (r: string, ref: string) => hostGit(r, 'rev-parse', '--verify', `refs/heads/${ref}^{commit}`);

  it('reads a loose branch and says null for a missing one', async () => {
    const tips = await readBranchTips(repo, ['main', 'loki/session-1-2-0badc0de']);
    assert.equal(tips?.get('main'), revParse(repo, 'main'));
    assert.equal(tips?.get('loki/session-1-2-0badc0de'), null);
  });

  it('reads packed branches, and a loose ref written after packing wins over its packed line', async () => {
    hostGit(repo, 'branch', 'feature/x');
    hostGit(repo, 'pack-refs', '--all');
    assert.equal(hostGit(repo, 'for-each-ref', '--format=%(refname)', 'refs/heads/'), 'refs/heads/feature/x\nrefs/heads/main');
    let tips = await readBranchTips(repo, ['main', 'feature/x', 'feature']);
    assert.equal(tips?.get('main'), revParse(repo, 'main'));
    assert.equal(tips?.get('feature/x'), revParse(repo, 'feature/x'));
    // `feature` is a directory of loose refs (empty after packing) and no branch.
    assert.equal(tips?.get('feature'), null);
    writeFileSync(join(repo, 'f.txt'), 'f\n');
    hostGit(repo, 'add', 'f.txt');
    hostGit(repo, 'commit', '--quiet', '-m', 'moves main past its packed line');
    tips = await readBranchTips(repo, ['main']);
    assert.equal(tips?.get('main'), revParse(repo, 'main'));
    hostGit(repo, 'branch', '-D', 'feature/x');
    assert.equal((await readBranchTips(repo, ['feature/x']))?.get('feature/x'), null, 'a deleted packed branch is missing');
  });

  it('follows a symbolic branch, loose or to a packed target', async () => {
    hostGit(repo, 'symbolic-ref', 'refs/heads/trunk', 'refs/heads/main');
    assert.equal((await readBranchTips(repo, ['trunk']))?.get('trunk'), revParse(repo, 'trunk'));
    hostGit(repo, 'pack-refs', '--all');
    assert.equal((await readBranchTips(repo, ['trunk']))?.get('trunk'), revParse(repo, 'main'));
    hostGit(repo, 'symbolic-ref', 'refs/heads/dangling', 'refs/heads/nothing-here');
    assert.equal((await readBranchTips(repo, ['dangling']))?.get('dangling'), null);
  });

  it('reads a linked worktree through its common directory', async () => {
    const wt = join(root, 'wt');
    hostGit(repo, 'worktree', 'add', '--quiet', '-b', 'side', wt);
    const tips = await readBranchTips(wt, ['main', 'side', 'gone']);
    assert.equal(tips?.get('main'), revParse(wt, 'main'));
    assert.equal(tips?.get('side'), revParse(wt, 'side'));
    assert.equal(tips?.get('gone'), null);
  });

  it('steps aside (undefined) for what it does not read, and branchTips then asks git', async () => {
    hostGit(repo, 'symbolic-ref', 'refs/heads/loop', 'refs/heads/loop2');
    hostGit(repo, 'symbolic-ref', 'refs/heads/loop2', 'refs/heads/loop');
    assert.equal(await readBranchTips(repo, ['loop']), undefined, 'a symbolic-ref loop');
    writeFileSync(join(repo, '.git', 'refs', 'heads', 'odd'), 'not a ref\n');
    assert.equal(await readBranchTips(repo, ['odd']), undefined, 'a file git would not write');
    assert.equal(await readBranchTips(repo, ['../../HEAD']), undefined, 'a name that climbs out of refs/');
    // reftable (extensions.refStorage, git ≥ 2.45): no loose refs or packed-refs to read.
    hostGit(repo, 'config', 'extensions.refStorage', 'reftable');
    assert.equal(await readBranchTips(repo, ['main']), undefined);
    hostGit(repo, 'config', '--unset', 'extensions.refStorage');
    const viaGit = await branchTips(repo, ['odd', 'main']);
    assert.equal(viaGit.get('odd'), null, 'git does not take the odd file for a branch either');
    assert.equal(viaGit.get('main'), revParse(repo, 'main'));
    assert.equal(await readBranchTips(join(root, 'not-a-repo'), ['main']), undefined);
  });

  it('never blocks on what another user planted at a ref path: a FIFO or a device is left to git', async () => {
    // The files are read synchronously on lokid's event loop: a read that could wait forever must not start.
    execFileSync('mkfifo', [join(repo, '.git', 'refs', 'heads', 'fifo')]);
    assert.equal(await readBranchTips(repo, ['fifo']), undefined, 'a FIFO (a blocking read would stall the daemon)');
    symlinkSync('/dev/zero', join(repo, '.git', 'refs', 'heads', 'zero'));
    assert.equal(await readBranchTips(repo, ['zero']), undefined, 'a link to a device that never ends');
    assert.equal((await readBranchTips(repo, ['main']))?.get('main'), revParse(repo, 'main'), 'the other branches still read');
  });
});

// lokid is root; a project belongs to a user, who can put links and `gitdir:` files anywhere in it.
// On the earlier code root followed them and returned the tip of a branch only root may read.
describe('readBranchTips on a repository another user owns', () => {
  const OWNER = 65534;
  let root: string;
  let repo: string;
  let secretRepo: string;
  let secret: string;
  before(function () {
    if (process.getuid?.() !== 0) this.skip();
  });
  beforeEach(() => {
    root = tempDir();
    openParents(root);
    repo = makeProject(root);
    execFileSync('chown', ['-R', `${OWNER}:${OWNER}`, repo]);
    // A repository only root may read, with a branch the owner must not learn the tip of.
    const vault = join(root, 'vault');
    mkdirSync(vault, { mode: 0o700 });
    secretRepo = makeProject(vault, 'secret');
    hostGit(secretRepo, 'commit', '--quiet', '--allow-empty', '-m', 'root only');
    secret = hostGit(secretRepo, 'rev-parse', 'main');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const asOwner = (...args: string[]) =>
    execFileSync('git', ['-C', repo, ...args], { uid: OWNER, gid: OWNER, env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', GIT_CONFIG_GLOBAL: '/dev/null' }, encoding: 'utf8' }).trim();

  it('still reads its branches from the files (loose, packed, symbolic), as git run as the owner does', async () => {
    asOwner('branch', 'feature/x');
    asOwner('pack-refs', '--all');
    asOwner('symbolic-ref', 'refs/heads/trunk', 'refs/heads/main');
    const tips = await readBranchTips(repo, ['main', 'feature/x', 'trunk', 'gone']);
    assert.equal(tips?.get('main'), asOwner('rev-parse', 'main'));
    assert.equal(tips?.get('feature/x'), asOwner('rev-parse', 'feature/x'));
    assert.equal(tips?.get('trunk'), asOwner('rev-parse', 'main'));
    assert.equal(tips?.get('gone'), null);
  });

  it("never reads a root-only repository's branch through a link or a gitdir: file the owner planted", async () => {
    const heads = join(repo, '.git', 'refs', 'heads');
    const plant = (label: string, setup: () => void) => ({ label, setup });
    const attacks = [
      plant('a ref linked to its ref file', () => symlinkSync(join(secretRepo, '.git', 'refs', 'heads', 'main'), join(heads, 'leak'))),
      plant('refs/heads linked to its refs/heads', () => {
        renameSync(heads, join(repo, '.git', 'refs', 'heads.own'));
        symlinkSync(join(secretRepo, '.git', 'refs', 'heads'), heads);
      }),
      plant('packed-refs linked to its packed-refs', () => {
        hostGit(secretRepo, 'pack-refs', '--all');
        rmSync(join(heads, 'main'));
        symlinkSync(join(secretRepo, '.git', 'packed-refs'), join(repo, '.git', 'packed-refs'));
      }),
      plant('.git as a gitdir: file naming its git directory', () => {
        renameSync(join(repo, '.git'), join(repo, 'own.git'));
        writeFileSync(join(repo, '.git'), `gitdir: ${join(secretRepo, '.git')}\n`);
      }),
      plant('.git linked to its git directory', () => {
        renameSync(join(repo, '.git'), join(repo, 'own.git'));
        symlinkSync(join(secretRepo, '.git'), join(repo, '.git'));
      }),
      plant('a commondir naming its git directory', () => writeFileSync(join(repo, '.git', 'commondir'), `${join(secretRepo, '.git')}\n`)),
    ];
    for (const a of attacks) {
      rmSync(repo, { recursive: true, force: true });
      repo = makeProject(root);
      a.setup();
      execFileSync('chown', ['-hR', `${OWNER}:${OWNER}`, repo]);
      const branch = a.label.startsWith('a ref') ? 'leak' : 'main';
      const tips = await readBranchTips(repo, [branch]);
      assert.notEqual(tips?.get(branch), secret, `${a.label}: root read the root-only branch`);
      assert.equal(tips, undefined, `${a.label}: left to git, which runs as the owner`);
      // git as the owner cannot read it either: no tip, or git's own refusal.
      const viaGit = await branchTips(repo, [branch]).then((m) => m.get(branch), (e: Error) => e.message);
      assert.notEqual(viaGit, secret, a.label);
    }
  });

  it('opens nothing a ref links to (a device) and leaves a FIFO to git', async () => {
    const heads = join(repo, '.git', 'refs', 'heads');
    symlinkSync('/dev/zero', join(heads, 'zero'));
    execFileSync('mkfifo', [join(heads, 'fifo')]);
    execFileSync('chown', ['-hR', `${OWNER}:${OWNER}`, repo]);
    for (const b of ['zero', 'fifo']) assert.equal(await readBranchTips(repo, [b]), undefined, b);
    assert.equal((await readBranchTips(repo, ['main']))?.get('main'), asOwner('rev-parse', 'main'));
  });
});
