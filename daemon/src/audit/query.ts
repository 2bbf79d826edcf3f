// Reading the log for people: newest-first pages and summaries. Files are
// streamed one at a time; a page holds at most `limit` entries in memory
// regardless of how large the files are.
import { LokiError } from '../../../common/src/index.js';
import { readLinesBackward } from './backward.js';
import { listAuditFiles, readLines, type AuditFile } from './files.js';
import { AUDIT_RESULTS, parseEntry, utcDay, type AuditEntry } from './format.js';
import type { AuditResult } from './types.js';

export const MAX_QUERY_LIMIT = 1000;

export interface AuditQuery {
  limit?: number;
  action?: string;
  user?: string;
  result?: AuditResult;
  /** Inclusive lower bound, ms since epoch. */
  since?: number;
  /** Exclusive upper bound, ms since epoch. */
  until?: number;
  /** Only entries with seq < cursor (the previous page's nextCursor). */
  cursor?: number;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** Pass as `cursor` for the next page; undefined when there is none. */
  nextCursor?: number;
}

/** Parses `24h`, `7d`, `30m`, `90s` (relative to now) or an ISO 8601 time; throws invalid_argument naming the field. */
export function parseTime(field: string, value: string, now: number): number {
  const v = value.trim();
  const rel = /^(\d{1,6})([smhd])$/.exec(v);
  if (rel) return now - Number(rel[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  const ms = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw new LokiError('invalid_argument', `${field}: expected an ISO 8601 time or a duration like 24h, got ${JSON.stringify(value)}`);
  return ms;
}

export function normalizeQuery(q: AuditQuery): Required<Pick<AuditQuery, 'limit'>> & AuditQuery {
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) {
    throw new LokiError('invalid_argument', `limit must be between 1 and ${MAX_QUERY_LIMIT}`);
  }
  if (q.result !== undefined && !AUDIT_RESULTS.includes(q.result)) {
    throw new LokiError('invalid_argument', `result must be one of ${AUDIT_RESULTS.join(', ')}`);
  }
  if (q.cursor !== undefined && (!Number.isInteger(q.cursor) || q.cursor < 0)) throw new LokiError('invalid_argument', 'cursor must be a non-negative integer');
  if (q.since !== undefined && q.until !== undefined && q.since > q.until) throw new LokiError('invalid_argument', 'since must not be after until');
  return { ...q, limit };
}

function matches(e: AuditEntry, q: AuditQuery): boolean {
  if (q.cursor !== undefined && q.cursor > 0 && e.seq >= q.cursor) return false;
  if (q.action && e.action !== q.action) return false;
  if (q.user && e.user !== q.user) return false;
  if (q.result && e.result !== q.result) return false;
  if (q.since !== undefined || q.until !== undefined) {
    const t = Date.parse(e.timestamp);
    if (q.since !== undefined && t < q.since) return false;
    if (q.until !== undefined && t >= q.until) return false;
  }
  return true;
}

function dayInRange(day: string, q: AuditQuery): boolean {
  if (q.since !== undefined && day < utcDay(q.since)) return false;
  if (q.until !== undefined && day > utcDay(q.until)) return false;
  return true;
}

// A plain file is read from its end: the newest page costs about the page, not the day.
async function newestBackward(file: AuditFile, q: AuditQuery, want: number): Promise<AuditEntry[]> {
  const found: AuditEntry[] = [];
  try {
    for await (const line of readLinesBackward(file)) {
      const e = parseEntry(line);
      if (!e || !matches(e, q)) continue;
      found.push(e);
      if (found.length >= want) break;
    }
  } catch (err) {
    // Compressed between listing and opening: the gzip can only be read forward.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return newestForward(file, q, want);
    throw err;
  }
  return found;
}

// A gzipped (past) day streams forward; its newest `want` matches are the last `want`
// in file order, kept in a ring of that size so memory stays bounded.
async function newestForward(file: AuditFile, q: AuditQuery, want: number): Promise<AuditEntry[]> {
  const ring: AuditEntry[] = [];
  for await (const { line, terminated } of readLines(file)) {
    if (!terminated) break;
    const e = parseEntry(line);
    if (!e || !matches(e, q)) continue;
    ring.push(e);
    if (ring.length > want) ring.shift();
  }
  return ring.reverse();
}

export async function queryAuditLog(dir: string, query: AuditQuery): Promise<AuditPage> {
  const q = normalizeQuery(query);
  const files = (await listAuditFiles(dir)).filter((f) => dayInRange(f.day, q)).reverse();
  const out: AuditEntry[] = [];
  for (const file of files) {
    const want = q.limit - out.length;
    out.push(...(file.gz ? await newestForward(file, q, want) : await newestBackward(file, q, want)));
    if (out.length >= q.limit) break;
  }
  const page: AuditPage = { entries: out };
  if (out.length === q.limit) page.nextCursor = out[out.length - 1]!.seq;
  return page;
}

export interface AuditSummary {
  total: number;
  byAction: Record<string, number>;
  byUser: Record<string, number>;
  byResult: Record<string, number>;
  since: number;
  until: number;
}

// Distinct users are bounded so a flood of forged identities cannot grow the answer without limit.
const MAX_KEYS = 1000;

function bump(map: Map<string, number>, key: string): void {
  if (!map.has(key) && map.size >= MAX_KEYS) key = '(other)';
  map.set(key, (map.get(key) ?? 0) + 1);
}

export async function summarizeAuditLog(dir: string, range: { since: number; until: number }): Promise<AuditSummary> {
  if (range.since > range.until) throw new LokiError('invalid_argument', 'since must not be after until');
  const byAction = new Map<string, number>();
  const byUser = new Map<string, number>();
  const byResult = new Map<string, number>();
  let total = 0;
  for (const file of await listAuditFiles(dir)) {
    if (!dayInRange(file.day, range)) continue;
    for await (const { line, terminated } of readLines(file)) {
      if (!terminated) break;
      const e = parseEntry(line);
      if (!e || !matches(e, range)) continue;
      total++;
      bump(byAction, e.action);
      bump(byUser, e.user);
      bump(byResult, e.result);
    }
  }
  return {
    total,
    byAction: Object.fromEntries(byAction),
    byUser: Object.fromEntries(byUser),
    byResult: Object.fromEntries(byResult),
    since: range.since,
    until: range.until,
  };
}
