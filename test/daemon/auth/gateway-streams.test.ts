// Streams opened by a compromised gateway. A raw gRPC client on a real lokid's
// gateway.sock holds one viewer's credential (as a gateway does while that user
// has the dashboard open) and opens streams it never reads. lokid must bound
// what one credential can hold open, keep serving everyone else, and give the
// slots back when the streams go.
import assert from 'node:assert/strict';
import { Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { SessionServiceClient, type SessionEvent } from '../../../proto/gen/loki/v1/sessions.js';
import { SystemServiceClient } from '../../../proto/gen/loki/v1/system.js';
import { clientFor, errorCode, startTestDaemon, unaryCall } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';

type TestDaemon = Awaited<ReturnType<typeof startTestDaemon>>;

const MAX = 4;

function withCredential(secret: string): Metadata {
  const md = new Metadata();
  md.set('x-loki-credential', secret);
  return md;
}

/** Resolves with the stream's error, or 'open' if it is still open after `ms`. */
function outcome(s: ClientReadableStream<unknown>, ms: number): Promise<ServiceError | 'open'> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('open'), ms);
    s.once('error', (e: ServiceError) => {
      clearTimeout(t);
      resolve(e);
    });
  });
}

describe('gateway door: streams one credential can hold open (attacker\'s view)', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  let sessions: SessionServiceClient;
  let viewer: string;
  let other: string;
  const opened: ClientReadableStream<SessionEvent>[] = [];

  /** A follow stream of every visible session's events, paused: the attacker never reads it. */
  function follow(secret: string): ClientReadableStream<SessionEvent> {
    const s = sessions.events({ sessionId: '', afterSeq: 0, afterGid: 0, follow: true }, withCredential(secret));
    s.on('error', () => {});
    s.pause();
    opened.push(s);
    return s;
  }

  before(async () => {
    d = await startTestDaemon({ home: shortTempDir('h16-gwstreams'), overrides: { auth: { gateway_max_streams_per_subject: MAX } } });
    viewer = (await d.tokens.generate({ name: 'viewer', role: 'viewer', expiresDays: 0, owner: 'local:0' })).secret;
    other = (await d.tokens.generate({ name: 'other', role: 'viewer', expiresDays: 0, owner: 'local:0' })).secret;
    sessions = clientFor(SessionServiceClient, d.paths.gatewaySocket);
  });

  after(async () => {
    for (const s of opened) s.cancel();
    sessions?.close();
    await d?.cleanup();
  });

  it('refuses one credential\'s stream beyond auth.gateway_max_streams_per_subject with RESOURCE_EXHAUSTED, serves other users, and frees a slot when a stream goes', async () => {
    const mine = Array.from({ length: MAX }, () => follow(viewer));
    for (const o of await Promise.all(mine.map((s) => outcome(s, 1000)))) assert.equal(o, 'open');

    const extra = await outcome(follow(viewer), 5000);
    assert.notEqual(extra, 'open', `stream ${MAX + 1} of one credential was accepted`);
    assert.equal((extra as ServiceError).code, status.RESOURCE_EXHAUSTED);
    assert.equal(errorCode(extra), 'resource_exhausted');
    assert.match((extra as ServiceError).details, /token:viewer already has 4 open streams.*auth\.gateway_max_streams_per_subject = 4/);

    // Another user is not locked out by the attacker's streams, nor is anyone's unary call.
    assert.equal(await outcome(follow(other), 1000), 'open');
    const sys = clientFor(SystemServiceClient, d.paths.gatewaySocket);
    try {
      assert.equal((await unaryCall(sys.getStatus.bind(sys), {}, withCredential(viewer))).callerSubject, 'token:viewer');
    } finally {
      sys.close();
    }

    // A cancelled stream gives its slot back (no reader needed to read on).
    mine[0]!.cancel();
    const deadline = Date.now() + 5000;
    let again: ServiceError | 'open' = 'open';
    do {
      await new Promise((r) => setTimeout(r, 100));
      again = await outcome(follow(viewer), 500);
    } while (again !== 'open' && Date.now() < deadline);
    assert.equal(again, 'open', 'the slot of a cancelled stream was not given back');
  });

  it('does not count the local admin door\'s streams', async () => {
    const admin = clientFor(SessionServiceClient, d.paths.adminSocket);
    const mine: ClientReadableStream<SessionEvent>[] = [];
    try {
      for (let i = 0; i < MAX + 2; i++) {
        const s = admin.events({ sessionId: '', afterSeq: 0, afterGid: 0, follow: true }, new Metadata());
        s.on('error', () => {});
        mine.push(s);
      }
      for (const o of await Promise.all(mine.map((s) => outcome(s, 1000)))) assert.equal(o, 'open');
    } finally {
      for (const s of mine) s.cancel();
      admin.close();
    }
  });
});
