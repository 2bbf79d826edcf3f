// Unary calls sent by a compromised gateway. A raw gRPC client on a real lokid's
// gateway.sock holds one auditor's credential (as a gateway does while that user
// has the dashboard open) and sends the same expensive call (an audit summary
// over a large log) many times at once. lokid must bound what one credential can
// have in progress, keep serving everyone else, and give the slots back as the
// calls answer.
import assert from 'node:assert/strict';
import { Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { AuditServiceClient, AuditServiceService, AuditSummaryRequest } from '../../../proto/gen/loki/v1/audit.js';
import { BatchServiceClient, type BatchedResult } from '../../../proto/gen/loki/v1/batch.js';
import { SystemServiceClient } from '../../../proto/gen/loki/v1/system.js';
import { clientFor, collectStream, errorCode, startTestDaemon, unaryCall, UNBOUNDED_GATEWAY_RECORDS, withCredential } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';

type TestDaemon = Awaited<ReturnType<typeof startTestDaemon>>;

const MAX = 4;
const AT_ONCE = 40;
const REFUSAL = /token:auditor already has 4 calls in progress on the gateway's door \(auth\.gateway_max_calls_per_subject = 4\); retry when one has answered/;

describe('gateway door: unary calls one credential can have in progress (attacker\'s view)', function () {
  this.timeout(120_000);
  let d: TestDaemon;
  let audit: AuditServiceClient;
  let auditor: string;
  let viewer: string;

  before(async () => {
    // The setup floods the log through the gateway's door on purpose: lift lokid's bound on
    // gateway records for it (that bound is tested in test/daemon/audit/gateway-budget.test.ts).
    d = await startTestDaemon({ home: shortTempDir('h18-gwcalls'), overrides: { auth: { gateway_max_calls_per_subject: MAX }, audit: UNBOUNDED_GATEWAY_RECORDS } });
    auditor = (await d.tokens.generate({ name: 'auditor', role: 'auditor', expiresDays: 0, owner: 'local:0' })).secret;
    viewer = (await d.tokens.generate({ name: 'viewer', role: 'viewer', expiresDays: 0, owner: 'local:0' })).secret;
    audit = clientFor(AuditServiceClient, d.paths.gatewaySocket);
    // A log worth summarising: anyone on the gateway's door may record its reports (no credential needed).
    const pad = JSON.stringify({ pad: 'x'.repeat(6000) });
    for (let sent = 0; sent < 2000; sent += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => unaryCall(audit.record.bind(audit), { action: 'auth.fail', resource: `flood-${sent + i}`, result: 'denied', reason: 'flood', detailsJson: pad }, new Metadata())));
    }
  });

  after(async () => {
    audit?.close();
    await d?.cleanup();
  });

  const summary = (md: Metadata) => unaryCall(audit.summary.bind(audit), { since: '', until: '' }, md);

  it('refuses one credential\'s calls beyond auth.gateway_max_calls_per_subject with RESOURCE_EXHAUSTED, serves other users meanwhile, and gives the slots back', async () => {
    const sys = clientFor(SystemServiceClient, d.paths.gatewaySocket);
    try {
      const flood = Promise.allSettled(Array.from({ length: AT_ONCE }, () => summary(withCredential(auditor))));
      // Another user is served while the attacker's calls run.
      assert.equal((await unaryCall(sys.getStatus.bind(sys), {}, withCredential(viewer))).callerSubject, 'token:viewer');
      const results = await flood;
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.ok(refused.length >= AT_ONCE - 2 * MAX, `only ${refused.length} of ${AT_ONCE} calls sent at once were refused`);
      assert.ok(results.some((r) => r.status === 'fulfilled'), 'no call of the credential was served');
      for (const r of refused) {
        const e = r.reason as ServiceError;
        assert.equal(e.code, status.RESOURCE_EXHAUSTED, e.details);
        assert.equal(errorCode(e), 'resource_exhausted');
        assert.match(e.details, REFUSAL);
      }
      // Every slot came back once the calls answered.
      assert.ok((await summary(withCredential(auditor))).total >= 2000);
    } finally {
      sys.close();
    }
  });

  it('counts every call of a BatchService batch, so a batch holds no more than the same calls sent one by one', async () => {
    const gw = new BatchServiceClient(`unix:${d.paths.gatewaySocket}`, credentials.createInsecure());
    try {
      const request = Buffer.from(AuditSummaryRequest.encode({ since: '', until: '' }).finish());
      const calls = Array.from({ length: AT_ONCE }, (_, id) => ({ id, method: AuditServiceService.summary.path, request, metadata: { 'x-loki-credential': auditor } }));
      const results = await collectStream<BatchedResult>(gw.call({ calls }, new Metadata(), { deadline: Date.now() + 60_000 }));
      const refused = results.filter((r) => r.code !== status.OK);
      assert.ok(refused.length >= AT_ONCE - 2 * MAX, `only ${refused.length} of ${AT_ONCE} batched calls were refused`);
      for (const r of refused) {
        assert.equal(r.code, status.RESOURCE_EXHAUSTED, r.details);
        assert.equal(r.errorCode, 'resource_exhausted');
        assert.match(r.details, REFUSAL);
      }
    } finally {
      gw.close();
    }
  });

  it('does not count the gateway\'s own credential-less calls, nor the local admin door', async () => {
    const pad = JSON.stringify({ pad: 'y' });
    const own = await Promise.allSettled(Array.from({ length: AT_ONCE }, (_, i) => unaryCall(audit.record.bind(audit), { action: 'auth.fail', resource: `own-${i}`, result: 'denied', reason: 'x', detailsJson: pad }, new Metadata())));
    assert.deepEqual(own.filter((r) => r.status === 'rejected'), []);
    const admin = clientFor(AuditServiceClient, d.paths.adminSocket);
    try {
      const local = await Promise.allSettled(Array.from({ length: AT_ONCE }, () => unaryCall(admin.summary.bind(admin), { since: '', until: '' }, new Metadata())));
      assert.deepEqual(local.filter((r) => r.status === 'rejected'), []);
    } finally {
      admin.close();
    }
  });
});
