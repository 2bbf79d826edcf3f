// B16 (part): cost of listing sessions as the table grows. For each size it
// starts the real stack (lokid + loki-gateway as separate processes, lib/stack),
// writes N realistic sessions (tasks, agents, events, counters; ended, 20
// owners) through the SessionRepo's synchronous SQLite core (store.sessions.rows) into lokid's database, then has wrk (a separate
// process) fetch GET /api/sessions?all=true&limit=100 — the first page, and the
// deepest page (its token found by walking the pages once) — as the admin.
// All sizes run at once and are measured in interleaved rounds (median of the
// rounds). Prints p50/p99 per size and the ratio against the smallest size
// measured in the same run: about 1× is flat. For contrast it also times
// following every page (what `loki sessions list --all` does): linear by construction.
// And what each Prometheus scrape of /metrics asks lokid (SessionService/Metrics,
// timed over the admin socket, the gateway's 500 ms snapshot cache bypassed):
// totals summed in SQLite and the last few ended sessions, so about flat.
// Run: npm run build && node dist/bench/b16-sessions-list.js [--sizes 10,1000,10000] [--seconds 3] [--rounds 5]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import { SessionServiceClient, type SessionMetricsResponse } from '../proto/gen/loki/v1/sessions.js';
import { openSqliteStore } from '../daemon/src/store/sqlite/index.js';
import { TASK_STATUSES } from '../daemon/src/sessions/types.js';
import { requireWrk, startStack, wrk, type Stack, type WrkResult } from './lib/stack.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '10,1000,10000' }, seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '5' } } });
const sizes = values.sizes!.split(',').map(Number);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);

