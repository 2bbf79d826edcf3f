// `loki policy check|explain|show`: ask the daemon how it would decide an action
// (nothing is recorded, no approval is created) and what the policy is.
import type { Command } from 'commander';
import { LokiError, escapeForDisplay } from '../../../common/src/index.js';
import type { PolicyAction, PolicyDecision, PolicyShow } from '../../../client/src/index.js';
import { withClient, type CliContext } from '../context.js';
import { printJson, printLine, printTable } from '../output.js';
import { jsonMode } from './options.js';

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
  if (o.write) return { kind: 'write', path: target };
  if (o.read) return { kind: 'read', path: target };
  if (o.delete) return { kind: 'delete', path: target };
  return { kind: 'shell', command: target };
}

function printDecision(r: PolicyDecision): void {
  printLine(`decision:   ${r.decision}`);
  printLine(`rule:       ${r.rule}`);
  printLine(`reason:     ${escapeForDisplay(r.reason)}`);
  printLine(`normalized: ${escapeForDisplay(r.normalized)}`);
  printLine(`profile:    ${r.profile} (mode ${r.mode})`);
  if (r.commands.length > 1 || r.commands.some((c) => c.via.length)) {
    printTable(['DECISION', 'COMMAND', 'VIA', 'RULE'], r.commands.map((c) => [c.decision, c.normalized, c.via.join(' > ') || '-', c.rule]));
  }
}

function printShow(res: PolicyShow): void {
  printLine(`default profile: ${res.default_profile}   autonomy mode: ${res.mode}`);
  printLine(`allowed paths:   ${res.allowed_paths.length ? res.allowed_paths.join(', ') : '(the session workspace)'}`);
  printLine(`protected paths: ${res.protected_paths.join(', ')}`);
  printLine(`approvals:       timeout ${res.approval_timeout_seconds}s → ${res.on_timeout}${res.four_eyes ? ', four-eyes' : ''}`);
  for (const p of res.profiles) {
    printLine();
    printLine(`profile ${p.name}: ${p.description}`);
    printLine(`  default ${p.default_decision}, unresolvable → ${p.fail_closed}, writes ${p.writes}, commits ${p.commit}, mode ${p.mode}`);
    printTable(['  EFFECT', 'PATTERN', 'RULE'], p.rules.map((r) => [`  ${r.effect}`, r.pattern, r.id]));
  }
}

export function registerPolicyCommands(program: Command, ctx: CliContext): void {
  const policy = program.command('policy').description('inspect the policy engine');
  for (const verb of ['check', 'explain'] as const) {
    policy
      .command(verb)
      .description(verb === 'check' ? 'show how the daemon would decide a command (nothing is recorded)' : 'check, with the decision of every command inside it (wrappers looked through)')
      .argument('<command>', 'the shell command, quoted (or a path with --write/--read/--delete)')
      .option('--profile <name>', 'permission profile (default: the configured default)')
      .option('--session <id>', 'decide as this session (its profile unless one is named, its autonomy mode, workspace and ownership)')
      .option('--cwd <path>', 'working directory inside the sandbox')
      .option('--write', 'check a file write of the given path')
      .option('--read', 'check a file read of the given path')
      .option('--delete', 'check a file delete of the given path')
      .option('--json', 'print JSON')
      .action(async (target: string, o: CheckOptions) => {
        const action = checkAction(target, o);
        // `check` prints the per-command table too when there is more than one command: both ask Explain.
        const r = await withClient(ctx, (c) => c.policy.explain({ action, ...(o.session ? { session_id: o.session } : {}), ...(o.profile ? { profile: o.profile } : {}), ...(o.cwd ? { cwd: o.cwd } : {}) }));
        if (jsonMode(ctx, o)) return printJson(r);
        printDecision(r);
      });
  }
  policy
    .command('show')
    .description('show profiles, rules, paths and the autonomy mode')
    .option('--profile <name>', 'only this profile')
    .option('--json', 'print JSON')
    .action(async (o: { profile?: string; json?: boolean }) => {
      const res = await withClient(ctx, (c) => c.policy.show(o.profile ? { profile: o.profile } : {}));
      if (jsonMode(ctx, o)) return printJson(res);
      printShow(res);
    });
}
