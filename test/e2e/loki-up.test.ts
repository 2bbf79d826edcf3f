import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { entryArgv, shortTempDir } from '../helpers/entry.js';
import { SANDBOX_IMAGE } from '../helpers/daemon.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('loki up', function () {
  this.timeout(90_000);

  it('starts lokid and the gateway with embedded defaults, prints the admin token once to the terminal, and stops both on Ctrl-C', async () => {
    const home = shortTempDir('lkup');
    const port = await freePort();
    const env = { PATH: process.env.PATH ?? '', LOKI_SANDBOX_IMAGE: SANDBOX_IMAGE };
    // As in the README: `npm start` in a terminal. script(1) gives loki up a pty for stdout
    // (the secret is shown only to a terminal; test/cli/up.test.ts covers a pipe).
    const cmd = [process.execPath, ...entryArgv('cli'), '--home', home, 'up', '--port', String(port)].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qec', `exec ${cmd}`, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    // loki up itself (script's child, after the shell's exec): Ctrl-C goes to it, as a terminal's would.
    const lokiUp = () => Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const deadline = Date.now() + 60_000;
      while (!out.includes('Loki is up')) {
        if (child.exitCode !== null) throw new Error(`loki up exited early:\n${out}`);
        if (Date.now() > deadline) throw new Error(`loki up did not come up:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const tokenFile = `${home}/cli-token`;
      const secret = readFileSync(tokenFile, 'utf8').trim();
      assert.match(secret, /^loki_[0-9A-Za-z]{49}$/);
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
      assert.ok(out.includes(`Token:   ${secret}`), 'the token is printed on first run');
      assert.equal(out.split(secret).length - 1, 1, 'printed exactly once');

      const base = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${base}/healthz/live`)).status, 200);
      assert.equal((await fetch(`${base}/api/status`)).status, 401);
      const st = await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${secret}` } });
      assert.equal(st.status, 200);
      const body = (await st.json()) as { daemon: { sandbox_driver: { name: string; reachable: boolean }; docker: { reachable: boolean } } };
      assert.deepEqual([body.daemon.sandbox_driver.name, body.daemon.sandbox_driver.reachable], ['docker', true]);
      // The older spelling stays in the API for existing clients.
      assert.equal(body.daemon.docker.reachable, true);
      // The first-run token is in the audit log like any other (before, only lokid's log said so).
      const audit = await fetch(`${base}/api/enterprise/audit?action=token.generate`, { headers: { authorization: `Bearer ${secret}` } });
      const entries = ((await audit.json()) as { entries: { user: string; resource: string; details: Record<string, unknown> }[] }).entries;
      assert.equal(entries.length, 1, JSON.stringify(entries));
      assert.match(entries[0]!.resource, /^token:tok-/);
      assert.match(entries[0]!.user, /^local:\d+$/);
      assert.deepEqual([entries[0]!.details.name, entries[0]!.details.bootstrap], ['local-admin', true]);

      const code = await new Promise<number | null>((resolve) => {
        child.once('exit', (c) => resolve(c));
        process.kill(lokiUp(), 'SIGINT');
      });
      assert.equal(code, 130, out); // 128 + SIGINT, after stopping both
      await assert.rejects(fetch(`${base}/healthz/live`), 'the gateway is gone');
      const admin = `${home}/run/admin.sock`;
      const alive = existsSync(admin) && (await new Promise<boolean>((resolve) => {
        const s = connect(admin);
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
      }));
      assert.equal(alive, false, 'lokid is gone');
    } finally {
      // A failed run still stops lokid and the gateway: Ctrl-C to loki up (SIGKILL on it would leave them running).
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        try {
          process.kill(lokiUp(), 'SIGINT');
        } catch {
          child.kill('SIGKILL');
        }
        await Promise.race([gone, new Promise((r) => setTimeout(r, 20_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(home, { recursive: true, force: true });
    }
  });
});
