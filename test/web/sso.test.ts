// Single sign-on from the web dashboard's own login page, in real headless
// Chromium, against a real OpenID provider (oidc-provider), a real lokid (which
// verifies the forwarded ID token itself) and the real gateway over HTTP. The
// login page offers the provider only when the gateway has OIDC configured: a
// gateway without it must not send the user to a JSON 404.
import assert from 'node:assert/strict';
import { createOidcAuthenticator, type OidcAuthenticatorHandle } from '../../gateway/src/auth/oidc/index.js';
import { CookieSealer } from '../../gateway/src/auth/oidc/cookies.js';
import { signInAtProvider, silentLog } from '../gateway/oidc/helpers.js';
import { CLIENT_ID, CLIENT_SECRET, freePort, makeKey, startProvider, type TestProvider } from '../gateway/oidc/provider.js';
import { buildTestGateway, startTestDaemon, type TestDaemon, type TestGateway } from '../gateway/helpers.js';
import { openBrowser, screenshot, type TestBrowser } from './browser.js';

const ROLE_MAP = { 'loki-operators': 'operator' };
const COOKIE_SECRET = 'dashboard-sso-test-cookie-secret-0123456789';
const SSO_LINK = 'a[href="/auth/oidc/login"]';

describe('web dashboard sign-in with OIDC single sign-on (real provider, real Chromium)', function () {
  this.timeout(120_000);
  let provider: TestProvider;
  let daemon: TestDaemon;
  let oidc: OidcAuthenticatorHandle;
  let sso: TestGateway;
  let plain: TestGateway;
  let base = '';
  let plainBase = '';
  let b: TestBrowser;

  before(async function () {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    provider = await startProvider({ keys: [await makeKey('RS256', 'rsa-1')], gatewayBase: base, sid: true, endSession: false });
    // The provider puts its session id (`sid`) in ID tokens and offers no RP-initiated logout: logging out of
    // Loki leaves the provider session, so signing in again gets the same `sid` (the case a logout must not lock out).
    daemon = await startTestDaemon({ auth: { oidc: { issuer: provider.issuer, client_id: CLIENT_ID, role_map: ROLE_MAP } } });
    oidc = createOidcAuthenticator(
      { issuer: provider.issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, role_map: ROLE_MAP, cookie_secret: COOKIE_SECRET },
      { log: silentLog, secureCookies: false, publicBaseUrl: base, routeConfig: { access: { scope: 'public' } } },
    );
    assert.equal(await oidc.settled(), 'ready');
    // The test itself replays refused cookies from one address: keep the lockout out of the way.
    const raw = { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000, lockout_failures: 1000 } };
    sso = await buildTestGateway({ socket: daemon.gatewaySocket, deps: { oidc }, raw });
    await sso.app.listen({ host: '127.0.0.1', port });
    // The same daemon behind a gateway without OIDC (the default).
    plain = await buildTestGateway({ socket: daemon.gatewaySocket, raw });
    await plain.app.listen({ host: '127.0.0.1', port: 0 });
    plainBase = `http://127.0.0.1:${(plain.app.server.address() as { port: number }).port}`;
    b = await openBrowser();
    // The provider's own pages import web fonts: nothing leaves this machine.
    await b.context.route(/^https:/, (route) => route.abort());
  });

  after(async function () {
    await b?.close();
    await sso?.close();
    await plain?.close();
    await oidc?.close();
    await provider?.close();
    await daemon?.close();
  });

  it('says which sign-in methods each gateway offers (GET /auth/methods, no credentials)', async () => {
    const on = await fetch(`${base}/auth/methods`);
    assert.equal(on.status, 200);
    assert.deepEqual(await on.json(), { token: true, oidc: 'ready' });
    assert.equal(on.headers.get('cache-control'), 'no-store');
    const off = await fetch(`${plainBase}/auth/methods`);
    assert.deepEqual(await off.json(), { token: true, oidc: 'disabled' });
  });

  it('offers no single sign-on on a gateway without OIDC', async () => {
    await b.page.goto(`${plainBase}/`);
    await b.page.waitForSelector('#token');
    // The page has asked /auth/methods once the form is there; give a late answer time to render.
    await b.page.waitForLoadState('networkidle');
    assert.equal(await b.page.locator(SSO_LINK).count(), 0, 'no link to a sign-in this gateway does not have');
    assert.equal(await b.page.locator('text=organisation').count(), 0);
  });

  it('signs in through the provider from the login page and lands in the dashboard as the OIDC user', async () => {
    const { page } = b;
    await page.goto(`${base}/`);
    await page.click(SSO_LINK);
    await page.waitForURL((u) => u.href.startsWith(provider.issuer), { timeout: 15_000 });
    await signInAtProvider(page, 'alice');
    await page.waitForURL(`${base}/`);
    await page.waitForSelector('nav[aria-label=Main]');
    assert.match((await page.textContent('.who')) ?? '', /oidc:alice/);
    // The daemon verified the forwarded ID token itself: a data page loads for this user.
    await page.goto(`${base}/#/sessions`);
    await page.waitForSelector('h1:text("Sessions")');
    await page.waitForSelector('text=No sessions yet.');
    await screenshot(page, 'sso-signed-in-1280x800');
    // An operator has no Tokens page (admin only).
    assert.equal(await page.locator('nav a[href="#/tokens"]').count(), 0);
  });

  it('logging out ends the session: a copy of the cookie taken before stops working', async () => {
    const { page, context } = b;
    const session = (await context.cookies(base)).find((c) => c.name === 'loki_session');
    assert.ok(session, 'signed in with an OIDC session cookie');
    const copied = `${session.name}=${session.value}`;
    const before = await fetch(`${base}/api/status`, { headers: { cookie: copied } });
    assert.equal(before.status, 200, 'the copy works while the session lasts');
    await page.click('button:text("Log out")');
    // No RP-initiated logout at this provider: straight back to the dashboard's login page.
    await page.waitForSelector('#token');
    assert.ok(!(await context.cookies(base)).some((c) => c.name === 'loki_session'), 'the browser dropped the cookie');
    const after = await fetch(`${base}/api/status`, { headers: { cookie: copied } });
    assert.equal(after.status, 401, 'the copied cookie is refused after logout');
    const me = await fetch(`${base}/auth/session`, { headers: { cookie: copied } });
    assert.equal(me.status, 401);
  });

  it('signs in again in the same provider session after a logout: only the sign-in that logged out is refused', async () => {
    const { page, context } = b;
    await page.click(SSO_LINK);
    // The provider session from the first test is still there: no password asked.
    await page.waitForURL(`${base}/`, { timeout: 15_000 });
    await page.waitForSelector('nav[aria-label=Main]');
    const first = (await context.cookies(base)).find((c) => c.name === 'loki_session')!;
    await page.click('button:text("Log out")');
    await page.waitForSelector('#token');
    // The provider kept alice's session: it sends her straight back, with the same provider session id.
    await page.click(SSO_LINK);
    await page.waitForURL(`${base}/`, { timeout: 15_000 });
    await page.waitForSelector('nav[aria-label=Main]');
    assert.match((await page.textContent('.who')) ?? '', /oidc:alice/);
    const second = (await context.cookies(base)).find((c) => c.name === 'loki_session')!;
    assert.notEqual(second.value, first.value);
    const sealer = new CookieSealer(COOKIE_SECRET);
    const [a, c] = await Promise.all([first, second].map((k) => sealer.open('session', k.value, Date.now())));
    assert.ok(a?.sid && a.sid === c?.sid, `the scenario under test: both sign-ins share the provider's session id (${String(a?.sid)} / ${String(c?.sid)})`);
    assert.equal((await fetch(`${base}/api/status`, { headers: { cookie: `loki_session=${second.value}` } })).status, 200, 'the new sign-in works');
    assert.equal((await fetch(`${base}/api/status`, { headers: { cookie: `loki_session=${first.value}` } })).status, 401, 'the one logged out stays refused');
  });

  it('saw no script error, CSP violation or unexpected HTTP error', () => {
    assert.deepEqual(b.problems, []);
  });
});
