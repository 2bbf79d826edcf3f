import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseUpInvocation } from '../../../cli/src/up/fast-path.js';

describe('loki up fast path', () => {
  const noLogin = { LOKI_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'loki-nologin-')), HOME: '/nonexistent' };

  it('takes `up` with its own flags and --home/--json before it', () => {
    assert.deepEqual(parseUpInvocation(['--home', '/h', 'up', '--port', '0', '--host=::1', '--no-gateway'], noLogin), {
      home: '/h',
      json: false,
      options: { gateway: false, port: 0, host: '::1' },
    });
    assert.deepEqual(parseUpInvocation(['--json', '--home=/h', 'up', '--tls-cert', 'c.pem', '--tls-key', 'k.pem'], noLogin), {
      home: '/h',
      json: true,
      options: { gateway: true, tlsCert: 'c.pem', tlsKey: 'k.pem' },
    });
  });

  it('leaves everything else to the full CLI', () => {
    for (const argv of [
      ['status'],
      ['up', '--help'],
      ['up', '--port'],
      ['up', '--port', 'abc'],
      ['up', '--port', '70000'],
      ['up', '--host', '--port'],
      ['up', '--bogus'],
      ['--url', 'https://x', 'up'],
      ['--socket', '/s', 'up'],
      ['--home'],
      [],
    ]) {
      assert.equal(parseUpInvocation(argv, noLogin), undefined, argv.join(' '));
    }
  });

  it('leaves `up` to the full CLI when this loki would talk to a gateway (LOKI_URL or a stored login), unless --home says local', () => {
    assert.equal(parseUpInvocation(['up'], { ...noLogin, LOKI_URL: 'https://gw' }), undefined);
    const dir = mkdtempSync(join(tmpdir(), 'loki-login-'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'login.json'), '{}');
    assert.equal(parseUpInvocation(['up'], { LOKI_CONFIG_DIR: dir }), undefined);
    assert.equal(parseUpInvocation(['--home', '/h', 'up'], { LOKI_CONFIG_DIR: dir })?.home, '/h');
  });
});
