import assert from 'node:assert/strict';
import { Metadata, Server, ServerCredentials, credentials, type ServiceError } from '@grpc/grpc-js';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  AuditServiceClient,
  type AuditEntry,
  type AuditSummaryRequest,
  type AuditSummaryResponse,
  type QueryAuditRequest,
  type QueryAuditResponse,
  type RecordAuditRequest,
  type RecordAuditResponse,
  type VerifyAuditRequest,
  type VerifyAuditResponse,
} from '../../../proto/gen/loki/v1/audit.js';
import { auditConfigSchema } from '../../../daemon/src/audit/config.js';
import { createAuditRuntime, type AuditRuntime } from '../../../daemon/src/audit/runtime.js';
import { createAuditModule } from '../../../daemon/src/audit/grpc.js';
import { issuingVerifier } from '../../helpers/credentials.js';
import type { CallerRole } from '../../../daemon/src/authz/caller.js';
import { event, tempDir } from './helpers.js';

type Cb<Res> = (err: ServiceError | null, res: Res) => void;

function promised<Res>(invoke: (cb: Cb<Res>) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => invoke((err, res) => (err ? reject(err) : resolve(res))));
}

// Typed per method: the generated client's overloads defeat generic inference.
const rpc = {
  record: (c: AuditServiceClient, req: RecordAuditRequest, md = new Metadata()) => promised<RecordAuditResponse>((cb) => c.record(req, md, cb)),
  query: (c: AuditServiceClient, req: QueryAuditRequest, md = new Metadata()) => promised<QueryAuditResponse>((cb) => c.query(req, md, cb)),
  summary: (c: AuditServiceClient, req: AuditSummaryRequest, md = new Metadata()) => promised<AuditSummaryResponse>((cb) => c.summary(req, md, cb)),
  verify: (c: AuditServiceClient, req: VerifyAuditRequest, md = new Metadata()) => promised<VerifyAuditResponse>((cb) => c.verify(req, md, cb)),
};

const creds = issuingVerifier();

/** A gateway call: the user's (verified) credential when `subject` is given, plus gateway-reported fields. */
function gatewayMd(subject: string | undefined, scopes: string, extra: Record<string, string> = {}): Metadata {
  const md = new Metadata();
  if (subject) md.set('x-loki-credential', creds.issue(subject, scopes.split(',').filter(Boolean)));
  for (const [k, v] of Object.entries(extra)) md.set(k, v);
  return md;
}

function errCode(err: unknown): string | undefined {
  return (err as ServiceError).metadata?.get('x-loki-error-code')[0] as string | undefined;
}

async function serve(rt: AuditRuntime, dir: string): Promise<{ admin: AuditServiceClient; gateway: AuditServiceClient; close(): void }> {
  const module = createAuditModule({ runtime: rt });
  const servers: Server[] = [];
  const clients: Record<string, AuditServiceClient> = {};
  for (const role of ['local-admin', 'gateway'] as CallerRole[]) {
    const server = new Server();
    module.register(server, { log: pino({ level: 'silent' }), listener: { role, localUid: 1000 }, trust: { verifier: creds } });
    const sock = join(dir, `${role}.sock`);
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    servers.push(server);
    clients[role] = new AuditServiceClient(`unix:${sock}`, credentials.createInsecure());
  }
  return {
    admin: clients['local-admin']!,
    gateway: clients.gateway!,
    close() {
      for (const c of Object.values(clients)) c.close();
      for (const s of servers) s.forceShutdown();
    },
  };
}

