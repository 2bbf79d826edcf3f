// `loki up` in the full command tree (help, and the global options the fast
// path in main.ts leaves to commander). The work is in ../up/supervisor.ts,
// loaded when the command runs.
import type { Command } from 'commander';
import { defaultLokiHome } from '../../../common/src/index.js';
import { requireLocal, type CliContext } from '../context.js';
import type { UpOptions } from '../up/supervisor.js';
import { parsePortOption } from './options.js';

export function registerUpCommand(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description('run lokid and loki-gateway together on this host (Ctrl-C stops both)')
    .option('--host <host>', 'gateway bind address (default: $LOKI_API_HOST or 127.0.0.1)')
    .option('--port <port>', 'gateway port (default: $LOKI_API_PORT or 57374)', parsePortOption)
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (default: $LOKI_TLS_CERT)')
    .option('--tls-key <file>', 'and this PEM key (default: $LOKI_TLS_KEY)')
    .option('--no-gateway', 'run only the daemon')
    .action(async (o: UpOptions) => {
      requireLocal(ctx, '`loki up`');
      const { runUp } = await import('../up/supervisor.js');
      await runUp(o, ctx.globals().home ?? defaultLokiHome());
    });
}
