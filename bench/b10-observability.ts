// B10 (issue 7): gateway throughput with audit + metrics + logging ON vs OFF in
// the same run. ON: request metrics and one JSON log line per request (to
// /dev/null, redaction on), with the audit forwarder live (the gateway audits
// security events: auth failures, denials, rate-limit rejections — none occur on
// this successful GET). ON+AUDIT-ALL additionally forwards one durable,
// HMAC-chained audit event per request to the real daemon (a worst case).
// OFF: none of these. Goal: ON/OFF ≥ 0.85×.
// Prints the ratio; no assertions.
// Run: npx tsx bench/b10-observability.ts [--seconds N] [--concurrency N]
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
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

async function gateway(socket: string, on: boolean, auditAll = false): Promise<FastifyInstance> {
  const config = loadGatewayConfig({
    raw: { daemon: { socket }, rate_limit: { per_minute: 100_000_000, burst: 100_000_000, concurrency: 1000, max_in_flight: 10_000 } },
  });
  const logger = createLogger({ name: 'b10', level: on ? 'info' : 'silent', destination: pino.destination({ dest: '/dev/null', sync: false }) });
  const metrics = new GatewayMetrics({ processMetrics: false });
  const app: FastifyInstance = await buildApp({
    config,
    daemon: createDaemonClient({ socketPath: socket, timeoutMs: 5000, observe: metrics.observeGrpc }),
    logger,
    metrics,
    observability: on,
    routes: [
      {
        plugin: async (a) =>
          void a.get('/ping', { schema: {}, config: { access: { scope: 'read' } } }, async (req) => {
            if (auditAll) await app.loki.audit.forward({ action: 'token.use', resource: 'route:GET /ping', result: 'success', identity: { requestId: req.id, clientIp: req.ip } });
            return { ok: true };
          }),
      },
    ],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return app;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'loki-b10-'));
  const d = await startDaemon({ home: dir, env: { LOKI_HOME: dir }, logLevel: 'silent' });
  try {
    const tc = new TokenServiceClient(`unix:${d.paths.adminSocket}`, credentials.createInsecure());
    const gen = await new Promise<GenerateTokenResponse>((resolve, reject) =>
      tc.generate({ name: 'b10', role: 'viewer', scopes: [], expiresDays: 1 }, new Metadata(), (err, res) => (err ? reject(err) : resolve(res))),
    );
    tc.close();
    const headers = { authorization: `Bearer ${gen.secret}` };
    const port = (a: FastifyInstance) => (a.server.address() as AddressInfo).port;
    const off = await gateway(d.paths.gatewaySocket, false);
    const on = await gateway(d.paths.gatewaySocket, true);
    const all = await gateway(d.paths.gatewaySocket, true, true);
    const tOff: LoadTarget = { port: port(off), path: '/ping', headers };
    const tOn: LoadTarget = { port: port(on), path: '/ping', headers };
    const tAll: LoadTarget = { port: port(all), path: '/ping', headers };
    for (const t of [tOff, tOn, tAll]) await load(t, 500);
    // Alternate OFF/ON twice so warm-up and machine noise fall on both sides.
    const rOff = await load(tOff, seconds * 500);
    const rOn = await load(tOn, seconds * 500);
    const rOff2 = await load(tOff, seconds * 500);
    const rOn2 = await load(tOn, seconds * 500);
    const before = d.audit.sink?.stats().written ?? 0;
    const rAll = await load(tAll, seconds * 1000);
    await all.loki.audit.idle();
    const written = (d.audit.sink?.stats().written ?? 0) - before;
    for (const a of [all, on, off]) await a.close();
    const offRps = (rOff.rps + rOff2.rps) / 2;
    const onRps = (rOn.rps + rOn2.rps) / 2;
    process.stdout.write(`B10 gateway GET /ping, concurrency ${concurrency}, ${seconds}s per configuration\n`);
    process.stdout.write(`OFF (no metrics, no request log, no audit): ${offRps.toFixed(0)} req/s\n`);
    process.stdout.write(`ON  (metrics + JSON request log + audit forwarder): ${onRps.toFixed(0)} req/s  ratio ${(onRps / offRps).toFixed(2)} (goal >= 0.85)\n`);
    process.stdout.write(`ON + one durable audit entry per request: ${rAll.rps.toFixed(0)} req/s  ratio ${(rAll.rps / offRps).toFixed(2)} (${written} entries fsync'd, ${rAll.errors} errors)\n`);
  } finally {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
