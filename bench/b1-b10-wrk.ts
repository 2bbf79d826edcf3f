// B1 and B10 with an external load generator (wrk, its own process), so the
// client no longer shares the server's event loop as in b1-gateway.ts and
// b10-observability.ts (kept). Everything served runs in one server process
// that wrk loads one target at a time, in interleaved rounds:
//   B1:  the full gateway (auth + authz + rate limit + metrics + request log) on
//        GET /ping (no daemon call; the token is cached) vs bare Fastify GET /ping.
//   B10: the same gateway with observability ON vs OFF (no metrics, no request log).
// lokid runs as its own process, as in production: in this process its
// AsyncLocalStorage (the caller context) would switch on promise hooks for every
// promise of the gateways under test, a cost a real gateway never pays.
// Goals: B1 ≥ 0.75×, B10 ≥ 0.85×. Prints ratios; no assertions.
// Each run also reports this process's CPU per request (only one target is loaded at a
// time): on a shared machine it moves far less than req/s does.
// --profile N: afterwards, N seconds of wrk on the gateway (ON) and on bare Fastify under
// the V8 sampling profiler (this process), printing self time per request by function.
// --heap N: the same under V8's sampling heap profiler, printing bytes allocated per request by function.
// Run: npm run build && node dist/bench/b1-b10-wrk.js [--seconds 10] [--rounds 3] [--profile 10]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { createLogger, logDestination } from '../common/src/index.js';
import { buildApp } from '../gateway/src/app.js';
import { loadGatewayConfig } from '../gateway/src/config.js';
import { createDaemonClient } from '../client/src/grpc/index.js';
import { GatewayMetrics } from '../gateway/src/metrics.js';
import { CHILD_NODE_FLAGS } from '../cli/src/up/supervisor.js';
import { DIST, fmt, generateToken, requireWrk, wrk, type WrkResult } from './lib/stack.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '50' }, profile: { type: 'string', default: '0' }, heap: { type: 'string', default: '0' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const profileSeconds = Number(values.profile);
const heapSeconds = Number(values.heap);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function gateway(socket: string, observability: boolean): Promise<FastifyInstance> {
  const config = loadGatewayConfig({ raw: { daemon: { socket }, rate_limit: { per_minute: 1_000_000_000, burst: 1_000_000_000, concurrency: 10_000, max_in_flight: 100_000 } } });
  // Logged for real (one JSON line per request, redaction on) to /dev/null through the gateway's own destination, as in production.
  const logger = createLogger({ name: 'b1', level: observability ? 'info' : 'silent', destination: logDestination({ dest: '/dev/null' }) });
  const metrics = new GatewayMetrics({ processMetrics: false });
  const app = await buildApp({
    config,
    daemon: createDaemonClient({ socketPath: socket, timeoutMs: 5000, observe: metrics.observeGrpc }),
    logger,
    metrics,
    observability,
    routes: [{ plugin: async (a) => void a.get('/ping', { schema: {}, config: { access: { scope: 'read' } } }, async () => ({ ok: true })) }],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return app;
}

/** CPU ticks (user + system) of this process's threads: the main thread, the others by name (/proc/self/task/N/stat). */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const close = stat.lastIndexOf(')');
    // The main thread by itself; the others by name (on Node 20 libuv's pool and V8's
    // helpers are all called "node"), names that differ only by a number summed.
    const name = tid === String(process.pid) ? 'main' : `${stat.slice(stat.indexOf('(') + 1, close).replace(/[0-9]+$/, '').trim()} (other)`;
    const f = stat.slice(close + 2).split(' ');
    out.set(name, (out.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
  }
  return out;
}

/** One wrk run, with this process's CPU time per completed request (µs), in all and by thread name. */
async function measure(url: string, headers: Record<string, string>, secs: number): Promise<WrkResult & { cpuUs: number; threads: Map<string, number> }> {
  const before = process.cpuUsage();
  const ticksBefore = threadTicks();
  const r = await wrk(url, { seconds: secs, connections, headers });
  const used = process.cpuUsage(before);
  const n = Math.max(1, r.requests);
  const tick = 1e6 / 100; // USER_HZ is 100 on Linux
  const threads = new Map<string, number>();
  for (const [name, t] of threadTicks()) threads.set(name, ((t - (ticksBefore.get(name) ?? 0)) * tick) / n);
  threads.set('system', used.system / n);
  return { ...r, cpuUs: (used.user + used.system) / n, threads };
}

const threadLine = (m: Map<string, number>) =>
  [...m].filter(([, us]) => us >= 0.05).sort((a, b) => b[1] - a[1]).map(([name, us]) => `${name} ${us.toFixed(1)}`).join(', ');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; scriptId: string };
  children?: number[];
}

