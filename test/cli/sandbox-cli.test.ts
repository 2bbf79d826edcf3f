import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { entryArgv, shortTempDir } from '../helpers/entry.js';
import { removeInstanceContainers, requireImage } from '../helpers/sandbox.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function loki(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...entryArgv('cli'), ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function waitFor<T>(f: () => T | undefined, what: string | (() => string), ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('loki sandbox (the real CLI against a real lokid)', function () {
  this.timeout(120_000);
  let home: string;
  let daemon: DaemonProcess;
  let sb: (args: string[]) => Promise<Run>;
  let id: string;

  before(async () => {
    await requireImage();
    home = shortTempDir('lkc');
    daemon = await spawnDaemon(home);
    sb = (args) => loki(['--socket', daemon.paths.adminSocket, 'sandbox', ...args]);
  });

  after(async () => {
    await daemon?.stop();
    await removeInstanceContainers(home);
    rmSync(home, { recursive: true, force: true });
  });

  it('starts a sandbox and shows it in status --json and list --json', async () => {
    const start = await sb(['start', '--json', '--name', 'cli-box', '--project', 'demo', '--', 'sh', '-c', 'echo one; echo two; exec sleep 300']);
    assert.equal(start.code, 0, start.stderr);
    const started = JSON.parse(start.stdout) as { id: string; name: string; state: string; hardening: { network_mode: string; read_only_rootfs: boolean } };
    id = started.id;
    assert.match(id, /^sbx-[0-9a-f]{12}$/);
    assert.deepEqual([started.name, started.state, started.hardening.network_mode, started.hardening.read_only_rootfs], ['cli-box', 'running', 'none', true]);

    const status = await sb(['status', 'cli-box', '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { id: string }).id, id);

    const list = await sb(['list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { sandboxes: { id: string; project: string }[] }).sandboxes.map((s) => [s.id, s.project]), [[id, 'demo']]);
  });

  it('passes the exit code of `exec` through as its own', async () => {
    const r = await sb(['exec', id, '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, 'out\n', 'err\n']);
  });

  it('prints the last N log lines with --tail', async () => {
    const r = await sb(['logs', id, '--tail', '1']);
    assert.deepEqual([r.code, r.stdout], [0, 'two\n']);
  });

  it('rejects a bad flag value with exit code 2', async () => {
    const r = await sb(['logs', id, '--tail', 'abc']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /expected a non-negative integer, got "abc"/);
  });

  it('exits 5 for an unknown sandbox', async () => {
    const r = await sb(['status', 'no-such-box']);
    assert.equal(r.code, 5);
    assert.equal(r.stderr, 'loki: no sandbox "no-such-box"\n');
  });

  it('runs an interactive shell in a real terminal: raw mode, size, resize and exit code', async function () {
    if (!existsSync('/usr/bin/tmux')) this.skip();
    const dir = shortTempDir('lk-tmux');
    const tmux = ['-S', join(dir, 'tmux.sock')];
    const codeFile = join(dir, 'code');
    const cmd = [process.execPath, ...entryArgv('cli'), '--socket', daemon.paths.adminSocket, 'sandbox', 'shell', id].map((a) => `'${a}'`).join(' ');
    const pane = () => execFileSync('tmux', [...tmux, 'capture-pane', '-p', '-t', 'sh'], { encoding: 'utf8' });
    try {
      execFileSync('tmux', [...tmux, 'new-session', '-d', '-s', 'sh', '-x', '120', '-y', '40', `${cmd}; echo $? > ${codeFile}; sleep 30`], { env: { ...process.env, TERM: 'xterm-256color' } });
      await waitFor(() => (/loki@|\$ $/m.test(pane()) ? true : undefined), () => `the shell prompt:\n${pane()}`);
      execFileSync('tmux', [...tmux, 'send-keys', '-t', 'sh', 'echo $((6*7)); stty size; id -u', 'Enter']);
      await waitFor(() => (/^40 120$/m.test(pane()) ? true : undefined), () => `"40 120" in the pane:\n${pane()}`);
      assert.match(pane(), /^42$/m);
      assert.match(pane(), /^64000$/m);
      execFileSync('tmux', [...tmux, 'resize-window', '-t', 'sh', '-x', '100', '-y', '30']);
      execFileSync('tmux', [...tmux, 'send-keys', '-t', 'sh', 'clear; stty size', 'Enter']);
      await waitFor(() => (/^30 100$/m.test(pane()) ? true : undefined), () => `"30 100" after resize:\n${pane()}`);
      execFileSync('tmux', [...tmux, 'send-keys', '-t', 'sh', 'exit 5', 'Enter']);
      const code = await waitFor(() => (existsSync(codeFile) && readFileSync(codeFile, 'utf8').trim() ? readFileSync(codeFile, 'utf8').trim() : undefined), 'the CLI to exit');
      assert.equal(code, '5');
    } finally {
      try {
        execFileSync('tmux', [...tmux, 'kill-server'], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops and removes the sandbox', async () => {
    const r = await sb(['stop', id, '--timeout', '1']);
    assert.deepEqual([r.code, r.stdout], [0, `${id} stopped and removed\n`]);
    assert.equal((await sb(['status', id])).code, 5);
    // An empty list says so instead of printing a header with nothing under it.
    assert.deepEqual(await sb(['list']).then((x) => [x.code, x.stdout]), [0, 'no running sandboxes (--all shows stopped ones)\n']);
    assert.deepEqual(await sb(['list', '--all']).then((x) => [x.code, x.stdout]), [0, 'no sandboxes\n']);
  });
});

describe('loki sandbox without a daemon', function () {
  this.timeout(60_000);

  it('says in exactly one line that lokid is not running and how to start it, and exits 8', async () => {
    const dir = shortTempDir('lkc');
    try {
      const r = await loki(['--socket', join(dir, 'admin.sock'), 'sandbox', 'list']);
      assert.equal(r.code, 8);
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /lokid is not running .*Start it with `loki up`/);
      assert.equal(r.stdout, '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists every subcommand in `loki sandbox --help`', async () => {
    const r = await loki(['sandbox', '--help']);
    assert.equal(r.code, 0);
    for (const c of ['build', 'start', 'status', 'list', 'logs', 'shell', 'exec', 'stop', 'rm']) {
      assert.match(r.stdout, new RegExp(`^\\s+${c}\\b`, 'm'), `help lists ${c}`);
    }
  });
});
