import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { createOidcAuthenticator, safeReturnTo, type OidcAuthenticatorHandle } from '../../../gateway/src/auth/oidc/index.js';
import { parseOidcConfig } from '../../../gateway/src/auth/oidc/config.js';
import { CookieSealer } from '../../../gateway/src/auth/oidc/cookies.js';
import { settingsFingerprint } from '../../../gateway/src/auth/oidc/runtime.js';
import { silentLog } from './helpers.js';
import { CLIENT_ID, CLIENT_SECRET, freePort, makeKey, startProvider, type TestProvider } from './provider.js';

const SECRET = 'routes-test-cookie-secret-0123456789abcdef';
const GW = 'https://loki.example.test';

interface Built {
  app: FastifyInstance;
  oidc: OidcAuthenticatorHandle;
  clock: { now: number };
  routes: Map<string, unknown>;
}

async function build(config: Record<string, unknown>, opts: { secureCookies?: boolean; retryInitialMs?: number } = {}): Promise<Built> {
  const clock = { now: Date.now() };
  const oidc = createOidcAuthenticator(config, {
    log: silentLog,
    secureCookies: opts.secureCookies ?? true,
    publicBaseUrl: GW,
    now: () => clock.now,
    routeConfig: { auth: 'public' },
    retryInitialMs: opts.retryInitialMs ?? 1000,
  });
  await oidc.settled();
  const app = Fastify();
  const routes = new Map<string, unknown>();
  app.addHook('onRoute', (r) => {
    if (r.method === 'GET') routes.set(r.url, r.config);
  });
  await oidc.registerRoutes(app);
  app.get('/whoami', async (req, reply) => (await oidc.identityFromCookie(req)) ?? reply.code(401).send({ error: 'none' }));
  await app.ready();
  return { app, oidc, clock, routes };
}

function cookieFrom(setCookie: string | string[] | undefined, name: string): string | undefined {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  return list.find((c) => c.startsWith(`${name}=`));
}