describe('AuditService (gRPC)', () => {
  let home: string;
  let cleanup: () => void;
  let rt: AuditRuntime;
  let doors: Awaited<ReturnType<typeof serve>>;

  beforeEach(async () => {
    ({ dir: home, cleanup } = tempDir());
    rt = await createAuditRuntime({ config: auditConfigSchema.parse({}), home, log: pino({ level: 'silent' }) });
    doors = await serve(rt, home);
  });
  afterEach(async () => {
    doors.close();
    await rt.close();
    cleanup();
  });

  it("records the gateway's auth.fail with the identity the daemon trusts, not the request's", async () => {
    const md = gatewayMd(undefined, '', { 'x-loki-client-ip': '203.0.113.9', 'x-loki-request-id': 'req-42' });
    const res = await rpc.record(doors.gateway, { action: 'auth.fail', resource: 'route:/api/status', detailsJson: '{"reason_code":"unknown"}', result: 'denied', reason: 'unknown token' }, md);
    assert.equal(res.seq, 1);
    const page = await rpc.query(doors.admin, { limit: 10, action: 'auth.fail', user: '', result: '', since: '', until: '', cursor: 0 });
    assert.equal(page.entries.length, 1);
    const e = page.entries[0]!;
    assert.deepEqual([e.user, e.ip, e.requestId, e.result, e.reason], ['gateway', '203.0.113.9', 'req-42', 'denied', 'unknown token']);
    assert.deepEqual(JSON.parse(e.detailsJson), { reason_code: 'unknown', reported_by_gateway: ['ip', 'request_id'] });
  });

  it('names a forged user only as the gateway\'s claim, and a verified one as the user', async () => {
    const forged = gatewayMd(undefined, '', { 'x-loki-subject': 'oidc:ceo@example.com', 'x-loki-scopes': '*', 'x-loki-client-ip': '203.0.113.7' });
    await rpc.record(doors.gateway, { action: 'access.denied', resource: 'route:/x', detailsJson: '', result: 'denied', reason: 'r' }, forged);
    await rpc.record(doors.gateway, { action: 'access.denied', resource: 'route:/y', detailsJson: '', result: 'denied', reason: 'r' }, gatewayMd('token:ci', 'read'));
    const page = await rpc.query(doors.admin, { limit: 10, action: 'access.denied', user: '', result: '', since: '', until: '', cursor: 0 });
    const byResource = new Map(page.entries.map((e) => [e.resource, e]));
    assert.equal(byResource.get('route:/x')!.user, 'gateway');
    assert.deepEqual(JSON.parse(byResource.get('route:/x')!.detailsJson), { reported_user: 'oidc:ceo@example.com', reported_by_gateway: ['ip'] });
    assert.equal(byResource.get('route:/y')!.user, 'token:ci');
  });

  it('refuses actions the gateway may not emit, and Record from any other door', async () => {
    const md = gatewayMd('token:ci', 'audit');
    await assert.rejects(rpc.record(doors.gateway, { action: 'session.start', resource: '', detailsJson: '', result: 'success', reason: '' }, md), (e) => errCode(e) === 'permission_denied');
    await assert.rejects(rpc.record(doors.gateway, { action: 'config.change', resource: 'config:daemon', detailsJson: '', result: 'success', reason: '' }, md), (e) => errCode(e) === 'permission_denied');
    const own = await rpc.record(doors.gateway, { action: 'config.change', resource: 'config:gateway', detailsJson: '', result: 'success', reason: '' }, gatewayMd('system', ''));
    assert.equal(own.seq, 1);
    await assert.rejects(rpc.record(doors.admin, { action: 'auth.fail', resource: '', detailsJson: '', result: 'denied', reason: 'x' }), (e) => errCode(e) === 'permission_denied');
    await assert.rejects(rpc.record(doors.gateway, { action: 'auth.fail', resource: '', detailsJson: '[1]', result: 'denied', reason: 'x' }, md), (e) => errCode(e) === 'invalid_argument');
    await assert.rejects(rpc.record(doors.gateway, { action: 'auth.fail', resource: '', detailsJson: '', result: 'denied', reason: '' }, md), (e) => errCode(e) === 'invalid_argument');
  });

  it('needs the audit scope to read, summarise or verify', async () => {
    const req = { limit: 0, action: '', user: '', result: '', since: '', until: '', cursor: 0 };
    await assert.rejects(rpc.query(doors.gateway, req, gatewayMd('token:viewer', 'read,write,control')), (e) => errCode(e) === 'permission_denied');
    await assert.rejects(rpc.verify(doors.gateway, {}, gatewayMd('token:viewer', 'read')), (e) => errCode(e) === 'permission_denied');
    const ok = await rpc.query(doors.gateway, req, gatewayMd('token:auditor', 'read,audit'));
    assert.deepEqual(ok.entries, []);
    await assert.rejects(rpc.query(doors.gateway, { ...req, limit: 5000 }, gatewayMd('token:auditor', 'audit')), (e) => errCode(e) === 'invalid_argument');
  });

  it('summarises and verifies what was written', async () => {
    await rt.audit.record(event('session.start', 1));
    await rt.audit.record(event('session.stop', 2, { result: 'error', reason: 'docker down' }));
    const s = await rpc.summary(doors.admin, { since: '1h', until: '' });
    assert.equal(s.total, 2);
    assert.deepEqual(s.byResult, { success: 1, error: 1 });
    const v = await rpc.verify(doors.admin, {});
    assert.equal(v.ok, true);
    assert.equal(v.entries, 2);
    assert.equal(v.lastSeq, 2);
  });

  it('tails the last entries, then follows new ones as they are written', async () => {
    for (let i = 1; i <= 5; i++) await rt.audit.record(event(i % 2 ? 'auth.fail' : 'task.create', i, i % 2 ? { result: 'denied', reason: 'r' } : {}));
    const stream = doors.admin.tail({ last: 2, action: 'auth.fail', follow: true }, new Metadata());
    const got: AuditEntry[] = [];
    const three = new Promise<void>((resolve, reject) => {
      stream.on('data', (e: AuditEntry) => {
        got.push(e);
        if (got.length === 2) void rt.audit.record(event('task.create', 6)).then(() => rt.audit.record(event('auth.fail', 7, { result: 'denied', reason: 'r' })));
        if (got.length === 3) resolve();
      });
      stream.on('error', (e: ServiceError) => (e.code === 1 ? undefined : reject(e)));
    });
    await three;
    stream.cancel();
    assert.deepEqual(got.map((e) => e.seq), [3, 5, 7]);
  });

  it('answers failed_precondition when audit is disabled', async () => {
    const off = await createAuditRuntime({ config: auditConfigSchema.parse({ disabled: true }), home, log: pino({ level: 'silent' }) });
    const d = await serve(off, join(home, 'dashboard'));
    try {
      await assert.rejects(rpc.verify(d.admin, {}), (e) => errCode(e) === 'failed_precondition');
      const res = await rpc.record(d.gateway, { action: 'auth.fail', resource: '', detailsJson: '', result: 'denied', reason: 'x' }, gatewayMd(undefined, ''));
      assert.equal(res.seq, 0);
    } finally {
      d.close();
    }
  });
});
