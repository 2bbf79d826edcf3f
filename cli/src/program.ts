// Builds the `loki` command tree. Each command group lives in commands/<group>.ts
// and exports one `register…Commands(program, ctx)` function.
import { Command, CommanderError } from 'commander';
import { LokiError, VERSION } from '../../common/src/index.js';
import type { GlobalOptions } from './client.js';
import { registerSandboxCommands } from './commands/sandbox.js';
import { registerUpCommand } from './commands/up.js';
import { registerStatusCommand } from './commands/status.js';
import { registerTokenCommands } from './commands/tokens.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerApprovalCommands } from './commands/approvals.js';
import { registerProjectsCommands } from './commands/projects.js';
import { registerAuditTrailCommands } from './commands/audit-trail.js';
import { registerSessionCommands } from './commands/sessions.js';
import { registerSessionGitCommands } from './commands/session-git.js';

export interface CliContext {
  /** Global options (resolved at action time, after parsing). */
  globals(): GlobalOptions;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('loki')
    .description('Loki: a secure control plane for autonomous AI coding agents')
    .version(VERSION, '-V, --version')
    .option('--home <dir>', 'Loki state directory (default: $LOKI_HOME or ~/.loki)')
    .option('--socket <path>', "daemon admin socket (default: $LOKI_SOCKET or $LOKI_HOME/run/admin.sock)")
    .showHelpAfterError()
    .exitOverride();
  const ctx: CliContext = { globals: () => program.opts<GlobalOptions>() };
  registerUpCommand(program, ctx);
  registerStatusCommand(program, ctx);
  registerSandboxCommands(program, ctx);
  const enterprise = program.command('enterprise').description('enterprise features: API tokens, audit log');
  registerTokenCommands(enterprise, ctx);
  registerAuditCommands(enterprise, ctx);
  registerPolicyCommands(program, ctx);
  registerApprovalCommands(program, ctx);
  registerProjectsCommands(program, ctx);
  registerAuditTrailCommands(program, ctx);
  registerSessionCommands(program, ctx);
  const session = program.command('session').description("one session's git work: diff, branch");
  registerSessionGitCommands(session, ctx);
  const override = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  return program;
}

/** Runs the CLI and returns the process exit code (errors mapped by kind, see docs/errors.md). */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof LokiError) {
      process.stderr.write(`loki: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`loki: unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
    return 1;
  }
}
