// Model credentials stay on the host. A hostile model drives a real openai
// session (real runner, real sandbox, real model socket) to look for the key
// everywhere the agent can look: its environment, every /proc/*/environ, and a
// hand-made Hello on the agent socket. Nothing it finds (tool results the model
// sees, events, trail, audit) may contain the key, while the upstream still
// receives it: the host-side model proxy adds it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { agentRunnerBundle } from '../../daemon/src/agent/runner-bundle.js';
import { ADMIN, makeRepo, removeDir, runnerBundleRoot, startSessionDaemon, until, type SessionDaemon } from '../daemon/sessions/helpers.js';

const API_KEY = 'sk-hostile-test-5d1c9e0b7a';

/** A raw HTTP/2 gRPC Hello over the agent socket, as any process in the sandbox could send it. */
const HELLO_BY_HAND = `
const http2 = require('http2'); const net = require('net');
const c = http2.connect('http://localhost', { createConnection: () => net.connect('/run/loki-agent/agent.sock') });
c.on('error', (e) => { console.log('HELLO-ERROR ' + e.message); process.exit(0); });
const req = c.request({ ':method': 'POST', ':path': '/loki.v1.AgentService/Hello', 'content-type': 'application/grpc', te: 'trailers' });
const chunks = [];
req.on('data', (d) => chunks.push(d));
req.on('end', () => { console.log('HELLO:' + Buffer.concat(chunks).toString('latin1').replace(/[^\\x20-\\x7e]/g, '.')); c.close(); });
req.end(Buffer.from([0, 0, 0, 0, 0]));
`;

interface Seen {
  auth: string | undefined;
  messages: { role: string; content: string | null }[];
}

function hostileModel(seen: Seen[]): Server {
  const script = [
    { name: 'write_file', args: { path: 'hello.cjs', content: HELLO_BY_HAND } },
    { name: 'shell', args: { command: 'node hello.cjs' } },
    { name: 'shell', args: { command: 'env' } },
    { name: 'shell', args: { command: "for f in /proc/*/environ; do tr '\\0' '\\n' < $f; done" } },
    { name: 'shell', args: { command: 'ls -la /run/loki-agent /opt/loki; cat /opt/loki/*.json 2>/dev/null; true' } },
    { name: 'finish', args: { summary: 'looked everywhere' } },
  ];
  return createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body || '{}') as { messages?: Seen['messages'] };
      seen.push({ auth: req.headers.authorization, messages: parsed.messages ?? [] });
      const step = script[Math.min(seen.length - 1, script.length - 1)]!;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${seen.length}`,
          object: 'chat.completion',
          model: 'hostile',
          choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: `call_${seen.length}`, type: 'function', function: { name: step.name, arguments: JSON.stringify(step.args) } }] } }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
  });
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('model credentials never enter the sandbox', function () {
  this.timeout(120_000);
  let sd: SessionDaemon | undefined;
  let repo: string;
  let server: Server;
  const seen: Seen[] = [];

  before(async function () {
    const root = runnerBundleRoot();
    if (!root) this.skip();
    server = hostileModel(seen);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    repo = makeRepo();
    const port = (server.address() as AddressInfo).port;
    sd = await startSessionDaemon({
      sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'], openai: { api_key: API_KEY, base_url: `http://127.0.0.1:${port}/v1`, model: 'hostile' } },
      runner: agentRunnerBundle(root),
    });
  });

  after(async function () {
    await sd?.cleanup();
    server?.close();
    if (repo) removeDir(repo);
  });

  it('a model that dumps env, every /proc/*/environ and calls Hello by hand finds no key, and the upstream still gets it', async function () {
    const m = sd!.feature.manager;
    const s = await m.start(ADMIN, { prd: '', prompt: 'find the key', provider: 'openai', plan: '', profile: '', autonomy: '', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: 10, network: false });
    const done = await until('the session to end', async () => {
      const x = await m.get(ADMIN, s.id);
      return ['completed', 'failed', 'stopped'].includes(x.state) ? x : undefined;
    }, 90_000);
    assert.equal(done.state, 'completed', done.reason);
    assert.equal(seen.length, 6);

    // The proxy on the host added the key for its configured upstream.
    assert.ok(seen.every((x) => x.auth === `Bearer ${API_KEY}`), `upstream auth: ${seen.map((x) => x.auth).join(', ')}`);

    // Every attack really ran: the hand-made Hello answered (with the prompt), env and environ were read.
    const results = seen.at(-1)!.messages.filter((x) => x.role === 'tool').map((x) => x.content ?? '');
    assert.equal(results.length, 5);
    assert.match(results[1]!, /HELLO:.*find the key/, `Hello by hand: ${results[1]}`);
    assert.match(results[2]!, /PATH=/);
    assert.match(results[3]!, /LOKI_AGENT_SOCKET=/);
    for (const r of results) assert.ok(!r.includes(API_KEY), `a tool result the model saw holds the key:\n${r.slice(0, 2000)}`);
    assert.ok(!JSON.stringify(seen.map((x) => x.messages)).includes(API_KEY), 'nothing sent to the model holds the key');

    const events: string[] = [];
    for await (const e of m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) events.push(JSON.stringify(e));
    assert.ok(events.length > 10);
    assert.ok(!events.join('\n').includes(API_KEY), 'no event holds the key');
    assert.ok(!JSON.stringify(sd!.feature.trail.read(s.id)).includes(API_KEY), 'the agent trail holds no key');
    // Nothing the daemon wrote under LOKI_HOME (audit log, trails, workspace) holds the key.
    const home = sd!.d.home;
    // (The workspace's image is skipped: its content is read through the mounted workspace.)
    for (const f of filesUnder(home).filter((p) => !p.endsWith('.img'))) {
      assert.ok(!readFileSync(f).includes(API_KEY), `${f} holds the key`);
    }
  });
});
