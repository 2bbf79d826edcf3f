import assert from 'node:assert/strict';
import { LokiError } from '../../../common/src/index.js';
import { RequestLimiter, type LimiterSettings } from '../../../gateway/src/limits/limiter.js';
import { MemoryRateLimitStore } from '../../../gateway/src/limits/store.js';

const SETTINGS: LimiterSettings = {
  per_minute: 60,
  burst: 10,
  unauthenticated_per_minute: 60,
  concurrency: 2,
  max_streams_per_subject: 3,
  queue_ms: 200,
  max_in_flight: 10,
  max_entries: 1000,
  lockout_failures: 5,
  lockout_window_s: 60,
  lockout_duration_s: 300,
};

const limiter = (over: Partial<LimiterSettings> = {}) =>
  new RequestLimiter({ store: new MemoryRateLimitStore({ maxEntries: 1000 }), settings: { ...SETTINGS, ...over } });

describe('RequestLimiter', () => {
  it('allows a burst of 10 in one second, then throttles until the burst window slides', async () => {
    const l = limiter();
    const now = 1_000_000;
    const first = [];
    for (let i = 0; i < 12; i++) first.push((await l.checkRate('subject', 'token:a', now)).allowed);
    assert.deepEqual(first, [...Array(10).fill(true), false, false]);
    assert.ok((await l.checkRate('subject', 'token:a', now + 2500)).allowed);
  });

  it('caps a subject at per_minute over the minute even when paced under the burst', async () => {
    const l = limiter({ per_minute: 20 });
    let allowed = 0;
    for (let i = 0; i < 40; i++) if ((await l.checkRate('subject', 's', 1_000_000 + i * 500)).allowed) allowed++;
    assert.equal(allowed, 20);
    const d = await l.checkRate('subject', 's', 1_000_000 + 40 * 500);
    assert.equal(d.allowed, false);
    assert.equal(d.limit, 20);
    assert.equal(d.remaining, 0);
  });

  it('keeps subjects and addresses in separate buckets', async () => {
    const l = limiter({ burst: 1 });
    assert.ok((await l.checkRate('subject', 'x', 0)).allowed);
    assert.ok((await l.checkRate('ip', 'x', 0)).allowed);
    assert.ok((await l.checkRate('subject', 'y', 0)).allowed);
    assert.equal((await l.checkRate('subject', 'x', 0)).allowed, false);
  });

  it('locks an address out on the 5th failure within a minute, and releases it after the lockout', async () => {
    const l = limiter({ lockout_duration_s: 10 });
    for (let i = 0; i < 4; i++) assert.equal(await l.recordAuthFailure('1.2.3.4', 1000 + i), false);
    assert.equal(l.isLockedOut('1.2.3.4', 1010), false);
    assert.equal(await l.recordAuthFailure('1.2.3.4', 1005), true);
    assert.equal(l.isLockedOut('1.2.3.4', 1010), true);
    assert.equal(l.isLockedOut('5.6.7.8', 1010), false);
    assert.equal(l.lockoutSeconds('1.2.3.4', 1010), 10);
    assert.equal(l.isLockedOut('1.2.3.4', 1005 + 10_001), false);
  });

  it('queues a request beyond the concurrency limit briefly and lets it in when a slot frees', async () => {
    const l = limiter();
    const r1 = await l.acquire('s', false);
    await l.acquire('s', false);
    let entered = false;
    const waiting = l.acquire('s', false).then((r) => {
      entered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(entered, false);
    r1();
    const r3 = await waiting;
    assert.equal(entered, true);
    r3();
  });

  it('answers 503 (unavailable) when no slot frees within the queue time', async () => {
    const l = limiter({ queue_ms: 50 });
    await l.acquire('s', false);
    await l.acquire('s', false);
    await assert.rejects(l.acquire('s', false), (e: unknown) => e instanceof LokiError && e.kind === 'unavailable');
    // Another subject is unaffected.
    (await l.acquire('other', false))();
  });

  it('never refuses an exempt request (emergency stop) for concurrency or capacity', async () => {
    const l = limiter({ max_in_flight: 1, queue_ms: 0 });
    await l.acquire('s', false);
    await l.acquire('s', false);
    (await l.acquire('s', true))();
    l.enter(false);
    assert.throws(() => l.enter(false), (e: unknown) => e instanceof LokiError && e.kind === 'unavailable');
    l.enter(true)();
  });

  it('caps open streams per subject without touching the concurrency slots, and frees a place when a stream closes', async () => {
    const l = limiter({ queue_ms: 0 });
    const streams = [l.openStream('s', false), l.openStream('s', false), l.openStream('s', false)];
    assert.throws(
      () => l.openStream('s', false),
      (e: unknown) => e instanceof LokiError && e.kind === 'resource_exhausted' && /too many open event streams.*limit 3/.test(e.message),
    );
    // Both concurrency slots are still free for ordinary requests, and other subjects are unaffected.
    (await l.acquire('s', false))();
    (await l.acquire('s', false))();
    l.openStream('other', false)();
    streams[0]!();
    streams[0]!();
    assert.equal(l.openStreams('s'), 2);
    l.openStream('s', false);
    assert.equal(l.openStreams('s'), 3);
    l.openStream('s', true)();
  });

  it('keeps a bounded number of idle subjects\' slot records, and never drops a busy one', () => {
    const l = limiter({ max_entries: 100 });
    const slots = (l as unknown as { slots: Map<string, unknown> }).slots;
    const busy = l.takeSlot('token:busy', false)!;
    for (let i = 0; i < 250; i++) l.giveSlot(`token:${i}`, l.takeSlot(`token:${i}`, false)!);
    assert.ok(slots.size <= 100, `${slots.size} records kept`);
    assert.ok(slots.has('token:busy'));
    // The busy subject's slot still counts: one more free, then the limit (2).
    assert.ok(l.takeSlot('token:busy', false));
    assert.equal(l.takeSlot('token:busy', false), undefined);
    l.giveSlot('token:busy', busy);
    assert.ok(l.takeSlot('token:busy', false));
  });

  it('reports headroom for readiness', () => {
    const l = limiter({ max_in_flight: 10 });
    const releases = Array.from({ length: 9 }, () => l.enter(false));
    assert.ok(Math.abs(l.headroom() - 0.1) < 1e-9);
    releases.forEach((r) => r());
    assert.equal(l.headroom(), 1);
  });
});
