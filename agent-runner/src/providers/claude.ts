// The `claude` provider: Claude Code headless (`claude -p … --output-format
// stream-json`) with a PreToolUse hook (this same bundle, `hook pretooluse`)
// that sends every tool call to the daemon. The settings file lives on the
// sandbox's tmpfs, never in the workspace, so the model cannot rewrite it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import type { Reporter } from '../channel.js';
import { ProviderError, type Provider } from './types.js';

/** Not a secret: the model proxy on the host drops it and adds the real key. */
export const PLACEHOLDER_KEY = 'loki-model-proxy-adds-the-key';

/** A 127.0.0.1 port piped to the model socket (Claude Code speaks TCP only; the sandbox has no network). */
export async function loopbackBridge(socketPath: string): Promise<{ port: number; close(): void }> {
  const server = createServer((c) => {
    const up = connect(socketPath);
    c.pipe(up).pipe(c);
    const end = () => {
      c.destroy();
      up.destroy();
    };
    c.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

export function hookSettings(runnerPath: string): object {
  return {
    // Flag settings outrank project/local ones; say it explicitly in case a
    // settings file the agent could write tries to switch hooks off.
    disableAllHooks: false,
    hooks: {
      PreToolUse: [
        {
          matcher: '*',
          // A decision can wait for a human approval: give the hook a day.
          hooks: [{ type: 'command', command: `node ${runnerPath} hook pretooluse`, timeout: 86_400 }],
        },
      ],
    },
  };
}

interface StreamLine {
  type?: string;
  subtype?: string;
  message?: { content?: { type?: string; text?: string; name?: string; input?: unknown }[] };
  result?: string;
  is_error?: boolean;
  total_cost_usd?: number;
  num_turns?: number;
  usage?: { input_tokens?: number; output_tokens?: number };
}

/** Turns one stream-json line into events; returns the final result line when it sees one. */
export function handleStreamLine(line: string, reporter: Reporter): StreamLine | undefined {
  let m: StreamLine;
  try {
    m = JSON.parse(line) as StreamLine;
  } catch {
    return undefined;
  }
  if (m.type === 'assistant') {
    for (const c of m.message?.content ?? []) {
      if (c.type === 'text' && c.text) reporter.emit({ type: 'message', message: c.text, agent: 'claude' });
      if (c.type === 'tool_use') reporter.emit({ type: 'tool_call', message: c.name ?? '', dataJson: JSON.stringify({ tool: c.name }).slice(0, 4096) });
    }
  } else if (m.type === 'result') {
    reporter.emit({
      type: 'usage',
      inputTokens: m.usage?.input_tokens ?? 0,
      outputTokens: m.usage?.output_tokens ?? 0,
      costUsd: m.total_cost_usd ?? 0,
      message: 'claude',
    });
    return m;
  }
  return undefined;
}

export const claudeProvider: Provider = async ({ brief, reporter, runnerPath, link }) => {
  if (spawnSync('/bin/sh', ['-c', 'command -v claude'], { stdio: 'ignore' }).status !== 0) {
    throw new ProviderError('the claude provider needs the Claude Code CLI in the sandbox image (build the image with Claude Code)');
  }
  const dir = mkdtempSync(join(process.env.TMPDIR || '/tmp', 'loki-claude-'));
  const settings = join(dir, 'settings.json');
  writeFileSync(settings, JSON.stringify(hookSettings(runnerPath)), { mode: 0o600 });
  // `--setting-sources user`: the workspace's .claude/settings*.json are the
  // agent's to write, so they are not loaded; "user" is a fresh HOME on tmpfs.
  const home = join(dir, 'home');
  mkdirSync(home, { mode: 0o700 });
  const args = ['-p', brief.prompt, '--output-format', 'stream-json', '--verbose', '--settings', settings, '--setting-sources', 'user'];
  if (brief.model) args.push('--model', brief.model);
  if (brief.maxIterations > 0) args.push('--max-turns', String(brief.maxIterations));
  // No key in here: Claude Code talks to a loopback port that is piped to the
  // daemon's model socket, and the proxy on the host adds the Anthropic key.
  // ANTHROPIC_API_KEY is a placeholder so Claude Code does not ask for a login.
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: home, LOKI_AGENT_SOCKET: process.env.LOKI_AGENT_SOCKET ?? '' };
  const modelSocket = brief.options.model_socket;
  const bridge = modelSocket ? await loopbackBridge(modelSocket) : undefined;
  if (bridge) {
    env.ANTHROPIC_BASE_URL = `http://127.0.0.1:${bridge.port}`;
    env.ANTHROPIC_API_KEY = PLACEHOLDER_KEY;
    // The proxy forwards the Messages API only; telemetry and update checks would just time out.
    env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1';
  }
  const child = spawn('claude', args, { cwd: brief.workspace || '/workspace', env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.once('close', () => bridge?.close());
  const stop = setInterval(() => {
    if (link.stopRequested) child.kill('SIGTERM');
  }, 1000);
  let result: StreamLine | undefined;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  for await (const line of createInterface({ input: child.stdout })) result = handleStreamLine(line, reporter) ?? result;
  const code = await new Promise<number>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('close', (c) => resolve(c ?? 1))));
  clearInterval(stop);
  if (link.stopRequested) return { summary: 'stopped on request', data: { stopped: true } };
  if (code !== 0 || !result || result.is_error) throw new ProviderError(`claude exited ${code}: ${(result?.result ?? stderr).slice(0, 500)}`);
  return { summary: (result.result ?? 'done').slice(0, 2000), data: { turns: result.num_turns ?? 0 } };
};
