import { strict as assert } from 'node:assert';
import { SignJWT, exportSPKI, importJWK, type CryptoKey } from 'jose';
import { LokiError } from '../../../common/src/errors.js';
import { createOidcAuthenticator, type OidcAuthenticatorHandle } from '../../../gateway/src/auth/oidc/index.js';
import { b64, mint, nowSec, rejection, silentLog } from './helpers.js';
import {
  API_AUDIENCE,
  API_RESOURCE,
  CLIENT_ID,
  CLIENT_SECRET,
  makeKey,
  startProvider,
  type SigningKey,
  type TestProvider,
} from './provider.js';

describe('OIDC bearer tokens against a real OpenID provider', function () {
  let rsa: SigningKey;
  let ec: SigningKey;
  let provider: TestProvider;
  let oidc: OidcAuthenticatorHandle;
  const claims = (over: Record<string, unknown> = {}) => ({ iss: provider.issuer, aud: CLIENT_ID, sub: 'alice', iat: nowSec(), exp: nowSec() + 300, ...over });

  before(async function () {
    rsa = await makeKey('RS256', 'rsa-1');
    ec = await makeKey('ES256', 'ec-1');
    provider = await startProvider({ keys: [rsa, ec], gatewayBase: 'http://127.0.0.1:1' });
    oidc = createOidcAuthenticator(
      {
        issuer: provider.issuer,
        client_id: CLIENT_ID,
        role_map: { 'loki-operators': 'operator', 'loki-admins': 'admin' },
        jwks_cooldown_seconds: 0.2,
      },
      { log: silentLog, secureCookies: false, publicBaseUrl: 'http://127.0.0.1:1' },
    );
    assert.equal(await oidc.settled(), 'ready');
  });

  after(async function () {
    await oidc?.close();
    await provider?.close();
  });

  it('accepts an RS256 token signed with a published key and maps its groups to a role', async function () {
    const id = await oidc.verifyBearer(await mint(rsa, claims({ groups: ['engineering', 'loki-operators'], sid: 'sess-1' })));
    assert.deepEqual(id, { subject: 'oidc:alice', scopes: ['control', 'write', 'read'], method: 'oidc', role: 'operator', credentialId: 'sess-1' });
  });

  it('accepts an ES256 token and gives an unmapped user the default role viewer', async function () {
    const id = await oidc.verifyBearer(await mint(ec, claims({ sub: 'bob', groups: ['engineering'] })));
    assert.equal(id.subject, 'oidc:bob');
    assert.equal(id.role, 'viewer');
    assert.deepEqual(id.scopes, ['read']);
  });

  it('unions the scopes of every mapped role and names the strongest one', async function () {
    const id = await oidc.verifyBearer(await mint(rsa, claims({ roles: ['loki-operators'], groups: 'loki-admins' })));
    assert.equal(id.role, 'admin');
    assert.deepEqual(id.scopes.sort(), ['*', 'control', 'read', 'write']);
  });

  it('accepts a JWT access token the provider issued for the configured audience', async function () {
    const res = await fetch(`${provider.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: API_RESOURCE, scope: 'api' }),
    });
    const body = (await res.json()) as { access_token: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    const api = createOidcAuthenticator(
      { issuer: provider.issuer, client_id: CLIENT_ID, audience: API_AUDIENCE },
      { log: silentLog, secureCookies: false, publicBaseUrl: 'http://127.0.0.1:1' },
    );
    try {
      assert.equal(await api.settled(), 'ready');
      const id = await api.verifyBearer(body.access_token);
      assert.equal(id.subject, `oidc:${CLIENT_ID}`);
      assert.equal(id.role, 'viewer');
      // The same token is not for the default audience (the client id).
      assert.match((await rejection(oidc.verifyBearer(body.access_token))).message, /audience/);
    } finally {
      await api.close();
    }
  });

  it('allows a token expired by less than the clock tolerance', async function () {
    const id = await oidc.verifyBearer(await mint(rsa, claims({ exp: nowSec() - 10 })));
    assert.equal(id.subject, 'oidc:alice');
  });

  const rejected: Array<[string, () => Promise<string>, RegExp]> = [
    ['an expired token', () => mint(rsa, claims({ exp: nowSec() - 120, iat: nowSec() - 600 })), /expired/],
    ['a token for another audience', () => mint(rsa, claims({ aud: 'someone-else' })), /audience/],
    ['a token from another issuer', () => mint(rsa, claims({ iss: 'https://evil.example' })), /issuer/],
    ['a token that is not valid yet', () => mint(rsa, claims({ nbf: nowSec() + 600 })), /not valid yet/],
    ['a token without exp', () => mint(rsa, { iss: provider.issuer, aud: CLIENT_ID, sub: 'alice' }), /exp/],
    [
      'a token signed by another key under a published kid',
      async () => mint({ ...(await makeKey('RS256', 'rsa-1')) }, claims()),
      /signature is invalid/,
    ],
    ['an unsigned token (alg: none)', async () => `${b64({ alg: 'none', kid: 'rsa-1' })}.${b64(claims())}.`, /algorithm that is not allowed/],
    [
      'an HS256 token keyed with the provider public key',
      async () => {
        const pem = await exportSPKI((await importJWK(rsa.publicJwk, 'RS256', { extractable: true })) as CryptoKey);
        return new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(new TextEncoder().encode(pem));
      },
      /algorithm that is not allowed/,
    ],
    ['a token with a tampered payload', async () => {
      const [h, , s] = (await mint(rsa, claims())).split('.');
      return `${h}.${b64(claims({ sub: 'root', groups: ['loki-admins'] }))}.${s}`;
    }, /signature is invalid/],
    ['garbage that only looks like a JWT', async () => 'abc.def.ghi', /malformed/],
  ];
  for (const [what, make, reason] of rejected) {
    it(`rejects ${what} as unauthenticated`, async function () {
      const err = await rejection(oidc.verifyBearer(await make()));
      assert.ok(err instanceof LokiError, String(err));
      assert.equal(err.code, 'unauthenticated');
      assert.match(err.message, reason);
    });
  }

  it('refuses a user who maps to no role when default_role is none', async function () {
    const strict = createOidcAuthenticator(
      { issuer: provider.issuer, client_id: CLIENT_ID, default_role: 'none', role_map: { 'loki-admins': 'admin' } },
      { log: silentLog, secureCookies: false, publicBaseUrl: 'http://127.0.0.1:1' },
    );
    try {
      await strict.settled();
      const err = await rejection(strict.verifyBearer(await mint(rsa, claims({ groups: ['engineering'] }))));
      assert.equal(err.code, 'unauthenticated');
      assert.match(err.message, /not mapped to any Loki role/);
      assert.equal((await strict.verifyBearer(await mint(rsa, claims({ groups: ['loki-admins'] })))).role, 'admin');
    } finally {
      await strict.close();
    }
  });

  it('refetches the key set once for an unknown kid after the provider rotates its keys', async function () {
    const rsa2 = await makeKey('RS256', 'rsa-2');
    provider.rotate([rsa2, ec]);
    await new Promise((r) => setTimeout(r, 300)); // past the 0.2 s cooldown since the last fetch
    const before = provider.jwksRequests();
    const id = await oidc.verifyBearer(await mint(rsa2, claims()));
    assert.equal(id.subject, 'oidc:alice');
    assert.equal(provider.jwksRequests(), before + 1);
    // The retired key is gone from the refreshed set.
    assert.match((await rejection(oidc.verifyBearer(await mint(rsa, claims())))).message, /key the issuer does not publish/);
  });

  it('debounces refetches when many tokens carry kids the provider does not publish', async function () {
    const stranger = await makeKey('RS256', 'nobody');
    await new Promise((r) => setTimeout(r, 300));
    const before = provider.jwksRequests();
    const tokens = await Promise.all([1, 2, 3, 4, 5].map(() => mint(stranger, claims())));
    const errs = await Promise.all(tokens.map((t) => rejection(oidc.verifyBearer(t))));
    for (const e of errs) assert.match(e.message, /key the issuer does not publish/);
    assert.ok(provider.jwksRequests() - before <= 1, `fetched ${provider.jwksRequests() - before} times`);
    for (const t of tokens) await rejection(oidc.verifyBearer(t));
    assert.ok(provider.jwksRequests() - before <= 1, 'no refetch inside the cooldown');
  });

  it('tells JWT-shaped credentials apart from Loki API tokens', function () {
    assert.equal(oidc.looksLikeJwt('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'), true);
    assert.equal(oidc.looksLikeJwt('loki_4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c_ab12'), false);
    assert.equal(oidc.looksLikeJwt('a.b'), false);
  });
});
