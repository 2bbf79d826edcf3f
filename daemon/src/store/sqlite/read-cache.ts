// Answers a read asked again with nothing written in between (a dashboard or a
// gateway polling the session list) from memory instead of SQLite: on an empty
// or small list the query itself — a WAL read transaction, two file locks — was
// the daemon's largest own cost per request (P1, profiled).
//
// "Nothing written" is SQLite's own count of rows this connection has changed
// (total_changes(): every INSERT, UPDATE and DELETE by any repository, rows
// changed by triggers and foreign-key actions included). It is read without
// touching a table (~0.1 µs), so no write path can forget to invalidate the
// cache. Inside a transaction nothing is cached (a rollback would not lower the
// count). The daemon is the database's only writer; an answer is still never
// older than `maxAgeMs`, which bounds how long a change made behind its back (by
// another process) could go unseen.
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db.js';

interface Entry<T> {
  at: number;
  value: T;
  size: number;
}

export interface ReadCacheOptions {
  maxAgeMs?: number;
  /** Bounds on what is held: answers, and rows over all answers; beyond either the cache starts again. */
  maxEntries?: number;
  maxRows?: number;
  now?: () => number;
}

export class ReadCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly changes: Statement;
  /** total_changes() the entries were read at. */
  private seen = -1;
  private rows = 0;
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;
  private readonly maxRows: number;
  private readonly now: () => number;

  constructor(private readonly db: Db, o: ReadCacheOptions = {}) {
    this.changes = db.prepare('SELECT total_changes() AS n');
    this.maxAgeMs = o.maxAgeMs ?? 1000;
    this.maxEntries = o.maxEntries ?? 256;
    this.maxRows = o.maxRows ?? 2000;
    this.now = o.now ?? Date.now;
  }

  /** The remembered answer for `key`, or `read()`'s (remembered until the next write or `maxAgeMs`). */
  get(key: string, read: () => T, size: (v: T) => number): T {
    if (this.db.inTransaction) return read();
    const changes = (this.changes.get() as { n: number }).n;
    if (changes !== this.seen) this.clear(changes);
    const t = this.now();
    const hit = this.entries.get(key);
    if (hit && t - hit.at < this.maxAgeMs && t >= hit.at) return hit.value;
    const value = read();
    const n = size(value);
    if (hit) {
      this.entries.delete(key);
      this.rows -= hit.size;
    }
    if (this.entries.size >= this.maxEntries || this.rows + n > this.maxRows) this.clear(changes);
    if (n <= this.maxRows) {
      this.entries.set(key, { at: t, value, size: n });
      this.rows += n;
    }
    return value;
  }

  private clear(changes: number): void {
    this.entries.clear();
    this.rows = 0;
    this.seen = changes;
  }
}
