// The route census: every route in the table is walked without credentials;
// only health probes, the OIDC login endpoints, the dashboard shell and its token
// login, and the sign-in methods the login page asks for may answer anything but 401.
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../common/src/index.js';
import { createOidcAuthenticator } from '../../gateway/src/auth/oidc/index.js';
import { buildTestGateway, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

const PUBLIC = new Set(['/health', '/healthz/live', '/healthz/ready', '/auth/oidc/login', '/auth/oidc/callback', '/auth/logout', '/', '/assets/:name', '/auth/methods']);
// Public by method: the dashboard's token login (its GET answers who is signed in, so it needs credentials).
const PUBLIC_METHOD = new Set(['POST /auth/session']);

describe('route census', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  before(async () => {
    daemon = await startTestDaemon();
    const log = createLogger({ name: 'census', level: 'silent' });
    const oidc = createOidcAuthenticator({}, { log, secureCookies: false, publicBaseUrl: 'http://127.0.0.1:57374', routeConfig: { access: { scope: 'public' } } });
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { unauthenticated_per_minute: 100_000, burst: 100_000 } }, deps: { oidc } });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  it('finds the core routes and the OIDC login routes in the table', () => {
    const urls = new Set(gw.app.loki.routes.map((r) => r.url));
    for (const u of ['/api/status', '/api/enterprise/tokens', '/api/enterprise/tokens/:id', '/metrics', '/auth/oidc/login', '/auth/oidc/callback', '/api/enterprise/audit']) {
      assert.ok(urls.has(u), `missing ${u}`);
    }
  });

  it('answers 401 without credentials on every route except health, OIDC login and the dashboard shell and login', async () => {
    const checked: string[] = [];
    for (const r of gw.app.loki.routes) {
      const url = r.url.replace(/:(\w+)/g, 'x');
      const res = await gw.app.inject({ method: r.method as 'GET', url, ...(r.method === 'POST' ? { payload: {} } : {}) });
      if (PUBLIC.has(r.url) || PUBLIC_METHOD.has(`${r.method} ${r.url}`)) {
        assert.equal(r.access.scope, 'public', `${r.method} ${r.url}`);
        assert.notEqual(res.statusCode, 401, `${r.method} ${r.url} is public`);
      } else {
        assert.notEqual(r.access.scope, 'public', `${r.method} ${r.url}`);
        assert.equal(res.statusCode, 401, `${r.method} ${r.url} answered ${res.statusCode} without credentials`);
        if (r.method !== 'HEAD') assert.equal(res.json().error.code, 'unauthenticated');
      }
      checked.push(`${r.method} ${r.url}`);
    }
    assert.ok(checked.length >= 15, `only ${checked.length} routes walked`);
  });

  async function buildWith(register: (app: FastifyInstance) => void): Promise<unknown> {
    try {
      const g = await buildTestGateway({ socket: daemon.gatewaySocket, deps: { routes: [{ plugin: async (app) => register(app) }] } });
      await g.close();
      return undefined;
    } catch (err) {
      return err;
    }
  }

  it('refuses to start when a route declares no scope', async () => {
    const err = await buildWith((app) => app.get('/api/forgotten', { schema: {} }, async () => ({})));
    assert.match(String(err), /GET \/api\/forgotten declares no access/);
  });

  it('refuses to start when a non-health route declares itself public', async () => {
    const err = await buildWith((app) => app.get('/api/open', { schema: {}, config: { access: { scope: 'public' } } }, async () => ({})));
    assert.match(String(err), /\/api\/open is declared public/);
  });

  it('refuses to start when a route has no JSON schema', async () => {
    const err = await buildWith((app) => app.post('/api/loose', { config: { access: { scope: 'write' } } }, async () => ({})));
    assert.match(String(err), /\/api\/loose declares no JSON schema/);
  });

  it('applies the same gate to route groups contributed by other features', async () => {
    const g = await buildTestGateway({
      socket: daemon.gatewaySocket,
      deps: { routes: [{ plugin: async (app) => void app.get('/api/sessions', { schema: {}, config: { access: { scope: 'read', owner: true } } }, async () => ({ sessions: [] })) }] },
    });
    try {
      assert.equal((await g.app.inject({ url: '/api/sessions' })).statusCode, 401);
    } finally {
      await g.close();
    }
  });
});
