// `loki audit log|count`: the agent action audit trail, read through the daemon
// (the trail lives in the daemon's state dir, where the agent cannot write).
import type { Command } from 'commander';
import { WorkspaceServiceClient, type AgentTrailEntry } from '../../../proto/gen/loki/v1/workspace.js';
import { call, connectDaemon } from '../client.js';
import { printJson, printLine, printTable } from '../output.js';
import type { CliContext } from '../program.js';
import { parsePositiveIntOption } from './options.js';

function entryDto(e: AgentTrailEntry) {
  let details: unknown = {};
  try {
    details = JSON.parse(e.detailsJson || '{}');
  } catch {
    details = e.detailsJson;
  }
  return { session_id: e.sessionId, seq: e.seq, timestamp: e.timestamp, action: e.action, agent: e.agent, details };
}

export function registerAuditTrailCommands(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('the agent action audit trail (what agents did in their sessions)');

  audit
    .command('log')
    .description('print agent actions, oldest first')
    .option('--session <id>', 'only this session')
    .option('--limit <n>', 'only the last N entries', parsePositiveIntOption)
    .option('--json', 'print JSON lines (the .loki/logs/agent-audit.jsonl format)')
    .action(async (o: { session?: string; limit?: number; json?: boolean }) => {
      const conn = connectDaemon(ctx.globals());
      try {
        const c = conn.get(WorkspaceServiceClient);
        const res = await call(conn, c.auditLog.bind(c), { sessionId: o.session ?? '', limit: o.limit ?? 0 });
        if (o.json) {
          for (const e of res.entries) printLine(JSON.stringify(entryDto(e)));
          return;
        }
        if (res.entries.length === 0) return printLine('no agent actions recorded');
        printTable(
          ['TIME', 'SESSION', 'SEQ', 'AGENT', 'ACTION', 'DETAILS'],
          res.entries.map((e) => [e.timestamp, e.sessionId, String(e.seq), e.agent, e.action, e.detailsJson]),
        );
      } finally {
        conn.close();
      }
    });

  audit
    .command('count')
    .description('count agent actions, by action and by session')
    .option('--session <id>', 'only this session')
    .option('--json', 'print JSON')
    .action(async (o: { session?: string; json?: boolean }) => {
      const conn = connectDaemon(ctx.globals());
      try {
        const c = conn.get(WorkspaceServiceClient);
        const res = await call(conn, c.auditCount.bind(c), { sessionId: o.session ?? '' });
        if (o.json) return printJson({ total: res.total, by_action: res.byAction, by_session: res.bySession });
        printLine(`${res.total} agent actions`);
        const rows = Object.entries(res.byAction).sort(([a], [b]) => a.localeCompare(b));
        if (rows.length) {
          printLine();
          printTable(['ACTION', 'COUNT'], rows.map(([a, n]) => [a, String(n)]));
        }
      } finally {
        conn.close();
      }
    });
}
