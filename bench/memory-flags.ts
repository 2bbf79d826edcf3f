// What a memory setting costs in CPU: P1's route (authenticated GET /api/sessions
// through loki-gateway + lokid, `loki up`'s V8 flags) on two stacks side by side,
// one with the extra node flags / environment under test and one without, wrk
// rounds interleaved (A, B, A, B, …). Prints req/s, p99 and CPU ms per 1,000
// requests of each process for both, and the ratio B/A, then the RSS of both
// stacks after the load. A flag that saves idle memory is kept only if the ratio
// of CPU per request stays near 1.
// `--gateway-flags` / `--daemon-flags` add flags to one process of B only.
// Run: npm run build && node dist/bench/memory-flags.js --flags "--v8-pool-size=1" [--gateway-flags …] [--daemon-flags …] [--env K=V,…] [--seconds 8] [--rounds 3] [--connections 50]
import { parseArgs } from 'node:util';
import { cpuMs, fmt, requireWrk, rssMb, startStack, wrk, type Stack, type WrkResult } from './lib/stack.js';

const { values } = parseArgs({
  options: {
    flags: { type: 'string', default: '' },
    'gateway-flags': { type: 'string', default: '' },
    'daemon-flags': { type: 'string', default: '' },
    env: { type: 'string', default: '' },
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
  },
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Side {
  name: string;
  stack: Stack;
  token: string;
  res: WrkResult[];
  gw: number[];
  d: number[];
}

async function main(): Promise<void> {
  requireWrk();
  const words = (v: string) => v.split(/\s+/).filter(Boolean);
  const flags = words(values.flags);
  const gatewayFlags = [...flags, ...words(values['gateway-flags'])];
  const daemonFlags = [...flags, ...words(values['daemon-flags'])];
  const env = Object.fromEntries(
    values.env
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const a = await startStack();
  const b = await startStack({ gatewayNodeArgs: gatewayFlags, daemonNodeArgs: daemonFlags, gatewayEnv: env, daemonEnv: env });
  const sides: Side[] = [
    { name: 'A (loki up flags)', stack: a, token: await a.token('flags-a'), res: [], gw: [], d: [] },
    { name: `B (+ ${[values.flags, values['gateway-flags'] && `gateway ${values['gateway-flags']}`, values['daemon-flags'] && `lokid ${values['daemon-flags']}`, values.env].filter(Boolean).join(' ')})`, stack: b, token: await b.token('flags-b'), res: [], gw: [], d: [] },
  ];
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  try {
    const load = (s: Side, secs: number) => wrk(`${s.stack.url}/api/sessions`, { seconds: secs, connections, headers: { authorization: `Bearer ${s.token}` } });
    for (const s of sides) await load(s, 2); // warm-up: JIT, token cache
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const s of sides) {
        const g0 = cpuMs(s.stack.gateway.pid);
        const d0 = cpuMs(s.stack.daemon.pid);
        const res = await load(s, seconds);
        s.res.push(res);
        s.gw.push(((cpuMs(s.stack.gateway.pid) - g0) / res.requests) * 1000);
        s.d.push(((cpuMs(s.stack.daemon.pid) - d0) / res.requests) * 1000);
        process.stdout.write(`round ${r + 1} ${s.name}: ${fmt(res)}  CPU/1k: gateway ${s.gw.at(-1)!.toFixed(0)} ms, lokid ${s.d.at(-1)!.toFixed(0)} ms\n`);
      }
    }
    process.stdout.write(`\nmedians of ${values.rounds} interleaved rounds, wrk -t1 -c${connections} -d${seconds}s\n`);
    const med = sides.map((s) => ({ rps: median(s.res.map((x) => x.rps)), p99: median(s.res.map((x) => x.p99ms)), gw: median(s.gw), d: median(s.d) }));
    sides.forEach((s, i) => {
      const m = med[i]!;
      process.stdout.write(`${s.name}: ${m.rps.toFixed(0)} req/s, p99 ${m.p99.toFixed(1)} ms, CPU/1k gateway ${m.gw.toFixed(0)} ms + lokid ${m.d.toFixed(0)} ms; RSS after load gateway ${rssMb(s.stack.gateway.pid).toFixed(1)} MB, lokid ${rssMb(s.stack.daemon.pid).toFixed(1)} MB\n`);
    });
    const [x, y] = med as [(typeof med)[0], (typeof med)[0]];
    process.stdout.write(`B/A: req/s ${(y.rps / x.rps).toFixed(2)}x, CPU per request gateway ${(y.gw / x.gw).toFixed(2)}x, lokid ${(y.d / x.d).toFixed(2)}x, both ${((y.gw + y.d) / (x.gw + x.d)).toFixed(2)}x\n`);
  } finally {
    await a.stop();
    await b.stop();
  }
}

void main();
