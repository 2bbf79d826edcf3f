import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { CHILD_MALLOC_TUNABLE, childEnv } from '../../../cli/src/up/supervisor.js';
import { entryArgv, shortTempDir } from '../../helpers/entry.js';
import { SANDBOX_IMAGE } from '../../helpers/daemon.js';

describe('loki up: the children’s environment', function () {
  this.timeout(120_000);

  it('adds one glibc malloc arena and keeps everything else', () => {
    const env = childEnv({ LOKI_HOME: '/h', PATH: '/bin' });
    assert.deepEqual(env, { LOKI_HOME: '/h', PATH: '/bin', GLIBC_TUNABLES: CHILD_MALLOC_TUNABLE });
    assert.equal(CHILD_MALLOC_TUNABLE, 'glibc.malloc.arena_max=1');
  });

  it('appends to the user’s own tunables and never overrides their arena_max', () => {
    assert.equal(childEnv({ GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0' }).GLIBC_TUNABLES, `glibc.malloc.tcache_count=0:${CHILD_MALLOC_TUNABLE}`);
    for (const t of ['glibc.malloc.arena_max=4', 'glibc.malloc.tcache_count=0:glibc.malloc.arena_max=8']) {
      assert.equal(childEnv({ GLIBC_TUNABLES: t }).GLIBC_TUNABLES, t);
    }
  });

  it('gives it to the lokid that a real `loki up` starts', async () => {
    const home = shortTempDir('lkenv');
    const child = spawn(process.execPath, [...entryArgv('cli'), '--home', home, 'up', '--no-gateway'], {
      env: { PATH: process.env.PATH ?? '', LOKI_SANDBOX_IMAGE: SANDBOX_IMAGE },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const deadline = Date.now() + 60_000;
      while (!out.includes('Loki is up')) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`loki up did not come up:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const kids = readdirSync(`/proc/${child.pid}/task`).flatMap((t) => readFileSync(`/proc/${child.pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
      assert.equal(kids.length, 1, 'one child: lokid');
      const environ = readFileSync(`/proc/${kids[0]}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes(`GLIBC_TUNABLES=${CHILD_MALLOC_TUNABLE}`), environ.filter((e) => e.startsWith('GLIBC')).join(' ') || 'no GLIBC_TUNABLES');
      assert.ok(environ.includes(`LOKI_HOME=${home}`));
    } finally {
      child.kill('SIGINT');
      assert.equal(await exit, 130);
      rmSync(home, { recursive: true, force: true });
    }
  });
});
