// `loki audit log|count`: the agent action audit trail, read through the daemon
// (the trail lives in the daemon's state dir, where the agent cannot write).
import type { Command } from 'commander';
import { withClient, type CliContext } from '../context.js';
import { counted } from '../../../common/src/index.js';
import { printJson, printJsonLine, printLine, printTable } from '../output.js';
import { jsonMode, parsePositiveIntOption } from './options.js';

export function registerAuditTrailCommands(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('the agent action audit trail (what agents did in their sessions)');

  audit
    .command('log')
    .description('print agent actions, oldest first')
    .option('--session <id>', 'only this session')
    .option('--limit <n>', 'only the last N entries', parsePositiveIntOption)
    .option('--json', 'print JSON lines (the .loki/logs/agent-audit.jsonl format)')
    .action(async (o: { session?: string; limit?: number; json?: boolean }) => {
      const entries = await withClient(ctx, (c) => c.sessions.trail({ ...(o.session ? { session_id: o.session } : {}), limit: o.limit ?? 0 }));
      if (jsonMode(ctx, o)) {
        for (const e of entries) printJsonLine(e);
        return;
      }
      if (entries.length === 0) return printLine('no agent actions recorded');
      printTable(['TIME', 'SESSION', 'SEQ', 'AGENT', 'ACTION', 'DETAILS'], entries.map((e) => [e.timestamp, e.session_id, String(e.seq), e.agent, e.action, JSON.stringify(e.details)]));
    });

  audit
    .command('count')
    .description('count agent actions, by action and by session')
    .option('--session <id>', 'only this session')
    .option('--json', 'print JSON')
    .action(async (o: { session?: string; json?: boolean }) => {
      const r = await withClient(ctx, (c) => c.sessions.trailCount(o.session ? { session_id: o.session } : {}));
      if (jsonMode(ctx, o)) return printJson(r);
      printLine(counted(r.total, 'agent action'));
      const rows = Object.entries(r.by_action).sort(([a], [b]) => a.localeCompare(b));
      if (rows.length) {
        printLine();
        printTable(['ACTION', 'COUNT'], rows.map(([a, n]) => [a, String(n)]));
      }
    });
}
