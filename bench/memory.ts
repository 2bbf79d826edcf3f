// Memory: idle RSS of `loki up` (the CLI parent + lokid + loki-gateway) and a
// soak at a fixed request rate with RSS reported every interval, so growth shows.
// The soak's load is wrk (its own process) pacing each connection with a Lua
// delay: connections × 1000 / delay_ms ≈ the target rate (the rate reached is printed).
// Goal: idle total ≤ 200 MB; no growth over 10 min at 500 req/s.
// Run: npm run build && node dist/bench/memory.js [--soak-minutes 10 (0 = idle only)] [--interval-s 60] [--rate 500] [--path /api/sessions]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DIST, freePort, generateToken, requireWrk, rssMb, wrk } from './lib/stack.js';

const { values } = parseArgs({
  options: {
    'soak-minutes': { type: 'string', default: '10' },
    'interval-s': { type: 'string', default: '60' },
    rate: { type: 'string', default: '500' },
    connections: { type: 'string', default: '10' },
    path: { type: 'string', default: '/api/sessions' },
    'idle-s': { type: 'string', default: '10' },
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

interface Rss {
  parent: number;
  daemon: number;
  gateway: number;
  total: number;
}

function sample(up: ChildProcess): Rss {
  const kids = children(up.pid!);
  const daemon = kids.find((p) => cmdline(p).includes('daemon/src/main.js'));
  const gateway = kids.find((p) => cmdline(p).includes('gateway/src/main.js'));
  const r = { parent: rssMb(up.pid), daemon: rssMb(daemon), gateway: rssMb(gateway) };
  return { ...r, total: r.parent + r.daemon + r.gateway };
}

const show = (r: Rss) => `parent ${r.parent.toFixed(1)} MB + lokid ${r.daemon.toFixed(1)} MB + gateway ${r.gateway.toFixed(1)} MB = ${r.total.toFixed(1)} MB`;

async function main(): Promise<void> {
  requireWrk();
  const home = mkdtempSync(join(tmpdir(), 'lkm-'));
  const port = await freePort();
  const up = spawn(process.execPath, [join(DIST, 'cli/src/main.js'), 'up', '--port', String(port)], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOKI_HOME: home,
      LOKI_LOG_FORMAT: 'json',
      // The soak measures memory under sustained load, not the rate limiter's refusals.
      LOKI_RATE_LIMIT_PER_MINUTE: '1000000000',
      LOKI_RATE_LIMIT_BURST: '1000000000',
      // To compare V8 settings (e.g. --max-semi-space-size=2); inherited by lokid and the gateway.
      ...(process.env.NODE_OPTIONS ? { NODE_OPTIONS: process.env.NODE_OPTIONS } : {}),
    },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (up.exitCode !== null) throw new Error(`loki up exited with ${up.exitCode}`);
      if (Date.now() > deadline) throw new Error('loki up did not become ready');
      if (await fetch(`${url}/healthz/live`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, Number(values['idle-s']) * 1000));
    const idle = sample(up);
    process.stdout.write(`idle RSS of loki up after ${values['idle-s']}s: ${show(idle)} (goal total <= 200 MB)\n`);

    if (Number(values['soak-minutes']) <= 0) return;
    const token = await generateToken(join(home, 'run', 'admin.sock'), 'soak', 'viewer');
    const conns = Number(values.connections);
    const delayMs = Math.max(1, Math.round((conns * 1000) / Number(values.rate)));
    const script = join(home, 'pace.lua');
    writeFileSync(script, `function delay() return ${delayMs} end\n`);
    const minutes = Number(values['soak-minutes']);
    const interval = Number(values['interval-s']);
    process.stdout.write(`soak: GET ${values.path} at ~${values.rate} req/s (${conns} connections, ${delayMs} ms pause each) for ${minutes} min, RSS every ${interval}s\n`);
    const start = sample(up);
    process.stdout.write(`t=0s ${show(start)}\n`);
    const samples: Rss[] = [];
    let done = false;
    const load = wrk(`${url}${values.path}`, { connections: conns, seconds: minutes * 60, headers: { authorization: `Bearer ${token}` }, script }).finally(() => (done = true));
    for (let t = interval; t <= minutes * 60 && !done; t += interval) {
      await new Promise((r) => setTimeout(r, interval * 1000));
      const s = sample(up);
      samples.push(s);
      process.stdout.write(`t=${t}s ${show(s)}\n`);
    }
    const res = await load;
    const last = samples.at(-1) ?? start;
    const first = samples[0] ?? start;
    process.stdout.write(`soak: ${res.requests} requests, ${(res.requests / (minutes * 60)).toFixed(0)} req/s reached, ${res.non2xx + res.errors} non-2xx/errors, p99 ${res.p99ms.toFixed(1)} ms\n`);
    process.stdout.write(`RSS growth from the first to the last sample: ${(last.total - first.total).toFixed(1)} MB (${(((last.total - first.total) / first.total) * 100).toFixed(1)}%); from idle: ${(last.total - idle.total).toFixed(1)} MB\n`);
  } finally {
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
    rmSync(home, { recursive: true, force: true });
  }
}

void main();
