// Approval lifecycle on a real SQLite file: ask → approve by X → only that exact
// action proceeds, once; other actions are refused; timeouts deny; a restart
// (re-opening the database) keeps pending approvals and their deadlines.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { LokiError } from '../../../common/src/index.js';
import type { AuditEventInput } from '../../../daemon/src/audit/types.js';
import { ApprovalStore } from '../../../daemon/src/policy/approvals.js';
import { PolicyService } from '../../../daemon/src/policy/service.js';
import { openSqliteStore, type SqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { engineFor, quietLogger, tempDir, type TempDir } from './helpers.js';

const shell = (command: string) => ({ kind: 'shell' as const, command });

describe('approvals', function () {
  let tmp: TempDir;
  let db: SqliteStore;
  let store: ApprovalStore;
  let service: PolicyService;
  let events: AuditEventInput[];
  const owners: Record<string, string> = { s1: 'token:alice' };
  const open = (o: { timeoutMs?: number; fourEyes?: boolean; onTimeout?: 'deny' | 'allow' } = {}) => {
    db = openSqliteStore(join(tmp.path, 'state', 'loki.db'));
    store = new ApprovalStore({ repo: db.approvals, log: quietLogger(), timeoutMs: o.timeoutMs ?? 60_000, onTimeout: o.onTimeout ?? 'deny', fourEyes: o.fourEyes ?? false, ownerOf: async (s) => owners[s] });
    service = new PolicyService({ engine: engineFor(), approvals: store, audit: { record: async (e) => void events.push(e) }, log: quietLogger() });
  };
  const close = () => {
    service.close();
    store.close();
    db.close();
  };
  const agent = { subject: 'session:s1' };

  beforeEach(function () {
    tmp = tempDir();
    events = [];
    open();
  });
  afterEach(function () {
    close();
    tmp.cleanup();
  });

  it('lets exactly the approved action through, once, after an authenticated approval', async function () {
    const asked = await service.decide(shell('git push --force origin main'), { sessionId: 's1' }, agent);
    assert.equal(asked.decision, 'ask');
    assert.match(asked.approvalId, /^apr-/);
    const pending = await store.get(asked.approvalId);
    assert.equal(pending.status, 'pending');
    assert.equal(pending.actionHash, asked.actionHash);
    assert.equal(pending.askedBy, 'default:git-force-push');
    assert.ok(pending.expiresAt > pending.requestedAt);

    const decided = await service.decideApproval(asked.approvalId, true, 'token:bob', 'release hotfix');
    assert.equal(decided.decidedBy, 'token:bob');
    assert.equal(decided.comment, 'release hotfix');

    const ok = await service.decide(shell('git push --force origin main'), { sessionId: 's1' }, { ...agent, approvalId: asked.approvalId });
    assert.equal(ok.decision, 'allow');
    assert.equal(ok.rule, `approval:${asked.approvalId}`);
    assert.match(ok.reason, /approved by token:bob/);
    await assert.rejects(service.decide(shell('git push --force origin main'), { sessionId: 's1' }, { ...agent, approvalId: asked.approvalId }), (e: LokiError) => e.code === 'approval_decided');
    assert.deepEqual(events.map((e) => e.action), ['approval.request', 'approval.decide', 'policy.allow']);
  });

  it('leaves an approval pending, and its waiting action unanswered, when its decision cannot be audited', async function () {
    const asked = await service.decide(shell('git push --force origin main'), { sessionId: 's1' }, agent);
    const ac = new AbortController();
    let verdict = '';
    const waiting = service.decide(shell('git push --force origin main'), { sessionId: 's1' }, { ...agent, untilDecided: true, signal: ac.signal }).then((r) => (verdict = r.decision));
    service = new PolicyService({ engine: engineFor(), approvals: store, audit: { record: async (e) => { if (e.action === 'approval.decide') throw new Error('disk full'); events.push(e); } }, log: quietLogger() });
    await assert.rejects(service.decideApproval(asked.approvalId, true, 'token:bob', ''), /disk full/);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(verdict, '', 'the waiting action was not let through');
    assert.equal((await store.get(asked.approvalId)).status, 'pending', 'the unaudited decision was not stored');
    await assert.rejects(service.decide(shell('git push --force origin main'), { sessionId: 's1' }, { ...agent, approvalId: asked.approvalId }), (e: LokiError) => e.code === 'approval_not_granted');
    ac.abort();
    await waiting;
    assert.equal(verdict, 'ask', 'still pending when the wait ended');
  });

  it('refuses a different action presented with an approval id', async function () {
    const asked = await service.decide(shell('git push --force origin main'), { sessionId: 's1' }, agent);
    await service.decideApproval(asked.approvalId, true, 'token:bob', '');
    await assert.rejects(service.decide(shell('git push --force origin prod'), { sessionId: 's1' }, { ...agent, approvalId: asked.approvalId }), (e: LokiError) => e.code === 'approval_mismatch' && e.kind === 'permission_denied');
    await assert.rejects(service.decide(shell('git push --force origin main'), { sessionId: 's2' }, { ...agent, approvalId: asked.approvalId }), (e: LokiError) => e.code === 'approval_mismatch');
    const denied = await service.decide(shell('rm -rf /'), { sessionId: 's1' }, { ...agent, approvalId: asked.approvalId });
    assert.equal(denied.decision, 'deny', 'an approval never turns a deny into an allow');
  });

  it('denies the action when the approval is rejected', async function () {
    const asked = await service.decide(shell('git push -f'), { sessionId: 's1' }, agent);
    await service.decideApproval(asked.approvalId, false, 'token:bob', 'no');
    await assert.rejects(service.decide(shell('git push -f'), { sessionId: 's1' }, { ...agent, approvalId: asked.approvalId }), (e: LokiError) => e.code === 'approval_not_granted');
    await assert.rejects(service.decideApproval(asked.approvalId, true, 'token:carol', ''), (e: LokiError) => e.code === 'approval_decided');
  });

  it('denies when nobody decides before the timeout', async function () {
    close();
    open({ timeoutMs: 150 });
    const asked = await service.decide(shell('git push -f'), { sessionId: 's1' }, agent);
    const done = await store.waitForDecision(asked.approvalId);
    assert.equal(done.status, 'expired');
    assert.equal(store.outcome(done), 'deny');
    await assert.rejects(service.decide(shell('git push -f'), { sessionId: 's1' }, { ...agent, approvalId: asked.approvalId }), (e: LokiError) => e.code === 'approval_not_granted' && /timed out/.test(e.message));
    await assert.rejects(service.decideApproval(asked.approvalId, true, 'token:bob', ''), (e: LokiError) => e.code === 'approval_expired');
    assert.ok(events.some((e) => e.action === 'approval.expire' && e.result === 'denied'));
  });

  it('waits for a decision when asked to and returns the outcome', async function () {
    const waiting = service.decide(shell('git push -f'), { sessionId: 's1' }, { ...agent, waitMs: 5_000 });
    let id = '';
    while (!id) {
      await new Promise((r) => setTimeout(r, 10));
      id = (await store.list({ status: 'pending' }))[0]?.id ?? '';
    }
    await service.decideApproval(id, true, 'local:1000', '');
    const d = await waiting;
    assert.equal(d.decision, 'allow');
    assert.equal((await store.get(id)).consumedAt > 0, true);
    const short = await service.decide(shell('git push --force-with-lease'), { sessionId: 's1' }, { ...agent, waitMs: 50 });
    assert.equal(short.decision, 'ask', 'still pending when the wait runs out');
  });

  it('blocks the agent channel until a human decides, and denies on timeout', async function () {
    const ac = new AbortController();
    const waiting = service.decideAndWait(shell('git push -f'), { sessionId: 's1' }, { ...agent, signal: ac.signal });
    let id = '';
    while (!id) {
      await new Promise((r) => setTimeout(r, 10));
      id = (await store.list({ status: 'pending' }))[0]?.id ?? '';
    }
    await service.decideApproval(id, true, 'token:bob', '');
    const d = await waiting;
    assert.deepEqual([d.decision, d.approvalId], ['allow', id]);

    close();
    open({ timeoutMs: 100 });
    const timedOut = await service.decideAndWait(shell('git push -f'), { sessionId: 's1' }, { ...agent, signal: ac.signal });
    assert.equal(timedOut.decision, 'deny');
    assert.match(timedOut.reason, /timed out/);
    assert.equal((await service.decideAndWait(shell('ls'), { sessionId: 's1' }, { ...agent, signal: ac.signal })).decision, 'allow');

    const aborted = service.decideAndWait(shell('git push --force-with-lease'), { sessionId: 's1' }, { ...agent, signal: AbortSignal.timeout(30) });
    await assert.rejects(aborted, (e: LokiError) => e.code === 'unavailable');
  });

  it('keeps pending approvals across a restart and still expires them on time', async function () {
    const asked = await service.decide(shell('git push -f'), { sessionId: 's1' }, agent);
    close();
    open();
    const again = await store.get(asked.approvalId);
    assert.equal(again.status, 'pending');
    assert.equal((await store.list({ status: 'pending' })).length, 1);
    const same = await service.decide(shell('git push -f'), { sessionId: 's1' }, agent);
    assert.equal(same.approvalId, asked.approvalId, 'the same action reuses its pending request');
    await service.decideApproval(asked.approvalId, true, 'token:bob', '');
    assert.equal((await service.decide(shell('git push -f'), { sessionId: 's1' }, { ...agent, approvalId: asked.approvalId })).decision, 'allow');

    const late = await service.decide(shell('git push --force-with-lease'), { sessionId: 's1' }, agent);
    close();
    db = openSqliteStore(join(tmp.path, 'state', 'loki.db'));
    db.db.prepare('UPDATE approvals SET expires_at = 1 WHERE id = ?').run(late.approvalId);
    db.close();
    open();
    assert.equal((await store.get(late.approvalId)).status, 'expired', 'a deadline that passed while the daemon was down denies');
  });

  it('enforces four-eyes: the session owner cannot approve their own session', async function () {
    close();
    open({ fourEyes: true });
    const asked = await service.decide(shell('git push -f'), { sessionId: 's1' }, agent);
    await assert.rejects(service.decideApproval(asked.approvalId, true, 'token:alice', ''), (e: LokiError) => e.code === 'four_eyes_required');
    assert.equal(events.at(-1)?.result, 'denied');
    const ok = await service.decideApproval(asked.approvalId, true, 'token:bob', '');
    assert.equal(ok.status, 'approved');
    const other = await service.decide(shell('git push -f'), { sessionId: 'unknown-session' }, agent);
    await assert.rejects(service.decideApproval(other.approvalId, true, 'token:bob', ''), (e: LokiError) => e.code === 'four_eyes_required' && /unknown/.test(e.message));
  });

  it('caps the pending requests one session can open', async function () {
    close();
    db = openSqliteStore(join(tmp.path, 'state', 'loki.db'));
    store = new ApprovalStore({ repo: db.approvals, log: quietLogger(), timeoutMs: 60_000, onTimeout: 'deny', fourEyes: false, ownerOf: async () => undefined, maxPendingPerSession: 2 });
    service = new PolicyService({ engine: engineFor(), approvals: store, audit: { record: async () => {} }, log: quietLogger() });
    await service.decide(shell('git push -f a'), { sessionId: 's1' }, agent);
    await service.decide(shell('git push -f b'), { sessionId: 's1' }, agent);
    await assert.rejects(service.decide(shell('git push -f c'), { sessionId: 's1' }, agent), (e: LokiError) => e.code === 'resource_exhausted');
    assert.equal((await service.decide(shell('git push -f a'), { sessionId: 's1' }, agent)).decision, 'ask', 'the same action still finds its request');
    assert.equal((await service.decide(shell('git push -f c'), { sessionId: 's2' }, agent)).decision, 'ask', 'other sessions are unaffected');
  });

  it('creates one request when one action is asked twice at once, and lets one of two racing consumers through', async function () {
    const req = { sessionId: 's9', actionKind: 'shell', normalized: 'git push -f', actionHash: 'a'.repeat(64), askedBy: 'default:git-force-push', reason: 'force push' };
    const [a, b] = await Promise.all([store.request(req), store.request(req)]);
    assert.equal(a.id, b.id, 'the lookup and the insert are one transaction');
    assert.equal((await store.list({ sessionId: 's9' })).length, 1);
    await store.decide(a.id, { approve: true, subject: 'token:bob' });
    const used = await Promise.allSettled([store.consume(a.id, 's9', req.actionHash), store.consume(a.id, 's9', req.actionHash)]);
    assert.deepEqual(used.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  });

  it('audits every deny with the rule and normalized action', async function () {
    await service.decide(shell('sudo rm -rf /'), { sessionId: 's1' }, agent);
    const e = events.find((x) => x.action === 'policy.deny');
    assert.equal(e?.user, 'session:s1');
    assert.equal(e?.resource, 'session:s1');
    assert.equal(e?.details?.rule, 'builtin:rm-root');
    assert.equal(e?.details?.normalized, 'rm -r -f /');
  });

  it('never records anything for explain', async function () {
    const d = service.explain(shell('git push -f'), { sessionId: 's1' });
    assert.equal(d.decision, 'ask');
    assert.equal((await store.list()).length, 0);
    assert.equal(events.length, 0);
  });
});
