// P1: authenticated GET /api/sessions (viewer token, empty store) through
// loki-gateway + lokid, both as separate processes the way `loki up` runs them,
// against the architecture's ceiling measured in the same run: a bare Fastify
// route making one bare grpc-js unary call over a unix socket to a bare grpc-js
// server. Also a bare Fastify hello-world. wrk is the load generator (its own
// process); rounds are interleaved so drift on a shared machine hits all sides.
// Also prints CPU per 1,000 requests for the gateway and the daemon. With
// --options, the ceiling runs once more with Loki's grpc-js options (its channel's
// and its server's), so what the options alone change can be read apart from the
// rest; off by default, because a fourth side leaves Loki's stack idle longer
// between its rounds than the figures before it were measured with.
// Goal: Loki/ceiling ≥ 0.8×. Prints ratios; no assertions.
// Run: npm run build && node dist/bench/p1-api.js [--seconds 10] [--rounds 3] [--connections 50] [--options]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { channelFor } from '../client/src/grpc/index.js';
import { GRPC_SERVER_OPTIONS } from '../daemon/src/grpc/listeners.js';
import { startCeiling } from './lib/ceiling.js';
import { cpuMs, fmt, requireWrk, startStack, wrk, type WrkResult } from './lib/stack.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '50' }, options: { type: 'boolean', default: false } },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  requireWrk();
  const dir = mkdtempSync(join(tmpdir(), 'lkp1-'));
  const stack = await startStack();
  const ceiling = await startCeiling(dir);
  const optsDir = mkdtempSync(join(tmpdir(), 'lkp1o-'));
  const withOpts = values.options ? await startCeiling(optsDir, {}, { server: GRPC_SERVER_OPTIONS, channel: channelFor({ socketPath: `${optsDir}/ceiling.sock` }).options }) : undefined;
  try {
    const auth = { authorization: `Bearer ${await stack.token('p1')}` };
    const loki = `${stack.url}/api/sessions`;
    const load = (url: string, headers: Record<string, string> = {}, s = seconds) => wrk(url, { seconds: s, connections, headers });
    // Warm-up: JIT, token cache, connection pools.
    await load(loki, auth, 2);
    await load(ceiling.grpcUrl, {}, 2);
    if (withOpts) await load(withOpts.grpcUrl, {}, 2);
    await load(ceiling.helloUrl, {}, 2);
    const res: Record<'loki' | 'ceiling' | 'opts' | 'hello', WrkResult[]> = { loki: [], ceiling: [], opts: [], hello: [] };
    const cpu = { gateway: [] as number[], daemon: [] as number[], front: [] as number[], server: [] as number[], optsFront: [] as number[], optsServer: [] as number[] };
    /** One wrk run on `side`, and the CPU ms per 1,000 requests of the two processes serving it (front, back). */
    const run = async (side: 'loki' | 'ceiling' | 'opts', url: string, headers: Record<string, string>, pids: [number, number], front: number[], back: number[]) => {
      const [f0, b0] = [cpuMs(pids[0]), cpuMs(pids[1])];
      const w = await load(url, headers);
      res[side].push(w);
      front.push(((cpuMs(pids[0]) - f0) / w.requests) * 1000);
      back.push(((cpuMs(pids[1]) - b0) / w.requests) * 1000);
      return w;
    };
    const [serverPid, frontPid] = ceiling.pids;
    for (let r = 0; r < rounds; r++) {
      await run('ceiling', ceiling.grpcUrl, {}, [frontPid!, serverPid!], cpu.front, cpu.server);
      // Right after the ceiling, before Loki: a side that runs just after Loki's stack pays for its leftovers (GC, page cache).
      if (withOpts) await run('opts', withOpts.grpcUrl, {}, [withOpts.pids[1]!, withOpts.pids[0]!], cpu.optsFront, cpu.optsServer);
      const l = await run('loki', loki, auth, [stack.gateway.pid!, stack.daemon.pid!], cpu.gateway, cpu.daemon);
      res.hello.push(await load(ceiling.helloUrl));
      process.stdout.write(`round ${r + 1}: ceiling ${fmt(res.ceiling[r]!)}${withOpts ? ` | ceiling, Loki's options ${fmt(res.opts[r]!)}` : ''} | loki ${fmt(l)} | bare hello ${fmt(res.hello[r]!)}\n`);
    }
    const m = (k: 'loki' | 'ceiling' | 'opts' | 'hello', f: keyof WrkResult) => median(res[k].map((x) => x[f]));
    process.stdout.write(`\nP1 GET /api/sessions, wrk -t1 -c${connections} -d${seconds}s, ${rounds} interleaved rounds (medians)\n`);
    process.stdout.write(`side                                     req/s   p50 ms   p99 ms\n`);
    for (const [name, k] of [['loki (gateway + lokid)', 'loki'], ['ceiling (bare Fastify + bare grpc-js)', 'ceiling'], ["ceiling with Loki's grpc-js options", 'opts'], ['bare Fastify hello-world', 'hello']] as const) {
      if (!res[k].length) continue;
      process.stdout.write(`${name.padEnd(38)} ${m(k, 'rps').toFixed(0).padStart(7)} ${m(k, 'p50ms').toFixed(2).padStart(8)} ${m(k, 'p99ms').toFixed(2).padStart(8)}\n`);
    }
    process.stdout.write(`loki / ceiling: ${(m('loki', 'rps') / m('ceiling', 'rps')).toFixed(2)}x (goal >= 0.8)\n`);
    if (withOpts) process.stdout.write(`ceiling with Loki's grpc-js options / ceiling: ${(m('opts', 'rps') / m('ceiling', 'rps')).toFixed(2)}x; loki / that: ${(m('loki', 'rps') / m('opts', 'rps')).toFixed(2)}x\n`);
    process.stdout.write(`loki / bare Fastify hello: ${(m('loki', 'rps') / m('hello', 'rps')).toFixed(2)}x\n`);
    process.stdout.write(`CPU per 1,000 requests: gateway ${median(cpu.gateway).toFixed(0)} ms, daemon ${median(cpu.daemon).toFixed(0)} ms`);
    process.stdout.write(` (ceiling: Fastify front ${median(cpu.front).toFixed(0)} ms, grpc-js server ${median(cpu.server).toFixed(0)} ms`);
    process.stdout.write(withOpts ? `; with Loki's grpc-js options: ${median(cpu.optsFront).toFixed(0)} ms, ${median(cpu.optsServer).toFixed(0)} ms)\n` : ')\n');
  } finally {
    await ceiling.stop();
    await withOpts?.stop();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(optsDir, { recursive: true, force: true });
  }
}

void main();
