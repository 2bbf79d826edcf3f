import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { loadConfig, type ConfigError } from '../../../common/src/config.js';
import {
  createOidcAuthenticator,
  oidcConfigSchema,
  oidcEnvBindings,
} from '../../../gateway/src/auth/oidc/index.js';
import { mint, nowSec, rejection, silentLog, waitFor } from './helpers.js';
import { CLIENT_ID, freePort, makeKey, startProvider, type SigningKey, type TestProvider } from './provider.js';

const deps = { log: silentLog, secureCookies: false, publicBaseUrl: 'http://127.0.0.1:1' };

describe('OIDC authenticator lifecycle', function () {
  let rsa: SigningKey;
  const started: TestProvider[] = [];

  before(async function () {
    rsa = await makeKey('RS256', 'rsa-1');
  });

  after(async function () {
    for (const p of started) await p.close();
  });

  it('is disabled without an issuer: JWTs are refused and cookies ignored', async function () {
    const oidc = createOidcAuthenticator({}, deps);
    assert.equal(oidc.status(), 'disabled');
    const err = await rejection(oidc.verifyBearer('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'));
    assert.equal(err.code, 'unauthenticated');
    assert.match(err.message, /not configured/);
    await oidc.close();
  });

  it('starts unavailable when the issuer is unreachable, then recovers when it comes up', async function () {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const oidc = createOidcAuthenticator({ issuer, client_id: CLIENT_ID }, { ...deps, retryInitialMs: 100 });
    try {
      assert.equal(await oidc.settled(), 'unavailable');
      const token = await mint(rsa, { iss: issuer, aud: CLIENT_ID, sub: 'alice', exp: nowSec() + 300 });
      const err = await rejection(oidc.verifyBearer(token));
      assert.equal(err.code, 'unauthenticated');
      assert.match(err.message, /temporarily unavailable.*API tokens still work/);
      const provider = await startProvider({ keys: [rsa], gatewayBase: 'http://127.0.0.1:1', port });
      started.push(provider);
      assert.ok(await waitFor(() => oidc.status() === 'ready', 5000), 'discovery retried and succeeded');
      assert.equal((await oidc.verifyBearer(token)).subject, 'oidc:alice');
    } finally {
      await oidc.close();
    }
  });

  it('stays unavailable when the discovery document names another issuer', async function () {
    const provider = await startProvider({ keys: [rsa], gatewayBase: 'http://127.0.0.1:1' });
    started.push(provider);
    // Same server, different spelling: Discovery requires an exact issuer match.
    const oidc = createOidcAuthenticator({ issuer: `http://localhost:${provider.port}`, client_id: CLIENT_ID }, { ...deps, retryInitialMs: 60_000 });
    try {
      assert.equal(await oidc.settled(), 'unavailable');
    } finally {
      await oidc.close();
    }
  });

  it('reload swaps the role map atomically and refuses an invalid config, keeping the old one', async function () {
    const provider = await startProvider({ keys: [rsa], gatewayBase: 'http://127.0.0.1:1' });
    started.push(provider);
    const base = { issuer: provider.issuer, client_id: CLIENT_ID };
    const oidc = createOidcAuthenticator(base, deps);
    try {
      await oidc.settled();
      const token = await mint(rsa, { iss: provider.issuer, aud: CLIENT_ID, sub: 'alice', groups: ['ops'], exp: nowSec() + 300 });
      assert.equal((await oidc.verifyBearer(token)).role, 'viewer');
      oidc.reload({ ...base, role_map: { ops: 'operator' } });
      assert.equal(oidc.status(), 'ready', 'same issuer: discovery and key cache are kept');
      assert.equal((await oidc.verifyBearer(token)).role, 'operator');
      assert.throws(() => oidc.reload({ ...base, role_map: { ops: 'superuser' } }), /role_map\.ops/);
      assert.throws(() => oidc.reload({ ...base, client_secret_file: '/nonexistent/secret' }), /oidc\.client_secret_file: cannot read \/nonexistent\/secret \(ENOENT\)/);
      assert.equal((await oidc.verifyBearer(token)).role, 'operator');
      oidc.reload({});
      assert.equal(oidc.status(), 'disabled');
      assert.match((await rejection(oidc.verifyBearer(token))).message, /not configured/);
    } finally {
      await oidc.close();
    }
  });
});

