// The size-limited workspace mount is refused when Docker could not see it (the Docker driver's check).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { checkSameMountNamespace } from '../../../daemon/src/sandbox/docker-inspect.js';
import { shortTempDir } from '../../helpers/entry.js';

describe('the Docker driver\'s mount namespace check (size-limited workspaces)', function () {
  let dir: string;
  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = shortTempDir('lkn');
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('passes when dockerd shares the daemon’s mount namespace', () => {
    const f = join(dir, 'same.pid');
    writeFileSync(f, String(process.pid));
    checkSameMountNamespace(f);
  });

  it('refuses with a clear reason when dockerd is in another mount namespace (as under systemd ProtectSystem=)', async () => {
    const other = spawn('unshare', ['--mount', '--propagation', 'slave', 'sleep', '30'], { stdio: 'ignore' });
    try {
      const ns = `/proc/${other.pid}/ns/mnt`;
      const mine = readlinkSync('/proc/self/ns/mnt');
      for (let i = 0; i < 50; i++) {
        try {
          if (readlinkSync(ns) !== mine) break;
        } catch {
          // not started yet
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const f = join(dir, 'other.pid');
      writeFileSync(f, String(other.pid));
      assert.throws(() => checkSameMountNamespace(f), (err) => err instanceof LokiError && err.kind === 'failed_precondition' && /different mount namespace from dockerd/.test(err.message));
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('does not guess when there is no pid file (remote or rootless engine)', () => {
    checkSameMountNamespace(join(dir, 'missing.pid'));
  });
});
