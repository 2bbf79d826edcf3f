// The real loki-gateway process: startup refusal, SIGHUP reload (good and bad), SIGTERM.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { generateToken, startTestDaemon, tempDir, type TestDaemon } from './helpers.js';

// Source under tsx, or the compiled file when the suite runs from dist/.
const MAIN_TS = join(import.meta.dirname, '../../gateway/src/main.ts');
const MAIN = existsSync(MAIN_TS) ? MAIN_TS : join(import.meta.dirname, '../../gateway/src/main.js');
const NODE_ARGS = MAIN.endsWith('.ts') ? ['--import', 'tsx', MAIN] : [MAIN];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const watchers: (() => void)[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    err += String(d);
    watchers.forEach((w) => w());
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    stderr: () => err,
    exited,
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const from = 0;
        const check = () => {
          if (re.test(err.slice(from))) {
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; stderr:\n${err}`)), timeoutMs);
        watchers.push(check);
        check();
      });
    },
  };
}

function count(text: string, re: RegExp): number {
  return (text.match(new RegExp(re, 'g')) ?? []).length;
}

describe('loki-gateway process', () => {
  let daemon: TestDaemon;
  let dir: ReturnType<typeof tempDir>;
  before(async () => {
    daemon = await startTestDaemon();
    dir = tempDir();
  });
  after(async () => {
    await daemon?.close();
    dir?.cleanup();
  });

  it('refuses to start on a non-loopback address without TLS, listing the problem', async () => {
    const p = run(['--host', '0.0.0.0', '--port', '0'], { LOKI_DAEMON_SOCKET: daemon.gatewaySocket });
    assert.equal(await p.exited, 2);
    assert.match(p.stderr(), /refusing to bind non-loopback address 0\.0\.0\.0 without TLS/);
  });

  it('names the --port flag (not LOKI_API_PORT) when its value is not a number', async () => {
    const p = run(['--port', 'abc'], { LOKI_DAEMON_SOCKET: daemon.gatewaySocket });
    assert.equal(await p.exited, 2);
    assert.match(p.stderr(), /--port: expected a port number, got "abc"/);
    assert.doesNotMatch(p.stderr(), /LOKI_API_PORT: expected/);
  });

  it('names the valid values of a wrong OIDC default role (not "Invalid input")', async () => {
    const p = run(['--port', '0'], { LOKI_DAEMON_SOCKET: daemon.gatewaySocket, LOKI_OIDC_ISSUER: 'https://idp.example.com', LOKI_OIDC_CLIENT_ID: 'loki', LOKI_OIDC_DEFAULT_ROLE: 'superuser' });
    assert.equal(await p.exited, 2);
    assert.match(p.stderr(), /enterprise\.auth\.oidc\.default_role: .*"admin".*"operator".*"viewer".*"auditor".*"none"/);
  });

  it('tells a bearer JWT apart when OIDC is not configured and when its provider is unreachable (the documented 401 messages)', async () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
    const ask = async (port: number) => {
      const r = await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { authorization: `Bearer ${jwt}` } });
      return { status: r.status, body: (await r.json()) as { error: { code: string; message: string } } };
    };
    const off = await freePort();
    const p1 = run(['--port', String(off)], { LOKI_DAEMON_SOCKET: daemon.gatewaySocket });
    try {
      await p1.waitFor(/gateway listening/);
      const r = await ask(off);
      assert.equal(r.status, 401);
      assert.match(r.body.error.message, /OIDC\/SSO is not configured on this gateway/);
    } finally {
      p1.child.kill('SIGTERM');
      await p1.exited;
    }
    const down = await freePort();
    const port = await freePort();
    const p2 = run(['--port', String(port)], { LOKI_DAEMON_SOCKET: daemon.gatewaySocket, LOKI_OIDC_ISSUER: `http://127.0.0.1:${down}`, LOKI_OIDC_CLIENT_ID: 'loki' });
    try {
      await p2.waitFor(/gateway listening/);
      const r = await ask(port);
      assert.equal(r.status, 401);
      assert.equal(r.body.error.message, 'OIDC is temporarily unavailable (the identity provider cannot be reached); API tokens still work');
    } finally {
      p2.child.kill('SIGTERM');
      await p2.exited;
    }
  });

  it('reloads on SIGHUP, keeps the old config when the new one is invalid, and exits cleanly on SIGTERM', async () => {
    const port = await freePort();
    const file = join(dir.dir, 'gateway.yaml');
    const write = (perMinute: number, extra = '') =>
      writeFileSync(file, `port: ${port}\ndaemon:\n  socket: ${daemon.gatewaySocket}\nrate_limit:\n  unauthenticated_per_minute: ${perMinute}\n${extra}`);
    write(40);
    const p = run(['--config', file]);
    try {
      await p.waitFor(/gateway listening/);
      const limit = async () => (await fetch(`http://127.0.0.1:${port}/api/status`)).headers.get('ratelimit-limit');
      assert.equal(await limit(), '40');
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz/ready`)).status, 200);

      write(30);
      p.child.kill('SIGHUP');
      await p.waitFor(/configuration reloaded/);
      assert.equal(await limit(), '30');
      // One JSON key per name: a second "level" would make log tools read the line's severity from the config value.
      const reloaded = p.stderr().split('\n').find((l) => l.includes('configuration reloaded'))!;
      assert.equal(count(reloaded, /"level":/), 1, reloaded);
      assert.equal((JSON.parse(reloaded) as { log_level?: string }).log_level, 'info');

      write(0, 'colour: blue\n');
      p.child.kill('SIGHUP');
      await p.waitFor(/reload refused/);
      const refused = p.stderr().split('\n').find((l) => l.includes('reload refused'))!;
      assert.match(refused, /rate_limit\.unauthenticated_per_minute/);
      assert.match(refused, /colour/);
      assert.equal(await limit(), '30', 'the previous configuration keeps running');
      assert.equal(count(p.stderr(), /configuration reloaded/), 1);

      // Both reloads, applied and refused, are in the daemon's audit log.
      const auditor = (await generateToken(daemon.adminSocket, { name: 'reload-auditor', role: 'auditor' })).secret;
      let results: string[] = [];
      for (let i = 0; i < 50 && results.length < 2; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/api/enterprise/audit?action=config.change`, { headers: { authorization: `Bearer ${auditor}` } });
        results = ((await r.json()) as { entries: { result: string; resource: string }[] }).entries.filter((e) => e.resource === 'config:gateway').map((e) => e.result);
        if (results.length < 2) await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(results.sort(), ['error', 'success']);

      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0);
    } finally {
      p.child.kill('SIGKILL');
    }
  });
});
