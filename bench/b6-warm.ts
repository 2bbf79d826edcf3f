// B6-warm: session start → first agent action, cold vs warm pool, in the same run.
// Two daemons on one dockerd: one with sandbox.pool.size 0 (cold: the sandbox is
// created at start), one with a warm pool. Each run starts a `script` session
// (plan: one `run: true`) through the session service and times from the start
// call to the runner's first Decide (the first `decision` event), alternating
// cold and warm so load elsewhere hits both. Also prints the pool's memory cost
// per ready slot (the container's cgroup memory.current). Goal: warm ≤ 0.1× cold.
// A warm start takes a slot whose workspace volume was made ahead and fills it in
// place from the project's seed; the unmeasured warm-up run makes that seed (the
// first start of a project clones), so the measured runs are what repeated starts
// of one project cost. The by-hand workspace steps below are the cold path's.
// Needs root (the pool mounts), dockerd, the sandbox image and `npm run build`.
// `--ab-audit-delay-ms N` adds a third daemon, a warm pool whose audit log waits N ms
// for company before an idle entry is written (the default before natural group
// commit was 2), measured interleaved with the other two: what that wait costs.
// Run: npx tsx bench/b6-warm.ts [--runs 10] [--ab-audit-delay-ms 2]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../common/src/index.js';
import { agentRunnerBundle } from '../daemon/src/agent/runner-bundle.js';
import type { Caller } from '../daemon/src/authz/caller.js';
import { startDaemon, type DaemonHandle } from '../daemon/src/daemon.js';
import { POOL_OWNER } from '../daemon/src/sandbox/pool.js';
import { defaultSessionsConfig } from '../daemon/src/sessions/config.js';
import { createSessionFeature, type SessionFeature } from '../daemon/src/sessions/feature.js';
import { removeHome } from '../test/helpers/daemon.js';
import { benchRepo } from './lib/repo.js';

const ADMIN: Caller = { role: 'local-admin', subject: 'local:0', scopes: ['*'], auth: 'local', requestId: 'b6w', clientIp: 'local' };
const RUNNER = ['node', '/opt/loki/agent-runner.cjs'];
/** After a measured session's container exited, before the next start is measured. */
const SETTLE_MS = 500;

function installRoot(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'dist', 'agent-runner', 'loki-agent-runner.cjs'))) return dir;
    if (dirname(dir) === dir) throw new Error('the agent-runner bundle is missing; run `npm run build`');
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

function repo(): string {
  return benchRepo('b6w');
}

interface Side {
  d: DaemonHandle;
  m: SessionFeature['manager'];
}

async function daemon(poolSize: number, root: string, auditDelayMs?: number): Promise<Side> {
  const home = mkdtempSync('/tmp/b6w-');
  let feature: SessionFeature | undefined;
  const d = await startDaemon({
    home,
    env: { PATH: process.env.PATH ?? '' },
    logger: createLogger({ name: 'b6w', level: 'warn' }),
    overrides: {
      sandbox: { image: process.env.LOKI_TEST_IMAGE ?? 'loki-sandbox:latest', stop_timeout_seconds: 2, pool: { size: poolSize } },
      sessions: { runner_command: RUNNER },
      ...(auditDelayMs !== undefined ? { audit: { max_batch_delay_ms: auditDelayMs } } : {}),
    },
    // The default workspace (a size-limited loop mount when root): what a real start pays.
    features: (b) => (feature = createSessionFeature({ ...b, sandboxes: b.manager, sessions: defaultSessionsConfig({ runner_command: RUNNER, check_interval_ms: 500 }), runner: agentRunnerBundle(root) })),
  });
  return { d, m: feature!.manager };
}

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    const v = await fn();
    if (v !== undefined) return v;
  }
  throw new Error('timed out');
}

interface Run {
  /** start call → first Decide */
  total: number;
  /** start call → it returned (workspace, channel, sandbox running) */
  start: number;
  /** start call → the sandbox was claimed or created (the `running` transition) minus the workspace phase */
  workspace: number;
  sandbox: string;
  /** Each event type's first time (ms from the start call): the daemon's own clock, in order. */
  timeline: Map<string, number>;
}

