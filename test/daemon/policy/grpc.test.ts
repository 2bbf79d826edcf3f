// PolicyService over real gRPC on unix sockets, one server per listener role as
// the daemon mounts modules, so the caller's role really comes from the door.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Metadata, Server, ServerCredentials, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { ApprovalStatus, ListApprovalsRequest, PolicyDecision, PolicyServiceClient, type ApprovalEvent, type DecideResponse } from '../../../proto/gen/loki/v1/policy.js';
import { validateEvent } from '../../../daemon/src/audit/format.js';
import type { AuditEventInput } from '../../../daemon/src/audit/types.js';
import { ApprovalStore } from '../../../daemon/src/policy/approvals.js';
import { buildPolicyEngine } from '../../../daemon/src/policy/config.js';
import { createPolicyModule } from '../../../daemon/src/policy/grpc.js';
import { PolicyService } from '../../../daemon/src/policy/service.js';
import { openSqliteStore, type SqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { quietLogger, tempDir, type TempDir } from './helpers.js';
import { issuingVerifier } from '../../helpers/credentials.js';

type Role = 'local-admin' | 'gateway' | 'agent';

function listen(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => server.bindAsync(address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
}

function md(headers: Record<string, string> = {}): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(headers)) m.set(k, v);
  return m;
}

function rpc<Res>(client: PolicyServiceClient, method: 'decide' | 'explain' | 'listApprovals' | 'decideApproval' | 'showPolicy', req: object, meta = md()): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method].bind(client) as unknown as (r: object, m: Metadata, cb: (e: ServiceError | null, r: Res) => void) => void;
    fn(req, meta, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function rejectsWith(p: Promise<unknown>, grpcStatus: number, code: string, message?: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    const se = err as ServiceError;
    assert.equal(se.code, grpcStatus, se.details);
    assert.equal(se.metadata.get('x-loki-error-code')[0], code);
    if (message) assert.match(se.details, message);
    return;
  }
  assert.fail('expected the call to fail');
}

const shellReq = (sessionId: string, command: string, extra: object = {}) => ({
  sessionId,
  action: { kind: { $case: 'shell', shell: { command } } },
  profile: '',
  cwd: '',
  sessionWrittenPaths: [],
  approvalId: '',
  waitMs: 0,
  ...extra,
});

