// The audit trail of a human decision, as the on-call engineer reads it: a
// supervised session's ask is recorded as `approval.request` (like a policy ask),
// and the decision made with the real CLI on the admin socket carries `ip: local`
// (docs/audit-logging.md). Real daemon, real sandbox, real audit files.
import assert from 'node:assert/strict';
import type { StartSessionInput } from '../../../daemon/src/sessions/types.js';
import { auditEntries } from '../../helpers/daemon.js';
import { lokiProcess } from '../../helpers/entry.js';
import { ADMIN, agentSocket, makeRepo, removeDir, StandInRunner, startSessionDaemon, until, type SessionDaemon } from './helpers.js';

function input(over: Partial<StartSessionInput>): StartSessionInput {
  return { prd: '', prompt: 'x', provider: 'script', plan: '[{"run": "true"}]', profile: '', autonomy: '', project: '', projectPath: '', model: '', baseUrl: '', maxIterations: 0, network: false, ...over };
}

describe('approvals in the audit log', function () {
  this.timeout(120_000);
  let sd: SessionDaemon;
  let repo: string;

  beforeEach(async function () {
    repo = makeRepo();
    sd = await startSessionDaemon();
  });

  afterEach(async function () {
    await sd.cleanup();
    removeDir(repo);
  });

  it('records a supervised ask as approval.request and the CLI decision with ip "local"', async function () {
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input({ projectPath: repo, autonomy: 'supervised' }));
    const runner = new StandInRunner(agentSocket(sd.d, s.id));
    try {
      const asked = runner.decide({ $case: 'shell', shell: 'ls -l' });
      await until('waiting_approval', async () => (await m.get(ADMIN, s.id)).state === 'waiting_approval');
      const [approval] = await sd.feature.policy.listApprovals({ sessionId: s.id, status: 'pending' });
      assert.ok(approval, 'a pending approval exists');

      const requested = auditEntries(sd.d.home).filter((e) => e.action === 'approval.request');
      assert.equal(requested.length, 1, 'the ask is in the audit log before anyone decides');
      assert.equal(requested[0]!.user, `session:${s.id}`);
      assert.equal(requested[0]!.resource, `session:${s.id}`);
      assert.equal(requested[0]!.details.approval_id, approval.id);
      assert.equal(requested[0]!.details.normalized, 'ls -l');
      assert.equal(requested[0]!.details.mode, 'supervised');

      const cli = await lokiProcess(sd.d.home, sd.d.paths.adminSocket, ['approvals', 'approve', approval.id]);
      assert.equal(cli.code, 0, cli.err);
      assert.match(cli.out, /approved by local:/);
      assert.equal((await asked).decision, 'allow');
    } finally {
      runner.close();
    }
    const decided = auditEntries(sd.d.home).filter((e) => e.action === 'approval.decide');
    assert.equal(decided.length, 1);
    assert.equal(decided[0]!.ip, 'local', 'a decision over the admin socket names its address like every other admin call');
    assert.equal(decided[0]!.details.decision, 'approved');
    // Nothing is audited twice: one request, one decision, one allow.
    const seqs = auditEntries(sd.d.home).map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
  });
});
