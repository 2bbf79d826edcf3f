// A compromised gateway filling the audit disk. A raw gRPC client on a real lokid's
// gateway.sock (the gateway's own door, no end-user credential) records as fast as
// it can, one by one and in BatchService batches. lokid must write no more than
// audit.gateway_records_per_second / _burst allows, refuse the rest with
// RESOURCE_EXHAUSTED naming the setting, say in its own entry how many it refused,
// and keep the local admin's audited actions working.
import assert from 'node:assert/strict';
import { Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { AuditServiceClient, AuditServiceService, RecordAuditRequest } from '../../../proto/gen/loki/v1/audit.js';
import { BatchServiceClient, type BatchedResult } from '../../../proto/gen/loki/v1/batch.js';
import { TokenServiceClient } from '../../../proto/gen/loki/v1/tokens.js';
import { loadDaemonConfig } from '../../../daemon/src/config.js';
import { auditEntries, clientFor, collectStream, errorCode, startTestDaemon, unaryCall } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';

type TestDaemon = Awaited<ReturnType<typeof startTestDaemon>>;

const RATE = 1;
const BURST = 20;
const REFUSAL = /the gateway is recording audit events faster than audit\.gateway_records_per_second = 1 \(burst audit\.gateway_records_burst = 20\) allows; this record was not written: retry it later/;

/** One record at the log's field limits costs this much (MAX_RECORD_COST in audit/gateway-budget.ts). */
const MAX_RECORD_COST = 13;

const flood = (i: number, detailsJson = '') => ({ action: 'auth.fail', resource: `flood-${i}`, result: 'denied', reason: 'flood', detailsJson });

describe('gateway door: how fast a gateway may write the audit log (attacker\'s view)', function () {
  this.timeout(120_000);
  let d: TestDaemon;
  let home: string;
  let refusedSoFar = 0;

  before(async () => {
    home = shortTempDir('h24-budget');
    d = await startTestDaemon({ home, overrides: { audit: { gateway_records_per_second: RATE, gateway_records_burst: BURST } } });
  });

  after(async () => {
    await d?.cleanup();
  });

  it('writes no more records than the bound allows, refuses the rest with RESOURCE_EXHAUSTED naming the setting, and writes nothing for them', async () => {
    const audit = clientFor(AuditServiceClient, d.paths.gatewaySocket);
    const batch = new BatchServiceClient(`unix:${d.paths.gatewaySocket}`, credentials.createInsecure());
    const started = Date.now();
    try {
      const one = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => unaryCall(audit.record.bind(audit), flood(i), new Metadata())));
      // The same door's BatchService runs the same handler: a batch is no way around the bound.
      const calls = Array.from({ length: 100 }, (_, i) => ({ id: i, method: AuditServiceService.record.path, request: Buffer.from(RecordAuditRequest.encode(flood(200 + i)).finish()), metadata: {} }));
      const batched = await collectStream<BatchedResult>(batch.call({ calls }, new Metadata(), { deadline: Date.now() + 60_000 }));
      const seconds = Math.ceil((Date.now() - started) / 1000);

      const written = one.filter((r) => r.status === 'fulfilled').length + batched.filter((r) => r.code === status.OK).length;
      const refused = one.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      for (const r of refused) {
        const e = r.reason as ServiceError;
        assert.equal(e.code, status.RESOURCE_EXHAUSTED, e.details);
        assert.equal(errorCode(e), 'resource_exhausted');
        assert.match(e.details, REFUSAL);
      }
      for (const r of batched.filter((x) => x.code !== status.OK)) {
        assert.equal(r.code, status.RESOURCE_EXHAUSTED, r.details);
        assert.match(r.details, REFUSAL);
      }
      // A count, not a time: the bucket's depth plus what it refilled while the flood ran.
      assert.ok(written >= BURST, `the burst was not served: ${written} written`);
      assert.ok(written <= BURST + RATE * seconds, `${written} of 300 records written in ${seconds} s; the bound allows ${BURST} + ${RATE}/s`);
      const inLog = auditEntries(home).filter((e) => String(e.resource).startsWith('flood-'));
      assert.equal(inLog.length, written, 'every record answered OK is in the log, and nothing refused is');
      refusedSoFar += 300 - written;
    } finally {
      audit.close();
      batch.close();
    }
  });

  it('charges a large record by its size, so large details do not multiply what the gateway can write', async () => {
    const audit = clientFor(AuditServiceClient, d.paths.gatewaySocket);
    try {
      // Each costs 8 (1 + 7 whole KiB); the bucket refills 1 per second, so at most a few fit.
      const big = JSON.stringify({ pad: 'x'.repeat(7200) });
      const started = Date.now();
      const sent = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => unaryCall(audit.record.bind(audit), flood(1000 + i, big), new Metadata())));
      const seconds = Math.ceil((Date.now() - started) / 1000) + 1;
      const written = sent.filter((r) => r.status === 'fulfilled').length;
      assert.ok(written * 8 <= BURST + RATE * seconds, `${written} records of 8 KiB written`);
      refusedSoFar += 50 - written;
    } finally {
      audit.close();
    }
  });

  it('keeps the local admin\'s audited actions working while the gateway is refused', async () => {
    const admin = clientFor(TokenServiceClient, d.paths.adminSocket);
    const audit = clientFor(AuditServiceClient, d.paths.gatewaySocket);
    try {
      await assert.rejects(unaryCall(audit.record.bind(audit), flood(9999, JSON.stringify({ pad: 'x'.repeat(8000) })), new Metadata()), (e: ServiceError) => e.code === status.RESOURCE_EXHAUSTED);
      refusedSoFar += 1;
      await unaryCall(admin.generate.bind(admin), { name: 'minted-while-throttled', role: 'viewer', scopes: [], expiresDays: 1 });
      assert.ok(auditEntries(home).some((e) => e.action === 'token.generate' && (e.details as { name?: string }).name === 'minted-while-throttled'));
    } finally {
      admin.close();
      audit.close();
    }
  });

  it('records, as its own entry, how many gateway records it refused (one counted entry per window)', async () => {
    const refused = refusedSoFar;
    assert.ok(refused > 0);
    // At shutdown lokid writes the open window's entry (otherwise it is written when the window ends, 10 s).
    await d.close();
    const throttles = auditEntries(home).filter((e) => e.action === 'audit.gateway_throttle');
    assert.ok(throttles.length >= 1, 'no audit.gateway_throttle entry');
    assert.equal(throttles.reduce((n, e) => n + Number(e.details.count), 0), refused, JSON.stringify(throttles));
    const first = throttles[0]!;
    assert.equal(first.user, 'system');
    assert.equal(first.result, 'denied');
    assert.equal(first.resource, 'audit:gateway');
    assert.match(String(first.reason), /audit\.gateway_records_per_second = 1 \(burst 20\)/);
    assert.equal(first.details.aggregated, true);
    assert.ok(Number((first.details.by_action as Record<string, number>)['auth.fail']) > 0);
  });
});

