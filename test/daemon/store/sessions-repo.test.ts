// SessionRepo on real SQLite: keyset pages (every session exactly once across
// the pages, in list order, ties on created_at broken by id, per owner and per
// state), the metrics reads, and the compare-and-set writes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, type SqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import type { SessionCursor, SessionPageQuery } from '../../../daemon/src/sessions/repo.js';
import { sessionRow, storeEach } from './helpers.js';

const row = sessionRow;

describe('SessionRepo (SQLite) list pages', () => {
  let dir: string;
  let store: SqliteStore;
  let now = 1_700_000_000_000;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'loki-srepo-'));
    // Two sessions per millisecond: the cursor must break created_at ties by id.
    let n = 0;
    store = openSqliteStore(join(dir, 'loki.db'), { clock: () => now + Math.floor(n++ / 4) });
    for (let i = 1; i <= 23; i++) await store.sessions.insert(row(i, i % 3 === 0 ? 'token:bob' : 'token:alice'));
    for (let i = 1; i <= 23; i += 4) await store.sessions.transition(row(i, '').id, ['pending'], 'completed', 'done');
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function walk(q: Omit<SessionPageQuery, 'after'>): Promise<string[][]> {
    const pages: string[][] = [];
    let after: SessionCursor | undefined;
    do {
      const p = await store.sessions.listPage({ ...q, ...(after ? { after } : {}) });
      pages.push(p.sessions.map((s) => s.id));
      after = p.next;
    } while (after && pages.length < 100);
    return pages;
  }

  it('returns every session once, in list order, across pages of any size', async () => {
    const all = (await store.sessions.list()).map((s) => s.id);
    assert.equal(all.length, 23);
    for (const limit of [1, 2, 5, 22, 23, 24, 500]) {
      const pages = await walk({ limit });
      assert.deepEqual(pages.flat(), all, `limit ${limit}`);
      assert.ok(pages.every((p, i) => p.length === (i < pages.length - 1 ? limit : p.length)), `full pages until the last (limit ${limit})`);
      assert.equal(pages.length, Math.max(1, Math.ceil(23 / limit)), `no empty trailing page (limit ${limit})`);
    }
  });

  it('answers correctly for more page sizes than it keeps compiled, without filling the shared statement cache', async () => {
    const all = (await store.sessions.list()).map((s) => s.id);
    const active = (await store.sessions.listByStates(['pending'])).map((s) => s.id);
    const probe = 'SELECT id, owner FROM sessions WHERE id = ?';
    // Each page size is its own statement (the limit is written into the SQL); 40 sizes × 2 shapes.
    for (let limit = 1; limit <= 40; limit++) {
      assert.deepEqual((await walk({ limit })).flat(), all, `limit ${limit}`);
      assert.deepEqual((await walk({ limit, states: ['pending'] })).flat(), active, `limit ${limit}, pending`);
    }
    // db.prepare keeps at most 512 statements; page sizes must not use them up.
    for (let limit = 41; limit <= 600; limit++) assert.equal((await store.sessions.listPage({ limit })).sessions.length, 23);
    assert.equal(store.db.prepare(probe), store.db.prepare(probe), 'db.prepare still reuses a statement after 600 page sizes');
    assert.deepEqual((await walk({ limit: 7 })).flat(), all, 'an evicted size compiles again');
  });

  it('refuses a page limit that is not a whole number', async () => {
    await assert.rejects(store.sessions.listPage({ limit: Number.NaN }), /whole number/);
  });

  it('pages one owner only, and only the given states', async () => {
    const bob = (await store.sessions.list()).filter((s) => s.owner === 'token:bob').map((s) => s.id);
    assert.deepEqual((await walk({ limit: 2, owner: 'token:bob' })).flat(), bob);
    const active = (await store.sessions.listByStates(['pending'])).map((s) => s.id);
    assert.deepEqual((await walk({ limit: 4, states: ['pending'] })).flat(), active);
    const aliceActive: string[] = [];
    for (const id of active) if ((await store.sessions.get(id))!.owner === 'token:alice') aliceActive.push(id);
    assert.deepEqual((await walk({ limit: 3, owner: 'token:alice', states: ['pending'] })).flat(), aliceActive);
  });

  it('continues after the cursor even when rows before it are added meanwhile', async () => {
    const first = await store.sessions.listPage({ limit: 10 });
    now -= 1_000_000; // an older row appears before the cursor
    await store.sessions.insert(row(99, 'token:alice'));
    const second = await store.sessions.listPage({ limit: 10, after: first.next! });
    const expected = (await store.sessions.list()).map((s) => s.id).filter((id) => id !== row(99, '').id).slice(10, 20);
    assert.deepEqual(second.sessions.map((s) => s.id), expected);
  });

  it('answers a page through the (created_at, id) index, never a scan of the table', () => {
    const plan = (sql: string) => (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(1, 'x', 1) as { detail: string }[]).map((r) => r.detail).join(' | ');
    assert.match(plan('SELECT id FROM sessions WHERE (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?'), /USING (COVERING )?INDEX sessions_created/);
    const owner = (store.db.prepare('EXPLAIN QUERY PLAN SELECT id FROM sessions WHERE owner = ? AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?').all('o', 1, 'x', 1) as { detail: string }[])
      .map((r) => r.detail)
      .join(' | ');
    assert.match(owner, /USING (COVERING )?INDEX sessions_owner_created/);
  });
});