describe('OIDC login routes', function () {
  let provider: TestProvider;
  let b: Built;
  const built: Built[] = [];

  before(async function () {
    provider = await startProvider({ keys: [await makeKey('ES256', 'ec-1')], gatewayBase: GW });
    b = await build({ issuer: provider.issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, cookie_secret: SECRET });
    built.push(b);
  });

  after(async function () {
    for (const x of built) {
      await x.app.close();
      await x.oidc.close();
    }
    await provider.close();
  });

  async function startLogin(query = ''): Promise<{ url: URL; cookie: string; pair: string }> {
    const res = await b.app.inject({ method: 'GET', url: `/auth/oidc/login${query}` });
    assert.equal(res.statusCode, 302);
    const cookie = cookieFrom(res.headers['set-cookie'], 'loki_oidc_state');
    assert.ok(cookie);
    return { url: new URL(String(res.headers.location)), cookie, pair: cookie.split(';')[0]! };
  }

  it('redirects to the provider with code flow, PKCE S256, state and nonce, and marks the routes public', async function () {
    const { url, cookie } = await startLogin('?returnTo=/sessions');
    assert.equal(url.origin + url.pathname, `${provider.issuer}/auth`);
    const p = url.searchParams;
    assert.equal(p.get('response_type'), 'code');
    assert.equal(p.get('client_id'), CLIENT_ID);
    assert.equal(p.get('redirect_uri'), `${GW}/auth/oidc/callback`);
    assert.equal(p.get('scope'), 'openid email profile');
    assert.equal(p.get('code_challenge_method'), 'S256');
    assert.match(cookie, /Path=\/auth\/oidc; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/);
    const state = await new CookieSealer(SECRET).open('state', cookie.split(';')[0]!.split('=')[1], b.clock.now);
    assert.ok(state);
    assert.equal(p.get('state'), state.state);
    assert.equal(p.get('nonce'), state.nonce);
    assert.equal(p.get('code_challenge'), createHash('sha256').update(String(state.verifier)).digest('base64url'));
    assert.equal(state.returnTo, '/sessions');
    for (const path of ['/auth/oidc/login', '/auth/oidc/callback', '/auth/logout']) {
      assert.deepEqual(b.routes.get(path), { auth: 'public' }, path);
    }
  });

  it('rejects a callback without the state cookie', async function () {
    const res = await b.app.inject({ method: 'GET', url: '/auth/oidc/callback?code=abc&state=xyz' });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error.message, /login state is missing or expired/);
    assert.match(String(cookieFrom(res.headers['set-cookie'], 'loki_oidc_state')), /Max-Age=0/);
  });

  it('rejects a callback whose state does not match the cookie (login CSRF)', async function () {
    const { pair } = await startLogin();
    const res = await b.app.inject({ method: 'GET', url: '/auth/oidc/callback?code=abc&state=attacker-state', headers: { cookie: pair } });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error.message, /state does not match/);
  });

  it('rejects a state cookie older than ten minutes', async function () {
    const { url, pair } = await startLogin();
    b.clock.now += 11 * 60 * 1000;
    try {
      const res = await b.app.inject({ method: 'GET', url: `/auth/oidc/callback?code=abc&state=${url.searchParams.get('state')}`, headers: { cookie: pair } });
      assert.equal(res.statusCode, 400);
      assert.match(res.json().error.message, /missing or expired/);
    } finally {
      b.clock.now = Date.now();
    }
  });

  it('rejects an authorization response from another issuer (mix-up)', async function () {
    const { url, pair } = await startLogin();
    const res = await b.app.inject({ method: 'GET', url: `/auth/oidc/callback?code=abc&iss=https://evil.example&state=${url.searchParams.get('state')}`, headers: { cookie: pair } });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error.message, /different issuer/);
  });

  it('answers 401 with the provider reason when the user declines', async function () {
    const { url, pair } = await startLogin();
    const res = await b.app.inject({ method: 'GET', url: `/auth/oidc/callback?error=access_denied&error_description=End-User%20aborted&state=${url.searchParams.get('state')}`, headers: { cookie: pair } });
    assert.equal(res.statusCode, 401);
    assert.match(res.json().error.message, /refused the login \(access_denied: End-User aborted\)/);
  });

  it('shows a browser a page it can act on, with the reason escaped and the way back, and keeps JSON for API clients', async function () {
    const { url, pair } = await startLogin();
    const html = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
    // The user declined at the provider; the provider's description is attacker-reachable text.
    const desc = encodeURIComponent('<script>alert(1)</script> \u202egnp.exe');
    const res = await b.app.inject({ method: 'GET', url: `/auth/oidc/callback?error=access_denied&error_description=${desc}&state=${url.searchParams.get('state')}`, headers: { cookie: pair, accept: html } });
    assert.equal(res.statusCode, 401);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(res.body, /<h1>Sign-in did not complete<\/h1>/);
    // HTML-escaped; the bidi override was already dropped from the provider's text (printable ASCII only).
    assert.match(res.body, /refused the login \(access_denied: &lt;script&gt;alert\(1\)&lt;\/script&gt; gnp\.exe\)/);
    assert.doesNotMatch(res.body, /<script/);
    assert.match(res.body, /<a href="\/auth\/oidc\/login">Start again<\/a>/);
    assert.match(res.body, new RegExp(`request id <code>${res.headers['x-request-id'] ?? '[^<]+'}</code>`));
    // An API client (no text/html in Accept) still gets the error envelope.
    const api = await b.app.inject({ method: 'GET', url: '/auth/oidc/callback?code=abc&state=xyz', headers: { accept: 'application/json' } });
    assert.equal(api.statusCode, 400);
    assert.match(api.json().error.message, /login state is missing or expired/);
  });

  it('answers 401, not 500, when the provider refuses a forged code', async function () {
    const { url, pair } = await startLogin();
    const res = await b.app.inject({ method: 'GET', url: `/auth/oidc/callback?code=forged&state=${url.searchParams.get('state')}`, headers: { cookie: pair } });
    assert.equal(res.statusCode, 401);
    assert.match(res.json().error.message, /refused the authorization code \(invalid_grant\)/);
  });

  it('ignores a tampered session cookie and one issued before the role mapping changed', async function () {
    const sealer = new CookieSealer(SECRET);
    const fp = settingsFingerprint(parseOidcConfig({ issuer: provider.issuer, client_id: CLIENT_ID }));
    const good = await sealer.seal('session', { subj: 'oidc:alice', scp: ['read'], role: 'viewer', sid: 'ses-1', fp }, b.clock.now, 600);
    const ok = await b.app.inject({ method: 'GET', url: '/whoami', headers: { cookie: `other=1; __Host-loki_session=${good}` } });
    assert.equal(ok.statusCode, 200, 'control: a well-formed current session is accepted');
    // What an open stream's re-check needs: the logout key (no jti here: sid@iat), the expiry, the settings.
    const iat = Math.floor(b.clock.now / 1000);
    const oidcSession = { key: `ses-1@${iat}`, expiresAtMs: (iat + 600) * 1000, fingerprint: fp };
    assert.deepEqual(ok.json(), { subject: 'oidc:alice', scopes: ['read'], method: 'oidc', viaCookie: true, role: 'viewer', credentialId: 'ses-1', oidcSession });
    const stale = await sealer.seal('session', { subj: 'oidc:alice', scp: ['read'], role: 'viewer', fp: 'stale' }, b.clock.now, 600);
    const res = await b.app.inject({ method: 'GET', url: '/whoami', headers: { cookie: `__Host-loki_session=${stale}` } });
    assert.equal(res.statusCode, 401, 'fingerprint of other settings');
    const insecureName = await b.app.inject({ method: 'GET', url: '/whoami', headers: { cookie: `loki_session=${good}` } });
    assert.equal(insecureName.statusCode, 401, 'with TLS only the __Host- cookie counts');
    const tampered = `${good.slice(0, -4)}AAAA`;
    const res2 = await b.app.inject({ method: 'GET', url: '/whoami', headers: { cookie: `__Host-loki_session=${tampered}` } });
    assert.equal(res2.statusCode, 401);
  });

  it('logs out by clearing the cookie and redirecting to the provider end_session_endpoint', async function () {
    const res = await b.app.inject({ method: 'GET', url: '/auth/logout' });
    assert.equal(res.statusCode, 302);
    const loc = new URL(String(res.headers.location));
    assert.equal(loc.origin + loc.pathname, `${provider.issuer}/session/end`);
    assert.equal(loc.searchParams.get('client_id'), CLIENT_ID);
    assert.equal(loc.searchParams.get('post_logout_redirect_uri'), `${GW}/`);
    assert.match(String(cookieFrom(res.headers['set-cookie'], '__Host-loki_session')), /^__Host-loki_session=; Path=\/; Max-Age=0;.*HttpOnly; SameSite=Lax;.*Secure/);
  });

  it('answers 404 when OIDC is not configured and 503 while the provider is unreachable', async function () {
    const off = await build({});
    built.push(off);
    assert.equal((await off.app.inject({ method: 'GET', url: '/auth/oidc/login' })).statusCode, 404);
    const down = await build({ issuer: `http://127.0.0.1:${await freePort()}`, client_id: CLIENT_ID }, { retryInitialMs: 60_000 });
    built.push(down);
    const res = await down.app.inject({ method: 'GET', url: '/auth/oidc/login' });
    assert.equal(res.statusCode, 503);
    assert.match(res.json().error.message, /identity provider cannot be reached/);
  });
});

describe('safeReturnTo', function () {
  it('keeps same-origin paths and drops everything that leaves the origin', function () {
    assert.equal(safeReturnTo('/sessions?id=1#top'), '/sessions?id=1#top');
    assert.equal(safeReturnTo('/a/../b'), '/b');
    for (const bad of ['//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '/\tx', '', undefined, 42]) {
      assert.equal(safeReturnTo(bad), '/', String(bad));
    }
  });
});