/** wrk on one target under the V8 sampling profiler; prints self time per request by function. */
async function profile(name: string, url: string, headers: Record<string, string>): Promise<Map<string, number>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const r = await wrk(url, { seconds: profileSeconds, connections, headers });
  const { profile: p } = (await session.post('Profiler.stop')) as unknown as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
  session.disconnect();
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busy = 0;
  p.samples.forEach((id, i) => {
    const node = byId.get(id);
    const f = node?.callFrame;
    const us = p.timeDeltas[i + 1] ?? 0;
    if (!f || f.functionName === '(idle)') return;
    busy += us;
    const where = f.url.replace(/^.*node_modules\//, '~/').replace(/^file:\/\/.*\/dist\//, '');
    // A frame with no name and no script (V8's own code: a builtin, a RegExp) is named after its caller.
    const up = !f.functionName && !f.url ? parent.get(node.id)?.callFrame : undefined;
    const caller = up ? ` < ${up.functionName || '(anonymous)'} ${up.url.replace(/^.*node_modules\//, '~/').replace(/^file:\/\/.*\/dist\//, '')}:${up.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}${where ? `:${f.lineNumber + 1}` : ''}${caller}`;
    self.set(key, (self.get(key) ?? 0) + us);
    // Inclusive time of the gateway's and Fastify's own functions (each counted once per sample).
    const seen = new Set<string>();
    for (let n: ProfileNode | undefined = node; n; n = parent.get(n.id)) {
      const c = n.callFrame;
      if (!/gateway\/src\/|fastify\/lib\//.test(c.url)) continue;
      const k = `${c.functionName || '(anonymous)'} ${c.url.replace(/^.*node_modules\//, '~/').replace(/^file:\/\/.*\/dist\//, '')}:${c.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  });
  const per = (us: number) => (us / Math.max(1, r.requests)).toFixed(2).padStart(6);
  process.stdout.write(`\n== profile: ${name}, ${r.requests} requests, ${r.rps.toFixed(0)} req/s (profiler on); busy ${per(busy)} µs/request; self time per request:\n`);
  for (const [k, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    process.stdout.write(`${per(us)} µs  ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${k}\n`);
  }
  process.stdout.write(`-- inclusive time per request (the gateway's and Fastify's functions):\n`);
  for (const [k, us] of [...total.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) process.stdout.write(`${per(us)} µs  ${k}\n`);
  return new Map([...self].map(([k, us]) => [k, us / Math.max(1, r.requests)]));
}

/** Self time per request the gateway spends beyond bare Fastify, function by function (both profiled with the profiler's own overhead). */
function profileDiff(gw: Map<string, number>, bare: Map<string, number>): void {
  const diff = [...new Set([...gw.keys(), ...bare.keys()])].map((k) => [k, (gw.get(k) ?? 0) - (bare.get(k) ?? 0)] as const).filter(([k]) => !k.startsWith('writev '));
  const sum = diff.reduce((n, [, d]) => n + d, 0);
  process.stdout.write(`\n== gateway minus bare Fastify, self time per request (writev left out): ${sum.toFixed(2)} µs in all; largest:\n`);
  for (const [k, d] of diff.sort((a, b) => b[1] - a[1]).slice(0, 30)) process.stdout.write(`${d.toFixed(2).padStart(6)} µs  ${k}\n`);
}

async function main(): Promise<void> {
  requireWrk();
  const dir = mkdtempSync(join(tmpdir(), 'lkb1-'));
  const adminSocket = join(dir, 'run', 'admin.sock');
  const gatewaySocket = join(dir, 'run', 'gateway.sock');
  const daemon = spawn(process.execPath, [...CHILD_NODE_FLAGS.daemon, join(DIST, 'daemon/src/main.js')], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOKI_HOME: dir, LOKI_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (const deadline = Date.now() + 30_000; !(existsSync(adminSocket) && existsSync(gatewaySocket)); ) {
    if (daemon.exitCode !== null || Date.now() > deadline) throw new Error('lokid did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const apps: FastifyInstance[] = [];
  try {
    const auth = { authorization: `Bearer ${await generateToken(adminSocket, 'b1', 'viewer')}` };
    const bare = Fastify();
    bare.get('/ping', async () => ({ ok: true }));
    await bare.listen({ host: '127.0.0.1', port: 0 });
    const on = await gateway(gatewaySocket, true);
    const off = await gateway(gatewaySocket, false);
    apps.push(bare, on, off);
    const url = (a: FastifyInstance) => `http://127.0.0.1:${(a.server.address() as AddressInfo).port}/ping`;
    const targets = [
      { name: 'bare Fastify', url: url(bare), headers: {}, res: [] as Awaited<ReturnType<typeof measure>>[] },
      { name: 'gateway, observability ON', url: url(on), headers: auth, res: [] as Awaited<ReturnType<typeof measure>>[] },
      { name: 'gateway, observability OFF', url: url(off), headers: auth, res: [] as Awaited<ReturnType<typeof measure>>[] },
    ];
    // A whole uncounted round first: the first round used to run cold (JIT, caches, the
    // kernel's socket buffers) and read several percent low on whichever target went first.
    for (const t of targets) {
      const w = await measure(t.url, t.headers, seconds);
      process.stdout.write(`warm-up ${t.name.padEnd(27)} ${fmt(w)}  cpu ${w.cpuUs.toFixed(1).padStart(5)} µs/req (not counted)\n`);
    }
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) {
        t.res.push(await measure(t.url, t.headers, seconds));
        process.stdout.write(`round ${r + 1} ${t.name.padEnd(27)} ${fmt(t.res[r]!)}  cpu ${t.res[r]!.cpuUs.toFixed(1).padStart(5)} µs/req (${threadLine(t.res[r]!.threads)})\n`);
      }
    }
    if (rounds > 0) summary(targets);
    if (profileSeconds > 0) {
      const gw = await profile(targets[1]!.name, targets[1]!.url, auth);
      profileDiff(gw, await profile(targets[0]!.name, targets[0]!.url, {}));
    }
    if (heapSeconds > 0) {
      await heapProfile(targets[1]!.name, targets[1]!.url, auth);
      await heapProfile(targets[0]!.name, targets[0]!.url, {});
    }
  } finally {
    for (const a of apps) await a.close().catch(() => {});
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  id: number;
  children: HeapNode[];
}

/** wrk on one target under V8's sampling heap profiler (objects a scavenge frees included); prints bytes allocated per request by function. */
async function heapProfile(name: string, url: string, headers: Record<string, string>): Promise<void> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as object);
  const r = await wrk(url, { seconds: heapSeconds, connections, headers });
  const { profile: p } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: HeapNode } };
  session.disconnect();
  const self = new Map<string, number>();
  let total = 0;
  const walk = (n: HeapNode, caller: string) => {
    const f = n.callFrame;
    const where = f.url.replace(/^.*node_modules\//, '~/').replace(/^file:\/\/.*\/dist\//, '').replace(/^node:/, '');
    const here = `${f.functionName || '(anonymous)'} ${where}${where ? `:${f.lineNumber + 1}` : ''}`;
    const key = f.url ? here : `${here} < ${caller}`;
    if (n.selfSize) {
      total += n.selfSize;
      self.set(key, (self.get(key) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, f.url ? here : caller);
  };
  walk(p.head, '');
  const per = (b: number) => (b / Math.max(1, r.requests)).toFixed(0).padStart(6);
  process.stdout.write(`\n== heap: ${name}, ${r.requests} requests; ${per(total)} bytes allocated per request; by function:\n`);
  for (const [k, b] of [...self.entries()].sort((a, b2) => b2[1] - a[1]).slice(0, 30)) process.stdout.write(`${per(b)} B  ${k}\n`);
}

function summary(targets: { name: string; res: (WrkResult & { cpuUs: number })[] }[]): void {
  const rps = (i: number) => median(targets[i]!.res.map((x) => x.rps));
  const cpu = (i: number) => median(targets[i]!.res.map((x) => x.cpuUs));
  process.stdout.write(`\nwrk -t1 -c${connections} -d${seconds}s, ${rounds} interleaved rounds (medians)\n`);
  for (let i = 0; i < targets.length; i++) process.stdout.write(`${targets[i]!.name.padEnd(27)} ${rps(i).toFixed(0).padStart(7)} req/s  ${cpu(i).toFixed(1).padStart(6)} µs CPU/req\n`);
  process.stdout.write(`B1  gateway (ON) / bare Fastify: ${(rps(1) / rps(0)).toFixed(2)}x (goal >= 0.75); by CPU per request ${(cpu(0) / cpu(1)).toFixed(2)}x\n`);
  process.stdout.write(`B10 observability ON / OFF:      ${(rps(1) / rps(2)).toFixed(2)}x (goal >= 0.85); by CPU per request ${(cpu(2) / cpu(1)).toFixed(2)}x\n`);
}

void main();
