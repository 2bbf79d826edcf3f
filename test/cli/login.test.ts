// `loki login URL` checks the token against a real gateway before storing it
// (0600), later commands go remote without flags, and `loki logout` goes local again.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entryArgv } from '../helpers/entry.js';
import { buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from '../gateway/helpers.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('loki login / logout against a real gateway', function () {
  this.timeout(120_000);
  let d: TestDaemon;
  let gw: TestGateway;
  let dir: string;
  let url: string;
  const env = () => ({ PATH: process.env.PATH ?? '', LOKI_CONFIG_DIR: join(dir, 'cfg'), HOME: dir });

  before(async () => {
    d = await startTestDaemon();
    dir = mkdtempSync(join(tmpdir(), 'loki-login-'));
    writeFileSync(join(dir, 'good'), (await generateToken(d.adminSocket, { name: 'me', role: 'viewer' })).secret);
    writeFileSync(join(dir, 'bad'), 'loki_' + 'x'.repeat(49));
    writeFileSync(join(dir, 'admin'), (await generateToken(d.adminSocket, { name: 'admin', role: 'admin' })).secret);
    gw = await buildTestGateway({ socket: d.gatewaySocket });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await gw?.close();
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const loki = (args: string[]): Promise<Run> =>
    new Promise((resolve) =>
      execFile(process.execPath, [...entryArgv('cli'), ...args], { env: env(), timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
      ),
    );

  it('refuses a gateway URL that carries a credential (query, fragment, user:password@) before sending anything, and stores nothing', async () => {
    const secret = (await generateToken(d.adminSocket, { name: 'in-url', role: 'viewer' })).secret;
    const port = new URL(url).port;
    const cases: string[][] = [
      ['--url', `${url}/?token=${secret}`, 'status'],
      ['--url', `http://me:${secret}@127.0.0.1:${port}`, 'status'],
      ['login', `${url}/#${secret}`, '--token-file', join(dir, 'good')],
      ['login', `${url}?access_token=${secret}`, '--token-file', join(dir, 'good')],
    ];
    for (const args of cases) {
      const r = await loki(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /gateway URL must not (have a query|contain a user name or password)/);
      assert.ok(!r.stderr.includes(secret), 'the secret is not echoed');
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(existsSync(join(dir, 'cfg', 'login.json')), false);
    }
    const list = await loki(['--url', url, '--token-file', join(dir, 'admin'), 'enterprise', 'token', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const used = (JSON.parse(list.stdout) as { tokens: { name: string; last_used_at: string | null }[] }).tokens.find((t) => t.name === 'in-url');
    assert.equal(used?.last_used_at, null, 'the gateway never saw the token in the URL');
  });

  it('names a missing or empty --token-file at login (exit 2), not an unexpected error', async () => {
    const missing = await loki(['login', url, '--token-file', join(dir, 'no-such-file')]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /cannot read the token file .*no-such-file \(ENOENT\)/);
    writeFileSync(join(dir, 'empty'), '\n');
    const empty = await loki(['login', url, '--token-file', join(dir, 'empty')]);
    assert.equal(empty.code, 2, empty.stderr);
    assert.match(empty.stderr, /the token file .*empty is empty/);
  });

  it('names a --ca-file that holds no PEM certificate (exit 2) instead of blaming the gateway certificate, and never prints its content', async () => {
    const secret = (await generateToken(d.adminSocket, { name: 'not-a-ca', role: 'viewer' })).secret;
    writeFileSync(join(dir, 'not-a-ca.pem'), secret + '\n');
    for (const args of [
      ['--url', url, '--token-file', join(dir, 'good'), '--ca-file', join(dir, 'not-a-ca.pem'), 'status'],
      ['login', url, '--token-file', join(dir, 'good'), '--ca-file', join(dir, 'not-a-ca.pem')],
    ]) {
      const r = await loki(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /the CA file .*not-a-ca\.pem holds no PEM certificate/);
      assert.ok(!r.stderr.includes(secret));
    }
    assert.equal(existsSync(join(dir, 'cfg', 'login.json')), false);
  });

  it('refuses a token the gateway does not accept, and stores nothing', async () => {
    const r = await loki(['login', url, '--token-file', join(dir, 'bad')]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(existsSync(join(dir, 'cfg', 'login.json')), false);
  });

  it('stores URL + token 0600, then talks to the gateway without flags; logout goes back to the local socket', async () => {
    const r = await loki(['login', url, '--token-file', join(dir, 'good')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Logged in to .* as token:me/);
    assert.equal(statSync(join(dir, 'cfg', 'login.json')).mode & 0o777, 0o600);
    const st = await loki(['status', '--json']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal((JSON.parse(st.stdout) as { gateway: { url: string } }).gateway.url, url);
    // A viewer cannot mint tokens: the gateway says so (403 → exit 4).
    const denied = await loki(['enterprise', 'token', 'generate', 'nope']);
    assert.equal(denied.code, 4, denied.stderr);
    assert.equal((await loki(['logout'])).code, 0);
    const local = await loki(['status']);
    assert.equal(local.code, 8, 'no local daemon under this HOME');
    assert.match(local.stderr, /lokid is not running/);
  });

  // Another host user who could open an older, wider login.json (a hand copy, an old version) keeps
  // that open file: a new login must land in a new file, never be written through that one.
  it('writes a new login to a new 0600 file: another user holding the old, wider file open never reads the new token', async function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv')) this.skip();
    const cfg = join(dir, 'cfg');
    mkdirSync(cfg, { recursive: true });
    for (const d of [dir, cfg]) chmodSync(d, 0o755);
    const file = join(cfg, 'login.json');
    writeFileSync(file, JSON.stringify({ url: 'http://old.invalid', token: 'loki_old', saved_at: '' }));
    chmodSync(file, 0o644);
    // uid 65534 opens the file now, and reads through that descriptor when told to.
    const spy = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `
      const fs = require('fs'); const fd = fs.openSync(process.argv[1], 'r'); console.log('open');
      process.stdin.once('data', () => { const b = Buffer.alloc(65536); const n = fs.readSync(fd, b, 0, b.length, 0); console.log(b.subarray(0, n).toString()); process.exit(0); });
    `, file], { stdio: ['pipe', 'pipe', 'pipe'] });
    let seen = '';
    spy.stdout.on('data', (c: Buffer) => (seen += c.toString()));
    const exited = new Promise<number | null>((resolve) => spy.on('exit', resolve));
    while (!seen.includes('open')) {
      if (spy.exitCode !== null) assert.fail(`the probe could not open the file: ${seen}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    try {
      const r = await loki(['login', url, '--token-file', join(dir, 'good')]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.ok(readFileSync(file, 'utf8').includes(readFileSync(join(dir, 'good'), 'utf8').trim()));
      spy.stdin.write('read\n');
      assert.equal(await exited, 0);
      assert.ok(!seen.includes(readFileSync(join(dir, 'good'), 'utf8').trim()), `the other user read the new token: ${seen}`);
    } finally {
      spy.kill();
      await loki(['logout']);
      chmodSync(dir, 0o700);
    }
  });
});
