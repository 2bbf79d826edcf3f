// The auth plugin with the real OIDC module against a real OpenID provider:
// a bearer JWT becomes an oidc:<sub> identity that goes through the same scope gate.
import assert from 'node:assert/strict';
import { createOidcAuthenticator, type OidcAuthenticatorHandle } from '../../gateway/src/auth/oidc/index.js';
import { mint, nowSec, silentLog } from './oidc/helpers.js';
import { CLIENT_ID, makeKey, startProvider, type SigningKey, type TestProvider } from './oidc/provider.js';
import { bearer, buildTestGateway, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

describe('gateway with OIDC bearer tokens', () => {
  let daemon: TestDaemon;
  let provider: TestProvider;
  let key: SigningKey;
  let oidc: OidcAuthenticatorHandle;
  let gw: TestGateway;
  const claims = (over: Record<string, unknown> = {}) => ({ iss: provider.issuer, aud: CLIENT_ID, sub: 'alice', iat: nowSec(), exp: nowSec() + 300, ...over });

  before(async () => {
    key = await makeKey('RS256', 'k1');
    provider = await startProvider({ keys: [key], gatewayBase: 'http://127.0.0.1:1' });
    // The daemon verifies the forwarded JWT itself, with the same issuer and role mapping.
    daemon = await startTestDaemon({ auth: { oidc: { issuer: provider.issuer, client_id: CLIENT_ID, role_map: { 'loki-operators': 'operator' } } } });
    oidc = createOidcAuthenticator(
      { issuer: provider.issuer, client_id: CLIENT_ID, role_map: { 'loki-operators': 'operator' } },
      { log: silentLog, secureCookies: false, publicBaseUrl: 'http://127.0.0.1:1', routeConfig: { access: { scope: 'public' } } },
    );
    assert.equal(await oidc.settled(), 'ready');
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, deps: { oidc } });
  });
  after(async () => {
    await gw?.close();
    await oidc?.close();
    await provider?.close();
    await daemon?.close();
  });

  it('lets a mapped OIDC user through the scope gate as oidc:<sub>', async () => {
    const jwt = await mint(key, claims({ groups: ['loki-operators'] }));
    const r = await gw.app.inject({ url: '/api/status', headers: bearer(jwt) });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().caller.subject, 'oidc:alice');
    assert.equal(r.json().gateway.oidc, 'ready');
    assert.equal((await gw.app.inject({ url: '/api/enterprise/tokens', headers: bearer(jwt) })).statusCode, 403);
  });

  it('answers 401 to an expired or foreign-audience JWT and counts it as oidc_invalid', async () => {
    const expired = await mint(key, claims({ exp: nowSec() - 3600, iat: nowSec() - 7200 }));
    const foreign = await mint(key, claims({ aud: 'someone-else' }));
    for (const jwt of [expired, foreign]) {
      const r = await gw.app.inject({ url: '/api/status', headers: bearer(jwt) });
      assert.equal(r.statusCode, 401);
      assert.equal(r.json().error.code, 'unauthenticated');
    }
    assert.match((await gw.app.loki.metrics.render()).body, /loki_auth_failures_total\{reason="oidc_invalid"\} 2/);
  });
});
