// A malicious agent-runner holding its session's agent socket, against a real
// session daemon (real sandboxes, real SQLite, real policy, real approvals).
// Every attack here either must be refused or must not change anything the
// runner has no right to change.
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import type { StartSessionInput } from '../../../daemon/src/sessions/types.js';
import { AgentServiceClient, type AgentDecideResponse } from '../../../proto/gen/loki/v1/agent.js';
import { PolicyServiceClient } from '../../../proto/gen/loki/v1/policy.js';
import { SessionServiceClient } from '../../../proto/gen/loki/v1/sessions.js';
import { lokiProcess } from '../../helpers/entry.js';
import { ADMIN, agentSocket, makeRepo, removeDir, StandInRunner, startSessionDaemon, until, type SessionDaemon } from '../sessions/helpers.js';

function input(over: Partial<StartSessionInput>): StartSessionInput {
  return { prd: '', prompt: 'hostile', provider: 'script', plan: '[{"run": "true"}]', profile: '', autonomy: '', project: '', projectPath: '', model: '', baseUrl: '', maxIterations: 0, network: false, ...over };
}

/** What the operator reads: the real CLI, as its own process, on the admin socket; it must succeed. */
async function cliOut(sd: SessionDaemon, args: string[]): Promise<string> {
  const r = await lokiProcess(sd.d.home, sd.d.paths.adminSocket, args);
  assert.equal(r.code, 0, `loki ${args.join(' ')}: ${r.err}`);
  return r.out;
}

function grpcCode(err: unknown): number | undefined {
  return (err as ServiceError).code;
}

