import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgentChannels } from '../../daemon/src/agent/index.js';
import type { AgentChannels } from '../../daemon/src/agent/types.js';
import { DockerSandboxDriver } from '../../daemon/src/sandbox/docker-driver.js';
import { quietLogger } from '../helpers/daemon.js';
import { shortTempDir } from '../helpers/entry.js';
import { recordingHooks, scriptBrief, type RecordingHooks } from '../daemon/agent/hooks.js';
import { gitWorkspace, runnerFileOrExplain, sandboxRun, type SandboxRun } from './sandbox.js';
import { LEFTOVER_COMMIT_MESSAGE } from '../../agent-runner/src/run.js';

const ANTHROPIC_KEY = 'sk-ant-host-only-91c2';
const here = fileURLToPath(new URL('.', import.meta.url));
/** The fake CLI sits next to this test in the source tree (tsc does not copy .cjs files). */
function fakeClaudePath(): string {
  const candidates = [join(here, 'fake-claude.cjs'), resolve(here, '..', '..', '..', 'test', 'agent-runner', 'fake-claude.cjs')];
  const p = candidates.find((c) => existsSync(c));
  if (!p) throw new Error(`fake-claude.cjs not found (looked in ${candidates.join(', ')})`);
  return p;
}

function runHook(socket: string, input: unknown): Promise<{ code: number | null; stdout: string }> {
  const bundle = runnerFileOrExplain();
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [bundle, 'hook', 'pretooluse'], { env: { PATH: process.env.PATH ?? '', LOKI_AGENT_SOCKET: socket }, stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout }));
    child.stdin.end(JSON.stringify(input));
  });
}

const hookInput = (tool_name: string, tool_input: Record<string, unknown>) => ({
  session_id: 'abc',
  transcript_path: '/home/loki/.claude/projects/x.jsonl',
  cwd: '/workspace',
  hook_event_name: 'PreToolUse',
  tool_name,
  tool_input,
});

