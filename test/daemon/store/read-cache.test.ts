// The session list's read-through cache on real SQLite: a page asked again with
// nothing written is answered from memory, and any write — through the session
// repository, another repository, raw SQL on the connection, a trigger-free
// upsert — is seen by the very next read; a write by another connection is seen
// within the age bound; nothing is remembered inside a transaction.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDatabase } from '../../../daemon/src/store/db.js';
import { ReadCache } from '../../../daemon/src/store/sqlite/read-cache.js';
import { ACTIVE_STATES } from '../../../daemon/src/sessions/types.js';
import { seededId, sessionRow, storeEach } from './helpers.js';

describe('session list read cache', () => {
  const fx = storeEach('loki-rcache-');
  const active = (owner?: string) => fx.store.sessions.rows.listPage({ limit: 100, states: ACTIVE_STATES, ...(owner ? { owner } : {}) }).sessions.map((s) => s.id);

  it('answers a page asked again from memory, and sees every write through the repository on the next read', () => {
    assert.deepEqual(active(), []);
    const again = fx.store.sessions.rows.listPage({ limit: 100, states: ACTIVE_STATES });
    assert.equal(fx.store.sessions.rows.listPage({ limit: 100, states: ACTIVE_STATES }), again, 'the same page object: no query ran');
    assert.ok(Object.isFrozen(again) && Object.isFrozen(again.sessions), 'a shared page cannot be changed by one caller');
    fx.store.sessions.rows.insert(sessionRow(1, 'token:alice'));
    assert.deepEqual(active(), [seededId(1)]);
    assert.deepEqual(active('token:bob'), [], 'the owner is part of the question');
    fx.store.sessions.rows.transition(seededId(1), ['pending'], 'running', 'go');
    assert.equal(fx.store.sessions.rows.listPage({ limit: 100, states: ACTIVE_STATES }).sessions[0]!.state, 'running');
    fx.store.sessions.rows.updateCounters(seededId(1), { addCostUsd: 0.5 });
    assert.equal(fx.store.sessions.rows.listPage({ limit: 100, states: ACTIVE_STATES }).sessions[0]!.costUsd, 0.5);
    fx.store.sessions.rows.transition(seededId(1), ['running'], 'completed', 'done');
    assert.deepEqual(active(), [], 'an ended session leaves the active list at once');
  });

  it('sees writes made on the connection outside the session repository', () => {
    fx.store.sessions.rows.insert(sessionRow(1, 'token:alice'));
    assert.deepEqual(active(), [seededId(1)]);
    fx.store.db.prepare("UPDATE sessions SET state = 'failed' WHERE id = ?").run(seededId(1));
    assert.deepEqual(active(), []);
    fx.store.db.prepare("UPDATE sessions SET state = 'running' WHERE id = ?").run(seededId(1));
    assert.deepEqual(active(), [seededId(1)]);
  });

  it('remembers nothing inside a transaction, so a rolled-back write is never served', () => {
    fx.store.sessions.rows.insert(sessionRow(1, 'token:alice'));
    assert.throws(() =>
      fx.store.db.transaction(() => {
        fx.store.db.prepare("UPDATE sessions SET state = 'failed' WHERE id = ?").run(seededId(1));
        assert.deepEqual(active(), []);
        throw new Error('roll back');
      })(),
    );
    assert.deepEqual(active(), [seededId(1)]);
  });

  it('sees a write by another connection once the age bound has passed', () => {
    let now = 1_000;
    const cache = new ReadCache<string[]>(fx.store.db, { maxAgeMs: 1000, now: () => now });
    const read = () => (fx.store.db.prepare('SELECT id FROM sessions ORDER BY id').all() as { id: string }[]).map((r) => r.id);
    assert.deepEqual(cache.get('k', read, (v) => v.length), []);
    const other = openDatabase(join(fx.dir, 'loki.db'));
    try {
      // Another process's write: not counted by this connection's total_changes().
      other.prepare(`INSERT INTO sessions (id, owner, state, provider, profile, autonomy, project_id, prompt_source, prompt, plan_json, model, base_url, upstream, max_iterations, network, created_at, last_event_at)
        VALUES (?, 'x', 'running', 'script', 'default', 'checkpoint', 'prj-000000000001', 'inline', 'p', '[]', '', '', '', 1, 0, 1, 1)`).run(seededId(7));
    } finally {
      other.close();
    }
    now += 999;
    assert.deepEqual(cache.get('k', read, (v) => v.length), [], 'within the bound: the remembered answer');
    now += 1;
    assert.deepEqual(cache.get('k', read, (v) => v.length), [seededId(7)]);
    now -= 10_000;
    let reads = 0;
    cache.get('k', () => (reads++, read()), (v) => v.length);
    assert.equal(reads, 1, 'a clock that went back does not extend an answer');
  });

  it('holds a bounded number of answers and rows', () => {
    let reads = 0;
    const cache = new ReadCache<number[]>(fx.store.db, { maxEntries: 4, maxRows: 10 });
    const ask = (k: string, rows: number) => cache.get(k, () => (reads++, Array.from({ length: rows }, (_, i) => i)), (v) => v.length);
    for (const k of ['a', 'b', 'c', 'd']) ask(k, 1);
    ask('a', 1);
    assert.equal(reads, 4, 'four answers held');
    ask('e', 1);
    ask('a', 1);
    assert.equal(reads, 6, 'the fifth answer started the cache again');
    ask('big', 11);
    ask('big', 11);
    assert.equal(reads, 8, 'an answer over the row bound is never held');
  });
});