describe('PolicyService over gRPC', function () {
  let tmp: TempDir;
  let db: SqliteStore;
  let store: ApprovalStore;
  let service: PolicyService;
  let events: AuditEventInput[];
  const servers: Server[] = [];
  const clients = new Map<Role, PolicyServiceClient>();
  const owners: Record<string, string> = { 'sess-alice': 'oidc:alice', 'sess-bob': 'oidc:bob', 'sess-strict': 'oidc:alice', 'sess-supervised': 'oidc:alice', 'sess-done': 'oidc:alice', 'sess-box': 'oidc:alice' };
  // What the session store says each session runs with (a session records its profile by name at start).
  const settings: Record<string, { profile: string; autonomy: string; ended: string }> = {
    'sess-alice': { profile: 'default', autonomy: '', ended: '' },
    'sess-bob': { profile: 'default', autonomy: '', ended: '' },
    'sess-strict': { profile: 'strict', autonomy: '', ended: '' },
    'sess-supervised': { profile: 'default', autonomy: 'supervised', ended: '' },
    'sess-done': { profile: 'default', autonomy: '', ended: 'completed' },
    'sess-box': { profile: 'default', autonomy: '', ended: '' },
  };
  // Where each session's sandbox has its workspace, as the session feature answers (sess-box: not the engine's default).
  const workspaces: Record<string, { sandbox: string }> = { 'sess-box': { sandbox: '/box' } };
  const creds = issuingVerifier();
  const gw = (subject: string, scopes: string) => md({ 'x-loki-credential': creds.issue(subject, scopes.split(',').filter(Boolean)), 'x-loki-request-id': 'req-1' });
  const admin = () => clients.get('local-admin')!;
  const gateway = () => clients.get('gateway')!;

  beforeEach(async function () {
    tmp = tempDir();
    events = [];
    db = openSqliteStore(join(tmp.path, 'loki.db'));
    const { engine, config } = buildPolicyEngine({});
    store = new ApprovalStore({ repo: db.approvals, log: quietLogger(), timeoutMs: 60_000, onTimeout: 'deny', fourEyes: false, ownerOf: async (s) => owners[s] });
    service = new PolicyService({ engine, approvals: store, audit: { record: async (e) => void events.push(e) }, log: quietLogger() });
    const mod = createPolicyModule({ service, ownerOf: async (s) => owners[s], settingsOf: async (s) => settings[s], workspaceOf: async (s) => workspaces[s], config });
    for (const role of ['local-admin', 'gateway', 'agent'] as const) {
      const server = new Server();
      if (mod.roles.includes(role)) mod.register(server, { log: quietLogger(), listener: { role, sessionId: 'sess-alice', localUid: 1000 }, trust: { verifier: creds } });
      const sock = join(tmp.path, `${role}.sock`);
      await listen(server, `unix:${sock}`);
      servers.push(server);
      clients.set(role, new PolicyServiceClient(`unix:${sock}`, credentials.createInsecure()));
    }
  });

  afterEach(function () {
    for (const c of clients.values()) c.close();
    for (const s of servers) s.forceShutdown();
    clients.clear();
    servers.length = 0;
    service.close();
    store.close();
    db.close();
    tmp.cleanup();
  });

  it('decides a shell command and reports the rule and normalized form', async function () {
    const d = await rpc<DecideResponse>(admin(), 'decide', shellReq('sess-alice', 'sudo /bin/rm -fr //'));
    assert.equal(d.decision, PolicyDecision.POLICY_DECISION_DENY);
    assert.equal(d.rule, 'builtin:rm-root');
    assert.equal(d.normalized, 'rm -f -r /');
    assert.deepEqual(d.commands[0]?.via, ['sudo']);
    assert.equal(events[0]?.action, 'policy.deny');
    assert.equal(events[0]?.user, 'local:1000');
  });

  it('audits every decision however the agent pads or garbles its command: nothing it sends makes the audit log refuse the record', async function () {
    // Each of these used to produce a record the audit log refuses (a reason over 1,024
    // characters or with a control character, details over 8 KiB), so the attempt went unaudited.
    const padded = `true; rm -rf / ${'y'.repeat(1100)}`;
    const garbled = "true; rm -rf / '\u0001'";
    const wide = `echo '${'語'.repeat(3000)}' | sh`;
    for (const [command, decision] of [[padded, PolicyDecision.POLICY_DECISION_DENY], [garbled, PolicyDecision.POLICY_DECISION_DENY], [wide, PolicyDecision.POLICY_DECISION_ASK]] as const) {
      events.length = 0;
      const d = await rpc<DecideResponse>(admin(), 'decide', shellReq('sess-alice', command));
      assert.equal(d.decision, decision, command.slice(0, 40));
      assert.equal(events.length, 1, 'one record');
      const v = validateEvent(events[0]!); // what the real audit sink checks before it writes
      assert.equal(v.details.action_hash, d.actionHash, 'the record still names the exact action');
      if (command === padded) assert.match(v.reason ?? '', /… \[\+\d+ chars\]$/, 'a cut reason says so');
      if (command === garbled) assert.match(v.reason ?? '', /\\x01/, 'a control character is shown as an escape');
    }
    // Deciding the wide command's approval (with a long comment of wide characters) is audited too.
    const [pending] = await store.list({ status: 'pending' });
    events.length = 0;
    await rpc(admin(), 'decideApproval', { id: pending!.id, approve: false, comment: '理'.repeat(1900) });
    assert.equal(events.length, 1);
    const v = validateEvent(events[0]!);
    assert.equal(v.action, 'approval.decide');
    assert.equal(v.details.action_hash, pending!.actionHash);
  });

  it('answers INVALID_ARGUMENT with a specific message for malformed requests', async function () {
    await rejectsWith(rpc(admin(), 'decide', { ...shellReq('sess-alice', ''), action: undefined }), status.INVALID_ARGUMENT, 'invalid_argument', /action is required/);
    await rejectsWith(rpc(admin(), 'decide', shellReq('', 'ls')), status.INVALID_ARGUMENT, 'invalid_argument', /session_id is required/);
    await rejectsWith(rpc(admin(), 'decide', shellReq('sess-alice', '  ')), status.INVALID_ARGUMENT, 'invalid_argument', /command must be a non-empty/);
    await rejectsWith(rpc(admin(), 'decide', shellReq('sess-alice', 'ls', { profile: 'nope' })), status.INVALID_ARGUMENT, 'invalid_argument', /unknown policy profile/);
    await rejectsWith(rpc(admin(), 'decide', shellReq('sess-alice', 'ls', { waitMs: 10_000_000 })), status.INVALID_ARGUMENT, 'invalid_argument', /wait_ms/);
    await rejectsWith(rpc(admin(), 'listApprovals', ListApprovalsRequest.fromPartial({ sessionId: '', status: 99 as ApprovalStatus })), status.INVALID_ARGUMENT, 'invalid_argument', /unknown status 99 \(known: pending, approved, rejected, expired\)/);
    await rejectsWith(rpc(admin(), 'explain', { ...shellReq('', 'ls'), cwd: 'relative' }), status.INVALID_ARGUMENT, 'invalid_argument', /cwd must be an absolute/);
  });

  it('still takes the string status an older client sends in the old field number, and refuses an unknown one naming the field', async function () {
    const asked = await rpc<DecideResponse>(admin(), 'decide', shellReq('sess-alice', 'git push -f'));
    const pending = await rpc<{ approvals: { id: string }[] }>(admin(), 'listApprovals', ListApprovalsRequest.fromPartial({ sessionId: '', legacyStatus: 'pending' }));
    assert.deepEqual(pending.approvals.map((a) => a.id), [asked.approvalId]);
    assert.deepEqual((await rpc<{ approvals: unknown[] }>(admin(), 'listApprovals', ListApprovalsRequest.fromPartial({ sessionId: '', legacyStatus: 'approved' }))).approvals, []);
    await rejectsWith(rpc(admin(), 'listApprovals', ListApprovalsRequest.fromPartial({ sessionId: '', legacyStatus: 'maybe' })), status.INVALID_ARGUMENT, 'invalid_argument', /unknown status "maybe"/);
    // The answer carries both spellings: the enum for current clients, the string for older ones.
    const shown = await rpc<{ defaultProfile: string; mode: number; legacyMode: string }>(admin(), 'showPolicy', { profile: '' });
    assert.equal(shown.mode > 0, true);
    assert.equal(shown.legacyMode, ['perpetual', 'checkpoint', 'supervised'][shown.mode - 1]);
  });

  it('decides a session\'s action under the session\'s own profile and autonomy mode, never the default one', async function () {
    // `node build.js` matches no rule: `default` allows it, `strict` (what sess-strict runs with) asks.
    const d = await rpc<DecideResponse>(gateway(), 'decide', shellReq('sess-strict', 'node build.js'), gw('oidc:alice', 'control'));
    assert.deepEqual([d.decision, d.profile], [PolicyDecision.POLICY_DECISION_ASK, 'strict']);
    assert.deepEqual(events.map((e) => [e.action, e.details?.profile]), [['approval.request', 'strict']], 'the audit names the profile the session runs with');
    // Naming the session's own profile is the same request.
    const same = await rpc<DecideResponse>(admin(), 'decide', shellReq('sess-strict', 'node build.js', { profile: 'strict' }));
    assert.equal(same.decision, PolicyDecision.POLICY_DECISION_ASK);
    // A supervised session asks before every action, as its agent channel does.
    const sup = await rpc<DecideResponse>(admin(), 'decide', shellReq('sess-supervised', 'ls'));
    assert.deepEqual([sup.decision, sup.rule], [PolicyDecision.POLICY_DECISION_ASK, 'mode:supervised']);
  });

  it('refuses a Decide that names another profile than the session runs with, and records nothing; Explain still answers the what-if', async function () {
    const before = (await store.list()).length;
    for (const [client, meta] of [[admin(), md()], [gateway(), gw('oidc:alice', 'control')]] as const) {
      await rejectsWith(
        rpc(client, 'decide', shellReq('sess-strict', 'node build.js', { profile: 'default' }), meta),
        status.INVALID_ARGUMENT,
        'invalid_argument',
        /session sess-strict runs with policy profile "strict"; .*profile must be empty or "strict" \(got "default"\).*use Explain \(loki policy check --session sess-strict --profile default\)/,
      );
    }
    assert.equal(events.length, 0, 'no audit entry claims a decision for the session under a profile it does not run with');
    assert.equal((await store.list()).length, before, 'no approval either');
    const whatIf = await rpc<DecideResponse>(admin(), 'explain', shellReq('sess-strict', 'node build.js', { profile: 'default' }));
    assert.deepEqual([whatIf.decision, whatIf.profile], [PolicyDecision.POLICY_DECISION_ALLOW, 'default']);
    const asIs = await rpc<DecideResponse>(admin(), 'explain', shellReq('sess-strict', 'node build.js'));
    assert.deepEqual([asIs.decision, asIs.profile], [PolicyDecision.POLICY_DECISION_ASK, 'strict']);
    assert.equal(events.length, 0);
  });

  it('refuses to decide or explain for a session that does not exist, even for the local admin', async function () {
    await rejectsWith(rpc(admin(), 'decide', shellReq('sess-nobody', 'ls')), status.NOT_FOUND, 'session_not_found', /no session "sess-nobody"/);
    await rejectsWith(rpc(admin(), 'explain', shellReq('sess-nobody', 'ls')), status.NOT_FOUND, 'session_not_found', /no session "sess-nobody"/);
    assert.equal(events.length, 0);
    assert.equal((await store.list()).length, 0);
  });

  it('records no decision or approval for a session that has ended, as its agent channel would not; Explain still answers', async function () {
    await rejectsWith(rpc(gateway(), 'decide', shellReq('sess-done', 'git push -f'), gw('oidc:alice', 'control')), status.FAILED_PRECONDITION, 'session_not_active', /session sess-done is completed; nothing can act for it/);
    assert.equal(events.length, 0);
    assert.equal((await store.list()).length, 0);
    assert.equal((await rpc<DecideResponse>(admin(), 'explain', shellReq('sess-done', 'git push -f'))).decision, PolicyDecision.POLICY_DECISION_ASK);
  });

  it("decides and explains a session's file actions against that session's workspace, as its agent channel does, not the engine's default", async function () {
    // Decide and Explain used the configured policy.workspace while the agent channel used the sandbox's
    // workspace: `loki policy check --session` said deny for a write the agent was allowed, and the reverse.
    const write = (sessionId: string, path: string) => ({ ...shellReq(sessionId, ''), action: { kind: { $case: 'write', write: { path } } } });
    for (const method of ['explain', 'decide'] as const) {
      const inside = await rpc<DecideResponse>(admin(), method, write('sess-box', '/box/notes.txt'));
      assert.deepEqual([inside.decision, inside.rule], [PolicyDecision.POLICY_DECISION_ALLOW, 'paths:allowed'], `${method}: ${inside.reason}`);
      const outside = await rpc<DecideResponse>(admin(), method, write('sess-box', '/workspace/notes.txt'));
      assert.equal(outside.decision, PolicyDecision.POLICY_DECISION_DENY, `${method}: ${outside.reason}`);
      assert.match(outside.reason, /outside .*\(\/box\)/);
      // A relative path is the session's too.
      const rel = await rpc<DecideResponse>(admin(), method, write('sess-box', 'src/a.ts'));
      assert.match(rel.normalized, /^write \/box\/src\/a\.ts$/);
    }
    // A question that names no session is answered for the sandbox's workspace.
    const none = await rpc<DecideResponse>(admin(), 'explain', write('', '/workspace/notes.txt'));
    assert.equal(none.decision, PolicyDecision.POLICY_DECISION_ALLOW, none.reason);
  });

  it('explains without recording anything', async function () {
    const d = await rpc<DecideResponse>(admin(), 'explain', shellReq('', 'git push --force'));
    assert.equal(d.decision, PolicyDecision.POLICY_DECISION_ASK);
    assert.equal(d.approvalId, '');
    assert.equal((await store.list()).length, 0);
    assert.equal(events.length, 0);
  });

  it('runs the approval lifecycle with the approver taken from the authenticated caller', async function () {
    // Decide acts on the session (it opens an approval, and can use up an approved one): read is not enough.
    await rejectsWith(rpc(gateway(), 'decide', shellReq('sess-alice', 'git push -f'), gw('oidc:alice', 'read')), status.PERMISSION_DENIED, 'permission_denied', /control/);
    assert.equal((await rpc<{ approvals: unknown[] }>(admin(), 'listApprovals', ListApprovalsRequest.fromPartial({ sessionId: 'sess-alice', status: ApprovalStatus.APPROVAL_STATUS_PENDING }))).approvals.length, 0, 'the refused Decide opened no approval');
    const asked = await rpc<DecideResponse>(gateway(), 'decide', shellReq('sess-alice', 'git push -f'), gw('oidc:alice', 'control'));
    assert.equal(asked.decision, PolicyDecision.POLICY_DECISION_ASK);
    const list = await rpc<{ approvals: { id: string; status: ApprovalStatus }[] }>(gateway(), 'listApprovals', ListApprovalsRequest.fromPartial({ sessionId: '', status: ApprovalStatus.APPROVAL_STATUS_PENDING }), gw('oidc:alice', 'read'));
    assert.deepEqual(list.approvals.map((a) => a.id), [asked.approvalId]);
    await rejectsWith(rpc(gateway(), 'decideApproval', { id: asked.approvalId, approve: true, comment: '' }, gw('oidc:alice', 'read')), status.PERMISSION_DENIED, 'permission_denied', /control/);
    const done = await rpc<{ approval: { status: ApprovalStatus; legacyStatus: string; decidedBy: string } }>(gateway(), 'decideApproval', { id: asked.approvalId, approve: true, comment: 'ok' }, gw('oidc:alice', 'control'));
    assert.deepEqual([done.approval.status, done.approval.legacyStatus, done.approval.decidedBy], [ApprovalStatus.APPROVAL_STATUS_APPROVED, 'approved', 'oidc:alice']);
    const ok = await rpc<DecideResponse>(admin(), 'decide', shellReq('sess-alice', 'git push -f', { approvalId: asked.approvalId }));
    assert.equal(ok.decision, PolicyDecision.POLICY_DECISION_ALLOW);
    await rejectsWith(rpc(admin(), 'decide', shellReq('sess-alice', 'git push -f origin x', { approvalId: asked.approvalId })), status.PERMISSION_DENIED, 'approval_mismatch');
  });

  it('hides other owners\' sessions and approvals from gateway callers without *', async function () {
    const asked = await rpc<DecideResponse>(admin(), 'decide', shellReq('sess-bob', 'git push -f'));
    await rejectsWith(rpc(gateway(), 'decide', shellReq('sess-bob', 'ls'), gw('oidc:alice', 'control')), status.NOT_FOUND, 'not_found');
    const list = await rpc<{ approvals: unknown[] }>(gateway(), 'listApprovals', ListApprovalsRequest.fromPartial({ sessionId: '', status: 0 }), gw('oidc:alice', 'control'));
    assert.equal(list.approvals.length, 0);
    await rejectsWith(rpc(gateway(), 'decideApproval', { id: asked.approvalId, approve: true, comment: '' }, gw('oidc:alice', 'control')), status.NOT_FOUND, 'approval_not_found');
    const boss = await rpc<{ approval: { decidedBy: string } }>(gateway(), 'decideApproval', { id: asked.approvalId, approve: false, comment: '' }, gw('oidc:root', '*'));
    assert.equal(boss.approval.decidedBy, 'oidc:root');
    // No credential: the daemon does not know who is asking, whatever subject the gateway names.
    await rejectsWith(rpc(gateway(), 'listApprovals', ListApprovalsRequest.fromPartial({ sessionId: '', status: 0 }), md({ 'x-loki-subject': 'oidc:root', 'x-loki-scopes': '*' })), status.UNAUTHENTICATED, 'unauthenticated');
  });

  it('is not served on the agent socket at all', async function () {
    const err = await rpc(clients.get('agent')!, 'explain', shellReq('', 'ls')).catch((e: ServiceError) => e);
    assert.equal((err as ServiceError).code, status.UNIMPLEMENTED);
  });

  it('streams approval requests and decisions to a watcher', async function () {
    const existing = await rpc<DecideResponse>(admin(), 'decide', shellReq('sess-alice', 'git push --force-with-lease'));
    const call = admin().watchApprovals({ sessionId: 'sess-alice', includePending: true }, md());
    const seen: ApprovalEvent[] = [];
    const waiters: { n: number; resolve: () => void }[] = [];
    call.on('data', (e: ApprovalEvent) => {
      seen.push(e);
      for (const w of waiters) if (seen.length >= w.n) w.resolve();
    });
    call.on('error', () => undefined); // cancelled at the end
    const got = (n: number) => new Promise<void>((resolve) => (seen.length >= n ? resolve() : waiters.push({ n, resolve })));
    // The pending snapshot is sent after the server subscribed, so nothing later can be missed.
    await got(1);
    const three = got(3);
    const asked = await rpc<DecideResponse>(admin(), 'decide', shellReq('sess-alice', 'git push -f'));
    await rpc(admin(), 'decideApproval', { id: asked.approvalId, approve: false, comment: 'no' });
    await three;
    call.cancel();
    assert.deepEqual(seen.map((e) => [e.type, e.approval?.id]), [
      ['pending', existing.approvalId],
      ['requested', asked.approvalId],
      ['decided', asked.approvalId],
    ]);
  });

  it('shows the profiles and rules', async function () {
    const res = await rpc<{ defaultProfile: string; profiles: { name: string; rules: { id: string }[] }[]; onTimeout: string }>(admin(), 'showPolicy', { profile: 'strict' });
    assert.equal(res.defaultProfile, 'default');
    assert.deepEqual(res.profiles.map((p) => p.name), ['strict']);
    assert.ok(res.profiles[0]!.rules.some((r) => r.id === 'builtin:rm-root'));
    assert.equal(res.onTimeout, 'deny');
  });
});
