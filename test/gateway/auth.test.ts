// Authentication, the scope table, lockout, rate limits and forwarded client
// addresses, against a real daemon with real tokens.
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { bearer, buildTestGateway, generateToken, revokeToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

const stopRoute = {
  plugin: async (app: FastifyInstance) => {
    app.post('/api/control/stop', { schema: {}, config: { access: { scope: 'control', rateLimit: 'exempt' } } }, async () => ({ stopped: true }));
  },
};

describe('gateway authentication and authorization', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  const tok: Record<string, string> = {};

  before(async () => {
    daemon = await startTestDaemon();
    for (const role of ['admin', 'operator', 'viewer', 'auditor']) tok[role] = (await generateToken(daemon.adminSocket, { name: `t-${role}`, role })).secret;
    gw = await buildTestGateway({
      socket: daemon.gatewaySocket,
      raw: { enterprise: { auth: { token_cache_ms: 800 } }, rate_limit: { burst: 1000, per_minute: 1000, unauthenticated_per_minute: 1000 } },
      deps: { routes: [stopRoute] },
    });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  const get = (url: string, secret?: string, extra: Record<string, string> = {}) =>
    gw.app.inject({ method: 'GET', url, headers: { ...(secret ? bearer(secret) : {}), ...extra } });

  it('lets a viewer read /api/status and /metrics but not manage tokens or read the audit log', async () => {
    const status = await get('/api/status', tok.viewer);
    assert.equal(status.statusCode, 200);
    assert.equal(status.json().caller.subject, 'token:t-viewer');
    assert.equal((await get('/metrics', tok.viewer)).statusCode, 200);
    const post = await gw.app.inject({ method: 'POST', url: '/api/enterprise/tokens', headers: bearer(tok.viewer!), payload: { name: 'x' } });
    assert.equal(post.statusCode, 403);
    assert.equal(post.json().error.code, 'permission_denied');
    assert.match(post.json().error.message, /needs the "\*" scope/);
    assert.equal((await get('/api/enterprise/audit', tok.viewer)).statusCode, 403);
  });

  it('lets an auditor past the audit routes and an operator use control routes, but neither manage tokens', async () => {
    const audit = await get('/api/enterprise/audit', tok.auditor);
    assert.equal(audit.statusCode, 200, audit.body);
    assert.equal((await get('/api/enterprise/tokens', tok.auditor)).statusCode, 403);
    const stop = await gw.app.inject({ method: 'POST', url: '/api/control/stop', headers: bearer(tok.operator!), payload: {} });
    assert.equal(stop.statusCode, 200);
    assert.equal((await gw.app.inject({ method: 'POST', url: '/api/control/stop', headers: bearer(tok.viewer!), payload: {} })).statusCode, 403);
    assert.equal((await get('/api/enterprise/tokens', tok.operator)).statusCode, 403);
  });

  it('distinguishes 401 (who are you?) from 403 (not allowed) in status and body', async () => {
    const none = await get('/api/status');
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().error.code, 'unauthenticated');
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    assert.equal(none.json().error.request_id, none.headers['x-request-id']);
    const wrong = await get('/api/status', 'loki_' + 'A'.repeat(43));
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.json().error.message, 'the token is not valid');
    const basic = await get('/api/status', undefined, { authorization: 'Basic dXNlcjpwYXNz' });
    assert.equal(basic.statusCode, 401);
    assert.match(basic.json().error.message, /Bearer <token>/);
    const jwt = await get('/api/status', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.');
    assert.equal(jwt.statusCode, 401);
  });

  it('manages tokens end to end for an admin: generate, use, list, revoke', async () => {
    const created = await gw.app.inject({ method: 'POST', url: '/api/enterprise/tokens', headers: bearer(tok.admin!), payload: { name: 'ci-bot', scopes: 'read,write', expires_days: 30 } });
    assert.equal(created.statusCode, 201, created.body);
    const body = created.json();
    assert.match(body.token, /^loki_/);
    assert.match(body.id, /^tok-/);
    assert.deepEqual([...body.scopes].sort(), ['read', 'write']);
    assert.match(body.message, /IMPORTANT: Save this token - it won't be shown again!/);
    assert.equal((await get('/api/status', body.token)).statusCode, 200);
    const list = await get('/api/enterprise/tokens', tok.admin);
    assert.ok(list.json().tokens.some((t: { name: string; token?: string }) => t.name === 'ci-bot' && t.token === undefined));
    assert.ok(!list.body.includes(body.token), 'a listing never contains a secret');
    const del = await gw.app.inject({ method: 'DELETE', url: `/api/enterprise/tokens/${body.id}`, headers: bearer(tok.admin!) });
    assert.equal(del.statusCode, 200);
    assert.equal(del.json().token.status, 'revoked');
    const missing = await gw.app.inject({ method: 'DELETE', url: '/api/enterprise/tokens/tok-nope', headers: bearer(tok.admin!) });
    assert.equal(missing.statusCode, 404);
  });

  it('rejects bad token requests with a specific 400', async () => {
    const cases: [unknown, RegExp][] = [
      [{ name: 'x', scopes: ['root'] }, /root/],
      [{ name: 'x', scopes: 'read,root' }, /unknown scope\(s\): root/],
      [{ name: '' }, /name/],
      [{ name: 'x', expires_days: 'soon' }, /expires_days/],
      [{ name: 'x', role: 'god' }, /role/],
      [{ name: 'x', extra: 1 }, /additional/],
    ];
    for (const [payload, re] of cases) {
      const r = await gw.app.inject({ method: 'POST', url: '/api/enterprise/tokens', headers: bearer(tok.admin!), payload: payload as object });
      assert.equal(r.statusCode, 400, `${JSON.stringify(payload)} → ${r.statusCode} ${r.body}`);
      assert.equal(r.json().error.code, 'invalid_argument');
      assert.match(r.json().error.message, re);
    }
  });

  it('stops accepting a revoked token once the cache window has passed', async () => {
    const t = await generateToken(daemon.adminSocket, { name: 'short-lived', role: 'viewer' });
    assert.equal((await get('/api/status', t.secret)).statusCode, 200);
    await revokeToken(daemon.adminSocket, 'short-lived');
    // Within the window the cached verification may still answer; after it, never.
    await new Promise((r) => setTimeout(r, 900));
    const after = await get('/api/status', t.secret);
    assert.equal(after.statusCode, 401);
    assert.equal(after.json().error.message, 'the token has been revoked');
  });
});

describe('gateway abuse resistance', () => {
  let daemon: TestDaemon;
  let secret: string;
  before(async () => {
    daemon = await startTestDaemon();
    secret = (await generateToken(daemon.adminSocket, { name: 'op', role: 'operator' })).secret;
  });
  after(async () => daemon?.close());

  it('answers 429 with Retry-After and RateLimit-* headers when a subject exceeds its rate, but never for emergency stop', async () => {
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { per_minute: 3, burst: 100 } }, deps: { routes: [stopRoute] } });
    try {
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await gw.app.inject({ url: '/api/status', headers: bearer(secret) })).statusCode);
      assert.deepEqual(codes, [200, 200, 200, 429]);
      const r = await gw.app.inject({ url: '/api/status', headers: bearer(secret) });
      assert.equal(r.statusCode, 429);
      assert.equal(r.json().error.code, 'resource_exhausted');
      assert.ok(Number(r.headers['retry-after']) >= 1);
      assert.equal(r.headers['ratelimit-limit'], '3');
      assert.equal(r.headers['ratelimit-remaining'], '0');
      assert.ok(Number(r.headers['ratelimit-reset']) >= 1);
      for (let i = 0; i < 5; i++) {
        assert.equal((await gw.app.inject({ method: 'POST', url: '/api/control/stop', headers: bearer(secret), payload: {} })).statusCode, 200);
      }
      const metrics = await gw.app.loki.metrics.render();
      assert.match(metrics.body, /loki_rate_limit_rejections_total\{scope="subject"\} 2/);
    } finally {
      await gw.close();
    }
  });

  it('locks an address out after 5 failed attempts without blocking a valid token the gateway already knows', async () => {
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket });
    try {
      const bad = 'loki_' + 'B'.repeat(43);
      const from = { remoteAddress: '192.0.2.10' };
      // The user's token is verified (and cached) before the lockout begins.
      assert.equal((await gw.app.inject({ url: '/api/status', headers: bearer(secret), ...from })).statusCode, 200);
      const codes = [];
      for (let i = 0; i < 7; i++) codes.push((await gw.app.inject({ url: '/api/status', headers: bearer(bad), ...from })).statusCode);
      assert.deepEqual(codes, [401, 401, 401, 401, 401, 429, 429]);
      const locked = await gw.app.inject({ url: '/api/status', headers: bearer(bad), ...from });
      assert.match(locked.json().error.message, /^this address \(192\.0\.2\.10\) is locked out for \d+ s after repeated failed authentication attempts; .*even a valid token is refused$/);
      assert.ok(Number(locked.headers['retry-after']) > 60);
      assert.equal((await gw.app.inject({ url: '/api/status', headers: bearer(secret), ...from })).statusCode, 200);
      assert.equal((await gw.app.inject({ url: '/api/status', headers: bearer(bad), remoteAddress: '192.0.2.11' })).statusCode, 401);
      const m = (await gw.app.loki.metrics.render()).body;
      assert.match(m, /loki_auth_failures_total\{reason="malformed"\} 6/);
      assert.match(m, /loki_auth_failures_total\{reason="locked_out"\} 3/);
    } finally {
      await gw.close();
    }
  });

  it("refuses a valid token's /metrics scrape from a locked-out address with a 429 that names the lockout and the way out", async () => {
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket });
    try {
      const from = { remoteAddress: '192.0.2.20' };
      // A scraper's token the gateway has not verified lately (its cache holds a token for seconds only).
      const scraper = (await generateToken(daemon.adminSocket, { name: 'prometheus-lockout', role: 'viewer' })).secret;
      for (let i = 0; i < 5; i++) await gw.app.inject({ url: '/api/status', headers: bearer('loki_' + 'D'.repeat(43)), ...from });
      const scrape = await gw.app.inject({ url: '/metrics', headers: bearer(scraper), ...from });
      assert.equal(scrape.statusCode, 429, scrape.body);
      assert.equal(scrape.json().error.code, 'resource_exhausted');
      const message: string = scrape.json().error.message;
      assert.match(message, /^this address \(192\.0\.2\.20\) is locked out for \d+ s after repeated failed authentication attempts/);
      assert.match(message, /even a valid token is refused/);
      assert.match(message, /scrape from another address, or serve \/metrics on the private metrics listener \(metrics\.listen\)/);
      assert.ok(Number(scrape.headers['retry-after']) > 60);
      assert.equal((await gw.app.inject({ url: '/metrics', headers: bearer(scraper), remoteAddress: '192.0.2.21' })).statusCode, 200, 'from another address the same token scrapes');
    } finally {
      await gw.close();
    }
  });

  it('trusts X-Forwarded-For only from configured proxies and takes the right-most untrusted hop', async () => {
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { trusted_proxies: ['10.0.0.1'] } });
    try {
      const bad = 'loki_' + 'C'.repeat(43);
      // Through the proxy: the client is the right-most address the proxy appended; the left part is client-supplied.
      const viaProxy = (xff: string) => gw.app.inject({ url: '/api/status', headers: { ...bearer(bad), 'x-forwarded-for': xff }, remoteAddress: '10.0.0.1' });
      for (let i = 0; i < 5; i++) await viaProxy(`198.51.100.${i}, 203.0.113.7`);
      assert.equal((await viaProxy('198.51.100.99, 203.0.113.7')).statusCode, 429, '203.0.113.7 is locked out whatever it prepends');
      assert.equal((await viaProxy('203.0.113.8')).statusCode, 401, 'another client behind the proxy is not');
      // Not from the proxy: the header is ignored, the socket address counts.
      const direct = await gw.app.inject({ url: '/api/status', headers: { ...bearer(bad), 'x-forwarded-for': '203.0.113.7' }, remoteAddress: '10.0.0.2' });
      assert.equal(direct.statusCode, 401);
    } finally {
      await gw.close();
    }
  });

  it('without trusted proxies, a client rotating X-Forwarded-For, X-Real-IP and Forwarded is still locked out by its socket address', async () => {
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket });
    try {
      const bad = 'loki_' + 'D'.repeat(43);
      const codes = [];
      for (let i = 0; i < 7; i++) {
        const spoof = `198.51.100.${i}`;
        const r = await gw.app.inject({ url: '/api/status', headers: { ...bearer(bad), 'x-forwarded-for': spoof, 'x-real-ip': spoof, forwarded: `for=${spoof}` }, remoteAddress: '192.0.2.77' });
        codes.push(r.statusCode);
      }
      assert.deepEqual(codes, [401, 401, 401, 401, 401, 429, 429]);
    } finally {
      await gw.close();
    }
  });

  it('rate-limits unauthenticated requests per client address', async () => {
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { unauthenticated_per_minute: 2, burst: 100 } } });
    try {
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await gw.app.inject({ url: '/api/status', remoteAddress: '192.0.2.50' })).statusCode);
      assert.deepEqual(codes, [401, 401, 429]);
      assert.equal((await gw.app.inject({ url: '/api/status', remoteAddress: '192.0.2.51' })).statusCode, 401);
      assert.equal((await gw.app.inject({ url: '/healthz/live', remoteAddress: '192.0.2.50' })).statusCode, 200, 'probes are exempt');
    } finally {
      await gw.close();
    }
  });

  it('queues a subject beyond its concurrency limit briefly, then answers 503', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = { plugin: async (app: FastifyInstance) => void app.get('/api/slow', { schema: {}, config: { access: { scope: 'read' } } }, async () => gate.then(() => ({ ok: true }))) };
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { concurrency: 2, queue_ms: 150 } }, deps: { routes: [slow] } });
    try {
      const held = [gw.app.inject({ url: '/api/slow', headers: bearer(secret) }), gw.app.inject({ url: '/api/slow', headers: bearer(secret) })];
      await new Promise((r) => setTimeout(r, 50));
      const third = await gw.app.inject({ url: '/api/slow', headers: bearer(secret) });
      assert.equal(third.statusCode, 503);
      assert.match(third.json().error.message, /too many concurrent requests/);
      release();
      assert.deepEqual((await Promise.all(held)).map((r) => r.statusCode), [200, 200]);
      assert.equal((await gw.app.inject({ url: '/api/slow', headers: bearer(secret) })).statusCode, 200, 'slots are given back');
    } finally {
      release();
      await gw.close();
    }
  });

  it('drops cached verifications on reload, so a revoked token fails at once', async () => {
    // A gateway-only route: what the gateway's own cache decides, with no daemon call behind it.
    const local = { plugin: async (app: FastifyInstance) => void app.get('/api/local', { schema: {}, config: { access: { scope: 'read' } } }, async () => ({ ok: true })) };
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket, deps: { routes: [local] } });
    try {
      const t = await generateToken(daemon.adminSocket, { name: 'reload-me', role: 'viewer' });
      assert.equal((await gw.app.inject({ url: '/api/status', headers: bearer(t.secret) })).statusCode, 200);
      assert.equal((await gw.app.inject({ url: '/api/local', headers: bearer(t.secret) })).statusCode, 200);
      await revokeToken(daemon.adminSocket, 'reload-me');
      assert.equal((await gw.app.inject({ url: '/api/local', headers: bearer(t.secret) })).statusCode, 200, 'still cached by the gateway (documented ≤ 5 s window)');
      // The daemon re-verifies the forwarded token on every call: daemon-backed routes refuse it at once.
      assert.equal((await gw.app.inject({ url: '/api/status', headers: bearer(t.secret) })).statusCode, 401);
      gw.app.loki.reload(gw.config);
      assert.equal((await gw.app.inject({ url: '/api/local', headers: bearer(t.secret) })).statusCode, 401);
    } finally {
      await gw.close();
    }
  });

  it('serves everything as the anonymous admin when auth is disabled on loopback', async () => {
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { enterprise: { auth: { enabled: false } } } });
    try {
      const r = await gw.app.inject({ url: '/api/status' });
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().caller.subject, 'anonymous');
      assert.equal(r.json().gateway.auth, 'disabled');
    } finally {
      await gw.close();
    }
  });
});