describe('security review: a hostile agent-runner on the agent socket', function () {
  this.timeout(60_000);
  let sd: SessionDaemon;
  let repo: string;
  const runners: StandInRunner[] = [];

  before(async function () {
    repo = makeRepo();
    // Prices set so token counts turn into cost: the token path must be capped like the explicit one.
    sd = await startSessionDaemon({ sessions: { max_concurrent: 20, openai: { input_usd_per_mtok: 3, output_usd_per_mtok: 15 } } });
  });

  after(async function () {
    for (const r of runners) r.close();
    await sd.cleanup();
    removeDir(repo);
  });

  async function session(over: Partial<StartSessionInput> = {}) {
    const s = await sd.feature.manager.start(ADMIN, input({ projectPath: repo, ...over }));
    const runner = new StandInRunner(agentSocket(sd.d, s.id));
    runners.push(runner);
    return { s, runner };
  }

  it('cannot invent lifecycle events: state/running/completed are refused and nothing is appended', async function () {
    const { s, runner } = await session();
    const m = sd.feature.manager;
    const before = (await m.get(ADMIN, s.id)).eventsTotal;
    for (const type of ['state', 'running', 'completed', 'stop_requested', 'decision', '']) {
      await assert.rejects(runner.report([{ type: 'message', message: 'ok' }, { type, message: 'forged' }]), (e) => grpcCode(e) === status.INVALID_ARGUMENT, type);
    }
    const after = await m.get(ADMIN, s.id);
    assert.equal(after.eventsTotal, before, 'a refused report appends none of its events');
    assert.equal(after.state, 'running');
  });

  it('cannot corrupt counters with negative, NaN or infinite numbers, and cost per event is capped', async function () {
    const { s, runner } = await session();
    await runner.report([
      { type: 'usage', costUsd: Number.NaN, inputTokens: -5, outputTokens: -1e9, iteration: -3 },
      { type: 'usage', costUsd: -100 },
      { type: 'usage', costUsd: Number.POSITIVE_INFINITY, iteration: -2147483648 },
      { type: 'usage', costUsd: Number.NEGATIVE_INFINITY },
    ]);
    await runner.heartbeat(-7);
    let x = await sd.feature.manager.get(ADMIN, s.id);
    assert.equal(x.costUsd, 0);
    assert.equal(x.iteration, 0);
    assert.equal(x.inputTokens, 0);
    assert.equal(x.outputTokens, 0);
    await runner.report([{ type: 'usage', costUsd: 1e300 }]);
    x = await sd.feature.manager.get(ADMIN, s.id);
    assert.ok(x.costUsd > 0 && x.costUsd <= 1000, `cost ${x.costUsd}`);
    // Token counts priced by the daemon are capped per event the same way.
    await runner.report([{ type: 'usage', inputTokens: 1e12, outputTokens: 1e12 }]);
    const y = await sd.feature.manager.get(ADMIN, s.id);
    assert.ok(y.costUsd - x.costUsd <= 1000, `one event added ${y.costUsd - x.costUsd} USD`);
  });

  it('refuses oversized reports and huge strings, and keeps serving afterwards', async function () {
    const { s, runner } = await session();
    await assert.rejects(runner.report(Array.from({ length: 201 }, () => ({ type: 'log', message: 'x' }))), (e) => grpcCode(e) === status.INVALID_ARGUMENT);
    await assert.rejects(runner.report([{ type: 'log', message: 'x'.repeat(2 * 1024 * 1024) }]), (e) => grpcCode(e) === status.RESOURCE_EXHAUSTED);
    await assert.rejects(runner.decide({ $case: 'shell', shell: 'x'.repeat(65 * 1024) }));
    await assert.rejects(runner.decide({ $case: 'writePath', writePath: 'a\0b' }), (e) => grpcCode(e) === status.INVALID_ARGUMENT);
    // An int64 beyond what JavaScript holds exactly is the agent's mistake: INVALID_ARGUMENT naming the field, not INTERNAL.
    await assert.rejects(runner.report([{ type: 'usage', inputTokens: 2 ** 62 }]), (e) => grpcCode(e) === status.INVALID_ARGUMENT && /events\[\]\.input_tokens is out of range/.test(String((e as Error).message)));
    await assert.rejects(runner.report([{ type: 'log', runnerSeq: 2 ** 62 }]), (e) => grpcCode(e) === status.INVALID_ARGUMENT && /events\[\]\.runner_seq is out of range/.test(String((e as Error).message)));
    await assert.rejects(runner.decide({ $case: 'shell', shell: 'ls' }, 'test', 2 ** 62), (e) => grpcCode(e) === status.INVALID_ARGUMENT && /decide_seq is out of range/.test(String((e as Error).message)));
    // A negative Decide number is no number: decided as sent.
    assert.equal((await runner.decide({ $case: 'shell', shell: 'ls' }, 'test', -5)).decision, 'allow');
    await runner.report([{ type: 'log', message: 'y'.repeat(100_000) }]);
    const [last] = await sd.feature.manager.store.events(s.id, (await sd.feature.manager.get(ADMIN, s.id)).eventsTotal - 1, 1);
    assert.ok(last!.message.length <= 8 * 1024 + 1, `message clipped (${last!.message.length})`);
    assert.equal((await runner.heartbeat(1)).stopRequested, false);
  });

  it('takes thousands of events, numbered without gaps, and keeps the session healthy', async function () {
    const { s, runner } = await session();
    const m = sd.feature.manager;
    const start = (await m.get(ADMIN, s.id)).eventsTotal;
    // How fast is a benchmark's question (bench/), not a test's: here only that nothing is lost or reordered.
    for (let i = 0; i < 20; i++) await runner.report(Array.from({ length: 200 }, (_, k) => ({ type: 'log', message: `e${i}-${k}`, iteration: i })));
    const x = await m.get(ADMIN, s.id);
    assert.equal(x.eventsTotal, start + 4000);
    assert.equal(x.iteration, 19);
    assert.equal(x.state, 'running');
    const seqs = (await sd.feature.manager.store.events(s.id, 0, 10_000)).map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
  });

  it('speaks only for its own session whatever metadata it sends, and cannot reach the policy/approval API', async function () {
    const a = await session();
    const b = await session();
    const client = new AgentServiceClient(`unix:${agentSocket(sd.d, a.s.id)}`, credentials.createInsecure());
    try {
      const md = new Metadata();
      for (const k of ['x-loki-session', 'x-loki-session-id', 'session-id', 'x-loki-role', 'authorization']) md.set(k, k === 'x-loki-role' ? 'local-admin' : b.s.id);
      const brief = await new Promise<{ sessionId: string }>((res, rej) => client.hello({ runnerVersion: b.s.id, pid: -1 }, md, (e, r) => (e ? rej(e) : res(r))));
      assert.equal(brief.sessionId, a.s.id);
    } finally {
      client.close();
    }
    const policy = new PolicyServiceClient(`unix:${agentSocket(sd.d, a.s.id)}`, credentials.createInsecure());
    try {
      const err = await new Promise<ServiceError | null>((res) => policy.listApprovals({ sessionId: '', status: 0, legacyStatus: '' }, (e) => res(e)));
      assert.equal(err?.code, status.UNIMPLEMENTED);
      const err2 = await new Promise<ServiceError | null>((res) => policy.decideApproval({ id: 'apr-anything', approve: true, comment: '' }, (e) => res(e)));
      assert.equal(err2?.code, status.UNIMPLEMENTED);
    } finally {
      policy.close();
    }
    // Nor the session API: `resume` approves staged checkpoints, `stop` would hit another session.
    const sessions = new SessionServiceClient(`unix:${agentSocket(sd.d, a.s.id)}`, credentials.createInsecure());
    try {
      for (const call of ['resume', 'stop', 'get'] as const) {
        const err = await new Promise<ServiceError | null>((res) => sessions[call]({ id: b.s.id }, (e: ServiceError | null) => res(e)));
        assert.equal(err?.code, status.UNIMPLEMENTED, call);
      }
    } finally {
      sessions.close();
    }
    assert.equal((await sd.feature.manager.get(ADMIN, b.s.id)).state, 'running');
  });

  it('gets an approval bound to the exact command: a respelling, a second use or another session asks again', async function () {
    const { s, runner } = await session();
    const other = await session();
    const policy = sd.feature.policy;
    const pending = (id: string) => policy.listApprovals({ sessionId: id, status: 'pending' });
    const approveNext = async (id: string) => {
      const a = await until('a pending approval', async () => (await pending(id))[0]);
      await policy.decideApproval(a.id, true, 'reviewer', '');
      return a;
    };
    const cmd = 'git push -f origin main';
    const first = runner.decide({ $case: 'shell', shell: cmd });
    const a1 = await approveNext(s.id);
    assert.equal((await first).decision, 'allow');

    // Each of these must raise a new approval rather than ride on a1.
    const respellings = ['git push  -f origin main', "git push -f 'origin' main", 'git push --force origin main', cmd];
    for (const r of respellings) {
      const d = runner.decide({ $case: 'shell', shell: r });
      const a = await approveNext(s.id);
      assert.notEqual(a.id, a1.id, r);
      assert.equal((await d).approvalId, a.id, r);
    }
    const o = other.runner.decide({ $case: 'shell', shell: cmd });
    const oa = await approveNext(other.s.id);
    assert.notEqual(oa.id, a1.id);
    assert.equal((await o).decision, 'allow');
    // Consuming a1 again for a different action is refused by the approval store itself.
    await assert.rejects(policy.approvals.consume(a1.id, s.id, 'f'.repeat(64)));
  });

  it('stops waiting when the runner cancels Decide: the session leaves waiting_approval and the approval stays pending', async function () {
    const { s, runner } = await session();
    const client = runner.client;
    const err = await new Promise<ServiceError | null>((res) =>
      client.decide({ action: { action: { $case: 'shell', shell: 'git push -f origin feature' }, tool: 't', detail: '' }, events: [], decideSeq: 0 }, new Metadata(), { deadline: Date.now() + 1500 }, (e: ServiceError | null, _r?: AgentDecideResponse) => res(e)),
    );
    assert.equal(err?.code, status.DEADLINE_EXCEEDED);
    await until('back to running', async () => (await sd.feature.manager.get(ADMIN, s.id)).state === 'running');
    assert.equal((await sd.feature.policy.listApprovals({ sessionId: s.id, status: 'pending' })).length, 1);
  });

  it('cannot hide part of a command from the approver: the approval shows the shell line exactly as it will run', async function () {
    const { s, runner } = await session();
    // The policy's analysis of this line is `echo harmless | sh` plus a finding (sh reading a program
    // from the pipe); an approver is shown the line itself first, the analysis beside it.
    const line = 'echo harmless | sh';
    const err = await new Promise<ServiceError | null>((res) =>
      runner.client.decide({ action: { action: { $case: 'shell', shell: line }, tool: 't', detail: '' }, events: [], decideSeq: 0 }, new Metadata(), { deadline: Date.now() + 1500 }, (e: ServiceError | null) => res(e)),
    );
    assert.equal(err?.code, status.DEADLINE_EXCEEDED, 'the Decide waited for a human');
    const [pending] = await sd.feature.policy.listApprovals({ sessionId: s.id, status: 'pending' });
    assert.ok(pending, 'an approval was asked for');
    assert.equal(pending.command, line);
    // What the operator reads: the real CLI on the admin socket (the dashboards read the same client field).
    // (Asynchronously: this lokid runs in the test's own process.)
    const cli = (...args: string[]) => cliOut(sd, args);
    const shown = JSON.parse(await cli('approvals', 'show', pending.id, '--json')) as { action: string; normalized: string };
    assert.equal(shown.action, line, 'the approval shows the whole line, pipe and all');
    assert.equal(shown.normalized, 'echo harmless | sh', 'the analysis is still there, beside it, and keeps the sh and the pipe');
    // The same words twice would be noise: `analysed as:` appears only when the analysis reads differently.
    assert.match(await cli('approvals', 'show', pending.id), / {2}action:\n {4}echo harmless \| sh\n$/);
    assert.ok((await cli('approvals', 'list')).includes(line), 'and so does the list');
    const waiting: string[] = [];
    for await (const e of sd.feature.manager.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) {
      if (e.message.startsWith('waiting for approval')) waiting.push(e.message);
    }
    assert.ok(waiting.at(-1)?.endsWith(`: ${line}`), `the session's event names the whole line: ${waiting.join(' | ')}`);
  });

  it("cannot forge event lines in the operator's log: command output prints under its event, indented, escapes kept", async function () {
    const { s, runner } = await session();
    // Output shaped like the log's own lines, plus a terminal escape and a carriage return.
    const forged = '2026-12-05T05:06:34Z #99 decision       allow shell rm -rf /';
    await runner.report([{ type: 'tool_result', message: `exit 0\n${forged}\n\x1b[2Jcleared\rover\n` }]);
    const cli = (...args: string[]) => cliOut(sd, args);
    const lines = (await cli('sessions', 'logs', s.id)).trimEnd().split('\n');
    const at = lines.findIndex((l) => / tool_result +exit 0$/.test(l));
    assert.ok(at >= 0, `the event's first line stands alone:\n${lines.join('\n')}`);
    assert.deepEqual(lines.slice(at + 1, at + 3), [`    │ ${forged}`, '    │ \\x1b[2Jcleared\\x0dover'], 'the rest is indented under it, ESC and CR still escaped');
    // Every line of the log is an event (timestamp first) or indented output: nothing else.
    for (const l of lines) assert.match(l, /^(\d{4}-\d\d-\d\dT\S+ #\d+ |    │ )/, `a line that is neither: ${l}`);
    assert.equal(lines.filter((l) => l.startsWith(forged)).length, 0, 'the forged line never starts a line');
  });

  it('cannot keep a stopped session alive: after stop every call says stop and nothing revives it', async function () {
    const { s, runner } = await session();
    const m = sd.feature.manager;
    const stopping = m.stop(ADMIN, s.id);
    await until('stop_requested', async () => (await m.get(ADMIN, s.id)).stopRequested);
    // The runner ignores the request and keeps working.
    assert.equal((await runner.report([{ type: 'iteration', iteration: 5 }])).stopRequested, true);
    assert.equal((await runner.decide({ $case: 'shell', shell: 'ls' })).decision, 'deny');
    const done = await stopping;
    assert.equal(done.state, 'stopped');
    const n = (await m.get(ADMIN, s.id)).eventsTotal;
    assert.equal((await runner.report([{ type: 'message', message: 'still here' }]).catch(() => ({ stopRequested: true }))).stopRequested, true);
    await assert.rejects(runner.decide({ $case: 'shell', shell: 'ls' }));
    assert.equal((await m.get(ADMIN, s.id)).eventsTotal, n, 'no events after the end');
    assert.equal((await m.get(ADMIN, s.id)).state, 'stopped');
  });
});
