import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../common/src/index.js';
import { oidcConfigSchema, oidcEnvBindings } from '../../gateway/src/auth/oidc/index.js';
import { daemonSocketPath, isLoopbackHost, loadGatewayConfig } from '../../gateway/src/config.js';
import { configOptionsFromArgs } from '../../gateway/src/main.js';
import { selfSignedCert, tempDir } from './helpers.js';

function problems(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the config to be refused');
}

describe('gateway config', () => {
  it('defaults to an authenticated loopback bind on port 57374', () => {
    const cfg = loadGatewayConfig();
    assert.equal(cfg.host, '127.0.0.1');
    assert.equal(cfg.port, 57374);
    assert.equal(cfg.enterprise.auth.enabled, true);
    assert.equal(cfg.rate_limit.per_minute, 60);
    assert.equal(cfg.rate_limit.burst, 10);
    assert.equal(cfg.rate_limit.concurrency, 8);
    assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.rate_limit));
  });

  it('lists every problem at once: bad port, unknown role, zero rate limit, unreadable cert', () => {
    const p = problems(() =>
      loadGatewayConfig({
        raw: {
          port: 70000,
          enterprise: { auth: { anonymous_role: 'overlord' } },
          rate_limit: { per_minute: 0 },
          tls: { cert: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' },
        },
      }),
    );
    assert.ok(p.some((x) => x.startsWith('port:')), p.join('\n'));
    assert.ok(p.some((x) => x.startsWith('enterprise.auth.anonymous_role:')), p.join('\n'));
    assert.ok(p.some((x) => x.startsWith('rate_limit.per_minute:')), p.join('\n'));
    assert.ok(p.some((x) => x.startsWith('tls.cert:') && x.includes('ENOENT')), p.join('\n'));
    assert.ok(p.some((x) => x.startsWith('tls.key:')), p.join('\n'));
  });

  it('reads LOKI_* variables and rejects a non-integer port from the environment', () => {
    const cfg = loadGatewayConfig({ env: { LOKI_API_PORT: '8080', LOKI_RATE_LIMIT_PER_MINUTE: '5', LOKI_CORS_ORIGINS: 'https://a.example' } });
    assert.equal(cfg.port, 8080);
    assert.equal(cfg.rate_limit.per_minute, 5);
    assert.deepEqual(cfg.cors.origins, ['https://a.example']);
    const p = problems(() => loadGatewayConfig({ env: { LOKI_API_PORT: 'eighty' } }));
    assert.match(p.join('\n'), /LOKI_API_PORT: expected an integer/);
  });

  it('refuses a non-loopback bind without TLS unless behind_tls_proxy is set', () => {
    const p = problems(() => loadGatewayConfig({ env: { LOKI_API_HOST: '0.0.0.0' } }));
    assert.match(p.join('\n'), /refusing to bind non-loopback address 0\.0\.0\.0 without TLS/);
    assert.equal(loadGatewayConfig({ env: { LOKI_API_HOST: '0.0.0.0', LOKI_BEHIND_TLS_PROXY: 'true' } }).host, '0.0.0.0');
  });

  it('accepts a non-loopback bind with a readable certificate and key', () => {
    const t = tempDir();
    try {
      const { cert, key } = selfSignedCert(t.dir);
      const cfg = loadGatewayConfig({ env: { LOKI_API_HOST: '0.0.0.0', LOKI_TLS_CERT: cert, LOKI_TLS_KEY: key } });
      assert.equal(cfg.tls.cert, cert);
      assert.match(problems(() => loadGatewayConfig({ raw: { tls: { cert } } })).join('\n'), /set both cert and key/);
    } finally {
      t.cleanup();
    }
  });

  it('accepts LOKI_ENTERPRISE_AUTH=false only on a loopback bind', () => {
    assert.equal(loadGatewayConfig({ env: { LOKI_ENTERPRISE_AUTH: 'false' } }).enterprise.auth.enabled, false);
    const p = problems(() => loadGatewayConfig({ env: { LOKI_ENTERPRISE_AUTH: 'false', LOKI_API_HOST: '10.0.0.5', LOKI_BEHIND_TLS_PROXY: '1' } }));
    assert.match(p.join('\n'), /enterprise\.auth\.enabled: authentication can be disabled .* only with a loopback bind/);
  });

  it('refuses CORS "*" together with credentials, and malformed origins', () => {
    const p = problems(() => loadGatewayConfig({ raw: { cors: { origins: ['*', 'not a url'], credentials: true } } }));
    assert.match(p.join('\n'), /"\*" cannot be combined with cors\.credentials/);
    assert.match(p.join('\n'), /cors\.origins\.1: expected an origin/);
  });

  it('refuses unknown keys, bad proxy addresses, a bad metrics listener and a token cache above 5 s', () => {
    const p = problems(() =>
      loadGatewayConfig({
        raw: { colour: 'blue', trusted_proxies: ['10.0.0.0/99'], metrics: { listen: 'nowhere' }, enterprise: { auth: { token_cache_ms: 60000 } } },
      }),
    );
    const all = p.join('\n');
    assert.match(all, /colour/);
    assert.match(all, /trusted_proxies\.0/);
    assert.match(all, /metrics\.listen/);
    assert.match(all, /token_cache_ms: must be at most 5000/);
  });

  it('refuses an unauthenticated metrics listener on a wildcard or non-loopback address unless metrics.public acknowledges it', () => {
    for (const listen of ['0.0.0.0:9464', '[::]:9464', '10.1.2.3:9464', 'metrics.internal:9464']) {
      const p = problems(() => loadGatewayConfig({ env: { LOKI_METRICS_LISTEN: listen } })).join('\n');
      assert.match(p, /^metrics\.listen: refusing to serve \/metrics without authentication on /, listen);
      assert.match(p, /every session id and its cost/, listen);
      assert.match(p, /metrics\.public: true \(LOKI_METRICS_PUBLIC=1\)/, listen);
    }
    assert.match(problems(() => loadGatewayConfig({ raw: { metrics: { listen: '0.0.0.0:9464' } } })).join('\n'), /on every interface \(0\.0\.0\.0:9464\)/);
    for (const listen of ['127.0.0.1:9464', '[::1]:9464', 'localhost:9464']) assert.equal(loadGatewayConfig({ env: { LOKI_METRICS_LISTEN: listen } }).metrics.listen, listen);
    assert.equal(loadGatewayConfig({ env: { LOKI_METRICS_LISTEN: '0.0.0.0:9464', LOKI_METRICS_PUBLIC: '1' } }).metrics.public, true);
    assert.equal(loadGatewayConfig({ raw: { metrics: { listen: '[::]:9464', public: true } } }).metrics.listen, '[::]:9464');
  });

  it('validates the OIDC section with the OIDC module schema and LOKI_OIDC_* variables', () => {
    const cfg = loadGatewayConfig({ env: { LOKI_OIDC_ISSUER: 'http://127.0.0.1:9999', LOKI_OIDC_CLIENT_ID: 'loki' }, oidc: { schema: oidcConfigSchema, bindings: oidcEnvBindings } });
    const oidc = cfg.enterprise.auth.oidc as { issuer?: string; client_id?: string };
    assert.equal(oidc.issuer, 'http://127.0.0.1:9999');
    assert.equal(oidc.client_id, 'loki');
    const p = problems(() => loadGatewayConfig({ env: { LOKI_OIDC_ISSUER: 'http://127.0.0.1:9999' }, oidc: { schema: oidcConfigSchema, bindings: oidcEnvBindings } }));
    assert.match(p.join('\n'), /enterprise\.auth\.oidc\.client_id/);
  });

  it('lets command-line flags override the environment and the file', () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'gw.yaml');
      writeFileSync(file, 'port: 1111\nhost: 127.0.0.2\n');
      const opts = configOptionsFromArgs(['--config', file, '--port', '2222'], { LOKI_API_HOST: '127.0.0.3' });
      const cfg = loadGatewayConfig(opts);
      assert.equal(cfg.port, 2222);
      assert.equal(cfg.host, '127.0.0.3');
    } finally {
      t.cleanup();
    }
  });

  it('finds the daemon gateway socket under LOKI_HOME unless configured', () => {
    assert.equal(daemonSocketPath(loadGatewayConfig({ env: { LOKI_HOME: '/srv/loki' } })), '/srv/loki/run/gateway.sock');
    assert.equal(daemonSocketPath(loadGatewayConfig({ env: { LOKI_DAEMON_SOCKET: '/run/x.sock' } })), '/run/x.sock');
  });

  it('knows which hosts are loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com']) assert.ok(!isLoopbackHost(h), h);
  });
});
