// A gateway on another machine reaches the daemon over the daemon's mutual-TLS
// TCP listener: real PKI from openssl, a real lokid with `tcp` configured, the
// real gateway app with `daemon.address` + `daemon.tls`.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, createLogger } from '../../common/src/index.js';
import { buildApp } from '../../gateway/src/app.js';
import { daemonTarget, loadGatewayConfig } from '../../gateway/src/config.js';
import { createDaemonClient, type DaemonClient } from '../../client/src/grpc/index.js';
import { GatewayMetrics } from '../../gateway/src/metrics.js';
import { shortTempDir } from '../helpers/entry.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { bearer, generateToken } from './helpers.js';
import { makeMtlsPki } from '../helpers/pki.js';

describe('gateway → daemon over mutual TLS', function () {
  this.timeout(60_000);
  let pki: string;
  let d: Awaited<ReturnType<typeof startTestDaemon>>;
  let secret: string;

  before(async () => {
    pki = shortTempDir('lkgwpki');
    makeMtlsPki(pki, 'DNS:lokid.internal,IP:127.0.0.1');
    d = await startTestDaemon({
      overrides: { tcp: { listen: '127.0.0.1:0', cert: join(pki, 'lokid.crt'), key: join(pki, 'lokid.key'), client_ca: join(pki, 'ca.crt') } },
    });
    assert.ok(d.tcpPort && d.tcpPort > 0);
    secret = (await generateToken(d.paths.adminSocket, { name: 'remote-ci', role: 'viewer' })).secret;
  });

  after(async () => {
    await d?.cleanup();
    rmSync(pki, { recursive: true, force: true });
  });

  function tlsRaw(client: string, extra: Record<string, unknown> = {}) {
    return { ca: join(pki, 'ca.crt'), cert: join(pki, `${client}.crt`), key: join(pki, `${client}.key`), ...extra };
  }

  /** The real app, configured the way an operator would: daemon.address + daemon.tls. */
  async function gateway(client: string, tlsExtra: Record<string, unknown> = {}, logLines?: string[]) {
    const config = loadGatewayConfig({ raw: { daemon: { address: `127.0.0.1:${d.tcpPort}`, tls: tlsRaw(client, tlsExtra), timeout_ms: 3000 } } });
    const metrics = new GatewayMetrics({ processMetrics: false });
    const daemon: DaemonClient = createDaemonClient({ ...daemonTarget(config), timeoutMs: 3000, observe: metrics.observeGrpc });
    const logger = logLines
      ? createLogger({ name: 'gw-tls-test', level: 'info', destination: { write: (line: string) => void logLines.push(line) } })
      : createLogger({ name: 'gw-tls-test', level: 'silent' });
    const app = await buildApp({ config, daemon, logger, metrics });
    await app.ready();
    return {
      app,
      close: async () => {
        await app.close();
        daemon.close();
      },
    };
  }

  it('serves /api/status through the TCP listener with a token the daemon verified, and is ready', async () => {
    const gw = await gateway('loki-gateway');
    try {
      const r = await gw.app.inject({ method: 'GET', url: '/api/status', headers: bearer(secret) });
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json<{ daemon: { version: string }; caller: { subject: string } }>();
      assert.equal(body.caller.subject, 'token:remote-ci');
      assert.ok(body.daemon.version);
      assert.equal((await gw.app.inject({ method: 'GET', url: '/api/status', headers: bearer('loki_wrong') })).statusCode, 401);
      assert.equal((await gw.app.inject({ method: 'GET', url: '/healthz/ready' })).statusCode, 200);
    } finally {
      await gw.close();
    }
  });

  it('verifies the daemon certificate against daemon.tls.server_name when set', async () => {
    const good = await gateway('loki-gateway', { server_name: 'lokid.internal' });
    const wrong = await gateway('loki-gateway', { server_name: 'not-lokid.internal' });
    try {
      assert.equal((await good.app.inject({ method: 'GET', url: '/api/status', headers: bearer(secret) })).statusCode, 200);
      const r = await wrong.app.inject({ method: 'GET', url: '/api/status', headers: bearer(secret) });
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.json<{ error: { code: string } }>().error.code, 'daemon_unavailable');
    } finally {
      await good.close();
      await wrong.close();
    }
  });

  it('logs why the daemon is unreachable (its certificate does not name daemon.tls.server_name), not only that it is', async () => {
    const lines: string[] = [];
    const wrong = await gateway('loki-gateway', { server_name: 'not-lokid.internal' }, lines);
    try {
      const r = await wrong.app.inject({ method: 'GET', url: '/api/status', headers: bearer(secret) });
      assert.equal(r.statusCode, 503, r.body);
      assert.doesNotMatch(r.body, /not-lokid|altname|certificate/i, 'the HTTP client is not told the operator detail');
      const rejected = lines.map((l) => JSON.parse(l) as { level: string; msg: string; daemon_error?: string }).find((l) => l.msg === 'request rejected');
      assert.equal(rejected?.level, 'warn');
      assert.match(rejected?.daemon_error ?? '', /not-lokid\.internal|altnames|does not match/i);
      assert.ok(!lines.join('').includes(secret), 'the token is never logged');
    } finally {
      await wrong.close();
    }
  });

  it('answers 503 gateway_not_allowed (not 500) when its client certificate does not name an allowed gateway, and is not ready', async () => {
    const gw = await gateway('intruder');
    try {
      const r = await gw.app.inject({ method: 'GET', url: '/api/status', headers: bearer(secret) });
      assert.equal(r.statusCode, 503, r.body);
      const body = r.json<{ error: { code: string; message: string } }>();
      assert.equal(body.error.code, 'gateway_not_allowed');
      assert.match(body.error.message, /does not accept this gateway/);
      assert.equal((await gw.app.inject({ method: 'GET', url: '/healthz/ready' })).statusCode, 503);
    } finally {
      await gw.close();
    }
  });
});

