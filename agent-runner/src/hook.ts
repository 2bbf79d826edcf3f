// `agent-runner hook pretooluse`: Claude Code's PreToolUse hook. Claude Code
// runs it with the hook JSON on stdin before every tool call; we map the tool
// to a Loki action, ask the daemon (Decide), and print the documented reply:
// {"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":
// "allow"|"deny","permissionDecisionReason":"…"}} with exit code 0.
// Anything we cannot map or cannot ask about is denied: fail closed.
import type { AgentAction } from '../../proto/gen/loki/v1/agent.js';
import { AgentLink } from './channel.js';
import { fullEvent, isAllowed } from './channel.js';

export interface HookInput {
  session_id?: string;
  transcript_path?: string;
  cwd?: string;
  hook_event_name?: string;
  tool_name?: string;
  tool_input?: Record<string, unknown>;
}

export interface HookReply {
  hookSpecificOutput: { hookEventName: 'PreToolUse'; permissionDecision: 'allow' | 'deny' | 'ask'; permissionDecisionReason: string };
}

/** Tools that touch nothing outside Claude Code's own state. */
const INERT_TOOLS = new Set(['TodoWrite', 'Task', 'Agent', 'ExitPlanMode', 'BashOutput', 'KillShell', 'KillBash']);
const NETWORK_TOOLS = new Set(['WebFetch', 'WebSearch']);

type Mapped = { action: NonNullable<AgentAction['action']>; detail: string } | { reply: 'allow' | 'deny'; reason: string };

export function mapTool(input: HookInput, workspace = '/workspace'): Mapped {
  const t = input.tool_name ?? '';
  const a = input.tool_input ?? {};
  const s = (k: string): string => (typeof a[k] === 'string' ? (a[k] as string) : '');
  const pathOr = (k: string) => s(k) || input.cwd || workspace;
  switch (t) {
    case 'Bash':
      return { action: { $case: 'shell', shell: s('command') }, detail: s('description') };
    case 'Write':
      return { action: { $case: 'writePath', writePath: s('file_path') }, detail: s('content').slice(0, 200) };
    case 'Edit':
    case 'MultiEdit':
      return { action: { $case: 'writePath', writePath: s('file_path') }, detail: t };
    case 'NotebookEdit':
      return { action: { $case: 'writePath', writePath: s('notebook_path') }, detail: t };
    case 'Read':
      return { action: { $case: 'readPath', readPath: s('file_path') }, detail: t };
    case 'Glob':
    case 'Grep':
    case 'LS':
      return { action: { $case: 'readPath', readPath: pathOr('path') }, detail: `${t} ${s('pattern')}`.trim() };
  }
  if (INERT_TOOLS.has(t)) return { reply: 'allow', reason: `${t} does not touch the workspace` };
  if (NETWORK_TOOLS.has(t)) return { reply: 'deny', reason: `${t} is not available: the sandbox has no network` };
  return { reply: 'deny', reason: `Loki has no policy mapping for tool "${t.slice(0, 64)}"` };
}

function reply(decision: 'allow' | 'deny', reason: string): HookReply {
  return { hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: decision, permissionDecisionReason: reason } };
}

async function readStdin(max = 4 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    size += (c as Buffer).length;
    if (size > max) throw new Error('hook input too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function decideHook(input: HookInput, socketPath: string): Promise<HookReply> {
  if (input.hook_event_name && input.hook_event_name !== 'PreToolUse') return reply('deny', `unexpected hook event ${input.hook_event_name}`);
  const m = mapTool(input);
  if ('reply' in m) return reply(m.reply, m.reason);
  const link = new AgentLink(socketPath);
  try {
    const tool = input.tool_name ?? '';
    const d = await link.decide({ action: m.action, tool, detail: m.detail }, { once: true });
    if (isAllowed(d)) return reply('allow', d.reason || 'allowed by Loki policy');
    const reason = d.reason || 'denied by Loki policy';
    await link.report([fullEvent({ type: 'denied', message: `${tool}: ${reason}`, dataJson: JSON.stringify({ tool, rule: d.rule, reason }) })]).catch(() => undefined);
    return reply('deny', reason);
  } finally {
    link.close();
  }
}

/** Entry point; always exits 0 with a JSON reply (a crashed hook must not mean "allow"). */
export async function runHook(socketPath: string): Promise<number> {
  let out: HookReply;
  try {
    const input = JSON.parse(await readStdin()) as HookInput;
    out = await decideHook(input, socketPath);
  } catch (err) {
    out = reply('deny', `Loki could not decide: ${(err as Error).message.slice(0, 200)}`);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  return 0;
}
