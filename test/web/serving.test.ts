// The dashboard as the gateway serves it: a strict CSP with no exception, hashed
// immutable assets from the build manifest only, the first-page JS within its
// gzip budget, and login by token → HttpOnly SameSite=Strict cookie session with
// CSRF protection, logout and revocation. Real daemon, real gateway.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultWebRoot, type WebManifest } from '../../gateway/src/routes/dashboard.js';
import { bearer, buildTestGateway, generateToken, revokeToken, startTestDaemon, type TestDaemon, type TestGateway } from '../gateway/helpers.js';

const STRICT = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; manifest-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const ORIGIN = 'http://localhost:80';

function cookieOf(setCookie: string | string[] | undefined): string {
  const v = Array.isArray(setCookie) ? setCookie[0]! : setCookie!;
  return v.split(';')[0]!;
}

describe('web dashboard serving and browser sessions', function () {
  this.timeout(30_000);
  let d: TestDaemon;
  let gw: TestGateway;
  const tok: Record<string, { secret: string; id: string }> = {};
  const manifest = JSON.parse(readFileSync(join(defaultWebRoot(), 'manifest.json'), 'utf8')) as WebManifest;

  before(async () => {
    d = await startTestDaemon();
    tok.admin = await generateToken(d.adminSocket, { name: 'web-admin', role: 'admin' });
    tok.viewer = await generateToken(d.adminSocket, { name: 'web-viewer', role: 'viewer' });
    tok.doomed = await generateToken(d.adminSocket, { name: 'web-doomed', role: 'operator' });
    gw = await buildTestGateway({ socket: d.gatewaySocket, raw: { enterprise: { auth: { token_cache_ms: 0 } }, rate_limit: { per_minute: 10_000, burst: 10_000, unauthenticated_per_minute: 10_000 } } });
  });
  after(async () => {
    await gw?.close();
    await d?.close();
  });

  const login = (token: string, origin = ORIGIN) =>
    gw.app.inject({ method: 'POST', url: '/auth/session', headers: { host: 'localhost:80', origin, 'content-type': 'application/json' }, payload: JSON.stringify({ token }) });

  it('serves index.html at / under the strict CSP, with no inline script or style', async () => {
    const r = await gw.app.inject({ url: '/' });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.equal(r.headers['content-security-policy'], STRICT);
    assert.doesNotMatch(STRICT, /unsafe|data:|https?:|\*/);
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.doesNotMatch(r.body, /<style|\sstyle=|\son[a-z]+=/i);
    for (const m of r.body.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)) {
      assert.match(m[0], /\ssrc="\/assets\/[A-Za-z0-9_.-]+"/, 'every script is an external, hashed asset');
      assert.equal(m[1]!.trim(), '', 'no inline script body');
    }
    assert.ok(r.body.includes(`/assets/${manifest.entry.js}`) && r.body.includes(`/assets/${manifest.entry.css}`));
  });

  it('serves only the hashed assets of the manifest, cached as immutable', async () => {
    for (const name of [manifest.entry.js, manifest.entry.css]) {
      assert.match(name, /-[A-Z0-9]{8}\.(js|css)$/);
      const r = await gw.app.inject({ url: `/assets/${name}` });
      assert.equal(r.statusCode, 200, name);
      assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    }
    assert.equal((await gw.app.inject({ url: '/assets/app-NOTBUILT.js' })).statusCode, 404);
    for (const evil of ['/assets/..%2fmanifest.json', '/assets/%2e%2e%2f%2e%2e%2fpackage.json', '/assets/manifest.json']) {
      const r = await gw.app.inject({ url: evil });
      assert.ok(r.statusCode === 400 || r.statusCode === 404, `${evil} → ${r.statusCode}`);
      assert.equal(r.json().error.code === 'not_found' || r.json().error.code === 'invalid_argument', true);
    }
  });

  it('keeps the JS the first page loads within 150 KiB gzip', () => {
    const first = manifest.files[manifest.entry.js]!;
    process.stdout.write(`      first-page JS: ${(first.gzip_bytes / 1024).toFixed(1)} KiB gzip\n`);
    assert.ok(first.gzip_bytes > 1000, 'the manifest records a real bundle');
    assert.ok(first.gzip_bytes <= 150 * 1024, `${first.gzip_bytes} bytes gzip is over the budget`);
  });

  it('exchanges a pasted token for an HttpOnly SameSite=Strict cookie that never carries the token', async () => {
    const r = await login(tok.admin!.secret);
    assert.equal(r.statusCode, 201, r.body);
    const set = String(r.headers['set-cookie']);
    assert.match(set, /^loki-web=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    assert.ok(!set.includes(tok.admin!.secret) && !r.body.includes(tok.admin!.secret));
    assert.equal(r.headers['cache-control'], 'no-store');
    const me = r.json<{ subject: string; csrf_token: string; method: string }>();
    assert.equal(me.subject, 'token:web-admin');
    assert.equal(me.method, 'cookie');
    const cookie = cookieOf(r.headers['set-cookie']);
    const who = await gw.app.inject({ url: '/auth/session', headers: { cookie } });
    assert.equal(who.statusCode, 200);
    assert.equal(who.json().csrf_token, me.csrf_token);
    assert.equal((await gw.app.inject({ url: '/api/enterprise/tokens', headers: { cookie } })).statusCode, 200);
  });

  it('refuses a cookie-authenticated change without the CSRF token, or from another origin', async () => {
    const r = await login(tok.admin!.secret);
    const cookie = cookieOf(r.headers['set-cookie']);
    const csrf = r.json<{ csrf_token: string }>().csrf_token;
    const post = (headers: Record<string, string>) =>
      gw.app.inject({ method: 'POST', url: '/api/enterprise/tokens', headers: { host: 'localhost:80', cookie, 'content-type': 'application/json', ...headers }, payload: JSON.stringify({ name: 'csrf-made', role: 'viewer' }) });
    const none = await post({ origin: ORIGIN });
    assert.equal(none.statusCode, 403);
    assert.match(none.json().error.message, /CSRF/);
    assert.equal((await post({ origin: ORIGIN, 'x-csrf-token': 'x'.repeat(43) })).statusCode, 403);
    assert.equal((await post({ origin: 'https://evil.example', 'x-csrf-token': csrf })).statusCode, 403);
    const ok = await post({ origin: ORIGIN, 'x-csrf-token': csrf });
    assert.equal(ok.statusCode, 201, ok.body);
    // A bearer token (no cookie) needs no CSRF token: it cannot be sent by another site.
    assert.equal((await gw.app.inject({ url: '/api/enterprise/tokens', headers: bearer(tok.admin!.secret) })).statusCode, 200);
  });

  it('refuses a cross-site login and a bad token, with clear errors', async () => {
    const cross = await login(tok.admin!.secret, 'https://evil.example');
    assert.equal(cross.statusCode, 403);
    assert.equal(cross.headers['set-cookie'], undefined);
    const bad = await login('loki_' + 'x'.repeat(40));
    assert.equal(bad.statusCode, 401);
    assert.equal(bad.json().error.code, 'unauthenticated');
    const shape = await login('not a token');
    assert.equal(shape.statusCode, 401);
    assert.match(shape.json().error.message, /not a Loki token/);
    const empty = await gw.app.inject({ method: 'POST', url: '/auth/session', headers: { host: 'localhost:80', origin: ORIGIN, 'content-type': 'application/json' }, payload: '{}' });
    assert.equal(empty.statusCode, 400);
  });

  it('logout revokes the cookie session on the server', async () => {
    const r = await login(tok.viewer!.secret);
    const cookie = cookieOf(r.headers['set-cookie']);
    const csrf = r.json<{ csrf_token: string }>().csrf_token;
    const out = await gw.app.inject({ method: 'POST', url: '/auth/session/logout', headers: { host: 'localhost:80', origin: ORIGIN, cookie, 'x-csrf-token': csrf } });
    assert.equal(out.statusCode, 200, out.body);
    assert.match(String(out.headers['set-cookie']), /^loki-web=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict; Expires=/);
    // The old cookie value, replayed, is dead.
    assert.equal((await gw.app.inject({ url: '/api/status', headers: { cookie } })).statusCode, 401);
  });

  it('ends the cookie sessions of a token once it is revoked', async () => {
    const r = await login(tok.doomed!.secret);
    const cookie = cookieOf(r.headers['set-cookie']);
    assert.equal((await gw.app.inject({ url: '/api/status', headers: { cookie } })).statusCode, 200);
    await revokeToken(d.adminSocket, tok.doomed!.id);
    const after = await gw.app.inject({ url: '/api/status', headers: { cookie } });
    assert.equal(after.statusCode, 401);
    assert.match(after.json().error.message, /revoked/);
  });

  it('marks the cookie Secure with the __Host- prefix when served over TLS', async () => {
    const tls = await buildTestGateway({ socket: d.gatewaySocket, raw: { behind_tls_proxy: true } });
    try {
      const r = await tls.app.inject({ method: 'POST', url: '/auth/session', headers: { host: 'localhost:80', origin: ORIGIN, 'content-type': 'application/json' }, payload: JSON.stringify({ token: tok.admin!.secret }) });
      assert.equal(r.statusCode, 201, r.body);
      assert.match(String(r.headers['set-cookie']), /^__Host-loki-web=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await tls.close();
    }
  });
});
