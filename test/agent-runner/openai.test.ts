import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startModelProxy, type ModelProxy } from '../../daemon/src/agent/index.js';
import { quietLogger } from '../helpers/daemon.js';
import { shortTempDir } from '../helpers/entry.js';
import { recordingHooks, scriptBrief, type RecordingHooks } from '../daemon/agent/hooks.js';
import { fakeOpenAI, type FakeOpenAI } from './fake-openai.js';
import { gitWorkspace, sandboxRun, type SandboxRun } from './sandbox.js';

const KEY = 'sk-test-4f1c2b9e';

function viaSocket(socketPath: string, method: string, path: string, body = '', auth = ''): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { ...(auth ? { authorization: auth } : {}), 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('model proxy', () => {
  let fake: FakeOpenAI;
  let proxy: ModelProxy;
  let dir: string;
  before(async () => {
    fake = await fakeOpenAI(KEY, []);
    dir = shortTempDir('lkm');
    proxy = await startModelProxy({ socketPath: join(dir, 'model.sock'), upstream: new URL(fake.url), apiKey: KEY, log: quietLogger() });
  });
  after(async () => {
    await proxy.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards chat-completions POSTs to the upstream base path, adding the key itself', async () => {
    const r = await viaSocket(proxy.socketPath, 'POST', '/v1/chat/completions', JSON.stringify({ model: 'm', messages: [], tools: [] }), 'Bearer sk-forged-by-the-sandbox');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text).choices[0].message.content, 'nothing left to do');
    assert.equal(fake.requests.at(-1)!.path, '/v1/chat/completions');
    assert.equal(fake.requests.at(-1)!.auth, `Bearer ${KEY}`, 'the sandbox’s own Authorization is dropped');
    assert.equal(statSync(proxy.socketPath).mode & 0o777, 0o600);
  });

  it('sends no key when it has none, whatever the sandbox sends', async () => {
    const keyless = await startModelProxy({ socketPath: join(dir, 'keyless.sock'), upstream: new URL(fake.url), log: quietLogger() });
    try {
      const r = await viaSocket(keyless.socketPath, 'POST', '/v1/chat/completions', '{}', `Bearer ${KEY}`);
      assert.equal(r.status, 401, 'a key the sandbox learned elsewhere is not passed on');
    } finally {
      await keyless.close();
    }
  });

  it('answers 502 instead of crashing the daemon when it cannot build the upstream request (a key with a newline)', async () => {
    let crashed: Error | undefined;
    const onCrash = (err: Error) => (crashed = err);
    // Mocha's own handler would fail some test; this one records what would kill lokid.
    const mochaHandlers = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onCrash);
    const bad = await startModelProxy({ socketPath: join(dir, 'badkey.sock'), upstream: new URL(fake.url), apiKey: `${KEY}\n`, log: quietLogger() });
    try {
      const r = await Promise.race([
        viaSocket(bad.socketPath, 'POST', '/v1/chat/completions', '{}').catch((err: Error) => ({ status: 0, text: err.message })),
        new Promise<{ status: number; text: string }>((res) => setTimeout(() => res({ status: 0, text: 'no answer in 10 s' }), 10_000).unref()),
      ]);
      assert.equal(crashed, undefined, `the proxy threw out of its request handler: ${crashed?.message}`);
      assert.equal(r.status, 502, r.text);
      assert.ok(!r.text.includes(KEY));
    } finally {
      process.removeListener('uncaughtException', onCrash);
      for (const h of mochaHandlers) process.on('uncaughtException', h);
      await bad.close();
    }
  });

  it('removes the key from an upstream answer that echoes it, even split across chunks', async () => {
    // Writes the credential it got in three pieces, as a careless server's error would.
    const echo = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const auth = String(req.headers.authorization);
        res.writeHead(429, { 'content-type': 'application/json' });
        res.write(`{"error":{"message":"rate limited for ${auth.slice(0, 12)}`);
        setTimeout(() => {
          res.write(auth.slice(12, 15));
          setTimeout(() => res.end(`${auth.slice(15)} and ${auth}"}}`), 50);
        }, 50);
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const p = await startModelProxy({ socketPath: join(dir, 'echo.sock'), upstream: new URL(`http://127.0.0.1:${(echo.address() as AddressInfo).port}/v1`), apiKey: KEY, log: quietLogger() });
    try {
      const r = await viaSocket(p.socketPath, 'POST', '/v1/chat/completions', '{}');
      assert.equal(r.status, 429);
      assert.ok(!r.text.includes(KEY), r.text);
      assert.equal(JSON.parse(r.text).error.message, 'rate limited for Bearer [key removed by Loki] and Bearer [key removed by Loki]');
    } finally {
      await p.close();
      echo.close();
    }
  });

  it('forwards nothing else: other paths and methods get 403 and never reach the upstream', async () => {
    const before = fake.requests.length;
    for (const [m, p] of [['GET', '/v1/chat/completions'], ['POST', '/v1/embeddings'], ['POST', '/v1/chat/completions/../../admin'], ['GET', '/']]) {
      assert.equal((await viaSocket(proxy.socketPath, m!, p!)).status, 403, `${m} ${p}`);
    }
    assert.equal(fake.requests.length, before);
  });
});

