// While lokid is away (a restart, an upgrade), the daemon client must keep trying
// to reach it about once a second, not back off for up to grpc-js's default two
// minutes: the gateway, the dashboard and `--follow` come back as soon as lokid does.
// A plain socket that takes each connection and closes it stands in for a lokid that
// is starting: every try of the client's channel is one accepted connection here.
import { strict as assert } from 'node:assert';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createDaemonClient } from '../../../client/src/grpc/daemon-client.js';
import { RECONNECT_BACKOFF_MS } from '../../../client/src/grpc/daemon-client-wire.js';
import { tempDirEach } from '../../helpers/temp.js';

describe('daemon client while lokid is away', function () {
  this.timeout(60_000);
  const tmp = tempDirEach('lkrc-');

  it('tries again at least once every max backoff (not grpc-js default of up to 120 s)', async () => {
    const socketPath = join(tmp.path, 'gateway.sock');
    let tries = 0;
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      tries++;
      sockets.add(s);
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(socketPath, r));
    const client = createDaemonClient({ socketPath, timeoutMs: 500 });
    // What the gateway's readiness probe and a reconnecting dashboard do: ask now and then.
    const seconds = 16;
    const end = Date.now() + seconds * 1000;
    try {
      while (Date.now() < end) {
        assert.equal(await client.isServing(500), false);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      client.close();
      await new Promise((r) => server.close(r));
    }
    // grpc-js's defaults (1 s, ×1.6, ±20 %, up to 120 s) try at about 0, 1, 2.6, 5.2, 9.3 and 15.9 s: 5 or 6 tries.
    // Backing off to RECONNECT_BACKOFF_MS.unix at most, it tries at least once a second after the first few.
    const least = Math.floor((seconds * 1000) / (RECONNECT_BACKOFF_MS.unix * 1.2)) - 2;
    assert.ok(tries >= least, `${tries} tries in ${seconds} s; expected at least ${least}`);
  });
});
