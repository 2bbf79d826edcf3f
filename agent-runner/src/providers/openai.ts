// The `openai` provider: a tool-calling loop against any OpenAI-compatible
// chat-completions endpoint (OpenAI, Ollama, vLLM, llama.cpp server), reached
// through the daemon's model socket. The runner never has a key: the host-side
// proxy behind the socket adds it.
import { postJson } from '../http.js';
import type { Actor, Outcome } from '../actor.js';
import { ProviderError, type Provider } from './types.js';

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

interface ChatResponse {
  choices?: { message?: ChatMessage; finish_reason?: string }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

const str = { type: 'string' } as const;
function fn(name: string, description: string, properties: Record<string, unknown>, required: string[]) {
  return { type: 'function', function: { name, description, parameters: { type: 'object', properties, required, additionalProperties: false } } };
}

export const TOOLS = [
  fn('shell', 'Run a shell command in the workspace (/bin/sh -c). Returns the exit code and output.', { command: str }, ['command']),
  fn('read_file', 'Read a text file in the workspace.', { path: str }, ['path']),
  fn('write_file', 'Create or overwrite a file in the workspace.', { path: str, content: str }, ['path', 'content']),
  fn('list_files', 'List a directory in the workspace.', { path: str }, []),
  fn('git_commit', 'Stage all changes and commit them to the session branch.', { message: str }, ['message']),
  fn('finish', 'Declare the task done, with a short summary.', { summary: str }, ['summary']),
];

const SYSTEM_PROMPT =
  'You are a coding agent working in a sandboxed git workspace at /workspace. Use the tools to do the task. ' +
  'Every tool call is checked by a policy; if one is denied, read the reason and choose another way. ' +
  'Commit your work with git_commit and call finish when done.';

const MAX_TOOL_OUTPUT = 16 * 1024;

function clip(s: string): string {
  return s.length > MAX_TOOL_OUTPUT ? `${s.slice(0, MAX_TOOL_OUTPUT)}\n[truncated]` : s;
}

/** USD per million tokens, from `price_input_per_mtok` / `price_output_per_mtok` (zero when unset). */
function tokenCount(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

export function costUsd(options: Record<string, string>, input: number, output: number): number {
  const pin = Number(options.price_input_per_mtok ?? 0) || 0;
  const pout = Number(options.price_output_per_mtok ?? 0) || 0;
  return (input * pin + output * pout) / 1e6;
}

async function runTool(actor: Actor, call: ToolCall): Promise<{ outcome: Outcome; finished?: string }> {
  let args: Record<string, unknown>;
  try {
    args = JSON.parse(call.function.arguments || '{}') as Record<string, unknown>;
  } catch {
    return { outcome: { ok: false, denied: false, output: `invalid JSON arguments for ${call.function.name}` } };
  }
  const s = (k: string): string => (typeof args[k] === 'string' ? (args[k] as string) : '');
  switch (call.function.name) {
    case 'shell':
      return { outcome: await actor.shell(s('command')) };
    case 'read_file':
      return { outcome: await actor.read(s('path')) };
    case 'write_file':
      return { outcome: await actor.write(s('path'), s('content')) };
    case 'list_files':
      return { outcome: await actor.list(s('path')) };
    case 'git_commit':
      return { outcome: await actor.commit(s('message') || 'agent commit') };
    case 'finish':
      return { outcome: { ok: true, denied: false, output: 'ok' }, finished: s('summary') || 'done' };
    default:
      return { outcome: { ok: false, denied: false, output: `unknown tool ${call.function.name}` } };
  }
}

export const openaiProvider: Provider = async ({ brief, actor, reporter, link }) => {
  if (!brief.baseUrl) throw new ProviderError('the openai provider needs base_url');
  if (!brief.model) throw new ProviderError('the openai provider needs a model');
  let url: URL;
  try {
    url = new URL(`${brief.baseUrl.replace(/\/+$/, '')}/chat/completions`);
  } catch {
    throw new ProviderError(`base_url "${brief.baseUrl.slice(0, 100)}" is not a URL`);
  }
  const socketPath = brief.options.model_socket || undefined;
  const timeoutMs = Number(brief.options.request_timeout_ms ?? 300_000) || 300_000;
  const headers: Record<string, string> = {};
  const max = brief.maxIterations > 0 ? brief.maxIterations : 50;
  const messages: ChatMessage[] = [
    { role: 'system', content: brief.options.system_prompt || SYSTEM_PROMPT },
    { role: 'user', content: brief.prompt },
  ];
  let tokensIn = 0;
  let tokensOut = 0;
  for (let i = 1; i <= max; i++) {
    if (link.stopRequested) return { summary: `stopped on request after ${i - 1} iterations`, data: { iterations: i - 1, stopped: true } };
    reporter.iteration = i;
    reporter.emit({ type: 'iteration', message: `iteration ${i}/${max}` });
    const res = await postJson({ url, socketPath, headers, timeoutMs, body: { model: brief.model, messages, tools: TOOLS, tool_choice: 'auto' } });
    if (res.status < 200 || res.status > 299) {
      // The body is the server's; it never contains our key, but clip it anyway.
      throw new ProviderError(`model endpoint answered HTTP ${res.status}: ${res.text.slice(0, 300)}`);
    }
    let body: ChatResponse;
    try {
      body = JSON.parse(res.text) as ChatResponse;
    } catch {
      throw new ProviderError('model endpoint returned invalid JSON');
    }
    // The server's numbers: anything but a non-negative count counts as 0.
    const inTok = tokenCount(body.usage?.prompt_tokens);
    const outTok = tokenCount(body.usage?.completion_tokens);
    tokensIn += inTok;
    tokensOut += outTok;
    reporter.emit({ type: 'usage', inputTokens: inTok, outputTokens: outTok, costUsd: costUsd(brief.options, inTok, outTok), message: brief.model });
    const msg = body.choices?.[0]?.message;
    if (!msg) throw new ProviderError('model response has no choices[0].message');
    messages.push({ role: 'assistant', content: msg.content ?? null, ...(msg.tool_calls?.length ? { tool_calls: msg.tool_calls } : {}) });
    if (msg.content) reporter.emit({ type: 'message', message: msg.content, agent: 'assistant' });
    if (!msg.tool_calls?.length) {
      // No tool call and a final answer: the model considers itself done.
      return { summary: msg.content || 'model stopped', data: { iterations: i, input_tokens: tokensIn, output_tokens: tokensOut } };
    }
    let finished: string | undefined;
    for (const call of msg.tool_calls) {
      const r = await runTool(actor, call);
      messages.push({ role: 'tool', tool_call_id: call.id, content: clip(r.outcome.output) });
      finished ??= r.finished;
    }
    if (finished !== undefined) return { summary: finished, data: { iterations: i, input_tokens: tokensIn, output_tokens: tokensOut } };
  }
  return { summary: `iteration cap ${max} reached`, data: { iterations: max, capped: true, input_tokens: tokensIn, output_tokens: tokensOut } };
};
