// SessionManager with real sandboxes, real git, real policy and a real agent
// socket (a stand-in runner speaks the AgentService protocol on it).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../../cli/src/program.js';
import type { StartSessionInput } from '../../../daemon/src/sessions/types.js';
import { ADMIN, agentSocket, execIn, gatewayCaller, git, makeRepo, removeDir, StandInRunner, startSessionDaemon, until, type SessionDaemon } from './helpers.js';
import { captureOutput } from '../../helpers/capture.js';

function input(over: Partial<StartSessionInput>): StartSessionInput {
  return { prd: '', prompt: '', provider: 'script', plan: '[{"run": "true"}]', profile: '', autonomy: '', project: '', projectPath: '', model: '', baseUrl: '', maxIterations: 0, network: false, ...over };
}

async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; out: string }> {
  const r = await captureOutput(fn);
  return { value: r.value, out: r.out };
}

describe('SessionManager', function () {
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

  it('runs a script session through writes, a denied command, an approval granted with the CLI and a commit, and brings the branch back', async function () {
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input({ prd: 'docs/prd.md', projectPath: repo, autonomy: 'checkpoint' }));
    assert.equal(s.state, 'running');
    assert.match(s.branch, /^loki\/session-\d+-\d+-[0-9a-f]{8}$/);
    const runner = new StandInRunner(agentSocket(sd.d, s.id));
    try {
      const brief = await runner.hello();
      assert.equal(brief.sessionId, s.id);
      assert.match(brief.prompt, /Build a hello world/);
      assert.equal(brief.autonomyMode, 'checkpoint');

      assert.equal((await runner.decide({ $case: 'writePath', writePath: 'hello.txt' })).decision, 'allow');
      assert.equal((await execIn(sd.driver, s.sandboxId, 'echo hello > hello.txt')).code, 0);
      assert.equal((await runner.decide({ $case: 'shell', shell: 'cat hello.txt' })).decision, 'allow');

      const denied = await runner.decide({ $case: 'shell', shell: 'rm -rf /' });
      assert.equal(denied.decision, 'deny');
      assert.match(denied.reason, /\S/);
      assert.match(denied.rule, /^builtin:/);

      // checkpoint mode asks at a phase boundary: the session waits (not a stall) until a human decides.
      const asked = runner.decide({ $case: 'phase', phase: 'review' });
      await until('waiting_approval', async () => (await m.get(ADMIN, s.id)).state === 'waiting_approval');
      const [approval] = await sd.feature.policy.listApprovals({ sessionId: s.id, status: 'pending' });
      assert.ok(approval, 'a pending approval exists');
      const { value: code } = await quietly(() => runCli(['--socket', sd.d.paths.adminSocket, 'approvals', 'approve', approval.id]));
      assert.equal(code, 0);
      const granted = await asked;
      assert.equal(granted.decision, 'allow');
      assert.equal(granted.approvalId, approval.id);
      assert.equal((await m.get(ADMIN, s.id)).state, 'running');

      assert.equal((await runner.decide({ $case: 'commitMessage', commitMessage: 'add hello' })).decision, 'allow');
      assert.equal((await execIn(sd.driver, s.sandboxId, 'git add hello.txt && git commit -q -m "add hello"')).code, 0);

      await runner.report([
        { type: 'task', taskId: 't1', taskStatus: 'in_progress', agent: 'development' },
        { type: 'task', message: 'write hello', taskId: 't1', taskStatus: 'completed', agent: 'development' },
        { type: 'usage', inputTokens: 1000, outputTokens: 200, costUsd: 0.25, iteration: 3 },
        { type: 'finished', message: 'done' },
      ]);
    } finally {
      runner.close();
    }
    const done = await until('completed', async () => {
      const x = await m.get(ADMIN, s.id);
      return x.state === 'completed' ? x : undefined;
    }, 30_000);

    // The session branch is back in the project repository with the agent's commit.
    assert.equal(git(repo, 'log', '-1', '--format=%s', s.branch).trim(), 'add hello');
    assert.equal(git(repo, 'show', `${s.branch}:hello.txt`), 'hello\n');

    // Every event is numbered without gaps; the transitions are in order.
    const events: { seq: number; type: string; message: string; data: Record<string, unknown> }[] = [];
    for await (const e of m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) events.push(e);
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
    // A task event without text says which task and what status (the script runner sends none).
    assert.deepEqual(events.filter((e) => e.type === 'task').map((e) => e.message), ['t1 in_progress', 'write hello']);
    const states = events.filter((e) => e.type === 'state').map((e) => e.data.state);
    assert.deepEqual(states, ['pending', 'starting', 'running', 'waiting_approval', 'running', 'completed']);
    assert.ok(events.some((e) => e.type === 'diff_summary' && e.data.commits === 1));

    // The agent trail holds every action in the order the daemon saw it.
    const trail = sd.feature.trail.read(s.id).map((e) => `${e.action}:${String(e.details.decision ?? '')}`);
    const actions = trail.filter((a) => a.startsWith('agent_'));
    assert.deepEqual(actions, ['agent_write:allow', 'agent_shell:allow', 'agent_shell:deny', 'agent_phase:allow', 'agent_commit:allow']);
    assert.ok(trail.indexOf('branch_bring_back:') > trail.indexOf('agent_commit:allow'));

    // Counters and metrics reflect it.
    assert.equal(done.iteration, 3);
    assert.equal(done.costUsd, 0.25);
    assert.equal(done.tasks.completed, 1);
    assert.equal(done.agentsTotal, 1);
    // The engine's decisions: the phase counts once, as the ask it was.
    assert.deepEqual(done.decisions, { allow: 3, deny: 1, ask: 1 });
    const mx = await m.metrics(ADMIN);
    assert.equal(mx.active, 0);
    assert.equal(mx.createdTotal, 1);
    assert.equal(mx.approvalsPending, 0);
    assert.ok(mx.sessions.some((x) => x.id === s.id && x.state === 'completed'));

    // The audit log has the session start and stop.
    const audit = readFileSync(join(sd.d.home, 'dashboard', 'audit', readAuditFile(sd.d.home)), 'utf8');
    assert.match(audit, /"action":"session.start"/);
    assert.match(audit, /"action":"task.create"/);
    assert.match(audit, /"action":"session.stop"/);
  });

  it('pause freezes the container and resume continues it', async function () {
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input({ prompt: 'count', projectPath: repo }));
    const counter = join(s.workspace, '.loki-counter');
    const read = () => Number(readFileSync(counter, 'utf8').trim() || 0);
    await until('the counter to advance', () => {
      try {
        return read() > 3;
      } catch {
        return false;
      }
    });
    assert.equal((await m.pause(ADMIN, s.id)).state, 'paused');
    const frozen = read();
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(read(), frozen, 'the counter did not move while paused');
    assert.equal((await sd.driver.get(s.sandboxId))!.state, 'paused');
    assert.equal((await m.resume(ADMIN, s.id)).state, 'running');
    await until('the counter to advance again', () => read() > frozen + 2);
    await assert.rejects(m.resume(ADMIN, s.id), { code: 'session_not_active' });
  });

  it('a stop that lands while a pause is freezing the container wins: the pause is refused and the sandbox thawed', async function () {
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input({ prompt: 'count', projectPath: repo }));
    const driver = sd.driver;
    const freeze = driver.pause.bind(driver);
    let stopping: Promise<unknown> | undefined;
    // The stop arrives after pause() read the session as running and before its freeze is recorded.
    driver.pause = async (id: string) => {
      stopping = m.stop(ADMIN, s.id);
      await until('stop_requested', async () => (await m.get(ADMIN, s.id)).stopRequested);
      return freeze(id);
    };
    try {
      await assert.rejects(m.pause(ADMIN, s.id), { code: 'session_not_active', message: /stop/ });
      assert.equal((await driver.get(s.sandboxId))?.state, 'running', 'the runner is not left frozen where it cannot hear the stop');
      assert.equal(((await stopping) as { state: string }).state, 'stopped');
    } finally {
      driver.pause = freeze;
    }
    await assert.rejects(m.pause(ADMIN, s.id), { code: 'session_not_active' });
  });

  it('stops a session after the grace period, reporting stop_requested to the runner first', async function () {
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input({ prompt: 'loop', projectPath: repo }));
    const runner = new StandInRunner(agentSocket(sd.d, s.id));
    try {
      const stopping = m.stop(ADMIN, s.id);
      await until('stop_requested', async () => (await m.get(ADMIN, s.id)).stopRequested);
      assert.equal((await runner.heartbeat(1)).stopRequested, true);
      const denied = await runner.decide({ $case: 'shell', shell: 'ls' });
      assert.equal(denied.decision, 'deny');
      const after = await stopping;
      assert.equal(after.state, 'stopped');
      assert.equal(await sd.driver.get(s.sandboxId), undefined, 'the container is gone');
    } finally {
      runner.close();
    }
  });

  it('marks a session failed when its container exits without the runner finishing', async function () {
    await sd.cleanup();
    sd = await startSessionDaemon({ sessions: { runner_command: ['/bin/sh', '-c', 'echo boom >&2; exit 3'] } });
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input({ prompt: 'x', projectPath: repo }));
    const failed = await until('failed', async () => {
      const x = await m.get(ADMIN, s.id);
      return x.state === 'failed' ? x : undefined;
    });
    assert.match(failed.reason, /exited with code 3/);
  });

  it("says why in the failed session's reason when the runner reported an error before its container exited", async function () {
    await sd.cleanup();
    // The container lives 4 s; meanwhile the runner (a stand-in on the agent socket) reports its failure.
    sd = await startSessionDaemon({ sessions: { runner_command: ['/bin/sh', '-c', 'sleep 4; exit 1'] } });
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input({ prompt: 'x', projectPath: repo }));
    const runner = new StandInRunner(agentSocket(sd.d, s.id));
    try {
      await runner.report([{ type: 'error', message: `model request failed: HTTP 401 invalid key\x1b[2J\nsecond line ${'y'.repeat(400)}` }]);
    } finally {
      runner.close();
    }
    const failed = await until('failed', async () => {
      const x = await m.get(ADMIN, s.id);
      return x.state === 'failed' ? x : undefined;
    }, 20_000);
    // One line, the escape replaced (the audit log would refuse a control character), nothing of the second line.
    assert.equal(failed.reason, 'the runner failed: model request failed: HTTP 401 invalid key\ufffd[2J');
  });

  it('emits a stall event when a running session is quiet, but not while it waits for approval', async function () {
    await sd.cleanup();
    sd = await startSessionDaemon({ sessions: { stall_seconds: 1 } });
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input({ prompt: 'x', projectPath: repo, autonomy: 'supervised' }));
    const stalls = () => collect(m, s.id).then((e) => e.filter((x) => x.type === 'stall').length);
    await until('a stall event', async () => (await stalls()) === 1, 10_000);
    const runner = new StandInRunner(agentSocket(sd.d, s.id));
    try {
      const asked = runner.decide({ $case: 'shell', shell: 'ls' });
      await until('waiting_approval', async () => (await m.get(ADMIN, s.id)).state === 'waiting_approval');
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(await stalls(), 1, 'no new stall while waiting for a human');
      await m.resume(ADMIN, s.id); // staged autonomy: resume approves the pending checkpoint, like Loki Mode
      assert.equal((await asked).decision, 'allow');
    } finally {
      runner.close();
    }
  });

  it('does not call a session stalled that was paused while the supervisor was asking Docker about it', async function () {
    await sd.cleanup();
    sd = await startSessionDaemon({ sessions: { stall_seconds: 1 } });
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input({ prompt: 'x', projectPath: repo }));
    const driver = sd.driver;
    const read = driver.get.bind(driver);
    let armed = true;
    // The first look at the sandbox after the session went quiet: it is paused while Docker answers.
    driver.get = async (id: string) => {
      const info = await read(id);
      // The first look after the session went quiet past stall_seconds: the tick that would report a stall.
      if (armed && id === s.sandboxId && Date.now() - (await m.get(ADMIN, s.id)).lastEventAtMs > 1000) {
        armed = false;
        await m.pause(ADMIN, s.id);
      }
      return info;
    };
    try {
      await until('the pause inside the supervisor\'s look', async () => !armed && (await m.get(ADMIN, s.id)).state === 'paused', 10_000);
      await new Promise((r) => setTimeout(r, 1500));
      const events = await collect(m, s.id);
      const paused = events.findIndex((x) => x.type === 'state' && x.data.state === 'paused');
      assert.ok(paused > 0);
      assert.deepEqual(events.slice(paused).filter((x) => x.type === 'stall'), [], 'a session paused before the check is never a stall');
    } finally {
      driver.get = read;
    }
  });

  it('lets only the owner or a * holder see and control a session from the gateway, and start one only on a project it may see', async function () {
    const m = sd.feature.manager;
    const alice = gatewayCaller('token:alice', ['control']);
    const bob = gatewayCaller('token:bob', ['control']);
    const admin = gatewayCaller('token:root', ['*']);
    // Alice's project: bob cannot even name it (the same answer as a missing project), so he cannot start on it.
    const project = (await sd.feature.projects.register(repo, { registeredBy: 'token:alice' })).id;
    await assert.rejects(m.start(bob, input({ prompt: 'x', project })), (err: Error & { code?: string }) => err.code === 'project_not_found' && err.message === `no project "${project}"; register it with \`loki projects register PATH\``);
    await assert.rejects(m.start(bob, input({ prompt: 'x' })), (err: Error & { code?: string }) => err.code === 'invalid_argument' && /no project is registered/.test(err.message), 'no project to default to either');
    const s = await m.start(alice, input({ prompt: 'x', project }));
    assert.equal(s.owner, 'token:alice');
    assert.equal((await m.get(alice, s.id)).id, s.id);
    await assert.rejects(m.get(bob, s.id), { code: 'session_not_found' });
    await assert.rejects(m.pause(bob, s.id), { code: 'session_not_found' });
    assert.deepEqual(await m.list(bob, true), []);
    assert.equal((await m.get(admin, s.id)).id, s.id);
    await assert.rejects(m.get(gatewayCaller('token:alice', ['read']), s.id, 'control'), { code: 'permission_denied' });
  });

  it('rejects bad start requests with specific messages', async function () {
    const m = sd.feature.manager;
    const bad = async (over: Partial<StartSessionInput>, code: string, msg: RegExp) => assert.rejects(m.start(ADMIN, input({ projectPath: repo, ...over })), (err: Error & { code?: string }) => err.code === code && msg.test(err.message));
    await bad({ prd: 'missing.md' }, 'invalid_argument', /PRD file missing\.md does not exist/);
    await bad({}, 'invalid_argument', /a PRD path \(prd\) or an inline prompt is required/);
    await bad({ prompt: 'x', provider: 'gpt' }, 'invalid_argument', /unknown provider "gpt" \(known: script, openai, claude\)/);
    await bad({ prompt: 'x', profile: 'nope' }, 'invalid_argument', /unknown policy profile "nope"/);
    await bad({ prompt: 'x', autonomy: 'yolo' }, 'invalid_argument', /unknown autonomy mode "yolo"/);
    await bad({ prompt: 'x', plan: '' }, 'invalid_argument', /script provider needs a plan/);
    await bad({ prompt: 'x', plan: '{"steps": 3}' }, 'invalid_argument', /must be a list of steps/);
    // Every step is checked at start, with the runner's rules: a plan that cannot run creates nothing.
    const before = (await m.list(ADMIN, true)).length;
    await bad({ prompt: 'x', plan: '- run: "true"\n- write:\n    path: notes.md\n    content: x\n' }, 'invalid_argument', /the plan cannot run: step 2: "write" needs the path as a string/);
    await bad({ prompt: 'x', plan: '[{"run": "true", "commit": "both"}]' }, 'invalid_argument', /step 1 must have exactly one of run, write/);
    await bad({ prompt: 'x', plan: '[{"sleep": -1}]' }, 'invalid_argument', /step 1: "sleep" needs a number of milliseconds/);
    await bad({ prompt: 'x', plan: '[{"run": "true", "tags": ["a"]}]' }, 'invalid_argument', /"tags" belongs to a learn step/);
    await bad({ prompt: 'x', plan: '[{"write": "a.txt", "content": 3}]' }, 'invalid_argument', /"content" belongs to a write step and is a string/);
    assert.equal((await m.list(ADMIN, true)).length, before, 'no session was created for a refused plan');
    await bad({ prompt: 'x', provider: 'openai', plan: '' }, 'invalid_argument', /needs a model upstream: configure sessions.openai.base_url or sessions.openai.upstreams/);
    const remote = gatewayCaller('token:alice', ['control']);
    // A project of alice's own (the one above belongs to the local admin, whom she cannot see).
    const aliceRepo = makeRepo();
    await sd.feature.projects.register(aliceRepo, { name: 'alice-proj', registeredBy: 'token:alice' });
    // A remote caller cannot tell an existing host file from a missing one.
    const refusal = async (prd: string) => {
      try {
        await m.start(remote, input({ prd }));
      } catch (err) {
        return (err as Error).message.replace(prd, '<prd>');
      }
      throw new Error(`${prd} was accepted`);
    };
    assert.match(await refusal('/etc/passwd'), /outside the project/);
    assert.equal(await refusal('/etc/passwd'), await refusal('/etc/no-such-file-here'));
    assert.equal(await refusal('/etc/passwd'), await refusal('missing-prd-inside.md'));
    assert.deepEqual(await m.list(ADMIN, true), [], 'no session was created by a bad request');
    removeDir(aliceRepo);
  });
});

async function collect(m: SessionDaemon['feature']['manager'], id: string) {
  const out: { type: string; data: Record<string, unknown> }[] = [];
  for await (const e of m.events(ADMIN, { sessionId: id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) out.push(e);
  return out;
}

function readAuditFile(home: string): string {
  return readdirSync(join(home, 'dashboard', 'audit')).filter((f) => f.endsWith('.jsonl')).sort().pop()!;
}
