// An `openai` session through the whole SessionManager: the real runner in a
// network-less sandbox reaches an OpenAI-compatible server implemented here
// (real HTTP, scripted tool calls) through the daemon's model socket.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentRunnerBundle } from '../../daemon/src/agent/runner-bundle.js';
import { ADMIN, git, makeRepo, removeDir, runnerBundleRoot, startSessionDaemon, until, type SessionDaemon } from '../daemon/sessions/helpers.js';

const API_KEY = 'sk-test-not-a-real-key-7f3a';

interface Seen {
  auth: string | undefined;
  messages: { role: string; content: string | null }[];
}

/** Answers each chat-completions call with the next scripted tool call. */
function fakeModel(seen: Seen[]): Server {
  const script = [
    { name: 'write_file', args: { path: 'hello.txt', content: 'hi\n' } },
    { name: 'shell', args: { command: 'rm -rf /' } },
    { name: 'git_commit', args: { message: 'add hello' } },
    { name: 'finish', args: { summary: 'done' } },
  ];
  return createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
        res.writeHead(404).end();
        return;
      }
      const parsed = JSON.parse(body) as { messages: Seen['messages'] };
      seen.push({ auth: req.headers.authorization, messages: parsed.messages });
      const step = script[Math.min(seen.length - 1, script.length - 1)]!;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${seen.length}`,
          object: 'chat.completion',
          model: 'scripted',
          choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: `call_${seen.length}`, type: 'function', function: { name: step.name, arguments: JSON.stringify(step.args) } }] } }],
          usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
        }),
      );
    });
  });
}

describe('an openai session through the SessionManager', function () {
  this.timeout(120_000);
  let sd: SessionDaemon | undefined;
  let repo: string;
  let server: Server;
  const seen: Seen[] = [];

  before(async function () {
    const root = runnerBundleRoot();
    if (!root) this.skip(); // `npm run build` makes the bundle; CI always has it
    server = fakeModel(seen);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    repo = makeRepo();
    const port = (server.address() as AddressInfo).port;
    // The key belongs to this configured upstream only: the host-side proxy adds it there and nowhere else.
    sd = await startSessionDaemon({
      sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'], openai: { upstreams: { local: { base_url: `http://127.0.0.1:${port}/v1`, api_key: API_KEY } }, input_usd_per_mtok: 1, output_usd_per_mtok: 2 } },
      runner: agentRunnerBundle(root),
    });
  });

  after(async function () {
    await sd?.cleanup();
    server?.close();
    if (repo) removeDir(repo);
  });

  it('runs tool calls through Decide, returns the denial to the model, commits, finishes and accounts tokens and cost', async function () {
    const m = sd!.feature.manager;
    const port = (server.address() as AddressInfo).port;
    // The local admin names the configured upstream by its exact URL.
    const s = await m.start(ADMIN, { prd: '', prompt: 'write hello.txt and commit it', provider: 'openai', plan: '', profile: '', autonomy: '', project: '', projectPath: repo, model: 'scripted', baseUrl: `http://127.0.0.1:${port}/v1`, maxIterations: 10, network: false });
    const done = await until('the session to end', async () => {
      const x = await m.get(ADMIN, s.id);
      return ['completed', 'failed', 'stopped'].includes(x.state) ? x : undefined;
    }, 60_000);
    assert.equal(done.state, 'completed', done.reason);

    // The sandbox has no network: the calls came through the daemon's model socket, which added the key.
    assert.equal(seen.length, 4);
    assert.ok(seen.every((x) => x.auth === `Bearer ${API_KEY}`));
    const toolResults = seen[2]!.messages.filter((x) => x.role === 'tool').map((x) => x.content ?? '');
    assert.match(toolResults.at(-1)!, /denied/i, 'the model saw the denial as the tool result');

    assert.equal(git(repo, 'show', `${s.branch}:hello.txt`), 'hi\n');
    assert.equal(git(repo, 'log', '-1', '--format=%s', s.branch).trim(), 'add hello');
    const actions = sd!.feature.trail.read(s.id).filter((e) => e.action.startsWith('agent_')).map((e) => `${e.action}:${String(e.details.decision)}`);
    assert.deepEqual(actions, ['agent_write:allow', 'agent_shell:deny', 'agent_commit:allow']);

    assert.equal(done.inputTokens, 400);
    assert.equal(done.outputTokens, 80);
    assert.ok(Math.abs(done.costUsd - (400 * 1 + 80 * 2) / 1e6) < 1e-9, `cost ${done.costUsd}`);
    // The key never reaches the event log.
    const text: string[] = [];
    for await (const e of m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) text.push(JSON.stringify(e));
    assert.ok(!text.join('\n').includes(API_KEY));
  });
});
