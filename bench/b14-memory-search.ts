// B14: `loki memory search` over 100,000 learnings. Fills a real SQLite file
// through LearningStore (the FTS5 index the daemon keeps), then times, for the
// same queries in the same run: LearningStore.search (what
// WorkspaceService/ListLearnings runs: phrase group + every-term group, bm25)
// against the baseline a store without an index would do, a
// `LIKE '%term%'` scan of the same table (same project filter, same limit).
// Prints p50/p99 of each and the ratio LIKE/FTS (> 1 means the index is faster).
// Run: npm run build && node dist/bench/b14-memory-search.js [--rows 100000] [--queries 200]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LearningStore } from '../daemon/src/registry/learnings.js';
import { openSqliteStore } from '../daemon/src/store/sqlite/index.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '100000' }, queries: { type: 'string', default: '200' } } });
const rows = Number(values.rows);
const queries = Number(values.queries);

const WORDS = (
  'authentication token session cache database migration deploy rollback retry timeout queue worker schema index ' +
  'branch commit review approval policy sandbox network proxy upstream model prompt budget latency memory socket ' +
  'gateway daemon config secret rotation certificate logging metrics tracing alert incident backup restore shard'
).split(' ')
  // plus a long tail of rarer terms (identifiers, file names), as real notes have
  .concat(Array.from({ length: 3000 }, (_, i) => `term${i.toString(36)}x`));
const FILLER = 'the a of to and in for on with when after before because so it we they this that is was be'.split(' ');

// Deterministic pseudo-random text (xorshift), so every run measures the same corpus.
let seed = 0x9e3779b9;
const rnd = (n: number) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};
const sentence = () => Array.from({ length: 12 + rnd(20) }, () => (rnd(3) === 0 ? WORDS[rnd(WORDS.length)] : FILLER[rnd(FILLER.length)])).join(' ');

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const ms = (x: number) => `${x.toFixed(3)} ms`;

const dir = mkdtempSync(join(tmpdir(), 'loki-b14-'));
try {
  const sq = openSqliteStore(join(dir, 'loki.db'));
  const db = sq.db;
  const store = new LearningStore(sq.learnings);
  const projects = Array.from({ length: 20 }, (_, i) => `prj-${String(i).padStart(12, '0')}`);
  const t0 = performance.now();
  // The SQLite repository writes when called (its async methods run synchronously up to their return),
  // so every insert lands inside this one transaction; the promises are awaited after it.
  const filled: Promise<unknown>[] = [];
  db.transaction(() => {
    for (let i = 0; i < rows; i++) {
      filled.push(store.record({ sessionId: `ses-${String(i % 5000).padStart(12, '0')}`, projectId: projects[i % projects.length]!, text: sentence(), tags: [WORDS[rnd(WORDS.length)]!] }));
    }
  })();
  await Promise.all(filled);
  console.log(`filled ${rows} learnings in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const qs = Array.from({ length: queries }, (_, i) => (i % 2 ? WORDS[rnd(WORDS.length)]! : `${WORDS[rnd(WORDS.length)]} ${WORDS[rnd(WORDS.length)]}`));
  const marks = projects.map(() => '?').join(', ');
  const like = db.prepare(`SELECT * FROM learnings WHERE project_id IN (${marks}) AND text LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT 50`);
  const likeAll = db.prepare(`SELECT * FROM learnings WHERE project_id IN (${marks}) AND text LIKE ? ESCAPE '\\' AND text LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT 50`);

  // Warm both paths (page cache, statement cache) before timing.
  for (const q of qs.slice(0, 5)) {
    await store.search(q, projects, 50);
    like.all(...projects, `%${q.split(' ')[0]}%`);
  }
  const fts: number[] = [];
  const scan: number[] = [];
  let ftsHits = 0;
  let scanHits = 0;
  for (const q of qs) {
    let t = performance.now();
    ftsHits += (await store.search(q, projects, 50)).length;
    fts.push(performance.now() - t);
    const [a, b] = q.split(' ');
    t = performance.now();
    // The same two groups the search returns: the phrase, then rows with both words.
    scanHits += b ? like.all(...projects, `%${a} ${b}%`).length + likeAll.all(...projects, `%${a}%`, `%${b}%`).length : like.all(...projects, `%${a}%`).length;
    scan.push(performance.now() - t);
  }
  console.log(`queries: ${queries} (half one word, half two words), limit 50, over ${projects.length} projects`);
  console.log(`FTS5 search   p50 ${ms(pct(fts, 50))}  p99 ${ms(pct(fts, 99))}  (${ftsHits} rows returned)`);
  console.log(`LIKE '%term%' p50 ${ms(pct(scan, 50))}  p99 ${ms(pct(scan, 99))}  (${scanHits} rows returned)`);
  console.log(`ratio LIKE/FTS: p50 ${(pct(scan, 50) / pct(fts, 50)).toFixed(1)}x  p99 ${(pct(scan, 99) / pct(fts, 99)).toFixed(1)}x`);
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
