// Streams opened by a compromised gateway. A raw gRPC client on a real lokid's
// gateway.sock holds one viewer's credential (as a gateway does while that user
// has the dashboard open) and opens streams it never reads. lokid must bound
// what one credential can hold open, keep serving everyone else, and give the
// slots back when the streams go.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { AuditServiceClient, AuditServiceService, TailAuditRequest } from '../../../proto/gen/loki/v1/audit.js';
import { MAX_STREAM_BACKLOG } from '../../../daemon/src/grpc/backlog.js';
import { PolicyServiceClient, PolicyServiceService, WatchApprovalsRequest } from '../../../proto/gen/loki/v1/policy.js';
import { SessionServiceClient, type SessionEvent } from '../../../proto/gen/loki/v1/sessions.js';
import { openSqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { SystemServiceClient } from '../../../proto/gen/loki/v1/system.js';
import { clientFor, errorCode, startTestDaemon, unaryCall, UNBOUNDED_GATEWAY_RECORDS, withCredential } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';
import { unreadStream } from '../../helpers/unread-stream.js';
import { sessionRow } from '../store/helpers.js';

type TestDaemon = Awaited<ReturnType<typeof startTestDaemon>>;

const MAX = 4;

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
    // One test floods the log through the gateway's door on purpose: lift lokid's bound on gateway records for it.
    d = await startTestDaemon({ home: shortTempDir('h16-gwstreams'), overrides: { auth: { gateway_max_streams_per_subject: MAX }, audit: UNBOUNDED_GATEWAY_RECORDS } });
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
      for (let sent = 0; sent < MAX_STREAM_BACKLOG + 200; sent += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, i) => unaryCall(audit.record.bind(audit), { action: 'auth.fail', resource: `flood-${sent + i}`, result: 'denied', reason: 'flood', detailsJson: pad }, new Metadata())));
      }
    } finally {
      audit.close();
    }
    assert.equal(await tail.finish(10_000), String(status.RESOURCE_EXHAUSTED), 'the unread tail was not ended');
  });
});

describe('gateway door: an approvals watch whose reader stopped reading (attacker\'s view)', function () {
  this.timeout(120_000);
  // More approval events than a watch may have waiting, each carrying a long command.
  const N = MAX_STREAM_BACKLOG + 200;
  const COMMAND = `echo ${'x'.repeat(16_000)}`;
  let d: TestDaemon;
  let viewer: string;
  const ids: string[] = [];

  before(async () => {
    const home = shortTempDir('h18-watch');
    // Seeded before lokid opens the database: one ended session of the viewer's, with N pending approvals.
    const store = openSqliteStore(join(home, 'state', 'loki.db'));
    const session = sessionRow(1, 'token:viewer');
    store.sessions.rows.insert(session);
    store.sessions.rows.transition(session.id, ['pending'], 'completed', 'done');
    const now = Date.now();
    for (let i = 0; i < N; i++) {
      const id = `apr-${randomUUID()}`;
      ids.push(id);
      await store.approvals.insertUnlessPending(
        { id, sessionId: session.id, actionKind: 'shell', normalized: `echo ${i}`, command: COMMAND, actionHash: `hash-${i}`, askedBy: 'mode:supervised', reason: 'seeded', requestedAt: now, expiresAt: now + 3_600_000, status: 'pending', decidedBy: '', decidedAt: 0, comment: '', consumedAt: 0, consumedBy: '', approvalsRequired: 1, distinctFromStarter: false, approvers: [] },
        N,
      );
    }
    store.close();
    d = await startTestDaemon({ home });
    viewer = (await d.tokens.generate({ name: 'viewer', role: 'viewer', expiresDays: 0, owner: 'local:0' })).secret;
  });

  after(async () => {
    await d?.cleanup();
  });

  it('ends a watch that falls more than MAX_STREAM_BACKLOG events behind with RESOURCE_EXHAUSTED, instead of holding every approval event for it', async () => {
    // The viewer owns the session, so every event is one its watch must deliver.
    const watch = unreadStream(d.paths.gatewaySocket, PolicyServiceService.watchApprovals.path, WatchApprovalsRequest.encode({ sessionId: '', includePending: false }).finish(), { 'x-loki-credential': viewer });
    await new Promise((r) => setTimeout(r, 300));
    // Every decision is an event each watcher is sent (the same holds for approvals agents open).
    const admin = clientFor(PolicyServiceClient, d.paths.adminSocket);
    try {
      for (let i = 0; i < N; i += 100) {
        await Promise.all(ids.slice(i, i + 100).map((id) => unaryCall(admin.decideApproval.bind(admin), { id, approve: false, comment: '' }, new Metadata())));
      }
    } finally {
      admin.close();
    }
    assert.equal(await watch.finish(10_000), String(status.RESOURCE_EXHAUSTED), 'the unread watch was not ended');
  });
});
