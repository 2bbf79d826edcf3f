// LearningRepo on SQLite: rows in `learnings`, full-text search through the
// `learnings_fts` FTS5 index the migration keeps in step with triggers.
import type { Statement } from 'better-sqlite3';
import type { Learning, LearningRepo } from '../../registry/learnings.js';
import type { Db } from '../db.js';
import { LimitedStatements, sqlLimit } from './limited.js';

interface Row {
  id: number;
  session_id: string;
  project_id: string;
  text: string;
  tags: string;
  created_at: number;
}

const toLearning = (r: Row): Learning => ({
  id: r.id,
  sessionId: r.session_id,
  projectId: r.project_id,
  text: r.text,
  tags: r.tags ? r.tags.split(' ') : [],
  createdAtMs: r.created_at,
});

const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');

export class SqliteLearningRepo implements LearningRepo {
  private countSync(sessionId: string): number {
    return (this.count.get(sessionId) as { n: number }).n;
  }

  private insertSync(l: Omit<Learning, 'id' | 'match'>): number {
    return (this.ins.get(l.sessionId, l.projectId, l.text, l.tags.join(' '), l.createdAtMs) as { id: number }).id;
  }

  private readonly count: Statement;
  private readonly ins: Statement;
  /** By IN-list length and limit (the limit is in the SQL: limited.ts). */
  private readonly limited: LimitedStatements;

  constructor(private readonly db: Db) {
    this.count = db.prepare('SELECT COUNT(*) AS n FROM learnings WHERE session_id = ?');
    this.ins = db.prepare('INSERT INTO learnings (session_id, project_id, text, tags, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id');
    this.limited = new LimitedStatements(db);
  }

  // Synchronous inside; `async` only to meet the (networked-store-ready) interface.
  async countForSession(sessionId: string): Promise<number> {
    return this.countSync(sessionId);
  }

  async insert(l: Omit<Learning, 'id' | 'match'>): Promise<number> {
    return this.insertSync(l);
  }

  // One transaction: the count and the insert cannot interleave with another writer.
  async insertBelow(l: Omit<Learning, 'id' | 'match'>, max: number): Promise<number | undefined> {
    return this.db.transaction(() => (this.countSync(l.sessionId) >= max ? undefined : this.insertSync(l)))();
  }

  // The IN list varies with the caller's projects; each shape is compiled once.
  async list(projectIds: readonly string[], limit: number): Promise<Learning[]> {
    const n = projectIds.length;
    const lim = sqlLimit(limit);
    const sql = () => `SELECT * FROM learnings WHERE project_id IN (${marks(n)}) ORDER BY created_at DESC, id DESC LIMIT ${lim}`;
    return (this.limited.get(`list:${n}:${lim}`, sql).all(...projectIds) as Row[]).map(toLearning);
  }

  async match(ftsQuery: string, projectIds: readonly string[], limit: number): Promise<Learning[]> {
    const n = projectIds.length;
    const lim = sqlLimit(limit);
    const sql = () => `SELECT l.* FROM learnings_fts f JOIN learnings l ON l.id = f.rowid
       WHERE learnings_fts MATCH ? AND l.project_id IN (${marks(n)}) ORDER BY bm25(learnings_fts) LIMIT ${lim}`;
    return (this.limited.get(`match:${n}:${lim}`, sql).all(ftsQuery, ...projectIds) as Row[]).map(toLearning);
  }
}
