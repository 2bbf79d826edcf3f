// lokid started while Docker is not reachable: it comes up (the admin socket
// serves), and says so in one plain log line an operator can act on — which
// socket it tried, and why — not a stack trace.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { shortTempDir } from '../helpers/entry.js';

describe('lokid with Docker unreachable at startup', function () {
  this.timeout(60_000);
  let d: DaemonProcess | undefined;
  let home = '';
  after(async () => {
    await d?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('starts and logs one plain warning naming the Docker socket, with no stack trace', async () => {
    home = shortTempDir('lkdd');
    d = await spawnDaemon(home, { LOKI_DOCKER_SOCKET: '/nonexistent/docker.sock' });
    const warned = () => d!.output().split('\n').filter((l) => l.includes('could not list existing sandboxes'));
    // The log writer batches lines for a moment: wait for the line, not for a fixed time.
    for (let i = 0; i < 50 && warned().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const lines = warned();
    assert.equal(lines.length, 1, d.output());
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(entry.level, 'warn');
    assert.equal(entry.docker_socket, '/nonexistent/docker.sock');
    assert.equal(entry.code, 'docker_unavailable');
    assert.match(String(entry.reason), /cannot reach the Docker engine/);
    assert.match(String(entry.msg), /is dockerd running\?/);
    assert.equal(entry.err, undefined, 'no error object, so no stack trace');
    assert.doesNotMatch(lines[0]!, /\bat [\w.<>]+ \(/, 'no stack frame in the line');
  });
});