/** Start → first Decide (ms, from the daemon's event clock), then waits for the session to end. */
async function once(side: Side, project: string): Promise<Run> {
  const t0 = Date.now();
  const s = await side.m.start(ADMIN, { prd: '', prompt: 'b6w', provider: 'script', plan: '- run: "true"\n', profile: '', autonomy: 'perpetual', project: '', projectPath: project, model: '', baseUrl: '', maxIterations: 5, network: false });
  const t1 = Date.now();
  const ac = new AbortController();
  let first = 0;
  let ws = 0;
  const timeline = new Map<string, number>();
  for await (const e of side.m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: true }, ac.signal)) {
    const name = e.type === 'state' ? `state ${String(e.data.to ?? e.data.state ?? '')}` : e.type;
    if (!timeline.has(name)) timeline.set(name, e.timeMs - t0);
    if (e.type === 'workspace') ws = e.timeMs - t0;
    if (e.type === 'decision') {
      first = e.timeMs;
      break;
    }
    if (['completed', 'failed', 'stopped'].includes((await side.m.get(ADMIN, s.id)).state)) break;
  }
  ac.abort();
  if (!first) throw new Error(`session ${s.id} ended without a decision: ${(await side.m.get(ADMIN, s.id)).reason}`);
  await until(async () => (['completed', 'failed', 'stopped'].includes((await side.m.get(ADMIN, s.id)).state) ? true : undefined), 60_000);
  // The daemons share this process's event loop and the host: the next start (the other side's)
  // is measured only once this session's container has exited and its daemon's handling of that
  // exit has had a moment, so neither side's measurement carries the other's teardown.
  const id = (await side.m.get(ADMIN, s.id)).sandboxId;
  if (id) await until(() => (execFileSync('docker', ['ps', '-q', '--filter', `label=loki.sandbox=${id}`], { encoding: 'utf8' }).trim() ? undefined : true), 30_000);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  return { total: first - t0, start: t1 - t0, workspace: ws, sandbox: s.sandboxId, timeline };
}

/**
 * The workspace phase split into its steps, run here by hand the way lokid does them
 * (workspaces.ts createWorkspace, then workspace-volume.ts mount at the default 10 GiB):
 * the clone and its git set-up, `mkfs.ext4 -d`, the loop mount. Medians (ms).
 */
function workspaceSplit(project: string, runs: number): Record<string, number> {
  const steps: Record<string, number[]> = { 'git clone + checkout -b + config': [], 'mkfs.ext4 -d (10 GiB sparse image)': [], 'mount -o loop': [] };
  const time = (name: string, fn: () => void) => {
    const t = performance.now();
    fn();
    steps[name]!.push(performance.now() - t);
  };
  for (let i = 0; i < runs; i++) {
    const base = mkdtempSync('/tmp/b6w-ws-');
    const dest = join(base, 'ws');
    const image = join(base, 'ws.img');
    const git = (...a: string[]) => execFileSync('git', a, { cwd: dest, stdio: 'ignore' });
    try {
      time('git clone + checkout -b + config', () => {
        execFileSync('git', ['clone', '--quiet', '--no-local', '--no-hardlinks', '--no-checkout', '--single-branch', '--no-tags', '--branch', 'main', '--', project, dest], { stdio: 'ignore' });
        git('checkout', '--quiet', '-b', `loki/session-b6w-${i}`, 'HEAD');
        git('remote', 'remove', 'origin');
        git('config', 'user.name', 'Loki Agent');
        git('config', 'user.email', 'agent@loki.invalid');
      });
      time('mkfs.ext4 -d (10 GiB sparse image)', () => {
        execFileSync('truncate', ['-s', String(10 * 1024 ** 3), image]);
        execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', '-d', dest, image], { stdio: 'ignore' });
      });
      mkdirSync(join(base, 'mnt'));
      time('mount -o loop', () => execFileSync('mount', ['-o', 'loop,nosuid,nodev', image, join(base, 'mnt')]));
      execFileSync('umount', [join(base, 'mnt')]);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  }
  return Object.fromEntries(Object.entries(steps).map(([k, xs]) => [k, pct(xs, 50)]));
}

const UNITS: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, kB: 1e3, MB: 1e6, GB: 1e9 };

