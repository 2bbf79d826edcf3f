// A new runner's Hello while the old runner's numbered Decide is still open: the old call
// must not use the approval for the new runner, nor leave its record or answer where the
// new runner's same number finds it. Two runners on one agent socket, a real fixture lokid.
import assert from 'node:assert/strict';
import type { ServiceError } from '@grpc/grpc-js';
import { AutonomyMode } from '../../../proto/gen/loki/v1/vocab.js';
import { auditEntries } from '../../helpers/daemon.js';
import { admin, asked, PUSH, resent, type Admin } from './decide-admin.js';
import { agentSocketPath, sigkillSuite, spawnFixture, StandInRunner, until } from './helpers.js';

/** What a runner's call ended with: `allow|deny APPROVAL`, or `error CODE` (lokid's code, else the gRPC status). */
function ended(call: Promise<{ decision: string; approvalId: string }>): Promise<string> {
  return call.then(
    (r) => `${r.decision} ${r.approvalId}`,
    (err: ServiceError) => `error ${String(err.metadata?.get('x-loki-error-code')[0] ?? err.code)}`,
  );
}

/** The new runner's Decide, sent again once if its call failed (as a runner whose call was cut off does). */
async function newRunnersAnswer(call: Promise<{ decision: string; approvalId: string }>, again: () => Promise<{ decision: string; approvalId: string }>, a: Admin, sessionId: string): Promise<string> {
  const first = await ended(call);
  if (!first.startsWith('error')) return first;
  const r = await resent(again(), a, sessionId);
  return r === 'asked again' ? r : `${r.decision} ${r.approvalId}`;
}

/** The trail of the session: one approval.decide for the approval, and the policy.allow entries (their approval ids). */
function trail(home: string, sessionId: string, approvalId: string) {
  const entries = auditEntries(home);
  return {
    decides: entries.filter((e) => e.action === 'approval.decide' && e.details.approval_id === approvalId).length,
    allows: entries.filter((e) => e.action === 'policy.allow' && e.user === `session:${sessionId}`).map((e) => e.details.rule),
  };
}

