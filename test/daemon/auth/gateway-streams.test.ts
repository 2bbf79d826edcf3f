// Streams opened by a compromised gateway. A raw gRPC client on a real lokid's
// gateway.sock holds one viewer's credential (as a gateway does while that user
// has the dashboard open) and opens streams it never reads. lokid must bound
// what one credential can hold open, keep serving everyone else, and give the
// slots back when the streams go.
import assert from 'node:assert/strict';
import { connect as http2Connect } from 'node:http2';
import { connect } from 'node:net';
import { Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { AuditServiceClient, AuditServiceService, TailAuditRequest } from '../../../proto/gen/loki/v1/audit.js';
import { MAX_TAIL_BACKLOG } from '../../../daemon/src/audit/grpc.js';
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

/**
 * A server stream opened over raw HTTP/2 and never read: unlike a paused grpc-js
 * call, nothing takes its data off the connection, so lokid's writes really block.
 * `finish()` starts reading and resolves with the grpc-status it ends with.
 */
function unreadStream(socket: string, path: string, request: Uint8Array, headers: Record<string, string>): { finish(ms: number): Promise<string> } {
  const session = http2Connect('http://localhost', { createConnection: () => connect(socket) });
  const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
  const frame = Buffer.alloc(5 + request.length);
  frame.writeUInt32BE(request.length, 1);
  Buffer.from(request).copy(frame, 5);
  req.end(frame);
  req.pause();
  let grpcStatus: string | undefined;
  req.on('response', (h) => (grpcStatus ??= h['grpc-status'] as string | undefined));
  req.on('trailers', (h) => (grpcStatus = h['grpc-status'] as string | undefined));
  req.on('error', () => {});
  return {
    finish: (ms) =>
      new Promise((resolve) => {
        const t = setTimeout(() => {
          req.close();
          session.close();
          resolve('still open');
        }, ms);
        req.on('close', () => {
          clearTimeout(t);
          session.close();
          resolve(grpcStatus ?? 'no status');
        });
        req.resume();
      }),
  };
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

  it('ends an audit tail whose reader stopped reading once it falls behind, instead of holding every new entry for it', async () => {
    const auditor = (await d.tokens.generate({ name: 'auditor', role: 'auditor', expiresDays: 0, owner: 'local:0' })).secret;
    const tail = unreadStream(d.paths.gatewaySocket, AuditServiceService.tail.path, TailAuditRequest.encode({ last: 1, follow: true, action: '' }).finish(), { 'x-loki-credential': auditor });
    await new Promise((r) => setTimeout(r, 300));
    // Anyone on the gateway's door may record its reports: no credential needed to flood.
    const audit = clientFor(AuditServiceClient, d.paths.gatewaySocket);
    try {
      const pad = JSON.stringify({ pad: 'x'.repeat(6000) });
      for (let sent = 0; sent < MAX_TAIL_BACKLOG + 200; sent += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, i) => unaryCall(audit.record.bind(audit), { action: 'auth.fail', resource: `flood-${sent + i}`, result: 'denied', reason: 'flood', detailsJson: pad }, new Metadata())));
      }
    } finally {
      audit.close();
    }
    assert.equal(await tail.finish(10_000), String(status.RESOURCE_EXHAUSTED), 'the unread tail was not ended');
  });
});
