// Path escapes on a real workspace: `..`, symlinks the agent created (live and
// dangling, absolute and relative), /proc/self/root, aliases, protected paths.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PathPolicy, type PathContext } from '../../../daemon/src/policy/paths.js';
import { engineFor, tempDir, type TempDir } from './helpers.js';
import { DEFAULT_PROTECTED_PATHS } from '../../../daemon/src/policy/defaults.js';

describe('PathPolicy', function () {
  let tmp: TempDir;
  let ctx: PathContext;
  const policy = new PathPolicy({ allowedPaths: [], scratchPaths: ['/tmp'], protectedPaths: DEFAULT_PROTECTED_PATHS, aliases: [{ from: '/mnt/alias', to: '/workspace' }] });
  const write = (p: string, c: PathContext = ctx) => policy.check('write', p, c);

  beforeEach(function () {
    tmp = tempDir();
    // The daemon sees the sandbox's /workspace at this host path.
    mkdirSync(join(tmp.path, 'ws', 'src'), { recursive: true });
    mkdirSync(join(tmp.path, 'outside'), { recursive: true });
    writeFileSync(join(tmp.path, 'ws', 'src', 'a.ts'), '');
    ctx = { workspace: '/workspace', hostWorkspace: join(tmp.path, 'ws'), cwd: '/workspace/src' };
  });
  afterEach(() => tmp.cleanup());

  it('allows writes inside the workspace, relative or absolute, with odd slashes', function () {
    for (const p of ['a.ts', './new/file.ts', '/workspace//src/./b.ts', '/workspace/src/', '../README.md']) assert.equal(write(p).decision, 'allow', p);
  });

  it('denies escapes through .. and names the resolved path', function () {
    const v = write('../../etc/passwd');
    assert.equal(v.decision, 'deny');
    assert.equal(v.rule, 'paths:outside-allowed');
    assert.equal(v.resolved, '/etc/passwd');
    assert.match(v.reason, /resolves to \/etc\/passwd/);
    assert.equal(write('/workspace/../etc/shadow').decision, 'deny');
  });

  it('denies writes through a symlink the agent created that points outside', function () {
    symlinkSync('/etc', join(tmp.path, 'ws', 'src', 'etc-link'));
    symlinkSync('../../outside', join(tmp.path, 'ws', 'src', 'up'));
    symlinkSync('/etc/does-not-exist-yet', join(tmp.path, 'ws', 'dangling'));
    const v = write('etc-link/passwd');
    assert.equal(v.decision, 'deny');
    assert.equal(v.resolved, '/etc/passwd');
    assert.equal(write('up/file').decision, 'deny');
    assert.equal(write('/workspace/dangling').decision, 'deny', 'a dangling link is followed too');
  });

  it('follows symlinks that stay inside the workspace', function () {
    symlinkSync('src', join(tmp.path, 'ws', 'code'));
    const v = write('/workspace/code/a.ts');
    assert.equal(v.decision, 'allow');
    assert.equal(v.resolved, '/workspace/src/a.ts');
  });

  it('fails a symlink loop closed instead of spinning', function () {
    symlinkSync('loop-b', join(tmp.path, 'ws', 'loop-a'));
    symlinkSync('loop-a', join(tmp.path, 'ws', 'loop-b'));
    assert.equal(write('/workspace/loop-a/x').decision, 'deny');
  });

  it('sees through /proc/self/root, /proc/<pid>/root and /proc/self/cwd', function () {
    assert.equal(write('/proc/self/root/etc/passwd').resolved, '/etc/passwd');
    assert.equal(write('/proc/self/root/etc/passwd').decision, 'deny');
    assert.equal(write('/proc/1/root/workspace/src/a.ts').decision, 'allow');
    assert.equal(write('/proc/self/cwd/../../etc/hosts').decision, 'deny');
    assert.equal(write('/proc/thread-self/root/proc/self/root/tmp/x').resolved, '/tmp/x');
  });

  it('resolves configured bind-mount aliases', function () {
    assert.equal(write('/mnt/alias/src/a.ts').resolved, '/workspace/src/a.ts');
  });

  it('denies protected paths even inside the workspace, whatever the case or spelling', function () {
    for (const p of ['/workspace/.git/hooks/pre-commit', '.././.git/config', '/workspace/.loki/state', '/workspace/.github/workflows/ci.yml', '/workspace/.GIT/HOOKS/x', '/workspace/.gitlab-ci.yml']) {
      const v = write(p);
      assert.equal(v.decision, 'deny', p);
      assert.equal(v.rule, 'paths:protected', p);
    }
    symlinkSync('.git/hooks', join(tmp.path, 'ws', 'innocent'));
    assert.equal(write('/workspace/innocent/post-checkout').rule, 'paths:protected');
  });

  it('allows reads anywhere and devices like /dev/null, denies writes to disks', function () {
    assert.equal(policy.check('read', '/etc/hosts', ctx).decision, 'allow');
    assert.equal(write('/dev/null').decision, 'allow');
    assert.equal(write('/dev/sda').rule, 'builtin:device-write');
    assert.equal(write('/dev/../dev/nvme0n1').rule, 'builtin:device-write');
  });

  it('uses LOKI_ALLOWED_PATHS-style roots when configured', function () {
    const narrow = new PathPolicy({ allowedPaths: ['/app/src', '/app/tests'], scratchPaths: [], protectedPaths: [], aliases: [] });
    const c = { workspace: '/app' };
    assert.equal(narrow.check('write', '/app/src/x.ts', c).decision, 'allow');
    assert.equal(narrow.check('write', '/app/tests/', c).decision, 'allow');
    assert.equal(narrow.check('write', '/app/package.json', c).decision, 'deny');
    assert.equal(narrow.check('write', '/app/src-evil/x', c).decision, 'deny', 'a prefix of a name is not a parent directory');
  });

  it('keeps file actions (the runner\'s file tools) inside the workspace, while shell commands may still write the scratch paths', function () {
    symlinkSync('/tmp', join(tmp.path, 'ws', 'scratch'));
    const engine = engineFor();
    const c = { sessionId: 's', hostWorkspace: join(tmp.path, 'ws'), workspace: '/workspace' };
    const file = (kind: 'write' | 'read' | 'delete', path: string) => engine.decide({ kind, path }, c);
    for (const [kind, path] of [['write', '/tmp/x'], ['read', '/etc/hostname'], ['delete', '/tmp/x'], ['write', 'scratch/y'], ['write', '/dev/null']] as const) {
      const d = file(kind, path);
      assert.deepEqual([d.decision, d.rule], ['deny', 'paths:outside-workspace'], `${kind} ${path}`);
      assert.match(d.reason, /is outside the workspace \(\/workspace\): file actions \(write, delete, read\) work only inside it/);
    }
    assert.match(file('write', 'scratch/y').reason, /^scratch\/y \(resolves to \/tmp\/y\) is outside the workspace/);
    assert.deepEqual([file('delete', '/workspace').decision, file('delete', '/workspace').rule], ['deny', 'paths:workspace-root']);
    assert.equal(file('write', '/workspace/').rule, 'paths:workspace-root');
    assert.equal(file('read', '/workspace').decision, 'allow', 'listing the workspace is reading inside it');
    assert.equal(file('write', '/workspace/src/new.ts').decision, 'allow');
    assert.equal(engine.decide({ kind: 'shell', command: 'echo x > /tmp/x' }, c).decision, 'allow', 'a shell command writes the scratch paths');
    assert.equal(engine.decide({ kind: 'shell', command: 'cat /etc/hostname' }, c).decision, 'allow', 'and reads anywhere');
  });

  it('applies to engine write/delete actions and shell redirections through a symlink', function () {
    symlinkSync('/etc', join(tmp.path, 'ws', 'e'));
    const engine = engineFor();
    const c = { sessionId: 's', hostWorkspace: join(tmp.path, 'ws'), workspace: '/workspace' };
    assert.equal(engine.decide({ kind: 'write', path: 'e/passwd' }, c).decision, 'deny');
    assert.equal(engine.decide({ kind: 'delete', path: '/workspace/src/a.ts' }, c).decision, 'allow');
    assert.equal(engine.decide({ kind: 'shell', command: 'echo x > e/passwd' }, c).decision, 'deny');
    assert.equal(engine.decide({ kind: 'shell', command: 'rm -rf e/ssl' }, c).decision, 'deny');
  });
});