function seed(stack: Stack, n: number): number {
  const t0 = performance.now();
  // lokid has the database open (WAL): a second writer is safe, and this is the repository it uses.
  const store = openSqliteStore(join(stack.home, 'state', 'loki.db'));
  try {
    store.db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const id = `ses-${i.toString(16).padStart(12, '0')}`;
        store.sessions.rows.insert({
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
        store.sessions.rows.transition(id, ['pending'], 'starting', 'starting');
        store.sessions.rows.transition(id, ['starting'], 'running', 'running');
        store.sessions.rows.setRuntime(id, { sandboxId: `sbx-${i.toString(16).padStart(12, '0')}`, workspace: `/var/lib/loki/workspaces/${id}`, branch: `loki/session-${1_700_000_000 + i}-1` });
        store.sessions.rows.addAgent(id, 'development');
        store.sessions.rows.addAgent(id, 'review');
        for (let t = 0; t < 5; t++) store.sessions.rows.setTask(id, `task-${t}`, TASK_STATUSES[(i + t) % TASK_STATUSES.length]!);
        for (let e = 0; e < 15; e++) store.sessions.rows.append(id, 'iteration', `iteration ${e}`, { e }, { iteration: e, addCostUsd: 0.01, addInputTokens: 1200, addOutputTokens: 300, decision: e % 5 ? 'allow' : 'ask' });
        // Ended: a running row without its container would be failed by lokid's supervisor mid-measurement.
        store.sessions.rows.transition(id, ['running'], i % 9 ? 'completed' : 'failed', 'ended', { reason: i % 9 ? 'done' : 'runner exited' });
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

/** Milliseconds of each of `n` sequential SessionService/Metrics calls (what a /metrics scrape costs lokid). */
async function metricsCalls(adminSocket: string, n: number): Promise<number[]> {
  const c = new SessionServiceClient(`unix:${adminSocket}`, credentials.createInsecure());
  try {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await new Promise<SessionMetricsResponse>((ok, fail) => c.metrics({}, new Metadata(), (err, res) => (err ? fail(err) : ok(res))));
      ms.push(performance.now() - t0);
    }
    return ms;
  } finally {
    c.close();
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

interface Row {
  n: number;
  first: { p50: number; p99: number };
  deep: { p50: number; p99: number };
  all: { ms: number; count: number };
  metricsP50: number;
  requests: number;
  failed: number;
}

interface Case {
  n: number;
  stack: Stack;
  auth: Record<string, string>;
  first: string;
  deep: string;
  runs: { first: WrkResult[]; deep: WrkResult[]; metrics: number[] };
}

async function main(): Promise<void> {
  requireWrk();
  const cases: Case[] = [];
  try {
    // All sizes stay up together and are measured in interleaved rounds, so a
    // burst of load from elsewhere on the machine hits every size alike.
    for (const n of sizes) {
      const stack = await startStack({ logLevel: 'warn' });
      const c: Case = { n, stack, auth: {}, first: '', deep: '', runs: { first: [], deep: [], metrics: [] } };
      cases.push(c);
      const seedMs = seed(stack, n);
      c.auth = { authorization: `Bearer ${await stack.token('b16-admin', 'admin')}` };
      c.first = `${stack.url}/api/sessions?all=true&limit=100`;
      const token = await pageToken(stack.url, c.auth, n);
      c.deep = token ? `${c.first}&page_token=${token}` : c.first;
      const check = (await (await fetch(c.deep, { headers: c.auth })).json()) as { sessions: unknown[] };
      await wrk(c.first, { connections: 1, seconds: 1, headers: c.auth }); // warm-up (JIT, page cache)
      console.log(`n=${n}: seeded in ${(seedMs / 1000).toFixed(1)} s; the deepest page holds ${check.sessions.length}`);
    }
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) {
        c.runs.first.push(await wrk(c.first, { connections: 1, seconds, headers: c.auth }));
        c.runs.deep.push(await wrk(c.deep, { connections: 1, seconds, headers: c.auth }));
        c.runs.metrics.push(...(await metricsCalls(c.stack.adminSocket, 20)));
      }
    }
    const rows: Row[] = [];
    for (const c of cases) {
      const failed = [...c.runs.first, ...c.runs.deep].reduce((k, r) => k + r.non2xx + r.errors, 0);
      const requests = [...c.runs.first, ...c.runs.deep].reduce((k, r) => k + r.requests, 0);
      rows.push({
        n: c.n,
        first: { p50: median(c.runs.first.map((r) => r.p50ms)), p99: median(c.runs.first.map((r) => r.p99ms)) },
        deep: { p50: median(c.runs.deep.map((r) => r.p50ms)), p99: median(c.runs.deep.map((r) => r.p99ms)) },
        all: await followAll(c.stack.url, c.auth),
        metricsP50: median(c.runs.metrics),
        requests,
        failed,
      });
    }
    const f = (x: number) => x.toFixed(2).padStart(8);
    console.log(`\nB16 sessions list (GET /api/sessions?all=true&limit=100 through lokid + loki-gateway; wrk -c1, ${rounds} interleaved rounds of ${seconds} s, median of the rounds, ms)`);
    console.log('      sessions | first p50 | first p99 |  deep p50 |  deep p99 | metrics p50 | requests | every page (limit 500)');
    for (const r of rows) {
      console.log(`${String(r.n).padStart(14)} | ${f(r.first.p50)}  | ${f(r.first.p99)}  | ${f(r.deep.p50)}  | ${f(r.deep.p99)}  |   ${f(r.metricsP50)}  | ${String(r.requests).padStart(8)} | ${r.all.ms.toFixed(0)} ms for ${r.all.count}${r.failed ? `  (${r.failed} FAILED)` : ''}`);
    }
    const ratio = (a: Row, b: Row) =>
      `ratio ${a.n} vs ${b.n}: first page p50 ${(a.first.p50 / b.first.p50).toFixed(2)}×, p99 ${(a.first.p99 / b.first.p99).toFixed(2)}×; deep page p50 ${(a.deep.p50 / b.deep.p50).toFixed(2)}×, p99 ${(a.deep.p99 / b.deep.p99).toFixed(2)}×; metrics p50 ${(a.metricsP50 / b.metricsP50).toFixed(2)}×; every page ${(a.all.ms / b.all.ms).toFixed(1)}× (sessions ×${a.n / b.n})`;
    for (const r of rows.slice(1)) console.log(ratio(r, rows[0]!));
    // Below 100 sessions the page itself is smaller: the sizes that both fill a page show the depth alone.
    const full = rows.filter((r) => r.n >= 100);
    if (full.length >= 2) console.log(`${ratio(full[full.length - 1]!, full[0]!)} (both full pages)`);
  } finally {
    for (const c of cases) await c.stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
