// A compromised gateway can act only as the users whose credentials it carries.
// A raw gRPC client on a real lokid's gateway.sock plays the compromised gateway:
// forged subject/scopes metadata with no credential must get UNAUTHENTICATED from
// every method of every service mounted on that door; a real viewer token with
// forged `*` scopes gets viewer rights only; OIDC JWTs are verified by the daemon
// itself against the issuer's keys.
import assert from 'node:assert/strict';
import { Client, Metadata, credentials, status, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { AuditServiceService } from '../../../proto/gen/loki/v1/audit.js';
import { PolicyServiceService } from '../../../proto/gen/loki/v1/policy.js';
import { SandboxServiceService } from '../../../proto/gen/loki/v1/sandbox.js';
import { SessionServiceService } from '../../../proto/gen/loki/v1/sessions.js';
import { SystemServiceService, SystemServiceClient } from '../../../proto/gen/loki/v1/system.js';
import { TokenServiceService, TokenServiceClient } from '../../../proto/gen/loki/v1/tokens.js';
import { WorkspaceServiceService } from '../../../proto/gen/loki/v1/workspace.js';
import { SessionServiceClient } from '../../../proto/gen/loki/v1/sessions.js';
import { queryAuditLog } from '../../../daemon/src/audit/query.js';
import { clientFor, errorCode, startTestDaemon, unaryCall } from '../../helpers/daemon.js';
import { mint, nowSec } from '../../gateway/oidc/helpers.js';
import { CLIENT_ID, makeKey, startProvider, type SigningKey, type TestProvider } from '../../gateway/oidc/provider.js';

type TestDaemon = Awaited<ReturnType<typeof startTestDaemon>>;

const SERVICES: Record<string, ServiceDefinition> = {
  TokenService: TokenServiceService as unknown as ServiceDefinition,
  SessionService: SessionServiceService as unknown as ServiceDefinition,
  SandboxService: SandboxServiceService as unknown as ServiceDefinition,
  PolicyService: PolicyServiceService as unknown as ServiceDefinition,
  AuditService: AuditServiceService as unknown as ServiceDefinition,
  SystemService: SystemServiceService as unknown as ServiceDefinition,
  WorkspaceService: WorkspaceServiceService as unknown as ServiceDefinition,
};

/** The gateway's own calls, which run as the gateway itself (no user's rights) when no credential comes. */
const SELF_CALLS = new Set(['TokenService.Verify', 'AuditService.Record', 'SystemService.GetStatus', 'SessionService.Metrics']);

function forged(extra: Record<string, string> = {}): Metadata {
  const md = new Metadata();
  md.set('x-loki-subject', 'oidc:ceo@example.com');
  md.set('x-loki-scopes', '*');
  md.set('x-loki-auth', 'oidc:ceo@example.com');
  md.set('x-loki-client-ip', '203.0.113.7');
  for (const [k, v] of Object.entries(extra)) md.set(k, v);
  return md;
}

const raw = (b: Buffer) => b;

/** Calls one method with an empty message (all defaults) and resolves with the status it ends with. */
function callRaw(client: Client, path: string, kind: { requestStream: boolean; responseStream: boolean }, md: Metadata): Promise<ServiceError | 'ok'> {
  return new Promise((resolve) => {
    const deadline = Date.now() + 10_000;
    const empty = Buffer.alloc(0);
    if (!kind.requestStream && !kind.responseStream) {
      client.makeUnaryRequest(path, raw, raw, empty, md, { deadline }, (err) => resolve(err ?? 'ok'));
      return;
    }
    const call = kind.requestStream
      ? client.makeBidiStreamRequest(path, raw, raw, md, { deadline })
      : client.makeServerStreamRequest(path, raw, raw, empty, md, { deadline });
    let settled = false;
    const done = (v: ServiceError | 'ok') => {
      if (settled) return;
      settled = true;
      resolve(v);
      call.cancel();
    };
    call.on('data', () => done('ok'));
    call.on('error', (e: ServiceError) => done(e));
    call.on('end', () => done('ok'));
    if (kind.requestStream) {
      (call as unknown as { write(b: Buffer): void; end(): void }).write(empty);
      (call as unknown as { end(): void }).end();
    }
  });
}

describe('gateway door: the daemon verifies the forwarded credential itself', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  let provider: TestProvider;
  let key: SigningKey;

  before(async () => {
    key = await makeKey('RS256', 'k1');
    provider = await startProvider({ keys: [key], gatewayBase: 'http://127.0.0.1:1' });
    d = await startTestDaemon({
      overrides: { auth: { oidc: { issuer: provider.issuer, client_id: CLIENT_ID, role_map: { 'loki-admins': 'admin', 'loki-operators': 'operator' } } } },
    });
  });

  after(async () => {
    await d?.cleanup();
    await provider?.close();
  });

  it('answers UNAUTHENTICATED to forged subject/scopes without a credential, on every method of every gateway service', async () => {
    const client = new Client(`unix:${d.paths.gatewaySocket}`, credentials.createInsecure());
    try {
      let checked = 0;
      for (const [svc, def] of Object.entries(SERVICES)) {
        for (const [name, m] of Object.entries(def)) {
          const method = `${svc}.${m.path.split('/')[2] ?? name}`;
          const res = await callRaw(client, m.path, m, forged());
          if (SELF_CALLS.has(method)) continue;
          assert.notEqual(res, 'ok', `${method} answered a forged caller`);
          const err = res as ServiceError;
          assert.equal(err.code, status.UNAUTHENTICATED, `${method}: ${err.code} ${err.details}`);
          assert.equal(errorCode(err), 'unauthenticated', method);
          checked++;
        }
      }
      assert.ok(checked >= 25, `checked ${checked} methods`);
    } finally {
      client.close();
    }
  });

  it('runs the gateway\'s own calls as the gateway, never as the forged subject', async () => {
    const sys = clientFor(SystemServiceClient, d.paths.gatewaySocket);
    try {
      const st = await unaryCall(sys.getStatus.bind(sys), {}, forged());
      assert.deepEqual([st.callerRole, st.callerSubject], ['gateway', 'gateway']);
    } finally {
      sys.close();
    }
  });

  it('gives a valid viewer token viewer rights only, whatever scopes are forwarded', async () => {
    const viewer = (await d.tokens.generate({ name: 'viewer', role: 'viewer', expiresDays: 0, owner: 'local:0' })).secret;
    const tokens = clientFor(TokenServiceClient, d.paths.gatewaySocket);
    const sessions = clientFor(SessionServiceClient, d.paths.gatewaySocket);
    const sys = clientFor(SystemServiceClient, d.paths.gatewaySocket);
    try {
      const md = () => forged({ 'x-loki-credential': viewer });
      await assert.rejects(unaryCall(tokens.generate.bind(tokens), { name: 'forever', role: 'admin', scopes: [], expiresDays: -1 }, md()), (e: unknown) => errorCode(e) === 'permission_denied');
      await assert.rejects(unaryCall(tokens.list.bind(tokens), { all: true }, md()), (e: unknown) => errorCode(e) === 'permission_denied');
      // Listing is allowed to a viewer, but only their own sessions: an admin's session stays hidden.
      const list = await unaryCall(sessions.list.bind(sessions), { all: true, pageSize: 0, pageToken: '' }, md());
      assert.ok(list.sessions.every((s) => s.owner === 'token:viewer'));
      const st = await unaryCall(sys.getStatus.bind(sys), {}, md());
      assert.equal(st.callerSubject, 'token:viewer');
      assert.equal((await d.tokens.list({ all: true })).filter((t) => t.name === 'forever').length, 0);
      // The refusal is audited as the verified user; the ip is the gateway's report and says so.
      const page = await queryAuditLog(d.audit.dir, { limit: 10, action: 'token.generate' });
      const e = page.entries.find((x) => x.resource === 'token:forever');
      assert.ok(e, 'the denied generate is audited');
      assert.deepEqual([e.user, e.result, e.ip], ['token:viewer', 'denied', '203.0.113.7']);
      assert.deepEqual(e.details.reported_by_gateway, ['ip']);
    } finally {
      tokens.close();
      sessions.close();
      sys.close();
    }
  });

  it('verifies OIDC JWTs against the issuer\'s keys, with the same role mapping as the gateway', async () => {
    const sys = clientFor(SystemServiceClient, d.paths.gatewaySocket);
    const tokens = clientFor(TokenServiceClient, d.paths.gatewaySocket);
    const claims = (over: Record<string, unknown> = {}) => ({ iss: provider.issuer, aud: CLIENT_ID, sub: 'alice', iat: nowSec(), exp: nowSec() + 300, ...over });
    try {
      const alice = await mint(key, claims({ groups: ['loki-operators'] }));
      const st = await unaryCall(sys.getStatus.bind(sys), {}, forged({ 'x-loki-credential': alice }));
      assert.equal(st.callerSubject, 'oidc:alice');
      await assert.rejects(unaryCall(tokens.list.bind(tokens), { all: true }, forged({ 'x-loki-credential': alice })), (e: unknown) => errorCode(e) === 'permission_denied');
      const root = await mint(key, claims({ sub: 'root', groups: ['loki-admins'] }));
      const list = await unaryCall(tokens.list.bind(tokens), { all: true }, forged({ 'x-loki-credential': root }));
      assert.ok(Array.isArray(list.tokens));
      const otherKey = await makeKey('RS256', 'k1');
      for (const bad of [
        await mint(key, claims({ exp: nowSec() - 3600, iat: nowSec() - 7200, groups: ['loki-admins'] })),
        await mint(key, claims({ aud: 'someone-else', groups: ['loki-admins'] })),
        await mint(otherKey, claims({ groups: ['loki-admins'] })),
        `${alice.split('.').slice(0, 2).join('.')}.`,
      ]) {
        await assert.rejects(unaryCall(tokens.list.bind(tokens), { all: true }, forged({ 'x-loki-credential': bad })), (e: unknown) => errorCode(e) === 'unauthenticated');
      }
    } finally {
      sys.close();
      tokens.close();
    }
  });
});
