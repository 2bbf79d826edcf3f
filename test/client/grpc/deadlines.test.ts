// Call deadlines run on one shared timer (client/src/grpc/deadlines.ts) instead
// of grpc-js's per-call timers: an overdue call must still fail as the daemon
// being unavailable, the daemon must see it cancelled, and nothing may end early.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { LokiError } from '../../../common/src/index.js';
import { createDaemonClient } from '../../../client/src/grpc/daemon-client.js';
import { Deadlines } from '../../../client/src/grpc/deadlines.js';
import { SystemServiceService, type GetStatusRequest, type GetStatusResponse } from '../../../proto/gen/loki/v1/system.js';
import { tempDirEach } from '../../helpers/temp.js';

describe('Deadlines', () => {
  it('cancels only the calls past their deadline, and forgets calls that ended', () => {
    let now = 1_000;
    const d = new Deadlines(() => now);
    const cancelled: string[] = [];
    const short = d.track(100);
    short.call = { cancel: () => cancelled.push('short') };
    const long = d.track(1_000);
    long.call = { cancel: () => cancelled.push('long') };
    const ended = d.track(50);
    ended.call = { cancel: () => cancelled.push('ended') };
    d.done(ended);
    now += 99;
    d.sweep();
    assert.deepEqual(cancelled, [], 'nothing is cancelled before its deadline');
    now += 1;
    d.sweep();
    assert.deepEqual(cancelled, ['short']);
    assert.equal(short.expired, true);
    assert.equal(long.expired, false);
    now += 1_000;
    d.sweep();
    d.sweep();
    assert.deepEqual(cancelled, ['short', 'long'], 'each call is cancelled once');
    d.close();
  });
});

describe('daemon client deadlines (real grpc-js server on a unix socket)', function () {
  this.timeout(20_000);
  const dir = tempDirEach('lkdl-');
  let server: Server;
  let cancelledOnServer: number;
  let held: sendUnaryData<GetStatusResponse>[];

  beforeEach(async () => {
    cancelledOnServer = 0;
    held = [];
    server = new Server();
    server.addService(SystemServiceService, {
      // Never answers: the client's deadline has to end the call.
      getStatus: (call: ServerUnaryCall<GetStatusRequest, GetStatusResponse>, cb: sendUnaryData<GetStatusResponse>) => {
        call.on('cancelled', () => cancelledOnServer++);
        held.push(cb);
      },
    });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${join(dir.path, 'd.sock')}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  });
  afterEach(() => server.forceShutdown());

  it('fails a call the daemon never answers as daemon_unavailable once its deadline passes, and the daemon sees it cancelled', async () => {
    const client = createDaemonClient({ socketPath: join(dir.path, 'd.sock'), timeoutMs: 300 });
    try {
      const t0 = Date.now();
      await assert.rejects(client.getStatus({ requestId: 'r-1' }), (err: unknown) => {
        assert.ok(err instanceof LokiError);
        assert.equal(err.code, 'daemon_unavailable');
        return true;
      });
      assert.ok(Date.now() - t0 >= 300, 'not before the deadline');
      for (let i = 0; i < 50 && cancelledOnServer === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(cancelledOnServer, 1);
      assert.equal(held.length, 1);
    } finally {
      client.close();
    }
  });
});
