// B16 (part): cost of listing sessions as the table grows. For each size it
// starts the real stack (lokid + loki-gateway as separate processes, lib/stack),
// writes N realistic sessions (tasks, agents, events, counters; ended, 20
// owners) through SessionRepo into lokid's database, then has wrk (a separate
// process) fetch GET /api/sessions?all=true&limit=100 — the first page, and the
// deepest page (its token found by walking the pages once) — as the admin.
// Prints p50/p99 per size and the ratio against the smallest size measured in
// the same run: about 1× is flat. For contrast it also times following every
// page (what `loki sessions list --all` does), which is linear by construction.
// Run: npm run build && node dist/bench/b16-sessions-list.js [--sizes 10,1000,10000] [--seconds 5]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteStore } from '../daemon/src/store/sqlite/index.js';
import { TASK_STATUSES } from '../daemon/src/sessions/types.js';
import { requireWrk, startStack, wrk, type Stack, type WrkResult } from './lib/stack.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '10,1000,10000' }, seconds: { type: 'string', default: '5' } } });
const sizes = values.sizes!.split(',').map(Number);
const seconds = Number(values.seconds);

function seed(stack: Stack, n: number): number {
  const t0 = performance.now();
  // lokid has the database open (WAL): a second writer is safe, and this is the repository it uses.
  const store = openSqliteStore(join(stack.home, 'state', 'loki.db'));
  try {
    store.db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const id = `ses-${i.toString(16).padStart(12, '0')}`;
        store.sessions.insert({
          id,
          owner: `token:user-${i % 20}`,
          provider: i % 3 ? 'openai' : 'claude',
          profile: 'default',
          autonomy: 'checkpoint',
          projectId: `prj-${(i % 7).toString(16).padStart(12, '0')}`,
          promptSource: 'prd.md',
          prompt: `Implement feature ${i}: add the endpoint, its tests and the docs. `.repeat(8),
          planJson: '[]',
          model: 'gpt-4.1',
          baseUrl: '',
          upstream: 'default',
          maxIterations: 50,
          network: false,
        });
        store.sessions.transition(id, ['pending'], 'starting', 'starting');
        store.sessions.transition(id, ['starting'], 'running', 'running');
        store.sessions.setRuntime(id, { sandboxId: `sbx-${i.toString(16).padStart(12, '0')}`, workspace: `/var/lib/loki/workspaces/${id}`, branch: `loki/session-${1_700_000_000 + i}-1` });
        store.sessions.addAgent(id, 'development');
        store.sessions.addAgent(id, 'review');
        for (let t = 0; t < 5; t++) store.sessions.setTask(id, `task-${t}`, TASK_STATUSES[(i + t) % TASK_STATUSES.length]!);
        for (let e = 0; e < 15; e++) store.sessions.append(id, 'iteration', `iteration ${e}`, { e }, { iteration: e, addCostUsd: 0.01, addInputTokens: 1200, addOutputTokens: 300, decision: e % 5 ? 'allow' : 'ask' });
        // Ended: a running row without its container would be failed by lokid's supervisor mid-measurement.
        store.sessions.transition(id, ['running'], i % 9 ? 'completed' : 'failed', 'ended', { reason: i % 9 ? 'done' : 'runner exited' });
      }
    })();
    // Fold the seed into the database file now, not in lokid's next write during the measurement.
    store.db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    store.close();
  }
  return performance.now() - t0;
}

async function pageToken(url: string, auth: Record<string, string>, n: number): Promise<string> {
  // The token of the last page: walk there once (pages of 100).
  let token = '';
  for (let seen = 100; seen < n; seen += 100) {
    const r = (await (await fetch(`${url}/api/sessions?all=true&limit=100${token ? `&page_token=${token}` : ''}`, { headers: auth })).json()) as { next_page_token: string | null };
    if (!r.next_page_token) break;
    token = r.next_page_token;
  }
  return token;
}

async function followAll(url: string, auth: Record<string, string>): Promise<{ ms: number; count: number }> {
  const t0 = performance.now();
  let token = '';
  let count = 0;
  do {
    const r = (await (await fetch(`${url}/api/sessions?all=true&limit=500${token ? `&page_token=${token}` : ''}`, { headers: auth })).json()) as { sessions: unknown[]; next_page_token: string | null };
    count += r.sessions.length;
    token = r.next_page_token ?? '';
  } while (token);
  return { ms: performance.now() - t0, count };
}

async function main(): Promise<void> {
  requireWrk();
  const rows: { n: number; first: WrkResult; deep: WrkResult; all: { ms: number; count: number } }[] = [];
  for (const n of sizes) {
    const stack = await startStack({ logLevel: 'warn' });
    try {
      const seedMs = seed(stack, n);
      const auth = { authorization: `Bearer ${await stack.token('b16-admin', 'admin')}` };
      const first = `${stack.url}/api/sessions?all=true&limit=100`;
      const token = await pageToken(stack.url, auth, n);
      const deep = token ? `${first}&page_token=${token}` : first;
      const check = (await (await fetch(deep, { headers: auth })).json()) as { sessions: unknown[] };
      await wrk(first, { connections: 1, seconds: 1, headers: auth }); // warm-up (JIT, page cache)
      const r1 = await wrk(first, { connections: 1, seconds, headers: auth });
      const r2 = await wrk(deep, { connections: 1, seconds, headers: auth });
      const all = await followAll(stack.url, auth);
      rows.push({ n, first: r1, deep: r2, all });
      console.log(`n=${n}: seeded in ${(seedMs / 1000).toFixed(1)} s; deepest page holds ${check.sessions.length}; ${r1.requests} + ${r2.requests} requests${r1.non2xx + r2.non2xx + r1.errors + r2.errors ? ' (SOME FAILED)' : ''}`);
    } finally {
      await stack.stop();
    }
  }
  const base = rows[0]!;
  const f = (x: number) => x.toFixed(2).padStart(8);
  console.log('\nB16 sessions list (GET /api/sessions?all=true&limit=100 through lokid + loki-gateway, wrk -c1, ms)');
  console.log('      sessions | first p50 | first p99 |  deep p50 |  deep p99 | every page (limit 500)');
  for (const r of rows) console.log(`${String(r.n).padStart(14)} | ${f(r.first.p50ms)}  | ${f(r.first.p99ms)}  | ${f(r.deep.p50ms)}  | ${f(r.deep.p99ms)}  | ${r.all.ms.toFixed(0)} ms for ${r.all.count}`);
  for (const r of rows.slice(1)) {
    console.log(
      `ratio ${r.n} vs ${base.n}: first page p50 ${(r.first.p50ms / base.first.p50ms).toFixed(2)}×, p99 ${(r.first.p99ms / base.first.p99ms).toFixed(2)}×; deep page p50 ${(r.deep.p50ms / base.deep.p50ms).toFixed(2)}×, p99 ${(r.deep.p99ms / base.deep.p99ms).toFixed(2)}×; every page ${(r.all.ms / base.all.ms).toFixed(1)}× (sessions ×${r.n / base.n})`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
