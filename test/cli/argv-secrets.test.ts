// `loki --token T` against a gateway that is slow to answer: while the command
// runs, another local user reads its command line (/proc/<pid>/cmdline, as
// uid 65534 when the test runs as root) and must not find the token there.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { maskedArgv } from '../../cli/src/argv-secrets.js';
import { entryArgv } from '../helpers/entry.js';

function cmdlineAsOther(pid: number): string {
  if (process.getuid?.() === 0 && existsSync('/usr/bin/setpriv')) {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', `/proc/${pid}/cmdline`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  }
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
}

describe('loki --token on the command line', function () {
  this.timeout(60_000);
  let server: Server;
  const sockets: Socket[] = [];
  let connected: Promise<void>;

  before(async () => {
    let onConnect!: () => void;
    connected = new Promise((r) => (onConnect = r));
    // Accepts and never answers: the CLI stays mid-request for as long as the test looks.
    server = createServer((s) => {
      sockets.push(s);
      onConnect();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it('masks every spelling of the value', () => {
    assert.deepEqual(maskedArgv(['node', 'loki', '--token', 'loki_x', 'status']), ['node', 'loki', '--token', '***', 'status']);
    assert.deepEqual(maskedArgv(['node', 'loki', '--token=loki_x', 'status']), ['node', 'loki', '--token=***', 'status']);
    assert.equal(maskedArgv(['node', 'loki', '--token-file', '/x', 'status']), undefined);
  });

  it('is gone from the process’s command line while the command runs', async function () {
    if (process.platform !== 'linux') this.skip();
    const token = 'loki_' + 'S'.repeat(49);
    const port = (server.address() as AddressInfo).port;
    const child = spawn(process.execPath, [...entryArgv('cli'), '--url', `http://127.0.0.1:${port}`, '--token', token, 'sessions', 'list'], {
      env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', LOKI_CONFIG_DIR: '/nonexistent' },
      stdio: 'ignore',
    });
    try {
      await connected;
      const seen = cmdlineAsOther(child.pid!);
      assert.match(seen, /sessions/, 'the probe read the right process');
      assert.ok(!seen.includes(token), `the token is readable by other users: ${seen.replace(/\0/g, ' ')}`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
