import assert from 'node:assert/strict';
import { LokiError } from '../../../common/src/index.js';
import { parseTime, queryAuditLog, summarizeAuditLog } from '../../../daemon/src/audit/query.js';
import { event, newKey, openSink, tempDir, testClock } from './helpers.js';

describe('queryAuditLog and summarizeAuditLog', () => {
  let dir: string;
  let cleanup: () => void;

  // Two days, 30 entries each (seq 1-30 on Jun 1, gzipped; 31-60 on Jun 2), one minute apart.
  // Every third entry is an auth.fail by token:mallory, denied.
  before(async () => {
    ({ dir, cleanup } = tempDir());
    const clock = testClock('2026-06-01T12:00:00Z');
    const sink = await openSink(dir, newKey(), clock.now);
    for (let i = 1; i <= 60; i++) {
      if (i === 31) clock.set('2026-06-02T12:00:00Z');
      const e = i % 3 === 0 ? event('auth.fail', i, { user: 'token:mallory', result: 'denied', reason: 'unknown token' }) : event('session.start', i);
      await sink.record(e);
      clock.advance(60_000);
    }
    await sink.maintain();
    await sink.close();
  });
  after(() => cleanup());

  it('returns the newest entries first', async () => {
    const page = await queryAuditLog(dir, { limit: 5 });
    assert.deepEqual(page.entries.map((e) => e.seq), [60, 59, 58, 57, 56]);
    assert.equal(page.nextCursor, 56);
  });

  it('pages across the current file into the gzipped past day with the cursor', async () => {
    const seen: number[] = [];
    let cursor: number | undefined;
    for (;;) {
      const page = await queryAuditLog(dir, { limit: 7, ...(cursor ? { cursor } : {}) });
      seen.push(...page.entries.map((e) => e.seq));
      if (page.nextCursor === undefined) break;
      cursor = page.nextCursor;
    }
    assert.deepEqual(seen, Array.from({ length: 60 }, (_, i) => 60 - i));
  });

  it('filters by action, user, result and time range', async () => {
    const fails = await queryAuditLog(dir, { limit: 1000, action: 'auth.fail' });
    assert.equal(fails.entries.length, 20);
    assert.ok(fails.entries.every((e) => e.user === 'token:mallory' && e.result === 'denied'));
    assert.equal(fails.nextCursor, undefined);
    const byUser = await queryAuditLog(dir, { limit: 1000, user: 'local:1000', result: 'success' });
    assert.equal(byUser.entries.length, 40);
    const window = await queryAuditLog(dir, { limit: 1000, since: Date.parse('2026-06-01T12:10:00Z'), until: Date.parse('2026-06-01T12:20:00Z') });
    assert.deepEqual(window.entries.map((e) => e.seq), [20, 19, 18, 17, 16, 15, 14, 13, 12, 11]);
  });

  it('rejects a limit above 1000 and a reversed range as invalid_argument', async () => {
    await assert.rejects(queryAuditLog(dir, { limit: 1001 }), (e: unknown) => e instanceof LokiError && e.code === 'invalid_argument');
    await assert.rejects(queryAuditLog(dir, { since: 2, until: 1 }), (e: unknown) => e instanceof LokiError && e.code === 'invalid_argument');
  });

  it('summarises counts by action, user and result over a period', async () => {
    const s = await summarizeAuditLog(dir, { since: Date.parse('2026-06-02T00:00:00Z'), until: Date.parse('2026-06-03T00:00:00Z') });
    assert.equal(s.total, 30);
    assert.deepEqual(s.byAction, { 'session.start': 20, 'auth.fail': 10 });
    assert.deepEqual(s.byUser, { 'local:1000': 20, 'token:mallory': 10 });
    assert.deepEqual(s.byResult, { success: 20, denied: 10 });
  });

  it('parses relative and ISO times and names the field when it cannot', () => {
    assert.equal(parseTime('since', '24h', 100_000_000), 100_000_000 - 86_400_000);
    assert.equal(parseTime('since', '2026-06-01T00:00:00Z', 0), Date.parse('2026-06-01T00:00:00Z'));
    assert.throws(() => parseTime('until', 'yesterday', 0), /until: expected/);
  });
});
