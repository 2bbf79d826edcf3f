import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { GatewayMetrics } from '../../gateway/src/metrics.js';
import { buildMetricsApp } from '../../gateway/src/routes/metrics.js';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

const sessionRoute = {
  plugin: async (app: FastifyInstance) => {
    app.get('/api/sessions/:id', { schema: { params: { type: 'object', properties: { id: { type: 'string' } } } }, config: { access: { scope: 'read', owner: true } } }, async (req) => ({
      id: (req.params as { id: string }).id,
    }));
  },
};

function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('gateway metrics', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  let secret: string;
  before(async () => {
    daemon = await startTestDaemon();
    secret = (await generateToken(daemon.adminSocket, { name: 'viewer', role: 'viewer' })).secret;
    gw = await buildTestGateway({
      socket: daemon.gatewaySocket,
      raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } },
      deps: { routes: [sessionRoute], metrics: new GatewayMetrics({ sandboxStatus: () => gw.daemon.getStatus({ requestId: 'm', subject: 'gateway:metrics', scopes: ['read'] }) }) },
    });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  it('serves Prometheus text that promtool accepts, with the documented metric names', async () => {
    await gw.app.inject({ url: '/api/status', headers: bearer(secret) });
    await gw.app.inject({ url: '/api/status' });
    const r = await gw.app.inject({ url: '/metrics', headers: bearer(secret) });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    for (const name of [
      'http_requests_total{method="GET",route="/api/status",status="200"} 1',
      'http_requests_total{method="GET",route="/api/status",status="401"} 1',
      'http_request_duration_seconds_bucket',
      'http_requests_in_flight',
      'loki_auth_failures_total{reason="missing"} 1',
      'loki_grpc_client_duration_seconds_bucket',
      'loki_grpc_client_batch_calls_bucket{le="2"}',
      'loki_sandboxes{state="running"}',
      'loki_sandbox_pool_ready 0',
      'loki_audit_events_dropped_total',
      'process_cpu_user_seconds_total',
    ]) {
      assert.ok(r.body.includes(name), `missing ${name}`);
    }
    const check = promtool(r.body);
    assert.equal(check.status, 0, check.output);
  });

  it('needs the read scope on the main listener', async () => {
    assert.equal((await gw.app.inject({ url: '/metrics' })).statusCode, 401);
  });

  it('keeps route labels bounded when 1,000 distinct session ids and unknown paths are requested', async () => {
    for (let i = 0; i < 1000; i++) {
      await gw.app.inject({ url: `/api/sessions/sess-${i}`, headers: bearer(secret) });
      await gw.app.inject({ url: `/no/such/${i}`, headers: bearer(secret) });
    }
    await gw.app.inject({ method: 'PROPFIND' as 'GET', url: '/api/status', headers: bearer(secret) });
    const body = (await gw.app.loki.metrics.render()).body;
    const routes = new Set([...body.matchAll(/^http_requests_total\{[^}]*route="([^"]*)"/gm)].map((m) => m[1]));
    assert.ok(routes.has('/api/sessions/:id'));
    assert.ok(routes.has('unmatched'));
    assert.ok(!body.includes('sess-1'), 'no concrete ids in labels');
    assert.ok(routes.size <= 10, `route labels: ${[...routes].join(', ')}`);
    assert.ok(body.split('\n').length < 2000, 'series count stays small');
    assert.equal(promtool(body).status, 0);
  });

  it('serves /metrics without auth on a separate private listener', async () => {
    const m = buildMetricsApp(gw.app.loki.metrics);
    try {
      await m.listen({ host: '127.0.0.1', port: 0 });
      const port = (m.server.address() as AddressInfo).port;
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      assert.equal(promtool(await res.text()).status, 0);
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/status`)).status, 404);
    } finally {
      await m.close();
    }
  });

  it('does not register /metrics on the main listener when a private listener is configured', async () => {
    const g = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { metrics: { listen: '127.0.0.1:9464' } } });
    try {
      assert.equal((await g.app.inject({ url: '/metrics', headers: bearer(secret) })).statusCode, 404);
    } finally {
      await g.close();
    }
  });
});
