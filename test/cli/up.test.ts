// `loki up` you can trust: it honours LOKI_API_PORT and LOKI_TLS_CERT/KEY,
// probes over the scheme it serves, says "ready" only when its own processes
// answer, and refuses a busy port or a socket another lokid serves — at once,
// with the reason and a non-zero exit.
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { entryArgv, shortTempDir } from '../helpers/entry.js';
import { SANDBOX_IMAGE, spawnDaemon } from '../helpers/daemon.js';
import { selfSignedCert } from '../gateway/helpers.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Up {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

function up(home: string, args: string[], env: NodeJS.ProcessEnv = {}): Up {
  const child = spawn(process.execPath, [...entryArgv('cli'), '--home', home, 'up', ...args], {
    env: { PATH: process.env.PATH ?? '', LOKI_SANDBOX_IMAGE: SANDBOX_IMAGE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { child, out: () => out, exit };
}

async function waitFor(u: Up, text: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!u.out().includes(text)) {
    if (u.child.exitCode !== null) throw new Error(`loki up exited (${u.child.exitCode}):\n${u.out()}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" from loki up:\n${u.out()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...entryArgv('cli'), ...args], { env: { PATH: process.env.PATH ?? '', LOKI_CONFIG_DIR: '/nonexistent' }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

describe('loki up', function () {
  this.timeout(120_000);
  const homes: string[] = [];
  const home = () => {
    const h = shortTempDir('lkup');
    homes.push(h);
    return h;
  };
  after(() => {
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });

  it('serves HTTPS from LOKI_TLS_CERT/LOKI_TLS_KEY on LOKI_API_PORT, probes over HTTPS, and the remote CLI reaches it with --ca-file', async () => {
    const h = home();
    const { cert, key } = selfSignedCert(h);
    const port = await freePort();
    const u = up(h, [], { LOKI_TLS_CERT: cert, LOKI_TLS_KEY: key, LOKI_API_PORT: String(port) });
    try {
      await waitFor(u, 'Loki is up');
      assert.match(u.out(), new RegExp(`loki-gateway ready at https://127\\.0\\.0\\.1:${port} \\(TLS\\)`));
      const tokenFile = join(h, 'cli-token');
      // The command loki up printed for using the token (its output here is a pipe, so no secret: see below).
      assert.ok(u.out().includes(`  loki --url https://127.0.0.1:${port} --ca-file ${cert} --token-file ${tokenFile} status\n`), u.out());
      const st = await cli(['--url', `https://127.0.0.1:${port}`, '--ca-file', cert, '--token-file', tokenFile, 'status', '--json']);
      assert.equal(st.code, 0, st.stderr);
      const s = JSON.parse(st.stdout) as { gateway: { tls: boolean; ready: boolean } };
      assert.deepEqual([s.gateway.tls, s.gateway.ready], [true, true]);
      // Without the CA the certificate is refused, and the error says how to fix it.
      const noCa = await cli(['--url', `https://127.0.0.1:${port}`, '--token-file', tokenFile, 'status']);
      assert.equal(noCa.code, 8);
      assert.match(noCa.stderr, /--ca-file/);
    } finally {
      u.child.kill('SIGINT');
      assert.equal(await u.exit, 130, 'Ctrl-C exits 130 after stopping both');
    }
  });

  it('keeps the first-run admin token out of output that is not a terminal (CI logs, nohup.out, journald) and names its 0600 file instead', async () => {
    const h = home();
    const port = await freePort();
    const u = up(h, ['--port', String(port)]);
    try {
      await waitFor(u, 'Loki is up');
      const tokenFile = join(h, 'cli-token');
      const secret = readFileSync(tokenFile, 'utf8').trim();
      assert.match(secret, /^loki_[0-9A-Za-z]{49}$/);
      assert.equal(u.out().includes(secret), false, `the secret reached a pipe:\n${u.out()}`);
      assert.doesNotMatch(u.out(), /loki_[0-9A-Za-z]{20,}/);
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
      assert.ok(u.out().includes(`It is in ${tokenFile} (mode 0600, readable only by you); not printed here because this output is not a terminal.`), u.out());
      // The curl line it prints works as printed (the header on stdin, never the token in argv).
      const curl = /^ {2}(printf .*\| curl .*\/api\/status)$/m.exec(u.out())?.[1];
      assert.ok(curl, u.out());
      const res = await new Promise<{ code: number; out: string }>((resolve) =>
        execFile('bash', ['-c', `${curl} -s -o /dev/null -w '%{http_code}'`], (err, stdout) => resolve({ code: err ? 1 : 0, out: stdout })),
      );
      assert.deepEqual(res, { code: 0, out: '200' });
    } finally {
      u.child.kill('SIGINT');
      assert.equal(await u.exit, 130, u.out());
    }
  });

  it('refuses a busy port at once, with the reason and exit 6, and never says ready', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const started = Date.now();
      const u = up(home(), ['--port', String(port)]);
      const code = await u.exit;
      assert.equal(code, 6, u.out());
      assert.match(u.out(), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.doesNotMatch(u.out(), /\bready\b|Loki is up/);
      assert.ok(Date.now() - started < 15_000, 'fails fast, not after a 30 s probe');
    } finally {
      busy.close();
    }
  });

  it('refuses to start when another lokid already serves the socket', async () => {
    const h = home();
    const other = await spawnDaemon(h);
    try {
      const u = up(h, ['--port', String(await freePort())]);
      assert.equal(await u.exit, 6, u.out());
      assert.match(u.out(), /another lokid already serves .*admin\.sock/);
      assert.doesNotMatch(u.out(), /\bready\b|Loki is up/);
    } finally {
      await other.stop();
    }
  });

  it('passes SIGHUP on to lokid and the gateway (they reload) and keeps supervising them', async () => {
    const u = up(home(), ['--port', String(await freePort())]);
    try {
      await waitFor(u, 'Loki is up');
      u.child.kill('SIGHUP');
      await waitFor(u, '"config reloaded"', 15_000);
      await waitFor(u, 'configuration reloaded', 15_000);
      assert.equal(u.child.exitCode, null, 'loki up is still running');
    } finally {
      u.child.kill('SIGINT');
    }
    assert.equal(await u.exit, 130, u.out());
  });

  it('says how lokid ended when it is killed, stops the gateway and exits non-zero', async () => {
    const u = up(home(), ['--port', String(await freePort())]);
    try {
      await waitFor(u, 'Loki is up');
      const children = await new Promise<string>((resolve) => execFile('pgrep', ['-a', '-P', String(u.child.pid)], (_e, out) => resolve(out)));
      const lokid = /^(\d+) .*daemon\/src\/main\.[jt]s/m.exec(children)?.[1];
      assert.ok(lokid, children);
      process.kill(Number(lokid), 'SIGKILL');
      assert.equal(await u.exit, 1, u.out());
      assert.match(u.out(), /loki: lokid was killed by SIGKILL; stopping the gateway \(run `loki up` again: running sessions re-attach\)/);
      const gateway = /^(\d+) .*gateway\/src\/main\.[jt]s/m.exec(children)?.[1];
      assert.ok(gateway, children);
      assert.throws(() => process.kill(Number(gateway), 0), /ESRCH/, 'the gateway was stopped with it');
    } finally {
      u.child.kill('SIGINT');
    }
  });

  it('refuses a config lokid refuses with exit 2 (invalid_config) and every problem, not exit 8', async () => {
    const h = home();
    writeFileSync(join(h, 'config.yaml'), 'policy:\n  rules:\n    - { effect: deny, pattern: "git push -f", not_match: ["git push -f origin"] }\n  profiles:\n    weird: { extends: nope }\n');
    const u = up(h, ['--port', String(await freePort())]);
    assert.equal(await u.exit, 2, u.out());
    assert.match(u.out(), /example "git push -f origin" should not match "git push -f" but does/);
    assert.match(u.out(), /policy\.profiles\.weird\.extends: unknown built-in profile "nope"/);
    assert.match(u.out(), /lokid refused its configuration/);
    assert.doesNotMatch(u.out(), /\bready\b|Loki is up/);
  });

  it('refuses an unauthenticated metrics listener on every interface with exit 2, saying why and how to allow it', async () => {
    const h = home();
    const u = up(h, ['--port', '22160'], { LOKI_METRICS_LISTEN: '0.0.0.0:22161' });
    assert.equal(await u.exit, 2, u.out());
    assert.match(u.out(), /metrics\.listen: refusing to serve \/metrics without authentication on every interface \(0\.0\.0\.0:22161\)/);
    assert.match(u.out(), /LOKI_METRICS_PUBLIC=1/);
    assert.match(u.out(), /loki-gateway refused its configuration/);
    assert.doesNotMatch(u.out(), /Loki is up/);
  });

  it('refuses TLS with only half of the key pair', async () => {
    const h = home();
    const { cert } = selfSignedCert(h);
    const u = up(h, ['--tls-cert', cert, '--port', String(await freePort())]);
    assert.equal(await u.exit, 2, u.out());
    assert.match(u.out(), /needs both a certificate and a key/);
  });
});
