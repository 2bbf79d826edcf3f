// Statements whose LIMIT is written into the SQL text instead of bound. SQLite
// (3.47+) folds a bound LIMIT into the query plan and so compiles the statement
// again on every bind: ~5 µs for a read of a few rows, several times the read
// itself (measured on 3.51). A literal LIMIT compiles once. The number is a
// validated integer, never text from a request. Each text is compiled once and
// kept here, bounded, outside db.prepare's shared cache, so callers walking
// through many limits (or IN-list lengths) cannot fill that cache.
import Database, { type Statement } from 'better-sqlite3';
import { LokiError } from '../../../../common/src/index.js';
import type { Db } from '../db.js';

/** `n` as the text of a LIMIT: a whole number >= 0, else invalid_argument. */
export function sqlLimit(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new LokiError('invalid_argument', 'a limit must be a whole number >= 0');
  return String(n);
}

export class LimitedStatements {
  private readonly byKey = new Map<string, Statement>();

  constructor(private readonly db: Db, private readonly max = 32) {}

  /** The statement for `key` (what varies in the SQL: limit, filter shape), compiled from `sql()` the first time. */
  get(key: string, sql: () => string): Statement {
    let s = this.byKey.get(key);
    if (!s) {
      if (this.byKey.size >= this.max) this.byKey.delete(this.byKey.keys().next().value!);
      s = Database.prototype.prepare.call(this.db, sql()) as Statement;
      this.byKey.set(key, s);
    }
    return s;
  }
}
