// Learnings: short notes sessions record (text + tags + project), searchable
// across projects with SQLite FTS5. Search ranks an exact phrase match first,
// then documents holding every term (bm25 within each group).
import { LokiError } from '../../../common/src/index.js';
import { migrate, type Db, type Migration } from '../store/db.js';

export const LEARNING_MIGRATIONS: readonly Migration[] = [
  {
    module: 'learnings',
    version: 1,
    sql: `CREATE TABLE learnings (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      session_id TEXT NOT NULL,
      project_id TEXT NOT NULL,
      text TEXT NOT NULL,
      tags TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL
    );
    CREATE INDEX learnings_session ON learnings (session_id);
    CREATE INDEX learnings_project ON learnings (project_id, created_at);
    CREATE VIRTUAL TABLE learnings_fts USING fts5(text, tags, content='learnings', content_rowid='id', tokenize='unicode61');
    CREATE TRIGGER learnings_ai AFTER INSERT ON learnings BEGIN
      INSERT INTO learnings_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
    END;
    CREATE TRIGGER learnings_ad AFTER DELETE ON learnings BEGIN
      INSERT INTO learnings_fts (learnings_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
    END;`,
  },
];

export const MAX_LEARNING_BYTES = 4096;
export const MAX_TAGS = 16;
const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export interface Learning {
  id: number;
  sessionId: string;
  projectId: string;
  text: string;
  tags: string[];
  createdAtMs: number;
  /** Search only: 'phrase' (the exact phrase occurs) or 'terms' (every term occurs). */
  match?: 'phrase' | 'terms';
}

interface Row {
  id: number;
  session_id: string;
  project_id: string;
  text: string;
  tags: string;
  created_at: number;
}

const toLearning = (r: Row, match?: 'phrase' | 'terms'): Learning => ({
  id: r.id,
  sessionId: r.session_id,
  projectId: r.project_id,
  text: r.text,
  tags: r.tags ? r.tags.split(' ') : [],
  createdAtMs: r.created_at,
  ...(match ? { match } : {}),
});

/** The words of a query as FTS5 string literals: no operator or column filter of the caller's ever reaches MATCH. */
export function ftsTerms(q: string): string[] {
  return (q.normalize('NFKC').match(/[\p{L}\p{N}_]+/gu) ?? []).slice(0, 32).map((t) => `"${t}"`);
}

export class LearningStore {
  constructor(
    private readonly db: Db,
    private readonly clock: () => number = Date.now,
  ) {
    migrate(db, LEARNING_MIGRATIONS);
  }

  countForSession(sessionId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM learnings WHERE session_id = ?').get(sessionId) as { n: number }).n;
  }

  record(input: { sessionId: string; projectId: string; text: string; tags?: readonly string[] }): Learning {
    const text = input.text.trim();
    if (!text) throw new LokiError('invalid_argument', 'a learning needs text');
    if (Buffer.byteLength(text) > MAX_LEARNING_BYTES) throw new LokiError('invalid_argument', `a learning is at most ${MAX_LEARNING_BYTES} bytes`);
    const tags = [...new Set(input.tags ?? [])];
    if (tags.length > MAX_TAGS) throw new LokiError('invalid_argument', `at most ${MAX_TAGS} tags`);
    const bad = tags.find((t) => !TAG_RE.test(t));
    if (bad !== undefined) throw new LokiError('invalid_argument', `invalid tag ${JSON.stringify(bad.slice(0, 64))}: use 1-64 of [A-Za-z0-9_.:-]`);
    const now = this.clock();
    const r = this.db
      .prepare('INSERT INTO learnings (session_id, project_id, text, tags, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id')
      .get(input.sessionId, input.projectId, text, tags.join(' '), now) as { id: number };
    return { id: r.id, sessionId: input.sessionId, projectId: input.projectId, text, tags, createdAtMs: now };
  }

  /** Newest first, in the given projects. */
  list(projectIds: readonly string[], limit = 100): Learning[] {
    if (!projectIds.length) return [];
    const marks = projectIds.map(() => '?').join(', ');
    return (this.db.prepare(`SELECT * FROM learnings WHERE project_id IN (${marks}) ORDER BY created_at DESC, id DESC LIMIT ?`).all(...projectIds, limit) as Row[]).map((r) => toLearning(r));
  }

  /**
   * Ranked full-text search in the given projects: rows containing the exact
   * phrase first, then rows containing every term; bm25 orders each group.
   */
  search(q: string, projectIds: readonly string[], limit = 50): Learning[] {
    const terms = ftsTerms(q);
    if (!terms.length) throw new LokiError('invalid_argument', 'the search needs at least one word');
    if (!projectIds.length) return [];
    const marks = projectIds.map(() => '?').join(', ');
    const stmt = this.db.prepare(
      `SELECT l.* FROM learnings_fts f JOIN learnings l ON l.id = f.rowid
       WHERE learnings_fts MATCH ? AND l.project_id IN (${marks}) ORDER BY bm25(learnings_fts) LIMIT ?`,
    );
    // An FTS5 phrase is its terms in a row: `"a" + "b"`.
    const phrase = (stmt.all(terms.join(' + '), ...projectIds, limit) as Row[]).map((r) => toLearning(r, 'phrase'));
    if (phrase.length >= limit || terms.length === 1) return phrase;
    const seen = new Set(phrase.map((l) => l.id));
    const all = (stmt.all(terms.join(' AND '), ...projectIds, limit + phrase.length) as Row[]).filter((r) => !seen.has(r.id)).map((r) => toLearning(r, 'terms'));
    return [...phrase, ...all].slice(0, limit);
  }
}
