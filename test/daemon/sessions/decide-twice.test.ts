// The same numbered Decide sent twice while the first is still being answered (no crash in between:
// a runner's call cut off on its side, or a hostile runner): the second must not be taken for a
// Decide sent again after a crash, whose approval was used and whose answer died with lokid.
import assert from 'node:assert/strict';
import type { ServiceError } from '@grpc/grpc-js';
import { AutonomyMode } from '../../../proto/gen/loki/v1/vocab.js';
import { auditEntries } from '../../helpers/daemon.js';
import { admin, asked, LS, PUSH } from './decide-admin.js';
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

  it('ends the second with runner_replaced when a Hello comes while it waits for the first, and gives the new runner\'s number 1 nothing of it', async function () {
    t.child = await spawnFixture(t.home);
    const a = admin(t.home);
    // The default profile asks before a force-push.
    const s = await a.start(t.repo, AutonomyMode.AUTONOMY_MODE_UNSPECIFIED);
    const old = new StandInRunner(agentSocketPath(t.home, s.id));
    const fresh = new StandInRunner(agentSocketPath(t.home, s.id));
    const ended = (call: Promise<{ decision: string; approvalId: string }>) =>
      call.then(
        (r) => `${r.decision} ${r.approvalId}`,
        (err: ServiceError) => `error ${String(err.metadata?.get('x-loki-error-code')[0] ?? err.code)}`,
      );
    try {
      await old.hello();
      const first = ended(old.decide(PUSH, 'test', 1));
      const p = await asked(a, s.id);
      await until('the Decide to wait', async () => (await a.events(s.id)).some((e) => e.message.startsWith(`waiting for approval ${p.id}`)));
      const second = ended(old.decide(PUSH, 'test', 1));
      // The second call reaches lokid (and waits behind the first) before the new runner's Hello.
      await new Promise((r) => setTimeout(r, 500));
      await fresh.hello();
      const mine = fresh.decide(PUSH, 'test', 1);
      await until('the new runner\'s Decide to ask', async () => (await a.get(s.id)).decisionsAsk === 2);
      await a.decide(p.id, true);
      const answers = { first: await first, second: await second, fresh: await ended(mine) };
      assert.deepEqual(answers, { first: 'error runner_replaced', second: 'error runner_replaced', fresh: `allow ${p.id}` });
      assert.equal(auditEntries(t.home).filter((e) => e.action === 'policy.allow' && e.user === `session:${s.id}`).length, 1);
    } finally {
      old.close();
      fresh.close();
      a.close();
    }
  });
});
