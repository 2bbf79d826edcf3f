// sandbox.pool in the daemon config: validated once, with the path and a reason;
// and the pool stays off (sessions start cold) where it cannot work.
import assert from 'node:assert/strict';
import { loadDaemonConfig } from '../../../daemon/src/config.js';
import { SandboxPool } from '../../../daemon/src/sandbox/pool.js';
import { quietLogger } from '../../helpers/daemon.js';

const problems = (env: Record<string, string>): string[] => {
  try {
    loadDaemonConfig({ env: { LOKI_HOME: '/tmp/x', ...env } });
  } catch (err) {
    return (err as Error & { problems?: string[] }).problems ?? [(err as Error).message];
  }
  return [];
};

function poolFor(env: Record<string, string>, canMount = true): SandboxPool {
  const config = loadDaemonConfig({ env: { LOKI_HOME: '/tmp/x', ...env } }).sandbox;
  const never = () => Promise.reject(new Error('must not be called'));
  return new SandboxPool({
    config, poolDir: '/tmp/x/pool', agentDirInSandbox: '/run/loki-agent', agentDir: (id) => `/tmp/x/run/agents/${id}`, command: ['node'],
    start: never, listAll: never, get: never, remove: never,
    audit: { record: () => Promise.resolve() } as never, log: quietLogger(), canMount,
  });
}

describe('sandbox.pool config', function () {
  it('is off by default', () => {
    assert.equal(loadDaemonConfig({ env: { LOKI_HOME: '/tmp/x' } }).sandbox.pool.size, 0);
  });

  it('takes LOKI_SANDBOX_POOL_SIZE', () => {
    assert.equal(loadDaemonConfig({ env: { LOKI_HOME: '/tmp/x', LOKI_SANDBOX_POOL_SIZE: '3' } }).sandbox.pool.size, 3);
  });

  it('rejects a negative or fractional size with the path', () => {
    assert.ok(problems({ LOKI_SANDBOX_POOL_SIZE: '-1' }).some((p) => p.startsWith('sandbox.pool.size') && /0 \(off\) or more/.test(p)));
    assert.ok(problems({ LOKI_SANDBOX_POOL_SIZE: '1.5' }).some((p) => p.startsWith('LOKI_SANDBOX_POOL_SIZE') && /integer/.test(p)));
    assert.ok(problems({ LOKI_SANDBOX_POOL_SIZE: '65' }).some((p) => p.startsWith('sandbox.pool.size') && /at most 64/.test(p)));
  });

  it('rejects a size that leaves no room under max_sandboxes (ready slots count against it)', () => {
    const p = problems({ LOKI_SANDBOX_POOL_SIZE: '4', LOKI_MAX_SANDBOXES: '4' });
    assert.ok(p.some((x) => x.startsWith('sandbox.pool.size') && /below sandbox.max_sandboxes \(4\)/.test(x)), p.join('\n'));
    assert.deepEqual(problems({ LOKI_SANDBOX_POOL_SIZE: '3', LOKI_MAX_SANDBOXES: '4' }), []);
  });

  it('stays off under gVisor (runsc) and says why: sessions start cold', () => {
    const pool = poolFor({ LOKI_SANDBOX_POOL_SIZE: '2', LOKI_SANDBOX_RUNTIME: 'runsc' });
    assert.equal(pool.size, 0);
    assert.match(pool.status().disabled, /runsc/);
    assert.equal(poolFor({ LOKI_SANDBOX_POOL_SIZE: '2' }).size, 2);
  });

  it('stays off when the daemon cannot mount (not root)', () => {
    const pool = poolFor({ LOKI_SANDBOX_POOL_SIZE: '2' }, false);
    assert.equal(pool.size, 0);
    assert.match(pool.status().disabled, /root/);
  });
});
