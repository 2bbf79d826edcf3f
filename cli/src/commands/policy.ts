// `loki policy check|show`: ask the daemon how it would decide an action
// (Explain never records anything or creates approvals) and what the policy is.
import type { Command } from 'commander';
import { LokiError } from '../../../common/src/index.js';
import { PolicyDecision, PolicyServiceClient, type DecideResponse, type PolicyAction, type ShowPolicyResponse } from '../../../proto/gen/loki/v1/policy.js';
import { call, connectDaemon, type DaemonConnection } from '../client.js';
import { printJson, printLine, printTable } from '../output.js';
import type { CliContext } from '../program.js';

export function decisionName(d: PolicyDecision): string {
  switch (d) {
    case PolicyDecision.POLICY_DECISION_ALLOW:
      return 'allow';
    case PolicyDecision.POLICY_DECISION_DENY:
      return 'deny';
    case PolicyDecision.POLICY_DECISION_ASK:
      return 'ask';
    default:
      return 'unknown';
  }
}

export async function withPolicy<T>(ctx: CliContext, fn: (conn: DaemonConnection, client: PolicyServiceClient) => Promise<T>): Promise<T> {
  const conn = connectDaemon(ctx.globals());
  try {
    return await fn(conn, conn.get(PolicyServiceClient));
  } finally {
    conn.close();
  }
}

interface CheckOptions {
  profile?: string;
  session?: string;
  cwd?: string;
  write?: boolean;
  read?: boolean;
  delete?: boolean;
  json?: boolean;
}

/** The action to check: a shell command by default, or a path with --write/--read/--delete. */
export function checkAction(target: string, o: CheckOptions): PolicyAction {
  const kinds = [o.write && 'write', o.read && 'read', o.delete && 'delete'].filter(Boolean);
  if (kinds.length > 1) throw new LokiError('invalid_argument', 'use at most one of --write, --read, --delete');
  if (!target.trim()) throw new LokiError('invalid_argument', 'nothing to check: give a command (or a path with --write/--read/--delete)');
  if (o.write) return { kind: { $case: 'write', write: { path: target } } };
  if (o.read) return { kind: { $case: 'read', read: { path: target } } };
  if (o.delete) return { kind: { $case: 'delete', delete: { path: target } } };
  return { kind: { $case: 'shell', shell: { command: target } } };
}

export function decisionJson(r: DecideResponse): Record<string, unknown> {
  return {
    decision: decisionName(r.decision),
    rule: r.rule,
    reason: r.reason,
    normalized: r.normalized,
    action_hash: r.actionHash,
    profile: r.profile,
    mode: r.mode,
    commands: r.commands.map((c) => ({ normalized: c.normalized, via: c.via, decision: decisionName(c.decision), rule: c.rule, reason: c.reason })),
  };
}

function printShow(res: ShowPolicyResponse): void {
  printLine(`default profile: ${res.defaultProfile}   autonomy mode: ${res.mode}`);
  printLine(`allowed paths:   ${res.allowedPaths.length ? res.allowedPaths.join(', ') : '(the session workspace)'}`);
  printLine(`protected paths: ${res.protectedPaths.join(', ')}`);
  printLine(`approvals:       timeout ${res.approvalTimeoutSeconds}s → ${res.onTimeout}${res.fourEyes ? ', four-eyes' : ''}`);
  for (const p of res.profiles) {
    printLine();
    printLine(`profile ${p.name}: ${p.description}`);
    printLine(`  default ${p.defaultDecision}, unresolvable → ${p.failClosed}, writes ${p.writes}, commits ${p.commit}, mode ${p.mode}`);
    printTable(['  EFFECT', 'PATTERN', 'RULE'], p.rules.map((r) => [`  ${r.effect}`, r.pattern, r.id]));
  }
}

export function registerPolicyCommands(program: Command, ctx: CliContext): void {
  const policy = program.command('policy').description('inspect the policy engine');
  policy
    .command('check')
    .description('show how the daemon would decide a command (nothing is recorded)')
    .argument('<command>', 'the shell command, quoted (or a path with --write/--read/--delete)')
    .option('--profile <name>', 'permission profile (default: the configured default)')
    .option('--session <id>', 'decide as this session (its workspace and ownership)')
    .option('--cwd <path>', 'working directory inside the sandbox')
    .option('--write', 'check a file write of the given path')
    .option('--read', 'check a file read of the given path')
    .option('--delete', 'check a file delete of the given path')
    .option('--json', 'print JSON')
    .action(async (target: string, o: CheckOptions) => {
      const action = checkAction(target, o);
      const res = await withPolicy(ctx, (conn, client) =>
        call(conn, client.explain.bind(client), { sessionId: o.session ?? '', action, profile: o.profile ?? '', cwd: o.cwd ?? '', sessionWrittenPaths: [] }),
      );
      if (o.json) return printJson(decisionJson(res));
      printLine(`decision:   ${decisionName(res.decision)}`);
      printLine(`rule:       ${res.rule}`);
      printLine(`reason:     ${res.reason}`);
      printLine(`normalized: ${res.normalized}`);
      printLine(`profile:    ${res.profile} (mode ${res.mode})`);
      if (res.commands.length > 1 || res.commands.some((c) => c.via.length)) {
        printTable(['DECISION', 'COMMAND', 'VIA', 'RULE'], res.commands.map((c) => [decisionName(c.decision), c.normalized, c.via.join(' > ') || '-', c.rule]));
      }
    });
  policy
    .command('show')
    .description('show profiles, rules, paths and the autonomy mode')
    .option('--profile <name>', 'only this profile')
    .option('--json', 'print JSON')
    .action(async (o: { profile?: string; json?: boolean }) => {
      const res = await withPolicy(ctx, (conn, client) => call(conn, client.showPolicy.bind(client), { profile: o.profile ?? '' }));
      if (o.json) return printJson(res);
      printShow(res);
    });
}
