import assert from 'node:assert/strict';
import { MemoryRateLimitStore } from '../../../gateway/src/limits/store.js';

describe('MemoryRateLimitStore', () => {
  it('allows exactly the limit within one window and reports what remains', async () => {
    const s = new MemoryRateLimitStore({ maxEntries: 100 });
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await s.hit('k', 60_000, 5, 1000 + i));
    assert.deepEqual(results.map((r) => r.allowed), [true, true, true, true, true, false]);
    assert.deepEqual(results.slice(0, 5).map((r) => r.remaining), [4, 3, 2, 1, 0]);
    assert.ok(results[5]!.resetSeconds >= 1 && results[5]!.resetSeconds <= 60);
  });

  it('slides: the previous window still counts in proportion to its overlap', async () => {
    const s = new MemoryRateLimitStore({ maxEntries: 100 });
    for (let i = 0; i < 10; i++) assert.ok((await s.hit('k', 60_000, 10, 0)).allowed);
    // Half-way into the next window half of the 10 previous hits still count: 5 more fit, not 10.
    let allowed = 0;
    for (let i = 0; i < 10; i++) if ((await s.hit('k', 60_000, 10, 90_000)).allowed) allowed++;
    assert.equal(allowed, 5);
    // Two full windows later everything has expired.
    assert.ok((await s.hit('k', 60_000, 10, 200_000)).allowed);
  });

  it('does not count rejected hits, so a throttled client recovers', async () => {
    const s = new MemoryRateLimitStore({ maxEntries: 100 });
    for (let i = 0; i < 3; i++) await s.hit('k', 1000, 3, 0);
    for (let i = 0; i < 100; i++) assert.equal((await s.hit('k', 1000, 3, 500)).allowed, false);
    assert.ok((await s.hit('k', 1000, 3, 2000)).allowed);
  });

  it('keeps memory bounded when keys are cycled', async () => {
    const s = new MemoryRateLimitStore({ maxEntries: 100 });
    for (let i = 0; i < 5000; i++) await s.hit(`ip-${i}`, 60_000, 10, i);
    assert.ok(s.size() <= 100, `size ${s.size()}`);
  });

  it('prunes idle keys', async () => {
    const s = new MemoryRateLimitStore({ maxEntries: 100 });
    for (let i = 0; i < 50; i++) await s.hit(`k${i}`, 1000, 10, 0);
    s.prune(10_000);
    assert.equal(s.size(), 0);
  });
});
