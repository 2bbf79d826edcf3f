import assert from 'node:assert/strict';
import { Metadata, status } from '@grpc/grpc-js';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { createAgentChannels } from '../../../daemon/src/agent/index.js';
import { DockerSandboxDriver } from '../../../daemon/src/sandbox/docker-driver.js';
import type { AgentChannels } from '../../../daemon/src/agent/types.js';
import { AgentServiceClient, type AgentEvent } from '../../../proto/gen/loki/v1/agent.js';
import { clientFor, errorCode, quietLogger, unaryCall } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';
import { allow, recordingHooks, scriptBrief, type RecordingHooks } from './hooks.js';
import { PolicyDecision } from '../../../proto/gen/loki/v1/policy.js';
import { Provider, TaskStatus } from '../../../proto/gen/loki/v1/vocab.js';

function event(type: string, message = ''): AgentEvent {
  return { type, message, dataJson: '', iteration: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, taskId: '', taskStatus: 0, legacyTaskStatus: '', agent: '', runnerSeq: 0 };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The Docker driver carries a channel into its container as a bind mount (it needs no engine to say so). */
const carrier = new DockerSandboxDriver({ socketPath: '/var/run/docker.sock', instance: 'agent-channels-test' });

describe('AgentChannels', () => {
  let runDir: string;
  let hooks: RecordingHooks;
  let channels: AgentChannels;
  const clients: AgentServiceClient[] = [];

  function connect(sessionId: string): AgentServiceClient {
    const c = clientFor(AgentServiceClient, join(runDir, 'agents', sessionId, 'agent.sock'));
    clients.push(c);
    return c;
  }

  beforeEach(() => {
    runDir = shortTempDir('lka');
    hooks = recordingHooks((id) => scriptBrief(id, [{ run: 'true' }]));
    channels = createAgentChannels({ runDir, hooks, log: quietLogger(), carrier });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await channels.closeAll();
    rmSync(runDir, { recursive: true, force: true });
  });

  it('opens a per-session socket directory whose mount is /run/loki-agent and answers Hello with the brief', async () => {
    const ch = await channels.open('s1');
    assert.equal(ch.hostDir, join(runDir, 'agents', 's1'));
    assert.deepEqual(ch.transport, { dirInSandbox: '/run/loki-agent', mounts: [{ hostPath: ch.hostDir, containerPath: '/run/loki-agent', readOnly: false }] });
    assert.equal(ch.socketInSandbox, '/run/loki-agent/agent.sock');
    // Traverse-only parent, private session dir and socket: nothing depends on the run dir's mode.
    assert.equal(statSync(join(runDir, 'agents')).mode & 0o777, 0o711);
    assert.equal(statSync(ch.hostDir).mode & 0o777, 0o700);
    assert.equal(statSync(join(ch.hostDir, 'agent.sock')).mode & 0o777, 0o600);
    const c = connect('s1');
    const brief = await unaryCall(c.hello.bind(c), { runnerVersion: '9.9', pid: 42 });
    assert.equal(brief.sessionId, 's1');
    assert.equal(brief.provider, Provider.PROVIDER_SCRIPT);
    assert.equal(brief.legacyProvider, 'script', 'a runner started before the enums reads the same provider');
    assert.ok(!('apiKey' in brief), 'the brief has no key field at all');
    assert.deepEqual(hooks.hellos, [{ sessionId: 's1', version: '9.9', pid: 42 }]);
  });

  it('hands the hooks only the socket’s session id, whatever the runner sends', async () => {
    await channels.open('s1');
    await channels.open('s2');
    const c = connect('s1');
    // The API has no session field; forged metadata must not matter either.
    const md = new Metadata();
    md.set('x-loki-subject', 'admin');
    md.set('x-loki-session', 's2');
    await unaryCall(c.report.bind(c), { events: [event('log', 'hi')] }, md);
    await unaryCall(c.heartbeat.bind(c), { iteration: 3 }, md);
    await unaryCall(c.decide.bind(c), { action: { action: { $case: 'shell', shell: 'ls' }, tool: 'shell', detail: '' }, events: [], decideSeq: 0 }, md);
    assert.deepEqual(hooks.events.map((e) => e.sessionId), ['s1']);
    assert.deepEqual(hooks.heartbeats, [{ sessionId: 's1', iteration: 3 }]);
    assert.deepEqual(hooks.decisions.map((d) => [d.sessionId, d.req.action]), [['s1', { kind: 'shell', command: 'ls' }]]);
  });

  it('blocks Decide until the hook decides, and aborts the hook when the runner cancels', async () => {
    await channels.open('s1');
    const c = connect('s1');
    const first = unaryCall(c.decide.bind(c), { action: { action: { $case: 'shell', shell: 'ask deploy' }, tool: 'shell', detail: '' }, events: [], decideSeq: 0 });
    await until(() => hooks.held.length === 1);
    let settled = false;
    void first.finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(settled, false, 'Decide returned before the decision');
    hooks.held[0]!.release(allow('approved by alice'));
    const res = await first;
    assert.equal(res.decision, PolicyDecision.POLICY_DECISION_ALLOW);
    assert.equal(res.legacyDecision, 'allow', 'a runner started before the enums reads the same decision');
    assert.equal(res.reason, 'approved by alice');

    const call = c.decide({ action: { action: { $case: 'shell', shell: 'ask again' }, tool: 'shell', detail: '' }, events: [], decideSeq: 0 }, () => undefined);
    await until(() => hooks.held.length === 2);
    assert.equal(hooks.held[1]!.signal.aborted, false);
    call.cancel();
    await until(() => hooks.held[1]!.signal.aborted);
  });

  it('records the events a Decide carries before deciding it (report and ask in one round trip), and passes a stop request back', async () => {
    await channels.open('s1');
    const c = connect('s1');
    const held = unaryCall(c.decide.bind(c), { action: { action: { $case: 'shell', shell: 'ask deploy' }, tool: 'shell', detail: '' }, events: [event('iteration', 'step 1'), event('tool_call', '$ deploy')], decideSeq: 0 });
    await until(() => hooks.held.length === 1);
    // While the decision waits, its events are already recorded, in order.
    assert.deepEqual(hooks.events.map((e) => [e.sessionId, e.event.type, e.event.message]), [['s1', 'iteration', 'step 1'], ['s1', 'tool_call', '$ deploy']]);
    hooks.held[0]!.release(allow());
    assert.equal((await held).stopRequested, false);
    hooks.stop.add('s1');
    const res = await unaryCall(c.decide.bind(c), { action: { action: { $case: 'shell', shell: 'ls' }, tool: 'shell', detail: '' }, events: [event('tool_call', '$ ls')], decideSeq: 0 });
    assert.equal(res.decision, PolicyDecision.POLICY_DECISION_ALLOW);
    assert.equal(res.stopRequested, true);
    // Events over a quota are dropped (as a Report's are), and the action is still decided.
    hooks.report = () => Promise.reject(new LokiError('resource_exhausted', 'session s1 reached its quota of 1 events'));
    const over = await unaryCall(c.decide.bind(c), { action: { action: { $case: 'shell', shell: 'ls' }, tool: 'shell', detail: '' }, events: [event('log', 'one too many')], decideSeq: 0 });
    assert.equal(over.decision, PolicyDecision.POLICY_DECISION_ALLOW);
    // More events than one Report may carry are refused like that Report, before any is recorded or the action decided.
    const decided = hooks.decisions.length;
    hooks.report = () => Promise.reject(new Error('must not be called'));
    const many = Array.from({ length: 201 }, (_, i) => event('log', String(i)));
    await assert.rejects(unaryCall(c.decide.bind(c), { action: { action: { $case: 'shell', shell: 'ls' }, tool: 'shell', detail: '' }, events: many, decideSeq: 0 }), (err: { code: number }) => err.code === status.INVALID_ARGUMENT);
    assert.equal(hooks.decisions.length, decided);
  });

  it('rejects a Report with too many events as INVALID_ARGUMENT and passes nothing on', async () => {
    await channels.open('s1');
    const c = connect('s1');
    const events = Array.from({ length: 1000 }, (_, i) => event('log', `e${i}`));
    await assert.rejects(unaryCall(c.report.bind(c), { events }), (err: { code: number }) => {
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.equal(errorCode(err), 'payload_too_large');
      return true;
    });
    const big = { ...event('log'), dataJson: 'x'.repeat(40_000) };
    await assert.rejects(unaryCall(c.report.bind(c), { events: [big] }), (err: { code: number }) => err.code === status.INVALID_ARGUMENT);
    await assert.rejects(unaryCall(c.report.bind(c), { events: [event('running')] }), (err: { code: number }) => err.code === status.INVALID_ARGUMENT);
    assert.equal(hooks.events.length, 0);
  });

  it('reads a task status from the enum or, from a runner started before the enums, the string; refuses anything else by name', async () => {
    await channels.open('s1');
    const c = connect('s1');
    const task = (over: Partial<AgentEvent>): AgentEvent => ({ ...event('task'), taskId: 't1', ...over });
    await unaryCall(c.report.bind(c), { events: [task({ taskStatus: TaskStatus.TASK_STATUS_COMPLETED }), task({ legacyTaskStatus: 'in_progress' })] });
    assert.deepEqual(hooks.events.map((e) => e.event.taskStatus), ['completed', 'in_progress']);
    for (const bad of [task({ taskStatus: 99 as TaskStatus }), task({ legacyTaskStatus: 'done' })]) {
      await assert.rejects(unaryCall(c.report.bind(c), { events: [bad] }), (err: { code: number; details: string }) => err.code === status.INVALID_ARGUMENT && /task_status/.test(err.details));
    }
    assert.equal(hooks.events.length, 2, 'a refused report passes nothing on');
  });

  it("refuses a task id or agent name with a control character from a runner that skipped the plan's check", async () => {
    await channels.open('s1');
    const c = connect('s1');
    const task = (over: Partial<AgentEvent>): AgentEvent => ({ ...event('task'), taskId: 't1', taskStatus: TaskStatus.TASK_STATUS_PENDING, ...over });
    for (const [bad, field] of [[task({ taskId: 'build\u001b[8m' }), 'task_id'], [task({ agent: 'dev\u202e' }), 'agent']] as const) {
      await assert.rejects(unaryCall(c.report.bind(c), { events: [bad] }), (err: { code: number; details: string }) => err.code === status.INVALID_ARGUMENT && err.details.startsWith(`${field} contains`));
    }
    assert.equal(hooks.events.length, 0, 'a refused report passes nothing on');
  });

  it('clips long strings and refuses a Decide without an action', async () => {
    await channels.open('s1');
    const c = connect('s1');
    await unaryCall(c.report.bind(c), { events: [{ ...event('log', 'm'.repeat(20_000)), agent: 'a'.repeat(500), inputTokens: -5 }] });
    const e = hooks.events[0]!.event;
    assert.ok(e.message.length <= 8 * 1024);
    assert.ok(e.agent.length <= 64);
    assert.equal(e.inputTokens, 0);
    await assert.rejects(unaryCall(c.decide.bind(c), { action: undefined, events: [], decideSeq: 0 }), (err: { code: number }) => err.code === status.INVALID_ARGUMENT);
  });

  it('re-opens a session after close and after the daemon side went away (stale socket)', async () => {
    await channels.open('s1');
    await channels.closeAll();
    // closeAll (daemon shutdown) keeps the mounted directory for the restarted daemon.
    assert.ok(existsSync(join(runDir, 'agents', 's1')));
    const again = createAgentChannels({ runDir, hooks, log: quietLogger(), carrier });
    channels = again;
    await again.open('s1');
    const c = connect('s1');
    assert.equal((await unaryCall(c.hello.bind(c), { runnerVersion: 'x', pid: 1 })).sessionId, 's1');
    await again.close('s1');
    assert.equal(existsSync(join(runDir, 'agents', 's1')), false);
    await again.open('s1');
    const c2 = connect('s1');
    assert.equal((await unaryCall(c2.heartbeat.bind(c2), { iteration: 1 })).stopRequested, false);
  });

  it('refuses a session id that is not a safe directory name', async () => {
    await assert.rejects(channels.open('../evil'), /not a valid session id/);
  });
});
