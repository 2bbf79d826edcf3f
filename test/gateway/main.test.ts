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
