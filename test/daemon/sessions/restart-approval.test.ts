// SIGKILL the daemon after a human approved an agent's action but before the
// `approval.decide` audit entry was durable (the fixture never writes it): after the
// restart, an approval that can let the agent act is always in the audit log.
import assert from 'node:assert/strict';
import { runtimePaths } from '../../../common/src/index.js';
import { PolicyServiceClient, type DecideApprovalRequest, type DecideApprovalResponse, type ListApprovalsRequest, type ListApprovalsResponse } from '../../../proto/gen/loki/v1/policy.js';
import { SessionServiceClient, StartSessionRequest, type Session } from '../../../proto/gen/loki/v1/sessions.js';
import { AutonomyMode, Provider } from '../../../proto/gen/loki/v1/vocab.js';
import { auditEntries, clientFor, unaryCall } from '../../helpers/daemon.js';
import { agentSocketPath, sigkillSuite, spawnFixture, StandInRunner, until } from './helpers.js';

describe('approvals across a daemon SIGKILL', function () {
  this.timeout(120_000);
  const t = sigkillSuite('lka');

  it('never lets an approval take effect before its approval.decide entry is durable', async function () {
    t.child = await spawnFixture(t.home, { LOKI_TEST_HANG_AUDIT: 'approval.decide' });
    const admin = runtimePaths(t.home).adminSocket;
    let sessions = clientFor(SessionServiceClient, admin);
    let policy = clientFor(PolicyServiceClient, admin);
    const approvals = (sessionId: string) => unaryCall<ListApprovalsRequest, ListApprovalsResponse>(policy.listApprovals.bind(policy), { sessionId, legacyStatus: '', status: 0 }).then((r) => r.approvals);
    const approve = (id: string) => unaryCall<DecideApprovalRequest, DecideApprovalResponse>(policy.decideApproval.bind(policy), { id, approve: true, comment: '' });
    const s = await unaryCall<StartSessionRequest, Session>(sessions.start.bind(sessions), StartSessionRequest.fromPartial({ prompt: 'build', provider: Provider.PROVIDER_SCRIPT, plan: '[{"run":"true"}]', projectPath: t.repo, autonomy: AutonomyMode.AUTONOMY_MODE_SUPERVISED }));
    const runner = new StandInRunner(agentSocketPath(t.home, s.id));
    try {
      await runner.hello();
      const asked = runner.decide({ $case: 'shell', shell: 'ls -l' });
      asked.catch(() => undefined);
      const [pending] = await until('the approval to be asked', async () => (await approvals(s.id)).length === 1 && approvals(s.id));
      approve(pending!.id).catch(() => undefined); // cut off by the kill
      await until('the decision to reach its audit entry', () => t.child!.output().includes('hang:audit:approval.decide'));

      t.child.kill('SIGKILL');
      await new Promise((r) => t.child!.once('exit', r));
      sessions.close();
      policy.close();
      t.child = await spawnFixture(t.home);
      sessions = clientFor(SessionServiceClient, admin);
      policy = clientFor(PolicyServiceClient, admin);

      const decidedEntries = () => auditEntries(t.home).filter((e) => e.action === 'approval.decide' && e.result === 'success');
      const [after] = await approvals(s.id);
      assert.equal(after!.legacyStatus, 'pending', `the unaudited decision did not take effect (it is ${after!.legacyStatus}, used: ${Boolean(after!.consumedAtMs)})`);
      assert.equal(decidedEntries().length, 0);

      // The runner asks again; the same approval is reused, decided and audited, and the action goes ahead once.
      await asked.then(() => assert.fail('the runner got a verdict for an approval that was never audited'), () => undefined);
      const again = runner.decide({ $case: 'shell', shell: 'ls -l' });
      await until('the re-ask to wait', async () => (await approvals(s.id)).every((a) => a.id === pending!.id));
      await approve(pending!.id);
      assert.equal((await again).decision, 'allow');
      const entries = auditEntries(t.home);
      const decided = entries.findIndex((e) => e.action === 'approval.decide' && e.details.approval_id === pending!.id && e.details.decision === 'approved');
      const allowed = entries.findIndex((e) => e.action === 'policy.allow' && e.user === `session:${s.id}`);
      assert.ok(decided >= 0 && decided < allowed, 'the approval is audited before the action it allows');
      assert.equal((await approvals(s.id)).length, 1);
    } finally {
      runner.close();
      sessions.close();
      policy.close();
    }
  });
});
