// Memory: idle RSS of `loki up` (the CLI parent + lokid + loki-gateway) and a
// soak at a fixed request rate with RSS reported every interval, so growth shows.
// The soak's load is wrk (its own process) holding a constant rate: a Lua script
// schedules the n-th request of each wrk thread at start + n × interval on the wall
// clock (so response time does not lower the rate, unlike a fixed pause), over
// enough connections that latency never limits it. The soak runs as one wrk per
// interval, so the rate reached is printed for every interval next to the RSS.
// `--compare DIST` measures the idle RSS of another build (e.g. the previous
// commit's dist/) too, interleaved with this one, so before/after share one run.
// Goal: idle total ≤ 200 MB; no growth over 10 min at 500 req/s.
// Run: npm run build && node dist/bench/memory.js [--soak-minutes 10 (0 = idle only)] [--interval-s 60]
//        [--rate 500] [--connections 50] [--idle-s 10] [--rounds 1] [--compare OTHER/dist] [--path /api/sessions]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DIST, freePort, generateToken, requireWrk, wrk } from './lib/stack.js';

const { values } = parseArgs({
  options: {
    'soak-minutes': { type: 'string', default: '10' },
    'interval-s': { type: 'string', default: '60' },
    rate: { type: 'string', default: '500' },
    connections: { type: 'string', default: '50' },
    path: { type: 'string', default: '/api/sessions' },
    'idle-s': { type: 'string', default: '10' },
    rounds: { type: 'string', default: '1' },
    compare: { type: 'string' },
  },
});

/** Direct children of a process (from /proc; Linux only). */
function children(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // task gone
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** RSS and its anonymous part (heap, stacks: what the process itself allocated; the rest is mapped files, mostly the node binary) in MB. */
function mem(pid: number | undefined): { rss: number; anon: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN) / 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon') };
  } catch {
    return { rss: NaN, anon: NaN };
  }
}

type Proc = 'parent' | 'daemon' | 'gateway';
type Sample = Record<Proc, { rss: number; anon: number }> & { total: number };

function sample(up: ChildProcess): Sample {
  const kids = children(up.pid!);
  const daemon = kids.find((p) => cmdline(p).includes('daemon/src/main.js'));
  const gateway = kids.find((p) => cmdline(p).includes('gateway/src/main.js'));
  const r = { parent: mem(up.pid), daemon: mem(daemon), gateway: mem(gateway) };
  return { ...r, total: r.parent.rss + r.daemon.rss + r.gateway.rss };
}

const show = (r: Sample, anon = false) => {
  const one = (name: string, m: { rss: number; anon: number }) => `${name} ${m.rss.toFixed(1)} MB${anon ? ` (anon ${m.anon.toFixed(1)})` : ''}`;
  return `${one('parent', r.parent)} + ${one('lokid', r.daemon)} + ${one('gateway', r.gateway)} = ${r.total.toFixed(1)} MB`;
};

interface Up {
  proc: ChildProcess;
  url: string;
  home: string;
  stop(): Promise<void>;
}

