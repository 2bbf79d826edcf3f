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
// With --batching, two more sides show what gathering daemon calls per event-loop
// turn (the gateway's daemon.batch_calls, on by default) is worth on each side of
// the comparison: Loki with daemon.batch_calls off (one gRPC call per request, as
// the ceiling makes), and the batched ceiling (the bare front gathering its calls
// per turn into one bare grpc-js call).
// Goal: Loki/ceiling ≥ 0.8×. Prints ratios; no assertions.
// Run: npm run build && node dist/bench/p1-api.js [--seconds 10] [--rounds 3] [--connections 50] [--options] [--batching]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { channelFor } from '../client/src/grpc/index.js';
import { GRPC_SERVER_OPTIONS } from '../daemon/src/grpc/listeners.js';
import { startCeiling } from './lib/ceiling.js';
import { cpuMs, fmt, requireWrk, startStack, wrk, type WrkResult } from './lib/stack.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '50' }, options: { type: 'boolean', default: false }, batching: { type: 'boolean', default: false } },
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
  const batchedDir = mkdtempSync(join(tmpdir(), 'lkp1b-'));
  const batchedCeiling = values.batching ? await startCeiling(batchedDir, {}, {}, true) : undefined;
  const unbatched = values.batching ? await startStack({ gatewayEnv: { LOKI_DAEMON_BATCH_CALLS: 'false' } }) : undefined;
  try {
    const auth = { authorization: `Bearer ${await stack.token('p1')}` };
    const loki = `${stack.url}/api/sessions`;
    const unbatchedAuth: Record<string, string> = unbatched ? { authorization: `Bearer ${await unbatched.token('p1')}` } : {};
    const load = (url: string, headers: Record<string, string> = {}, s = seconds) => wrk(url, { seconds: s, connections, headers });
    // Warm-up: JIT, token cache, connection pools.
    await load(loki, auth, 2);
    await load(ceiling.grpcUrl, {}, 2);
    if (withOpts) await load(withOpts.grpcUrl, {}, 2);
    if (batchedCeiling) await load(batchedCeiling.grpcUrl, {}, 2);
    if (unbatched) await load(`${unbatched.url}/api/sessions`, unbatchedAuth, 2);
    await load(ceiling.helloUrl, {}, 2);
    type Side = 'loki' | 'ceiling' | 'opts' | 'hello' | 'unbatched' | 'batched';
    const res: Record<Side, WrkResult[]> = { loki: [], ceiling: [], opts: [], hello: [], unbatched: [], batched: [] };
    const cpu = {
      gateway: [] as number[], daemon: [] as number[], front: [] as number[], server: [] as number[], optsFront: [] as number[], optsServer: [] as number[],
      ubGateway: [] as number[], ubDaemon: [] as number[], bFront: [] as number[], bServer: [] as number[],
    };
    /** One wrk run on `side`, and the CPU ms per 1,000 requests of the two processes serving it (front, back). */
    const run = async (side: Side, url: string, headers: Record<string, string>, pids: [number, number], front: number[], back: number[]) => {
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
      if (batchedCeiling) await run('batched', batchedCeiling.grpcUrl, {}, [batchedCeiling.pids[1]!, batchedCeiling.pids[0]!], cpu.bFront, cpu.bServer);
      const l = await run('loki', loki, auth, [stack.gateway.pid!, stack.daemon.pid!], cpu.gateway, cpu.daemon);
      if (unbatched) await run('unbatched', `${unbatched.url}/api/sessions`, unbatchedAuth, [unbatched.gateway.pid!, unbatched.daemon.pid!], cpu.ubGateway, cpu.ubDaemon);
      res.hello.push(await load(ceiling.helloUrl));
      const extra = batchedCeiling ? ` | batched ceiling ${fmt(res.batched[r]!)} | loki, batch_calls off ${fmt(res.unbatched[r]!)}` : '';
      process.stdout.write(`round ${r + 1}: ceiling ${fmt(res.ceiling[r]!)}${withOpts ? ` | ceiling, Loki's options ${fmt(res.opts[r]!)}` : ''} | loki ${fmt(l)}${extra} | bare hello ${fmt(res.hello[r]!)}\n`);
    }
    const m = (k: Side, f: keyof WrkResult) => median(res[k].map((x) => x[f]));
    process.stdout.write(`\nP1 GET /api/sessions, wrk -t1 -c${connections} -d${seconds}s, ${rounds} interleaved rounds (medians)\n`);
    process.stdout.write(`side                                     req/s   p50 ms   p99 ms\n`);
    for (const [name, k] of [
      ['loki (gateway + lokid)', 'loki'],
      ['loki, daemon.batch_calls off', 'unbatched'],
      ['ceiling (bare Fastify + bare grpc-js)', 'ceiling'],
      ["ceiling with Loki's grpc-js options", 'opts'],
      ['batched ceiling (calls gathered per turn)', 'batched'],
      ['bare Fastify hello-world', 'hello'],
    ] as const) {
      if (!res[k].length) continue;
      process.stdout.write(`${name.padEnd(38)} ${m(k, 'rps').toFixed(0).padStart(7)} ${m(k, 'p50ms').toFixed(2).padStart(8)} ${m(k, 'p99ms').toFixed(2).padStart(8)}\n`);
    }
    process.stdout.write(`loki / ceiling: ${(m('loki', 'rps') / m('ceiling', 'rps')).toFixed(2)}x (goal >= 0.8)\n`);
    if (withOpts) process.stdout.write(`ceiling with Loki's grpc-js options / ceiling: ${(m('opts', 'rps') / m('ceiling', 'rps')).toFixed(2)}x; loki / that: ${(m('loki', 'rps') / m('opts', 'rps')).toFixed(2)}x\n`);
    if (batchedCeiling) {
      process.stdout.write(`loki, daemon.batch_calls off / ceiling: ${(m('unbatched', 'rps') / m('ceiling', 'rps')).toFixed(2)}x; loki / batched ceiling: ${(m('loki', 'rps') / m('batched', 'rps')).toFixed(2)}x\n`);
    }
    process.stdout.write(`loki / bare Fastify hello: ${(m('loki', 'rps') / m('hello', 'rps')).toFixed(2)}x\n`);
    process.stdout.write(`CPU per 1,000 requests: gateway ${median(cpu.gateway).toFixed(0)} ms, daemon ${median(cpu.daemon).toFixed(0)} ms`);
    process.stdout.write(` (ceiling: Fastify front ${median(cpu.front).toFixed(0)} ms, grpc-js server ${median(cpu.server).toFixed(0)} ms`);
    process.stdout.write(withOpts ? `; with Loki's grpc-js options: ${median(cpu.optsFront).toFixed(0)} ms, ${median(cpu.optsServer).toFixed(0)} ms)\n` : ')\n');
    if (batchedCeiling) {
      process.stdout.write(`  batch_calls off: gateway ${median(cpu.ubGateway).toFixed(0)} ms, daemon ${median(cpu.ubDaemon).toFixed(0)} ms; batched ceiling: front ${median(cpu.bFront).toFixed(0)} ms, server ${median(cpu.bServer).toFixed(0)} ms\n`);
    }
  } finally {
    await ceiling.stop();
    await withOpts?.stop();
    await batchedCeiling?.stop();
    await unbatched?.stop();
    await stack.stop();
    rmSync(batchedDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    rmSync(optsDir, { recursive: true, force: true });
  }
}

void main();
