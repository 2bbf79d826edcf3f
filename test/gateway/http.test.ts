// HTTP behaviour: security headers, CORS, CSRF, error bodies, readiness, TLS.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Identity } from '../../gateway/src/auth/identity.js';
import { disabledOidc } from '../../gateway/src/auth/oidc-disabled.js';
import type { OidcAuthenticator } from '../../gateway/src/auth/oidc/types.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { bearer, buildTestGateway, generateToken, selfSignedCert, startTestDaemon, tempDir, type TestDaemon, type TestGateway } from './helpers.js';

// The OIDC seam with a fixed browser session: the cookie path of the auth plugin
// is under test here, not OIDC itself (that has its own suite with a real provider).
function cookieSessionOidc(identity: Identity): OidcAuthenticator {
  return {
    ...disabledOidc(),
    identityFromCookie: async (req) => (req.headers.cookie?.includes('loki_session=valid') ? identity : undefined),
  };
}

const writeRoute = {
  plugin: async (app: FastifyInstance) => {
    app.post('/api/control/pause', { schema: { body: { type: 'object', properties: { session: { type: 'string' } } } }, config: { access: { scope: 'control' } } }, async () => ({ ok: true }));
    app.get('/dashboard', { schema: {}, config: { access: { scope: 'read' } } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send('<!doctype html><p>hi</p>'));
  },
};

describe('gateway HTTP behaviour', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  let secret: string;
  before(async () => {
    daemon = await startTestDaemon();
    secret = (await generateToken(daemon.adminSocket, { name: 'op', role: 'operator' })).secret;
    gw = await buildTestGateway({
      socket: daemon.gatewaySocket,
      raw: { body_limit_bytes: 4096, cors: { origins: ['https://ui.example'], credentials: true } },
      deps: { routes: [writeRoute], oidc: cookieSessionOidc({ subject: 'oidc:alice', scopes: ['control', 'write', 'read'], method: 'oidc' }) },
    });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  it('sends the security headers on every response, errors and 404s included, and no server banner', async () => {
    for (const url of ['/health', '/api/status', '/nowhere']) {
      const r = await gw.app.inject({ url });
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['x-frame-options'], 'DENY');
      assert.equal(r.headers['referrer-policy'], 'strict-origin-when-cross-origin');
      assert.match(String(r.headers['content-security-policy']), /default-src 'none'/);
      assert.match(String(r.headers['x-request-id']), /^[0-9a-f-]{36}$/);
      assert.equal(r.headers['server'], undefined);
      assert.equal(r.headers['x-powered-by'], undefined);
      assert.equal(r.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
      // Nothing an API answers is kept in a browser's disk cache or a shared cache.
      assert.equal(r.headers['cache-control'], 'no-store', url);
    }
  });

  it('gives HTML a strict CSP without inline script', async () => {
    const r = await gw.app.inject({ url: '/dashboard', headers: bearer(secret) });
    assert.equal(r.statusCode, 200);
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(csp, /frame-ancestors 'none'/);
  });

  it('answers CORS only for configured origins, preflight included', async () => {
    const ok = await gw.app.inject({ method: 'OPTIONS', url: '/api/status', headers: { origin: 'https://ui.example', 'access-control-request-method': 'GET' } });
    assert.equal(ok.statusCode, 204);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://ui.example');
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    const evil = await gw.app.inject({ url: '/api/status', headers: { ...bearer(secret), origin: 'https://evil.example' } });
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
    const noCors = await buildTestGateway({ socket: daemon.gatewaySocket });
    try {
      const r = await noCors.app.inject({ method: 'OPTIONS', url: '/api/status', headers: { origin: 'https://ui.example', 'access-control-request-method': 'GET' } });
      assert.equal(r.headers['access-control-allow-origin'], undefined);
      assert.notEqual(r.statusCode, 204);
    } finally {
      await noCors.close();
    }
  });

  it('refuses a cookie-authenticated change from another origin but allows same-origin and bearer requests', async () => {
    const cookie = { cookie: 'loki_session=valid' };
    const cross = await gw.app.inject({ method: 'POST', url: '/api/control/pause', headers: { ...cookie, origin: 'https://evil.example' }, payload: {} });
    assert.equal(cross.statusCode, 403);
    assert.match(cross.json().error.message, /cross-site request refused/);
    const noOrigin = await gw.app.inject({ method: 'POST', url: '/api/control/pause', headers: cookie, payload: {} });
    assert.equal(noOrigin.statusCode, 403);
    const same = await gw.app.inject({ method: 'POST', url: '/api/control/pause', headers: { ...cookie, origin: 'http://localhost:80', host: 'localhost:80' }, payload: {} });
    assert.equal(same.statusCode, 200, same.body);
    const fetchMeta = await gw.app.inject({ method: 'POST', url: '/api/control/pause', headers: { ...cookie, 'sec-fetch-site': 'same-origin' }, payload: {} });
    assert.equal(fetchMeta.statusCode, 200);
    const bearerCross = await gw.app.inject({ method: 'POST', url: '/api/control/pause', headers: { ...bearer(secret), origin: 'https://evil.example' }, payload: {} });
    assert.equal(bearerCross.statusCode, 200, 'bearer tokens are not sent by browsers on their own, so no CSRF check');
    assert.equal((await gw.app.inject({ url: '/api/status', headers: cookie })).statusCode, 200, 'safe methods pass');
  });

  it('answers malformed input with a specific 400, never a 500', async () => {
    const post = (payload: string, type = 'application/json') =>
      gw.app.inject({ method: 'POST', url: '/api/control/pause', headers: { ...bearer(secret), 'content-type': type }, payload });
    const badJson = await post('{"session": ');
    assert.equal(badJson.statusCode, 400);
    assert.equal(badJson.json().error.code, 'invalid_argument');
    assert.match(badJson.json().error.message, /not valid JSON/);
    const wrongType = await post('{"session": 5}');
    assert.equal(wrongType.statusCode, 200, 'numbers coerce to strings under Fastify rules');
    const empty = await post('');
    assert.equal(empty.statusCode, 400);
    const xml = await post('<a/>', 'application/xml');
    assert.equal(xml.statusCode, 400);
    assert.match(xml.json().error.message, /Content-Type/);
    const big = await post(JSON.stringify({ session: 'x'.repeat(10_000) }));
    assert.equal(big.statusCode, 400);
    assert.equal(big.json().error.code, 'payload_too_large');
    const q = await gw.app.inject({ url: '/api/enterprise/audit?limit=abc', headers: bearer(secret) });
    assert.equal(q.statusCode, 403, 'authorization runs before validation: no schema details leak to the unauthorized');
  });

  it('maps daemon errors back through x-loki-error-code', async () => {
    const admin = (await generateToken(daemon.adminSocket, { name: 'adm', role: 'admin' })).secret;
    const dup = () => gw.app.inject({ method: 'POST', url: '/api/enterprise/tokens', headers: bearer(admin), payload: { name: 'twice', role: 'viewer' } });
    assert.equal((await dup()).statusCode, 201);
    const again = await dup();
    assert.equal(again.statusCode, 409, again.body);
    assert.equal(again.json().error.code, 'token_name_in_use');
  });

  it('reports not ready when the gateway is saturated', async () => {
    const releases = Array.from({ length: Math.ceil(gw.config.rate_limit.max_in_flight * 0.95) }, () => gw.app.loki.limiter.enter(true));
    try {
      const r = await gw.app.inject({ url: '/healthz/ready' });
      assert.equal(r.statusCode, 503);
      assert.equal(r.json().checks.capacity, 'saturated');
    } finally {
      releases.forEach((f) => f());
    }
    assert.equal((await gw.app.inject({ url: '/healthz/ready' })).statusCode, 200);
  });
});

describe('gateway without a daemon', () => {
  it('is live but not ready, and answers 503 rather than 401 to a token it cannot verify', async () => {
    const t = tempDir();
    const gw = await buildTestGateway({ socket: join(t.dir, 'missing.sock') });
    try {
      assert.equal((await gw.app.inject({ url: '/healthz/live' })).statusCode, 200);
      const ready = await gw.app.inject({ url: '/healthz/ready' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().checks.daemon, 'unreachable');
      const r = await gw.app.inject({ url: '/api/status', headers: bearer('loki_' + 'D'.repeat(43)) });
      assert.equal(r.statusCode, 503);
      assert.equal(r.json().error.code, 'daemon_unavailable');
      assert.doesNotMatch(r.body, /missing\.sock/, 'socket paths are not shown to HTTP clients');
    } finally {
      await gw.close();
      t.cleanup();
    }
  });
});

describe('gateway over TLS', () => {
  let daemon: TestDaemon;
  let dir: ReturnType<typeof tempDir>;
  before(async () => {
    daemon = await startTestDaemon();
    dir = tempDir();
  });
  after(async () => {
    await daemon?.close();
    dir?.cleanup();
  });

  function get(port: number, path: string, opts: { maxVersion?: 'TLSv1.2' } = {}): Promise<{ status: number; headers: Record<string, unknown>; fingerprint: string; protocol: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false, ...opts }, (res) => {
        const sock = res.socket as import('node:tls').TLSSocket;
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, fingerprint: sock.getPeerCertificate().fingerprint256, protocol: sock.getProtocol() ?? '' }),
        );
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('serves HTTPS with HSTS, and swaps certificates on reload without dropping the listener', async () => {
    const a = selfSignedCert(dir.dir, 'a');
    const b = selfSignedCert(dir.dir, 'b');
    const raw = { log: { level: 'silent' }, tls: { cert: a.cert, key: a.key } };
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw, deps: { tls: { cert: readFileSync(a.cert), key: readFileSync(a.key) } } });
    try {
      await gw.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (gw.app.server.address() as AddressInfo).port;
      const first = await get(port, '/health');
      assert.equal(first.status, 200);
      assert.match(String(first.headers['strict-transport-security']), /max-age=31536000/);
      assert.equal(first.fingerprint, new X509Certificate(readFileSync(a.cert)).fingerprint256);
      const next = loadGatewayConfig({ raw: { ...raw, daemon: { socket: daemon.gatewaySocket }, tls: { cert: b.cert, key: b.key } } });
      gw.app.loki.reload(next, { cert: readFileSync(b.cert), key: readFileSync(b.key) });
      const second = await get(port, '/health');
      assert.equal(second.fingerprint, new X509Certificate(readFileSync(b.cert)).fingerprint256);
      // A key that does not match its certificate is refused and the old context stays.
      assert.throws(() => gw.app.loki.reload(next, { cert: readFileSync(a.cert), key: readFileSync(b.key) }));
      assert.equal((await get(port, '/health')).fingerprint, second.fingerprint);
    } finally {
      await gw.close();
    }
  });

  it('refuses clients below the configured minimum TLS version', async () => {
    const c = selfSignedCert(dir.dir, 'c');
    const gw = await buildTestGateway({
      socket: daemon.gatewaySocket,
      raw: { tls: { cert: c.cert, key: c.key, min_version: 'TLSv1.3' } },
      deps: { tls: { cert: readFileSync(c.cert), key: readFileSync(c.key) } },
    });
    try {
      await gw.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (gw.app.server.address() as AddressInfo).port;
      assert.equal((await get(port, '/health')).protocol, 'TLSv1.3');
      await assert.rejects(
        new Promise((resolve, reject) => {
          const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => resolve(s));
          s.on('error', reject);
        }),
      );
    } finally {
      await gw.close();
    }
  });
});
