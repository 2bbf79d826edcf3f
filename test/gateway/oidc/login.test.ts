import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createOidcAuthenticator, type OidcAuthenticatorHandle } from '../../../gateway/src/auth/oidc/index.js';
import { CookieSealer } from '../../../gateway/src/auth/oidc/cookies.js';
import { signInAtProvider, silentLog } from './helpers.js';
import { CLIENT_ID, CLIENT_SECRET, freePort, makeKey, startProvider, type TestProvider } from './provider.js';

const CHROMIUM = '/usr/bin/chromium';
const COOKIE_SECRET = 'browser-login-test-cookie-secret-0123456789';

describe('OIDC browser login in headless Chromium', function () {
  this.timeout(60_000);
  let provider: TestProvider;
  let oidc: OidcAuthenticatorHandle;
  let app: FastifyInstance;
  let browser: Browser;
  let gw: string;

  before(async function () {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    const port = await freePort();
    gw = `http://127.0.0.1:${port}`;
    provider = await startProvider({ keys: [await makeKey('RS256', 'rsa-1')], gatewayBase: gw });
    oidc = createOidcAuthenticator(
      {
        issuer: provider.issuer,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        role_map: { 'loki-operators': 'operator' },
        cookie_secret: COOKIE_SECRET,
      },
      { log: silentLog, secureCookies: false, publicBaseUrl: gw },
    );
    assert.equal(await oidc.settled(), 'ready');
    app = Fastify();
    await oidc.registerRoutes(app);
    app.get('/whoami', async (req, reply) => {
      const id = await oidc.identityFromCookie(req);
      return id ? id : reply.code(401).send({ error: 'no session' });
    });
    app.get('/', async () => ({ home: true }));
    await app.listen({ host: '127.0.0.1', port });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async function () {
    await browser?.close();
    await app?.close();
    await oidc?.close();
    await provider?.close();
  });

  async function bodyJson(page: Page): Promise<Record<string, unknown>> {
    return JSON.parse(await page.innerText('body')) as Record<string, unknown>;
  }

  let context: BrowserContext;
  /** A fresh browser profile that cannot reach the internet (the provider's pages import web fonts). */
  async function newContext(): Promise<BrowserContext> {
    const c = await browser.newContext();
    await c.route(/^https:/, (route) => route.abort());
    return c;
  }
  afterEach(async function () {
    await context?.close();
  });

  it('logs in through the provider, keeps an HttpOnly session cookie, and logs out', async function () {
    context = await newContext();
    const page = await context.newPage();
    await page.goto(`${gw}/auth/oidc/login?returnTo=/whoami`, { waitUntil: 'domcontentloaded' });
    assert.ok(page.url().startsWith(provider.issuer), `at the provider: ${page.url()}`);
    await signInAtProvider(page, 'alice');
    await page.waitForURL(`${gw}/whoami`);
    const me = await bodyJson(page);
    assert.deepEqual(me, { subject: 'oidc:alice', scopes: ['control', 'write', 'read'], method: 'oidc', role: 'operator', viaCookie: true, credentialId: me.credentialId, credential: me.credential, oidcSession: me.oidcSession });
    // The session carries the verified ID token so the daemon can check the user itself.
    const idt = JSON.parse(Buffer.from(String(me.credential).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(idt.sub, 'alice');
    assert.equal(idt.aud, CLIENT_ID);
    assert.equal(typeof me.credentialId, 'string', 'the provider session id (sid) is kept for audit');

    const cookies = await context.cookies(gw);
    const session = cookies.find((c) => c.name === 'loki_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');
    assert.ok(!(await context.cookies()).some((c) => c.name === 'loki_oidc_state'), 'state cookie is single-use');

    await page.goto(`${gw}/auth/logout`, { waitUntil: 'domcontentloaded' });
    assert.ok(page.url().startsWith(`${provider.issuer}/session/end`), `RP-initiated logout at the provider: ${page.url()}`);
    assert.ok(!(await context.cookies(gw)).some((c) => c.name === 'loki_session'), 'session cookie cleared');
    await page.click('button[name=logout][value=yes]');
    await page.waitForURL(`${gw}/`);
    const res = await page.goto(`${gw}/whoami`);
    assert.equal(res?.status(), 401);
  });

  it('maps a user without a mapped group to the default role viewer', async function () {
    context = await newContext();
    const page = await context.newPage();
    await page.goto(`${gw}/auth/oidc/login`, { waitUntil: 'domcontentloaded' });
    await signInAtProvider(page, 'carol');
    await page.waitForURL(`${gw}/`);
    const res = await page.goto(`${gw}/whoami`);
    const me = (await res?.json()) as Record<string, unknown>;
    assert.equal(me.subject, 'oidc:carol');
    assert.equal(me.role, 'viewer');
    assert.deepEqual(me.scopes, ['read']);
  });

  it('rejects the callback when the ID token nonce is not the one this login sent', async function () {
    context = await newContext();
    const page = await context.newPage();
    await page.goto(`${gw}/auth/oidc/login`, { waitUntil: 'domcontentloaded' });
    // Swap the state cookie for one with the same state and PKCE verifier but another nonce.
    const stateCookie = (await context.cookies()).find((c) => c.name === 'loki_oidc_state');
    assert.ok(stateCookie);
    const sealer = new CookieSealer(COOKIE_SECRET);
    const claims = await sealer.open('state', stateCookie.value, Date.now());
    assert.ok(claims);
    const { iat: _iat, exp: _exp, ...rest } = claims;
    const forged = await sealer.seal('state', { ...rest, nonce: 'a-different-nonce' }, Date.now(), 600);
    await context.addCookies([{ ...stateCookie, value: forged }]);
    await signInAtProvider(page, 'alice');
    await page.waitForURL((u) => u.pathname === '/auth/oidc/callback');
    // The browser gets a page saying what happened and how to start again, not JSON.
    assert.equal(await page.textContent('h1'), 'Sign-in did not complete');
    assert.match((await page.textContent('main')) ?? '', /nonce does not match[\s\S]*Start again[\s\S]*unauthenticated/);
    assert.ok(!(await context.cookies(gw)).some((c) => c.name === 'loki_session'), 'no session was created');
  });
});