// What /metrics reads: totals summed in the store and the last few ended sessions,
// checked against the same figures computed from every row.
describe('SessionRepo (SQLite) metrics reads', () => {
  let now = 1_700_000_000_000;
  const fx = storeEach('loki-srepo-m-', { clock: () => now });

  beforeEach(async () => {
    for (let i = 1; i <= 30; i++) {
      now += 1;
      const s = await fx.store.sessions.insert(row(i, i % 3 === 0 ? 'token:bob' : 'token:alice'));
      for (let d = 0; d < i % 4; d++) await fx.store.sessions.updateCounters(s.id, { decision: (['allow', 'deny', 'ask'] as const)[(i + d) % 3] });
    }
    // End them in an order unrelated to creation, so "recent" cannot be list order.
    for (const i of [7, 2, 29, 13, 4, 22, 9, 30, 1, 18, 15]) {
      now += 10;
      await fx.store.sessions.transition(row(i, '').id, ['pending'], i % 2 ? 'completed' : 'failed', 'ended');
    }
  });

  it('sums sessions and decisions per owner and for everyone, as the rows say', async () => {
    for (const owner of [undefined, 'token:alice', 'token:bob', 'token:nobody']) {
      const rows = (await fx.store.sessions.list()).filter((s) => owner === undefined || s.owner === owner);
      const want = { allow: 0, deny: 0, ask: 0 };
      for (const s of rows) for (const k of ['allow', 'deny', 'ask'] as const) want[k] += s.decisions[k];
      assert.deepEqual(await fx.store.sessions.totals(owner), { created: rows.length, decisions: want }, `owner ${owner ?? '(all)'}`);
    }
    assert.ok((await fx.store.sessions.totals()).decisions.allow > 0, 'the fixture has decisions to sum');
  });

  it('returns the most recently ended sessions, newest first, per owner', async () => {
    for (const owner of [undefined, 'token:bob']) {
      const ended = (await fx.store.sessions.list()).filter((s) => (owner === undefined || s.owner === owner) && ['completed', 'failed', 'stopped'].includes(s.state));
      const want = ended.sort((a, b) => b.endedAtMs - a.endedAtMs).map((s) => s.id);
      for (const limit of [0, 1, 3, 50]) assert.deepEqual((await fx.store.sessions.recentlyEnded(limit, owner)).map((s) => s.id), want.slice(0, limit), `owner ${owner ?? '(all)'} limit ${limit}`);
    }
    assert.deepEqual((await fx.store.sessions.recentlyEnded(2)).map((s) => s.id), [row(15, '').id, row(18, '').id]);
  });
});

// The async repository keeps each check-and-write in one call: concurrent callers
// (all started before any is awaited) get exactly one winner.
describe('SessionRepo (SQLite) compare-and-set writes', () => {
  const fx = storeEach('loki-srepo-c-');

  it('moves a session once when two transitions race, and the loser gets undefined', async () => {
    const s = await fx.store.sessions.insert(row(1, 'token:alice'));
    const [a, b] = await Promise.all([
      fx.store.sessions.transition(s.id, ['pending'], 'completed', 'done'),
      fx.store.sessions.transition(s.id, ['pending'], 'failed', 'failed', { reason: 'boom' }),
    ]);
    assert.equal(a?.data.state, 'completed');
    assert.equal(b, undefined);
    assert.equal((await fx.store.sessions.get(s.id))?.state, 'completed');
    assert.deepEqual((await fx.store.sessions.events(s.id, 0, 10)).map((e) => e.data.state), ['pending', 'completed']);
  });

  it('checks the concurrency limit inside the insert: of concurrent starts only those under the limit are stored', async () => {
    const limit = (active: number) => {
      if (active >= 2) throw new Error(`limit: ${active} active`);
    };
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => fx.store.sessions.insert(row(i, 'token:alice'), limit)));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    assert.equal((await fx.store.sessions.list()).length, 2, 'a refused insert leaves neither row nor event');
    assert.equal((await fx.store.sessions.eventsSince(0, 100)).length, 2);
  });

  it('announces a stop request and a workspace removal once', async () => {
    const s = await fx.store.sessions.insert(row(1, 'token:alice'));
    assert.deepEqual(await Promise.all([fx.store.sessions.requestStop(s.id), fx.store.sessions.requestStop(s.id)]), [true, false]);
    assert.equal((await fx.store.sessions.get(s.id))?.stopRequested, true);
    assert.deepEqual(await Promise.all([fx.store.sessions.markWorkspaceRemoved(s.id), fx.store.sessions.markWorkspaceRemoved(s.id)]), [true, false]);
    assert.ok(((await fx.store.sessions.get(s.id))?.workspaceRemovedAtMs ?? 0) > 0);
  });
});
