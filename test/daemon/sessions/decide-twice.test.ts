// The same numbered Decide sent twice while the first is still being answered (no crash in between:
// a runner's call cut off on its side, or a hostile runner): the second must not be taken for a
// Decide sent again after a crash, whose approval was used and whose answer died with lokid.
import assert from 'node:assert/strict';
import { auditEntries } from '../../helpers/daemon.js';
import { admin, asked, LS } from './decide-admin.js';
import { agentSocketPath, sigkillSuite, spawnFixture, StandInRunner, until } from './helpers.js';

describe('the same numbered Decide sent twice at once', function () {
  this.timeout(120_000);
  const t = sigkillSuite('lkt');

  it('answers the second with the first one\'s answer once it is known: one approval, one policy.allow, one decision', async function () {
    // The first call's policy.allow entry is held: it has used the approval and not answered yet.
    t.child = await spawnFixture(t.home, { LOKI_TEST_PAUSE_AUDIT: 'policy.allow' });
    const a = admin(t.home);
    const s = await a.start(t.repo);
    const runner = new StandInRunner(agentSocketPath(t.home, s.id));
    try {
      await runner.hello();
      const first = runner.decide(LS, 'test', 1);
      const p = await asked(a, s.id);
      await a.decide(p.id, true);
      await until('the approval to be used', () => t.child!.output().includes('pause:audit:policy.allow'));
      const second = runner.decide(LS, 'test', 1);
      second.catch(() => undefined);
      // Time for the second call to be answered on its own (as it was: with a second policy.allow entry).
      await Promise.race([second, new Promise((r) => setTimeout(r, 1500))]);
      t.child.kill('SIGUSR2');
      const answers = [await first, await second].map((r) => `${r.decision} ${r.approvalId}`);
      assert.deepEqual(answers, [`allow ${p.id}`, `allow ${p.id}`], 'the same Decide, the same answer');
      const allows = auditEntries(t.home).filter((e) => e.action === 'policy.allow' && e.user === `session:${s.id}`);
      assert.deepEqual(allows.map((e) => [e.details.rule, e.details.resent ?? false]), [[`approval:${p.id}`, false]], 'one policy.allow: the approval allowed one action');
      assert.equal((await a.events(s.id)).filter((e) => e.type === 'decision').length, 1, 'one decision event');
      assert.equal((await a.approvals(s.id)).length, 1, 'the human was asked once');
    } finally {
      runner.close();
      a.close();
    }
  });
});
