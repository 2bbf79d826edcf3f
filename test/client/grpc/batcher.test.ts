// The daemon client's call gathering (client/src/grpc/batcher.ts): calls started
// in one event-loop turn leave as one BatchService call, yet each one answers
// exactly as it would alone: its own identity, its own error, its own deadline.
// Against a real lokid (its gateway door serves BatchService, its admin door does
// not) and against bare grpc-js servers that misbehave on purpose.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { Server, ServerCredentials, type ServerWritableStream } from '@grpc/grpc-js';
import { LokiError } from '../../../common/src/index.js';
import { createDaemonClient, type CallIdentity, type DaemonClient } from '../../../client/src/grpc/daemon-client.js';
import { BatchServiceClient, BatchServiceService, type BatchedResult, type BatchRequest } from '../../../proto/gen/loki/v1/batch.js';
import { startTestDaemon } from '../../helpers/daemon.js';
import { tempDirEach } from '../../helpers/temp.js';

type TestDaemon = Awaited<ReturnType<typeof startTestDaemon>>;

/** The subject the daemon identified the caller as (GetStatus answers it). */
const subject = (client: DaemonClient, id: CallIdentity) => client.forCaller(id).status().then((s) => s.caller.subject);

/** Counts BatchService calls made by any client in this process, and how many calls each carried. */
function spyBatches(): { sizes: number[]; restore(): void } {
  const proto = BatchServiceClient.prototype as unknown as { call: (req: BatchRequest, ...rest: unknown[]) => unknown };
  const original = proto.call;
  const sizes: number[] = [];
  proto.call = function (this: unknown, req: BatchRequest, ...rest: unknown[]) {
    sizes.push(req.calls.length);
    return original.call(this, req, ...rest);
  };
  return { sizes, restore: () => void (proto.call = original) };
}

async function settle<T>(p: Promise<T>): Promise<T | LokiError> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof LokiError) return err;
    throw err;
  }
}

describe('daemon client call gathering (real lokid)', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  let admin: string;
  let viewer: string;
  let batched: DaemonClient;
  let alone: DaemonClient;
  const observed: number[] = [];

  before(async () => {
    d = await startTestDaemon();
    admin = (await d.tokens.generate({ name: 'gather-admin', role: 'admin', expiresDays: 0, owner: 'local:0' })).secret;
    viewer = (await d.tokens.generate({ name: 'gather-viewer', role: 'viewer', expiresDays: 0, owner: 'local:0' })).secret;
    batched = createDaemonClient({ socketPath: d.paths.gatewaySocket, timeoutMs: 10_000, batch: true, observeBatch: (n) => observed.push(n) });
    alone = createDaemonClient({ socketPath: d.paths.gatewaySocket, timeoutMs: 10_000 });
  });

  after(async () => {
    batched?.close();
    alone?.close();
    await d?.cleanup();
  });

  /** The same mix of callers, good and bad: started in one turn on `client`. */
  const mix = (client: DaemonClient) => {
    const who = [admin, viewer, undefined, `${viewer}x`, 'not a token'];
    return Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const credential = who[i % who.length];
        const id = { requestId: `r-${i}`, subject: 'forged', ...(credential ? { credential } : {}) };
        return i % 2 ? settle(subject(client, id)) : settle(client.listSessions({ all: true }, id).then((p) => `${p.sessions.length} sessions`));
      }),
    );
  };

  it('sends the calls of one turn as one batch, and each answers as it does alone (identity, result, error)', async () => {
    const spy = spyBatches();
    try {
      const together: unknown[] = await mix(batched);
      assert.deepEqual(spy.sizes, [20], 'one batch of 20 calls');
      assert.deepEqual(observed, [20], 'the batch is observed (the gateway\'s loki_grpc_client_batch_calls)');
      const separately: unknown[] = await mix(alone);
      assert.deepEqual(spy.sizes, [20], 'the unbatched client never batches');
      const view = (r: unknown) => (r instanceof LokiError ? `${r.code}: ${r.message}` : r);
      assert.deepEqual(together.map(view), separately.map(view));
      assert.ok(together.some((r) => r === 'token:gather-viewer') && together.some((r) => r === 'token:gather-admin'));
      assert.ok(together.some((r) => r instanceof LokiError && r.code === 'unauthenticated'), 'the bad credentials are refused');
    } finally {
      spy.restore();
    }
  });

  it('sends a call that is alone in its turn as an ordinary call', async () => {
    const spy = spyBatches();
    try {
      assert.equal(await subject(batched, { requestId: 'lone', credential: viewer }), 'token:gather-viewer');
      assert.deepEqual(spy.sizes, []);
    } finally {
      spy.restore();
    }
  });

  it('falls back to one call each, for good, on a door without BatchService (an older daemon)', async () => {
    const spy = spyBatches();
    const local = createDaemonClient({ socketPath: d.paths.adminSocket, timeoutMs: 10_000, batch: true, audience: 'operator' });
    try {
      const first = await Promise.all(['a', 'b', 'c'].map((requestId) => subject(local, { requestId })));
      assert.deepEqual(first.map((s) => s.startsWith('local:')), [true, true, true]);
      const again = await Promise.all([local.getStatus({ requestId: 'd' }), local.getStatus({ requestId: 'e' })]);
      assert.equal(again.length, 2);
      assert.deepEqual(spy.sizes, [3], 'tried once; every later call goes alone');
    } finally {
      spy.restore();
      local.close();
    }
  });
});

