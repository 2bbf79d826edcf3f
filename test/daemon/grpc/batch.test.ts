// BatchService as an attacker on the gateway's door would use it: a raw gRPC
// client on a real lokid's gateway.sock plays a compromised gateway. A batch must
// let it do exactly what the same calls sent one by one could: every call is
// identified by its own forwarded credential (never by the batch's metadata or a
// neighbour's), only the door's unary methods can be named, and bad input gets
// the same specific errors as a lone call.
import assert from 'node:assert/strict';
import { Metadata, credentials, status, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { AgentServiceService } from '../../../proto/gen/loki/v1/agent.js';
import { AuditServiceService, QueryAuditRequest } from '../../../proto/gen/loki/v1/audit.js';
import { BatchServiceClient, type BatchedCall, type BatchedResult } from '../../../proto/gen/loki/v1/batch.js';
import { PolicyServiceService } from '../../../proto/gen/loki/v1/policy.js';
import { SandboxServiceService } from '../../../proto/gen/loki/v1/sandbox.js';
import { SessionServiceService, ListSessionsResponse, ListSessionsRequest } from '../../../proto/gen/loki/v1/sessions.js';
import { GetStatusResponse, SystemServiceService } from '../../../proto/gen/loki/v1/system.js';
import { TokenServiceService, GenerateTokenRequest } from '../../../proto/gen/loki/v1/tokens.js';
import { WorkspaceServiceService } from '../../../proto/gen/loki/v1/workspace.js';
import { MAX_BATCHED_CALLS } from '../../../daemon/src/grpc/batch.js';
import { collectStream, errorCode, startTestDaemon } from '../../helpers/daemon.js';

type TestDaemon = Awaited<ReturnType<typeof startTestDaemon>>;

const SERVICES: ServiceDefinition[] = [
  TokenServiceService,
  SessionServiceService,
  SandboxServiceService,
  PolicyServiceService,
  AuditServiceService,
  SystemServiceService,
  WorkspaceServiceService,
] as unknown as ServiceDefinition[];

/** The gateway's own calls, which run as the gateway itself (no user's rights) when no credential comes. */
const SELF_CALLS = new Set(['/loki.v1.TokenService/Verify', '/loki.v1.AuditService/Record', '/loki.v1.SystemService/GetStatus', '/loki.v1.SessionService/Metrics']);

const FORGED = { 'x-loki-subject': 'oidc:ceo@example.com', 'x-loki-scopes': '*', 'x-loki-auth': 'oidc:ceo@example.com', 'x-loki-client-ip': '203.0.113.7' };

const STATUS = SystemServiceService.getStatus.path;

function call(id: number, method: string, metadata: Record<string, string> = {}, request: Uint8Array = Buffer.alloc(0)): BatchedCall {
  return { id, method, request: Buffer.from(request), metadata };
}

describe('BatchService on the gateway door (real lokid, attacker\'s view)', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  let gw: BatchServiceClient;
  let admin: string;
  let viewer: string;

  /** Sends one batch; resolves with its results by id, or rejects with the batch's own error. */
  function batch(calls: BatchedCall[], md = new Metadata(), client = gw): Promise<Map<number, BatchedResult>> {
    return collectStream<BatchedResult>(client.call({ calls }, md, { deadline: Date.now() + 30_000 })).then((rs) => new Map(rs.map((r) => [r.id, r])));
  }

  async function batchError(calls: BatchedCall[], client = gw): Promise<ServiceError> {
    try {
      await batch(calls, new Metadata(), client);
    } catch (err) {
      return err as ServiceError;
    }
    assert.fail('the batch was accepted');
  }

  const subjectOf = (r: BatchedResult | undefined) => {
    assert.ok(r, 'a result');
    assert.equal(r.code, status.OK, r.details);
    return GetStatusResponse.decode(r.response).callerSubject;
  };

  before(async () => {
    d = await startTestDaemon();
    gw = new BatchServiceClient(`unix:${d.paths.gatewaySocket}`, credentials.createInsecure());
    admin = (await d.tokens.generate({ name: 'batch-admin', role: 'admin', expiresDays: 0, owner: 'local:0' })).secret;
    viewer = (await d.tokens.generate({ name: 'batch-viewer', role: 'viewer', expiresDays: 0, owner: 'local:0' })).secret;
  });

  after(async () => {
    gw?.close();
    await d?.cleanup();
  });

  it('answers UNAUTHENTICATED to every forged call of every gateway service, even with an admin credential on the batch itself', async () => {
    const calls: BatchedCall[] = [];
    for (const def of SERVICES) {
      for (const m of Object.values(def)) if (!m.requestStream && !m.responseStream) calls.push(call(calls.length, m.path, FORGED));
    }
    assert.ok(calls.length >= 25 && calls.length <= MAX_BATCHED_CALLS, `${calls.length} unary methods`);
    // The attacker puts a valid admin credential on the batch call: it must lend it to no call inside.
    const md = new Metadata();
    md.set('x-loki-credential', admin);
    const res = await batch(calls, md);
    assert.equal(res.size, calls.length, 'one result per call');
    let refused = 0;
    for (const c of calls) {
      const r = res.get(c.id)!;
      if (SELF_CALLS.has(c.method)) {
        // The gateway's own calls run as the gateway, never as the forged subject or the batch's credential.
        if (c.method === STATUS) assert.equal(subjectOf(r), 'gateway');
        continue;
      }
      assert.equal(r.code, status.UNAUTHENTICATED, `${c.method}: ${r.code} ${r.details}`);
      assert.equal(r.errorCode, 'unauthenticated', c.method);
      refused++;
    }
    assert.ok(refused >= 20, `${refused} refused`);
  });

  it('identifies each call by its own credential: neighbours lend nothing', async () => {
    const res = await batch([
      call(1, STATUS, { ...FORGED, 'x-loki-credential': viewer }),
      call(2, STATUS, { 'x-loki-credential': admin }),
      call(3, STATUS, FORGED),
      call(4, TokenServiceService.generate.path, { ...FORGED, 'x-loki-credential': viewer }, GenerateTokenRequest.encode({ name: 'batch-forever', role: 'admin', scopes: [], expiresDays: -1 }).finish()),
      call(5, STATUS, { 'x-loki-credential': `${viewer}x` }),
    ]);
    assert.equal(subjectOf(res.get(1)), 'token:batch-viewer');
    assert.equal(subjectOf(res.get(2)), 'token:batch-admin');
    assert.equal(subjectOf(res.get(3)), 'gateway');
    assert.equal(res.get(4)!.errorCode, 'permission_denied', 'a viewer cannot mint an admin token, batched or not');
    assert.equal(res.get(5)!.code, status.UNAUTHENTICATED);
    assert.equal((await d.tokens.list({ all: true })).filter((t) => t.name === 'batch-forever').length, 0);
  });

  it('refuses a revoked credential at once, inside a batch as alone', async () => {
    const secret = (await d.tokens.generate({ name: 'batch-revoked', role: 'operator', expiresDays: 0, owner: 'local:0' })).secret;
    assert.equal(subjectOf((await batch([call(0, STATUS, { 'x-loki-credential': secret }), call(1, STATUS, {})])).get(0)), 'token:batch-revoked');
    await d.tokens.revoke('batch-revoked');
    const r = (await batch([call(0, STATUS, { 'x-loki-credential': secret }), call(1, STATUS, {})])).get(0)!;
    assert.equal(r.code, status.UNAUTHENTICATED, r.details);
  });

  it('runs only the door\'s unary methods: not the agent\'s, not a stream, not itself, not an unknown path', async () => {
    const agent = Object.values(AgentServiceService as unknown as ServiceDefinition).map((m) => m.path);
    const paths = [...agent, SessionServiceService.events.path, '/loki.v1.BatchService/Call', '/loki.v1.Nope/Nothing', '', '../../etc/passwd'];
    const res = await batch(paths.map((p, i) => call(i, p, { 'x-loki-credential': admin })));
    for (const [i, p] of paths.entries()) {
      const r = res.get(i)!;
      assert.equal(r.code, status.UNIMPLEMENTED, `${p}: ${r.code} ${r.details}`);
      assert.match(r.details, /is not a unary method of this door/);
    }
  });

  it('refuses bad input with the same specific errors as a lone call', async () => {
    const res = await batch([
      call(0, STATUS, { authorization: `Bearer ${admin}` }),
      call(1, STATUS, { 'x-loki-subject': 'caf\u00e9' }),
      call(2, AuditServiceService.query.path, { 'x-loki-credential': admin }, QueryAuditRequest.encode({ limit: 1, action: '', user: '', result: '', since: '', until: '', cursor: 2 ** 60 }).finish()),
      call(3, SessionServiceService.list.path, { 'x-loki-credential': admin }, Buffer.from([0x0a, 0xff])),
      call(4, SessionServiceService.list.path, { 'x-loki-credential': admin }, ListSessionsRequest.encode({ all: true, pageSize: 0, pageToken: '' }).finish()),
    ]);
    assert.equal(res.get(0)!.errorCode, 'invalid_argument');
    assert.match(res.get(0)!.details, /metadata key "authorization" is not allowed/);
    assert.equal(res.get(1)!.errorCode, 'invalid_argument');
    assert.equal(res.get(2)!.errorCode, 'invalid_argument');
    assert.match(res.get(2)!.details, /cursor is out of range/);
    assert.equal(res.get(3)!.code, status.INVALID_ARGUMENT, res.get(3)!.details);
    // The good call next to them is answered normally.
    assert.equal(res.get(4)!.code, status.OK, res.get(4)!.details);
    assert.ok(Array.isArray(ListSessionsResponse.decode(res.get(4)!.response).sessions));
  });

  it('refuses an oversized batch and duplicate ids as a whole, and answers an empty one with nothing', async () => {
    const tooMany = await batchError(Array.from({ length: MAX_BATCHED_CALLS + 1 }, (_, i) => call(i, STATUS)));
    assert.equal(tooMany.code, status.INVALID_ARGUMENT);
    assert.match(tooMany.details, new RegExp(`at most ${MAX_BATCHED_CALLS} calls`));
    const dup = await batchError([call(7, STATUS), call(7, STATUS)]);
    assert.equal(dup.code, status.INVALID_ARGUMENT);
    assert.match(dup.details, /id 7 is used twice/);
    assert.equal((await batch([])).size, 0);
  });

  it('is not served on the admin door (nor, by its roles, on an agent\'s)', async () => {
    const local = new BatchServiceClient(`unix:${d.paths.adminSocket}`, credentials.createInsecure());
    try {
      const err = await batchError([call(0, STATUS), call(1, STATUS)], local);
      assert.equal(err.code, status.UNIMPLEMENTED);
      assert.equal(errorCode(err), undefined);
    } finally {
      local.close();
    }
  });
});
