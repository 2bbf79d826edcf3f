import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../common/src/index.js';
import { loadDaemonConfig } from '../../daemon/src/config.js';
import { shortTempDir } from '../helpers/entry.js';

function problemsOf(f: () => unknown): readonly string[] {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'invalid_config');
    return err.problems;
  }
  assert.fail('the config was accepted');
}

describe('loadDaemonConfig', () => {
  let home: string;
  beforeEach(() => (home = shortTempDir('lk-cfg')));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('reports every problem in the file and the environment at once', () => {
    const file = join(home, 'lokid.yaml');
    writeFileSync(file, ['sandbox:', '  memory: lots', '  user: "root"', 'tcp:', '  listen: "0.0.0.0:7443"', 'bogus_key: 1', ''].join('\n'));
    const problems = problemsOf(() =>
      loadDaemonConfig({ configFile: file, env: { LOKI_HOME: home, LOKI_AUDIT_DISABLED: 'maybe', LOKI_SANDBOX_PIDS: '12.5' } }),
    );
    const all = problems.join('\n');
    assert.match(all, /^sandbox\.memory: expected a size/m);
    assert.match(all, /^sandbox\.user: expected "auto" or "uid:gid"/m);
    assert.match(all, /bogus_key/);
    assert.match(all, /^LOKI_AUDIT_DISABLED: expected true or false, got "maybe"/m);
    assert.match(all, /^LOKI_SANDBOX_PIDS: expected an integer, got "12.5"/m);
    assert.match(all, /^tcp\.cert: required when tcp\.listen is set/m);
    assert.match(all, /^tcp\.key: required/m);
    assert.match(all, /^tcp\.client_ca: required/m);
  });

  it('says which TLS files are missing for a TCP listener', () => {
    const problems = problemsOf(() =>
      loadDaemonConfig({ env: { LOKI_HOME: home, LOKI_DAEMON_TCP_LISTEN: '127.0.0.1:7443', LOKI_DAEMON_TLS_CERT: '/nonexistent/cert.pem' } }),
    );
    assert.deepEqual([...problems].sort(), [
      'tcp.cert: file not found: /nonexistent/cert.pem',
      'tcp.client_ca: required when tcp.listen is set (the TCP listener is mutual TLS only)',
      'tcp.key: required when tcp.listen is set (the TCP listener is mutual TLS only)',
    ]);
  });

  it('maps LOKI_* variables onto the same schema as the file', () => {
    const cfg = loadDaemonConfig({ env: { LOKI_HOME: home, LOKI_SANDBOX_MEMORY: '512m', LOKI_SANDBOX_PIDS: '64', LOKI_SANDBOX_USER: '1234:1234', LOKI_AUDIT_DISABLED: 'true' } });
    assert.equal(cfg.home, home);
    assert.equal(cfg.sandbox.memory, 512 * 1024 ** 2);
    assert.equal(cfg.sandbox.pids, 64);
    assert.equal(cfg.sandbox.user, '1234:1234');
    assert.equal(cfg.audit.disabled, true);
  });

  it('returns a deep-frozen config with every hardening relaxation off by default', () => {
    const cfg = loadDaemonConfig({ env: { LOKI_HOME: home } });
    assert.deepEqual({ ...cfg.sandbox.allow }, { network: false, writable_rootfs: false, root_user: false });
    assert.equal(cfg.sockets.admin_mode, '0600');
    for (const o of [cfg, cfg.sandbox, cfg.sandbox.allow, cfg.sockets, cfg.tcp, cfg.tcp.gateway_names]) assert.ok(Object.isFrozen(o));
    assert.throws(() => {
      (cfg.sandbox.allow as { network: boolean }).network = true;
    }, TypeError);
    assert.equal(cfg.sandbox.allow.network, false);
  });
});