describe('OIDC config', function () {
  const schema = z.object({ oidc: oidcConfigSchema.prefault({}) }).strict();
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'loki-oidc-'));
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('maps LOKI_OIDC_* variables onto the section with defaults filled in', function () {
    const cfg = loadConfig({
      schema,
      bindings: oidcEnvBindings,
      env: {
        LOKI_OIDC_ISSUER: 'https://login.example.com',
        LOKI_OIDC_CLIENT_ID: 'loki',
        LOKI_OIDC_SCOPES: 'openid, email, groups',
        LOKI_OIDC_DEFAULT_ROLE: 'auditor',
        LOKI_OIDC_REDIRECT_URI: 'https://loki.example.com/auth/oidc/callback',
      },
    });
    assert.equal(cfg.oidc.issuer, 'https://login.example.com');
    assert.deepEqual(cfg.oidc.scopes, ['openid', 'email', 'groups']);
    assert.equal(cfg.oidc.default_role, 'auditor');
    assert.deepEqual(cfg.oidc.algorithms, ['RS256', 'PS256', 'ES256', 'EdDSA']);
    assert.deepEqual(cfg.oidc.role_claims, ['roles', 'groups']);
    assert.equal(cfg.oidc.audience, undefined, 'audience falls back to the client id at run time');
  });

  it('defaults to viewer and openid,email,profile', function () {
    const cfg = loadConfig({ schema, env: { LOKI_OIDC_ISSUER: 'https://idp.example', LOKI_OIDC_CLIENT_ID: 'x' }, bindings: oidcEnvBindings });
    assert.equal(cfg.oidc.default_role, 'viewer');
    assert.deepEqual(cfg.oidc.scopes, ['openid', 'email', 'profile']);
  });

  it('lists every problem: plain-http remote issuer, missing client id, HS256, unknown role, short cookie secret', function () {
    const err = (() => {
      try {
        loadConfig({
          schema,
          file: { oidc: { issuer: 'http://idp.example.com', algorithms: ['RS256', 'HS256'], default_role: 'root', cookie_secret: 'short' } },
        });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    const text = err.problems.join('\n');
    assert.match(text, /oidc\.issuer: must be an https:\/\/ URL/);
    assert.match(text, /oidc\.algorithms\.1:/);
    assert.match(text, /oidc\.default_role:/);
    assert.match(text, /oidc\.cookie_secret: must be at least 32 characters/);
  });

  it('requires a client id once an issuer is set', function () {
    assert.throws(() => loadConfig({ schema, file: { oidc: { issuer: 'https://idp.example' } } }), /oidc\.client_id: required when oidc.issuer is set/);
  });

  it('reads the client secret from LOKI_OIDC_CLIENT_SECRET_FILE', async function () {
    const file = join(dir, 'secret');
    writeFileSync(file, 'from-a-file\n', { mode: 0o600 });
    const cfg = loadConfig({ schema, bindings: oidcEnvBindings, env: { LOKI_OIDC_CLIENT_SECRET_FILE: file } });
    assert.equal(cfg.oidc.client_secret_file, file);
    const oidc = createOidcAuthenticator({ ...cfg.oidc, issuer: 'http://127.0.0.1:9', client_id: 'x' }, { ...deps, retryInitialMs: 60_000 });
    await oidc.close();
    writeFileSync(file, '   \n');
    assert.throws(() => createOidcAuthenticator({ ...cfg.oidc, issuer: 'http://127.0.0.1:9', client_id: 'x' }, deps), /is empty/);
  });
});