describe('daemon client call gathering (bare grpc-js BatchService that misbehaves)', function () {
  this.timeout(20_000);
  const dir = tempDirEach('lkbt-');
  let server: Server;
  let behave: (call: ServerWritableStream<BatchRequest, BatchedResult>) => void;
  let cancelledOnServer: number;

  beforeEach(async () => {
    cancelledOnServer = 0;
    server = new Server();
    server.addService(BatchServiceService, {
      call: (call: ServerWritableStream<BatchRequest, BatchedResult>) => {
        call.on('cancelled', () => cancelledOnServer++);
        behave(call);
      },
    });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${join(dir.path, 'd.sock')}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  });
  afterEach(() => server.forceShutdown());

  it('fails each call at its own deadline when the daemon never answers, and cancels the batch once none is left', async () => {
    behave = () => undefined; // holds every call
    const client = createDaemonClient({ socketPath: join(dir.path, 'd.sock'), timeoutMs: 300, batch: true });
    try {
      const t0 = Date.now();
      const rs = await Promise.all([settle(client.getStatus({ requestId: 'a' })), settle(client.getStatus({ requestId: 'b' }))]);
      for (const r of rs) {
        assert.ok(r instanceof LokiError);
        assert.equal(r.code, 'daemon_unavailable');
      }
      assert.ok(Date.now() - t0 >= 300, 'not before the deadline');
      for (let i = 0; i < 50 && cancelledOnServer === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(cancelledOnServer, 1, 'the batch is cancelled on the daemon');
    } finally {
      client.close();
    }
  });

  it('fails, rather than hangs, a call the daemon left out of a batch it ended', async () => {
    behave = (call) => {
      // Answers the first call only (a GetStatus response with all defaults), then ends the stream OK.
      call.write({ id: call.request.calls[0]!.id, code: 0, details: '', response: Buffer.alloc(0), errorCode: '' });
      call.end();
    };
    const client = createDaemonClient({ socketPath: join(dir.path, 'd.sock'), timeoutMs: 5_000, batch: true });
    try {
      const [a, b] = await Promise.all([settle(client.getStatus({ requestId: 'a' })), settle(client.getStatus({ requestId: 'b' }))]);
      assert.ok(!(a instanceof LokiError), String(a));
      assert.ok(b instanceof LokiError);
      assert.equal(b.code, 'internal');
    } finally {
      client.close();
    }
  });

  it('fails the calls of a turn whose client was closed meanwhile, instead of throwing from the event loop', async () => {
    behave = (call) => call.end();
    const client = createDaemonClient({ socketPath: join(dir.path, 'd.sock'), timeoutMs: 5_000, batch: true });
    const calls = [settle(client.getStatus({ requestId: 'a' })), settle(client.getStatus({ requestId: 'b' }))];
    const alone = createDaemonClient({ socketPath: join(dir.path, 'd.sock'), timeoutMs: 5_000, batch: true });
    const lone = settle(alone.getStatus({ requestId: 'c' }));
    // Closed in the same turn the calls were started in: they leave (or would) only at its end.
    client.close();
    alone.close();
    for (const r of [...(await Promise.all(calls)), await lone]) {
      assert.ok(r instanceof LokiError, String(r));
      assert.equal(r.code, 'daemon_unavailable');
    }
  });

  it('gives each call the error the daemon reported for it, with its Loki code', async () => {
    behave = (call) => {
      const [a, b] = call.request.calls;
      call.write({ id: b!.id, code: 7, details: 'no, not you', response: Buffer.alloc(0), errorCode: 'permission_denied' });
      call.write({ id: a!.id, code: 5, details: 'no such thing', response: Buffer.alloc(0), errorCode: 'session_not_found' });
      call.end();
    };
    const client = createDaemonClient({ socketPath: join(dir.path, 'd.sock'), timeoutMs: 5_000, batch: true });
    try {
      const [a, b] = await Promise.all([settle(client.getStatus({ requestId: 'a' })), settle(client.getStatus({ requestId: 'b' }))]);
      assert.ok(a instanceof LokiError && b instanceof LokiError);
      assert.equal(a.code, 'session_not_found');
      assert.equal(b.code, 'permission_denied');
      assert.match(b.message, /no, not you/);
    } finally {
      client.close();
    }
  });
});