describe('audit.gateway_records_* config', () => {
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadDaemonConfig({ env: { LOKI_HOME: '/tmp/h24-config', ...env } });
    } catch (err) {
      return (err as Error & { problems?: string[] }).problems ?? [(err as Error).message];
    }
    return [];
  };

  it('defaults to 500 per second with a burst of 5000, and takes both from the environment', () => {
    const def = loadDaemonConfig({ env: { LOKI_HOME: '/tmp/h24-config' } }).audit;
    assert.equal(def.gateway_records_per_second, 500);
    assert.equal(def.gateway_records_burst, 5000);
    const set = loadDaemonConfig({ env: { LOKI_HOME: '/tmp/h24-config', LOKI_AUDIT_GATEWAY_RECORDS_PER_SECOND: '50', LOKI_AUDIT_GATEWAY_RECORDS_BURST: '500' } }).audit;
    assert.equal(set.gateway_records_per_second, 50);
    assert.equal(set.gateway_records_burst, 500);
  });

  it('rejects a rate below 1, a fraction, and a burst that cannot hold the largest record, each with its path', () => {
    assert.ok(problems({ LOKI_AUDIT_GATEWAY_RECORDS_PER_SECOND: '0' }).some((p) => p.startsWith('audit.gateway_records_per_second')), JSON.stringify(problems({ LOKI_AUDIT_GATEWAY_RECORDS_PER_SECOND: '0' })));
    assert.ok(problems({ LOKI_AUDIT_GATEWAY_RECORDS_PER_SECOND: '1.5' }).some((p) => p.startsWith('LOKI_AUDIT_GATEWAY_RECORDS_PER_SECOND') && /integer/.test(p)));
    const burst = problems({ LOKI_AUDIT_GATEWAY_RECORDS_BURST: '5' });
    assert.ok(burst.some((p) => p.startsWith('audit.gateway_records_burst') && p.includes(`must be at least ${MAX_RECORD_COST} (one record at the log's field limits costs that much)`)), JSON.stringify(burst));
  });
});