/** The sandbox ids of this daemon's pool slots, from Docker's labels. */
function poolIds(home: string): string[] {
  const out = execFileSync('docker', ['ps', '--filter', `label=loki.owner=${POOL_OWNER}`, '--format', '{{.Label "loki.sandbox"}} {{.Label "loki.workspace"}}'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(` ${home}/`)).map((l) => l.split(' ')[0]!);
}

/** Memory of each ready slot of this daemon: `docker stats` (cgroup usage without page cache, v1 or v2). */
function slotMemory(home: string): number[] {
  const ids = execFileSync('docker', ['ps', '-q', '--filter', `label=loki.owner=${POOL_OWNER}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const out: number[] = [];
  for (const id of ids) {
    const ws = execFileSync('docker', ['inspect', '-f', '{{index .Config.Labels "loki.workspace"}}', id], { encoding: 'utf8' }).trim();
    if (!ws.startsWith(`${home}/`)) continue;
    const usage = execFileSync('docker', ['stats', '--no-stream', '--format', '{{.MemUsage}}', id], { encoding: 'utf8' }).split('/')[0]!.trim();
    const m = /^([\d.]+)\s*([A-Za-z]+)$/.exec(usage);
    if (m && UNITS[m[2]!]) out.push(Number(m[1]) * UNITS[m[2]!]!);
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, pool: { type: 'string', default: '2' }, 'ab-audit-delay-ms': { type: 'string' } } });
  const abDelay = values['ab-audit-delay-ms'] === undefined ? undefined : Number(values['ab-audit-delay-ms']);
  const runs = Math.max(3, Number(values.runs));
  const root = installRoot();
  // One project per daemon: the session branch is `loki/session-<unix seconds>-<pid>` (one process
  // here), so a warm start right after a cold one on a shared project would wait for the next second.
  const projects: Record<string, string> = { cold: repo(), warm: repo(), ...(abDelay !== undefined ? { ab: repo() } : {}) };
  const cold = await daemon(0, root);
  const warm = await daemon(Number(values.pool), root);
  const ab = abDelay !== undefined ? await daemon(Number(values.pool), root, abDelay) : undefined;
  const size = Number(values.pool);
  const load0 = loadavg();
  try {
    const pools = ab ? [{ side: warm, project: projects.warm! }, { side: ab, project: projects.ab! }] : [{ side: warm, project: projects.warm! }];
    const full = (side: Side) => until(() => (side.d.pool!.status().ready === size ? true : undefined), 120_000);
    for (const p of pools) await full(p.side);
    // One unmeasured run each: page cache, image layers, first git clone.
    await once(cold, projects.cold!);
    for (const p of pools) {
      await once(p.side, p.project);
      // That warm start missed the project's seed (it cloned); the seed is made in the background a
      // moment later. Measured warm starts are repeated starts of a project: wait until it is there.
      const seeds = join(p.side.d.config.home, 'pool', 'seeds');
      await until(() => (readdirSync(seeds).some((d) => readdirSync(join(seeds, d)).some((c) => !c.startsWith('.'))) ? true : undefined), 60_000);
    }
    const c: Run[] = [];
    const w: Run[] = [];
    const wb: Run[] = [];
    let coldPaths = 0;
    for (let i = 0; i < runs; i++) {
      c.push(await once(cold, projects.cold!));
      // With a third daemon the two warm ones swap places each round: the one right after the cold
      // start shares the host with its teardown, which is not what either measures.
      for (const [k, p] of (i % 2 ? [...pools.entries()].reverse() : [...pools.entries()])) {
        // Measure the warm path with a ready slot (a claimed slot is replaced in the background).
        await full(p.side);
        const slots = poolIds(p.side.d.config.home);
        const r = await once(p.side, p.project);
        if (!slots.includes(r.sandbox)) coldPaths++;
        (k === 0 ? w : wb).push(r);
      }
    }
    for (const p of pools) await full(p.side);
    await new Promise((r) => setTimeout(r, 2000));
    const mem = slotMemory(warm.d.config.home);
    const line = (name: string, xs: number[]) =>
      process.stdout.write(`${name.padEnd(26)} n=${String(xs.length).padStart(3)}  median ${pct(xs, 50).toFixed(0).padStart(6)} ms  p95 ${pct(xs, 95).toFixed(0).padStart(6)} ms  min ${Math.min(...xs).toFixed(0).padStart(6)} ms\n`);
    process.stdout.write(`B6-warm: session start → first agent action (first Decide), runtime ${cold.d.config.sandbox.runtime}, pool size ${size}, interleaved\n`);
    const tot = (xs: Run[]) => xs.map((x) => x.total);
    line('cold (no pool)', tot(c));
    line('warm (claimed slot)', tot(w));
    process.stdout.write(`  warm runs in order (ms): ${tot(w).map((x) => x.toFixed(0)).join(', ')}; cold: ${tot(c).map((x) => x.toFixed(0)).join(', ')}\n`);
    if (ab) {
      line(`warm, audit delay ${abDelay} ms`, tot(wb));
      process.stdout.write(`  audit delay ${abDelay} ms runs in order (ms): ${tot(wb).map((x) => x.toFixed(0)).join(', ')}; ratio to cold: median ${(pct(tot(wb), 50) / pct(tot(c), 50)).toFixed(2)}×\n`);
    }
    process.stdout.write(`ratio warm / cold: median ${(pct(tot(w), 50) / pct(tot(c), 50)).toFixed(2)}×  p95 ${(pct(tot(w), 95) / pct(tot(c), 95)).toFixed(2)}×  (goal ≤ 0.1×)${coldPaths ? `  [${coldPaths} warm runs found no slot]` : ''}\n`);
    process.stdout.write('where the time goes (medians, ms from the start call):\n');
    for (const [name, xs] of [['cold', c], ['warm', w], ...(ab ? [[`warm, audit delay ${abDelay} ms`, wb]] : [])] as [string, Run[]][]) {
      const ws = pct(xs.map((x) => x.workspace), 50);
      const st = pct(xs.map((x) => x.start), 50);
      const tt = pct(xs.map((x) => x.total), 50);
      const keys = [...new Set(xs.flatMap((x) => [...x.timeline.keys()]))];
      const marks = keys.map((k) => [k, pct(xs.flatMap((x) => (x.timeline.has(k) ? [x.timeline.get(k)!] : [])), 50)] as const).sort((a, b) => a[1] - b[1]);
      process.stdout.write(`  ${name} events (median ms from the start call): ${marks.map(([k, v]) => `${k} ${v.toFixed(0)}`).join(' · ')}\n`);
      process.stdout.write(`  ${name}: workspace ready ${ws.toFixed(0)}  · sandbox running (start returns) ${st.toFixed(0)}  · first Decide ${tt.toFixed(0)}  → runner start-up ≈ ${(tt - st).toFixed(0)}\n`);
    }
    const split = workspaceSplit(projects.cold!, runs);
    process.stdout.write(`  workspace steps by hand (medians, ms): ${Object.entries(split).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(' · ')}\n`);
    if (mem.length) {
      const avg = mem.reduce((a, b) => a + b, 0) / mem.length;
      process.stdout.write(`pool memory per ready slot (docker stats): ${(avg / 2 ** 20).toFixed(1)} MiB (slots: ${mem.map((b) => (b / 2 ** 20).toFixed(1)).join(', ')} MiB)\n`);
    } else {
      process.stdout.write('pool memory per ready slot: docker stats gave no figure\n');
    }
    process.stdout.write(`load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${(await import('node:os')).cpus().length} cores)\n`);
  } finally {
    for (const side of [cold, warm, ...(ab ? [ab] : [])]) {
      await side.d.close();
      removeHome(side.d.config.home);
    }
    for (const p of Object.values(projects)) rmSync(p, { recursive: true, force: true });
  }
}

await main();
