// Builds the `loki` command tree. Each command group lives in commands/<group>.ts
// and exports one `register…Commands(program, ctx)` function. Errors are mapped
// here once: the message (or, under --json, `{"error":{code,message}}`) on
// stderr, and the exit code of the error's kind (docs/errors.md).
import { Command, CommanderError } from 'commander';
import { LokiError, VERSION } from '../../common/src/index.js';
import { exitCodeFor } from '../../client/src/index.js';
import type { CliContext, GlobalOptions } from './context.js';
import { registerSandboxCommands } from './commands/sandbox.js';
import { registerUpCommand } from './commands/up.js';
import { registerStatusCommand } from './commands/status.js';
import { registerTokenCommands } from './commands/tokens.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerApprovalCommands } from './commands/approvals.js';
import { registerProjectsCommands } from './commands/projects.js';
import { registerTasksCommands } from './commands/tasks.js';
import { registerMemoryCommands } from './commands/memory.js';
import { registerAuditTrailCommands } from './commands/audit-trail.js';
import { registerSessionCommands } from './commands/sessions.js';
import { registerSessionGitCommands } from './commands/session-git.js';
import { registerLoginCommands } from './commands/login.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerDashboardCommand } from './commands/dashboard.js';

export type { CliContext } from './context.js';

export function buildProgram(o: { jsonErrors?: boolean } = {}): Command {
  const program = new Command();
  // Under --json the error is reported once, as JSON (runCli), not also as commander's text.
  if (o.jsonErrors) program.configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  program
    .name('loki')
    .description('Loki: a secure control plane for autonomous AI coding agents')
    .version(VERSION, '-V, --version')
    .option('--home <dir>', 'Loki state directory (default: $LOKI_HOME or ~/.loki)')
    .option('--socket <path>', 'daemon admin socket (default: $LOKI_SOCKET or $LOKI_HOME/run/admin.sock)')
    .option('--url <url>', 'talk to a gateway instead of the local daemon, e.g. https://host:57374 (default: $LOKI_URL, or `loki login`)')
    .option('--token <token>', 'API token for --url (prefer --token-file or $LOKI_TOKEN: arguments are visible in ps)')
    .option('--token-file <file>', 'read the API token for --url from a file')
    .option('--ca-file <file>', "PEM CA that signed the gateway's certificate (default: $LOKI_CA_FILE)")
    .option('--json', 'print JSON (every command; errors too)')
    .showHelpAfterError()
    // Global options go before the command, so that everything after a command's
    // own arguments can belong to it (`loki sandbox exec ID sh -c '…'`).
    .enablePositionalOptions()
    .exitOverride();
  const ctx: CliContext = { globals: () => program.opts<GlobalOptions>() };
  registerUpCommand(program, ctx);
  registerStatusCommand(program, ctx);
  registerLoginCommands(program, ctx);
  registerSandboxCommands(program, ctx);
  const enterprise = program.command('enterprise').description('enterprise features: API tokens, audit log');
  registerTokenCommands(enterprise, ctx);
  registerAuditCommands(enterprise, ctx);
  registerPolicyCommands(program, ctx);
  registerApprovalCommands(program, ctx);
  registerProjectsCommands(program, ctx);
  registerTasksCommands(program, ctx);
  registerMemoryCommands(program, ctx);
  registerAuditTrailCommands(program, ctx);
  registerSessionCommands(program, ctx);
  const session = program.command('session').description("one session's git work: diff, patch, branch");
  registerSessionGitCommands(session, ctx);
  registerCompletionCommand(program);
  registerDashboardCommand(program, ctx);
  const override = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  return program;
}

/** --json anywhere before a `--` separator (commander may not have parsed it when an error strikes). */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

function reportError(err: LokiError, json: boolean): void {
  if (json) process.stderr.write(JSON.stringify({ error: { code: err.code, message: err.message } }) + '\n');
  else process.stderr.write(`loki: ${err.message}\n`);
}

/** Runs the CLI and returns the process exit code (errors mapped by kind, see docs/errors.md). */
export async function runCli(argv: string[]): Promise<number> {
  const json = wantsJson(argv);
  const program = buildProgram({ jsonErrors: json });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      if (err.exitCode === 0) return 0;
      if (json) reportError(new LokiError('invalid_argument', err.message.replace(/^error: /, '')), true);
      return 2;
    }
    if (err instanceof LokiError) {
      reportError(err, json);
      return exitCodeFor(err);
    }
    reportError(new LokiError('internal', `unexpected error: ${(err as Error)?.message ?? String(err)}`), json);
    return 1;
  }
}
