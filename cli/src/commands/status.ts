import type { Command } from 'commander';
import { SystemServiceClient } from '../../../proto/gen/loki/v1/system.js';
import { call, connectDaemon } from '../client.js';
import { formatTime, printJson, printLine } from '../output.js';
import type { CliContext } from '../program.js';

export function registerStatusCommand(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('show the daemon, Docker and sandbox status')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const conn = connectDaemon(ctx.globals());
      try {
        const c = conn.get(SystemServiceClient);
        const s = await call(conn, c.getStatus.bind(c), {});
        const dto = {
          version: s.version,
          started_at: formatTime(s.startedAtMs),
          uptime_seconds: Math.round(s.uptimeSeconds),
          docker: { reachable: s.dockerReachable, version: s.dockerVersion },
          base_image: { name: s.baseImage, present: s.baseImagePresent },
          sandboxes: s.sandboxes,
          caller: { role: s.callerRole, subject: s.callerSubject },
        };
        if (o.json) return printJson(dto);
        printLine(`lokid ${s.version}, up ${dto.uptime_seconds}s (since ${dto.started_at})`);
        printLine(`Docker:     ${s.dockerReachable ? `reachable (${s.dockerVersion})` : 'NOT reachable'}`);
        printLine(`Base image: ${s.baseImage} ${s.baseImagePresent ? 'present' : 'missing — run `loki sandbox build`'}`);
        const c2 = s.sandboxes!;
        printLine(`Sandboxes:  ${c2.running} running, ${c2.paused} paused, ${c2.exited} stopped`);
      } finally {
        conn.close();
      }
    });
}
