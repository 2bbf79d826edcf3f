// Whether a size-limited workspace mount would reach the sandbox is the sandbox
// driver's question (SandboxDriver.assertSeesHostMounts): WorkspaceVolumes asks it
// before mounting anything and never assumes Docker itself.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { WorkspaceVolumes } from '../../../daemon/src/sessions/workspace-volume.js';
import { quietLogger } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';

describe('WorkspaceVolumes asks the sandbox driver whether a mount reaches the sandbox', function () {
  let dir: string;
  let asked = 0;
  const engineElsewhere = (): void => {
    asked++;
    throw new LokiError('failed_precondition', 'the sandbox engine runs in another mount namespace');
  };
  const volumes = (enforce: 'auto' | 'mount') =>
    new WorkspaceVolumes({ workspacesDir: dir, maxBytes: 32 * 1024 * 1024, enforce, minFreeBytes: 0, owner: { uid: 0, gid: 0 }, checkMountsReachSandboxes: engineElsewhere, log: quietLogger() });

  beforeEach(function () {
    if (process.getuid?.() !== 0) this.skip(); // the mount path (and so the question) is only taken as root
    dir = shortTempDir('lkv');
    asked = 0;
    mkdirSync(join(dir, 's1'));
    writeFileSync(join(dir, 's1', 'README.md'), '# project\n');
  });
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('with enforce: mount, refuses with the driver’s reason and leaves the workspace as it was', async () => {
    await assert.rejects(volumes('mount').limit('s1', join(dir, 's1')), (e: unknown) => e instanceof LokiError && e.code === 'failed_precondition' && /another mount namespace/.test(e.message));
    assert.equal(asked, 1);
    assert.deepEqual(readdirSync(join(dir, 's1')), ['README.md']);
    assert.equal(existsSync(join(dir, '.images')), false, 'no image file was made');
  });

  it('with enforce: auto, falls back to watching and asks only once', async () => {
    const v = volumes('auto');
    assert.equal(await v.limit('s1', join(dir, 's1')), 'watch');
    assert.equal(await v.limit('s1', join(dir, 's1')), 'watch');
    assert.equal(asked, 1);
  });
});
