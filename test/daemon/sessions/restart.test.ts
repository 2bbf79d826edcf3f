// SIGKILL the daemon mid-session and restart it: the session continues on the
// same sandbox, the runner's calls reach the new process through the re-opened
// socket, and the event replay has every acknowledged event, numbered without gaps.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { runtimePaths } from '../../../common/src/index.js';
import { SessionServiceClient, SessionState, StartSessionRequest, type Session, type SessionEvent } from '../../../proto/gen/loki/v1/sessions.js';
import { Provider } from '../../../proto/gen/loki/v1/vocab.js';
import { clientFor, collectStream, unaryCall } from '../../helpers/daemon.js';
import { git, sigkillSuite, spawnFixture, StandInRunner, until } from './helpers.js';

function events(client: SessionServiceClient, id: string, afterSeq = 0): Promise<SessionEvent[]> {
  return collectStream<SessionEvent>(client.events({ sessionId: id, afterSeq, afterGid: 0, follow: false }, new Metadata()));
}

describe('SessionManager across a daemon SIGKILL', function () {
  this.timeout(120_000);
  const t = sigkillSuite('lkr');

  it('continues the session after a restart and loses no acknowledged event', async function () {
    t.child = await spawnFixture(t.home);
    const admin = runtimePaths(t.home).adminSocket;
    let client = clientFor(SessionServiceClient, admin);
    const s = await unaryCall<StartSessionRequest, Session>(client.start.bind(client), StartSessionRequest.fromPartial({ prompt: 'build', provider: Provider.PROVIDER_SCRIPT, plan: '[{"run":"true"}]', projectPath: t.repo }));
    assert.equal(s.state, SessionState.SESSION_STATE_RUNNING);
    const runner = new StandInRunner(join(runtimePaths(t.home).runDir, 'agents', s.id, 'agent.sock'));
    try {
      await runner.hello();
      assert.equal((await runner.decide({ $case: 'shell', shell: 'ls' })).decision, 'allow');
      await runner.report([{ type: 'message', message: 'before the crash' }]);
      const before = await events(client, s.id);

      t.child.kill('SIGKILL');
      await new Promise((r) => t.child!.once('exit', r));
      client.close();
      t.child = await spawnFixture(t.home);
      client = clientFor(SessionServiceClient, admin);

      // The same runner client, the same socket path: its calls reach the new daemon.
      assert.equal((await runner.decide({ $case: 'writePath', writePath: 'after.txt' })).decision, 'allow');
      await runner.report([{ type: 'message', message: 'after the restart' }, { type: 'finished', message: 'done' }]);
      await until('completed', async () => (await unaryCall<{ id: string }, Session>(client.get.bind(client), { id: s.id })).state === SessionState.SESSION_STATE_COMPLETED, 30_000);

      const all = await events(client, s.id);
      assert.deepEqual(all.map((e) => e.seq), all.map((_, i) => i + 1), 'seq has no gaps');
      assert.deepEqual(all.slice(0, before.length), before, 'every event acknowledged before the crash is replayed unchanged');
      const types = all.map((e) => `${e.type}:${e.message}`);
      assert.ok(types.includes('message:before the crash'));
      assert.ok(types.includes('reattached:daemon restarted and re-attached to the sandbox'));
      assert.ok(types.indexOf('message:after the restart') > types.indexOf('reattached:daemon restarted and re-attached to the sandbox'));
      // Replay from a cursor returns exactly the tail.
      const tail = await events(client, s.id, before.length);
      assert.deepEqual(tail, all.slice(before.length));
      // The session was finished by the new daemon: its bring-back ran. The stand-in agent made no commit, so (git hygiene) no branch is left behind.
      assert.ok(types.some((t) => t.startsWith('diff_summary:')), 'the new daemon brought the session back');
      assert.equal(git(t.repo, 'branch', '--list', 'loki/session-*'), '');
    } finally {
      runner.close();
      client.close();
    }
  });

  it('completes a session whose runner had finished when the daemon died ending it', async function () {
    t.child = await spawnFixture(t.home, { LOKI_TEST_HANG_AFTER: 'teardown' });
    const admin = runtimePaths(t.home).adminSocket;
    let client = clientFor(SessionServiceClient, admin);
    const s = await unaryCall<StartSessionRequest, Session>(client.start.bind(client), StartSessionRequest.fromPartial({ prompt: 'build', provider: Provider.PROVIDER_SCRIPT, plan: '[{"run":"true"}]', projectPath: t.repo }));
    const runner = new StandInRunner(join(runtimePaths(t.home).runDir, 'agents', s.id, 'agent.sock'));
    try {
      await runner.hello();
      await runner.report([{ type: 'finished', message: 'done' }]);
      // The daemon is ending the session: its container is gone, the end not yet recorded.
      await until('the sandbox to be removed', () => t.child!.output().includes('hang:teardown'));
      t.child.kill('SIGKILL');
      await new Promise((r) => t.child!.once('exit', r));
      client.close();
      t.child = await spawnFixture(t.home);
      client = clientFor(SessionServiceClient, admin);
      const ended = await until('the session to end', async () => {
        const got = await unaryCall<{ id: string }, Session>(client.get.bind(client), { id: s.id });
        return got.state !== SessionState.SESSION_STATE_RUNNING && got;
      }, 30_000);
      assert.equal(ended.state, SessionState.SESSION_STATE_COMPLETED, `the runner had finished: ${ended.reason}`);
      const types = (await events(client, s.id)).map((e) => e.type);
      assert.ok(types.includes('diff_summary'), 'the session was brought back');
    } finally {
      runner.close();
      client.close();
    }
  });

  it('records an event the runner sends again after a restart once, and counts its cost once', async function () {
    t.child = await spawnFixture(t.home);
    const admin = runtimePaths(t.home).adminSocket;
    let client = clientFor(SessionServiceClient, admin);
    const s = await unaryCall<StartSessionRequest, Session>(client.start.bind(client), StartSessionRequest.fromPartial({ prompt: 'build', provider: Provider.PROVIDER_SCRIPT, plan: '[{"run":"true"}]', projectPath: t.repo }));
    const runner = new StandInRunner(join(runtimePaths(t.home).runDir, 'agents', s.id, 'agent.sock'));
    const get = () => unaryCall<{ id: string }, Session>(client.get.bind(client), { id: s.id });
    try {
      await runner.hello();
      const batch = [
        { type: 'usage', message: 'model call', inputTokens: 1000, outputTokens: 100, costUsd: 0.5, runnerSeq: 1 },
        { type: 'message', message: 'numbered', runnerSeq: 2 },
        { type: 'message', message: 'unnumbered' },
      ];
      // The daemon records the batch, then dies before its answer reaches the runner …
      await runner.report(batch);
      t.child.kill('SIGKILL');
      await new Promise((r) => t.child!.once('exit', r));
      client.close();
      t.child = await spawnFixture(t.home);
      client = clientFor(SessionServiceClient, admin);
      // … so the runner sends the same batch again, then goes on numbering.
      await runner.report(batch);
      await runner.report([{ type: 'message', message: 'next', runnerSeq: 3 }]);

      const said = (await events(client, s.id)).map((e) => `${e.type}:${e.message}`);
      assert.equal(said.filter((t) => t === 'usage:model call').length, 1, said.join('\n'));
      assert.equal(said.filter((t) => t === 'message:numbered').length, 1);
      assert.equal(said.filter((t) => t === 'message:next').length, 1);
      // An event without a number (an older runner's) is recorded each time it is sent, as before.
      assert.equal(said.filter((t) => t === 'message:unnumbered').length, 2);
      const after = await get();
      assert.equal(after.costUsd, 0.5, 'the cost is counted once');
      assert.equal(after.inputTokens, 1000);

      // A new runner (hello) numbers from 1 again: its first event is recorded.
      await runner.hello();
      await runner.report([{ type: 'message', message: 'a new runner', runnerSeq: 1 }]);
      assert.ok((await events(client, s.id)).some((e) => e.message === 'a new runner'));
    } finally {
      runner.close();
      client.close();
    }
  });
});
