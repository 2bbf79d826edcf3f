// The daemon's embedded store: one SQLite database (WAL, synchronous=FULL so an
// acknowledged write survives kill -9 and power loss), file mode 0600.
// The schema is one ordered list (store/sqlite/migrations.ts); features reach
// their tables only through the repositories under store/sqlite/.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

export interface Migration {
  /** Module that owns the tables, e.g. `tokens`, `approvals`. */
  module: string;
  /** 1, 2, 3 … applied in order, each exactly once. */
  version: number;
  sql: string;
}

export function openDatabase(path: string): Db {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(path + suffix)) chmodSync(path + suffix, 0o600);
  }
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (module, version))');
  cachePreparedStatements(db);
  return db;
}

// Stores call db.prepare(sql) inline on every request; compiling the same SQL again
// each time was the largest daemon-side cost of a session list (profiled). Statements
// are reusable (no store uses pluck/raw/expand or iterates one while re-running it),
// so the same SQL text gets the same compiled statement. Bounded: dynamic SQL beyond
// the cap is simply prepared each time.
const MAX_CACHED_STATEMENTS = 512;

function cachePreparedStatements(db: Db): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    let s = cache.get(sql);
    if (!s) {
      s = prepare(sql);
      if (cache.size < MAX_CACHED_STATEMENTS) cache.set(sql, s);
    }
    return s;
  }) as Db['prepare'];
}

/** Applies, in list order, the migrations not yet applied, each in its own transaction. */
export function migrate(db: Db, migrations: readonly Migration[]): void {
  const applied = db.prepare('SELECT 1 FROM schema_migrations WHERE module = ? AND version = ?');
  const record = db.prepare('INSERT INTO schema_migrations (module, version, applied_at) VALUES (?, ?, ?)');
  for (const m of migrations) {
    if (applied.get(m.module, m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.module, m.version, new Date().toISOString());
    })();
  }
}
