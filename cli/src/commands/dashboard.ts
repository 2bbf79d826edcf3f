// `loki dashboard`: the Ink console on a terminal; on a pipe, one snapshot
// (plain, or --json lines) and exit 0. Ink and React load only for the console:
// they are most of what the whole CLI would load, and a snapshot needs neither
// (so this imports the dashboard's modules, not its index, which exports both).
import type { Command } from 'commander';
import { openClient, resolveConnection, type CliContext } from '../context.js';
import { printLine } from '../output.js';
import { jsonMode } from './options.js';

export function registerDashboardCommand(program: Command, ctx: CliContext): void {
  program
    .command('dashboard')
    .description('live terminal console: sessions, approvals, sandboxes, audit (a snapshot when stdout is not a terminal)')
    .option('--readonly', 'disable every mutating key (default for a token without the control scope)')
    .option('--json', 'with a non-terminal stdout: JSON lines instead of the plain snapshot')
    .action(async (o: { readonly?: boolean; json?: boolean }) => {
      const client = await openClient(resolveConnection(ctx.globals()));
      try {
        if (!process.stdout.isTTY || !process.stdin.isTTY) {
          const { collectSnapshot, snapshotJsonLines, snapshotText } = await import('../dashboard/snapshot.js');
          const data = await collectSnapshot(client);
          const lines = jsonMode(ctx, o) ? snapshotJsonLines(data, client.transport) : snapshotText(data, client.transport);
          for (const l of lines) printLine(l);
          return;
        }
        const [{ runDashboard }, { themeFromEnv }] = await Promise.all([import('../dashboard/run.js'), import('../dashboard/model.js')]);
        await runDashboard({ client, theme: themeFromEnv(process.env), ...(o.readonly ? { readonly: true } : {}) });
      } finally {
        client.close();
      }
    });
}
