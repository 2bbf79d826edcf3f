// The gateway side of streams, without Docker: WebSocket upgrades pass the same
// guard (cross-site cookie upgrades refused: the attacker's page), a closed
// WebSocket gives its stream place back, and the shared SSE writer heartbeats.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import type { Identity } from '../../gateway/src/auth/identity.js';
import { disabledOidc } from '../../gateway/src/auth/oidc-disabled.js';
import type { OidcAuthenticator } from '../../gateway/src/auth/oidc/types.js';
import { defaultRouteGroups } from '../../gateway/src/routes/groups.js';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';
import { readSse } from './sse-client.js';

function cookieSessionOidc(identity: Identity): OidcAuthenticator {
  return { ...disabledOidc(), identityFromCookie: async (req) => (req.headers.cookie?.includes('loki_session=valid') ? identity : undefined) };
}

/** The HTTP status of a refused upgrade, or 101 plus the first JSON message of an accepted one. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; first?: { type: string; error?: { code: string } } }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'start', argv: ['true'] })));
    ws.on('message', (data: Buffer) => {
      resolve({ status: 101, first: JSON.parse(data.toString('utf8')) as { type: string } });
      ws.close();
    });
    ws.on('error', () => resolve({ status: -1 }));
  });
}

describe('gateway streams (WebSocket guard, stream places, SSE heartbeat)', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  let port: number;
  let op: string;
  before(async () => {
    daemon = await startTestDaemon();
    op = (await generateToken(daemon.adminSocket, { name: 'op', role: 'operator' })).secret;
    gw = await buildTestGateway({
      socket: daemon.gatewaySocket,
      raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000, max_streams_per_subject: 1 } },
      // The daemon verifies the forwarded credential itself: the cookie session carries a real one.
      deps: { oidc: cookieSessionOidc({ subject: 'oidc:alice', scopes: ['control', 'write', 'read'], method: 'oidc', credential: op }) },
    });
    // The SSE heartbeat is tested on a second app with a short interval.
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    port = (gw.app.server.address() as AddressInfo).port;
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  it('refuses a cross-site WebSocket upgrade that rides on the session cookie', async () => {
    const url = `ws://127.0.0.1:${port}/api/sandboxes/sbx-000000000000/shell`;
    const evil = await upgrade(url, { cookie: 'loki_session=valid', origin: 'https://evil.example' });
    assert.equal(evil.status, 403);
    const noOrigin = await upgrade(url, { cookie: 'loki_session=valid' });
    assert.equal(noOrigin.status, 403, 'no Origin and no Sec-Fetch-Site: not provably same-origin');
    // Same origin passes the guard; the daemon then answers for the (missing) sandbox.
    const same = await upgrade(url, { cookie: 'loki_session=valid', origin: `http://127.0.0.1:${port}` });
    assert.equal(same.status, 101);
    assert.equal(same.first?.type, 'error');
    assert.equal(same.first?.error?.code, 'sandbox_not_found');
  });

  it('gives a stream place back when the WebSocket closes', async () => {
    // max_streams_per_subject is 1: a leaked place would refuse the second connection with 429.
    for (let i = 0; i < 3; i++) {
      const r = await upgrade(`ws://127.0.0.1:${port}/api/sandboxes/sbx-000000000000/exec`, bearer(op));
      assert.equal(r.status, 101, `connection ${i + 1}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  it('sends heartbeats and X-Accel-Buffering: no on the approvals stream', async () => {
    const hb = await buildTestGateway({ socket: daemon.gatewaySocket, deps: { routes: defaultRouteGroups(gw.daemon, { heartbeatMs: 50 }) } });
    try {
      await hb.app.listen({ host: '127.0.0.1', port: 0 });
      const p = (hb.app.server.address() as AddressInfo).port;
      const r = await readSse(p, '/api/approvals/events', bearer(op), (_e, raw) => (raw.match(/: heartbeat/g) ?? []).length >= 2, 10_000);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-accel-buffering'], 'no');
      assert.match(String(r.headers['content-type']), /text\/event-stream/);
      assert.ok((r.raw.match(/: heartbeat/g) ?? []).length >= 2, r.raw);
    } finally {
      await hb.close();
    }
  });
});