/** `loki up` from a dist/ tree, with the environment the benches use; resolves once the gateway answers. */
async function startUp(dist: string): Promise<Up> {
  const home = mkdtempSync(join(tmpdir(), 'lkm-'));
  const port = await freePort();
  const proc = spawn(process.execPath, [join(dist, 'cli/src/main.js'), 'up', '--port', String(port)], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOKI_HOME: home,
      LOKI_LOG_FORMAT: 'json',
      // The soak measures memory under sustained load, not the rate limiter's refusals.
      LOKI_RATE_LIMIT_PER_MINUTE: '1000000000',
      LOKI_RATE_LIMIT_BURST: '1000000000',
      // 50 paced connections of one token: a latency spike must not turn into 503s from the per-token concurrency cap (default 8).
      LOKI_RATE_LIMIT_CONCURRENCY: '10000',
      // To compare V8 settings (e.g. --max-semi-space-size=2); inherited by lokid and the gateway.
      ...(process.env.NODE_OPTIONS ? { NODE_OPTIONS: process.env.NODE_OPTIONS } : {}),
    },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
    rmSync(home, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`loki up exited with ${proc.exitCode}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('loki up did not become ready');
    }
    if (await fetch(`${url}/healthz/live`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { proc, url, home, stop };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Idle RSS of each build, rounds interleaved; returns this build's last `loki up`, still running, for the soak. */
async function idle(builds: { name: string; dist: string }[], rounds: number, idleS: number): Promise<Up> {
  const got = new Map<string, Sample[]>(builds.map((b) => [b.name, []]));
  let keep: Up | undefined;
  for (let r = 0; r < rounds; r++) {
    for (const b of builds) {
      const up = await startUp(b.dist);
      await sleep(idleS * 1000);
      const s = sample(up.proc);
      got.get(b.name)!.push(s);
      process.stdout.write(`idle RSS of loki up (${b.name}) after ${idleS}s: ${show(s, true)}\n`);
      if (b.dist === DIST && r === rounds - 1) keep = up;
      else await up.stop();
    }
  }
  if (rounds > 1 || builds.length > 1) {
    const meds: Record<string, number> = {};
    for (const [name, ss] of got) {
      const m = (f: (s: Sample) => number) => median(ss.map(f)).toFixed(1);
      meds[name] = Number(m((s) => s.total));
      process.stdout.write(`median of ${ss.length} (${name}): parent ${m((s) => s.parent.rss)} + lokid ${m((s) => s.daemon.rss)} + gateway ${m((s) => s.gateway.rss)} = ${m((s) => s.total)} MB\n`);
    }
    if (builds.length > 1) process.stdout.write(`this/${builds[1]!.name}: ${(meds.this! / meds[builds[1]!.name]!).toFixed(3)}× (${(meds.this! - meds[builds[1]!.name]!).toFixed(1)} MB)\n`);
  }
  process.stdout.write('(goal: total <= 200 MB)\n');
  return keep!;
}

/** wrk Lua: each thread sends its n-th request at start + n × interval (wall clock), never earlier. */
function paceScript(file: string, threads: number, rate: number): void {
  writeFileSync(
    file,
    `local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } loki_timeval;
int gettimeofday(loki_timeval *tv, void *tz);
]]
local tv = ffi.new("loki_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end
local interval = ${(threads * 1000) / rate}
local start, n
function delay()
  local t = now_ms()
  if not start then start = t; n = 0 end
  n = n + 1
  local d = start + n * interval - t
  if d <= 0 then return 0 end
  return math.floor(d)
end
`,
  );
}

async function soak(up: Up, idleSample: Sample): Promise<void> {
  const token = await generateToken(join(up.home, 'run', 'admin.sock'), 'soak', 'viewer');
  const conns = Number(values.connections);
  const rate = Number(values.rate);
  const minutes = Number(values['soak-minutes']);
  const interval = Number(values['interval-s']);
  const script = join(up.home, 'pace.lua');
  paceScript(script, 1, rate);
  process.stdout.write(`soak: GET ${values.path} at ${rate} req/s (wrk -t1 -c${conns}, paced on the wall clock) for ${minutes} min, RSS every ${interval}s\n`);
  const start = sample(up.proc);
  process.stdout.write(`t=0s ${show(start)}\n`);
  const samples: Sample[] = [];
  let requests = 0;
  let bad = 0;
  let worstP99 = 0;
  const segments = Math.max(1, Math.round((minutes * 60) / interval));
  for (let i = 1; i <= segments; i++) {
    // Sample near the end of each interval, while the load still runs.
    const probe = sleep(Math.max(0, interval - 1) * 1000).then(() => sample(up.proc));
    const res = await wrk(`${up.url}${values.path}`, { connections: conns, seconds: interval, headers: { authorization: `Bearer ${token}` }, script });
    const s = await probe;
    samples.push(s);
    requests += res.requests;
    bad += res.non2xx + res.errors;
    worstP99 = Math.max(worstP99, res.p99ms);
    const oops = [res.non2xx ? `${res.non2xx} non-2xx` : '', res.errors ? `${res.errors} socket errors` : ''].filter(Boolean).join(', ');
    process.stdout.write(`t=${i * interval}s ${(res.requests / interval).toFixed(0)} req/s, p99 ${res.p99ms.toFixed(1)} ms${oops ? `, ${oops}` : ''} | ${show(s)}\n`);
  }
  const last = samples.at(-1)!;
  const first = samples[0]!;
  process.stdout.write(`soak: ${requests} requests, ${(requests / (segments * interval)).toFixed(1)} req/s reached (target ${rate}), ${bad} non-2xx/errors, worst interval p99 ${worstP99.toFixed(1)} ms\n`);
  process.stdout.write(`RSS growth from the first to the last sample: ${(last.total - first.total).toFixed(1)} MB (${(((last.total - first.total) / first.total) * 100).toFixed(1)}%); from idle: ${(last.total - idleSample.total).toFixed(1)} MB\n`);
  for (const p of ['parent', 'daemon', 'gateway'] as const) {
    const xs = samples.map((s) => s[p].rss);
    process.stdout.write(`  ${p === 'daemon' ? 'lokid' : p}: first ${first[p].rss.toFixed(1)}, last ${last[p].rss.toFixed(1)}, min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)} MB\n`);
  }
}

async function main(): Promise<void> {
  requireWrk();
  const builds = [{ name: 'this', dist: DIST }];
  if (values.compare) {
    builds.push({ name: 'other', dist: resolve(values.compare) });
    process.stdout.write(`other = ${resolve(values.compare)}\n`);
  }
  const up = await idle(builds, Number(values.rounds), Number(values['idle-s']));
  try {
    if (Number(values['soak-minutes']) > 0) await soak(up, sample(up.proc));
  } finally {
    await up.stop();
  }
}

void main();
