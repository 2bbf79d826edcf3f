// Learnings: short notes sessions record (text + tags + project), searchable
// across projects with full-text search. Search ranks an exact phrase match first,
// then documents holding every term (bm25 within each group). The SQLite
// implementation of LearningRepo is store/sqlite/learnings.ts (FTS5).
import { LokiError } from '../../../common/src/index.js';

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

/**
 * Where learnings are kept (async: the seam a networked store plugs into). `match`
 * takes an FTS5 query built by `ftsTerms` only.
 */
export interface LearningRepo {
  countForSession(sessionId: string): Promise<number>;
  insert(l: Omit<Learning, 'id' | 'match'>): Promise<number>;
  /**
   * Inserts unless the session already holds `max` learnings; the count and the
   * insert are one transaction, so two concurrent reports cannot both pass the quota.
   * Returns the new id, or undefined when the session is at its quota.
   */
  insertBelow(l: Omit<Learning, 'id' | 'match'>, max: number): Promise<number | undefined>;
  /** Newest first, in the given projects (non-empty). */
  list(projectIds: readonly string[], limit: number): Promise<Learning[]>;
  /** Full-text matches in the given projects (non-empty), best first (bm25). */
  match(ftsQuery: string, projectIds: readonly string[], limit: number): Promise<Learning[]>;
}

/** The words of a query as FTS5 string literals: no operator or column filter of the caller's ever reaches MATCH. */
export function ftsTerms(q: string): string[] {
  return (q.normalize('NFKC').match(/[\p{L}\p{N}_]+/gu) ?? []).slice(0, 32).map((t) => `"${t}"`);
}

type LearningInput = { sessionId: string; projectId: string; text: string; tags?: readonly string[] };

export class LearningStore {
  constructor(
    private readonly repo: LearningRepo,
    private readonly clock: () => number = Date.now,
  ) {}

  countForSession(sessionId: string): Promise<number> {
    return this.repo.countForSession(sessionId);
  }

  async record(input: LearningInput): Promise<Learning> {
    const l = this.validate(input);
    return { id: await this.repo.insert(l), ...l };
  }

  /**
   * Records a learning unless the session already holds `max`: 'over' then (also for
   * an invalid learning, which is over the quota before it is invalid, as before).
   * The quota check and the insert are one repository call (one transaction).
   */
  async recordWithin(input: LearningInput, max: number): Promise<Learning | 'over'> {
    let l: Omit<Learning, 'id' | 'match'>;
    try {
      l = this.validate(input);
    } catch (err) {
      // Nothing is written, so a plain read is enough to keep "over quota" ahead of "invalid".
      if ((await this.repo.countForSession(input.sessionId)) >= max) return 'over';
      throw err;
    }
    const id = await this.repo.insertBelow(l, max);
    return id === undefined ? 'over' : { id, ...l };
  }

  private validate(input: LearningInput): Omit<Learning, 'id' | 'match'> {
    const text = input.text.trim();
    if (!text) throw new LokiError('invalid_argument', 'a learning needs text');
    if (Buffer.byteLength(text) > MAX_LEARNING_BYTES) throw new LokiError('invalid_argument', `a learning is at most ${MAX_LEARNING_BYTES} bytes`);
    const tags = [...new Set(input.tags ?? [])];
    if (tags.length > MAX_TAGS) throw new LokiError('invalid_argument', `at most ${MAX_TAGS} tags`);
    const bad = tags.find((t) => !TAG_RE.test(t));
    if (bad !== undefined) throw new LokiError('invalid_argument', `invalid tag ${JSON.stringify(bad.slice(0, 64))}: use 1-64 of [A-Za-z0-9_.:-]`);
    return { sessionId: input.sessionId, projectId: input.projectId, text, tags, createdAtMs: this.clock() };
  }

  /** Newest first, in the given projects. */
  async list(projectIds: readonly string[], limit = 100): Promise<Learning[]> {
    if (!projectIds.length) return [];
    return this.repo.list(projectIds, limit);
  }

  /**
   * Ranked full-text search in the given projects: rows containing the exact
   * phrase first, then rows containing every term; bm25 orders each group.
   */
  async search(q: string, projectIds: readonly string[], limit = 50): Promise<Learning[]> {
    const terms = ftsTerms(q);
    if (!terms.length) throw new LokiError('invalid_argument', 'the search needs at least one word');
    if (!projectIds.length) return [];
    // An FTS5 phrase is its terms in a row: `"a" + "b"`.
    const phrase = (await this.repo.match(terms.join(' + '), projectIds, limit)).map((l) => ({ ...l, match: 'phrase' as const }));
    if (phrase.length >= limit || terms.length === 1) return phrase;
    const seen = new Set(phrase.map((l) => l.id));
    const all = (await this.repo.match(terms.join(' AND '), projectIds, limit + phrase.length))
      .filter((l) => !seen.has(l.id))
      .map((l) => ({ ...l, match: 'terms' as const }));
    return [...phrase, ...all].slice(0, limit);
  }
}