describe('a Hello while a numbered Decide is open', function () {
  this.timeout(120_000);
  const t = sigkillSuite('lkh');

  /** A fixture lokid, a session asking before a force-push (the default profile) and two runners on its agent socket. */
  async function twoRunners(env: Record<string, string> = {}) {
    t.child = await spawnFixture(t.home, env);
    const a = admin(t.home);
    const s = await a.start(t.repo, AutonomyMode.AUTONOMY_MODE_UNSPECIFIED);
    const socket = agentSocketPath(t.home, s.id);
    return { a, s, old: new StandInRunner(socket), fresh: new StandInRunner(socket) };
  }

  type Runners = Awaited<ReturnType<typeof twoRunners>>;

  /** `body` with two runners, closed afterwards whatever happens. */
  async function withTwoRunners(env: Record<string, string>, body: (r: Runners) => Promise<void>): Promise<void> {
    const r = await twoRunners(env);
    try {
      await body(r);
    } finally {
      r.old.close();
      r.fresh.close();
      r.a.close();
    }
  }

  /** The old call ends runner_replaced, the new runner's number 1 (sent again if cut off) uses the approval: one approval, one allow. */
  async function onlyTheNewRunnerAllowed(first: Promise<string>, { a, s, fresh }: Runners, approvalId: string): Promise<void> {
    const again = await resent(fresh.decide(PUSH, 'test', 1), a, s.id);
    const answers = { old: await first, new: again === 'asked again' ? again : `${again.decision} ${again.approvalId}` };
    assert.deepEqual(answers, { old: 'error runner_replaced', new: `allow ${approvalId}` }, 'one approval, one allow, for the runner that is there');
    assert.deepEqual(trail(t.home, s.id, approvalId), { decides: 1, allows: [`approval:${approvalId}`] });
  }

  it('ends the old runner\'s waiting Decide with an error when the new runner waits on the same approval: one approval, one allow', async function () {
    await withTwoRunners({}, async ({ a, s, old, fresh }) => {
      await old.hello();
      const first = ended(old.decide(PUSH, 'test', 1));
      const p = await asked(a, s.id);
      await until('the Decide to wait', async () => (await a.events(s.id)).some((e) => e.message.startsWith(`waiting for approval ${p.id}`)));
      // A new runner: numbers from 1 again, and its number 1 is the same action; it finds the same approval.
      await fresh.hello();
      const second = fresh.decide(PUSH, 'test', 1);
      await until('the new runner\'s Decide to ask too', async () => (await a.get(s.id)).decisionsAsk === 2);
      await a.decide(p.id, true);
      const answers = { old: await first, new: await newRunnersAnswer(second, () => fresh.decide(PUSH, 'test', 1), a, s.id) };
      assert.deepEqual(answers, { old: 'error runner_replaced', new: `allow ${p.id}` }, 'one approval, one allow, for the runner that is there');
      assert.deepEqual(trail(t.home, s.id, p.id), { decides: 1, allows: [`approval:${p.id}`] });
      assert.equal((await a.approvals(s.id)).length, 1, 'the human was asked once');
    });
  });

  it('does not give the new runner the answer of an old Decide whose record was written after the Hello', async function () {
    // The old runner's number 1 made its approval and stops before its record is written; the Hello comes then.
    await withTwoRunners({ LOKI_TEST_PAUSE_DECIDE_RECORD: '1' }, async (r) => {
      const { a, s, old, fresh } = r;
      await old.hello();
      let oldEnded = false;
      const first = ended(old.decide(PUSH, 'test', 1)).finally(() => (oldEnded = true));
      await until('the Decide to stop before its record', () => t.child!.output().includes('pause:decide-record'));
      const p = await asked(a, s.id);
      await fresh.hello();
      t.child!.kill('SIGUSR2');
      await until('the old Decide to wait or end', async () => oldEnded || (await a.events(s.id)).some((e) => e.message.startsWith(`waiting for approval ${p.id}`)));
      // A human approves the action; then the new runner's number 1, the same action.
      await a.decide(p.id, true);
      await onlyTheNewRunnerAllowed(first, r, p.id);
    });
  });

  it('does not keep the answer of a Decide from before a Hello for the new runner\'s same number', async function () {
    await withTwoRunners({}, async (r) => {
      const { a, s, old, fresh } = r;
      await old.hello();
      const first = ended(old.decide(PUSH, 'test', 1));
      const p = await asked(a, s.id);
      // Its record is noted before the session says it waits.
      await until('the Decide to wait', async () => (await a.events(s.id)).some((e) => e.message.startsWith(`waiting for approval ${p.id}`)));
      // A new runner says Hello (numbers start from 1) while number 1 waits; a human approves.
      await fresh.hello();
      await a.decide(p.id, true);
      // Number 1 of the new count, same action: a new Decide, which the approval (still unused) lets through once.
      await onlyTheNewRunnerAllowed(first, r, p.id);
    });
  });

  it('does not refuse the new runner\'s number 1 for another action because of an old Decide\'s late record', async function () {
    await withTwoRunners({ LOKI_TEST_PAUSE_DECIDE_RECORD: '1' }, async ({ old, fresh }) => {
      await old.hello();
      const first = ended(old.decide(PUSH, 'test', 1));
      await until('the Decide to stop before its record', () => t.child!.output().includes('pause:decide-record'));
      await fresh.hello();
      t.child!.kill('SIGUSR2');
      // The new runner's number 1 is another action (allowed by the default profile): decided, not refused as a reused number.
      assert.equal(await ended(fresh.decide({ $case: 'shell', shell: 'ls -l' }, 'test', 1)), 'allow ');
      assert.equal(await first, 'error runner_replaced');
    });
  });

  it('lets an unnumbered Decide wait on across a Hello, and the approval still allows the action once', async function () {
    await withTwoRunners({}, async ({ a, s, old, fresh }) => {
      await old.hello();
      // Unnumbered (an older runner, or the Claude hook): a Hello does not end it.
      const first = ended(old.decide(PUSH, 'test', 0));
      const p = await asked(a, s.id);
      await until('the Decide to wait', async () => (await a.events(s.id)).some((e) => e.message.startsWith(`waiting for approval ${p.id}`)));
      await fresh.hello();
      const second = ended(fresh.decide(PUSH, 'test', 1));
      await until('the new runner\'s Decide to ask too', async () => (await a.get(s.id)).decisionsAsk === 2);
      await a.decide(p.id, true);
      // Both waited on the one approval: one of them uses it, the other is told it was used.
      const answers = [await first, await second].sort();
      assert.deepEqual(answers, [`allow ${p.id}`, 'error approval_decided']);
      assert.deepEqual(trail(t.home, s.id, p.id), { decides: 1, allows: [`approval:${p.id}`] });
    });
  });
});