describe('agent-runner openai provider in a real sandbox', function () {
  this.timeout(120_000);
  let hooks: RecordingHooks;
  let run: SandboxRun;
  let fake: FakeOpenAI;

  before(async () => {
    hooks = recordingHooks((id) => scriptBrief(id, []));
    run = await sandboxRun(hooks);
  });
  after(async () => {
    await fake?.close();
    await run?.cleanup();
  });

  it('runs scripted tool calls through Decide over the forwarded model socket, feeds a denial back to the model, and records usage', async () => {
    fake = await fakeOpenAI(KEY, [
      [
        { name: 'write_file', args: { path: 'greet.sh', content: 'echo "hi from $(id -u)"\n' } },
        { name: 'list_files', args: { path: '.' } },
      ],
      [{ name: 'shell', args: { command: 'sh greet.sh > out.txt && cat out.txt' } }],
      [{ name: 'shell', args: { command: 'rm -rf /' } }, { name: 'shell', args: { command: '' } }],
      [{ name: 'git_commit', args: { message: 'feat: greeting script' } }],
      [{ name: 'finish', args: { summary: 'greeting done' } }],
    ]);
    const ws = gitWorkspace(run.daemon.home, 'openai1');
    const channel = await run.channels.open('sess-openai');
    // The sandbox has no network: the model endpoint arrives as a socket in the agent dir.
    await run.proxies.open('sess-openai', channel.hostDir, { upstream: new URL(fake.url), kind: 'openai', apiKey: KEY });
    assert.equal(`${channel.transport.dirInSandbox}/model.sock`, '/run/loki-agent/model.sock');
    hooks.briefs.set(
      'sess-openai',
      scriptBrief('sess-openai', [], {
        provider: 'openai',
        prompt: 'Write a greeting script, run it, commit it.',
        planJson: '',
        model: 'qwen2.5-coder:7b',
        baseUrl: 'http://model/v1',
        maxIterations: 10,
        options: { model_socket: '/run/loki-agent/model.sock', price_input_per_mtok: '1', price_output_per_mtok: '2' },
      }),
    );
    const { info } = await run.start('sess-openai', ws);
    const done = await run.waitExit(info.id);
    const events = hooks.events.filter((e) => e.sessionId === 'sess-openai').map((e) => e.event);
    assert.equal(done.exitCode, 0, JSON.stringify(events.filter((e) => e.type === 'error')));

    assert.equal(fake.requests.length, 5);
    assert.ok(fake.requests.every((r) => r.auth === `Bearer ${KEY}` && r.body.model === 'qwen2.5-coder:7b'));
    assert.deepEqual(
      (fake.requests[0]!.body.tools as { function: { name: string } }[]).map((t) => t.function.name),
      ['shell', 'read_file', 'write_file', 'list_files', 'git_commit', 'finish'],
    );
    assert.deepEqual(
      hooks.decisions.map((d) => [d.req.tool, d.req.action.kind, d.decision]),
      [
        ['write_file', 'write', 'allow'],
        ['list_files', 'read', 'allow'],
        ['shell', 'shell', 'allow'],
        ['shell', 'shell', 'deny'],
        ['git_commit', 'commit', 'allow'],
      ],
    );
    // What the model was told: tool results, including the denial and its reason.
    const toolMsgs = (i: number) => fake.requests[i]!.body.messages.filter((m) => m.role === 'tool').map((m) => m.content ?? '');
    assert.match(toolMsgs(1)[1]!, /greet\.sh/);
    assert.match(toolMsgs(2).at(-1)!, /^exit 0\nhi from 64000/);
    assert.match(toolMsgs(3).at(-2)!, /^denied by Loki policy: destructive command: rm -rf \//);
    assert.equal(toolMsgs(3).at(-1)!, 'rejected by Loki: shell must not be empty', 'a malformed call is the model’s to fix, not the end of the run');

    const usage = events.filter((e) => e.type === 'usage');
    assert.equal(usage.length, 5);
    assert.deepEqual([usage[0]!.inputTokens, usage[0]!.outputTokens], [100, 20]);
    assert.ok(Math.abs(usage.reduce((s, e) => s + e.costUsd, 0) - 5 * 0.00014) < 1e-9);
    const finished = events.at(-1)!;
    assert.equal(finished.type, 'finished');
    assert.equal(finished.message, 'greeting done');
    // The key went only to the model endpoint: never into events.
    assert.ok(!JSON.stringify(events).includes(KEY));

    assert.equal(readFileSync(join(ws, 'out.txt'), 'utf8'), 'hi from 64000\n');
    const log = execFileSync('git', ['-C', ws, '-c', `safe.directory=${ws}`, 'log', '--format=%s'], { encoding: 'utf8' });
    assert.equal(log.trim(), 'feat: greeting script');
  });

  it('fails with an error event (and never the key) when the model endpoint refuses the key', async () => {
    const wrong = await fakeOpenAI('sk-other', []);
    try {
      const ws = gitWorkspace(run.daemon.home, 'openai2');
      hooks.briefs.set(
        'sess-openai-401',
        scriptBrief('sess-openai-401', [], { provider: 'openai', planJson: '', model: 'm', baseUrl: 'http://model/v1', options: { model_socket: '/run/loki-agent/model.sock' } }),
      );
      const channel = await run.channels.open('sess-openai-401');
      const p = await startModelProxy({ socketPath: join(channel.hostDir, 'model.sock'), upstream: new URL(wrong.url), apiKey: KEY, owner: run.daemon.manager.sandboxUser, log: quietLogger() });
      try {
        const { info } = await run.start('sess-openai-401', ws);
        assert.equal((await run.waitExit(info.id)).exitCode, 1);
      } finally {
        await p.close();
      }
      const events = hooks.events.filter((e) => e.sessionId === 'sess-openai-401').map((e) => e.event);
      assert.equal(events.at(-1)!.type, 'error');
      assert.match(events.at(-1)!.message, /HTTP 401: .*Incorrect API key/);
      assert.ok(!JSON.stringify(events).includes(KEY));
    } finally {
      await wrong.close();
    }
  });

  it('fails with a timeout error when the model server trickles its answer forever (request_timeout_ms bounds the whole answer)', async () => {
    // Headers at once, then a space every 200 ms: never idle, never done.
    const trickle = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const t = setInterval(() => res.write(' '), 200);
        res.on('close', () => clearInterval(t));
      });
    });
    await new Promise<void>((r) => trickle.listen(0, '127.0.0.1', r));
    try {
      const ws = gitWorkspace(run.daemon.home, 'openai3');
      hooks.briefs.set(
        'sess-openai-trickle',
        scriptBrief('sess-openai-trickle', [], { provider: 'openai', planJson: '', model: 'm', baseUrl: 'http://model/v1', options: { model_socket: '/run/loki-agent/model.sock', request_timeout_ms: '3000' } }),
      );
      const channel = await run.channels.open('sess-openai-trickle');
      const upstream = new URL(`http://127.0.0.1:${(trickle.address() as AddressInfo).port}/v1`);
      const p = await startModelProxy({ socketPath: join(channel.hostDir, 'model.sock'), upstream, apiKey: KEY, owner: run.daemon.manager.sandboxUser, log: quietLogger() });
      const t0 = Date.now();
      try {
        const { info } = await run.start('sess-openai-trickle', ws);
        const exit = await Promise.race([run.waitExit(info.id), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000).unref())]);
        if (exit === 'hung') assert.fail('the runner was still waiting for the model after 30 s');
        assert.equal(exit.exitCode, 1);
      } finally {
        await p.close();
      }
      assert.ok(Date.now() - t0 < 30_000);
      const events = hooks.events.filter((e) => e.sessionId === 'sess-openai-trickle').map((e) => e.event);
      assert.equal(events.at(-1)!.type, 'error');
      assert.match(events.at(-1)!.message, /timed out after 3000 ms/);
    } finally {
      trickle.closeAllConnections();
      trickle.close();
    }
  });

  it('finishes when the model server reports usage that is not a count (a string, a negative number) instead of wedging every report', async () => {
    // Answers once, with garbage usage and no tool call: the run's only turn.
    const odd = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'x', object: 'chat.completion', model: 'm', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'all done' } }], usage: { prompt_tokens: 'lots', completion_tokens: -5 } }));
      });
    });
    await new Promise<void>((r) => odd.listen(0, '127.0.0.1', r));
    try {
      const ws = gitWorkspace(run.daemon.home, 'openai4');
      hooks.briefs.set('sess-openai-usage', scriptBrief('sess-openai-usage', [], { provider: 'openai', planJson: '', model: 'm', baseUrl: 'http://model/v1', options: { model_socket: '/run/loki-agent/model.sock', price_input_per_mtok: '1' } }));
      const channel = await run.channels.open('sess-openai-usage');
      const upstream = new URL(`http://127.0.0.1:${(odd.address() as AddressInfo).port}/v1`);
      const p = await startModelProxy({ socketPath: join(channel.hostDir, 'model.sock'), upstream, apiKey: KEY, owner: run.daemon.manager.sandboxUser, log: quietLogger() });
      try {
        const { info } = await run.start('sess-openai-usage', ws);
        const exit = await Promise.race([run.waitExit(info.id), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000).unref())]);
        if (exit === 'hung') assert.fail('the runner was still running after 30 s');
        assert.equal(exit.exitCode, 0);
      } finally {
        await p.close();
      }
      const events = hooks.events.filter((e) => e.sessionId === 'sess-openai-usage').map((e) => e.event);
      const usage = events.find((e) => e.type === 'usage');
      assert.ok(usage, JSON.stringify(events.map((e) => e.type)));
      assert.deepEqual([usage.inputTokens, usage.outputTokens, usage.costUsd], [0, 0, 0]);
      assert.equal(events.at(-1)!.type, 'finished');
    } finally {
      odd.close();
    }
  });
});