describe('gateway daemon config', () => {
  let dir: string;
  before(() => {
    dir = shortTempDir('lkgwcfg');
    for (const f of ['ca.crt', 'gw.crt', 'gw.key']) writeFileSync(join(dir, f), 'pem');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function problems(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): readonly string[] {
    try {
      loadGatewayConfig({ raw, env });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  }

  it('takes the address and TLS files from LOKI_DAEMON_* and builds an mTLS target from them', () => {
    const cfg = loadGatewayConfig({
      env: {
        LOKI_DAEMON_ADDRESS: 'lokid.internal:7443',
        LOKI_DAEMON_TLS_CA: join(dir, 'ca.crt'),
        LOKI_DAEMON_TLS_CERT: join(dir, 'gw.crt'),
        LOKI_DAEMON_TLS_KEY: join(dir, 'gw.key'),
        LOKI_DAEMON_TLS_SERVER_NAME: 'lokid',
      },
    });
    const t = daemonTarget(cfg);
    assert.ok('address' in t);
    assert.equal(t.address, 'lokid.internal:7443');
    assert.equal(t.tls.serverName, 'lokid');
    assert.equal(t.tls.cert.toString(), 'pem');
  });

  it('refuses a plaintext TCP daemon address (TLS files missing) and names each missing file', () => {
    const p = problems({ daemon: { address: '10.0.0.5:7443' } });
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^daemon\.tls: a TCP daemon address is mutual TLS only.*daemon\.tls\.ca.*daemon\.tls\.cert.*daemon\.tls\.key/);
    assert.match(problems({ daemon: { address: '10.0.0.5:7443', tls: { ca: join(dir, 'ca.crt'), cert: join(dir, 'gw.crt') } } })[0]!, /set daemon\.tls\.key \(LOKI_DAEMON_TLS_KEY\)$/);
  });

  it('refuses both a socket and an address', () => {
    const p = problems({ daemon: { socket: '/run/loki/gateway.sock', address: '10.0.0.5:7443', tls: { ca: join(dir, 'ca.crt'), cert: join(dir, 'gw.crt'), key: join(dir, 'gw.key') } } });
    assert.deepEqual(p, ['daemon: set either daemon.socket (LOKI_DAEMON_SOCKET) or daemon.address (LOKI_DAEMON_ADDRESS), not both']);
  });

  it('refuses unreadable TLS files, a malformed address and a socket that is really a TCP address', () => {
    const p = problems({ daemon: { address: 'no-port', tls: { ca: join(dir, 'missing.crt'), cert: join(dir, 'gw.crt'), key: join(dir, 'gw.key') } } });
    assert.ok(p.some((x) => /^daemon\.address: expected host:port/.test(x)), p.join('\n'));
    assert.ok(p.some((x) => /^daemon\.tls\.ca: cannot read .*missing\.crt \(ENOENT\)/.test(x)), p.join('\n'));
    assert.match(problems({}, { LOKI_DAEMON_SOCKET: '127.0.0.1:7443' })[0]!, /^daemon\.socket: .* looks like a network address/);
    assert.match(problems({ daemon: { socket: '/run/x.sock', tls: { ca: join(dir, 'ca.crt') } } })[0]!, /^daemon\.tls: applies only to daemon\.address/);
  });
});
