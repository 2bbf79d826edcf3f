// The one migration list upgrades a database made by an older daemon in place.
// fixtures/main-2593dd8.db was written by main 2593dd8's own stores
// (fixtures/make-main-fixture.ts.txt, run against `git archive 2593dd8`): every
// table it had, rows in each, migrations recorded per module as that code did.
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrate, openDatabase } from '../../../daemon/src/store/db.js';
import { openSqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { MIGRATIONS } from '../../../daemon/src/store/sqlite/migrations.js';
import { ROOT } from '../../helpers/entry.js';
import { tempDirEach } from '../../helpers/temp.js';

const REPO = ROOT.endsWith('/dist') ? join(ROOT, '..') : ROOT;
const FIXTURE = join(REPO, 'test', 'daemon', 'store', 'fixtures', 'main-2593dd8.db');
const TABLES = ['sessions', 'session_events', 'session_tasks', 'session_task_reached', 'session_agents', 'git_workspaces', 'projects', 'tokens', 'approvals', 'learnings'];

type Snapshot = Record<string, unknown[]>;

/** Columns later migrations added, with the value an upgraded row must get. */
const ADDED_SINCE_FIXTURE: Record<string, Record<string, unknown>> = {
  approvals: { command: '', consumed_by: '' },
  sessions: { runner_seq: 0, decide_seq: 0, decide_hash: '', decide_approval: '', decide_answer: '', runner_gen: 0 },
};

function snapshot(path: string): Snapshot {
  const db = new Database(path, { readonly: true });
  try {
    return Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()]));
  } finally {
    db.close();
  }
}

function schema(path: string): Map<string, string> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string; sql: string }[];
    return new Map(rows.map((r) => [r.name, r.sql]));
  } finally {
    db.close();
  }
}

describe('store migrations', () => {
  const tmp = tempDirEach('loki-mig-');

  it('upgrades a database created by main 2593dd8 with every row kept and readable through the repositories', async () => {
    const path = join(tmp.path, 'loki.db');
    copyFileSync(FIXTURE, path);
    const before = snapshot(path);
    assert.ok(TABLES.every((t) => before[t]!.length > 0), 'the fixture has rows in every table');

    const store = openSqliteStore(path);
    try {
      const applied = store.db.prepare('SELECT module, version FROM schema_migrations ORDER BY module, version').all() as { module: string; version: number }[];
      assert.deepEqual(
        applied.map((m) => `${m.module}:${m.version}`),
        [...MIGRATIONS].map((m) => `${m.module}:${m.version}`).sort(),
      );
      const s = (await store.sessions.get('ses-000000000001'))!;
      assert.equal(s.state, 'completed');
      assert.equal(s.reason, 'finished');
      assert.equal(s.tasks.in_progress, 1);
      assert.equal(s.decisions.allow, 1);
      assert.equal((await store.sessions.events('ses-000000000000', 0, 100)).length, 3);
      assert.deepEqual((await store.sessions.listPage({ limit: 2 })).sessions.map((x) => x.id), ['ses-000000000000', 'ses-000000000001']);
      assert.deepEqual((await store.sessions.listPage({ limit: 5, owner: 'token:alice' })).sessions.map((x) => x.id), ['ses-000000000002']);
      assert.equal((await store.projects.find('dm'))?.name, 'demo');
      assert.equal((await store.workspaces.get('ses-000000000000'))?.state, 'active');
      assert.deepEqual((await store.tokens.all()).map((t) => t.name), ['admin', 'viewer']);
      assert.equal((await store.approvals.list({ status: 'pending' })).length, 1);
      assert.equal((await store.learnings.match('"migrations"', [(await store.projects.find('demo'))!.id], 10)).length, 3);
    } finally {
      store.close();
    }
    // Columns added after the fixture was made hold their defaults; every other value is as it was.
    const after = snapshot(path);
    for (const [table, cols] of Object.entries(ADDED_SINCE_FIXTURE)) {
      for (const row of after[table] as Record<string, unknown>[]) {
        for (const [col, dflt] of Object.entries(cols)) {
          assert.equal(row[col], dflt, `${table}.${col} of an upgraded row`);
          delete row[col];
        }
      }
    }
    assert.deepEqual(after, before, 'no row changed');
  });

  it('gives an upgraded database the same schema as a new one', () => {
    const old = join(tmp.path, 'old.db');
    copyFileSync(FIXTURE, old);
    openSqliteStore(old).close();
    const fresh = join(tmp.path, 'fresh.db');
    openSqliteStore(fresh).close();
    assert.deepEqual([...schema(old)].sort(), [...schema(fresh)].sort());
  });

  it('applies each migration once: reopening changes nothing', () => {
    const path = join(tmp.path, 'loki.db');
    openSqliteStore(path).close();
    const first = new Database(path, { readonly: true });
    const at = first.prepare('SELECT module, version, applied_at FROM schema_migrations ORDER BY module, version').all();
    first.close();
    openSqliteStore(path).close();
    const again = new Database(path, { readonly: true });
    assert.deepEqual(again.prepare('SELECT module, version, applied_at FROM schema_migrations ORDER BY module, version').all(), at);
    again.close();
  });

  it('gives an approval a numbered Decide used before runner generations the mark of generation 0, and leaves every other mark as it was', async () => {
    const path = join(tmp.path, 'loki.db');
    const db = openDatabase(path);
    // A database at approvals v4 (as main wrote it both before and after sessions v8).
    migrate(db, MIGRATIONS.filter((m) => !(m.module === 'approvals' && m.version > 4)));
    const insert = db.prepare(`INSERT INTO approvals (id, session_id, action_kind, normalized, action_hash, asked_by, reason, requested_at, expires_at, status, consumed_at, consumed_by)
      VALUES (?, 'ses-000000000001', 'shell', 'ls -l', 'h', 'session:ses-000000000001', 'ask', 1, 2, 'approved', 3, ?)`);
    const marks = { old: 'decide:1:abc123', gen: 'decide:2:1:abc123', unnumbered: '', unused: '' };
    for (const [id, mark] of Object.entries(marks)) insert.run(id, mark);
    db.close();
    const store = openSqliteStore(path);
    try {
      const by = Object.fromEntries((await store.approvals.list({ sessionId: 'ses-000000000001' })).map((a) => [a.id, a.consumedBy]));
      assert.deepEqual(by, { old: 'decide:0:1:abc123', gen: 'decide:2:1:abc123', unnumbered: '', unused: '' });
    } finally {
      store.close();
    }
  });

  it('keeps every (module, version) unique and each module numbered 1, 2, 3… in list order', () => {
    const seen = new Map<string, number>();
    for (const m of MIGRATIONS) {
      assert.equal(m.version, (seen.get(m.module) ?? 0) + 1, `${m.module} v${m.version} out of order`);
      seen.set(m.module, m.version);
    }
  });
});
