// GetStatus serves every caller from one Docker snapshot: a burst of status calls
// costs Docker one refresh, a stale snapshot is served while the next one loads, and
// Docker being down is reported (not thrown). Real dockerd through the real driver,
// counted by a wrapper; the clock is injected so "a second later" costs no waiting.
import assert from 'node:assert/strict';
import { DockerStatusCache } from '../../../daemon/src/system/grpc.js';
import { DockerSandboxDriver } from '../../../daemon/src/sandbox/docker-driver.js';
import type { SandboxDriver } from '../../../daemon/src/sandbox/types.js';

/** The real driver, with every call counted. */
function counted(driver: SandboxDriver): { driver: SandboxDriver; calls: () => number } {
  let n = 0;
  const wrapped = new Proxy(driver, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        n++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { driver: wrapped, calls: () => n };
}

describe('GetStatus Docker snapshot (DockerStatusCache)', function () {
  this.timeout(30_000);
  const real = new DockerSandboxDriver({ socketPath: '/var/run/docker.sock', instance: `status-test-${process.pid}` });

  it('answers a burst of 200 concurrent status calls with one Docker refresh', async () => {
    const c = counted(real);
    const cache = new DockerStatusCache({ driver: c.driver, baseImage: 'loki-sandbox:latest' });
    const snaps = await Promise.all(Array.from({ length: 200 }, () => cache.get()));
    assert.equal(cache.refreshes, 1);
    assert.equal(c.calls(), 3, 'info + imageExists + list, once');
    assert.ok(snaps.every((s) => s === snaps[0] && s.reachable && s.version.length > 0));
    for (let i = 0; i < 100; i++) await cache.get();
    assert.equal(c.calls(), 3, 'still fresh: no further Docker call');
  });

  it('serves the stale snapshot at once while one background refresh loads the next', async () => {
    let t = 1_000_000;
    const c = counted(real);
    const cache = new DockerStatusCache({ driver: c.driver, baseImage: 'loki-sandbox:latest', ttlMs: 1000, maxStaleMs: 10_000, now: () => t });
    const first = await cache.get();
    t += 1500;
    const during = await Promise.all(Array.from({ length: 50 }, () => cache.get()));
    assert.ok(during.every((s) => s === first), 'the stale snapshot answered without waiting on Docker');
    assert.equal(cache.refreshes, 2, 'one refresh for all fifty');
    await new Promise((r) => setTimeout(r, 500));
    assert.notEqual(await cache.get(), first, 'the refreshed snapshot is served next');
    t += 60_000;
    const late = cache.get();
    assert.equal(cache.refreshes, 3);
    assert.notEqual(await late, first, 'too stale to serve: the caller waits for the refresh');
  });

  it('reports Docker unreachable instead of failing', async () => {
    const down = new DockerSandboxDriver({ socketPath: '/nonexistent/docker.sock', instance: 'status-test-down' });
    const s = await new DockerStatusCache({ driver: down, baseImage: 'loki-sandbox:latest' }).get();
    assert.equal(s.reachable, false);
    assert.deepEqual(s.sandboxes, []);
  });
});