describe('agent-runner claude PreToolUse hook', () => {
  let runDir: string;
  let hooks: RecordingHooks;
  let channels: AgentChannels;
  let socket: string;

  before(async () => {
    runDir = shortTempDir('lkh');
    hooks = recordingHooks((id) => scriptBrief(id, []));
    const carrier = new DockerSandboxDriver({ socketPath: '/var/run/docker.sock', instance: 'claude-hook-test' });
    channels = createAgentChannels({ runDir, hooks, log: quietLogger(), carrier });
    socket = join((await channels.open('sess-hook')).hostDir, 'agent.sock');
  });
  after(async () => {
    await channels.closeAll();
    rmSync(runDir, { recursive: true, force: true });
  });

  it('answers allow in the documented hookSpecificOutput format for an allowed Bash call', async () => {
    const r = await runHook(socket, hookInput('Bash', { command: 'npm test', description: 'run tests' }));
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), { hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'allow', permissionDecisionReason: 'ok' } });
    // A hook is a process of its own per tool call, with no Hello: its Decide is unnumbered (0).
    assert.deepEqual(hooks.decisions.at(-1)!.req, { action: { kind: 'shell', command: 'npm test' }, tool: 'Bash', detail: 'run tests', decideSeq: 0 });
  });

  it('answers deny with the policy reason and reports the denial', async () => {
    const r = await runHook(socket, hookInput('Bash', { command: 'rm -rf /' }));
    assert.equal(r.code, 0);
    const out = JSON.parse(r.stdout).hookSpecificOutput;
    assert.equal(out.permissionDecision, 'deny');
    assert.equal(out.permissionDecisionReason, 'destructive command: rm -rf /');
    assert.equal(hooks.events.at(-1)!.event.type, 'denied');
    assert.match(hooks.events.at(-1)!.event.message, /^Bash: destructive command/);
  });

  it('maps file tools to write and read actions on their paths', async () => {
    await runHook(socket, hookInput('Edit', { file_path: '/workspace/src/a.ts', old_string: 'a', new_string: 'b' }));
    await runHook(socket, hookInput('Read', { file_path: '/workspace/README.md' }));
    assert.deepEqual(hooks.decisions.slice(-2).map((d) => d.req.action), [
      { kind: 'write', path: '/workspace/src/a.ts' },
      { kind: 'read', path: '/workspace/README.md' },
    ]);
  });

  it('aborts the pending decision when the process waiting on it dies (SIGKILL)', async () => {
    const bundle = runnerFileOrExplain();
    const child = spawn(process.execPath, [bundle, 'hook', 'pretooluse'], { env: { LOKI_AGENT_SOCKET: socket }, stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.end(JSON.stringify(hookInput('Bash', { command: 'ask to deploy' })));
    const end = Date.now() + 10_000;
    while (!hooks.held.some((h) => h.req.action.kind === 'shell' && h.req.action.command === 'ask to deploy')) {
      if (Date.now() > end) throw new Error('the hook never asked');
      await new Promise((r) => setTimeout(r, 20));
    }
    const held = hooks.held.find((h) => h.req.action.kind === 'shell' && h.req.action.command === 'ask to deploy')!;
    assert.equal(held.signal.aborted, false);
    child.kill('SIGKILL');
    while (!held.signal.aborted) {
      if (Date.now() > end) throw new Error('the decision was not aborted');
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('fails closed: an unmapped tool, bad JSON or an unreachable daemon all get deny', async () => {
    const n = hooks.decisions.length;
    const unmapped = JSON.parse((await runHook(socket, hookInput('mcp__db__drop', {}))).stdout).hookSpecificOutput;
    assert.equal(unmapped.permissionDecision, 'deny');
    assert.match(unmapped.permissionDecisionReason, /no policy mapping/);
    assert.equal(hooks.decisions.length, n, 'unmapped tools never reach Decide');
    const bundle = runnerFileOrExplain();
    const bad = await new Promise<string>((res) => {
      const c = spawn(process.execPath, [bundle, 'hook', 'pretooluse'], { env: { LOKI_AGENT_SOCKET: socket } });
      let s = '';
      c.stdout.on('data', (d: Buffer) => (s += d.toString()));
      c.on('close', () => res(s));
      c.stdin.end('{not json');
    });
    assert.equal(JSON.parse(bad).hookSpecificOutput.permissionDecision, 'deny');
    const gone = await runHook(join(runDir, 'nowhere.sock'), hookInput('Bash', { command: 'ls' }));
    assert.equal(gone.code, 0);
    assert.equal(JSON.parse(gone.stdout).hookSpecificOutput.permissionDecision, 'deny');
  });
});

describe('agent-runner claude provider in a real sandbox', function () {
  this.timeout(120_000);
  let hooks: RecordingHooks;
  let run: SandboxRun;
  let anthropic: Server | undefined;
  before(async () => {
    hooks = recordingHooks((id) => scriptBrief(id, []));
    run = await sandboxRun(hooks);
  });
  after(async () => {
    anthropic?.close();
    await run?.cleanup();
  });

  it('runs Claude Code headless with the hook wired: allowed calls run, denied ones get the reason, cost is recorded, and the key stays on the host', async () => {
    const ws = gitWorkspace(run.daemon.home, 'claude1');
    const calls = [
      { name: 'Bash', input: { command: 'echo from-claude > c.txt' } },
      { name: 'Bash', input: { command: 'rm -rf /' } },
      { name: 'Bash', input: { command: 'env > env.txt' } },
    ];
    // Anthropic's Messages API, stood in for on loopback: Claude Code reaches it only through the host-side proxy.
    const seen: { path: string; key: string }[] = [];
    anthropic = createServer((req, res) => {
      seen.push({ path: req.url ?? '', key: String(req.headers['x-api-key'] ?? '') });
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"type":"message","content":[]}'));
    });
    await new Promise<void>((r) => anthropic!.listen(0, '127.0.0.1', r));
    const channel = await run.channels.open('sess-claude');
    await run.proxies.open('sess-claude', channel.hostDir, { upstream: new URL(`http://127.0.0.1:${(anthropic.address() as AddressInfo).port}`), kind: 'anthropic', apiKey: ANTHROPIC_KEY });
    hooks.briefs.set('sess-claude', scriptBrief('sess-claude', [], { provider: 'claude', planJson: '', prompt: JSON.stringify(calls), options: { model_socket: '/run/loki-agent/model.sock' } }));
    // The image has no Claude Code; a protocol-speaking stand-in takes its place on PATH.
    const { info } = await run.start('sess-claude', ws, [{ hostPath: fakeClaudePath(), containerPath: '/usr/local/bin/claude', readOnly: true }]);
    const done = await run.waitExit(info.id);
    const events = hooks.events.filter((e) => e.sessionId === 'sess-claude').map((e) => e.event);
    assert.equal(done.exitCode, 0, JSON.stringify(events.filter((e) => e.type === 'error')));
    assert.deepEqual(hooks.decisions.map((d) => [d.req.tool, d.req.action, d.decision]), [
      ['Bash', { kind: 'shell', command: 'echo from-claude > c.txt' }, 'allow'],
      ['Bash', { kind: 'shell', command: 'rm -rf /' }, 'deny'],
      ['Bash', { kind: 'shell', command: 'env > env.txt' }, 'allow'],
      // Claude Code left its files uncommitted: the runner commits them through the same gate.
      ['leftover_commit', { kind: 'commit', message: LEFTOVER_COMMIT_MESSAGE }, 'allow'],
    ]);
    assert.equal(readFileSync(join(ws, 'c.txt'), 'utf8'), 'from-claude\n');
    // The proxy added the real key; Claude Code's own environment (what its Bash tool sees) holds none.
    assert.deepEqual(seen, [{ path: '/v1/messages?beta=true', key: ANTHROPIC_KEY }]);
    const env = readFileSync(join(ws, 'env.txt'), 'utf8');
    assert.match(env, /^ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:\d+$/m);
    assert.ok(!env.includes(ANTHROPIC_KEY), env);
    const types = events.map((e) => e.type);
    assert.deepEqual(types.filter((t) => t !== 'denied'), ['tool_call', 'tool_call', 'tool_call', 'message', 'usage', 'message', 'tool_call', 'tool_result', 'finished']);
    assert.ok(types.includes('denied'));
    const usage = events.find((e) => e.type === 'usage')!;
    assert.deepEqual([usage.inputTokens, usage.outputTokens, usage.costUsd], [1200, 340, 0.0123]);
    assert.equal(events.at(-1)!.message, 'All done.');
  });

  it('reports a clear error when the image has no Claude Code CLI', async () => {
    hooks.briefs.set('sess-noclaude', scriptBrief('sess-noclaude', [], { provider: 'claude', planJson: '', prompt: 'hi' }));
    const { info } = await run.start('sess-noclaude', gitWorkspace(run.daemon.home, 'claude2'));
    assert.equal((await run.waitExit(info.id)).exitCode, 1);
    const last = hooks.events.filter((e) => e.sessionId === 'sess-noclaude').at(-1)!.event;
    assert.equal(last.type, 'error');
    assert.match(last.message, /needs the Claude Code CLI/);
  });
});
