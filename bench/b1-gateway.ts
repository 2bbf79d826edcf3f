// B1: requests/s of an authenticated + authorized + rate-limited + logged GET
// through the full gateway (real daemon, real token) against a bare Fastify
// hello-world measured in the same run, over plain HTTP and TLS. Goal: ≥ 0.75×.
// Prints ratios; no assertions.
// Run: npx tsx bench/b1-gateway.ts [--seconds N] [--concurrency N]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createLogger } from '../common/src/index.js';
import { startDaemon } from '../daemon/src/daemon.js';
import { buildApp } from '../gateway/src/app.js';
import { loadGatewayConfig } from '../gateway/src/config.js';
import { createDaemonClient } from '../client/src/grpc/index.js';
import { GatewayMetrics } from '../gateway/src/metrics.js';
import { TokenServiceClient, type GenerateTokenResponse } from '../proto/gen/loki/v1/tokens.js';
import { keepAliveLoad, type LoadTarget } from './lib/load.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '50' } } });
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

const load = (t: LoadTarget, ms: number) => keepAliveLoad(t, ms, concurrency);

async function bare(tls?: { key: Buffer; cert: Buffer }): Promise<FastifyInstance> {
  const app = (tls ? Fastify({ https: { key: tls.key, cert: tls.cert } }) : Fastify()) as unknown as FastifyInstance;
  app.get('/ping', async () => ({ ok: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return app;
}

async function gateway(socket: string, tls?: { key: Buffer; cert: Buffer; files: { cert: string; key: string } }): Promise<FastifyInstance> {
  const config = loadGatewayConfig({
    raw: {
      daemon: { socket },
      rate_limit: { per_minute: 100_000_000, burst: 100_000_000, concurrency: 1000, max_in_flight: 10_000 },
      ...(tls ? { tls: tls.files } : {}),
    },
  });
  // Logged for real (one JSON line per request, redaction on), written to /dev/null.
  const logger = createLogger({ name: 'b1', level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) });
  const metrics = new GatewayMetrics({ processMetrics: false });
  const app = await buildApp({
    config,
    daemon: createDaemonClient({ socketPath: socket, timeoutMs: 5000, observe: metrics.observeGrpc }),
    logger,
    metrics,
    ...(tls ? { tls: { key: tls.key, cert: tls.cert } } : {}),
    routes: [{ plugin: async (a) => void a.get('/ping', { schema: {}, config: { access: { scope: 'read' } } }, async () => ({ ok: true })) }],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return app;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'loki-b1-'));
  const d = await startDaemon({ home: dir, env: { LOKI_HOME: dir }, logLevel: 'silent' });
  const apps: FastifyInstance[] = [];
  try {
    const tc = new TokenServiceClient(`unix:${d.paths.adminSocket}`, credentials.createInsecure());
    const gen = await new Promise<GenerateTokenResponse>((resolve, reject) =>
      tc.generate({ name: 'b1', role: 'viewer', scopes: [], expiresDays: 1 }, new Metadata(), (err, res) => (err ? reject(err) : resolve(res))),
    );
    tc.close();
    const auth = { authorization: `Bearer ${gen.secret}` };

    const cert = join(dir, 'b1.crt');
    const key = join(dir, 'b1.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const tlsMat = { key: readFileSync(key), cert: readFileSync(cert) };

    const port = (a: FastifyInstance) => (a.server.address() as AddressInfo).port;
    const rows: [string, number, number][] = [];
    for (const tls of [false, true]) {
      const b = await bare(tls ? tlsMat : undefined);
      const g = await gateway(d.paths.gatewaySocket, tls ? { ...tlsMat, files: { cert, key } } : undefined);
      apps.push(b, g);
      const bt: LoadTarget = { port: port(b), tls, path: '/ping', headers: {} };
      const gt: LoadTarget = { port: port(g), tls, path: '/ping', headers: auth };
      await load(bt, 500);
      await load(gt, 500);
      const rb = await load(bt, seconds * 1000);
      const rg = await load(gt, seconds * 1000);
      if (rb.errors || rg.errors) process.stderr.write(`warning: errors bare=${rb.errors} gateway=${rg.errors}\n`);
      rows.push([tls ? 'TLS' : 'HTTP', rb.rps, rg.rps]);
      await b.close();
      await g.close();
    }
    process.stdout.write(`B1 gateway GET /ping (auth + authz + rate limit + log), concurrency ${concurrency}, ${seconds}s per run\n`);
    process.stdout.write(`transport  bare req/s  gateway req/s  ratio (goal >= 0.75)\n`);
    for (const [name, rb, rg] of rows) {
      process.stdout.write(`${name.padEnd(9)}  ${rb.toFixed(0).padStart(10)}  ${rg.toFixed(0).padStart(13)}  ${(rg / rb).toFixed(2)}\n`);
    }
  } finally {
    for (const a of apps) await a.close().catch(() => {});
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
