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
// Run: npm run build && node dist/bench/b1-b10-wrk.js [--seconds 10] [--rounds 3]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createLogger } from '../common/src/index.js';
import { buildApp } from '../gateway/src/app.js';
import { loadGatewayConfig } from '../gateway/src/config.js';
import { createDaemonClient } from '../client/src/grpc/index.js';
import { GatewayMetrics } from '../gateway/src/metrics.js';
import { CHILD_NODE_FLAGS } from '../cli/src/up/supervisor.js';
import { DIST, fmt, generateToken, requireWrk, wrk, type WrkResult } from './lib/stack.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '50' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function gateway(socket: string, observability: boolean): Promise<FastifyInstance> {
  const config = loadGatewayConfig({ raw: { daemon: { socket }, rate_limit: { per_minute: 1_000_000_000, burst: 1_000_000_000, concurrency: 10_000, max_in_flight: 100_000 } } });
  // Logged for real (one JSON line per request, redaction on) to /dev/null, asynchronously, as in production.
  const logger = createLogger({ name: 'b1', level: observability ? 'info' : 'silent', destination: pino.destination({ dest: '/dev/null', sync: false }) });
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
      { name: 'bare Fastify', url: url(bare), headers: {}, res: [] as WrkResult[] },
      { name: 'gateway, observability ON', url: url(on), headers: auth, res: [] as WrkResult[] },
      { name: 'gateway, observability OFF', url: url(off), headers: auth, res: [] as WrkResult[] },
    ];
    for (const t of targets) await wrk(t.url, { seconds: 2, connections, headers: t.headers });
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) {
        t.res.push(await wrk(t.url, { seconds, connections, headers: t.headers }));
        process.stdout.write(`round ${r + 1} ${t.name.padEnd(27)} ${fmt(t.res[r]!)}\n`);
      }
    }
    const rps = (i: number) => median(targets[i]!.res.map((x) => x.rps));
    process.stdout.write(`\nwrk -t1 -c${connections} -d${seconds}s, ${rounds} interleaved rounds (median req/s)\n`);
    for (let i = 0; i < targets.length; i++) process.stdout.write(`${targets[i]!.name.padEnd(27)} ${rps(i).toFixed(0).padStart(7)}\n`);
    process.stdout.write(`B1  gateway (ON) / bare Fastify: ${(rps(1) / rps(0)).toFixed(2)}x (goal >= 0.75)\n`);
    process.stdout.write(`B10 observability ON / OFF:      ${(rps(1) / rps(2)).toFixed(2)}x (goal >= 0.85)\n`);
  } finally {
    for (const a of apps) await a.close().catch(() => {});
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
