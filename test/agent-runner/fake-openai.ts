// An OpenAI-compatible chat-completions server for tests: real HTTP, scripted
// tool calls, token usage, and a check of the bearer token on every request.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedCall {
  name: string;
  args: Record<string, unknown>;
}

export interface FakeOpenAI {
  url: string;
  requests: { path: string; auth: string; body: { model: string; messages: { role: string; content: string | null; tool_call_id?: string }[]; tools: unknown[] } }[];
  close(): Promise<void>;
}

export async function fakeOpenAI(apiKey: string, turns: ScriptedCall[][], usage = { prompt_tokens: 100, completion_tokens: 20 }): Promise<FakeOpenAI> {
  const requests: FakeOpenAI['requests'] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const auth = String(req.headers.authorization ?? '');
      if (auth !== `Bearer ${apiKey}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } }));
      }
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
        res.writeHead(404);
        return res.end();
      }
      const body = JSON.parse(raw) as FakeOpenAI['requests'][number]['body'];
      requests.push({ path: req.url, auth, body });
      const turn = turns[requests.length - 1];
      const message = turn
        ? {
            role: 'assistant',
            content: null,
            tool_calls: turn.map((c, i) => ({ id: `call_${requests.length}_${i}`, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } })),
          }
        : { role: 'assistant', content: 'nothing left to do' };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${requests.length}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: body.model,
          choices: [{ index: 0, message, finish_reason: turn ? 'tool_calls' : 'stop' }],
          usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
