// A stream opened by someone signed in through OIDC must end when their sign-in
// does, as an API token's stream ends when the token is revoked: a real OpenID
// provider (oidc-provider), a real sign-in in headless Chromium, a real lokid
// (which verifies the forwarded ID token) and the real gateway over HTTP. The
// event stream is then read from outside the browser with the session's cookie,
// as a copy of the cookie (or the browser itself) would.
import assert from 'node:assert/strict';
import { createOidcAuthenticator, type OidcAuthenticatorHandle } from '../../../gateway/src/auth/oidc/index.js';
import { STREAM_RECHECK_MS } from '../../../gateway/src/plugins/stream-credentials.js';
import { openBrowser, type TestBrowser } from '../../web/browser.js';
import { buildTestGateway, startTestDaemon, type TestDaemon, type TestGateway } from '../helpers.js';
import { endsWithin } from '../sse-client.js';
import { mint, nowSec, signInAtProvider, silentLog } from './helpers.js';
import { CLIENT_ID, CLIENT_SECRET, freePort, makeKey, startProvider, type SigningKey, type TestProvider } from './provider.js';

const COOKIE_SECRET = 'oidc-streams-test-cookie-secret-0123456789';
/** The provider's ID tokens, and so its browser sessions, last this long. */
const SESSION_S = 15;

describe('an open stream of an OIDC sign-in', function () {
  this.timeout(120_000);
  let key: SigningKey;
  let provider: TestProvider;
  let daemon: TestDaemon;
  let oidc: OidcAuthenticatorHandle;
  let gw: TestGateway;
  let base = '';
  let b: TestBrowser;
  let settings: Record<string, unknown>;

  before(async function () {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    key = await makeKey('RS256', 'rsa-1');
    provider = await startProvider({ keys: [key], gatewayBase: base, port: await freePort(), idTokenTtlSeconds: SESSION_S });
    daemon = await startTestDaemon({ auth: { oidc: { issuer: provider.issuer, client_id: CLIENT_ID } } });
    // No clock tolerance: a JWT stops being accepted at its `exp`.
    settings = { issuer: provider.issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, cookie_secret: COOKIE_SECRET, clock_tolerance_seconds: 0 };
    oidc = createOidcAuthenticator(
      settings,
      { log: silentLog, secureCookies: false, publicBaseUrl: base, routeConfig: { access: { scope: 'public' } } },
    );
    assert.equal(await oidc.settled(), 'ready');
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, deps: { oidc }, raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } } });
    await gw.app.listen({ host: '127.0.0.1', port });
    b = await openBrowser();
    // The provider's own pages import web fonts: nothing leaves this machine.
    await b.context.route(/^https:/, (route) => route.abort());
  });

  after(async function () {
    await b?.close();
    gw?.app.server.closeAllConnections();
    await gw?.close();
    await oidc?.close();
    await provider?.close();
    await daemon?.close();
  });

  /** Signs in through the provider in the browser; resolves with the session cookie (`name=value`). */
  async function signIn(): Promise<string> {
    await b.context.clearCookies();
    await b.page.goto(`${base}/auth/oidc/login?returnTo=/auth/session`, { waitUntil: 'domcontentloaded' });
    await signInAtProvider(b.page, 'alice');
    await b.page.waitForURL(`${base}/auth/session`);
    const c = (await b.context.cookies(base)).find((x) => x.name === 'loki_session');
    assert.ok(c, 'signed in with an OIDC session cookie');
    return `${c.name}=${c.value}`;
  }

  async function openEvents(headers: Record<string, string>): Promise<Response> {
    const res = await fetch(`${base}/api/events`, { headers });
    if (res.status !== 200) assert.fail(`GET /api/events: ${res.status} ${await res.text()}`);
    return res;
  }

  it('is cut once the browser session logs out, and stays open until then', async () => {
    const cookie = await signIn();
    const res = await openEvents({ cookie });
    // Still open a whole re-check later: a valid sign-in is not cut.
    const stream = endsWithin(res, STREAM_RECHECK_MS + 1_000 + STREAM_RECHECK_MS + 3_000);
    await new Promise((r) => setTimeout(r, STREAM_RECHECK_MS + 1_000));
    const out = await fetch(`${base}/auth/logout`, { headers: { cookie }, redirect: 'manual' });
    assert.equal(out.status, 302);
    const took = await stream;
    assert.notEqual(took, 'open', 'the stream outlived the logout');
    assert.ok((took as number) >= STREAM_RECHECK_MS + 1_000, `cut after ${took} ms, before the logout`);
    assert.equal((await fetch(`${base}/api/events`, { headers: { cookie } })).status, 401);
  });

  it('is cut once the browser session expires (opened with a stream ticket)', async () => {
    const cookie = await signIn();
    const t = await fetch(`${base}/api/auth/stream-ticket`, { method: 'POST', headers: { cookie, origin: base, 'content-type': 'application/json' }, body: JSON.stringify({ path: '/api/events' }) });
    const body = (await t.json()) as { ticket: string };
    assert.equal(t.status, 201, JSON.stringify(body));
    const { ticket } = body;
    const viaTicket = await fetch(`${base}/api/events?ticket=${ticket}`);
    assert.equal(viaTicket.status, 200);
    const took = await endsWithin(viaTicket, SESSION_S * 1000 + STREAM_RECHECK_MS + 3_000);
    assert.notEqual(took, 'open', 'the stream outlived its browser session');
    assert.equal((await fetch(`${base}/api/events`, { headers: { cookie } })).status, 401, 'the session has ended');
  });

  it('is cut once its OIDC bearer token expires', async () => {
    const jwt = await mint(key, { iss: provider.issuer, aud: CLIENT_ID, sub: 'bob', exp: nowSec() + 6 });
    const res = await openEvents({ authorization: `Bearer ${jwt}` });
    const took = await endsWithin(res, 6_000 + STREAM_RECHECK_MS + 3_000);
    assert.notEqual(took, 'open', 'the stream outlived its token');
  });

  it('is cut once a reload changes the role mapping its session was made under', async () => {
    const cookie = await signIn();
    const res = await openEvents({ cookie });
    oidc.reload({ ...settings, role_map: { engineering: 'admin' } });
    try {
      assert.notEqual(await endsWithin(res, STREAM_RECHECK_MS + 3_000), 'open', 'the stream kept the role of the old mapping');
    } finally {
      oidc.reload(settings);
    }
  });
});
