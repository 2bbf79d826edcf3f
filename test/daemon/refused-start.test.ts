// A lokid start that is refused must leave LOKI_HOME as it found it. It used to
// refuse a bad policy (or an unset model key) only after it had created the
// database, the audit HMAC key and a bootstrap admin token (printed to the log);
// TLS files that were not PEM stopped it with a stack trace at the same point;
// and a second lokid on a live LOKI_HOME removed the live daemon's warm pool
// slot before it found the socket taken. Real lokid processes, real Docker.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { removeHome, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { runEntry, shortTempDir } from '../helpers/entry.js';
import { makeMtlsPki } from '../helpers/pki.js';
import { instanceContainers, removeInstanceContainers, requireImage } from '../helpers/sandbox.js';
import { until } from './sessions/helpers.js';

/** Every path under `dir` with its type and size: what an operator would see with `find`. */
function listing(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = join(prefix, e.name);
    return e.isDirectory() ? [`${rel}/`, ...listing(dir, rel)] : [`${rel} ${statSync(join(dir, rel)).size}`];
  }).sort();
}

const BAD = [
  'policy:',
  '  default_profile: nope',
  'sessions:',
  '  openai:',
  '    upstreams:',
  '      cloud: { base_url: "https://api.example.com/v1", api_key_env: LOKI_TEST_UNSET_KEY }',
  '',
].join('\n');

describe('a refused lokid start', function () {
  this.timeout(120_000);
  const homes: string[] = [];
  let live: DaemonProcess | undefined;
  const home = (prefix: string) => {
    const h = shortTempDir(prefix);
    homes.push(h);
    return h;
  };
  after(async () => {
    await live?.stop();
    for (const h of homes) {
      await removeInstanceContainers(h);
      removeHome(h);
    }
  });

  it('leaves a fresh LOKI_HOME as it found it: no admin token, no audit key, no database, every problem named', async () => {
    const h = home('lk-rs');
    writeFileSync(join(h, 'config.yaml'), BAD);
    const before = listing(h);
    const r = await runEntry('daemon', ['--home', h]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.deepEqual(listing(h), before, 'nothing was created in LOKI_HOME');
    assert.doesNotMatch(r.out + r.err, /token generated|bootstrap admin token|audit HMAC key/);
    assert.match(r.err, /policy\.default_profile: unknown profile "nope"/);
    assert.match(r.err, /sessions\.openai\.upstreams\.cloud\.api_key_env names LOKI_TEST_UNSET_KEY, which is not set/);
  });

  it('does not create LOKI_HOME at all when the config (given with --config) is refused', async () => {
    const dir = home('lk-rs');
    const file = join(dir, 'lokid.yaml');
    writeFileSync(file, BAD);
    const h = join(dir, 'home');
    const r = await runEntry('daemon', ['--home', h, '--config', file]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.equal(existsSync(h), false);
  });

  it('refuses TCP listener files that do not load, or a key of another certificate, before it makes anything, without a stack trace', async () => {
    const h = home('lk-rs');
    const pki = join(h, 'pki');
    mkdirSync(pki);
    makeMtlsPki(pki, 'DNS:lokid');
    writeFileSync(join(pki, 'garbage.pem'), 'not a certificate\n');
    const tcp = (cert: string, key: string, ca: string) => `tcp:\n  listen: 127.0.0.1:0\n  cert: ${join(pki, cert)}\n  key: ${join(pki, key)}\n  client_ca: ${join(pki, ca)}\n`;
    writeFileSync(join(h, 'config.yaml'), tcp('garbage.pem', 'garbage.pem', 'garbage.pem'));
    const before = listing(h);
    const r = await runEntry('daemon', ['--home', h]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.deepEqual(listing(h), before, 'nothing was created in LOKI_HOME');
    assert.match(r.err, /tcp\.cert: \S+garbage\.pem is not a PEM certificate/);
    assert.match(r.err, /tcp\.key: \S+garbage\.pem is not a PEM private key/);
    assert.match(r.err, /tcp\.client_ca: \S+garbage\.pem is not a PEM certificate/);
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');

    writeFileSync(join(h, 'config.yaml'), tcp('lokid.crt', 'intruder.key', 'ca.crt'));
    const mismatch = await runEntry('daemon', ['--home', h]);
    assert.equal(mismatch.code, 2, mismatch.out + mismatch.err);
    assert.match(mismatch.err, /tcp\.key: \S+intruder\.key is not the private key of the certificate in tcp\.cert/);
    assert.deepEqual(listing(h).filter((f) => !f.startsWith('config.yaml')), before.filter((f) => !f.startsWith('config.yaml')));
    const check = await runEntry('daemon', ['--check-config', '--home', h]);
    assert.equal(check.code, 2, 'lokid --check-config says the same');
    assert.match(check.err, /intruder\.key is not the private key/);
  });

  it('that cannot bind its TCP port says so in one line and leaves no admin token behind', async () => {
    const h = home('lk-rs');
    const pki = join(h, 'pki');
    mkdirSync(pki);
    makeMtlsPki(pki, 'DNS:lokid');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      writeFileSync(join(h, 'config.yaml'), `tcp:\n  listen: 127.0.0.1:${port}\n  cert: ${join(pki, 'lokid.crt')}\n  key: ${join(pki, 'lokid.key')}\n  client_ca: ${join(pki, 'ca.crt')}\n`);
      const r = await runEntry('daemon', ['--home', h]);
      assert.equal(r.code, 8, r.out + r.err);
      assert.match(r.err, new RegExp(`lokid: cannot listen on 127\\.0\\.0\\.1:${port} \\(tcp\\.listen\\): listen EADDRINUSE`));
      assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
      // What a start that got this far leaves: the database and the audit key it opened; never a minted token.
      assert.equal(existsSync(join(h, 'cli-token')), false);
      assert.doesNotMatch(r.out + r.err, /token generated|bootstrap admin token/);
    } finally {
      taken.close();
    }
  });

  it('beside a live lokid on the same LOKI_HOME is refused before it touches Docker: the live daemon keeps its warm pool slot', async () => {
    await requireImage();
    const h = home('lk-rs');
    const env = { LOKI_SANDBOX_POOL_SIZE: '1' };
    live = await spawnDaemon(h, env);
    const slots = async () => (await instanceContainers(h)).filter((c) => c.Labels['loki.owner'] === 'loki:pool' && c.State === 'running').map((c) => c.Id);
    const ready = await until('the warm pool slot', async () => ((await slots()).length === 1 ? slots() : undefined), 90_000);
    const r = await runEntry('daemon', ['--home', h], { LOKI_SANDBOX_POOL_SIZE: '1', LOKI_SANDBOX_IMAGE: process.env.LOKI_TEST_IMAGE ?? 'loki-sandbox:latest' });
    assert.equal(r.code, 6, r.out + r.err);
    assert.match(r.err, /another lokid is already serving .*admin\.sock/);
    assert.doesNotMatch(r.out, /removed unclaimed pool slots/);
    assert.deepEqual(await slots(), ready, 'the live daemon\'s slot is still there');
  });
});
