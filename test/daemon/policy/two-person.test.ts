// The two-person rule: a policy rule may need two distinct approvers and may
// forbid the session's starter from approving (`approvers`,
// `require_distinct_approver`). The daemon enforces it in the approval store, on
// a real SQLite file, through the same PolicyService path a runner's ask takes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { LokiError } from '../../../common/src/index.js';
import { ApprovalStore } from '../../../daemon/src/policy/approvals.js';
import { approvalRequirements, buildPolicyEngine, policyConfigSchema } from '../../../daemon/src/policy/config.js';
import { PolicyService } from '../../../daemon/src/policy/service.js';
import { openSqliteStore, type SqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { quietLogger, tempDir, type TempDir } from './helpers.js';

const POLICY = {
  rules: [
    { id: 'two-person-deploy', effect: 'ask' as const, pattern: 'deploy prod', reason: 'production deploys need two people', approvers: 2, require_distinct_approver: true },
    { id: 'one-person-push', effect: 'ask' as const, pattern: 'git push', reason: 'pushes are reviewed' },
  ],
};

describe('two-person rule (policy approvers / require_distinct_approver)', function () {
  let tmp: TempDir;
  let db: SqliteStore;
  let store: ApprovalStore;
  let service: PolicyService;
  const agent = { subject: 'session:s1' };
  const shell = (command: string) => ({ kind: 'shell' as const, command });

  beforeEach(() => {
    tmp = tempDir();
    db = openSqliteStore(join(tmp.path, 'state', 'loki.db'));
    const { engine, config } = buildPolicyEngine(POLICY);
    const byRule = approvalRequirements(config);
    store = new ApprovalStore({ repo: db.approvals, log: quietLogger(), timeoutMs: 60_000, onTimeout: 'deny', fourEyes: false, ownerOf: async () => 'token:starter', requirementFor: (r) => byRule.get(r) });
    service = new PolicyService({ engine, approvals: store, audit: { record: async () => {} }, log: quietLogger() });
  });
  afterEach(() => {
    service.close();
    store.close();
    db.close();
    tmp.cleanup();
  });

  async function ask(command: string): Promise<string> {
    const d = await service.decide(shell(command), { sessionId: 's1' }, agent);
    assert.equal(d.decision, 'ask');
    return d.approvalId!;
  }

  it('stays pending after the first approval and is granted only by a second, distinct person', async () => {
    const id = await ask('deploy prod');
    const first = await store.decide(id, { approve: true, subject: 'token:alice', comment: 'ok by me' });
    assert.equal(first.status, 'pending');
    assert.deepEqual(first.approvers, ['token:alice']);
    assert.equal(first.approvalsRequired, 2);
    await assert.rejects(store.decide(id, { approve: true, subject: 'token:alice' }), (e: LokiError) => e.code === 'four_eyes_required' && /2 distinct approvers/.test(e.message));
    const second = await store.decide(id, { approve: true, subject: 'token:bob' });
    assert.equal(second.status, 'approved');
    assert.deepEqual(second.approvers, ['token:alice', 'token:bob']);
    assert.equal(store.outcome((await store.get(id))), 'allow');
  });

  it('refuses the session starter as an approver of that rule', async () => {
    const id = await ask('deploy prod');
    await assert.rejects(store.decide(id, { approve: true, subject: 'token:starter' }), (e: LokiError) => e.code === 'four_eyes_required' && e.kind === 'permission_denied' && /other than the session's starter/.test(e.message));
    assert.equal((await store.get(id)).status, 'pending');
    assert.deepEqual((await store.get(id)).approvers, []);
  });

  it('lets any one approver reject at once', async () => {
    const id = await ask('deploy prod');
    await store.decide(id, { approve: true, subject: 'token:alice' });
    assert.equal((await store.decide(id, { approve: false, subject: 'token:bob', comment: 'not today' })).status, 'rejected');
  });

  it('keeps the runner waiting until the second approval', async () => {
    const id = await ask('deploy prod');
    let done = false;
    const waiting = store.waitForDecision(id).then((a) => ((done = true), a));
    await store.decide(id, { approve: true, subject: 'token:alice' });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(done, false, 'one approval is not enough');
    await store.decide(id, { approve: true, subject: 'token:bob' });
    assert.equal((await waiting).status, 'approved');
  });

  it('leaves rules without the setting as single approvals, the starter included', async () => {
    const id = await ask('git push origin main');
    assert.equal((await store.decide(id, { approve: true, subject: 'token:starter' })).status, 'approved');
  });

  it('survives a restart with its approvers (stored in SQLite)', async () => {
    const id = await ask('deploy prod');
    await store.decide(id, { approve: true, subject: 'token:alice' });
    store.close();
    const { config } = buildPolicyEngine(POLICY);
    const byRule = approvalRequirements(config);
    store = new ApprovalStore({ repo: db.approvals, log: quietLogger(), timeoutMs: 60_000, onTimeout: 'deny', fourEyes: false, ownerOf: async () => 'token:starter', requirementFor: (r) => byRule.get(r) });
    assert.deepEqual((await store.get(id)).approvers, ['token:alice']);
    await assert.rejects(store.decide(id, { approve: true, subject: 'token:alice' }), (e: LokiError) => e.code === 'four_eyes_required');
    assert.equal((await store.decide(id, { approve: true, subject: 'token:carol' })).status, 'approved');
  });

  it('refuses a rule that sets a requirement without an id, at config load', () => {
    const r = policyConfigSchema.safeParse({ rules: [{ effect: 'ask', pattern: 'deploy prod', approvers: 2 }] });
    assert.equal(r.success, false);
    assert.match(JSON.stringify(r.error?.issues), /needs an id/);
    assert.equal(policyConfigSchema.safeParse({ rules: [{ id: 'x', effect: 'ask', pattern: 'a', approvers: 9 }] }).success, false);
  });
});
