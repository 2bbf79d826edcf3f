import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError, runtimePaths } from '../../../common/src/index.js';
import { healthy, startTestDaemon } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';

const NOBODY = 65534;

/** Connects to `socket` from a child process running as uid/gid; resolves with "connected" or the errno code. */
function connectAs(socket: string, uid: number, gid: number): Promise<string> {
  const script = `const s = require('net').connect(${JSON.stringify(socket)});
s.on('connect', () => { process.stdout.write('connected'); s.destroy(); });
s.on('error', (e) => process.stdout.write(e.code || String(e)));`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { uid, gid, timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim())));
  });
}

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8).padStart(4, '0');
}

describe('lokid sockets', function () {
  this.timeout(60_000);
  before(function () {
    if (process.getuid?.() !== 0) this.skip(); // dropping to another uid needs root
  });

  describe('with the default modes', () => {
    let d: Awaited<ReturnType<typeof startTestDaemon>>;
    before(async () => {
      d = await startTestDaemon();
      // Open every directory on the way so that only the socket's own mode can refuse a peer.
      chmodSync(d.home, 0o755);
      chmodSync(d.paths.runDir, 0o755);
    });
    after(async () => d?.cleanup());

    it('creates admin.sock and gateway.sock with mode 0600', () => {
      assert.equal(mode(d.paths.adminSocket), '0600');
      assert.equal(mode(d.paths.gatewaySocket), '0600');
    });

    it('refuses a peer without permission on the admin and gateway sockets (EACCES for nobody)', async () => {
      assert.equal(await connectAs(d.paths.adminSocket, NOBODY, NOBODY), 'EACCES');
      assert.equal(await connectAs(d.paths.gatewaySocket, NOBODY, NOBODY), 'EACCES');
    });

    it('lets the same peer in once the mode allows it (so the refusal above came from the mode)', async () => {
      chmodSync(d.paths.adminSocket, 0o666);
      try {
        assert.equal(await connectAs(d.paths.adminSocket, NOBODY, NOBODY), 'connected');
      } finally {
        chmodSync(d.paths.adminSocket, 0o600);
      }
    });

    it('refuses to steal a live socket: a second daemon on the same home fails with `conflict`', async () => {
      await assert.rejects(startTestDaemon({ home: d.home }), (e: unknown) => {
        assert.ok(e instanceof LokiError);
        assert.equal(e.code, 'conflict');
        assert.match(e.message, /another lokid is already serving .*admin\.sock/);
        return true;
      });
      assert.ok(await healthy(d.paths.adminSocket), 'the first daemon still serves');
    });
  });

  it('admits members of the configured admin group through a 0660 socket, and nobody else', async () => {
    const d = await startTestDaemon({ overrides: { sockets: { admin_mode: '0660', admin_group: 'nogroup' } } });
    try {
      chmodSync(d.home, 0o755);
      chmodSync(d.paths.runDir, 0o755);
      assert.equal(mode(d.paths.adminSocket), '0660');
      assert.equal(statSync(d.paths.adminSocket).gid, NOBODY);
      assert.equal(await connectAs(d.paths.adminSocket, NOBODY, NOBODY), 'connected');
      assert.equal(await connectAs(d.paths.adminSocket, NOBODY, 65533), 'EACCES');
    } finally {
      await d.cleanup();
    }
  });

  it('replaces a stale socket file left behind by a crashed daemon', async () => {
    const home = shortTempDir('lkd');
    const paths = runtimePaths(home);
    try {
      // A process that binds admin.sock and dies by SIGKILL leaves the file without a listener.
      mkdirSync(paths.runDir, { recursive: true });
      const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(paths.adminSocket)}, () => process.kill(process.pid, 'SIGKILL'))`]);
      await new Promise((r) => child.once('exit', r));
      assert.ok(existsSync(paths.adminSocket), 'the stale socket file is there');
      const d = await startTestDaemon({ home });
      try {
        assert.ok(await healthy(d.paths.adminSocket));
        assert.equal(mode(join(paths.runDir, 'admin.sock')), '0600');
      } finally {
        await d.close();
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
