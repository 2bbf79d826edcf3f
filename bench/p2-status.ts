// P2: GET /api/status through gateway + lokid with the Docker snapshot cache
// (sandbox.status_cache_ms, default 1000) against the same stack asking Docker on
// every call (status_cache_ms 0, what every request did before), interleaved, in
// one run. Also dockerd's CPU per 1,000 requests on each side.
// Goal: cached ≥ 10× uncached, p99 < 20 ms at c=50. Prints ratios; no assertions.
// Run: npm run build && node dist/bench/p2-status.js [--seconds 10] [--rounds 3]
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { cpuMs, fmt, requireWrk, startStack, wrk, type WrkResult } from './lib/stack.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '50' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function dockerdPid(): number | undefined {
  try {
    return Number(execFileSync('pidof', ['dockerd'], { encoding: 'utf8' }).trim().split(/\s+/)[0]) || undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  requireWrk();
  const cached = await startStack();
  const uncached = await startStack({ daemonEnv: { LOKI_STATUS_CACHE_MS: '0' } });
  const dockerd = dockerdPid();
  try {
    const sides = [
      { name: 'cached (status_cache_ms 1000)', stack: cached, auth: { authorization: `Bearer ${await cached.token('p2')}` }, res: [] as WrkResult[], docker: [] as number[] },
      { name: 'uncached (status_cache_ms 0)', stack: uncached, auth: { authorization: `Bearer ${await uncached.token('p2')}` }, res: [] as WrkResult[], docker: [] as number[] },
    ];
    for (const s of sides) await wrk(`${s.stack.url}/api/status`, { seconds: 2, connections, headers: s.auth });
    for (let r = 0; r < rounds; r++) {
      for (const s of sides) {
        const d0 = cpuMs(dockerd);
        const res = await wrk(`${s.stack.url}/api/status`, { seconds, connections, headers: s.auth });
        s.res.push(res);
        s.docker.push(((cpuMs(dockerd) - d0) / Math.max(1, res.requests)) * 1000);
        process.stdout.write(`round ${r + 1} ${s.name}: ${fmt(res)}\n`);
      }
    }
    process.stdout.write(`\nP2 GET /api/status, wrk -t1 -c${connections} -d${seconds}s, ${rounds} interleaved rounds (medians)\n`);
    for (const s of sides) {
      process.stdout.write(
        `${s.name.padEnd(32)} ${median(s.res.map((x) => x.rps)).toFixed(0).padStart(7)} req/s  p50 ${median(s.res.map((x) => x.p50ms)).toFixed(2)} ms  p99 ${median(s.res.map((x) => x.p99ms)).toFixed(2)} ms  dockerd CPU/1k req ${dockerd ? median(s.docker).toFixed(0) + ' ms' : 'n/a'}\n`,
      );
    }
    const ratio = median(sides[0]!.res.map((x) => x.rps)) / median(sides[1]!.res.map((x) => x.rps));
    process.stdout.write(`cached / uncached: ${ratio.toFixed(1)}x (goal >= 10), cached p99 ${median(sides[0]!.res.map((x) => x.p99ms)).toFixed(2)} ms (goal < 20)\n`);
  } finally {
    await cached.stop();
    await uncached.stop();
  }
}

void main();
